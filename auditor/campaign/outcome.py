"""From final decisions to Revocations: exactly the items decided "revoke", and nothing kept.

A revocation can take away more than its own item (a group membership
removes every path through the group). When that would remove access a
reviewer decided to keep in the same campaign, the revocation is withheld
and reported as a conflict for a person to resolve: a review never removes
access someone confirmed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from auditor.campaign.model import Decision, ItemState
from auditor.campaign.schema import iso
from auditor.model import Revocation


@dataclass(frozen=True)
class Conflict:
    item_id: str
    kept_items: list[str]
    reason: str


@dataclass
class Outcome:
    revocations: list[Revocation] = field(default_factory=list)
    revoked_items: list[str] = field(default_factory=list)  # decided revoke and turned into revocations
    conflicts: list[Conflict] = field(default_factory=list)
    nothing_to_revoke: list[str] = field(default_factory=list)  # decided revoke, but the access has no credential


def final_decision(state: ItemState) -> str | None:
    return state.decision.decision if state.decided else None


def compute_outcome(campaign_id: int, states: list[ItemState]) -> Outcome:
    outcome = Outcome()
    kept_paths: dict[str, str] = {}
    for state in states:
        if final_decision(state) == Decision.KEEP:
            for path in state.item.paths:
                kept_paths[path] = state.item.item_id
    by_target: dict[tuple[str, str], list[ItemState]] = {}
    specs = {}
    for state in states:
        if final_decision(state) != Decision.REVOKE:
            continue
        item = state.item
        kept = sorted({kept_paths[p] for p in item.removes_paths if p in kept_paths} - {item.item_id})
        if kept:
            outcome.conflicts.append(
                Conflict(item.item_id, kept, f"revoking it would also remove access kept in {', '.join(kept)}")
            )
            continue
        if not item.revokes:
            outcome.nothing_to_revoke.append(item.item_id)
            continue
        outcome.revoked_items.append(item.item_id)
        for spec in item.revokes:
            key = (spec.kind, json.dumps(spec.target, sort_keys=True))
            by_target.setdefault(key, []).append(state)
            specs[key] = spec
    for key in sorted(by_target):
        spec, deciders = specs[key], by_target[key]
        first = deciders[0]
        outcome.revocations.append(
            Revocation(
                kind=spec.kind,
                target=dict(spec.target),
                reason={
                    "campaign_id": campaign_id,
                    "item_id": first.item.item_id,
                    "item_ids": [s.item.item_id for s in deciders],
                    "decision": "revoke",
                    "reviewer": first.decision.reviewer,
                    "decided_at": iso(first.decision.decided_at),
                    "justification": first.decision.justification,
                    "source": first.decision.source,
                    "access": first.item.access,
                },
                principal=first.item.principal,
                account_id=spec.target.get("account_id") or first.item.account_id,
            )
        )
    return outcome
