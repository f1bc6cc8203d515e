"""The remediation IAM policy, generated from the permissions every action declares.

Identity Center permissions are needed in the management (or delegated
administrator) account; IAM permissions in every account the remediator
changes, through the member role, which the caller needs to assume.
"""

from __future__ import annotations

from collections import defaultdict

from auditor.remediate.actions import ACTIONS

SIDS = {"identitystore": "IdentityStore", "sso": "IdentityCenterAssignments", "iam": "IamUserCredentials"}


def required_permissions(grants: bool = False) -> list[str]:
    """The union of the revoking actions' declared permissions (``grants``: the right-sizing ones'), sorted."""
    return sorted({p for action in ACTIONS.values() if action.grants == grants for p in action.permissions})


def remediation_policy(member_role_name: str = "OrganizationAccountAccessRole") -> dict:
    """An IAM policy document granting exactly what the remediation actions need."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for permission in required_permissions():
        by_service[permission.split(":", 1)[0]].append(permission)
    statements = [
        {"Sid": SIDS.get(service, service.title()), "Effect": "Allow", "Action": actions, "Resource": "*"}
        for service, actions in sorted(by_service.items())
    ]
    statements.append(
        {
            "Sid": "AssumeMemberRole",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": f"arn:aws:iam::*:role/{member_role_name}",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}
