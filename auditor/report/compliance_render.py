"""Writers of the compliance export: JSON (the whole structure), CSV (a row per control and finding), HTML."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from auditor.report.common import format_time
from auditor.report.findings_csv import neutralise
from auditor.report.pages import render_page, template_source

CSV_COLUMNS = (
    "framework",
    "control_id",
    "control_title",
    "control_status",
    "reasons",
    "rules",
    "finding_id",
    "finding_status",
    "severity",
    "rule_id",
    "account_id",
    "principal_type",
    "principal_id",
    "principal_name",
    "resource",
    "title",
    "evidence",
    "recommendation",
    "first_seen",
    "resolved_at",
)
HTML_FINDINGS_PER_CONTROL = 200  # the CSV and JSON list every finding


def render_compliance_json(report: Mapping[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report, order="deterministic"), indent=2) + b"\n"


def _cells(values: list[Any]) -> list[str]:
    return [neutralise(str(v)) if v not in (None, "") else "" for v in values]


def render_compliance_csv(report: Mapping[str, Any]) -> bytes:
    """One row per (control, finding); a control without findings still has its own row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for control in report["controls"]:
        head = [
            report["framework"],
            control["control_id"],
            control["title"],
            control["status"],
            "; ".join(control["reasons"]),
            "; ".join(rule["rule_id"] for rule in control["rules"]),
        ]
        if not control["findings"]:
            writer.writerow(_cells(head + [""] * (len(CSV_COLUMNS) - len(head))))
        for f in control["findings"]:
            principal = f["principal"]
            evidence = msgspec.json.encode(f["evidence"], order="deterministic").decode()
            writer.writerow(
                _cells(
                    head
                    + [
                        f["finding_id"],
                        f["status"],
                        f["severity"],
                        f["rule_id"],
                        f["account_id"],
                        principal["type"],
                        principal["id"],
                        principal.get("name"),
                        f["resource"],
                        f["title"],
                        evidence,
                        f["recommendation"],
                        f["first_seen"],
                        f["resolved_at"],
                    ]
                )
            )
    return buffer.getvalue().encode("utf-8-sig")


def _time(value: str | None) -> str:
    return format_time(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else ""


def describe_period(period: Mapping[str, Any]) -> str:
    """One sentence for a reader: the CloudTrail window the evidence covers."""
    if not period["start"]:
        return "CloudTrail was not read: controls that rest on observed activity are not evidenced by this run."
    return (
        f"CloudTrail activity observed for every account from {_time(period['start'])} "
        f"to {_time(period['end'])} ({period['days']} days)."
    )


def _display(value: Any) -> tuple[str, bool]:
    if isinstance(value, str):
        return value, False
    encoded = msgspec.json.encode(value, order="deterministic")
    if isinstance(value, dict | list):
        return msgspec.json.format(encoded, indent=2).decode(), True
    return encoded.decode(), False


def render_compliance_html(report: Mapping[str, Any], *, now: datetime | None = None) -> str:
    """A self-contained page (no script, no network) an auditor can file as evidence."""
    style = template_source("report.css")
    controls = []
    for control in report["controls"]:
        shown = control["findings"][:HTML_FINDINGS_PER_CONTROL]
        controls.append(
            {
                **control,
                "shown": [
                    {
                        **f,
                        "evidence_rows": [(k, *_display(v)) for k, v in f["evidence"].items()],
                        "first_seen": _time(f["first_seen"]),
                        "resolved_at": _time(f["resolved_at"]),
                    }
                    for f in shown
                ],
                "hidden": len(control["findings"]) - len(shown),
            }
        )
    period = report["period"]
    context = {
        "report": report,
        "controls": controls,
        "as_of": _time(report["as_of"]),
        "generated_at": format_time(now or datetime.now(UTC)),
        "period_sentence": describe_period(period),
        "coverage": [{**a, "start": _time(a["start"]), "end": _time(a["end"])} for a in period["accounts"]],
    }
    return render_page("compliance.html.j2", style=style, **context)
