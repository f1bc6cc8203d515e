"""Verify a run: re-read AWS and report, per action, whether what the journal says still holds.

A done action should still be revoked; a rolled-back one should show its
pre-state again; an action the run skipped is reported as such. Targets
come from the plan the store recorded (a journal that disagrees is
refused). Read-only (the check itself is recorded in the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.remediate.actions import ACTIONS
from auditor.remediate.clients import Clients
from auditor.remediate.errors import FAILURES, explain
from auditor.remediate.journal import ActionRecord, Journal
from auditor.store import Store


@dataclass(frozen=True)
class Check:
    action_id: str
    description: str
    status: str  # the journal's status of the action
    expected: str  # revoked | restored | unchanged by this run
    holds: bool | None  # None when there is nothing to check
    state: dict | None
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    run_id: int
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.holds is not False for c in self.checks)


def verify_run(run_id: int, *, clients: Clients, store: Store, actor: str = "auditor") -> Verification:
    journal = Journal(store, actor)
    run = journal.run(run_id)
    checks = [_check(record, clients) for record in journal.checked_actions(run)]
    verification = Verification(run_id=run.id, checks=checks)
    store.audit(
        "remediate.verified",
        f"remediation run {run.id}",
        {"ok": verification.ok, "failed": [c.action_id for c in checks if c.holds is False]},
        actor=actor,
    )
    return verification


def _check(record: ActionRecord, clients: Clients) -> Check:
    if record.status != "done":
        return Check(
            record.action_id, record.description, record.status, "unchanged by this run", None, None, record.error or ""
        )
    action = ACTIONS[record.kind]
    restored = record.rollback_status in ("restored", "already_restored")
    expected = "restored" if restored else "revoked"
    try:
        state = action.read(clients, record.target)
    except FAILURES as exc:
        return Check(
            record.action_id, record.description, record.status, expected, False, None, f"cannot read: {explain(exc)}"
        )
    holds = action.same(state, record.pre_state or {}) if restored else action.revoked(state)
    return Check(record.action_id, record.description, record.status, expected, holds, state)
