"""``Metrics`` as text tables, JSON, CSV (one row per metric value) or a self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json

from auditor.metrics import Metrics
from auditor.report.lifecycle import render_metrics_page

SECTIONS = (
    ("deprovisioning", "Time to deprovision leavers, per department (days after end date)"),
    ("leavers", "Leavers"),
    ("movers", "Movers: days until old-department access was removed"),
    ("joiners", "Joiners: days from start to first access; access beyond birthright at 30 days"),
    ("backlog_by_age", "Open findings by category and age"),
    ("weekly", "Findings opened and resolved per week"),
    ("time_to_resolve", "Time to resolve, per severity (days)"),
    ("campaigns", "Certification campaigns, per reviewer"),
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def table(metrics: Metrics) -> str:
    data = metrics.to_dict()
    lines = [f"Lifecycle effectiveness over {metrics.nights} recorded night(s), as of {data['as_of'] or '-'}"]
    for key, title in SECTIONS:
        rows = data[key]
        lines += ["", title]
        if not rows:
            lines.append("  (none)")
            continue
        columns = list(rows[0])
        cells = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines += ["", "Remediation"]
    lines += [f"  {k}: {v}" for k, v in data["remediation"].items()]
    return "\n".join(lines) + "\n"


def to_json(metrics: Metrics) -> str:
    return json.dumps(metrics.to_dict(), indent=2) + "\n"


def neutral(value: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula (names come from the directory and HR)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(metrics: Metrics) -> str:
    """Long format: section, row, field, value; one line per value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "row", "field", "value"])
    data = metrics.to_dict()
    for key, _ in SECTIONS:
        for number, row in enumerate(data[key], start=1):
            for name, value in row.items():
                writer.writerow([key, number, name, neutral(_cell(value))])
    for name, value in data["remediation"].items():
        writer.writerow(["remediation", 1, name, value])
    return out.getvalue()


def html(metrics: Metrics) -> str:
    """A page of its own, rendered with the report's partial (autoescaped)."""
    return render_metrics_page(metrics.to_dict())
