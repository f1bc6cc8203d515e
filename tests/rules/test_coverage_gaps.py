"""An absence of activity is never claimed across a stretch of CloudTrail that could not be read."""

from __future__ import annotations

from auditor.config import defaults
from auditor.rules.context import RuleContext
from auditor.snapshot import SourceStatus
from tests.builders import DEV, World, days_ago


def context_with(gaps: list[dict]) -> RuleContext:
    world = World()
    status = SourceStatus(
        source="cloudtrail",
        account_id=DEV,
        status="partial" if gaps else "ok",
        coverage_start=days_ago(120),
        coverage_end=world.as_of,
        detail={"gaps": gaps} if gaps else {},
    )
    return RuleContext(
        snapshot=world.snapshot(overrides=[status]), as_of=world.as_of, settings=defaults().section("rules")
    )


def gap(start_days_ago: float, end_days_ago: float, objects: int = 1) -> dict:
    return {
        "start": days_ago(start_days_ago).isoformat(),
        "end": days_ago(end_days_ago).isoformat(),
        "objects": objects,
        "error": "not a readable CloudTrail log: corrupt gzip data",
    }


def test_a_gap_inside_the_needed_days_is_missing_evidence():
    missing = context_with([gap(31, 30)]).missing_window(DEV, 90)
    assert missing is not None
    assert missing.startswith(f"CloudTrail for account {DEV} was not read in full in the last 90 days: 1 log object(s)")
    assert "corrupt gzip data" in missing


def test_a_gap_older_than_the_needed_days_does_not_matter():
    ctx = context_with([gap(101, 100)])
    assert ctx.missing_window(DEV, 90) is None
    assert ctx.missing_window(DEV, 110) is not None


def test_a_region_that_could_not_be_listed_leaves_every_window_in_doubt():
    ctx = context_with([gap(120, 0, objects=0)])
    assert "a region could not be listed" in ctx.missing_window(DEV, 1)


def test_without_gaps_the_whole_window_is_evidence():
    assert context_with([]).missing_window(DEV, 90) is None
    assert context_with([]).missing_window(DEV, 121) is not None  # longer than the 120 days read
