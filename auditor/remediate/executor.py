"""The one place that changes AWS: apply a plan, roll a run back. Dry-run lives here.

Before any change, a plan must pass every check: the state store recorded
it when it was made (the recorded content is what runs), its age from the
recorded time, every action tracing to a recorded decision or finding, the
tool's own identities and the protected and break-glass names (in the plan
and read live from AWS), and the rolling circuit breaker. Descriptions are
rebuilt from each target. Then each action re-reads its target: a target that
drifted from the planned pre-state is skipped and reported; otherwise the
pre-state is journaled, the change is sent, and a fresh read proves it.
Runs are keyed by the plan's hash, so running a plan again resumes its run
and never repeats a done action. Without ``yes`` nothing is written and
nothing is changed: the result says what would happen. Every time it
checks or stamps comes from one injected clock (the store's unless given).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auditor.clock import Clock
from auditor.config import Settings
from auditor.remediate.actions import ACTIONS, Action
from auditor.remediate.breaker import Recent, Verdict
from auditor.remediate.clients import Clients
from auditor.remediate.errors import FAILURES, BreakerRefused, Refused, explain
from auditor.remediate.journal import ActionRecord, Journal, RunRecord
from auditor.remediate.plan import Plan, PlannedAction, breaker_verdict, describe_target, digest
from auditor.remediate.population import Population
from auditor.remediate.protection import Protection
from auditor.remediate.registry import check_traced, require_recorded
from auditor.store import Store

SETTLED = ("done", "already_in_effect", "drifted")  # decided in an earlier attempt of the run: never revisited
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    action_id: str
    description: str
    status: str
    detail: str = ""


@dataclass
class RunResult:
    """What apply or rollback did (or, in a dry run, would do), action by action."""

    run_id: int | None
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    verdict: Verdict | None = None

    def counts(self) -> dict[str, int]:
        return dict(Counter(o.status for o in self.outcomes))

    def needs_attention(self) -> list[Outcome]:
        fine = {
            "done",
            "already_in_effect",
            "would_apply",
            "restored",
            "already_restored",
            "would_restore",
            "not_changed",
        }
        return [o for o in self.outcomes if o.status not in fine]


# --- checks before any change -----------------------------------------------------------


def check_plan(plan: Plan, recorded_at: datetime, settings: Settings, now: datetime) -> None:
    """Age (from the time the store recorded the plan) and known kinds; raises ``Refused``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    max_age = timedelta(hours=settings.get("remediation", "plan_max_age_hours"))
    age = now - recorded_at
    if age > max_age:
        raise Refused(
            f"the plan was recorded at {recorded_at.isoformat()}, {age.total_seconds() / 3600:.1f} hours ago, "
            f"more than plan_max_age_hours ({max_age.total_seconds() / 3600:.0f}): its pre-state is stale; "
            "make a new plan"
        )
    if age < -CLOCK_SKEW:
        raise Refused(f"the plan was recorded in the future ({recorded_at.isoformat()}); make a new plan")
    unknown = sorted({a.kind for a in plan.actions if a.kind not in ACTIONS})
    if unknown:
        raise Refused(f"the plan has actions of unknown kinds {unknown}")


def _check_protected(plan: Plan, protection: Protection) -> None:
    for planned in plan.actions:
        why = protection.why_static(planned.principal, planned.target)
        if why:
            raise Refused(f"the plan touches a protected principal ({_described(planned)}): {why}")


def _check_live_names(plan: Plan, clients: Clients, protection: Protection) -> dict[str, str]:
    """Refuses protected names read live from AWS; each action's description with the live name, by id."""
    described = {}
    for planned in plan.actions:
        names = ACTIONS[planned.kind].names(clients, planned.target)
        why = protection.why(names)
        if why:
            raise Refused(f"the plan touches a protected principal ({_described(planned)}): {why}")
        described[planned.id] = describe_target(planned.kind, planned.target, names[0] if names else None)
    return described


def _described(planned: PlannedAction) -> str:
    return describe_target(planned.kind, planned.target)


def _check_breaker(
    plan: Plan, settings: Settings, population: Population | None, override: str | None, recent: Recent
) -> tuple[Verdict, str | None]:
    """The breaker's verdict and the override that lets a tripped one through (None: refused, or not needed)."""
    verdict = breaker_verdict(plan.actions, population, settings, recent)
    if not verdict.tripped or not (override and override.strip()):
        return verdict, None
    return verdict, override.strip()


# --- apply --------------------------------------------------------------------------------


def apply_plan(
    plan: Plan,
    *,
    clients: Clients,
    store: Store,
    settings: Settings,
    population: Population | None,
    yes: bool = False,
    override_reason: str | None = None,
    actor: str = "auditor",
    clock: Clock | None = None,
) -> RunResult:
    """Apply the recorded plan with ``plan``'s hash (only with ``yes``); resumes its earlier run if there is one."""
    journal = Journal(store, actor, clock)
    if digest(plan) != plan.sha256:
        raise Refused("the plan's SHA-256 does not match its content; make a new plan")
    recorded = require_recorded(store, plan)
    plan = recorded.plan  # what the store recorded at plan time runs, never what a file says
    check_plan(plan, recorded.recorded_at, settings, journal.now())
    protection = Protection.load(settings, clients)
    _check_protected(plan, protection)
    check_traced(store, plan)
    existing = journal.run_for_plan(plan.sha256)
    if existing is not None and existing.rolled_back_at:
        raise Refused(f"this plan ran as run {existing.id}, which was rolled back; make a new plan")
    recorded_override = existing.override_reason if existing is not None else None
    recent = journal.recent(exclude_run=existing.id if existing is not None else None)
    verdict, override = _check_breaker(plan, settings, population, override_reason or recorded_override, recent)
    refused = verdict.tripped and override is None
    if refused and yes:
        raise BreakerRefused(verdict.message())
    described = _check_live_names(plan, clients, protection)
    if not yes:
        dry = _dry_run(plan, clients, journal, existing, verdict, described)
        if refused:  # a dry run still shows everything, under the verdict
            raise BreakerRefused(verdict.message(), preview=dry)
        return dry
    if existing is None:
        run = journal.open_run(plan, override)
    else:
        run = existing
        resumed = {"status": "running", **({"override_reason": override} if override else {})}
        journal.set_run(run.id, "remediate.apply.resumed", {"plan_sha256": plan.sha256}, **resumed)
    if override and override != recorded_override:
        store.audit(
            "remediate.breaker.overridden",
            f"remediation run {run.id}",
            {"reason": override, "verdict": verdict.to_dict()},
            actor=actor,
        )
    records = {r.action_id: r for r in journal.actions(run.id)}
    outcomes = [
        _apply_one(planned, records[planned.id], clients, journal, described[planned.id]) for planned in plan.actions
    ]
    result = RunResult(run_id=run.id, dry_run=False, outcomes=outcomes, verdict=verdict)
    status = "incomplete" if any(o.status == "failed" for o in outcomes) else "completed"
    journal.set_run(run.id, f"remediate.apply.{status}", result.counts(), status=status, finished_at=journal.now())
    return result


def _dry_run(
    plan: Plan,
    clients: Clients,
    journal: Journal,
    existing: RunRecord | None,
    verdict: Verdict,
    described: dict[str, str],
) -> RunResult:
    records = {r.action_id: r for r in journal.actions(existing.id)} if existing else {}
    outcomes = []
    for planned in plan.actions:
        description = described[planned.id]
        record = records.get(planned.id)
        if record is not None and record.status in SETTLED:
            outcomes.append(Outcome(planned.id, description, record.status, f"recorded in run {existing.id}"))
            continue
        action = ACTIONS[planned.kind]
        try:
            current = action.read(clients, planned.target)
        except FAILURES as exc:
            outcomes.append(Outcome(planned.id, description, "failed", f"cannot read: {explain(exc)}"))
            continue
        if action.revoked(current):
            outcomes.append(Outcome(planned.id, description, "already_in_effect"))
        elif not action.unchanged(current, planned.pre_state):
            outcomes.append(Outcome(planned.id, description, "drifted", _drift(action, planned, current)))
        else:
            outcomes.append(Outcome(planned.id, description, "would_apply"))
    return RunResult(run_id=existing.id if existing else None, dry_run=True, outcomes=outcomes, verdict=verdict)


def _drift(action: Action, planned: PlannedAction, current: dict) -> str:
    keys = action.drift_keys or action.compare
    before = {k: planned.pre_state.get(k) for k in keys}
    now = {k: current.get(k) for k in keys}
    return f"target drifted since planning: planned pre-state {before}, now {now}; skipped"


def _apply_one(
    planned: PlannedAction, record: ActionRecord, clients: Clients, journal: Journal, description: str
) -> Outcome:
    def outcome(status: str, detail: str = "") -> Outcome:
        return Outcome(planned.id, description, status, detail)

    if record.status in SETTLED:
        return outcome(record.status, "recorded earlier in this run")
    action = ACTIONS[planned.kind]
    try:
        current = action.read(clients, planned.target)
    except FAILURES as exc:
        journal.record(record, "remediate.action.failed", status="failed", error=f"cannot read: {explain(exc)}")
        return outcome("failed", f"cannot read: {explain(exc)}")
    if action.revoked(current):
        if record.attempts > 0:  # our request took effect before the previous attempt was interrupted
            detail = "took effect before the previous attempt was interrupted"
            journal.record(
                record,
                "remediate.action.done",
                status="done",
                after_state=current,
                result={"note": detail},
                finished_at=journal.now(),
            )
            return outcome("done", detail)
        journal.record(
            record,
            "remediate.action.already_in_effect",
            status="already_in_effect",
            pre_state=current,
            finished_at=journal.now(),
        )
        return outcome("already_in_effect", "already revoked when re-read (changed since planning): nothing to do")
    if not action.unchanged(current, planned.pre_state):
        detail = _drift(action, planned, current)
        journal.record(
            record,
            "remediate.action.drifted",
            status="drifted",
            pre_state=current,
            error=detail,
            finished_at=journal.now(),
        )
        return outcome("drifted", detail)
    journal.record(
        record,
        "remediate.action.started",
        status="started",
        pre_state=current,
        started_at=journal.now(),
        count_attempt=True,
    )
    try:
        result = action.apply(clients, planned.target, current)
        after = action.read(clients, planned.target)
    except FAILURES as exc:
        after = _read_quietly(action, clients, planned)
        if after is not None and action.revoked(after):
            result = {"note": f"in effect although the request reported: {explain(exc)}"}
        else:
            journal.record(record, "remediate.action.failed", status="failed", error=explain(exc), after_state=after)
            return outcome("failed", explain(exc))
    if not action.revoked(after):
        detail = "AWS accepted the change but a fresh read does not show it"
        journal.record(record, "remediate.action.failed", status="failed", error=detail, after_state=after)
        return outcome("failed", detail)
    journal.record(
        record, "remediate.action.done", status="done", after_state=after, result=result, finished_at=journal.now()
    )
    return outcome("done")


def _read_quietly(action: Action, clients: Clients, planned: PlannedAction) -> dict | None:
    """The state after a failed request, or None when it cannot be read either (journaled as unknown)."""
    try:
        return action.read(clients, planned.target)
    except FAILURES:
        return None


# --- rollback --------------------------------------------------------------------------------


def rollback_run(
    run_id: int,
    *,
    clients: Clients,
    store: Store,
    yes: bool = False,
    actor: str = "auditor",
    clock: Clock | None = None,
) -> RunResult:
    """Restore the journaled pre-state of every action the run did, newest first (only with ``yes``).

    Targets come from the plan the store recorded at plan time; a journal
    row that disagrees with it refuses the whole rollback, naming the action.
    A target that changed again since the run (neither revoked nor restored)
    is skipped and reported rather than overwritten.
    """
    journal = Journal(store, actor, clock)
    run = journal.run(run_id)
    records = journal.checked_actions(run)
    outcomes = [_rollback_one(record, clients, journal, yes) for record in reversed(records)]
    result = RunResult(run_id=run.id, dry_run=not yes, outcomes=outcomes)
    if yes:
        complete = not result.needs_attention()
        journal.set_run(
            run.id,
            "remediate.rollback.completed" if complete else "remediate.rollback.incomplete",
            result.counts(),
            **({"rolled_back_at": journal.now()} if complete else {}),
        )
    return result


def _rollback_one(record: ActionRecord, clients: Clients, journal: Journal, yes: bool) -> Outcome:
    def outcome(status: str, detail: str = "") -> Outcome:
        return Outcome(record.action_id, record.description, status, detail)

    if record.status != "done":
        return outcome("not_changed", f"the run did not change it ({record.status})")
    if record.rollback_status in ("restored", "already_restored"):
        return outcome(record.rollback_status, "recorded earlier")
    action = ACTIONS[record.kind]
    pre = record.pre_state or {}
    try:
        current = action.read(clients, record.target)
    except FAILURES as exc:
        if yes:
            journal.record(
                record,
                "remediate.rollback.failed",
                rollback_status="failed",
                rollback_error=f"cannot read: {explain(exc)}",
            )
        return outcome("failed", f"cannot read: {explain(exc)}")
    if action.same(current, pre):
        status = "restored" if record.rollback_attempts > 0 else "already_restored"
        if yes:
            journal.record(
                record,
                f"remediate.rollback.{status}",
                rollback_status=status,
                rollback_state=current,
                rolled_back_at=journal.now(),
            )
        return outcome(status)
    if not action.revoked(current):
        detail = (
            f"changed again since the run: journaled pre-state "
            f"{ {k: pre.get(k) for k in action.compare} }, now { {k: current.get(k) for k in action.compare} }; "
            "skipped"
        )
        if yes:
            journal.record(
                record,
                "remediate.rollback.drifted",
                rollback_status="drifted",
                rollback_state=current,
                rollback_error=detail,
            )
        return outcome("drifted", detail)
    if not yes:
        return outcome("would_restore", action.rollback_note or "")
    journal.record(record, "remediate.rollback.started", rollback_status="started", count_rollback_attempt=True)
    try:
        result = action.inverse(clients, record.target, pre)
        after = action.read(clients, record.target)
    except FAILURES as exc:
        journal.record(record, "remediate.rollback.failed", rollback_status="failed", rollback_error=explain(exc))
        return outcome("failed", explain(exc))
    if not action.same(after, pre):
        detail = "AWS accepted the inverse but a fresh read does not show the pre-state"
        journal.record(
            record, "remediate.rollback.failed", rollback_status="failed", rollback_state=after, rollback_error=detail
        )
        return outcome("failed", detail)
    journal.record(
        record,
        "remediate.rollback.restored",
        rollback_status="restored",
        rollback_state=after,
        rolled_back_at=journal.now(),
        audit_extra={"inverse_result": result},
    )
    return outcome("restored", action.rollback_note or "")
