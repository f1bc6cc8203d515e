"""Decisions made in the browser: one item at a time, saved at once, the signed-in person as actor.

The same checks as an imported packet (a flagged item kept needs a
justification, nobody reviews their own access, a closed campaign takes no
decision), and the decision and its audit entry commit in one transaction,
so `audit verify` ties every decision row to who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from auditor.campaign.importer import decision_problem
from auditor.campaign.model import CampaignError, Decision, ItemState, kept, looks_like_email
from auditor.campaign.schema import campaign_decisions, campaign_items, campaign_people, campaigns, iso
from auditor.campaign.state import item_states
from auditor.store import Store
from auditor.store.types import canonical as canonical_time

JUSTIFICATION_LIMIT = 2000


@dataclass(frozen=True)
class Choice:
    """One decision as a form sends it."""

    item_id: str
    decision: str  # keep | rightsize | revoke | reassign
    justification: str = ""
    reassign_to: str | None = None


def decide(
    store: Store,
    campaign_id: int,
    choices: list[Choice],
    *,
    reviewer: str,
    now: datetime,
    source: str,
) -> list[str]:
    """Record ``reviewer``'s choices on their own items, all or none; returns the item ids recorded.

    Raises CampaignError naming the item when one cannot be accepted (nothing is recorded then).
    """
    reviewer = reviewer.strip().lower()
    recorded = []
    with store.engine.begin() as conn:
        states = _lock(store, conn, campaign_id)
        known = _known(conn, campaign_id)
        checked = []
        for choice in choices:
            state = states.get(choice.item_id)
            if state is None or state.reviewer != reviewer:
                raise CampaignError(f"item {choice.item_id} is not assigned to {reviewer}")
            checked.append((state, _checked(choice, state, known)))
        for state, choice in checked:
            _record(store, conn, campaign_id, state, choice, decided_by=reviewer, now=now, source=source)
            recorded.append(state.item.item_id)
    return recorded


def assign(
    store: Store, campaign_id: int, item_ids: list[str], to: str, *, owner: str, now: datetime, source: str
) -> list[str]:
    """The campaign owner gives items (unassigned, or anyone's undecided ones) to a reviewer."""
    target = to.strip().lower()
    if not looks_like_email(target):
        raise CampaignError(f"assign needs an email address, got {to!r}")
    with store.engine.begin() as conn:
        states = _lock(store, conn, campaign_id)
        chosen = []
        for item_id in item_ids:
            state = states.get(item_id)
            if state is None:
                raise CampaignError(f"no item {item_id} in campaign {campaign_id}")
            if state.decided:
                raise CampaignError(f"item {item_id} is already decided ({state.decision.decision})")
            problem = decision_problem(state, Decision.REASSIGN.value, target, "")
            if problem:
                raise CampaignError(f"item {item_id}: {problem}")
            chosen.append(state)
        for state in chosen:
            choice = Choice(state.item.item_id, Decision.REASSIGN.value, "assigned by the campaign owner", target)
            _record(store, conn, campaign_id, state, choice, decided_by=owner, now=now, source=source)
    return [s.item.item_id for s in chosen]


def _lock(store: Store, conn, campaign_id: int) -> dict[str, ItemState]:
    """Decisions on one campaign queue (as imports do) and a closed campaign takes none."""
    row = conn.execute(
        sa.select(campaigns.c.status, campaigns.c.closed_at).where(campaigns.c.id == campaign_id).with_for_update()
    ).first()
    if row is None:
        raise CampaignError(f"no campaign {campaign_id}")
    if row.status != "open":
        raise CampaignError(
            f"campaign {campaign_id} was closed at {iso(row.closed_at)}; decisions are no longer accepted"
        )
    return {s.item.item_id: s for s in item_states(store, campaign_id, conn)}


def _known(conn, campaign_id: int) -> tuple[set[str], set[str]]:
    """Who an item may be reassigned to: people HR knows, or addresses at the organisation's domains in HR."""
    emails = set(
        conn.execute(sa.select(campaign_people.c.email).where(campaign_people.c.campaign_id == campaign_id)).scalars()
    )
    return emails, {e.rpartition("@")[2] for e in emails}


def _checked(choice: Choice, state: ItemState, known: tuple[set[str], set[str]]) -> Choice:
    decision = choice.decision.strip().lower()
    if decision not in (d.value for d in Decision):
        raise CampaignError(f"item {choice.item_id}: choose keep, rightsize, revoke or reassign")
    justification = " ".join(choice.justification.split())[:JUSTIFICATION_LIMIT]
    target = None
    if decision == Decision.REASSIGN:
        target = (choice.reassign_to or "").strip().lower()
        if not looks_like_email(target):
            raise CampaignError(f"item {choice.item_id}: reassign needs the email address of who should decide")
        emails, domains = known
        if emails and target not in emails and target.rpartition("@")[2] not in domains:
            raise CampaignError(
                f"item {choice.item_id}: {target} is not a person HR knows nor at the organisation's domains "
                f"({', '.join(sorted(domains))})"
            )
    if kept(decision) and state.item.admin and not justification:
        raise CampaignError(f"item {choice.item_id}: keeping administrator access needs a justification")
    problem = decision_problem(state, decision, target, justification)
    if problem:
        raise CampaignError(f"item {choice.item_id}: {problem}")
    return Choice(choice.item_id, decision, justification, target)


def _record(store, conn, campaign_id, state: ItemState, choice: Choice, *, decided_by, now, source) -> None:
    previous = state.decision
    decision_id = conn.execute(
        campaign_decisions.insert().values(
            campaign_id=campaign_id,
            item_id=state.item.item_id,
            decision=choice.decision,
            reassign_to=choice.reassign_to,
            justification=choice.justification,
            reviewer=decided_by,
            decided_at=now,
            source=source,
        )
    ).inserted_primary_key[0]
    if choice.decision == Decision.REASSIGN:
        conn.execute(
            campaign_items.update()
            .where(campaign_items.c.campaign_id == campaign_id, campaign_items.c.item_id == state.item.item_id)
            .values(reviewer=choice.reassign_to)
        )
    store.audit_in(
        conn,
        "campaign.decision",
        f"campaign {campaign_id} item {state.item.item_id}",
        {
            "decision_id": decision_id,  # the row it records: `audit verify` checks the two agree
            "decided_at": canonical_time(now),
            "decision": choice.decision,
            "reassign_to": choice.reassign_to,
            "justification": choice.justification,
            "reviewer": decided_by,
            "assigned_to": state.reviewer or None,  # whose item it was ("" : unassigned)
            "access": state.item.access,
            "source": source,
            "replaces": None
            if previous is None
            else {
                "decision": previous.decision,
                "reassign_to": previous.reassign_to,
                "justification": previous.justification,
                "decided_at": iso(previous.decided_at),
            },
        },
        actor=decided_by,
    )
