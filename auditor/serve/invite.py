"""Sending sign-in links: one per reviewer with items (or the owner), through the campaign's delivery channel.

A link is the only way into `auditor serve`, so each is recorded when issued
(its hash, who asked, until when) and delivered like a packet: the outbox,
SES or Slack. ``deliver=None`` returns the links instead, for the person at
the command line (who can read the state store anyway).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from auditor.campaign.deliver import Delivery, DeliveryError, Message
from auditor.campaign.model import CampaignError
from auditor.campaign.packets import slug
from auditor.campaign.state import get_campaign, item_states
from auditor.report.common import format_time
from auditor.serve.auth import issue_link
from auditor.store import Store


@dataclass(frozen=True)
class Invitation:
    email: str
    role: str
    url: str
    items: int
    reference: str | None = None  # where the delivery channel put it
    error: str | None = None


def invite(
    store: Store,
    campaign_id: int,
    *,
    base_url: str,
    now: datetime,
    valid_for: timedelta,
    delivery: Delivery | None,
    reviewer: str | None = None,
    owner: bool = False,
    actor: str = "auditor",
) -> list[Invitation]:
    """Issue (and with ``delivery``, send) sign-in links: every reviewer with open items, one reviewer, or the owner."""
    campaign = get_campaign(store, campaign_id)
    if owner:
        if not campaign.owner:
            raise CampaignError(f"campaign {campaign_id} has no owner (campaign create --owner EMAIL)")
        wanted = {campaign.owner: 0}
        role = "owner"
    else:
        pending = Counter(s.reviewer for s in item_states(store, campaign_id) if s.reviewer and not s.decided)
        if reviewer is not None:
            email = reviewer.strip().lower()
            if email not in pending:
                raise CampaignError(f"campaign {campaign_id} has no undecided items for {email}")
            pending = Counter({email: pending[email]})
        wanted, role = dict(sorted(pending.items())), "reviewer"
    invitations = []
    for email, items in wanted.items():
        token = issue_link(store, campaign_id, email, role=role, now=now, valid_for=valid_for, actor=actor)
        url = f"{base_url.rstrip('/')}/signin/{token}"
        if delivery is None:
            invitations.append(Invitation(email, role, url, items))
            continue
        message = _message(campaign, email, role, url, items, now + valid_for)
        try:
            reference = delivery.send(message)
        except DeliveryError as exc:
            invitations.append(Invitation(email, role, url, items, error=str(exc)))
            continue
        invitations.append(Invitation(email, role, url, items, reference=reference))
    return invitations


def _message(campaign, email: str, role: str, url: str, items: int, expires: datetime) -> Message:
    due = format_time(campaign.due_at)
    if role == "owner":
        what = f'You own access review "{campaign.name}" (campaign {campaign.id}), due {due}.\n'
        subject = f'Access review "{campaign.name}": your campaign owner page'
    else:
        what = f'You have {items} access item(s) to review in "{campaign.name}" (campaign {campaign.id}) by {due}.\n'
        subject = f'Access review "{campaign.name}": {items} item(s) to review by {due}'
    body = (
        f"{what}\nSign in here (the link works once, until {format_time(expires)}; it is for you only):\n\n"
        f"{url}\n\nIf it has expired or was already used, ask the campaign owner for a new one.\n"
    )
    return Message(to=email, subject=subject, body=body, name=f"campaign-{campaign.id}-signin-{slug(email)}")
