"""What the reviewer's and the owner's pages show, read from the store (no HTTP here, so it is benchmarked alone).

The reviewer sees their items grouped by person with what a decision needs
in seconds; the owner sees completion per reviewer, what is overdue or
escalated, who revokes nothing or decides too fast to have read, the
items nobody is accountable for yet, and the right-sizings reviewers asked for.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from auditor.campaign.model import Campaign, ItemState, kept, rightsizable
from auditor.campaign.outcome import Rightsizing, compute_outcome, requested_rightsizings
from auditor.campaign.reviewers import UNASSIGNED, needs_attention
from auditor.campaign.schema import campaign_messages
from auditor.campaign.state import get_campaign, item_states
from auditor.report.common import format_time
from auditor.store import Store

RUBBER_STAMP_MIN_ITEMS = 5  # fewer decisions say nothing about a reviewer's habits
FAST_SECONDS = 10  # a median below this between decisions is too fast to have read the evidence


@dataclass
class Person:
    name: str
    email: str
    hr: dict[str, str]
    items: list[ItemState] = field(default_factory=list)


@dataclass
class ReviewerView:
    campaign: Campaign
    email: str
    people: list[Person]
    total: int
    decided: int
    due: str
    overdue: bool
    rightsizable: set[str] = field(default_factory=set)  # item ids that may be kept to right-size


def reviewer_view(store: Store, campaign_id: int, email: str, *, now: datetime) -> ReviewerView:
    campaign = get_campaign(store, campaign_id)
    people: dict[str, Person] = {}
    total = decided = 0
    for state in item_states(store, campaign_id, reviewer=email):
        item = state.item
        key = item.subject_email or item.subject_name
        if key not in people:
            people[key] = Person(
                item.subject_name,
                item.subject_email or "",
                {
                    "HR status": item.hr_status or "",
                    "department": item.department or "",
                    "title": item.title or "",
                    "manager": item.manager or "",
                    "end date": item.end_date or "",
                },
            )
        people[key].items.append(state)
        total += 1
        decided += state.decided
    ordered = sorted(people.values(), key=lambda p: (not any(s.item.flagged for s in p.items), p.name.lower()))
    return ReviewerView(
        campaign,
        email,
        ordered,
        total,
        decided,
        format_time(campaign.due_at),
        campaign.status == "open" and now > campaign.due_at,
        {s.item.item_id for p in ordered for s in p.items if rightsizable(s.item)},
    )


@dataclass
class ReviewerStats:
    reviewer: str
    items: int = 0
    decided: int = 0
    kept: int = 0
    revoked: int = 0
    reassigned: int = 0
    seconds_per_item: float | None = None
    last_message: str = ""
    escalated: bool = False

    @property
    def revoke_rate(self) -> str:
        return f"{100 * self.revoked / self.decided:.0f}%" if self.decided else "-"

    @property
    def signals(self) -> list[str]:
        found = []
        if self.decided >= RUBBER_STAMP_MIN_ITEMS and self.kept == self.decided:
            found.append("kept everything")
        fast = self.seconds_per_item is not None and self.seconds_per_item < FAST_SECONDS
        if fast and self.decided >= RUBBER_STAMP_MIN_ITEMS:
            found.append(f"{self.seconds_per_item:.0f} s per item")
        return found


@dataclass
class OwnerView:
    campaign: Campaign
    reviewers: list[ReviewerStats]
    attention: list[ItemState]  # unassigned, or with the fallback reviewer or the owner
    total: int
    decided: int
    due: str
    overdue: bool
    outcome: dict[str, int] | None = None  # once closed: kept, revoked, revocations for the plan
    rightsizings: list[Rightsizing] = field(default_factory=list)  # (permission set, account) kept to right-size


def owner_view(store: Store, campaign_id: int, *, now: datetime) -> OwnerView:
    campaign = get_campaign(store, campaign_id)
    states = item_states(store, campaign_id)
    stats: dict[str, ReviewerStats] = {}
    times: dict[str, list[datetime]] = defaultdict(list)
    reassigned: dict[str, int] = defaultdict(int)
    attention = []
    for state in states:
        fallen = needs_attention(state.item.reviewer_basis) and state.reviewer == state.item.reviewer
        if state.reviewer == UNASSIGNED or (fallen and not state.decided):
            attention.append(state)
        if state.reviewer == UNASSIGNED:
            continue
        row = stats.setdefault(state.reviewer, ReviewerStats(state.reviewer))
        row.items += 1
        if state.decided:
            row.decided += 1
            row.kept += kept(state.decision.decision)  # keep, or keep but right-size
            row.revoked += state.decision.decision == "revoke"
        for record in state.history:  # who decided what and when, wherever the item went afterwards
            reassigned[record.reviewer] += record.decision == "reassign"
            if record.source.startswith("web"):
                times[record.reviewer].append(record.decided_at)
    for reviewer, row in stats.items():
        row.reassigned = reassigned[reviewer]
        moments = sorted(times[reviewer])
        gaps = [(b - a).total_seconds() for a, b in zip(moments, moments[1:], strict=False)]
        row.seconds_per_item = statistics.median(gaps) if gaps else None
    with store.engine.connect() as conn:
        messages = conn.execute(
            sa.select(campaign_messages.c.reviewer, campaign_messages.c.kind, campaign_messages.c.sent_at)
            .where(campaign_messages.c.campaign_id == campaign_id)
            .order_by(campaign_messages.c.id)
        ).all()
    for reviewer, kind, sent_at in messages:
        if reviewer in stats:
            stats[reviewer].last_message = f"{kind} {format_time(sent_at)}"
            stats[reviewer].escalated |= kind == "escalation"
    overdue = campaign.status == "open" and now > campaign.due_at
    ordered = sorted(stats.values(), key=lambda r: (r.decided == r.items, -(r.items - r.decided), r.reviewer))
    decided = sum(s.decided for s in states)
    outcome = None
    if campaign.status == "closed":
        final = compute_outcome(campaign_id, states)
        outcome = {
            "kept": sum(s.decided and kept(s.decision.decision) for s in states),
            "revoked": sum(s.decided and s.decision.decision == "revoke" for s in states),
            "revocations": len(final.revocations),
            "conflicts": len(final.conflicts),
        }
    return OwnerView(
        campaign,
        ordered,
        attention,
        len(states),
        decided,
        format_time(campaign.due_at),
        overdue,
        outcome,
        requested_rightsizings(states),
    )
