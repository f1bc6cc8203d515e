"""findings.xlsx: the findings as a workbook, a summary sheet, one sheet per category, then pivot sheets.

Auditors filter and annotate findings in a spreadsheet; a sheet per
category keeps each reviewer's share on its own tab. Names and titles are
attacker controlled: every text cell is written as a string (the workbook
then holds the literal text, nothing Excel evaluates, whatever its first
character), and characters the XML of a workbook cannot carry are replaced
rather than aborting the report. XlsxWriter streams rows several times
faster than openpyxl builds cells: a large estate's workbook holds
millions of cells.
Given the run's snapshot, three pivot sheets count the unresolved findings
by account x category, department x severity and manager, from the same
frames analysts use (``auditor.frames.pivots``); their labels are text
cells like every other name.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import xlsxwriter

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
# control characters XML 1.0 cannot carry (tab, newline and carriage return it can)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def cell_text(value: str) -> str:
    """Text a workbook can hold: no XML-illegal control characters, within Excel's cell size."""
    text = _ILLEGAL.sub("\ufffd", value)
    if len(text) > EXCEL_CELL_LIMIT:
        text = text[: EXCEL_CELL_LIMIT - len(_TRUNCATED)] + _TRUNCATED
    return text


def _write_row(sheet, row: int, values: Iterable[Any], style=None) -> None:
    """Text as strings (never formulas or links), numbers as numbers, empty text as an empty cell."""
    for column, value in enumerate(values):
        if isinstance(value, str):
            if value:
                sheet.write_string(row, column, cell_text(value), style)
        elif value is not None:
            sheet.write_number(row, column, value, style)


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


def _summary(book, bold, findings: list[Finding], run_info: Mapping[str, Any]) -> None:
    sheet = book.add_worksheet("Summary")
    sheet.set_column(0, 0, 24)
    row = 0
    for key, value in run_info.items():
        text = format_time(value) if isinstance(value, datetime) else str(value)
        _write_row(sheet, row, [key.replace("_", " ").capitalize()], bold)
        _write_row(sheet, row, [None, text])
        row += 1
    row += 1
    severities = [s.value for s in reversed(SEVERITY_ORDER)]
    counts = Counter((f.category, f.severity) for f in findings)
    _write_row(sheet, row, ("category", *severities, "total"), bold)
    for category in Category:
        row += 1
        counted = [counts[(category.value, s)] for s in severities]
        _write_row(sheet, row, [category.value, *counted, sum(counted)])
    totals = [sum(counts[(c.value, s)] for c in Category) for s in severities]
    row += 1
    _write_row(sheet, row, ["total"], bold)
    _write_row(sheet, row, [None, *totals, sum(totals)])


def _category_sheet(book, bold, category: str, findings: list[Finding]) -> None:
    sheet = book.add_worksheet(category)
    for index, (_, width) in enumerate(COLUMNS):
        sheet.set_column(index, index, width)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(findings), len(COLUMNS) - 1)
    _write_row(sheet, 0, [name for name, _ in COLUMNS], bold)
    for row, finding in enumerate(findings, start=1):
        _write_row(sheet, row, _row(finding))


def _pivot_sheet(book, bold, name: str, table) -> None:
    sheet = book.add_worksheet(name)
    sheet.set_column(0, 0, 34)
    _write_row(
        sheet, 0, [f"{table.index.name} / {table.columns.name}", *(str(c) for c in table.columns), "total"], bold
    )
    for row, (label, counts) in enumerate(table.iterrows(), start=1):
        values = [int(v) for v in counts]
        _write_row(sheet, row, [str(label), *values, sum(values)])


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
    buffer = io.BytesIO()
    # strings stay strings even through write(): no formulas, links or numbers guessed from text
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    book = xlsxwriter.Workbook(buffer, options)
    book.set_properties({"author": "auditor", "created": generated_at.astimezone(UTC).replace(tzinfo=None)})
    bold = book.add_format({"bold": True})
    _summary(book, bold, ordered, run_info)
    known = [c.value for c in Category]
    for category in known + sorted({f.category for f in ordered} - set(known)):
        _category_sheet(book, bold, category, [f for f in ordered if f.category == category])
    if snapshot is not None:
        for name, table in frames.pivots(frames.findings_frame(ordered, snapshot)).items():
            _pivot_sheet(book, bold, name, table)
    book.close()
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
