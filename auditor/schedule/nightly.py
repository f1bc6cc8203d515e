"""The nightly run: `auditor run` and the scheduled job are one function, then the job sends the digest.

``nightly_run`` is the recorded run plus what a recorded run sets off (a
micro-certification for each new mover or administrator grant); ``run_now``
is the same under the "run" lock, for a run started by hand; ``run_nightly``
is the scheduler's task (its runner already holds the lock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from auditor import pipeline
from auditor.campaign import open_micro_campaigns
from auditor.collect.hr import HrFeedError
from auditor.config import Settings
from auditor.exit_codes import EXIT_INCOMPLETE
from auditor.notify import notify_run
from auditor.pipeline import RunResult
from auditor.progress import Progress
from auditor.schedule.context import JobContext, Outcome
from auditor.schedule.jobs import Job
from auditor.schedule.locks import run_lock
from auditor.store import Store


def nightly_run(
    settings: Settings,
    store: Store,
    *,
    out_dir: Path,
    as_of: datetime,
    hr_feed: Path | None,
    fail_on: str | None = None,
    progress: Progress | None = None,
    run_pipeline: Callable[..., RunResult] = pipeline.run,
) -> RunResult:
    """Run, record and report; then open the micro-certifications the recorded run calls for."""
    result = run_pipeline(
        settings, out_dir=out_dir, as_of=as_of, hr_feed=hr_feed, store=store, fail_on=fail_on, progress=progress
    )
    if result.run_id is not None:  # a mover or a new administrator grant: a small review by the manager
        result.micro_campaigns = open_micro_campaigns(
            store, result.snapshot, result.findings, settings, as_of, run_dir=out_dir
        )
    return result


def run_now(settings: Settings, store: Store, **options) -> RunResult:
    """``nightly_run`` under the "run" lock the scheduled job takes: waits, or raises LockHeld naming the holder."""
    with run_lock(store, settings):
        return nightly_run(settings, store, **options)


def run_directory(settings: Settings, job: Job, as_of: datetime) -> Path:
    """One directory per run (the history of snapshots), unless the job names a fixed one."""
    if job.options.get("out_dir"):
        return Path(job.options["out_dir"])
    return settings.output_dir() / f"run-{as_of.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def run_nightly(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    as_of = pipeline.as_of_now(ctx.clock())
    out_dir = run_directory(ctx.settings, job, as_of)
    try:
        result = nightly_run(
            ctx.settings,
            ctx.store,
            out_dir=out_dir,
            as_of=as_of,
            hr_feed=ctx.settings.hr_feed(job.options.get("hr_feed")),
            run_pipeline=ctx.run_pipeline,
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
    if result.micro_campaigns:
        detail["micro_campaigns"] = [m.campaign_id for m in result.micro_campaigns if m.campaign_id is not None]
    status = "incomplete" if result.exit_code == EXIT_INCOMPLETE else "ok"
    if job.options.get("notify", True):
        notified = notify_run(result, ctx.settings, now=ctx.clock(), report_location=location)
        detail["digest"] = notified.summary()
        if notified.failed:
            status = "incomplete"
    return Outcome(status, detail)
