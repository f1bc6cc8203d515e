"""findings.xlsx: the findings as a workbook, a summary sheet, one sheet per category, then pivot sheets.

Auditors filter and annotate findings in a spreadsheet; a sheet per
category keeps each reviewer's share on its own tab. Names and titles are
attacker controlled: openpyxl stores a str starting with "=" as a formula,
so every text cell is forced to the string type (the workbook then holds
the literal text, nothing Excel evaluates), and characters the XML of a
workbook cannot carry are replaced rather than aborting the report.
Given the run's snapshot, three pivot sheets count the unresolved findings
by account x category, department x severity and manager, from the same
frames analysts use (``auditor.frames.pivots``); their labels are text
cells like every other name.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from auditor import frames
from auditor.files import atomic_write
from auditor.model import SEVERITY_ORDER, Category, Finding, sort_findings
from auditor.report.common import format_time, iso_utc
from auditor.snapshot import Snapshot

COLUMNS = (
    ("finding_id", 26),
    ("rule_id", 30),
    ("severity", 10),
    ("status", 11),
    ("principal_type", 14),
    ("principal_id", 26),
    ("principal_name", 28),
    ("principal_arn", 40),
    ("account_id", 14),
    ("resource", 40),
    ("title", 60),
    ("controls", 30),
    ("evidence", 60),
    ("recommendation", 50),
    ("first_seen", 21),
    ("resolved_at", 21),
)
EXCEL_CELL_LIMIT = 32767  # characters Excel keeps in one cell
_TRUNCATED = " …[truncated; see findings.json]"
_BOLD = Font(bold=True)


def cell_text(value: str) -> str:
    """Text a workbook can hold: no XML-illegal control characters, within Excel's cell size."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if len(text) > EXCEL_CELL_LIMIT:
        text = text[: EXCEL_CELL_LIMIT - len(_TRUNCATED)] + _TRUNCATED
    return text


def _cell(sheet: WriteOnlyWorksheet, value: Any, *, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=cell_text(value))
        cell.data_type = "s"  # never a formula, whatever the first character
    else:
        cell = WriteOnlyCell(sheet, value=value)
    if bold:
        cell.font = _BOLD
    return cell


def _row(finding: Finding) -> list[Any]:
    principal = finding.principal
    return [
        finding.finding_id,
        finding.rule_id,
        finding.severity,
        finding.status,
        principal.type,
        principal.id,
        principal.name or "",
        principal.arn or "",
        finding.account_id or "",
        finding.resource or "",
        finding.title,
        "; ".join(finding.controls),
        msgspec.json.encode(finding.evidence, order="deterministic").decode(),
        finding.recommendation or "",
        iso_utc(finding.first_seen) or "",
        iso_utc(finding.resolved_at) or "",
    ]


def _summary(book: Workbook, findings: list[Finding], run_info: Mapping[str, Any]) -> None:
    sheet = book.create_sheet("Summary")
    sheet.column_dimensions["A"].width = 24
    for key, value in run_info.items():
        text = format_time(value) if isinstance(value, datetime) else str(value)
        sheet.append([_cell(sheet, key.replace("_", " ").capitalize(), bold=True), _cell(sheet, text)])
    sheet.append([])
    severities = [s.value for s in reversed(SEVERITY_ORDER)]
    counts = Counter((f.category, f.severity) for f in findings)
    sheet.append([_cell(sheet, v, bold=True) for v in ("category", *severities, "total")])
    for category in Category:
        row = [counts[(category.value, s)] for s in severities]
        sheet.append([_cell(sheet, category.value), *row, sum(row)])
    totals = [sum(counts[(c.value, s)] for c in Category) for s in severities]
    sheet.append([_cell(sheet, "total", bold=True), *totals, sum(totals)])


def _category_sheet(book: Workbook, category: str, findings: list[Finding]) -> None:
    sheet = book.create_sheet(category)
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(findings) + 1}"
    sheet.append([_cell(sheet, name, bold=True) for name, _ in COLUMNS])
    for finding in findings:
        sheet.append([_cell(sheet, value) for value in _row(finding)])


def _pivot_sheet(book: Workbook, name: str, table) -> None:
    sheet = book.create_sheet(name)
    sheet.column_dimensions["A"].width = 34
    corner = f"{table.index.name} / {table.columns.name}"
    sheet.append(
        [
            _cell(sheet, corner, bold=True),
            *(_cell(sheet, str(c), bold=True) for c in table.columns),
            _cell(sheet, "total", bold=True),
        ]
    )
    for label, row in table.iterrows():
        values = [int(v) for v in row]
        sheet.append([_cell(sheet, str(label)), *values, sum(values)])


def encode_findings_xlsx(
    findings: Iterable[Finding],
    run_info: Mapping[str, Any],
    *,
    generated_at: datetime,
    snapshot: Snapshot | None = None,
) -> bytes:
    """The workbook as bytes; ``generated_at`` stamps its properties so a re-run is reproducible.

    With ``snapshot`` (whose HR rows give departments and managers) the pivot sheets follow.
    """
    ordered = sort_findings(findings)
    book = Workbook(write_only=True)
    book.properties.creator = "auditor"
    # openpyxl writes core properties from naive datetimes it takes as UTC
    stamp = generated_at.astimezone(UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    _summary(book, ordered, run_info)
    known = [c.value for c in Category]
    for category in known + sorted({f.category for f in ordered} - set(known)):
        _category_sheet(book, category, [f for f in ordered if f.category == category])
    if snapshot is not None:
        for name, table in frames.pivots(frames.findings_frame(ordered, snapshot)).items():
            _pivot_sheet(book, name, table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_findings_xlsx(
    findings: Iterable[Finding],
    path: Path,
    run_info: Mapping[str, Any],
    *,
    generated_at: datetime,
    snapshot: Snapshot | None = None,
) -> None:
    encoded = encode_findings_xlsx(findings, run_info, generated_at=generated_at, snapshot=snapshot)
    atomic_write(Path(path), encoded)
