"""Campaign reviewer metrics and remediation counts from the store; findings.xlsx pivot sheets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from openpyxl import load_workbook

from auditor import frames
from auditor import snapshot as snapshots
from auditor.campaign.schema import campaign_decisions, campaign_items, campaigns
from auditor.metrics import reviews
from auditor.model import Finding, Principal
from auditor.notify.digest import build_digest
from auditor.remediate.schema import remediation_actions, remediation_runs
from auditor.report.findings_xlsx import write_findings_xlsx
from auditor.store import Store
from tests.builders import World

CREATED = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
DUE = CREATED + timedelta(days=14)


def _campaign(store: Store) -> None:
    """Alice decides 12 items in 24 seconds, all kept with one justification; Bob revokes 1 of 2, one late."""
    with store.engine.begin() as conn:
        conn.execute(
            campaigns.insert().values(
                id=1,
                name="Q4",
                kind="quarterly",
                status="open",
                created_at=CREATED,
                created_by="grc",
                due_at=DUE,
                reviewer_mode="manager",
                scopes="[]",
                privileged_only=False,
                origin="[]",
            )
        )
        reviewers = ["alice@example.com"] * 12 + ["bob@example.com"] * 3
        for n, reviewer in enumerate(reviewers):
            conn.execute(
                campaign_items.insert().values(
                    campaign_id=1, item_id=f"i{n}", position=n, reviewer=reviewer, flagged=False, body="{}"
                )
            )
        for n in range(12):
            conn.execute(
                campaign_decisions.insert().values(
                    campaign_id=1,
                    item_id=f"i{n}",
                    decision="keep",
                    justification="still needed",
                    reviewer="alice@example.com",
                    decided_at=CREATED + timedelta(days=2, seconds=2 * n),
                    source="web",
                )
            )
        for n, (decision, when) in enumerate((("revoke", DUE - timedelta(days=1)), ("keep", DUE + timedelta(days=2)))):
            conn.execute(
                campaign_decisions.insert().values(
                    campaign_id=1,
                    item_id=f"i{12 + n}",
                    decision=decision,
                    justification=f"reason {n}",
                    reviewer="bob@example.com",
                    decided_at=when,
                    source="web",
                )
            )


def test_reviewers_on_time_revoke_rate_speed_and_rubber_stamp_signals(tmp_path):
    store = Store.open(tmp_path / "state.db")
    _campaign(store)
    by_reviewer = {r["reviewer"]: r for r in reviews.campaigns(frames.decisions(store), frames.items(store))}
    alice, bob = by_reviewer["alice@example.com"], by_reviewer["bob@example.com"]
    assert (alice["items"], alice["decided"], alice["on_time"], alice["on_time_share"]) == (12, 12, 12, 1.0)
    assert alice["revoke_rate"] == 0.0 and alice["decisions_per_minute"] == 32.73  # 12 decisions in 22 seconds
    assert alice["rubber_stamp"] == ["kept everything", "one justification for every item", "over 6 decisions a minute"]
    assert (bob["items"], bob["decided"], bob["on_time"], bob["on_time_share"]) == (3, 2, 1, 0.333)
    assert bob["revoke_rate"] == 0.5 and bob["rubber_stamp"] == []


def test_keeping_to_right_size_is_a_decision_to_keep(tmp_path):
    """Alice keeps half her items and right-sizes the rest: decided, nothing revoked, still "kept everything"."""
    store = Store.open(tmp_path / "state.db")
    _campaign(store)
    with store.engine.begin() as conn:
        conn.execute(
            campaign_decisions.update()
            .where(campaign_decisions.c.item_id.in_([f"i{n}" for n in range(6)]))
            .values(decision="rightsize")
        )
    by_reviewer = {r["reviewer"]: r for r in reviews.campaigns(frames.decisions(store), frames.items(store))}
    alice = by_reviewer["alice@example.com"]
    assert (alice["decided"], alice["revoke_rate"]) == (12, 0.0)
    assert "kept everything" in alice["rubber_stamp"]


def test_remediation_applied_verified_and_rolled_back(tmp_path):
    store = Store.open(tmp_path / "state.db")
    now = CREATED
    with store.engine.begin() as conn:
        for run_id in (1, 2):
            conn.execute(
                remediation_runs.insert().values(
                    id=run_id,
                    plan_sha256=str(run_id) * 64,
                    plan_created_at=now,
                    started_at=now,
                    status="completed",
                    actor="cli",
                    plan="{}",
                )
            )
        rows = [
            (1, "a", "done", None),
            (1, "b", "already_in_effect", None),
            (2, "c", "done", "restored"),
            (2, "d", "failed", None),
        ]
        for seq, (run_id, action, status, rollback) in enumerate(rows):
            conn.execute(
                remediation_actions.insert().values(
                    run_id=run_id,
                    action_id=action,
                    seq=seq,
                    kind="idc_group_membership",
                    description="remove",
                    target="{}",
                    status=status,
                    attempts=1,
                    rollback_status=rollback,
                    rollback_attempts=0,
                )
            )
    store.audit("remediate.verified", "remediation run 1", {"ok": True, "failed": []})
    store.audit("remediate.verified", "remediation run 2", {"ok": False, "failed": ["d"]})
    assert reviews.remediation(store) == {"actions": 4, "applied": 3, "verified": 2, "rolled_back": 1, "failed": 1}


def test_pivot_sheets_count_by_account_department_and_manager_and_keep_names_as_text(tmp_path):
    world = World()
    ana, ben = world.idc_user("ana"), world.idc_user("ben")
    hostile = '=HYPERLINK("http://x.example","x")'
    world.person("ana", department=hostile)
    world.person("ben")

    def finding(n: int, user, severity: str, account: str | None, status: str = "open") -> Finding:
        return Finding(
            finding_id=f"f{n}",
            rule_id="r",
            category="lifecycle",
            severity=severity,
            principal=Principal(type="idc_user", id=user.user_id, name=user.user_name),
            account_id=account,
            resource=None,
            title="t",
            evidence={},
            controls=[],
            status=status,
        )

    found = [
        finding(1, ana, "high", "012345678901"),
        finding(2, ana, "low", "012345678901"),
        finding(3, ben, "high", None),
        finding(4, ben, "high", None, status="resolved"),
    ]
    path = tmp_path / "findings.xlsx"
    write_findings_xlsx(found, path, {"as_of": world.as_of}, generated_at=world.as_of, snapshot=world.snapshot())
    book = load_workbook(path)
    assert book.sheetnames[-3:] == ["By account and category", "By department and severity", "By manager"]
    accounts = [[c.value for c in row] for row in book["By account and category"].iter_rows()]
    assert accounts[1:] == [["(none)", 1, 1], ["012345678901", 2, 2]]
    departments = {row[0].value: row for row in book["By department and severity"].iter_rows(min_row=2)}
    assert departments[hostile][0].data_type == "s" and departments[hostile][2].value == 1  # high
    assert departments["engineering"][2].value == 1
    managers = [[c.value for c in row] for row in book["By manager"].iter_rows()]
    assert managers[1] == ["boss@example.com", 0, 2, 0, 1, 0, 3]
    assert json.dumps(accounts)  # plain values only


def test_unusual_lifecycle_activity_is_an_alert_in_the_digest_whatever_its_severity():
    alert = Finding(
        finding_id="a" * 24,
        rule_id="anomaly-grant-by-person",
        category="lifecycle_anomaly",
        severity="medium",
        principal=Principal(type="idc_user", id="u-1", name="ana"),
        account_id=None,
        resource=None,
        title="ana was granted group engineering by mallory",
        evidence={},
        controls=[],
        status="new",
    )
    digest = build_digest(
        [alert], run_id=3, as_of=CREATED, exit_code=0, incomplete=[], report_link="r", min_severity="high"
    )
    assert digest.changed and digest.alerts == [alert] and digest.new == []
    assert "1 lifecycle alert" in digest.subject
    assert "Unusual lifecycle activity: 1\n  - [medium] ana was granted group engineering by mallory" in digest.body
    seen = build_digest(
        [msgspec.structs.replace(alert, status="open")],
        run_id=4,
        as_of=CREATED,
        exit_code=0,
        incomplete=[],
        report_link="r",
    )
    assert not seen.changed  # reported once, when new


def test_a_snapshot_written_before_access_changes_were_kept_still_loads(tmp_path):
    snapshots.save(World().snapshot(), tmp_path / "snap")
    (tmp_path / "snap" / "lifecycle_events.jsonl").unlink()
    assert snapshots.load(tmp_path / "snap").table("lifecycle_events") == []
    (tmp_path / "snap" / "activity.jsonl").unlink()
    with pytest.raises(snapshots.SnapshotError, match="activity.jsonl: missing table file"):
        snapshots.load(tmp_path / "snap")
