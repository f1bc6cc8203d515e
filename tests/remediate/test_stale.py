"""Stale-access plans from findings: explicit policy, notice first, never on insufficient evidence."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from auditor import snapshot as snapshots
from auditor.config import Settings, validate
from auditor.model import Finding, HrPerson, IamUser, IdcUser, Principal
from auditor.remediate import Refused
from auditor.remediate.notices import Notices
from auditor.remediate.population import Population
from auditor.remediate.schema import remediation_notices
from auditor.remediate.stale import stale_revocations
from auditor.snapshot import SourceStatus
from auditor.store import audit_log
from tests.remediate.conftest import MANAGEMENT, NOW
from tests.remediate.helpers import apply, make_plan, mutations

DAY = timedelta(days=1)


def _settings(tmp_path: Path, **remediation) -> Settings:
    policy = {
        "disable_inactive_users_after_days": 120,
        "deactivate_unused_keys_after_days": 90,
        "notice_days": 14,
        "max_share": 0.75,
        **remediation,
    }
    return Settings(
        values=validate(
            {
                "remediation": policy,
                "campaigns": {"outbox_dir": str(tmp_path / "outbox"), "fallback_reviewer": "security@example.com"},
            },
            "test config",
        )
    )


def _finding(
    rule: str,
    principal: Principal,
    days_idle: int,
    *,
    account: str | None = None,
    resource: str | None = None,
    first_seen=NOW - 30 * DAY,
    **evidence,
) -> Finding:
    return Finding(
        finding_id=f"{rule}:{principal.id}",
        rule_id=rule,
        category="inactive",
        severity=evidence.pop("severity", "medium"),
        principal=principal,
        account_id=account,
        resource=resource,
        title=f"{principal.name} idle {days_idle} days",
        evidence={"days_idle": days_idle, **evidence},
        controls=["SOC2-CC6.2"],
        status="open",
        first_seen=first_seen,
    )


@pytest.fixture
def findings(estate) -> list[Finding]:
    def idc(name: str) -> Principal:
        return Principal(type="idc_user", id=estate.users[name], name=name)

    key = Principal(type="access_key", id=estate.keys["erin"], name="erin")
    return [
        _finding("idc-user-inactive", idc("carol"), 150, last_activity="2026-06-05T10:00:00+00:00"),
        _finding(
            "idc-user-inactive",
            idc("dave"),
            400,
            severity="info",
            insufficient_evidence=True,
            missing="CloudTrail for account 123456789012 covers 30 days",
        ),
        _finding("iam-access-key-unused", key, 200, account=MANAGEMENT, resource=estate.keys["erin"], user_name="erin"),
        _finding("idc-user-inactive", idc("alice"), 100),
    ]


def _record_run(store, estate, out: Path, as_of, findings: list[Finding]) -> int:
    idc_users = [
        IdcUser(user_id=uid, user_name=name, email=f"{name}@example.com") for name, uid in estate.users.items()
    ]
    hr = [
        HrPerson(
            line=2,
            employee_id="7",
            email="carol@example.com",
            user_name="carol",
            display_name="Carol",
            department="eng",
            title="engineer",
            manager_email="maria@example.com",
            status="active",
            employment_type="employee",
            start_date=date(2020, 1, 1),
        )
    ]
    iam_users = [IamUser(account_id=MANAGEMENT, user_name="erin", user_id="AIDAERIN", arn="arn:aws:iam::x:user/erin")]
    snapshot = snapshots.build(
        [
            snapshots.SourceResult(
                tables={"idc_users": idc_users, "hr_people": hr, "iam_users": iam_users},
                statuses=[SourceStatus(source="identity_center", detail={"identity_store_id": estate.store_id})],
            )
        ],
        as_of=as_of,
        collected_at=as_of,
        tool_version="test",
    )
    snapshots.save(snapshot, out / "snapshot")
    (out / "findings.json").write_bytes(msgspec.json.encode(findings))
    return store.record_run(
        kind="run",
        started_at=as_of,
        as_of=as_of,
        config_hash=None,
        tool_version="test",
        exit_code=0,
        duration=1.0,
        findings_now=findings,
        counts={},
        sources=[],
        out_dir=str(out),
    )


def _select(store, settings, now, rules=("idc-user-inactive", "iam-access-key-unused")):
    outbox = Path(settings.get("campaigns", "outbox_dir"))
    return stale_revocations(store, settings, list(rules), now, Notices(store, outbox))


def test_notice_first_then_wait_then_plan(estate, findings, store, tmp_path):
    settings = _settings(tmp_path)
    _record_run(store, estate, tmp_path / "run1", NOW, findings)

    first = _select(store, settings, NOW)
    assert first.revocations == []
    assert [(o.principal, o.status) for o in first.outcomes] == [
        ("carol", "noticed"),
        ("dave", "ineligible"),
        ("erin", "noticed"),
        ("alice", "ineligible"),
    ]
    assert first.outcomes[1].detail == "insufficient evidence: never remediated"
    assert "policy disable_inactive_users_after_days acts at 120" in first.outcomes[3].detail
    messages = sorted((tmp_path / "outbox" / "remediation-notices").glob("*.eml"))
    assert len(messages) == 2
    carol = next(m.read_text() for m in messages if estate.users["carol"] in m.name)
    assert "To: carol@example.com, maria@example.com" in carol
    assert "on or after 2026-11-16" in carol
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(remediation_notices)).scalar() == 2
        sent = conn.execute(sa.select(audit_log).where(audit_log.c.action == "remediate.notice.sent")).all()
    assert {json.loads(r.details)["recipients"][0] for r in sent} == {"carol@example.com", "security@example.com"}

    _record_run(store, estate, tmp_path / "run2", NOW + 10 * DAY, findings)
    waiting = _select(store, settings, NOW + 10 * DAY)
    assert waiting.revocations == []
    assert [o.status for o in waiting.outcomes if o.principal in ("carol", "erin")] == ["waiting", "waiting"]

    later = NOW + 15 * DAY
    _record_run(store, estate, tmp_path / "run3", later, findings)
    ready = _select(store, settings, later)
    assert [(r.kind, r.principal.name) for r in ready.revocations] == [
        ("idc_user", "carol"),
        ("iam_access_key", "erin"),
    ]
    assert ready.revocations[0].reason["notice"]["recipients"] == ["carol@example.com", "maria@example.com"]
    assert ready.revocations[1].target == {
        "account_id": MANAGEMENT,
        "user_name": "erin",
        "access_key_id": estate.keys["erin"],
    }
    plan = make_plan(estate, settings, None, ready.revocations, now=later)
    assert [a.kind for a in plan.actions] == ["idc_user", "iam_access_key"]
    assert plan.actions[0].reasons[0]["policy"] == "disable_inactive_users_after_days"
    assert len(list((tmp_path / "outbox" / "remediation-notices").glob("*.eml"))) == 2  # no notice sent twice


def test_a_notice_from_an_earlier_episode_does_not_count(estate, findings, store, tmp_path):
    settings = _settings(tmp_path)
    _record_run(store, estate, tmp_path / "run1", NOW, findings)
    _select(store, settings, NOW)
    # carol came back, then went quiet again: the finding is new since NOW + 20 days
    later = NOW + 30 * DAY
    again = [msgspec.structs.replace(f, first_seen=NOW + 20 * DAY) for f in findings]
    _record_run(store, estate, tmp_path / "run2", later, again)
    selection = _select(store, settings, later)
    assert selection.revocations == []
    assert {o.status for o in selection.outcomes if o.principal in ("carol", "erin")} == {"noticed"}


def test_a_policy_that_is_off_or_missing_refuses(estate, findings, store, tmp_path):
    _record_run(store, estate, tmp_path / "run1", NOW, findings)
    with pytest.raises(Refused, match="disable_inactive_users_after_days is 0"):
        _select(store, _settings(tmp_path, disable_inactive_users_after_days=0), NOW)
    with pytest.raises(Refused, match="only through a reviewed campaign"):
        _select(store, _settings(tmp_path), NOW, rules=["idc-leaver-with-access"])


def test_findings_of_an_old_run_are_not_acted_on(estate, findings, store, tmp_path):
    _record_run(store, estate, tmp_path / "run1", NOW, findings)
    with pytest.raises(Refused, match="run `auditor run` first"):
        _select(store, _settings(tmp_path), NOW + 4 * DAY)


def test_no_run_recorded_refuses(store, tmp_path):
    with pytest.raises(Refused, match="no recorded run"):
        _select(store, _settings(tmp_path), NOW)


def test_a_finding_resolved_after_planning_no_longer_backs_its_action(estate, findings, store, tmp_path):
    settings = _settings(tmp_path)
    _record_run(store, estate, tmp_path / "run1", NOW, findings)
    _select(store, settings, NOW)
    later = NOW + 15 * DAY
    _record_run(store, estate, tmp_path / "run2", later, findings)
    plan = make_plan(estate, settings, None, _select(store, settings, later).revocations, now=later)
    carol = next(a for a in plan.actions if a.kind == "idc_user")
    back = [msgspec.structs.replace(f, status="resolved") if f.principal.name == "carol" else f for f in findings]
    _record_run(store, estate, tmp_path / "run3", later + DAY / 2, back)  # carol signed in again
    with pytest.raises(Refused, match=f"no recorded campaign decision or finding: action {carol.id} "):
        apply(estate, plan, store, settings, Population(size=8), now=later + DAY / 2, override_reason="x")
    assert mutations(estate) == []
