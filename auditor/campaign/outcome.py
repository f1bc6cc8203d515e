"""From final decisions to Revocations: exactly the items decided "revoke", and nothing kept.

An item decided "rightsize" is kept (it never becomes a revocation); the
outcome lists each (permission set, account) a reviewer asked to right-size,
with the command that plans it. The plan itself is made on its own
(``auditor remediate plan --rightsize``): it needs the observed window of
use and the right-sizing role, which a campaign close has neither of.

A revocation can take away more than its own item (a group membership
removes every path through the group). When that would remove access a
reviewer decided to keep in the same campaign, the revocation is withheld
and reported as a conflict for a person to resolve: a review never removes
access someone confirmed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from auditor.campaign.model import Decision, ItemState, kept
from auditor.campaign.schema import iso
from auditor.model import Revocation


@dataclass(frozen=True)
class Conflict:
    item_id: str
    kept_items: list[str]
    reason: str


@dataclass(frozen=True)
class Rightsizing:
    """One (permission set, account) whose access reviewers kept but asked to narrow to what is used."""

    permission_set: str
    permission_set_arn: str
    account_id: str
    account_name: str
    item_ids: list[str]
    requested_by: list[str]  # the reviewers who decided "rightsize", sorted
    requests: list[dict]  # per item: item_id, subject, reviewer, decided_at, justification

    @property
    def command(self) -> str:
        """The command that plans it: the permission set's one inline policy, for every account it is in."""
        return plan_command(self.permission_set)

    def as_dict(self) -> dict:
        return {
            "permission_set": self.permission_set,
            "permission_set_arn": self.permission_set_arn,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "item_ids": self.item_ids,
            "requested_by": self.requested_by,
            "requests": self.requests,
            "command": self.command,
        }


@dataclass
class Outcome:
    revocations: list[Revocation] = field(default_factory=list)
    revoked_items: list[str] = field(default_factory=list)  # decided revoke and turned into revocations
    conflicts: list[Conflict] = field(default_factory=list)
    nothing_to_revoke: list[str] = field(default_factory=list)  # decided revoke, but the access has no credential
    rightsizings: list[Rightsizing] = field(default_factory=list)  # kept, to be right-sized (planned separately)


def final_decision(state: ItemState) -> str | None:
    return state.decision.decision if state.decided else None


def plan_command(permission_set: str) -> str:
    """``auditor remediate plan --rightsize NAME --out rightsize-NAME.json``, quoted for a shell."""
    out = "rightsize-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", permission_set).strip("_") or "permission-set") + ".json"
    return f"auditor remediate plan --rightsize {shlex.quote(permission_set)} --out {shlex.quote(out)}"


def requested_rightsizings(states: list[ItemState]) -> list[Rightsizing]:
    """Each (permission set, account) of the items currently decided "rightsize", by permission set then account."""
    grouped: dict[tuple[str, str], list[ItemState]] = {}
    for state in states:
        if final_decision(state) == Decision.RIGHTSIZE:
            item = state.item
            grouped.setdefault((item.permission_set or "", item.account_id or ""), []).append(state)
    found = []
    for (permission_set, account_id), chosen in sorted(grouped.items()):
        first = chosen[0].item
        found.append(
            Rightsizing(
                permission_set=permission_set,
                permission_set_arn=first.permission_set_arn or "",
                account_id=account_id,
                account_name=first.account_name or "",
                item_ids=[s.item.item_id for s in chosen],
                requested_by=sorted({s.decision.reviewer for s in chosen}),
                requests=[
                    {
                        "item_id": s.item.item_id,
                        "subject": s.item.subject_email or s.item.subject_name,
                        "reviewer": s.decision.reviewer,
                        "decided_at": iso(s.decision.decided_at),
                        "justification": s.decision.justification,
                    }
                    for s in chosen
                ],
            )
        )
    return found


def compute_outcome(campaign_id: int, states: list[ItemState]) -> Outcome:
    outcome = Outcome(rightsizings=requested_rightsizings(states))
    kept_paths: dict[str, str] = {}
    for state in states:
        if kept(final_decision(state)):
            for path in state.item.paths:
                kept_paths[path] = state.item.item_id
    by_target: dict[tuple[str, str], list[ItemState]] = {}
    specs = {}
    for state in states:
        if final_decision(state) != Decision.REVOKE:
            continue
        item = state.item
        kept_items = sorted({kept_paths[p] for p in item.removes_paths if p in kept_paths} - {item.item_id})
        if kept_items:
            outcome.conflicts.append(
                Conflict(
                    item.item_id, kept_items, f"revoking it would also remove access kept in {', '.join(kept_items)}"
                )
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
