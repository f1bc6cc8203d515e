"""Reminders before the due date and escalation to the reviewer's manager after it.

The schedule is [campaigns] reminder_days_before_due and
escalate_days_after_due. Each run sends, per reviewer with undecided items,
only the latest step already reached and not yet sent: a remind job that
ran late does not send a burst of stale reminders, and running it twice
sends nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from auditor.campaign.deliver import Delivery, DeliveryError, DryRun, Message
from auditor.campaign.model import Campaign, CampaignError, ItemState
from auditor.campaign.packets import slug
from auditor.campaign.schema import campaign_messages
from auditor.campaign.state import directory, get_campaign, item_states
from auditor.config import Settings
from auditor.report.common import format_time
from auditor.store import Store

ITEMS_LISTED = 10


@dataclass(frozen=True)
class Step:
    kind: str  # reminder | escalation
    days: int
    at: datetime


@dataclass
class Sent:
    reviewer: str
    step: Step
    message: Message
    reference: str


@dataclass
class RemindResult:
    campaign: Campaign
    sent: list[Sent] = field(default_factory=list)
    failed: list[tuple[Message, str]] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # reviewer -> why nothing is sent now
    dry_run: bool = False


def schedule(due: datetime, before: list[int], after: list[int]) -> list[Step]:
    steps = [Step("reminder", d, due - timedelta(days=d)) for d in before]
    steps += [Step("escalation", d, due + timedelta(days=d)) for d in after]
    return sorted(steps, key=lambda s: s.at)


def remind(
    store: Store,
    settings: Settings,
    campaign_id: int,
    *,
    now: datetime,
    delivery: Delivery,
    actor: str = "auditor",
) -> RemindResult:
    """Send what is due now; with a ``DryRun`` delivery nothing is sent or recorded."""
    campaign = get_campaign(store, campaign_id)
    if campaign.status != "open":
        raise CampaignError(f"campaign {campaign_id} is closed; there is nobody to remind")
    section = settings.section("campaigns")
    dry_run = isinstance(delivery, DryRun)
    result = RemindResult(campaign, dry_run=dry_run)
    pending: dict[str, list[ItemState]] = defaultdict(list)
    for state in item_states(store, campaign_id):
        if not state.decided and state.reviewer:  # unassigned items are the owner's (status, owner's page)
            pending[state.reviewer].append(state)
    steps = schedule(campaign.due_at, section["reminder_days_before_due"], section["escalate_days_after_due"])
    reached = [s for s in steps if s.at <= now and (s.kind == "escalation" or now < campaign.due_at)]
    sent_before = _sent(store, campaign_id)
    people = directory(store, campaign_id)
    for reviewer, states in sorted(pending.items()):
        if not reached:
            first = steps[0].at if steps else None
            result.waiting[reviewer] = f"first reminder at {format_time(first)}" if first else "no schedule configured"
            continue
        step = reached[-1]
        if any(s_at >= step.at for s_at in sent_before.get(reviewer, [])):
            result.waiting[reviewer] = f"{step.kind} of {step.days} day(s) already sent"
            continue
        message = _message(campaign, reviewer, states, step, people, section["fallback_reviewer"])
        try:
            reference = delivery.send(message)
        except DeliveryError as exc:
            result.failed.append((message, str(exc)))
            continue
        result.sent.append(Sent(reviewer, step, message, reference))
        if not dry_run:
            _record(store, campaign_id, reviewer, step, message, delivery.channel, reference, now, actor)
    return result


def _sent(store: Store, campaign_id: int) -> dict[str, list[datetime]]:
    """When each reviewer's already-sent steps were scheduled (not when they were sent)."""
    campaign = get_campaign(store, campaign_id)
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(campaign_messages.c.reviewer, campaign_messages.c.kind, campaign_messages.c.step_days).where(
                campaign_messages.c.campaign_id == campaign_id,
                campaign_messages.c.kind.in_(("reminder", "escalation")),
            )
        ).all()
    sent: dict[str, list[datetime]] = defaultdict(list)
    for reviewer, kind, days in rows:
        offset = timedelta(days=days)
        sent[reviewer].append(campaign.due_at - offset if kind == "reminder" else campaign.due_at + offset)
    return sent


def _message(
    campaign: Campaign, reviewer: str, states: list[ItemState], step: Step, people: dict, fallback: str
) -> Message:
    flagged = sum(s.item.flagged for s in states)
    listed = "\n".join(f"  - {s.item.item_id}: {s.item.subject_name}: {s.item.access}" for s in states[:ITEMS_LISTED])
    more = f"\n  ... and {len(states) - ITEMS_LISTED} more" if len(states) > ITEMS_LISTED else ""
    due = format_time(campaign.due_at)
    packet = f"campaign-{campaign.id}-{slug(reviewer)}"
    body = (
        f'Access review "{campaign.name}" (campaign {campaign.id}) is due {due}.\n'
        f"{reviewer} has {len(states)} item(s) without a decision ({flagged} flagged):\n{listed}{more}\n\n"
        f"Fill in the decision column (keep, rightsize, revoke or reassign:EMAIL) of the packet {packet}.xlsx\n"
        "or .csv (rightsize: keep, but narrow the permission set to what is used),\n"
        "give a justification for every flagged item you keep, and return the file to the campaign owner.\n"
        f"The instructions are in {packet}.html.\n"
    )
    name = f"campaign-{campaign.id}-{step.kind}-{step.days}d-{slug(reviewer)}"
    if step.kind == "reminder":
        return Message(
            to=reviewer,
            subject=f'Reminder: access review "{campaign.name}": {len(states)} item(s) due {due}',
            body=body,
            name=name,
        )
    manager = (people.get(reviewer) or {}).get("manager_email")
    recipient = manager or fallback.strip().lower() or reviewer
    why = "their manager" if manager else "no manager in HR; sent to the fallback reviewer"
    return Message(
        to=recipient,
        subject=f'Overdue access review "{campaign.name}": {reviewer} has {len(states)} item(s) pending',
        body=f"Escalation {step.days} day(s) after the due date ({why}).\n\n{body}",
        name=name,
        cc=(reviewer,) if recipient != reviewer else (),
    )


def _record(store, campaign_id, reviewer, step, message, channel, reference, now, actor) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            campaign_messages.insert().values(
                campaign_id=campaign_id,
                reviewer=reviewer,
                recipient=message.to,
                kind=step.kind,
                step_days=step.days,
                sent_at=now,
                channel=channel,
                reference=reference[:1000],
            )
        )
    store.audit(
        f"campaign.{step.kind}",
        f"campaign {campaign_id}",
        {
            "reviewer": reviewer,
            "to": message.to,
            "cc": list(message.cc),
            "step_days": step.days,
            "channel": channel,
            "reference": reference,
            "subject": message.subject,
        },
        actor=actor,
    )
