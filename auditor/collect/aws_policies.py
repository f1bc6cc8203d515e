"""The AWS managed policies the estate uses: each document read once, in the caller's own account.

GetAccountAuthorizationDetails would list every policy AWS publishes (over
a thousand) in every account; the estate uses a few dozen. Their documents
are the same in every account, so each one in use (attached to an IAM
principal, to a permission set, or set as a boundary) is read once here:
GetPolicy for its default version, GetPolicyVersion for the document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.aws import AwsContext, describe_error
from auditor.collect.concurrency import fan_out
from auditor.collect.iam import decode_document
from auditor.model import IamPolicy
from auditor.snapshot import COMPLETE, PARTIAL, AttributeGap, SourceResult, SourceStatus

SOURCE = "iam"
WHAT = "iam_policy.document"
PERMISSIONS = ("iam:GetPolicy", "iam:GetPolicyVersion")


def is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


def referenced_aws_policies(tables: Iterable[dict[str, list]]) -> list[str]:
    """Every AWS managed policy ARN attached to an IAM principal, a permission set, or used as a boundary."""
    arns: set[str] = set()
    for table in tables:
        for name in ("iam_users", "iam_groups", "iam_roles"):
            for entity in table.get(name, []):
                arns.update(entity.attached_policies)
                if getattr(entity, "permissions_boundary", None):
                    arns.add(entity.permissions_boundary)
        for ps in table.get("permission_sets", []):
            arns.update(ps.managed_policies)
            if ps.permissions_boundary and ps.permissions_boundary.get("ManagedPolicyArn"):
                arns.add(ps.permissions_boundary["ManagedPolicyArn"])
    return sorted(arn for arn in arns if is_aws_managed(arn))


def collect_aws_policies(ctx: AwsContext, arns: Iterable[str], *, max_workers: int = 8) -> SourceResult:
    """One ``IamPolicy`` per ARN (account None); a policy that cannot be read is named in the manifest.

    The reads run concurrently: each costs two round trips, and an estate uses dozens of policies.
    """
    iam = ctx.client("iam")
    policies, failed = [], {}
    for outcome in fan_out(lambda arn: read_policy(iam, arn, account_id=None), arns, max_workers):
        if outcome.error is None:
            policies.append(outcome.value)
        else:
            failed[outcome.item] = describe_error(outcome.error, "iam", "GetPolicyVersion")
    result = SourceResult()
    result.add("iam_policies", policies)
    attributes = [AttributeGap(what=WHAT, error=error, objects=[arn]) for arn, error in failed.items()]
    status = SourceStatus(
        source=SOURCE,
        account_id=None,
        status="partial" if failed else "ok",
        error=next(iter(failed.values()), None),
        detail={"aws_managed_policies": len(policies)},
        tables={"iam_policies": PARTIAL if failed else COMPLETE},
        attributes=attributes,
    )
    result.statuses.append(status)
    return result


def read_policy(iam: Any, arn: str, account_id: str | None) -> IamPolicy:
    """A managed policy's default version, as an ``IamPolicy``."""
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version_id = policy["DefaultVersionId"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=version_id)["PolicyVersion"]
    return IamPolicy(
        account_id=account_id,
        arn=arn,
        name=policy["PolicyName"],
        kind="managed",
        document=decode_document(version.get("Document")) or {},
        path=policy.get("Path") or "/",
        version_id=version_id,
    )
