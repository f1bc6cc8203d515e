"""Reading and writing campaign rows: one place that knows the tables' shape."""

from __future__ import annotations

import json
from collections import defaultdict

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor.campaign.model import Campaign, CampaignError, DecisionRecord, Item, ItemState
from auditor.campaign.schema import (
    campaign_decisions,
    campaign_items,
    campaign_people,
    campaigns,
)
from auditor.store import Store, campaign_key_context
from auditor.store.keys import KeyFileError

_item_decoder = msgspec.json.Decoder(Item)


def _campaign(row) -> Campaign:
    return Campaign(
        id=row.id,
        name=row.name,
        kind=row.kind,
        status=row.status,
        created_at=row.created_at,
        created_by=row.created_by,
        due_at=row.due_at,
        reviewer_mode=row.reviewer_mode,
        scopes=json.loads(row.scopes),
        privileged_only=bool(row.privileged_only),
        run_dir=row.run_dir,
        snapshot_as_of=row.snapshot_as_of,
        closed_at=row.closed_at,
        undecided_policy=row.undecided_policy,
        origin=json.loads(row.origin),
        owner=row.owner or "",
    )


def get_campaign(store: Store, campaign_id: int) -> Campaign:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise CampaignError(f"no campaign {campaign_id} (see `auditor campaign list`)")
    return _campaign(row)


def all_campaigns(store: Store) -> list[Campaign]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(campaigns).order_by(campaigns.c.id)).all()
    return [_campaign(row) for row in rows]


def signing_key(store: Store, campaign_id: int) -> bytes:
    """The campaign's packet-signing key, unsealed with the store's key ring (the database holds it sealed)."""
    with store.engine.connect() as conn:
        sealed = conn.execute(sa.select(campaigns.c.signing_key).where(campaigns.c.id == campaign_id)).scalar_one()
    if not sealed:
        raise CampaignError(f"campaign {campaign_id} has no signing key in the state store")
    try:
        return store.keyring.unseal(sealed, campaign_key_context(campaign_id))
    except KeyFileError as exc:
        raise CampaignError(f"campaign {campaign_id}'s signing key cannot be opened: {exc}") from exc


def seal_signing_key(store: Store, conn: Connection, campaign_id: int, key: bytes) -> None:
    """Keep a new campaign's signing key, sealed, inside the transaction that creates the campaign."""
    sealed = store.keyring.seal(key, campaign_key_context(campaign_id))
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(signing_key=sealed))


def decision_record(row) -> DecisionRecord:
    return DecisionRecord(
        item_id=row.item_id,
        decision=row.decision,
        reassign_to=row.reassign_to,
        justification=row.justification,
        reviewer=row.reviewer,
        decided_at=row.decided_at,
        source=row.source,
    )


def item_states(
    store: Store, campaign_id: int, conn: Connection | None = None, *, reviewer: str | None = None
) -> list[ItemState]:
    """Every item in packet order (or only ``reviewer``'s), with its current reviewer, latest decision and history."""
    if conn is None:
        with store.engine.connect() as own:
            return item_states(store, campaign_id, own, reviewer=reviewer)
    query = sa.select(campaign_items).where(campaign_items.c.campaign_id == campaign_id)
    if reviewer is not None:
        query = query.where(campaign_items.c.reviewer == reviewer)
    rows = conn.execute(query.order_by(campaign_items.c.position)).all()
    history: dict[str, list[DecisionRecord]] = defaultdict(list)
    for row in conn.execute(
        sa.select(campaign_decisions)
        .where(campaign_decisions.c.campaign_id == campaign_id)
        .order_by(campaign_decisions.c.id)
    ):
        history[row.item_id].append(decision_record(row))
    states = []
    for row in rows:
        past = history.get(row.item_id, [])
        states.append(
            ItemState(
                item=_item_decoder.decode(row.body),
                reviewer=row.reviewer,
                decision=past[-1] if past else None,
                history=past,
            )
        )
    return states


def directory(store: Store, campaign_id: int) -> dict[str, dict]:
    """The HR people frozen with the campaign: email -> display_name, manager_email, status."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(campaign_people).where(campaign_people.c.campaign_id == campaign_id)).all()
    return {
        row.email: {"display_name": row.display_name, "manager_email": row.manager_email, "status": row.status}
        for row in rows
    }
