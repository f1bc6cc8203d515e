"""Right-sizing: what was used, within what was granted, scoped where the events named resources."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.collect.action_usage import MAX_RESOURCES, UsageReducer, iam_action, reduce_usage
from auditor.model import ActionUse
from auditor.permissions import catalog
from auditor.permissions.effective import Effective, Grant
from auditor.permissions.policy import compile_document
from auditor.permissions.rightsize import propose

WHEN = datetime(2026, 11, 1, tzinfo=UTC)
ROLE = "arn:aws:iam::222222222222:role/etl"


def _effective(*actions: str) -> Effective:
    document = {"Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    grants = [Grant(statement=s, policy="inline policy p") for s in compile_document(document, catalog())]
    return Effective(label="IAM role etl", account_id="222222222222", grants=grants)


def _use(action: str, resource: str | None = None) -> ActionUse:
    return ActionUse(
        kind="iam_role", key=ROLE, account_id="222222222222", action=action, last_seen=WHEN, resource=resource, events=3
    )


def test_used_actions_grouped_by_service_and_scoped_where_every_call_named_a_resource():
    bucket = "arn:aws:s3:::reports/*"
    uses = [
        _use("s3:GetObject", bucket),
        _use("s3:ListAllMyBuckets"),
        _use("ec2:DescribeInstances"),
        _use("kms:Decrypt"),
    ]  # kms:Decrypt was used but is not granted any more
    found = propose(_effective("s3:*", "ec2:Describe*"), uses, catalog())
    assert found.used == {"ec2": ["ec2:DescribeInstances"], "s3": ["s3:GetObject", "s3:ListAllMyBuckets"]}
    assert found.used_not_granted == ["kms:Decrypt"]
    assert found.document["Statement"] == [
        {"Sid": "Ec2", "Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"},
        {"Sid": "S3", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
        {"Sid": "S3Scoped1", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [bucket]},
    ]
    assert found.size == len(found.text()) and found.fits


def test_a_proposal_over_the_limit_drops_resource_scoping_first():
    uses = [_use("s3:GetObject", f"arn:aws:s3:::bucket-{n:04d}/*") for n in range(300)]
    found = propose(_effective("s3:GetObject"), uses, catalog(), limit=2_000)
    assert found.document["Statement"] == [
        {"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
    ]
    assert found.fits


def test_events_become_the_actions_they_need_and_denied_calls_are_no_use():
    assert iam_action("lambda.amazonaws.com", "ListFunctions20150331") == "lambda:ListFunctions"
    assert iam_action("monitoring.amazonaws.com", "GetMetricData") == "cloudwatch:GetMetricData"
    assert iam_action("s3.amazonaws.com", "ListBuckets") == "s3:ListAllMyBuckets"
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::222222222222:assumed-role/etl/s",
        "accountId": "222222222222",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "accountId": "222222222222"}},
    }
    record = {
        "eventTime": "2026-11-01T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "recipientAccountId": "222222222222",
        "userIdentity": identity,
        "resources": [{"ARN": "arn:aws:s3:::reports/q3.csv", "type": "AWS::S3::Object"}],
    }
    denied = {**record, "eventName": "PutObject", "errorCode": "AccessDenied"}
    [use] = [u for u in reduce_usage([record, record, denied]) if u.kind == "iam_role"]
    # an S3 object is scoped as a policy names it: the bucket's objects
    assert (use.key, use.action, use.resource, use.events) == (ROLE, "s3:GetObject", "arn:aws:s3:::reports/*", 2)


def test_past_the_resource_cap_an_action_is_proposed_unscoped():
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::222222222222:assumed-role/etl/s",
        "accountId": "222222222222",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "accountId": "222222222222"}},
    }
    records = [
        {
            "eventTime": "2026-11-01T10:00:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "userIdentity": identity,
            "resources": [{"ARN": f"arn:aws:s3:::bucket-{n}/key"}],
        }
        for n in range(MAX_RESOURCES + 5)
    ]
    uses = [u for u in reduce_usage(records) if u.kind == "iam_role"]
    assert len(uses) == MAX_RESOURCES + 1 and sum(u.events for u in uses) == MAX_RESOURCES + 5
    found = propose(_effective("s3:GetObject"), uses, catalog())
    assert found.document["Statement"] == [
        {"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
    ]


def test_the_resource_cap_holds_when_log_objects_are_merged_in_any_order():
    """Objects read by different workers each keep their resources; merged, the action still ends unscoped."""
    hits = [("iam_role", ROLE, "222222222222", None)]
    when = datetime(2026, 11, 1, 10, tzinfo=UTC)

    def one_object(first: int) -> UsageReducer:
        reducer = UsageReducer()
        for n in range(first, first + 30):
            reducer.add(hits, "s3.amazonaws.com", "GetObject", (f"arn:aws:s3:::bucket-{n}/*",), when, 1)
        return reducer

    for order in ((0, 30), (30, 0)):
        merged = UsageReducer()
        for first in order:
            merged.merge(one_object(first))
        uses = merged.uses()
        assert len(uses) == MAX_RESOURCES + 1 and sum(u.events for u in uses) == 60
        assert sum(1 for u in uses if u.resource is None) == 1  # the calls past the cap, unscoped
