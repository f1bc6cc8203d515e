"""`auditor check PERSON`: one identity collected and evaluated now, findings recorded like a run's.

Every rule runs over the person's own snapshot (``person``) against the
latest HR data (the feed, else the latest run's, with an event's news laid
over it) and the stored activity; only the findings about the person's
principals are kept. Statuses are relative to the store's record of those
same principals, so a check never resolves anybody else's findings. The
check is recorded as a run of kind ``check`` (with a ``run.completed``-like
entry in the audit log) so a leaver's finding is on record before any plan
is made from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from auditor import __version__, history
from auditor.analyze import analyze
from auditor.aws import AwsContext, context_from_settings
from auditor.collect.hr import collect_hr
from auditor.config import Settings
from auditor.events.person import Collected, Who, collect_person
from auditor.hr_history import with_moves
from auditor.model import Finding, HrPerson, IdcUser
from auditor.remediate.population import latest_snapshot
from auditor.report.findings_csv import write_findings_csv
from auditor.report.findings_json import write_findings_json
from auditor.snapshot import Snapshot, SourceStatus
from auditor.store import Store

KIND = "check"


class NoSuchPerson(LookupError):
    """Neither HR nor Identity Center nor IAM knows whom a check names."""


@dataclass
class CheckResult:
    who: Who
    person: HrPerson | None
    user: IdcUser | None
    findings: list[Finding]
    snapshot: Snapshot
    calls: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    duration_seconds: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def api_calls(self) -> int:
        return sum(self.calls.values())

    def live(self) -> list[Finding]:
        return [f for f in self.findings if f.status in ("new", "open")]

    def summary(self) -> dict:
        return {
            "person": self.person.email if self.person else None,
            "idc_user": self.user.user_name if self.user else None,
            "iam_users": sorted({f"{u.account_id}/{u.user_name}" for u in self.snapshot.table("iam_users")}),
            "findings": len(self.live()),
            "new": sum(1 for f in self.findings if f.status == "new"),
            "resolved": sum(1 for f in self.findings if f.status == "resolved"),
            "api_calls": self.api_calls,
            "run_id": self.run_id,
            "seconds": round(self.duration_seconds, 2),
        }


def latest_hr(settings: Settings, hr_feed: Path | None, base: Snapshot | None) -> tuple[list[HrPerson], SourceStatus]:
    """The HR feed given (or configured), else the people the latest run read; with its manifest status."""
    feed = hr_feed or settings.hr_feed()
    if feed is not None:
        result = collect_hr(feed)
        return result.tables.get("hr_people", []), result.statuses[0]
    if base is not None and base.status_of("hr") is not None:
        return list(base.table("hr_people")), base.status_of("hr")
    error = "no HR feed given (--hr-feed FILE or [hr] feed) and no earlier run to take one from"
    return [], SourceStatus(source="hr", status="failed", error=error)


def with_news(people: list[HrPerson], news: HrPerson | None) -> list[HrPerson]:
    """The HR rows with an event's row in place of the person's (matched by employee id, user name or email)."""
    if news is None:
        return people

    def same(person: HrPerson) -> bool:
        return (
            person.employee_id == news.employee_id
            or person.user_name.lower() == news.user_name.lower()
            or person.email.lower() == news.email.lower()
        )

    return [p for p in people if not same(p)] + [news]


def check_person(
    who: Who,
    *,
    settings: Settings,
    store: Store,
    as_of: datetime,
    hr_feed: Path | None = None,
    news: HrPerson | None = None,
    context: AwsContext | None = None,
    out_dir: Path | None = None,
) -> CheckResult:
    """Collect and evaluate one person now; record the findings (run kind ``check``); write findings.json/.csv."""
    began = time.monotonic()
    started = datetime.now(UTC)
    found = latest_snapshot(store)
    base = found[0] if found else None
    people, hr_status = latest_hr(settings, hr_feed, base)
    people = with_moves(with_news(people, news), store.previous_hr_roles())
    collected = collect_person(
        context or context_from_settings(settings),
        who,
        people=people,
        hr_status=hr_status,
        base=base,
        instance=_configured_instance(settings),
        as_of=as_of,
    )
    if collected.user is None and not collected.iam_users and collected.person is None:
        raise NoSuchPerson(f"nobody named {who.describe()} in HR, Identity Center or the IAM users on record")
    findings = _theirs(analyze(collected.snapshot, settings, as_of), collected)
    previous = {k: f for k, f in store.previous_unresolved().items() if _is_theirs(f, collected)}
    findings = history.classify(findings, previous, collected.snapshot, as_of)
    duration = time.monotonic() - began
    run_id = store.record_run(
        kind=KIND,
        started_at=started,
        as_of=as_of,
        config_hash=settings.digest(),
        tool_version=__version__,
        exit_code=0,
        duration=duration,
        findings_now=findings,
        counts=collected.snapshot.manifest.counts,
        sources=[msgspec.to_builtins(s) for s in collected.snapshot.manifest.sources],
        out_dir=str(out_dir.resolve()) if out_dir else None,
    )
    result = CheckResult(
        who,
        collected.person,
        collected.user,
        findings,
        collected.snapshot,
        dict(collected.calls),
        run_id,
        time.monotonic() - began,
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_findings_json(findings, out_dir / "findings.json")
        write_findings_csv(findings, out_dir / "findings.csv")
        result.outputs = {"findings.json": out_dir / "findings.json", "findings.csv": out_dir / "findings.csv"}
    return result


def _configured_instance(settings: Settings) -> tuple[str, str] | None:
    arn = settings.get("identity_center", "instance_arn")
    store_id = settings.get("identity_center", "identity_store_id")
    return (arn, store_id) if arn and store_id else None


def _is_theirs(finding: Finding, collected: Collected) -> bool:
    ids = collected.principal_ids
    return finding.principal.id in ids or (finding.principal.arn or "") in ids or (finding.resource or "") in ids


def _theirs(findings: list[Finding], collected: Collected) -> list[Finding]:
    return [f for f in findings if _is_theirs(f, collected)]
