"""report.html: one self-contained page an auditor can read offline.

Rows are rendered on the server by jinja2 with autoescaping, so every name
taken from the estate reaches the page as text; the inline script only
filters, searches and sorts the rows already in the DOM. A Content Security
Policy admits no network source and only the page's own script and style
(by hash), so even a markup injection could neither run nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import msgspec

import auditor
from auditor.model import SEVERITY_ORDER, Category, Finding
from auditor.report.common import atomic_write, format_time, severity_rank, sort_findings
from auditor.snapshot import Snapshot

TEMPLATE_PACKAGE = "auditor.templates"

INVENTORY = (
    ("accounts", "AWS accounts"),
    ("idc_users", "Identity Center users"),
    ("idc_groups", "Identity Center groups"),
    ("idc_memberships", "Group memberships"),
    ("permission_sets", "Permission sets"),
    ("account_assignments", "Account assignments"),
    ("iam_users", "IAM users"),
    ("iam_roles", "IAM roles"),
    ("access_keys", "IAM access keys"),
    ("hr_people", "HR people"),
)

RUN_INFO_LABELS = {
    "as_of": "As of",
    "generated_at": "Generated at",
    "tool_version": "Tool version",
    "started_at": "Started",
    "finished_at": "Finished",
    "exit_status": "Exit status",
    "config_path": "Configuration",
}

EXIT_MEANINGS = {
    0: "complete: every source and input fully read",
    1: "findings at or above the --fail-on severity",
    2: "bad configuration or unusable input",
    3: "incomplete: some source, account, log object or input row could not be used",
}

UNREADABLE_SHOWN = 200
_STATUS_ORDER = {"failed": 0, "partial": 1}


def _load_template_source(name: str) -> str:
    """Templates are package data, so a wheel (or a zip) renders like a source tree."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _display(value: Any) -> str:
    """A JSON value as a reviewer reads it: scalars plain, structures as indented JSON."""
    if isinstance(value, str):
        return value
    return msgspec.json.format(msgspec.json.encode(value, order="deterministic"), indent=2).decode()


def _finding_view(finding: Finding, account_names: Mapping[str, str]) -> dict[str, Any]:
    evidence = msgspec.to_builtins(finding.evidence, order="deterministic")
    principal = finding.principal
    return {
        "finding_id": finding.finding_id,
        "rule_id": finding.rule_id,
        "category": finding.category,
        "severity": finding.severity,
        "rank": severity_rank(finding.severity),
        "status": finding.status,
        "principal_label": principal.name or principal.id,
        "principal": principal,
        "account_id": finding.account_id or "",
        "account_name": account_names.get(finding.account_id or "", ""),
        "resource": finding.resource,
        "title": finding.title,
        "controls": finding.controls,
        "recommendation": finding.recommendation,
        "insufficient": evidence.get("insufficient_evidence") is True,
        "evidence": [(key, _display(value), isinstance(value, dict | list)) for key, value in evidence.items()],
    }


def _window_days(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds() / 86400:.1f}"


def _completeness(snapshot: Snapshot, account_names: Mapping[str, str]) -> dict[str, Any]:
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


def _inventory(snapshot: Snapshot) -> list[tuple[str, int]]:
    counts = snapshot.manifest.counts
    return [
        (label, len(snapshot.tables[name]) if name in snapshot.tables else counts.get(name, 0))
        for name, label in INVENTORY
    ]


def _bars(counter: Counter, keys: Iterable[str]) -> list[dict[str, Any]]:
    ordered = list(keys)
    ordered += sorted(key for key in counter if key not in ordered)
    largest = max(counter.values(), default=0)
    return [
        {"key": key, "count": counter[key], "percent": round(100 * counter[key] / largest) if largest else 0}
        for key in ordered
    ]


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
        if key == "exit_status" and value in EXIT_MEANINGS:
            text = f"{value} ({EXIT_MEANINGS[value]})"
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
) -> str:
    """The page as a string.

    ``run_info`` keys shown with labels: as_of, generated_at, tool_version,
    started_at, finished_at, exit_status, config_path (datetimes or strings);
    any other key is shown under its own name. as_of and tool_version default
    to the snapshot's. ``now`` (else run_info's generated_at, else the clock)
    stamps the page.
    """
    generated_at = now or run_info.get("generated_at") or datetime.now(UTC)
    account_names = {a.account_id: a.name for a in snapshot.tables.get("accounts", [])}
    ordered = sort_findings(findings)
    views = [_finding_view(f, account_names) for f in ordered]
    env = environment()
    script = _load_template_source("report.js")
    style = _load_template_source("report.css")
    accounts = sorted({v["account_id"] for v in views})
    context = {
        "title": "Access audit report",
        "csp": (
            "default-src 'none'; base-uri 'none'; form-action 'none'; "
            f"script-src {_csp_hash(script)}; style-src {_csp_hash(style)}"
        ),
        "script": script,
        "style": style,
        "run_rows": _run_rows(run_info, snapshot, generated_at),
        "as_of": format_time(run_info.get("as_of") or snapshot.manifest.as_of),
        "completeness": _completeness(snapshot, account_names),
        "inventory": _inventory(snapshot),
        "by_severity": _bars(Counter(f.severity for f in ordered), [s.value for s in reversed(SEVERITY_ORDER)]),
        "by_category": _bars(Counter(f.category for f in ordered), [c.value for c in Category]),
        "by_status": _bars(Counter(f.status for f in ordered), ["new", "open", "resolved", "suppressed"]),
        "insufficient_total": sum(1 for v in views if v["insufficient"]),
        "findings": views,
        "filter_severities": [s.value for s in reversed(SEVERITY_ORDER)],
        "filter_categories": [c.value for c in Category],
        "filter_statuses": ["new", "open", "resolved", "suppressed"],
        "filter_accounts": [(a, account_names.get(a, "")) for a in accounts],
    }
    return env.get_template("report.html.j2").render(context)


def write_report_html(
    findings: Iterable[Finding],
    snapshot: Snapshot,
    run_info: Mapping[str, Any],
    path: Path,
    *,
    now: datetime | None = None,
) -> None:
    atomic_write(Path(path), render_report_html(findings, snapshot, run_info, now=now).encode("utf-8"))
