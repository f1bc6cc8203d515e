"""The plans the state store recorded when `remediate plan` made them: the only plans apply executes.

A plan file's SHA-256 is an unkeyed hash anyone can recompute, so it proves
nothing about who wrote the file. What proves a plan is ours is that the
store recorded its canonical hash and content at plan time; apply looks the
file's hash up here and executes the recorded content, aged from the
recorded time. Recording refuses a plan whose actions do not all trace to a
recorded decision or finding (``trace``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from auditor.clock import Clock
from auditor.remediate.errors import PlanError, Refused
from auditor.remediate.plan import Plan, digest, dumps, parse_plan
from auditor.remediate.schema import remediation_plans
from auditor.remediate.trace import untraced
from auditor.store import Store


@dataclass(frozen=True)
class RecordedPlan:
    sha256: str
    recorded_at: datetime
    recorded_by: str
    plan: Plan


def record_plan(store: Store, plan: Plan, *, actor: str, clock: Clock | None = None) -> RecordedPlan:
    """Record ``plan`` (idempotent for the same content); raises ``Refused`` when an action traces to nothing."""
    if digest(plan) != plan.sha256:
        raise PlanError("the plan's SHA-256 does not match its content; it cannot be recorded")
    check_traced(store, plan)
    existing = recorded_plan(store, plan.sha256)
    if existing is not None:
        return existing
    at = (clock or store.clock).now()
    with store.engine.begin() as conn:
        conn.execute(
            remediation_plans.insert().values(
                sha256=plan.sha256, recorded_at=at, recorded_by=actor, plan=dumps(plan).decode()
            )
        )
        store.audit_in(
            conn,
            "remediate.plan.recorded",
            f"remediation plan {plan.sha256}",
            {
                "actions": [{"id": a.id, "kind": a.kind, "target": a.target} for a in plan.actions],
                "source": plan.source,
                "excluded": len(plan.excluded),
            },
            actor=actor,
        )
    return RecordedPlan(plan.sha256, at, actor, plan)


def recorded_plan(store: Store, sha256: str) -> RecordedPlan | None:
    """The plan recorded under ``sha256``; None when the store never recorded it."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(remediation_plans).where(remediation_plans.c.sha256 == sha256)).first()
    if row is None:
        return None
    try:
        plan = parse_plan(row.plan.encode(), f"recorded plan {sha256}")
    except PlanError as exc:
        raise Refused(f"the recorded plan {sha256} is unreadable or was altered in the store: {exc}") from exc
    if plan.sha256 != sha256:
        raise Refused(f"the recorded plan {sha256} holds another plan ({plan.sha256}): the store was altered")
    return RecordedPlan(sha256, row.recorded_at, row.recorded_by, plan)


def require_recorded(store: Store, plan: Plan) -> RecordedPlan:
    """The recorded plan with ``plan``'s hash, or ``Refused``: a plan nobody recorded is never applied."""
    recorded = recorded_plan(store, plan.sha256)
    if recorded is None:
        raise Refused(
            f"this plan (sha256 {plan.sha256}) was not recorded in this state store when it was made: only a plan "
            "written by `auditor remediate plan` against this store is applied (an edited or re-hashed file is a "
            "different plan); make a new plan"
        )
    return recorded


def check_traced(store: Store, plan: Plan) -> None:
    """``Refused`` naming every action that traces to no recorded campaign decision or finding."""
    missing = untraced(store, plan)
    if missing:
        raise Refused(
            "these actions trace to no recorded campaign decision or finding: " + "; ".join(missing) + "; make a new "
            "plan from a closed campaign or a stale-access policy"
        )
