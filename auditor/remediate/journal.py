"""The journal: every run and action in the state store, mirrored in the audit log.

Each action's pre-state is written before its change is sent and its result
after; a re-run reads the journal to skip what is done. Store rows say where
things stand; the hash-chained audit log says what happened, in order.
Times are stamped by the injected clock (the store's unless given).
Rollback and verify take each action's target and pre-state from the plan
the store recorded at plan time, and refuse when the journal disagrees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from auditor.clock import Clock
from auditor.remediate.actions import ACTIONS
from auditor.remediate.breaker import WINDOW_HOURS, Recent
from auditor.remediate.errors import NotFound, Refused
from auditor.remediate.plan import Plan, describe_target, dumps, parse_plan
from auditor.remediate.registry import recorded_plan
from auditor.remediate.schema import remediation_actions, remediation_runs
from auditor.store import Store
from auditor.store.types import canonical


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class RunRecord:
    id: int
    plan_sha256: str
    status: str
    actor: str
    override_reason: str | None
    started_at: datetime
    finished_at: datetime | None
    rolled_back_at: datetime | None
    plan: Plan


@dataclass(frozen=True)
class ActionRecord:
    run_id: int
    action_id: str
    seq: int
    kind: str
    description: str
    target: dict
    status: str
    attempts: int
    pre_state: dict | None
    after_state: dict | None
    result: dict | None
    error: str | None
    rollback_status: str | None
    rollback_attempts: int
    rollback_state: dict | None
    rollback_error: str | None


def _action(row: Any) -> ActionRecord:
    return ActionRecord(
        run_id=row.run_id,
        action_id=row.action_id,
        seq=row.seq,
        kind=row.kind,
        description=row.description,
        target=_load(row.target),
        status=row.status,
        attempts=row.attempts,
        pre_state=_load(row.pre_state),
        after_state=_load(row.after_state),
        result=_load(row.result),
        error=row.error,
        rollback_status=row.rollback_status,
        rollback_attempts=row.rollback_attempts,
        rollback_state=_load(row.rollback_state),
        rollback_error=row.rollback_error,
    )


class Journal:
    def __init__(self, store: Store, actor: str = "auditor", clock: Clock | None = None) -> None:
        self.store = store
        self.actor = actor
        self.clock = clock or store.clock

    def now(self) -> datetime:
        return self.clock.now()

    # --- runs -------------------------------------------------------------------------

    def _run(self, row: Any) -> RunRecord:
        return RunRecord(
            id=row.id,
            plan_sha256=row.plan_sha256,
            status=row.status,
            actor=row.actor,
            override_reason=row.override_reason,
            started_at=row.started_at,
            finished_at=row.finished_at,
            rolled_back_at=row.rolled_back_at,
            plan=parse_plan(row.plan.encode(), f"run {row.id}'s plan"),
        )

    def run_for_plan(self, plan_sha256: str) -> RunRecord | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(remediation_runs).where(remediation_runs.c.plan_sha256 == plan_sha256)).first()
        return self._run(row) if row else None

    def run(self, run_id: int) -> RunRecord:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(remediation_runs).where(remediation_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no remediation run {run_id} in the state store")
        return self._run(row)

    def open_run(self, plan: Plan, override_reason: str | None) -> RunRecord:
        """Record a new run and every planned action as pending, in one transaction."""
        try:
            run_id = self._insert_run(plan, override_reason)
        except sa.exc.IntegrityError as exc:  # the plan's hash is unique: another apply of it just started
            raise Refused("another apply of this plan started at the same moment; re-run to resume it") from exc
        self.store.audit(
            "remediate.apply.started",
            f"remediation run {run_id}",
            {
                "plan_sha256": plan.sha256,
                "actions": len(plan.actions),
                "override_reason": override_reason,
                # each journal row as planned: `audit verify` checks the rows still say this
                "planned": [{"action_id": a.id, "kind": a.kind, "target": a.target} for a in plan.actions],
            },
            actor=self.actor,
        )
        return self.run(run_id)

    def _insert_run(self, plan: Plan, override_reason: str | None) -> int:
        with self.store.engine.begin() as conn:
            run_id = conn.execute(
                remediation_runs.insert().values(
                    plan_sha256=plan.sha256,
                    plan_created_at=plan.created_at,
                    started_at=self.now(),
                    status="running",
                    actor=self.actor,
                    override_reason=override_reason,
                    plan=dumps(plan).decode(),
                )
            ).inserted_primary_key[0]
            for seq, action in enumerate(plan.actions):
                conn.execute(
                    remediation_actions.insert().values(
                        run_id=run_id,
                        action_id=action.id,
                        seq=seq,
                        kind=action.kind,
                        description=describe_target(action.kind, action.target),
                        target=_json(action.target),
                        status="pending",
                        attempts=0,
                        rollback_attempts=0,
                    )
                )
        return run_id

    def recent(self, exclude_run: int | None = None) -> Recent:
        """What runs other than ``exclude_run`` sent to AWS in the breaker's rolling window, up to now."""
        table = remediation_actions
        query = sa.select(table.c.kind, table.c.target).where(
            table.c.attempts > 0, table.c.started_at >= self.now() - timedelta(hours=WINDOW_HOURS)
        )
        if exclude_run is not None:
            query = query.where(table.c.run_id != exclude_run)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        subjects = tuple(ACTIONS[kind].subject(json.loads(target)) for kind, target in rows if kind in ACTIONS)
        return Recent(actions=len(rows), subjects=subjects)

    def set_run(self, run_id: int, audit_action: str, details: dict, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(remediation_runs.update().where(remediation_runs.c.id == run_id).values(**values))
        self.store.audit(audit_action, f"remediation run {run_id}", details, actor=self.actor)

    # --- actions ------------------------------------------------------------------------

    def actions(self, run_id: int) -> list[ActionRecord]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(remediation_actions)
                .where(remediation_actions.c.run_id == run_id)
                .order_by(remediation_actions.c.seq)
            ).all()
        return [_action(row) for row in rows]

    def checked_actions(self, run: RunRecord) -> list[ActionRecord]:
        """The run's actions with kind, target and description from the plan the store recorded at plan time.

        ``Refused``, naming the action, when a journal row disagrees with the
        recorded plan (its target, kind or the pre-state a rollback restores):
        nothing is then changed for any action.
        """
        recorded = recorded_plan(self.store, run.plan_sha256)
        if recorded is None:
            raise Refused(f"remediation run {run.id}: its plan {run.plan_sha256} is not recorded in the state store")
        planned = {a.id: a for a in recorded.plan.actions}
        checked = []
        for record in self.actions(run.id):
            action = planned.get(record.action_id)
            description = describe_target(action.kind, action.target) if action is not None else record.description
            problem = None
            if action is None:
                problem = "the recorded plan has no such action"
            elif (record.kind, record.target) != (action.kind, action.target):
                problem = (
                    f"the journal's target is {record.kind} {record.target}, the plan's {action.kind} {action.target}"
                )
            elif record.status == "done" and not ACTIONS[action.kind].same(record.pre_state or {}, action.pre_state):
                problem = f"the journal's pre-state {record.pre_state} is not the plan's {action.pre_state}"
            if problem:
                raise Refused(
                    f"remediation run {run.id}: action {record.action_id} ({description}) disagrees with the recorded "
                    f"plan: {problem}; the journal was altered, nothing was changed"
                )
            checked.append(replace(record, description=description))
        return checked

    def record(
        self,
        record: ActionRecord,
        audit_action: str,
        *,
        count_attempt: bool = False,
        count_rollback_attempt: bool = False,
        audit_extra: dict | None = None,
        **values: Any,
    ) -> None:
        """Update one action's row, then append the same facts to the audit log."""
        encoded = {
            key: _json(value) if key in ("pre_state", "after_state", "result", "rollback_state") else value
            for key, value in values.items()
        }
        if count_attempt:
            encoded["attempts"] = remediation_actions.c.attempts + 1
        if count_rollback_attempt:
            encoded["rollback_attempts"] = remediation_actions.c.rollback_attempts + 1
        table = remediation_actions
        with self.store.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.run_id == record.run_id, table.c.action_id == record.action_id)
                .values(**encoded)
            )
        details = {
            "action_id": record.action_id,
            "kind": record.kind,
            "target": record.target,
            **{key: canonical(value) if isinstance(value, datetime) else value for key, value in values.items()},
            **(audit_extra or {}),
        }
        self.store.audit(
            audit_action, f"remediation run {record.run_id}: {record.description}", details, actor=self.actor
        )
