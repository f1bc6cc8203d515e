"""report.html: one self-contained page an auditor can read offline.

The summary, trend, completeness and exceptions are rendered on the server
by jinja2 with autoescaping. The findings and the inventory tables travel
as one escaped JSON document that the inline script renders a page at a
time with DOM text nodes only (no markup is ever built from data), so
50,000 findings stay usable and every name from the estate is shown as
text. A Content Security Policy admits no network source and only the
page's own script and style (by hash), so even a markup injection could
neither run nor fetch anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import auditor
from auditor.access import AccessModel
from auditor.exit_codes import MEANINGS
from auditor.files import atomic_write
from auditor.model import Finding, sort_findings
from auditor.report.common import STATUSES, format_time
from auditor.report.findings_csv import COLUMNS as CSV_COLUMNS
from auditor.report.findings_csv import FORMULA_TRIGGERS
from auditor.report.inventory import exceptions_in_force, inventory, tiles
from auditor.report.pages import render_page, template_source
from auditor.report.people import people_view, static_people
from auditor.report.trend import resolve_times, trend_chart
from auditor.report.views import (
    CATEGORIES,
    FINDING_COLUMNS,
    SEVERITIES,
    TYPE_LABELS,
    evidence_labels,
    finding_row,
    script_json,
    summary,
    top_risk,
)
from auditor.snapshot import Snapshot

RUN_INFO_LABELS = {
    "as_of": "As of",
    "generated_at": "Generated at",
    "tool_version": "Tool version",
    "run_id": "Run",
    "started_at": "Started",
    "finished_at": "Finished",
    "duration_seconds": "Duration (s)",
    "exit_status": "Exit status",
    "config_path": "Configuration",
    "audit_log_head": "Audit log head",
}


UNREADABLE_SHOWN = 200
# People written into the page itself (the list a browser without JavaScript shows). Beyond it, the
# riskiest are listed and everyone stays in the page's search and in the CSV exports.
PEOPLE_LISTED = 500
_STATUS_ORDER = {"failed": 0, "partial": 1}


def _window_days(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds() / 86400:.1f}"


def completeness(snapshot: Snapshot, account_names: Mapping[str, str]) -> dict[str, Any]:
    """Every source and account with its status and coverage window, failures first."""
    sources = sorted(
        snapshot.manifest.sources,
        key=lambda s: (_STATUS_ORDER.get(s.status, 2), s.source, s.account_id or ""),
    )
    rows = [
        {
            "source": s.source,
            "account_id": s.account_id or "",
            "account_name": account_names.get(s.account_id or "", ""),
            "status": s.status,
            "error": s.error or "",
            "coverage_start": format_time(s.coverage_start),
            "coverage_end": format_time(s.coverage_end),
            "window_days": _window_days(s.coverage_start, s.coverage_end),
        }
        for s in sources
    ]
    unreadable = snapshot.manifest.unreadable
    return {
        "complete": snapshot.complete,
        "sources": rows,
        "problems": [row for row in rows if row["status"] != "ok"],
        "unreadable": unreadable[:UNREADABLE_SHOWN],
        "unreadable_total": len(unreadable),
    }


def _run_rows(run_info: Mapping[str, Any], snapshot: Snapshot, generated_at: datetime) -> list[tuple[str, str]]:
    info = {
        "as_of": snapshot.manifest.as_of,
        "tool_version": snapshot.manifest.tool_version or auditor.__version__,
        "generated_at": generated_at,
        **{key: value for key, value in run_info.items() if value is not None},
    }
    ordered = [key for key in RUN_INFO_LABELS if key in info] + [key for key in info if key not in RUN_INFO_LABELS]
    rows = []
    for key in ordered:
        value = info[key]
        if key == "exit_status" and value in MEANINGS:
            text = f"{value} ({MEANINGS[value]})"
        elif isinstance(value, datetime):
            text = format_time(value)
        else:
            text = str(value)
        rows.append((RUN_INFO_LABELS.get(key, key.replace("_", " ").capitalize()), text))
    return rows


def render_report_html(
    findings: Iterable[Finding],
    snapshot: Snapshot,
    run_info: Mapping[str, Any],
    *,
    now: datetime | None = None,
    history: Mapping[str, Any] | None = None,
    access: AccessModel | None = None,
) -> str:
    """The page as a string.

    ``run_info`` keys shown with labels: as_of, generated_at, tool_version,
    run_id, started_at, finished_at, duration_seconds, exit_status,
    config_path, audit_log_head (datetimes or strings); any other key is
    shown under its own name. as_of and tool_version default to the
    snapshot's. ``now`` (else run_info's generated_at, else the clock)
    stamps the page. ``history`` (the state store's recent runs and time
    to resolve) adds the trend; without it the page has no trend section.
    ``access``: the run's access model, when the caller built it already.
    """
    generated_at = now or run_info.get("generated_at") or datetime.now(UTC)
    account_names = {a.account_id: a.name for a in snapshot.tables.get("accounts", [])}
    ordered = sort_findings(findings)
    script = template_source("report.js")
    style = template_source("report.css")
    accounts = sorted({f.account_id or "" for f in ordered})
    exempt = run_info.get("exempt_identities") or {}
    run_info = {k: v for k, v in run_info.items() if k != "exempt_identities"}  # an input, shown with the people
    info = {"as_of": snapshot.manifest.as_of, **run_info}
    access = access if access is not None else AccessModel(snapshot)  # the run's, whose indexes the rules built
    people = people_view(access, ordered, exempt)
    data = {
        "findings": {"columns": FINDING_COLUMNS, "rows": [finding_row(f, account_names) for f in ordered]},
        "inventory": inventory(snapshot, ordered, exempt, access),
        "people": people,
        "labels": evidence_labels(ordered),
        "types": TYPE_LABELS,
        # the page's "Export CSV" writes what findings.csv writes, guarded against formulas the same way
        "csv": {"columns": CSV_COLUMNS, "triggers": "".join(sorted(FORMULA_TRIGGERS))},
    }
    context = {
        "title": "Access audit report",
        "data": script_json(data),
        "people": static_people(people, ordered, account_names, PEOPLE_LISTED),
        "exempt": sorted(
            (access.idc_users[user_id].user_name if user_id in access.idc_users else user_id, why)
            for user_id, why in exempt.items()
        ),
        "run_rows": _run_rows(run_info, snapshot, generated_at),
        "as_of": format_time(run_info.get("as_of") or snapshot.manifest.as_of),
        "completeness": completeness(snapshot, account_names),
        "tiles": tiles(snapshot),
        "summary": summary(ordered, account_names),
        "risk": top_risk(ordered, account_names),
        "trend": trend_chart(history, ordered, info) if history is not None else None,
        "resolve_times": resolve_times(history) if history is not None else [],
        "runs_recorded": len(history.get("runs") or []) if history is not None else 0,
        "lifecycle": history.get("lifecycle") if history is not None else None,  # auditor.metrics, as a dict
        "exceptions": exceptions_in_force(ordered, account_names),
        "severities": SEVERITIES,
        "categories": CATEGORIES,
        "statuses": STATUSES,
        "filter_accounts": [(a, account_names.get(a, "")) for a in accounts],
    }
    return render_page("report.html.j2", style=style, script=script, **context)


def write_report_html(
    findings: Iterable[Finding],
    snapshot: Snapshot,
    run_info: Mapping[str, Any],
    path: Path,
    *,
    now: datetime | None = None,
    history: Mapping[str, Any] | None = None,
    access: AccessModel | None = None,
) -> None:
    page = render_report_html(findings, snapshot, run_info, now=now, history=history, access=access)
    atomic_write(Path(path), page.encode("utf-8"))
