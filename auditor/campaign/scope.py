"""--scope: which access a campaign reviews.

``account:ID`` and ``ou:ID`` say where (any of them); ``permission-set:NAME``,
``group:NAME`` and ``iam`` say what (any of them: Identity Center access
through those permission sets or groups, IAM users). No "where" means every
account, no "what" means all Identity Center access and all IAM users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from auditor.campaign.model import CampaignError
from auditor.snapshot import Snapshot

KINDS = ("account", "ou", "permission-set", "group", "iam")


@dataclass(frozen=True)
class Scope:
    accounts: frozenset[str] = frozenset()
    ous: frozenset[str] = frozenset()
    permission_sets: frozenset[str] = frozenset()  # lower case names
    groups: frozenset[str] = frozenset()  # lower case names
    iam: bool = False
    texts: tuple[str, ...] = field(default=())

    @property
    def selects_what(self) -> bool:
        return bool(self.permission_sets or self.groups or self.iam)

    def describe(self) -> str:
        return ", ".join(self.texts) if self.texts else "the whole organisation"


def parse_scopes(texts: list[str]) -> Scope:
    """Validate every --scope value; the message names the bad one."""
    parts: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for text in texts:
        kind, _, value = text.strip().partition(":")
        kind = kind.lower()
        if kind == "iam" and not value:
            parts["iam"].add("iam")
            continue
        if kind not in KINDS or kind == "iam" or not value.strip():
            raise CampaignError(f"--scope {text!r}: expected account:ID, ou:ID, permission-set:NAME, group:NAME or iam")
        value = value.strip()
        if kind == "account" and not re.fullmatch(r"\d{12}", value):
            raise CampaignError(f"--scope {text!r}: an account id has 12 digits")
        if kind == "ou" and not re.fullmatch(r"(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})", value):
            raise CampaignError(f"--scope {text!r}: an OU id looks like ou-ab12-cd34ef56 (or a root r-ab12)")
        parts[kind].add(value if kind in ("account", "ou") else value.lower())
    return Scope(
        accounts=frozenset(parts["account"]),
        ous=frozenset(parts["ou"]),
        permission_sets=frozenset(parts["permission-set"]),
        groups=frozenset(parts["group"]),
        iam=bool(parts["iam"]),
        texts=tuple(texts),
    )


def accounts_in_scope(scope: Scope, snapshot: Snapshot) -> set[str] | None:
    """The accounts a campaign covers (None: all). OUs need the organisation's OU tree in the snapshot."""
    if not scope.accounts and not scope.ous:
        return None
    known = {a.account_id for a in snapshot.table("accounts")}
    unknown = sorted(scope.accounts - known)
    if unknown:
        raise CampaignError(f"--scope account: {', '.join(unknown)} not in the snapshot's organisation")
    chosen = set(scope.accounts)
    if scope.ous:
        status = snapshot.status_of("organizations")
        tree = (status.detail.get("account_ous") if status else None) or {}
        if not tree:
            raise CampaignError(
                "--scope ou: this snapshot does not record which OU each account is in "
                "(organizations detail account_ous); scope by account:ID instead"
            )
        matched = {account for account, path in tree.items() if scope.ous & set(path)}
        missing = sorted(ou for ou in scope.ous if not any(ou in path for path in tree.values()))
        if missing:
            raise CampaignError(f"--scope ou: {', '.join(missing)} holds no account of the snapshot")
        chosen |= matched
    return chosen
