"""findings.csv: the findings flat, for spreadsheets and GRC imports.

Names, tags and descriptions come from the estate and are attacker
controlled, so a cell that a spreadsheet would read as a formula is
neutralised with a leading single quote (as Cloud Custodian and OWASP do).
The file starts with a UTF-8 byte order mark so Excel reads it as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import msgspec

from auditor.files import atomic_write
from auditor.model import Finding, sort_findings
from auditor.report.common import iso_utc

COLUMNS = (
    "finding_id",
    "rule_id",
    "category",
    "severity",
    "status",
    "principal_type",
    "principal_id",
    "principal_name",
    "principal_arn",
    "account_id",
    "resource",
    "title",
    "controls",
    "evidence",
    "recommendation",
    "first_seen",  # as the XLSX: when a run first found it (state store), ISO 8601 UTC
    "resolved_at",  # when a run no longer found it
)

# What makes a spreadsheet read a cell as a formula, including the fullwidth forms that
# Excel and LibreOffice normalise (＝ ＋ － ＠) and the control characters that start a new line.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def is_formula_like(value: str) -> bool:
    """True when the first character, or the first one after leading whitespace, triggers a formula."""
    if not value:
        return False
    stripped = value.lstrip()
    return value[0] in FORMULA_TRIGGERS or (bool(stripped) and stripped[0] in FORMULA_TRIGGERS)


def neutralise(value: str) -> str:
    """Prefix a quote to a cell a spreadsheet would evaluate."""
    return "'" + value if is_formula_like(value) else value


def finding_row(finding: Finding) -> list[str]:
    principal = finding.principal
    cells = (
        finding.finding_id,
        finding.rule_id,
        finding.category,
        finding.severity,
        finding.status,
        principal.type,
        principal.id,
        principal.name,
        principal.arn,
        finding.account_id,
        finding.resource,
        finding.title,
        "; ".join(finding.controls),
        msgspec.json.encode(finding.evidence, order="deterministic").decode(),
        finding.recommendation,
        iso_utc(finding.first_seen),
        iso_utc(finding.resolved_at),
    )
    return [neutralise(cell) if cell else "" for cell in cells]


def encode_findings_csv(findings: Iterable[Finding]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(finding_row(f) for f in sort_findings(findings))
    return buffer.getvalue().encode("utf-8-sig")


def write_findings_csv(findings: Iterable[Finding], path: Path) -> None:
    atomic_write(Path(path), encode_findings_csv(findings))
