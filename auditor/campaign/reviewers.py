"""Who reviews each item: a chain that never blocks a campaign.

The default mode walks the chain in order: HR manager -> account owner
(the account's ``owner`` tag) -> permission set owner (its ``owner`` tag)
-> the campaign's fallback reviewer -> the campaign owner; a mode chosen
explicitly (account_owner, permission_set_owner, fixed) takes its own step
and then the last two. Nobody reviews their own access: such an
item goes to the subject's manager. An item that reaches the fallback or
the owner is listed, and one with no route at all is stored unassigned
(reviewer "") for the campaign owner to assign, so a gap in ownership is
visible and never stops the review of everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.campaign.model import CampaignError, Item, ItemKind, ReviewerMode, looks_like_email
from auditor.model import Account, HrPerson, PermissionSet
from auditor.snapshot import Snapshot

UNASSIGNED = ""  # an item no step could route: the campaign owner assigns it
CHAIN = (ReviewerMode.MANAGER, ReviewerMode.ACCOUNT_OWNER, ReviewerMode.PERMISSION_SET_OWNER)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


@dataclass(frozen=True)
class Unresolved:
    item_id: str
    subject: str
    access: str
    reason: str


def needs_attention(basis: str) -> bool:
    """Routed past every accountable step (fallback, campaign owner) or not at all: listed for the owner."""
    return basis.startswith(("fallback", "campaign owner", "unrouted"))


def parse_mode(text: str) -> tuple[str, str | None]:
    """'manager' | 'account_owner' | 'permission_set_owner' | 'fixed:EMAIL' -> (mode, fixed email)."""
    value = text.strip()
    if value.lower().startswith("fixed:"):
        email = value.split(":", 1)[1].strip().lower()
        if not looks_like_email(email):
            raise CampaignError(f"--reviewer {text!r}: fixed needs an email address (fixed:EMAIL)")
        return ReviewerMode.FIXED.value, email
    modes = [m.value for m in ReviewerMode if m != ReviewerMode.FIXED]
    if value not in modes:
        raise CampaignError(f"--reviewer {text!r}: expected one of {', '.join(modes)} or fixed:EMAIL")
    return value, None


class ReviewerResolver:
    """Resolves reviewers against the snapshot the campaign is created from."""

    def __init__(self, snapshot: Snapshot, mode_text: str, fallback: str, owner: str = "") -> None:
        self.mode, self.fixed = parse_mode(mode_text)
        self.fallback = fallback.strip().lower()
        self.owner = owner.strip().lower()
        self.accounts: dict[str, Account] = {a.account_id: a for a in snapshot.table("accounts")}
        self.permission_sets: dict[str, PermissionSet] = {p.arn: p for p in snapshot.table("permission_sets")}
        self.groups = {g.group_id: g for g in snapshot.table("idc_groups")}
        self.people: dict[str, HrPerson] = {p.email.lower(): p for p in snapshot.table("hr_people")}

    def resolve(self, item: Item) -> tuple[str | None, str]:
        """(reviewer email, how it was chosen); (None, why not) when no step of the chain can take it."""
        subjects = _subjects(item)
        first_reason = ""
        for step in self._chain():
            candidate, basis = self._candidate(item, step)
            if candidate is not None and candidate in subjects:
                manager = self._manager_of(candidate)
                if manager is not None and manager not in subjects:
                    return manager, f"self-review avoided: {basis} is the subject; their manager"
                candidate, basis = None, f"{basis} is the subject and has no other manager in HR"
            if candidate is not None:
                return candidate, basis if not first_reason else f"{basis} ({first_reason})"
            first_reason = first_reason or basis
        for last, label in ((self.fallback, "fallback"), (self.owner, "campaign owner")):
            if last and last not in subjects:
                return last, f"{label}: {first_reason}"
        return None, f"{first_reason}; no fallback reviewer or campaign owner can take it"

    def _chain(self) -> list[str]:
        """The default (manager) mode walks the whole chain; a mode chosen explicitly is its only step."""
        if self.mode == ReviewerMode.MANAGER:
            return [m.value for m in CHAIN]
        return [self.mode]

    def _candidate(self, item: Item, step: str) -> tuple[str | None, str]:
        if step == ReviewerMode.FIXED:
            return self.fixed, "fixed reviewer"
        if item.kind == ItemKind.IDC_GROUP:
            owner = self._group_owner(item)
            if owner:
                return owner, "group owner (group description)"
            return None, f"no owner named in the description of group {item.group}"
        if step == ReviewerMode.MANAGER:
            if item.manager:
                return item.manager, "HR manager"
            who = item.subject_email or item.principal.name
            return None, f"no HR manager for {who}" if item.subject_email else f"no owner in HR for {who}"
        if step == ReviewerMode.ACCOUNT_OWNER:
            account = self.accounts.get(item.account_id or "")
            owner = _owner_tag(account.tags) if account else None
            return (owner, "account owner tag") if owner else (None, f"no owner tag on account {item.account_id}")
        if item.kind == ItemKind.IAM_USER:
            return None, "an IAM user has no permission set owner"
        ps = self.permission_sets.get(item.permission_set_arn or "")
        owner = _owner_tag(ps.tags) if ps else None
        return (owner, "permission set owner tag") if owner else (None, f"no owner tag on {item.permission_set}")

    def _group_owner(self, item: Item) -> str | None:
        group = self.groups.get(item.group_id or "")
        found = _EMAIL.search(group.description or "") if group else None
        return found.group(0).lower() if found else None

    def _manager_of(self, email: str) -> str | None:
        person = self.people.get(email)
        return person.manager_email.lower() if person and person.manager_email else None


def _owner_tag(tags: dict[str, str]) -> str | None:
    value = next((v for k, v in tags.items() if k.lower() == "owner"), "").strip().lower()
    return value if looks_like_email(value) else None


def _subjects(item: Item) -> set[str]:
    """Whose access the item is: the person, or every member of a reviewed group."""
    subjects = {item.subject_email} if item.subject_email else set()
    subjects |= {m.lower() for m in item.context.get("members", []) if "@" in m}
    return subjects
