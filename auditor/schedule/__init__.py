"""Unattended operation: jobs from config.toml on cron schedules, one of a kind at a time across processes.

``locks`` (database leases), ``jobs`` (config -> jobs and their triggers),
``runner`` (one occurrence: claim, lock, run, record), ``service``
(APScheduler with its job store in the state database); the command
line is ``auditor.cli.scheduler``.
"""

from auditor.schedule.context import JobContext, Outcome
from auditor.schedule.jobs import Job, JobConfigError, jobs_from_settings, parse_jobs
from auditor.schedule.locks import LockHeld, job_lock, run_lock
from auditor.schedule.runner import JobResult, Runner
from auditor.schedule.service import SchedulerService

__all__ = [
    "Job",
    "JobConfigError",
    "JobContext",
    "JobResult",
    "LockHeld",
    "Outcome",
    "Runner",
    "SchedulerService",
    "job_lock",
    "jobs_from_settings",
    "parse_jobs",
    "run_lock",
]
