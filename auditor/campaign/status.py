"""Where campaigns stand: the list, and progress per reviewer with overdue ones first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from auditor.campaign.model import Campaign
from auditor.campaign.reviewers import UNASSIGNED, needs_attention
from auditor.campaign.schema import campaign_decisions, campaign_items, campaign_messages, iso
from auditor.campaign.state import all_campaigns, get_campaign, item_states
from auditor.store import Store


@dataclass
class ReviewerProgress:
    reviewer: str
    items: int = 0
    decided: int = 0
    flagged_pending: int = 0
    overdue: bool = False
    last_message: str = ""  # "reminder 2026-12-01T..." / "escalation ..."

    @property
    def pending(self) -> int:
        return self.items - self.decided


@dataclass
class CampaignStatus:
    campaign: Campaign
    reviewers: list[ReviewerProgress]
    # item id, access, why: items with the fallback reviewer, the campaign owner, or nobody yet
    fallback: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def unassigned(self) -> int:
        return sum(r.items for r in self.reviewers if r.reviewer == UNASSIGNED)

    @property
    def items(self) -> int:
        return sum(r.items for r in self.reviewers)

    @property
    def decided(self) -> int:
        return sum(r.decided for r in self.reviewers)


@dataclass(frozen=True)
class CampaignSummary:
    campaign: Campaign
    items: int
    decided_items: int
    overdue: bool


def campaign_status(store: Store, campaign_id: int, *, now: datetime) -> CampaignStatus:
    campaign = get_campaign(store, campaign_id)
    overdue = campaign.status == "open" and now > campaign.due_at
    progress: dict[str, ReviewerProgress] = {}
    fallback = []
    for state in item_states(store, campaign_id):
        row = progress.setdefault(state.reviewer, ReviewerProgress(state.reviewer))
        row.items += 1
        row.decided += state.decided
        row.flagged_pending += state.item.flagged and not state.decided
        if state.reviewer == UNASSIGNED or needs_attention(state.item.reviewer_basis):
            fallback.append((state.item.item_id, state.item.access, state.item.reviewer_basis))  # "unrouted: ..."
    with store.engine.connect() as conn:
        messages = conn.execute(
            sa.select(campaign_messages.c.reviewer, campaign_messages.c.kind, campaign_messages.c.sent_at)
            .where(campaign_messages.c.campaign_id == campaign_id)
            .order_by(campaign_messages.c.id)
        ).all()
    for reviewer, kind, sent_at in messages:
        if reviewer in progress:
            progress[reviewer].last_message = f"{kind} {iso(sent_at)}"
    for row in progress.values():
        row.overdue = overdue and row.pending > 0
    ordered = sorted(progress.values(), key=lambda r: (not r.overdue, -r.pending, r.reviewer))
    return CampaignStatus(campaign, ordered, fallback)


def list_campaigns(store: Store, *, now: datetime) -> list[CampaignSummary]:
    """Every campaign, newest first, with how many items have a current keep or revoke decision."""
    with store.engine.connect() as conn:
        items = dict(
            conn.execute(
                sa.select(campaign_items.c.campaign_id, sa.func.count()).group_by(campaign_items.c.campaign_id)
            ).all()
        )
        rows = conn.execute(
            sa.select(
                campaign_decisions.c.campaign_id, campaign_decisions.c.item_id, campaign_decisions.c.decision
            ).order_by(campaign_decisions.c.id)
        ).all()
    latest: dict[tuple[int, str], str] = {}
    for campaign_id, item_id, decision in rows:
        latest[(campaign_id, item_id)] = decision
    decided: dict[int, int] = defaultdict(int)
    for (campaign_id, _), decision in latest.items():
        decided[campaign_id] += decision != "reassign"
    return [
        CampaignSummary(c, items.get(c.id, 0), decided[c.id], c.status == "open" and now > c.due_at)
        for c in reversed(all_campaigns(store))
    ]
