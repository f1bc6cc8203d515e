"""Running one occurrence of a job: claim it once, take its locks, do it, record how it went.

Whoever fires a job (the APScheduler process, a cron line with
``auditor scheduler --run``, the Lambda handler) goes through
``Runner.fire``, so the guarantees hold everywhere:

- an occurrence (job id + scheduled time) is claimed by inserting a unique
  row, so two schedulers on one database never both run it;
- the job's locks keep one job of a kind at a time, and a manual
  ``auditor run`` takes the same "run" lock;
- every outcome is recorded in ``job_runs`` (ok, incomplete, failed,
  skipped and why, abandoned) and logged as one structured line.

Task failures are recorded and logged, never raised: one broken job must
not stop the scheduler from firing the others.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from auditor import pipeline
from auditor.config import Settings
from auditor.schedule.clock import Clock, Sleep, system_clock, system_sleep
from auditor.schedule.context import JobContext, Outcome, Task
from auditor.schedule.jobs import Job
from auditor.schedule.locks import Lease, LockHeld, acquire, owner_name
from auditor.schedule.schema import job_runs
from auditor.schedule.tasks import TASKS
from auditor.store import Store
from auditor.store.urls import redact

log = logging.getLogger("auditor.schedule")

FINAL = ("ok", "incomplete", "failed", "skipped", "abandoned")


@dataclass(frozen=True)
class JobResult:
    job_id: str
    scheduled_at: datetime
    status: str
    detail: dict[str, Any]
    run_row: int | None = None


@dataclass
class _Active:
    row: int
    job: Job
    lease: Lease


class Runner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Clock = system_clock,
        sleep: Sleep = system_sleep,
        tasks: dict[str, Task] | None = None,
        run_pipeline: Callable[..., Any] | None = None,
        publish: Callable[[Path], str] | None = None,
        heartbeat: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.tasks = tasks if tasks is not None else TASKS
        self.run_pipeline = run_pipeline or pipeline.run
        self.publish = publish or (lambda path: str(Path(path).resolve()))
        self.heartbeat = heartbeat
        self.stop = threading.Event()
        self._active: dict[int, _Active] = {}
        self._idle = threading.Condition()

    # --- one occurrence ---------------------------------------------------------------

    def fire(self, job: Job, scheduled_at: datetime, *, wait_seconds: float | None = None) -> JobResult:
        """Run the occurrence of ``job`` scheduled at ``scheduled_at``, unless it ran (or runs) elsewhere."""
        section = self.settings.section("scheduler")
        owner = owner_name(f"scheduler job {job.id}")
        started = self.clock()
        row = self._claim(job, scheduled_at, owner, started)
        if isinstance(row, JobResult):
            return row
        if self.stop.is_set():
            return self._finish(row, job, scheduled_at, Outcome("skipped", {"reason": "the scheduler is stopping"}))
        try:
            lease = acquire(
                self.store,
                job.locks,
                owner=owner,
                wait_seconds=section["lock_wait_seconds"] if wait_seconds is None else wait_seconds,
                lease_seconds=section["lock_lease_seconds"],
                clock=self.clock,
                sleep=self.sleep,
            )
        except LockHeld as held:
            return self._finish(row, job, scheduled_at, Outcome("skipped", {"reason": str(held)}))
        if self.heartbeat:
            lease.start_heartbeat()
        with self._idle:
            self._active[row] = _Active(row, job, lease)
        log.info("job started", extra={"job": job.id, "kind": job.kind, "scheduled_at": scheduled_at.isoformat()})
        began = time.monotonic()
        try:
            outcome = self._run_task(job, scheduled_at, owner)
        finally:
            lease.release()
            with self._idle:
                self._active.pop(row, None)
                self._idle.notify_all()
        outcome.detail.setdefault("duration_seconds", round(time.monotonic() - began, 1))
        return self._finish(row, job, scheduled_at, outcome)

    def _run_task(self, job: Job, scheduled_at: datetime, owner: str) -> Outcome:
        task = self.tasks.get(job.kind)
        if task is None:
            return Outcome("failed", {"error": f"no task for kind {job.kind!r}"})
        context = JobContext(
            settings=self.settings,
            store=self.store,
            clock=self.clock,
            stop=self.stop,
            actor=f"scheduler:{job.id}",
            run_pipeline=self.run_pipeline,
            publish=self.publish,
        )
        try:
            return task(context, job, scheduled_at)
        except Exception as exc:  # recorded and logged; the scheduler goes on with its other jobs
            log.exception("job failed", extra={"job": job.id, "kind": job.kind, "owner": owner})
            return Outcome("failed", {"error": redact(f"{type(exc).__name__}: {exc}")})

    # --- bookkeeping ------------------------------------------------------------------------

    def _claim(self, job: Job, scheduled_at: datetime, owner: str, now: datetime) -> int | JobResult:
        try:
            with self.store.engine.begin() as conn:
                return conn.execute(
                    job_runs.insert().values(
                        job_id=job.id,
                        kind=job.kind,
                        scheduled_at=scheduled_at,
                        started_at=now,
                        status="running",
                        owner=owner,
                        detail="{}",
                    )
                ).inserted_primary_key[0]
        except sa.exc.IntegrityError:
            with self.store.engine.connect() as conn:
                other = conn.execute(
                    sa.select(job_runs).where(job_runs.c.job_id == job.id, job_runs.c.scheduled_at == scheduled_at)
                ).first()
            reason = f"this occurrence was already claimed by {other.owner if other else 'another process'}"
            if other is not None:
                reason += f" ({other.status})"
            log.info("job skipped", extra={"job": job.id, "scheduled_at": scheduled_at.isoformat(), "reason": reason})
            return JobResult(job.id, scheduled_at, "skipped", {"reason": reason}, other.id if other else None)

    def _finish(self, row: int, job: Job, scheduled_at: datetime, outcome: Outcome) -> JobResult:
        """Record the outcome, unless the occurrence was abandoned meanwhile (that record stands)."""
        detail = json.dumps(outcome.detail, default=str, sort_keys=True)
        with self.store.engine.begin() as conn:
            conn.execute(
                job_runs.update()
                .where(job_runs.c.id == row, job_runs.c.status == "running")
                .values(status=outcome.status, finished_at=self.clock(), detail=detail)
            )
        level = logging.WARNING if outcome.status in ("failed", "incomplete") else logging.INFO
        log.log(
            level,
            f"job {outcome.status}",
            extra={
                "job": job.id,
                "kind": job.kind,
                "status": outcome.status,
                "scheduled_at": scheduled_at.isoformat(),
                "detail": outcome.detail,
            },
        )
        return JobResult(job.id, scheduled_at, outcome.status, outcome.detail, row)

    # --- stopping -------------------------------------------------------------------------------

    def running(self) -> list[str]:
        with self._idle:
            return [active.job.id for active in self._active.values()]

    def wait_idle(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) for the running jobs to finish; True when none runs."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout=timeout)

    def abandon_running(self) -> list[str]:
        """Give up the jobs still running: record them abandoned and free their locks.

        Nothing half-written stays behind: a run records its results in one
        transaction at its very end, and campaign steps are transactions of
        their own; what a job had not committed is simply not there.
        """
        with self._idle:
            active = list(self._active.values())
            self._active.clear()
        now = self.clock()
        for item in active:
            with self.store.engine.begin() as conn:
                conn.execute(
                    job_runs.update()
                    .where(job_runs.c.id == item.row, job_runs.c.status == "running")
                    .values(
                        status="abandoned",
                        finished_at=now,
                        detail=json.dumps({"reason": "the scheduler was stopped before the job finished"}),
                    )
                )
            item.lease.release()
            log.warning("job abandoned", extra={"job": item.job.id, "kind": item.job.kind})
        return [item.job.id for item in active]


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """Each job's most recent recorded occurrence: scheduled_at, status, finished_at, detail."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(job_runs).order_by(job_runs.c.id)).mappings().all()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[row["job_id"]] = {**row, "detail": json.loads(row["detail"] or "{}")}
    return latest
