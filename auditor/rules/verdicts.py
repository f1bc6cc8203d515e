"""What a rule concluded about a candidate it raised no finding for: cleared, or exempt.

Every rule decides for every candidate it examines (its ``subjects``): a finding, an
insufficient-evidence finding naming what is missing, or one of these verdicts with the
fact that decided it. Nothing is dropped silently: ``auditor explain`` shows the verdicts,
and a test runs every rule over degraded snapshots and checks that every candidate got one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import msgspec

from auditor.model import Principal, PrincipalType
from auditor.snapshot import Snapshot


class Outcome(StrEnum):
    CLEARED = "cleared"  # examined, and the rule does not apply: the fact says why
    EXEMPT = "exempt"  # examined, and deliberately left out: break-glass, service identity, ...


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str
    outcome: str  # an Outcome
    principal: Principal
    reason: str  # the fact that decided it, e.g. "last sign-in 3 days ago"
    account_id: str | None = None
    resource: str | None = None


# What a rule may examine, and how to list the candidates of each kind in a snapshot.
SUBJECTS: dict[str, Callable[[Snapshot], list[Principal]]] = {
    PrincipalType.IDC_USER.value: lambda s: [
        Principal(type=PrincipalType.IDC_USER.value, id=u.user_id, name=u.user_name) for u in s.table("idc_users")
    ],
    PrincipalType.IDC_GROUP.value: lambda s: [
        Principal(type=PrincipalType.IDC_GROUP.value, id=g.group_id, name=g.display_name) for g in s.table("idc_groups")
    ],
    PrincipalType.IAM_USER.value: lambda s: [
        Principal(type=PrincipalType.IAM_USER.value, id=u.user_id, name=u.user_name, arn=u.arn)
        for u in s.table("iam_users")
    ],
    PrincipalType.IAM_ROLE.value: lambda s: [
        Principal(type=PrincipalType.IAM_ROLE.value, id=r.role_id, name=r.role_name, arn=r.arn)
        for r in s.table("iam_roles")
    ],
    PrincipalType.ACCESS_KEY.value: lambda s: [
        Principal(type=PrincipalType.ACCESS_KEY.value, id=k.access_key_id, name=k.user_name)
        for k in s.table("access_keys")
    ],
    PrincipalType.ROOT.value: lambda s: [
        Principal(type=PrincipalType.ROOT.value, id=a.account_id, name="root", arn=f"arn:aws:iam::{a.account_id}:root")
        for a in s.table("accounts")
    ],
    PrincipalType.PERMISSION_SET.value: lambda s: [
        Principal(type=PrincipalType.PERMISSION_SET.value, id=p.arn, name=p.name, arn=p.arn)
        for p in s.table("permission_sets")
    ],
}


def candidates(snapshot: Snapshot, subject: str) -> list[Principal]:
    """Every principal of kind ``subject`` the snapshot holds (what a rule over that kind must decide)."""
    return SUBJECTS[subject](snapshot)


def decided_ids(results: list) -> set[str]:
    """The principal ids (and ARNs) a rule's results name: a principal is decided when either is among them."""
    return {result.principal.id for result in results} | {r.principal.arn for r in results if r.principal.arn}


def is_decided(principal: Principal, decided: set[str]) -> bool:
    return principal.id in decided or (principal.arn is not None and principal.arn in decided)
