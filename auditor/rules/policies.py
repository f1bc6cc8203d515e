"""Reading IAM policy documents: what grants administrator power."""

from __future__ import annotations

import json
import re

from auditor.model import PermissionSet

_ADMIN_MANAGED = re.compile(r"arn:aws[\w-]*:iam::aws:policy/AdministratorAccess")


def is_admin_policy_arn(arn: str) -> bool:
    return bool(_ADMIN_MANAGED.fullmatch(arn))


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def grants_full_admin(document: str | dict | None) -> bool:
    """True when a statement allows every action on every resource.

    ``Action: "*"`` (or ``"*:*"``) with ``Resource: "*"`` and no condition is
    administrator power whatever else the policy says. A document that does
    not parse is not taken as admin (the caller reports it elsewhere).
    """
    if document is None:
        return False
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        actions = {str(a) for a in _as_list(statement.get("Action"))}
        resources = {str(r) for r in _as_list(statement.get("Resource"))}
        if actions & {"*", "*:*"} and "*" in resources:
            return True
    return False


def admin_reasons(ps: PermissionSet) -> list[str]:
    """Why a permission set is administrator-capable (empty when it is not)."""
    reasons = [f"managed policy {arn}" for arn in ps.managed_policies if is_admin_policy_arn(arn)]
    if grants_full_admin(ps.inline_policy):
        reasons.append("inline policy allows * on *")
    return reasons


def is_admin_permission_set(ps: PermissionSet) -> bool:
    return bool(admin_reasons(ps))
