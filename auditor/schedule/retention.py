"""Retention: the one explicit, configured deletion — old runs' output files older than keep_days.

It runs only as a configured ``retention`` job; nothing else in the
auditor deletes. What it removes is what a recorded run wrote, by name
(findings, reports, compliance exports, the snapshot's tables and
manifest: ``auditor.report.run_files``), never a directory's other
contents: a run pointed at ``--out ~`` must not cost the home directory.
A directory is removed only once it is empty. It never touches the
latest run, a directory a newer run also wrote to, or a run an open
campaign reviews. The rows in the state store stay (the history, the
audit log); each deletion is written to the audit log first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.campaign.state import all_campaigns
from auditor.report import run_files
from auditor.schedule.context import JobContext, Outcome
from auditor.schedule.jobs import Job
from auditor.store import Store, runs


def expired_run_dirs(store: Store, cutoff: datetime) -> tuple[list[Path], list[str]]:
    """The run directories retention may delete at ``cutoff``, and why others were kept."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.as_of, runs.c.out_dir).order_by(runs.c.id)).all()
    if not rows:
        return [], []
    latest_id = rows[-1].id
    under_review = {Path(c.run_dir).resolve() for c in all_campaigns(store) if c.status == "open" and c.run_dir}
    kept_dirs = {Path(r.out_dir).resolve() for r in rows if r.out_dir and (r.id == latest_id or r.as_of >= cutoff)}
    candidates, kept = [], []
    for row in rows:
        if not row.out_dir or row.as_of >= cutoff or row.id == latest_id:
            continue
        path = Path(row.out_dir).resolve()
        if path in kept_dirs:
            continue
        if path in under_review:
            kept.append(f"{path}: reviewed by an open campaign")
            continue
        if not path.is_dir():
            continue
        if not ((path / "findings.json").is_file() or (path / "snapshot" / "manifest.json").is_file()):
            kept.append(f"{path}: does not look like a run directory; left alone")
            continue
        if path not in candidates:
            candidates.append(path)
    return candidates, kept


def apply_retention(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    keep_days = job.options["keep_days"]
    now = ctx.clock()
    cutoff = now - timedelta(days=keep_days)
    expired, kept = expired_run_dirs(ctx.store, cutoff)
    deleted, errors = [], []
    for path in expired:
        if ctx.stop.is_set():
            break
        ctx.store.audit(
            "retention.delete", str(path), {"keep_days": keep_days, "cutoff": cutoff.isoformat()}, actor=ctx.actor
        )
        try:
            remove_run_files(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            continue
        deleted.append(str(path))
    detail = {"keep_days": keep_days, "deleted": deleted, "kept": kept, "errors": errors}
    return Outcome("incomplete" if errors or ctx.stop.is_set() else "ok", detail)


def remove_run_files(run_dir: Path) -> None:
    """Delete the files a run wrote into ``run_dir``, then the folders they leave empty; nothing else."""
    for path in run_files(run_dir):
        if path.is_file() and not path.is_symlink():
            path.unlink()
    for folder in (run_dir / "snapshot", run_dir):
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()
