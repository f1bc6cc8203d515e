"""The digest after a run: new findings at or above a severity, resolved ones, and what was not read.

Unusual lifecycle activity (category ``lifecycle_anomaly``) is an alert
whatever its severity: every new one is listed first, in its own section.

Pure: built from the run's findings and manifest, no I/O, so every
channel sends the same text and tests read it directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auditor.exit_codes import EXIT_ATTENTION, EXIT_INCOMPLETE, EXIT_OK
from auditor.model import SEVERITY_ORDER, Category, Finding, Severity, sort_findings

SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters, no line breaks


@dataclass(frozen=True)
class Digest:
    subject: str
    body: str
    new: list[Finding] = field(default_factory=list)  # at or above the severity
    resolved: list[Finding] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # sources or inputs not fully read
    alerts: list[Finding] = field(default_factory=list)  # new unusual lifecycle activity, any severity

    @property
    def changed(self) -> bool:
        """Anything a reader must know: an alert, new or resolved findings at the severity, or a source not read."""
        return bool(self.alerts or self.new or self.resolved or self.incomplete)


def _at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITY_ORDER.index(Severity(severity)) >= SEVERITY_ORDER.index(Severity(threshold))


def _line(finding: Finding) -> str:
    where = f" in {finding.account_id}" if finding.account_id else ""
    return f"  - [{finding.severity}] {finding.title}{where} ({finding.rule_id}, {finding.finding_id[:12]})"


def _section(title: str, findings: list[Finding], limit: int) -> list[str]:
    if not findings:
        return []
    lines = [f"{title}: {len(findings)}"] + [_line(f) for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more (see the report)")
    return lines + [""]


def build_digest(
    findings: list[Finding],
    *,
    run_id: int | None,
    as_of: datetime,
    exit_code: int,
    incomplete: list[str],
    report_link: str,
    min_severity: str = "high",
    max_listed: int = 50,
) -> Digest:
    levels = [s.value for s in reversed(SEVERITY_ORDER) if _at_or_above(s.value, min_severity)]
    label = "/".join(levels)
    alerts = sort_findings(f for f in findings if f.status == "new" and f.category == Category.LIFECYCLE_ANOMALY)
    new = sort_findings(
        f
        for f in findings
        if f.status == "new" and _at_or_above(f.severity, min_severity) and f.category != Category.LIFECYCLE_ANOMALY
    )
    resolved = sort_findings(f for f in findings if f.status == "resolved" and _at_or_above(f.severity, min_severity))
    when = as_of.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    run = f"run {run_id}" if run_id is not None else "run"
    parts = []
    if alerts:
        parts.append(f"{len(alerts)} lifecycle alert{'s' if len(alerts) > 1 else ''}")
    if new:
        parts.append(f"{len(new)} new {label}")
    if resolved:
        parts.append(f"{len(resolved)} resolved")
    if incomplete:
        parts.append("incomplete")
    subject = _ascii(f"auditor {when}: " + (", ".join(parts) if parts else "no change") + f" ({run})")
    statuses = Counter(f.status for f in findings)
    state = {
        EXIT_OK: "complete",
        EXIT_ATTENTION: "complete, findings at or above --fail-on",
        EXIT_INCOMPLETE: "incomplete",
    }.get(exit_code, "")
    lines = [
        f"auditor {run} as of {as_of.astimezone(UTC).isoformat()}: exit {exit_code} ({state})".replace(" ()", ""),
        f"Report: {report_link}",
        "",
        *_section("Unusual lifecycle activity", alerts, max_listed),
        *_section(f"New findings ({label})", new, max_listed),
        *_section(f"Resolved since the previous run ({label})", resolved, max_listed),
    ]
    if incomplete:
        lines += ["Not fully read (findings that depend on it are insufficient evidence):"]
        lines += [f"  - {item}" for item in incomplete[:max_listed]] + [""]
    if not alerts and not new and not resolved:
        lines += [f"Nothing new or resolved at {label} since the previous run.", ""]
    lines.append(
        f"All findings: {statuses.get('new', 0)} new, {statuses.get('open', 0)} open, "
        f"{statuses.get('resolved', 0)} resolved, {statuses.get('suppressed', 0)} suppressed."
    )
    return Digest(subject, "\n".join(lines) + "\n", new, resolved, list(incomplete), alerts)


def _ascii(text: str) -> str:
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(text.split()))
    return clean if len(clean) <= SUBJECT_LIMIT else clean[: SUBJECT_LIMIT - 3] + "..."
