"""Reading IAM policy documents: administrator power, wildcards, privilege escalation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from auditor.model import PermissionSet

_ADMIN_MANAGED = re.compile(r"arn:aws[\w-]*:iam::aws:policy/AdministratorAccess")

# IAM actions that let a principal grant itself more power (the well-known
# privilege-escalation paths: new policy versions, attaching or writing
# policies, credentials for other users, trust-policy edits, group joins).
ESCALATION_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AddUserToGroup",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)


def is_admin_policy_arn(arn: str) -> bool:
    return bool(_ADMIN_MANAGED.fullmatch(arn))


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _document(document: str | dict | None) -> dict | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    return document if isinstance(document, dict) else None


@dataclass
class PolicyRisks:
    """What an identity policy allows that deserves a reviewer's eye."""

    full_admin: bool = False
    service_wildcards: list[str] = field(default_factory=list)  # "s3:*" on "*"
    escalation: list[str] = field(default_factory=list)  # escalation actions allowed on "*"
    pass_role_any: bool = False  # iam:PassRole on "*"
    not_action_allow: bool = False  # Allow + NotAction: allows everything else

    @property
    def any(self) -> bool:
        return bool(
            self.full_admin or self.service_wildcards or self.escalation or self.pass_role_any or self.not_action_allow
        )

    @property
    def admin_capable(self) -> bool:
        """Full admin, or able to grant itself anything (IAM write + escalation)."""
        return (
            self.full_admin
            or self.not_action_allow
            or (bool(self.escalation) and self.pass_role_any)
            or len(self.escalation) >= 3
        )

    def describe(self) -> list[str]:
        out = []
        if self.full_admin:
            out.append("allows * on *")
        if self.not_action_allow:
            out.append("Allow with NotAction (allows every action not listed)")
        if self.service_wildcards:
            out.append(f"service-wide wildcards on *: {', '.join(self.service_wildcards)}")
        if self.escalation:
            out.append(f"privilege-escalation actions on *: {', '.join(self.escalation)}")
        if self.pass_role_any:
            out.append("iam:PassRole on *")
        return out


def analyse_policy(document: str | dict | None) -> PolicyRisks:
    """Risks of one identity policy; conditional statements are left out (they narrow the grant)."""
    risks = PolicyRisks()
    parsed = _document(document)
    if parsed is None:
        return risks
    for statement in _as_list(parsed.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        resources = {str(r) for r in _as_list(statement.get("Resource"))}
        if "NotAction" in statement and "*" in resources:
            risks.not_action_allow = True
            continue
        if "*" not in resources:
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        for action in actions:
            lowered = action.lower()
            if lowered in ("*", "*:*"):
                risks.full_admin = True
            elif lowered.endswith(":*"):
                risks.service_wildcards.append(action)
            if fnmatchcase("iam:passrole", lowered):
                risks.pass_role_any = True
            for escalation in ESCALATION_ACTIONS:
                if fnmatchcase(escalation.lower(), lowered) and escalation not in risks.escalation:
                    risks.escalation.append(escalation)
    if risks.full_admin:
        risks.escalation = []  # implied; keep the description short
        risks.pass_role_any = False
    return risks


def grants_full_admin(document: str | dict | None) -> bool:
    return analyse_policy(document).full_admin


def admin_reasons(ps: PermissionSet) -> list[str]:
    """Why a permission set is administrator-capable (empty when it is not)."""
    reasons = [f"managed policy {arn}" for arn in ps.managed_policies if is_admin_policy_arn(arn)]
    risks = analyse_policy(ps.inline_policy)
    if risks.admin_capable:
        reasons.extend(f"inline policy {text}" for text in risks.describe())
    return reasons


def is_admin_permission_set(ps: PermissionSet) -> bool:
    return bool(admin_reasons(ps))
