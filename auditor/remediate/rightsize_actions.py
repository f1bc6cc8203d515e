"""Right-sizing: replace a permission set's inline policy with the least-privilege proposal.

The target names the permission set and the proposed document (compact
JSON, auditor.permissions.rightsize). The pre-state is the inline policy
exactly as sso-admin returns it (or none), so the inverse writes back the
very same text, or deletes the inline policy when there was none; each
change is provisioned to every account the permission set is provisioned
to, as the console does, and waits for the provisioning to finish.

Unlike the revocations, both directions write a policy: the role that
applies it can write any inline policy. It is registered with ``grants``
set, so ``remediate plan`` never makes it from revocations, and it runs
(apply, verify, rollback) through a role of its own, ``[aws]
rightsize_role_name``, never the apply role, which revokes and never grants
(auditor.deploy.scopes). Plans come from ``auditor.remediate.rightsize_plan``.
"""

from __future__ import annotations

import json

from auditor.remediate.actions import Action, State, Target, not_found, register
from auditor.remediate.clients import Clients

KIND = "idc_permission_set_inline_policy"
_NOT_FOUND = ("ResourceNotFoundException",)


def same_policy(a: str | None, b: str | None) -> bool:
    """The same document, whatever its whitespace and key order."""
    if a is None or b is None:
        return a is b
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return a == b


def _params(t: Target) -> dict:
    return {"InstanceArn": t["instance_arn"], "PermissionSetArn": t["permission_set_arn"]}


def _read(clients: Clients, t: Target) -> State:
    try:
        found = clients.sso_admin().get_inline_policy_for_permission_set(**_params(t)).get("InlinePolicy")
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return {"inline_policy": None, "proposal_in_place": False}
        raise
    return {"inline_policy": found or None, "proposal_in_place": same_policy(found or None, t["policy"])}


def _provision(clients: Clients, t: Target, what: str) -> dict:
    sso = clients.sso_admin()
    status = sso.provision_permission_set(**_params(t), TargetType="ALL_PROVISIONED_ACCOUNTS")[
        "PermissionSetProvisioningStatus"
    ]
    if status.get("Status") == "IN_PROGRESS":
        status = clients.waiter.wait(
            lambda: sso.describe_permission_set_provisioning_status(
                InstanceArn=t["instance_arn"], ProvisionPermissionSetRequestId=status["RequestId"]
            )["PermissionSetProvisioningStatus"],
            what,
        )
    return {"request_id": status.get("RequestId"), "status": status.get("Status")}


def _replace(clients: Clients, t: Target, pre: State) -> dict:
    clients.sso_admin().put_inline_policy_to_permission_set(**_params(t), InlinePolicy=t["policy"])
    return _provision(clients, t, f"provisioning the right-sized {t['permission_set_arn']}")


def _restore(clients: Clients, t: Target, pre: State) -> dict:
    sso = clients.sso_admin()
    if pre["inline_policy"] is None:
        sso.delete_inline_policy_from_permission_set(**_params(t))
    else:
        sso.put_inline_policy_to_permission_set(**_params(t), InlinePolicy=pre["inline_policy"])
    return _provision(clients, t, f"provisioning the restored {t['permission_set_arn']}")


def _names(clients: Clients, t: Target) -> list[str]:
    try:
        found = clients.sso_admin().describe_permission_set(**_params(t))["PermissionSet"]
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return []
        raise
    return [n for n in (found.get("Name"),) if n]


RIGHTSIZE = register(
    Action(
        kind=KIND,
        verb="replace the inline policy of a permission set with its right-sized proposal",
        target_keys=("instance_arn", "permission_set_arn", "policy"),
        permissions=(
            "sso:GetInlinePolicyForPermissionSet",
            "sso:PutInlinePolicyToPermissionSet",
            "sso:DeleteInlinePolicyFromPermissionSet",
            "sso:ProvisionPermissionSet",
            "sso:DescribePermissionSetProvisioningStatus",
            "sso:DescribePermissionSet",
        ),
        read=_read,
        revoked=lambda s: s["proposal_in_place"],
        apply=_replace,
        inverse=_restore,
        compare=("inline_policy",),
        describe=lambda t: f"replace the inline policy of permission set {t['permission_set_arn']} with the proposal",
        names=_names,
        subject=lambda t: ("permission_set", t["permission_set_arn"]),
        rollback_note="rollback writes back the inline policy text exactly as it was read before the change",
        grants=True,
    )
)
