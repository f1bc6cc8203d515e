"""Renderers of a run's findings: findings.json, findings.csv, findings.xlsx and report.html.

Reporters only present what the analyzers decided; they never recompute a
finding. Every output uses the same order (worst first), so the files
read alike and diff cleanly between runs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import snapshot as snapshot_store
from auditor.access import AccessModel
from auditor.controls import FRAMEWORKS
from auditor.model import Finding
from auditor.report.compliance import FORMATS, export_file_name
from auditor.report.findings_csv import write_findings_csv
from auditor.report.findings_json import write_findings_json
from auditor.report.findings_xlsx import write_findings_xlsx
from auditor.report.html import write_report_html
from auditor.snapshot import Snapshot

__all__ = [
    "run_files",
    "write_all",
    "write_findings_csv",
    "write_findings_json",
    "write_findings_xlsx",
    "write_report_html",
]


OUTPUT_FILES = ("findings.json", "findings.csv", "findings.xlsx", "report.html")
AUDIT_HEAD = "audit-head.json"  # the audit chain's head at the end of the run (written by the pipeline)


def run_files(out_dir: Path) -> list[Path]:
    """Every file a run, and a compliance export beside it, may write into ``out_dir``.

    This list, not the directory, is what retention may delete: a run pointed at a
    directory that also holds other things (``--out ~``) must not take them with it.
    """
    out_dir = Path(out_dir)
    names = [*OUTPUT_FILES, AUDIT_HEAD, *(export_file_name(key, fmt) for key in FRAMEWORKS for fmt in FORMATS)]
    return [out_dir / name for name in names] + [out_dir / "snapshot" / name for name in snapshot_store.file_names()]


def write_all(
    out_dir: Path,
    findings: list[Finding],
    snapshot: Snapshot,
    run_info: Mapping[str, Any],
    *,
    save_snapshot: bool = True,
    now: datetime | None = None,
    history: Mapping[str, Any] | None = None,
    access: AccessModel | None = None,
) -> dict[str, Path]:
    """Write the contract's outputs into ``out_dir``; returns each output's path by name.

    ``save_snapshot`` also writes ``out_dir/snapshot/`` so the run can be
    re-analysed offline; a caller that saved it already passes False.
    ``history`` is the state store's view, {"runs": [{"id", "as_of", "kind",
    "exit_code", "by_severity"}, ...oldest first], "time_to_resolve":
    {severity: {"resolved", "mean_days", "max_days"}}}; None leaves the
    report without a trend. ``access``: the run's access model, when the caller built it.
    """
    generated_at = now or run_info.get("generated_at") or datetime.now(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in OUTPUT_FILES}
    if save_snapshot:
        paths["snapshot"] = out_dir / "snapshot"
    workbook_info = {"as_of": snapshot.manifest.as_of, "generated_at": generated_at, **run_info}

    def files() -> None:  # they read the findings only: a forked child copies few pages
        write_findings_json(findings, paths["findings.json"])
        write_findings_csv(findings, paths["findings.csv"])
        write_findings_xlsx(
            findings, paths["findings.xlsx"], workbook_info, generated_at=generated_at, snapshot=snapshot
        )

    wait = beside(files)  # on the other core while this one saves the snapshot and renders the page
    if save_snapshot:
        snapshot_store.save(snapshot, paths["snapshot"])
    write_report_html(
        findings, snapshot, run_info, paths["report.html"], now=generated_at, history=history, access=access
    )
    wait()
    return paths


def beside(work: Callable[[], None]) -> Callable[[], None]:
    """Start ``work`` in a forked child where the platform can fork; returns the function that waits for it.

    The writers are CPU-bound and independent, and a large estate's files take
    tens of seconds each: a child on another core halves the wait (on one core
    it costs nothing more). The child shares the findings without copying them
    (fork), only writes files and takes no lock another thread could hold. If
    it cannot start, or fails, ``work`` runs here instead, so its errors are
    raised as they would be without a child.
    """

    def quietly() -> None:  # the error is raised here, in the parent, when it runs ``work`` again
        try:
            work()
        except BaseException:
            os._exit(1)

    try:
        child = multiprocessing.get_context("fork").Process(target=quietly, name="auditor-report", daemon=True)
        child.start()
    except (OSError, ValueError):  # no fork on this platform, or no process could be started
        work()
        return lambda: None

    def wait() -> None:
        child.join()
        if child.exitcode != 0:
            work()

    return wait
