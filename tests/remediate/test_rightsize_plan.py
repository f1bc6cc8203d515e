"""Right-sizing plans: one policy for every account a permission set is in, and never on partial evidence."""

from __future__ import annotations

import json
from datetime import timedelta

import msgspec
import pytest

from auditor import snapshot as snapshots
from auditor.cli import main
from auditor.config import defaults
from auditor.exit_codes import EXIT_ATTENTION
from auditor.model import ActionUse, IamPolicy, Principal, Revocation
from auditor.remediate import Refused
from auditor.remediate.plan import build_plan
from auditor.remediate.planning import granting
from auditor.remediate.registry import recorded_plan
from auditor.remediate.rightsize_plan import plan_rightsize
from auditor.snapshot import SourceStatus
from auditor.store import Store
from tests.builders import AS_OF, DEV, PROD, World, days_ago

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}]}
)


class FakeSso:
    """Identity Center as the right-sizing role reads it: the permission set's name and inline policy."""

    def __init__(self, inline: str) -> None:
        self.inline = inline

    def get_inline_policy_for_permission_set(self, **_):
        return {"InlinePolicy": self.inline}

    def describe_permission_set(self, **_):
        return {"PermissionSet": {"Name": "Dev"}}


class FakeClients:
    def __init__(self, inline: str = INLINE) -> None:
        self._sso = FakeSso(inline)

    def sso_admin(self):
        return self._sso

    def sts(self):
        class Sts:
            def get_caller_identity(self):
                return {"Arn": "arn:aws:sts::111111111111:assumed-role/AuditorRightsize/auditor"}

        return Sts()


def _use(account: str, action: str, resource: str | None = None) -> ActionUse:
    return ActionUse(
        kind="idc_assignment",
        key="alice",
        account_id=account,
        detail="Dev",
        action=action,
        resource=resource,
        last_seen=days_ago(3),
        events=4,
    )


def _usage_complete(world: World, **changed) -> list[SourceStatus]:
    """Every account's CloudTrail status with its action usage recorded in full (``changed``: per account)."""
    statuses = []
    for account in (a.account_id for a in world.tables["accounts"]):
        status = SourceStatus(
            source="cloudtrail",
            account_id=account,
            coverage_start=days_ago(world.coverage_days),
            coverage_end=AS_OF,
            tables={"action_usage": "complete"},
        )
        statuses.append(msgspec.structs.replace(status, **changed.get(account, {})))
    return statuses


def _store_with_run(tmp_path, world: World, statuses: list[SourceStatus]) -> Store:
    snapshots.save(world.snapshot(overrides=statuses), tmp_path / "run" / "snapshot")
    store = Store.open(tmp_path / "state.db")
    store.record_run(
        kind="run",
        started_at=AS_OF,
        as_of=AS_OF,
        config_hash=None,
        tool_version="test",
        exit_code=0,
        duration=1.0,
        findings_now=[],
        counts={},
        sources=[],
        out_dir=str(tmp_path / "run"),
    )
    return store


def _world(*, managed: list[str] = ()) -> World:
    world = World()
    alice = world.idc_user("alice", user_id="alice")
    ps = world.permission_set("Dev", managed=list(managed), inline=INLINE)
    world.assign(ps, alice, PROD)
    world.assign(ps, alice, DEV)
    world.tables["action_usage"] += [
        _use(PROD, "s3:GetObject", "arn:aws:s3:::reports/q3.csv"),
        _use(DEV, "ec2:DescribeInstances"),
        _use(DEV, "iam:ListRoles"),  # called, but not granted by the permission set
    ]
    return world


def _plan(store: Store, settings=None, **kwargs):
    return plan_rightsize(
        store, settings or defaults(), permission_set="Dev", now=AS_OF, actor="test", clients=FakeClients(), **kwargs
    )


def test_the_proposal_covers_what_was_used_in_every_account_the_permission_set_is_assigned_in(tmp_path):
    world = _world()
    store = _store_with_run(tmp_path, world, _usage_complete(world))

    planned = _plan(store, out=tmp_path / "plan.json")

    assert planned.accounts == [PROD, DEV]
    assert planned.proposal.used == {"ec2": ["ec2:DescribeInstances"], "s3": ["s3:GetObject"]}
    (action,) = planned.plan.actions
    document = json.loads(action.target["policy"])
    assert {a for s in document["Statement"] for a in s["Action"]} == {"ec2:DescribeInstances", "s3:GetObject"}
    assert action.pre_state["inline_policy"] == INLINE  # what rollback writes back
    assert "ec2:RunInstances" in planned.removed and "s3:GetObject" not in planned.removed
    assert action.reasons[0]["used_not_granted"] == ["iam:ListRoles"]
    assert recorded_plan(store, planned.plan.sha256) is not None  # apply runs only a recorded plan
    assert (tmp_path / "plan.json").is_file()


@pytest.mark.parametrize(
    ("changed", "why"),
    [
        ({DEV: {"coverage_start": days_ago(20)}}, f"CloudTrail for account {DEV} covers 20 days"),
        (
            {PROD: {"detail": {"gaps": [{"start": days_ago(9).isoformat(), "end": days_ago(8).isoformat()}]}}},
            f"CloudTrail for account {PROD} was not read in full",
        ),
        ({DEV: {"tables": {"activity": "complete"}}}, f"actions called in account {DEV} were not recorded in full"),
        ({PROD: {"status": "failed", "error": "AccessDenied"}}, f"CloudTrail for account {PROD} could not be read"),
    ],
    ids=["short-window", "gap", "usage-incomplete", "unread"],
)
def test_partial_evidence_in_any_account_refuses_the_plan(tmp_path, changed, why):
    world = _world()
    store = _store_with_run(tmp_path, world, _usage_complete(world, **changed))

    with pytest.raises(Refused, match="needs 90 days of whole evidence") as refused:
        _plan(store, out=tmp_path / "plan.json")

    assert why in str(refused.value)
    assert not (tmp_path / "plan.json").exists()


def test_an_attached_policy_granting_more_than_the_proposal_refuses_and_says_what(tmp_path):
    world = _world(managed=[READ_ONLY])
    read_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    world.tables["iam_policies"].append(
        IamPolicy(account_id=None, arn=READ_ONLY, name="ReadOnlyAccess", kind="managed", document=read_only)
    )
    store = _store_with_run(tmp_path, world, _usage_complete(world))

    with pytest.raises(Refused, match="replaces permission set Dev's inline policy only") as refused:
        _plan(store)

    assert "managed policy ReadOnlyAccess grants 62 actions the proposal would not leave (s3:GetAccelerate" in str(
        refused.value
    )
    assert "and 52 more); detach or narrow them first" in str(refused.value)


def test_an_attached_policy_whose_document_was_not_read_refuses(tmp_path):
    world = _world(managed=[READ_ONLY])
    store = _store_with_run(tmp_path, world, _usage_complete(world))

    with pytest.raises(Refused, match="not known in full"):
        _plan(store)


def test_a_revocation_plan_never_carries_a_right_sizing(tmp_path):
    revocation = Revocation(
        kind="idc_permission_set_inline_policy",
        target={"instance_arn": "i", "permission_set_arn": "p", "policy": "{}"},
        principal=Principal(type="permission_set", id="p"),
        reason={"campaign_id": 1, "item_id": "x"},
    )
    settings = defaults()
    plan = build_plan(
        [revocation],
        clients=FakeClients(),
        settings=settings,
        now=AS_OF + timedelta(hours=1),
        population=None,
        source={"campaign_id": 1},
        created_by="test",
    )
    assert plan.actions == []
    assert "planned only with `auditor remediate plan --rightsize`" in plan.excluded[0].why


def test_the_cli_refuses_partial_evidence_with_exit_1(tmp_path, capsys):
    world = World(coverage_days=10)
    alice = world.idc_user("alice", user_id="alice")
    world.assign(world.permission_set("Dev", inline=INLINE), alice, PROD)
    _store_with_run(tmp_path, world, _usage_complete(world))
    out = tmp_path / "plan.json"

    argv = ["remediate", "plan", "--rightsize", "Dev", "--state", str(tmp_path / "state.db"), "--out", str(out)]
    assert main(argv) == EXIT_ATTENTION
    assert f"CloudTrail for account {PROD} covers 10 days" in capsys.readouterr().err
    assert not out.exists()
    assert main([*argv[:3], "Nobody", *argv[4:]]) == 2  # an unknown permission set is bad input


def test_right_sizing_acts_through_its_own_role_and_never_shares_a_plan_with_revocations():
    assert granting(["idc_permission_set_inline_policy"]) is True  # the right-sizing role
    assert granting(["idc_user", "iam_access_key"]) is False  # the apply (or rollback) role
    with pytest.raises(Refused, match="never in one plan"):
        granting(["idc_user", "idc_permission_set_inline_policy"])
