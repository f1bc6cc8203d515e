"""The offboarding workflow's steps, the same wherever it runs: `auditor event`, the web endpoint, Step Functions.

After the leaver's check (``intake``), in this order:

1. ``begin``: plan the removal (recorded in the store) and keep, with the
   event, the retention record of what the plan removes;
2. ``retain``: write the retention copy (S3 with a retention period, or a directory);
3. ``request_approval`` or, when [events] immediate_suspension is on, straight to
4. ``apply``: apply the recorded plan and verify it;
5. ``notify``: tell the manager what was done or awaits approval, and close the event.

Step Functions runs (2) beside (3)-(4), as the state machine in
deploy/offboarding.yaml says; here they run one after the other. Each step
reads what the earlier ones left in the event's row (``lifecycle_events``),
so a step re-run after a failure picks up where it was, and each writes
its entry in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from auditor.aws import AwsContext, remediation_context
from auditor.config import Settings
from auditor.events.check import CheckResult
from auditor.events.offboard import (
    apply_offboarding,
    keep_retention,
    manager_of,
    notify_manager,
    plan_offboarding,
    retention_record,
)
from auditor.events.schema import lifecycle_events
from auditor.remediate import Clients, recorded_plan
from auditor.store import Store

STEPS = ("check", "retain", "request_approval", "apply", "notify")


class WorkflowError(LookupError):
    """A step for an event that has no offboarding in this store (or not at the stage the step needs)."""


@dataclass
class Services:
    """What acting on an event needs besides the store and settings (injected in tests and the Lambda)."""

    context: AwsContext | None = None  # reads (the check)
    clients: Clients | None = None  # changes (remediation)
    hr_feed: Path | None = None
    out_dir: Path | None = None  # where each event's check writes findings.json and its plan
    s3_client: Any = None  # the retention bucket's
    ses_client: Any = None
    actor: str = "auditor:events"

    def remediation(self, settings: Settings) -> Clients:
        if self.clients is None:
            self.clients = Clients(remediation_context(settings))
        return self.clients


def state(store: Store, event_id: str) -> dict:
    """The offboarding's state as the steps left it."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(lifecycle_events.c.outcome).where(lifecycle_events.c.event_id == event_id)).first()
    if row is None:
        raise WorkflowError(f"no event {event_id!r} in this state store")
    offboarding = (json.loads(row.outcome) if row.outcome else {}).get("offboarding")
    if offboarding is None:
        raise WorkflowError(f"event {event_id!r} has no offboarding (not a leaver, or its check did not plan one)")
    return offboarding


def _save(store: Store, event_id: str, offboarding: dict, action: str, details: dict, actor: str) -> dict:
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(lifecycle_events.c.outcome).where(lifecycle_events.c.event_id == event_id)).one()
        outcome = json.loads(row.outcome) if row.outcome else {}
        outcome["offboarding"] = offboarding
        conn.execute(
            lifecycle_events.update()
            .where(lifecycle_events.c.event_id == event_id)
            .values(outcome=json.dumps(outcome, default=str))
        )
        store.audit_in(conn, action, f"event {event_id}", details, actor=actor)
    return offboarding


def begin(
    event_id: str,
    check: CheckResult,
    *,
    manager_hint: str | None,
    store: Store,
    settings: Settings,
    services: Services,
    now: datetime,
    out: Path | None,
) -> dict:
    """Plan the removal of the leaver's access (recorded) and keep the retention record with the event."""
    plan_file = out / "offboarding-plan.json" if out else None
    plan = plan_offboarding(
        check,
        event_id,
        store=store,
        settings=settings,
        clients=services.remediation(settings),
        now=now,
        actor=services.actor,
        out=plan_file,
    )
    name = check.person.display_name if check.person else (check.user.user_name if check.user else event_id)
    offboarding = {
        "status": "planned" if plan.actions else "nothing_to_do",
        "name": name,
        "plan_sha256": plan.sha256 if plan.actions else None,
        "plan_file": str(plan_file) if plan_file and plan.actions else None,
        "actions": [a.description for a in plan.actions],
        "excluded": [f"{e.kind} {e.target}: {e.why}" for e in plan.excluded],
        "breaker": "; ".join(plan.breaker.get("reasons", [])) or None,
        "immediate": bool(settings.get("events", "immediate_suspension")),
        "manager": manager_of(check, manager_hint),
        "retention_record": retention_record(check, plan, event_id, now) if plan.actions else None,
    }
    if plan.breaker.get("tripped"):
        offboarding["status"] = "refused"
    details = {k: offboarding[k] for k in ("status", "plan_sha256", "immediate", "breaker")}
    return _save(store, event_id, offboarding, "event.offboarding.planned", details, services.actor)


def retain(event_id: str, *, store: Store, settings: Settings, services: Services, now: datetime) -> dict:
    """Write the retention copy of what the plan removes (once: a re-run finds it written)."""
    offboarding = state(store, event_id)
    if offboarding.get("retention") or not offboarding.get("retention_record"):
        return offboarding
    where = keep_retention(offboarding["retention_record"], settings, now=now, s3_client=services.s3_client)
    offboarding["retention"] = where
    details = {"where": where, "plan_sha256": offboarding["plan_sha256"]}
    return _save(store, event_id, offboarding, "event.retention.kept", details, services.actor)


def request_approval(event_id: str, *, store: Store, services: Services, task_token: str | None = None) -> dict:
    """The plan waits for a person (with the Step Functions task token to resume, when there is one)."""
    offboarding = state(store, event_id)
    if offboarding["status"] != "planned":
        return offboarding
    offboarding["status"] = "awaiting_approval"
    offboarding["task_token"] = task_token
    details = {"plan_sha256": offboarding["plan_sha256"], "plan_file": offboarding.get("plan_file")}
    return _save(store, event_id, offboarding, "event.offboarding.awaiting_approval", details, services.actor)


def apply(
    event_id: str, *, store: Store, settings: Settings, services: Services, approved_by: str | None = None
) -> dict:
    """Apply the recorded plan and verify it (resuming its run when a step is repeated)."""
    offboarding = state(store, event_id)
    if offboarding["status"] not in ("planned", "awaiting_approval", "incomplete"):
        return offboarding
    recorded = recorded_plan(store, offboarding["plan_sha256"])
    if recorded is None:
        raise WorkflowError(f"event {event_id!r}: its plan {offboarding['plan_sha256']} is not recorded in this store")
    run_id, counts, verified = apply_offboarding(
        recorded.plan, store=store, settings=settings, clients=services.remediation(settings), actor=services.actor
    )
    offboarding.update(remediation_run_id=run_id, applied=counts, verified=verified, approved_by=approved_by)
    offboarding["status"] = "applied" if verified and "failed" not in counts else "incomplete"
    details = {"remediation_run": run_id, "applied": counts, "verified": verified, "approved_by": approved_by}
    return _save(store, event_id, offboarding, "event.offboarding.applied", details, services.actor)


def deny(event_id: str, *, store: Store, services: Services, reason: str | None = None) -> dict:
    """An approver refused the plan: nothing is applied, and the manager hears so."""
    offboarding = state(store, event_id)
    if offboarding["status"] not in ("planned", "awaiting_approval"):
        return offboarding
    offboarding.update(status="denied", denied_because=reason)
    details = {"plan_sha256": offboarding["plan_sha256"], "reason": reason}
    return _save(store, event_id, offboarding, "event.offboarding.denied", details, services.actor)


def notify(event_id: str, *, store: Store, settings: Settings, services: Services, now: datetime) -> dict:
    """Tell the manager what was done (or awaits approval) and where the retention copy is."""
    offboarding = state(store, event_id)
    if offboarding.get("manager_notice") or not offboarding.get("manager"):
        return offboarding
    offboarding["manager_notice"] = notify_manager(
        offboarding["manager"], offboarding, settings, now=now, ses_client=services.ses_client
    )
    details = {
        "manager": offboarding["manager"],
        "message": offboarding["manager_notice"],
        "status": offboarding["status"],
    }
    return _save(store, event_id, offboarding, "event.manager.notified", details, services.actor)


def run_all(
    event_id: str,
    check: CheckResult,
    *,
    manager_hint: str | None,
    store: Store,
    settings: Settings,
    services: Services,
    now: datetime,
    out: Path | None,
) -> dict:
    """Every step in order, in this process (what the state machine does with retain in parallel)."""
    offboarding = begin(
        event_id, check, manager_hint=manager_hint, store=store, settings=settings, services=services, now=now, out=out
    )
    if offboarding["status"] == "planned":
        retain(event_id, store=store, settings=settings, services=services, now=now)
        if offboarding["immediate"]:
            apply(event_id, store=store, settings=settings, services=services)
        else:
            request_approval(event_id, store=store, services=services)
    return notify(event_id, store=store, settings=settings, services=services, now=now)
