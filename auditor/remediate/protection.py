"""Principals that are never touched: the tool's own identities, the allow-list and every break-glass name.

Checked when a plan is built and again, against names read live from AWS,
before anything is applied: a plan written before a principal was protected
(or by another identity) still cannot touch it. The identities the tool runs
as are protected without configuration: the caller (STS GetCallerIdentity,
read at plan and at apply: the IAM user, or the role behind an assumed-role
session) and the roles it assumes in every account (``[aws]
member_role_name`` and any other ``[aws] *_role_name``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

import botocore.exceptions

from auditor.config import Settings
from auditor.model import Principal
from auditor.remediate.clients import Clients
from auditor.remediate.errors import Refused, explain

# target values that name a principal (a policy ARN or an account id does not)
PRINCIPAL_KEYS = ("user_id", "user_name", "group_id", "principal_id", "access_key_id")


@dataclass(frozen=True)
class Identity:
    """An IAM user or role the tool runs as; ``account_id`` None: the same name in every account."""

    kind: str  # user | role
    name: str
    account_id: str | None
    why: str  # where it comes from, for the refusal


def parse_iam_arn(arn: str | None) -> tuple[str, str, str] | None:
    """(kind, account id, name) of an IAM user or role ARN, or of an assumed-role session (its role); else None."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] not in ("iam", "sts"):
        return None
    account, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role" and "/" in rest:
        return "role", account, rest.split("/", 1)[0]
    if kind in ("user", "role") and rest:
        return kind, account, rest.rsplit("/", 1)[-1]  # the name is the last part of the path
    return None


def own_identities(clients: Clients, settings: Settings) -> tuple[Identity, ...]:
    """Who the tool is: the caller read from STS now, and the roles it assumes; ``Refused`` when STS cannot say."""
    try:
        caller = clients.sts().get_caller_identity()["Arn"]
    except botocore.exceptions.ClientError as exc:
        raise Refused(f"cannot read the caller's identity to protect it (GetCallerIdentity): {explain(exc)}") from exc
    found = []
    parsed = parse_iam_arn(caller)
    if parsed is not None:
        kind, account, name = parsed
        found.append(Identity(kind, name, account, f"the caller, {caller} (GetCallerIdentity)"))
    for key, value in sorted(settings.section("aws").items()):
        if key.endswith("role_name") and isinstance(value, str) and value:
            found.append(Identity("role", value, None, f"assumed in every account ([aws] {key})"))
    return tuple(found)


@dataclass(frozen=True)
class Protection:
    protected: tuple[str, ...]  # shell-style patterns over names, ids and ARNs
    break_glass: tuple[str, ...]  # case-insensitive substrings of names
    own: tuple[Identity, ...] = ()  # the identities the tool runs as

    @classmethod
    def from_settings(cls, settings: Settings, own: Iterable[Identity] = ()) -> Protection:
        return cls(
            protected=tuple(settings.get("remediation", "protected_principals")),
            break_glass=tuple(settings.get("rules", "break_glass_patterns")),
            own=tuple(own),
        )

    @classmethod
    def load(cls, settings: Settings, clients: Clients) -> Protection:
        """The configured protection plus the tool's own identities, read from AWS now."""
        return cls.from_settings(settings, own_identities(clients, settings))

    def why(self, names: Iterable[str | None]) -> str | None:
        """None when nothing named is protected; else which name and which setting protects it."""
        for name in names:
            if not name:
                continue
            lowered = name.lower()
            for pattern in self.break_glass:
                if pattern and pattern.lower() in lowered:
                    return f"{name!r} is a break-glass name ([rules] break_glass_patterns: {pattern!r})"
            for pattern in self.protected:
                if fnmatchcase(lowered, pattern.lower()):
                    return f"{name!r} is protected ([remediation] protected_principals: {pattern!r})"
        return None

    def why_own(self, principal: Principal, target: dict[str, str]) -> str | None:
        """None unless the revocation touches an IAM user or role the tool runs as."""
        touched = set()
        if target.get("account_id") and target.get("user_name"):
            touched.add(("user", target["account_id"], target["user_name"]))
        parsed = parse_iam_arn(principal.arn)
        if parsed is not None:
            touched.add(parsed)
        for identity in self.own:
            for kind, account, name in touched:
                if (kind, name) == (identity.kind, identity.name) and identity.account_id in (None, account):
                    return f"IAM {kind} {name!r} in {account} is the identity the tool runs as: {identity.why}"
        return None

    def why_static(self, principal: Principal, target: dict[str, str]) -> str | None:
        """What the revocation itself names: protected, break-glass, or the tool's own identity."""
        return self.why(static_names(principal, target)) or self.why_own(principal, target)


def static_names(principal: Principal, target: dict[str, str]) -> list[str | None]:
    """What a revocation itself names: its principal and the principal keys of its target."""
    return [principal.id, principal.name, principal.arn, *(target.get(k) for k in PRINCIPAL_KEYS)]
