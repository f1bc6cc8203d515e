"""The campaign vocabulary: what is reviewed (items), by whom, and what was decided.

Items are frozen when a campaign is created ("freeze what was reviewed"):
a later run never moves them, and a revocation at close takes away exactly
what the reviewer saw. Decisions are appended, never edited; the current
decision of an item is its latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import msgspec

from auditor.model import Principal


class CampaignError(Exception):
    """A campaign request that cannot be honoured (unknown id, bad scope, closed...); exit 2."""


class ItemKind(StrEnum):
    IDC_ASSIGNMENT = "idc_assignment"  # a person's use of a permission set in an account, direct or via a group
    IDC_GROUP = "idc_group"  # a group as one entitlement: who is in it, what it grants
    IAM_USER = "iam_user"  # an IAM user's long-term credentials in one account


class ReviewerMode(StrEnum):
    MANAGER = "manager"
    ACCOUNT_OWNER = "account_owner"
    PERMISSION_SET_OWNER = "permission_set_owner"
    FIXED = "fixed"


class Decision(StrEnum):
    KEEP = "keep"
    RIGHTSIZE = "rightsize"  # keep, but right-size: the access stays, its permission set is to be narrowed
    REVOKE = "revoke"
    REASSIGN = "reassign"


KEPT = (Decision.KEEP.value, Decision.RIGHTSIZE.value)  # decisions that leave the access in place
RIGHTSIZE_ALIASES = ("rightsize", "right-size")


class RevokeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One Revocation the item becomes when decided "revoke" (auditor.model.RevocationKind)."""

    kind: str
    target: dict[str, str]


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One (person, access) under review, with the context its reviewer needs."""

    item_id: str
    kind: str  # ItemKind
    principal: Principal  # idc_user, idc_group or iam_user
    subject_email: str | None  # the person the access belongs to (None: a group, or an IAM user nobody owns)
    subject_name: str
    access: str  # one line a reviewer understands
    account_id: str | None = None
    account_name: str | None = None
    environment: str | None = None  # the account's environment tag (prod, dev, ...)
    permission_set: str | None = None
    permission_set_arn: str | None = None
    group: str | None = None  # the group the access comes through (or the group reviewed)
    group_id: str | None = None
    hr_status: str | None = None
    department: str | None = None
    title: str | None = None
    manager: str | None = None
    end_date: str | None = None  # HR end date (ISO), contractors and leavers
    last_used: str = "never"  # ISO time, "never", or "unknown: <why>"
    admin: bool = False
    break_glass: bool = False
    related_findings: list[dict] = []  # finding_id, rule_id, severity, title
    flagged: bool = False
    recommendation: str = "keep"  # keep | revoke
    recommendation_reason: str = ""
    reviewer: str = ""  # as first assigned; a reassignment moves the item, this stays
    reviewer_basis: str = ""  # how the reviewer was chosen: "manager", "fallback: ...", ...
    revokes: list[RevokeSpec] = []
    paths: list[str] = []  # the access paths this item stands for
    removes_paths: list[str] = []  # every access path its revocation takes away (conflict check)
    context: dict = {}  # kind-specific facts: group members and grants, keys, what a membership also grants


class CampaignSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What to review and who reviews it, as given to ``create``."""

    name: str
    due: datetime
    scopes: list[str] = []
    reviewer: str = ReviewerMode.MANAGER.value  # or "fixed:EMAIL"
    privileged_only: bool = False
    kind: str = "quarterly"  # quarterly | micro
    origin: list[str] = []  # finding ids a micro-certification was opened for
    owner: str = ""  # the campaign owner (email): the last step of routing, and who signs in to the owner's page
    fallback_reviewer: str = ""  # before the owner; empty: [campaigns] fallback_reviewer


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    kind: str
    status: str  # open | closed
    created_at: datetime
    due_at: datetime
    reviewer_mode: str
    scopes: list[str]
    privileged_only: bool
    run_dir: str | None
    snapshot_as_of: datetime | None
    closed_at: datetime | None = None
    undecided_policy: str | None = None
    origin: list[str] = field(default_factory=list)
    created_by: str = "auditor"
    owner: str = ""


@dataclass(frozen=True)
class DecisionRecord:
    """One recorded decision (append-only); a reassignment is a decision too."""

    item_id: str
    decision: str
    reassign_to: str | None
    justification: str
    reviewer: str
    decided_at: datetime
    source: str  # "packet.csv line 4" or "policy:revoke"


@dataclass
class ItemState:
    """An item with its current reviewer and its latest decision (None: undecided)."""

    item: Item
    reviewer: str
    decision: DecisionRecord | None = None
    history: list[DecisionRecord] = field(default_factory=list)

    @property
    def decided(self) -> bool:
        return self.decision is not None and self.decision.decision != Decision.REASSIGN


def parse_decision(text: str) -> tuple[str, str | None]:
    """'keep' | 'rightsize' | 'revoke' | 'reassign:EMAIL' (any case, spaces ignored) -> (decision, email)."""
    value = text.strip()
    lowered = value.lower()
    if lowered in (Decision.KEEP, Decision.REVOKE):
        return lowered, None
    if lowered in RIGHTSIZE_ALIASES:
        return Decision.RIGHTSIZE.value, None
    if lowered.startswith("reassign:"):
        email = value.split(":", 1)[1].strip().lower()
        if not looks_like_email(email):
            raise ValueError(f"reassign needs an email address (reassign:EMAIL), got {value!r}")
        return Decision.REASSIGN.value, email
    raise ValueError(
        f"decision must be keep, revoke or reassign:EMAIL, got {value!r} "
        "(or rightsize: keep, but right-size access from a permission set)"
    )


def kept(decision: str | None) -> bool:
    """Whether a decision leaves the access in place (keep, or keep but right-size)."""
    return decision in KEPT


def rightsizable(item: Item) -> bool:
    return rightsize_refusal(item) is None


def rightsize_refusal(item: Item) -> str | None:
    """Why ``item`` cannot be decided "rightsize" (None: it can).

    Right-sizing narrows a permission set, so it applies only to access that comes from one: an
    Identity Center account assignment, direct or through a group. A group reviewed as a whole or
    an IAM user's credentials have no permission set to narrow.
    """
    if item.kind == ItemKind.IDC_ASSIGNMENT and item.permission_set and item.account_id:
        return None
    what = {
        ItemKind.IDC_GROUP: "a group reviewed as a whole",
        ItemKind.IAM_USER: "an IAM user's access",
    }.get(item.kind, f"a {item.kind} item")
    return (
        f"rightsize applies only to access from a permission set (an Identity Center account assignment); "
        f"this item is {what}: decide keep or revoke"
    )


def looks_like_email(text: str) -> bool:
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain and not any(c.isspace() for c in text)
