"""Right-sizing on the sandbox: the team that holds 400 actions and calls 12 gets a policy of those 12.

The snapshot comes from `auditor collect`; the calls from the sandbox's
CloudTrail log objects, folded by the action-usage reducer; the proposal is
then written to the permission set and rolled back, which must restore the
inline policy's text exactly.
"""

from __future__ import annotations

import boto3
import pytest

from auditor import snapshot as snapshots
from auditor.aws import AwsContext
from auditor.cli import main
from auditor.collect.action_usage import reduce_usage
from auditor.collect.cloudtrail_records import read_log
from auditor.permissions import PermissionModel
from auditor.permissions.rightsize import propose, uses_of_permission_set
from auditor.remediate import Clients
from auditor.remediate.rightsize_actions import RIGHTSIZE
from auditor.sandbox.escalation_plants import RIGHTSIZE_GRANTED, RIGHTSIZE_SET, RIGHTSIZE_USED

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proposal(sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("collect")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env().items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        config = sandbox.hr_feed.parent / "config.toml"
        assert main(["collect", "--config", str(config), "--out", str(out)]) == 0
        s3 = boto3.client("s3", endpoint_url=sandbox.endpoint_url, region_name="us-east-1")
        records = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sandbox.trail_bucket):
            for item in page.get("Contents", []):
                if "/CloudTrail/" in item["Key"]:
                    body = s3.get_object(Bucket=sandbox.trail_bucket, Key=item["Key"])["Body"].read()
                    records.extend(read_log(body)[0])
    snapshot = snapshots.load(out / "snapshot" if (out / "snapshot").is_dir() else out)
    ps = next(p for p in snapshot.table("permission_sets") if p.name == RIGHTSIZE_SET)
    (account,) = {a.account_id for a in snapshot.table("account_assignments") if a.permission_set_arn == ps.arn}
    model = PermissionModel(snapshot)
    uses = uses_of_permission_set(reduce_usage(records, end=sandbox.as_of), RIGHTSIZE_SET, account)
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
