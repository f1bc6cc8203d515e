"""The nightly job: the whole run, as `auditor run` does it, then the digest of what changed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditor.collect.hr import HrFeedError
from auditor.config import Settings
from auditor.schedule.jobs import Job
from auditor.schedule.runner import JobContext, Outcome

EXIT_INCOMPLETE = 3


def run_directory(settings: Settings, job: Job, as_of: datetime) -> Path:
    """One directory per run (the history of snapshots), unless the job names a fixed one."""
    if job.options.get("out_dir"):
        return Path(job.options["out_dir"])
    return Path(settings.get("output", "dir")) / f"run-{as_of.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def hr_feed(settings: Settings, job: Job) -> Path | None:
    """The job's feed, else [hr] feed; relative to the config file, as `auditor run` reads it."""
    configured = job.options.get("hr_feed") or settings.get("hr", "feed")
    if not configured:
        return None
    path = Path(configured)
    if not path.is_absolute() and settings.source is not None:
        path = settings.source.parent / path
    return path


def run_nightly(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    from auditor.notify import notify_run

    as_of = ctx.clock().astimezone(UTC).replace(microsecond=0)
    out_dir = run_directory(ctx.settings, job, as_of)
    try:
        result = ctx.run_pipeline(
            ctx.settings, out_dir=out_dir, as_of=as_of, hr_feed=hr_feed(ctx.settings, job), store=ctx.store
        )
    except HrFeedError as exc:  # bad input: nothing recorded, the digest would say nothing true
        return Outcome("failed", {"error": f"HR feed: {exc}", "out_dir": str(out_dir)})
    location = ctx.publish(out_dir)
    statuses: dict[str, int] = {}
    for finding in result.findings:
        statuses[finding.status] = statuses.get(finding.status, 0) + 1
    detail = {
        "run_id": result.run_id,
        "exit_code": result.exit_code,
        "out_dir": str(out_dir),
        "report": location,
        "findings": statuses,
    }
    status = "incomplete" if result.exit_code == EXIT_INCOMPLETE else "ok"
    if job.options.get("notify", True):
        notified = notify_run(result, ctx.settings, now=ctx.clock(), report_location=location)
        detail["digest"] = notified.summary()
        if notified.failed:
            status = "incomplete"
    return Outcome(status, detail)
