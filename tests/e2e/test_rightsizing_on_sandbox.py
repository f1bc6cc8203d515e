"""Right-sizing on the sandbox: the team that holds 400 actions and calls 12 gets a policy of those 12.

The snapshot, with the actions each principal called (its ``action_usage``
table, folded from the trail while it was read), comes from `auditor run`
with a state store. The proposal is made by the library, then through the CLI: `remediate
plan --rightsize`, apply, verify, rollback, which must restore the inline
policy's text exactly.
"""

from __future__ import annotations

import json

import boto3
import pytest

from auditor import snapshot as snapshots
from auditor.aws import AwsContext
from auditor.cli import main
from auditor.permissions import PermissionModel
from auditor.permissions.rightsize import propose, uses_of_permission_set
from auditor.remediate import Clients
from auditor.remediate.rightsize_actions import RIGHTSIZE
from auditor.sandbox.escalation_plants import RIGHTSIZE_GRANTED, RIGHTSIZE_SET, RIGHTSIZE_USED

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def estate(sandbox, tmp_path_factory):
    """A recorded run of the sandbox: its snapshot holds the actions each principal called."""
    work = tmp_path_factory.mktemp("rightsize")
    config = work / "config.toml"
    sandbox_config = (sandbox.hr_feed.parent / "config.toml").read_text()
    config.write_text(
        sandbox_config.replace('feed = "', f'feed = "{sandbox.hr_feed.parent}/')
        + "\n[remediation]\nrightsize_observation_days = 30\n"
    )
    cli = ["--config", str(config), "--state", str(work / "state.db")]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env().items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        assert main(["run", *cli, "--out", str(work / "run"), "--as-of", sandbox.as_of.isoformat()]) in (0, 1)
    return work, cli


@pytest.fixture(scope="module")
def proposal(estate):
    work, _ = estate
    snapshot = snapshots.load(work / "run" / "snapshot")
    ps = next(p for p in snapshot.table("permission_sets") if p.name == RIGHTSIZE_SET)
    (account,) = {a.account_id for a in snapshot.table("account_assignments") if a.permission_set_arn == ps.arn}
    model = PermissionModel(snapshot)
    uses = uses_of_permission_set(snapshot.table("action_usage"), RIGHTSIZE_SET, account)
    return ps, propose(model.permission_set(ps, account), uses, model.catalog)


def test_the_proposal_lists_the_twelve_actions_used_grouped_by_service(proposal):
    _, found = proposal
    assert found.granted == RIGHTSIZE_GRANTED
    assert found.used_count == len(RIGHTSIZE_USED) == 12
    expected: dict[str, list[str]] = {}
    for action in sorted(RIGHTSIZE_USED):
        expected.setdefault(action.split(":")[0], []).append(action)
    assert found.used == expected
    allowed = {a for s in found.document["Statement"] for a in s["Action"]}
    assert allowed == set(RIGHTSIZE_USED) and found.fits


def test_applying_then_rolling_back_restores_the_original_policy_exactly(proposal, sandbox_env):
    ps, found = proposal
    clients = Clients(AwsContext.from_environment(region="us-east-1"))
    instance_arn = clients.sso_admin().list_instances()["Instances"][0]["InstanceArn"]
    target = {"instance_arn": instance_arn, "permission_set_arn": ps.arn, "policy": found.text()}
    before = RIGHTSIZE.read(clients, target)
    assert before["inline_policy"] == ps.inline_policy and not RIGHTSIZE.revoked(before)

    RIGHTSIZE.apply(clients, target, before)
    after = RIGHTSIZE.read(clients, target)
    assert RIGHTSIZE.revoked(after) and after["inline_policy"] == found.text()

    RIGHTSIZE.inverse(clients, target, before)
    restored = RIGHTSIZE.read(clients, target)
    assert restored["inline_policy"] == before["inline_policy"]  # the very same text
    assert RIGHTSIZE.same(restored, before) and not RIGHTSIZE.revoked(restored)


def _inline(ps_arn: str) -> str:
    sso = boto3.client("sso-admin", region_name="us-east-1")
    instance_arn = sso.list_instances()["Instances"][0]["InstanceArn"]
    return sso.get_inline_policy_for_permission_set(InstanceArn=instance_arn, PermissionSetArn=ps_arn)["InlinePolicy"]


def test_the_cli_plans_applies_verifies_and_rolls_back_a_right_sizing(estate, proposal, sandbox_env, capsys):
    work, cli = estate
    ps, found = proposal
    plan_file = work / "plan.json"
    original = _inline(ps.arn)

    assert main(["remediate", "plan", "--rightsize", RIGHTSIZE_SET, "--out", str(plan_file), *cli]) == 0
    shown = capsys.readouterr().out
    assert "12 of 400 granted actions used" in shown
    assert "  keep ec2: ec2:DescribeInstances, ec2:DescribeSecurityGroups, ec2:StartInstances" in shown
    assert "remove 388 actions of the inline policy" in shown
    assert f"policy size {found.size} of 32768 characters" in shown
    plan = json.loads(plan_file.read_text())
    (action,) = plan["actions"]
    assert action["kind"] == RIGHTSIZE.kind and action["target"]["policy"] == found.text()
    assert action["pre_state"]["inline_policy"] == original
    reason = action["reasons"][0]
    assert reason["used_by_service"] == found.used and len(reason["removed_actions"]) == 388
    assert any("only the inline policy is replaced" in note for note in plan["notes"])

    assert main(["remediate", "apply", str(plan_file), "--yes", *cli]) == 0
    assert "done" in capsys.readouterr().out
    assert _inline(ps.arn) == found.text()
    assert main(["remediate", "verify", "1", *cli]) == 0
    assert "every action is in effect" in capsys.readouterr().out

    assert main(["remediate", "rollback", "1", "--yes", *cli]) == 0
    assert "restored" in capsys.readouterr().out
    assert _inline(ps.arn) == original  # the very same text
    assert main(["remediate", "verify", "1", *cli]) == 0


def test_evidence_shorter_than_the_configured_window_refuses_the_plan(estate, sandbox_env, capsys):
    work, cli = estate
    longer = work / "longer.toml"
    longer.write_text((work / "config.toml").read_text().replace("= 30\n", "= 3650\n"))
    argv = ["remediate", "plan", "--rightsize", RIGHTSIZE_SET, "--out", str(work / "no.json")]
    assert main([*argv, "--config", str(longer), "--state", cli[3]]) == 1
    assert "needs 3650 days of whole evidence" in capsys.readouterr().err
    assert not (work / "no.json").exists()
