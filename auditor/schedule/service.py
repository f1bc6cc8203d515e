"""`auditor scheduler`: APScheduler 3 with its job store in the state database, firing ``Runner.fire``.

The jobs of config.toml are written to APScheduler's SQLAlchemy job store
(table ``scheduler_jobs``); a job whose definition did not change keeps its
stored next run time, so after downtime APScheduler sees what was missed
and, with ``coalesce``, fires it once if it is within
``misfire_grace_seconds`` (older misses wait for the next time). Every
fire goes through the runner (claim once, lock, record).

APScheduler stores a job's function by its textual reference, so the
stored function is ``fire_job`` here, which hands the job to the service
this process runs.

SIGTERM (and SIGINT) stop the scheduler from firing, let running jobs
finish for ``stop_grace_seconds``, then abandon what still runs (recorded,
locks released) and end the process.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.executors.base import BaseExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job as StoredJob
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from auditor.config import Settings
from auditor.schedule.clock import Clock, system_clock
from auditor.schedule.jobs import Job, jobs_from_settings
from auditor.schedule.runner import JobResult, Runner, last_runs
from auditor.store import Store

log = logging.getLogger("auditor.schedule")

JOBSTORE_TABLE = "scheduler_jobs"
WORKERS = 4  # different jobs may run at once; their locks keep each kind single

_service: SchedulerService | None = None  # the service this process runs (APScheduler resolves fire_job)


def fire_job(job_id: str) -> JobResult | None:
    """APScheduler's entry point (stored by reference): fire the job through this process's service."""
    if _service is None:
        log.error("a job fired with no scheduler service in this process", extra={"job": job_id})
        return None
    return _service.fire_due(job_id)


def fingerprint(job: Job) -> str:
    """What, when and where a stored job does: a changed definition replaces the stored job."""
    return f"{job.kind} {job.id} [{job.cron}] {job.timezone}"


@dataclass(frozen=True)
class Listing:
    job: Job
    next_fire: datetime | None
    last: dict | None


class SchedulerService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        runner: Runner | None = None,
        clock: Clock = system_clock,
        scheduler: BaseScheduler | None = None,
        executor: BaseExecutor | None = None,
        exit: Callable[[int], None] = os._exit,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.runner = runner or Runner(settings, store, clock=clock)
        self.jobs = {job.id: job for job in jobs_from_settings(settings)}
        section = settings.section("scheduler")
        self.grace = section["misfire_grace_seconds"]
        self.stop_grace = section["stop_grace_seconds"]
        self.jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOBSTORE_TABLE)
        self.scheduler = scheduler or BlockingScheduler(timezone=UTC)
        self.scheduler.configure(
            jobstores={"default": self.jobstore},
            executors={"default": executor or ThreadPoolExecutor(WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.grace},
            timezone=UTC,
        )
        self._exit = exit
        self.stopping = False

    # --- the job store ---------------------------------------------------------------------

    def sync(self) -> dict[str, str]:
        """Make the stored jobs match config.toml; returns what happened to each job id.

        A new or changed job is stored with its next fire time after now; an
        unchanged one keeps its stored next run time (a miss stays visible).
        """
        self.jobstore.start(self.scheduler, "default")
        stored = {job.id: job for job in self.jobstore.get_all_jobs()}
        changes = {}
        for job_id in stored:
            wanted = self.jobs.get(job_id)
            if wanted is None or not wanted.enabled:
                self.jobstore.remove_job(job_id)
                changes[job_id] = "removed"
        for job in self.jobs.values():
            if not job.enabled:
                continue
            old = stored.get(job.id)
            if old is not None and old.name == fingerprint(job):
                changes[job.id] = "kept"
                continue
            if old is not None:
                self.jobstore.remove_job(job.id)
            trigger = job.trigger()
            self.jobstore.add_job(
                StoredJob(
                    self.scheduler,
                    id=job.id,
                    func=fire_job,
                    trigger=trigger,
                    executor="default",
                    args=[job.id],
                    kwargs={},
                    name=fingerprint(job),
                    misfire_grace_time=self.grace,
                    coalesce=True,
                    max_instances=1,
                    next_run_time=trigger.get_next_fire_time(None, self.clock()),
                )
            )
            changes[job.id] = "changed" if old is not None else "added"
        return changes

    def listing(self) -> list[Listing]:
        """Each configured job with its next fire time after now (per the clock) and its last occurrence."""
        now = self.clock()
        last = last_runs(self.store)
        return [
            Listing(job, job.next_fire_time(now) if job.enabled else None, last.get(job.id))
            for job in self.jobs.values()
        ]

    # --- firing ------------------------------------------------------------------------------------

    def fire_due(self, job_id: str) -> JobResult | None:
        """A due job: run the occurrence it stands for (the latest fire time within the grace time)."""
        job = self.jobs.get(job_id)
        if job is None or not job.enabled:
            log.warning("a stored job is no longer configured; not run", extra={"job": job_id})
            return None
        scheduled_at = job.latest_occurrence(self.clock(), self.grace)
        if scheduled_at is None:
            log.warning("job fired outside its grace time; not run", extra={"job": job_id})
            return None
        return self.runner.fire(job, scheduled_at)

    def fire_now(self, job_id: str, *, wait_seconds: float | None = None) -> JobResult:
        """Run a job once, now (`auditor scheduler --run JOB`, a cron line, a Lambda event)."""
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return self.runner.fire(job, self.clock().astimezone(UTC).replace(microsecond=0), wait_seconds=wait_seconds)

    # --- serving --------------------------------------------------------------------------------------

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit status."""
        global _service
        _service = self
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            changes = self.sync()
            for item in self.listing():
                log.info(
                    "job scheduled",
                    extra={
                        "job": item.job.id,
                        "kind": item.job.kind,
                        "cron": item.job.cron,
                        "timezone": item.job.timezone,
                        "next_fire": item.next_fire,
                        "store": changes.get(item.job.id, "disabled"),
                    },
                )
            self.scheduler.start()  # blocks until on_signal shuts it down
            return self.finish()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _service = None

    def on_signal(self, signum: int, _frame=None) -> None:
        """Stop firing; ``finish`` then lets running jobs end or abandons them."""
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping", extra={"signal": signal.Signals(signum).name, "running": self.runner.running()})
        self.runner.stop.set()
        self.scheduler.shutdown(wait=False)

    def finish(self) -> int:
        """Wait up to stop_grace_seconds for running jobs; abandon the rest and end the process."""
        if self.runner.wait_idle(self.stop_grace):
            log.info("stopped", extra={"abandoned": []})
            return 0
        abandoned = self.runner.abandon_running()
        log.warning("stopped; abandoned the jobs still running", extra={"abandoned": abandoned})
        logging.shutdown()
        self._exit(0)  # the abandoned threads hold nothing committed; do not wait for them
        return 0
