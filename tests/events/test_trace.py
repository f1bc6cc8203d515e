"""A leaver's recorded finding justifies removing their own access, and nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.model import Finding, Principal
from auditor.remediate.plan import Plan, PlannedAction
from auditor.remediate.trace import untraced
from auditor.store import Store

NOW = datetime(2026, 11, 2, 7, tzinfo=UTC)
QUINN = Principal(type="idc_user", id="u-quinn", name="quinn.harlow")
REPORTS = Principal(type="iam_user", id="AIDAREPORTS", name="svc-reports", arn="arn:aws:iam::111122223333:user/x")


def finding(rule_id: str, principal: Principal, **more) -> Finding:
    return Finding(
        finding_id=f"{rule_id}-{principal.id}",
        rule_id=rule_id,
        category="lifecycle",
        severity="critical",
        principal=principal,
        account_id=more.pop("account_id", None),
        resource=None,
        title="t",
        evidence=more.pop("evidence", {}),
        controls=[],
    )


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "state.db")
    recorded = [
        finding("idc-leaver-with-access", QUINN),
        finding("iam-user-without-owner", REPORTS, account_id="111122223333", evidence={"owner_status": "terminated"}),
    ]
    store.record_run(
        kind="check",
        started_at=NOW,
        as_of=NOW,
        config_hash=None,
        tool_version="t",
        exit_code=0,
        duration=0,
        findings_now=recorded,
        counts={},
        sources=[],
    )
    return store


def action(kind: str, target: dict, reason: Finding) -> PlannedAction:
    return PlannedAction(
        id=f"{kind}-{sorted(target.items())}",
        kind=kind,
        description=kind,
        target=target,
        principal=reason.principal,
        reasons=[{"finding_id": reason.finding_id, "event_id": "hr-1"}],
        pre_state={},
    )


def test_only_the_leavers_own_access_traces_to_their_finding(store):
    leaver = finding("idc-leaver-with-access", QUINN)
    owner = finding("iam-user-without-owner", REPORTS, account_id="111122223333")
    mine = [
        action("idc_user", {"identity_store_id": "d-1", "user_id": "u-quinn"}, leaver),
        action("idc_group_membership", {"identity_store_id": "d-1", "group_id": "g", "user_id": "u-quinn"}, leaver),
        action(
            "idc_account_assignment",
            {
                "instance_arn": "i",
                "account_id": "1",
                "permission_set_arn": "p",
                "principal_type": "USER",
                "principal_id": "u-quinn",
            },
            leaver,
        ),
        action(
            "iam_access_key", {"account_id": "111122223333", "user_name": "svc-reports", "access_key_id": "AK"}, owner
        ),
    ]
    theirs = [
        action("idc_user", {"identity_store_id": "d-1", "user_id": "u-someone-else"}, leaver),
        action(
            "idc_account_assignment",
            {
                "instance_arn": "i",
                "account_id": "1",
                "permission_set_arn": "p",
                "principal_type": "GROUP",
                "principal_id": "u-quinn",
            },
            leaver,
        ),
        action(
            "iam_access_key", {"account_id": "999999999999", "user_name": "svc-reports", "access_key_id": "AK"}, owner
        ),
        action(
            "iam_access_key", {"account_id": "111122223333", "user_name": "svc-other", "access_key_id": "AK"}, owner
        ),
    ]
    plan = Plan(created_at=NOW, created_by="t", source={}, actions=[*mine, *theirs])
    refused = untraced(store, plan)
    assert len(refused) == len(theirs)
    assert all(any(a.id in line for line in refused) for a in theirs)
    assert not any(a.id in line for a in mine for line in refused)
