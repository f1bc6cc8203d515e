"""Closing a campaign: settle undecided items by policy, write the evidence pack, freeze it.

``--undecided revoke`` revokes what nobody decided; ``keep_flagged`` keeps it
and marks each such item in the evidence as settled by policy (an exception
an auditor sees); ``extend:DAYS`` moves the due date instead of closing.
The pack is written before the campaign is marked closed, so a failed
write leaves the campaign open to close again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.campaign.evidence import manifest_digest, write_evidence
from auditor.campaign.model import CampaignError, Decision, DecisionRecord, ItemState, kept
from auditor.campaign.outcome import Conflict, Rightsizing, compute_outcome
from auditor.campaign.schema import campaign_decisions, campaigns, iso
from auditor.campaign.state import get_campaign, item_states
from auditor.model import Revocation
from auditor.store import Store
from auditor.store.types import canonical

POLICIES = ("revoke", "keep_flagged")


@dataclass
class CloseResult:
    campaign_id: int
    closed: bool
    due_at: datetime | None = None  # the new due date when extended
    evidence_dir: Path | None = None
    manifest_sha256: str | None = None
    revocations: list[Revocation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    rightsizings: list[Rightsizing] = field(default_factory=list)  # kept, to be planned with remediate --rightsize
    settled_by_policy: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def parse_policy(text: str | None) -> tuple[str | None, int | None]:
    """None | 'revoke' | 'keep_flagged' | 'extend:DAYS' -> (policy, days)."""
    if text is None:
        return None, None
    value = text.strip().lower()
    if value in POLICIES:
        return value, None
    if value.startswith("extend:"):
        days = value.split(":", 1)[1]
        if days.isdigit() and int(days) > 0:
            return "extend", int(days)
    raise CampaignError(f"--undecided {text!r}: expected revoke, keep_flagged or extend:DAYS (DAYS > 0)")


def close_campaign(
    store: Store,
    campaign_id: int,
    *,
    now: datetime,
    out_dir: Path,
    undecided: str | None = None,
    actor: str = "auditor",
) -> CloseResult:
    campaign = get_campaign(store, campaign_id)
    if campaign.status != "open":
        raise CampaignError(f"campaign {campaign_id} was already closed at {iso(campaign.closed_at)}")
    policy, days = parse_policy(undecided)
    seen = _last_decision(store, campaign_id)
    states = item_states(store, campaign_id)
    open_items = [s for s in states if not s.decided]
    if policy == "extend":
        return _extend(store, campaign, days, now, len(open_items), actor)
    if open_items and policy is None:
        raise CampaignError(
            f"{len(open_items)} item(s) of campaign {campaign_id} are undecided; "
            "choose --undecided revoke, keep_flagged or extend:DAYS"
        )
    settled = [_settle(state, policy, now) for state in open_items]
    by_id = {s.item.item_id: s for s in settled}
    final = [by_id.get(s.item.item_id, s) for s in states]
    outcome = compute_outcome(campaign_id, final)
    closed = replace(campaign, status="closed", closed_at=now, undecided_policy=policy if open_items else None)
    manifest = write_evidence(closed, final, outcome, Path(out_dir), now=now, audit_head=store.audit_head())
    digest = manifest_digest(manifest.parent)
    with store.engine.begin() as conn:
        status = conn.execute(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)).scalar_one()
        if status != "open":
            raise CampaignError(f"campaign {campaign_id} was closed meanwhile")
        if _last_decision(store, campaign_id, conn) != seen:
            raise CampaignError(f"decisions for campaign {campaign_id} arrived while it was closing; close it again")
        for state in settled:
            record = state.decision
            decision_id = conn.execute(
                campaign_decisions.insert().values(
                    campaign_id=campaign_id,
                    item_id=state.item.item_id,
                    decision=record.decision,
                    justification=record.justification,
                    reviewer=record.reviewer,
                    decided_at=record.decided_at,
                    source=record.source,
                )
            ).inserted_primary_key[0]
            store.audit_in(  # the settled decision and its entry commit together, as an imported one does
                conn,
                "campaign.decision",
                f"campaign {campaign_id} item {state.item.item_id}",
                {
                    "decision_id": decision_id,
                    "decided_at": canonical(record.decided_at),
                    "decision": record.decision,
                    "reassign_to": None,
                    "justification": record.justification,
                    "reviewer": record.reviewer,
                    "source": record.source,
                },
                actor=actor,
            )
        conn.execute(
            campaigns.update()
            .where(campaigns.c.id == campaign_id)
            .values(status="closed", closed_at=now, undecided_policy=closed.undecided_policy)
        )
    counts = {
        "items": len(final),
        "keep": sum(kept(s.decision.decision) for s in final),  # right-sized access is kept access
        "rightsize": sum(s.decision.decision == Decision.RIGHTSIZE for s in final),
        "revoke": sum(s.decision.decision == Decision.REVOKE for s in final),
        "settled_by_policy": len(settled),
        "revocations": len(outcome.revocations),
        "conflicts": len(outcome.conflicts),
        "rightsizings": len(outcome.rightsizings),
    }
    store.audit(
        "campaign.closed",
        f"campaign {campaign_id}",
        {
            "undecided_policy": closed.undecided_policy,
            "counts": counts,
            "revoked_items": outcome.revoked_items,
            "conflicts": [c.item_id for c in outcome.conflicts],
            "rightsizings": [
                {"permission_set": r.permission_set, "account_id": r.account_id, "item_ids": r.item_ids}
                for r in outcome.rightsizings
            ],
            "evidence_dir": str(Path(out_dir).resolve()),
            "manifest_sha256": digest,
        },
        actor=actor,
    )
    return CloseResult(
        campaign_id,
        True,
        evidence_dir=Path(out_dir),
        manifest_sha256=digest,
        revocations=outcome.revocations,
        conflicts=outcome.conflicts,
        rightsizings=outcome.rightsizings,
        settled_by_policy=len(settled),
        counts=counts,
    )


def _last_decision(store: Store, campaign_id: int, conn=None) -> int | None:
    """The newest decision row: a close must settle exactly the decisions its evidence shows."""
    query = sa.select(sa.func.max(campaign_decisions.c.id)).where(campaign_decisions.c.campaign_id == campaign_id)
    if conn is not None:
        return conn.execute(query).scalar()
    with store.engine.connect() as own:
        return own.execute(query).scalar()


def _settle(state: ItemState, policy: str, now: datetime) -> ItemState:
    decision = Decision.REVOKE.value if policy == "revoke" else Decision.KEEP.value
    why = "revoked" if policy == "revoke" else "kept and flagged for follow-up"
    record = DecisionRecord(
        item_id=state.item.item_id,
        decision=decision,
        reassign_to=None,
        justification=f"undecided at close: {why} (policy {policy})",
        reviewer=state.reviewer,
        decided_at=now,
        source=f"policy:{policy}",
    )
    return ItemState(item=state.item, reviewer=state.reviewer, decision=record, history=[*state.history, record])


def _extend(store: Store, campaign, days: int, now: datetime, undecided: int, actor: str) -> CloseResult:
    new_due = max(campaign.due_at, now) + timedelta(days=days)
    with store.engine.begin() as conn:
        conn.execute(campaigns.update().where(campaigns.c.id == campaign.id).values(due_at=new_due))
    store.audit(
        "campaign.extended",
        f"campaign {campaign.id}",
        {"from": iso(campaign.due_at), "to": iso(new_due), "days": days, "undecided": undecided},
        actor=actor,
    )
    return CloseResult(campaign.id, False, due_at=new_due, counts={"undecided": undecided})


def revocations(store: Store, campaign_id: int) -> list[Revocation]:
    """The revocations a closed campaign decided: exactly its items decided "revoke", conflicts withheld."""
    campaign = get_campaign(store, campaign_id)
    if campaign.status != "closed":
        raise CampaignError(f"campaign {campaign_id} is still open; close it before planning its revocations")
    return compute_outcome(campaign_id, item_states(store, campaign_id)).revocations
