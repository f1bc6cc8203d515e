import re
import zipfile

import pytest
from openpyxl import load_workbook

from auditor.model import Principal
from auditor.report import write_findings_xlsx
from auditor.report.findings_xlsx import COLUMNS, EXCEL_CELL_LIMIT

from .builders import AS_OF, HOSTILE_SCRIPT, lifecycle_findings, sample_findings
from .builders import finding as make_finding

CATEGORY_SHEETS = [
    "orphaned",
    "inactive",
    "over_privileged",
    "credential_hygiene",
    "lifecycle",
    "emergency_access",
    "lifecycle_anomaly",
]
HEADER = tuple(name for name, _ in COLUMNS)


def write(tmp_path, findings, run_info=None):
    path = tmp_path / "findings.xlsx"
    write_findings_xlsx(findings, path, run_info or {"as_of": AS_OF}, generated_at=AS_OF)
    return path


def rows(path, sheet):
    book = load_workbook(path)
    return [tuple(cell.value for cell in row) for row in book[sheet].iter_rows()]


def summary_rows(path):
    """The summary sheet's rows without the trailing empty cells of its wider table."""
    out = []
    for row in rows(path, "Summary"):
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        out.append(tuple(cells))
    return out


def test_a_summary_then_a_sheet_per_category_each_with_its_findings(tmp_path):
    path = write(tmp_path, sample_findings() + lifecycle_findings())
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", *CATEGORY_SHEETS]
    for sheet in CATEGORY_SHEETS:
        assert rows(path, sheet)[0] == HEADER
        assert book[sheet].freeze_panes == "A2"
    hygiene = [dict(zip(HEADER, row, strict=True)) for row in rows(path, "credential_hygiene")[1:]]
    assert [(r["finding_id"], r["severity"], r["status"]) for r in hygiene] == [
        ("f-gone", "medium", "resolved"),
        ("f-accepted", "low", "suppressed"),
        ("f-low", "low", "new"),
    ]
    gone = hygiene[0]
    assert gone["first_seen"] == "2024-06-01T06:00:00Z" and gone["resolved_at"] == "2024-06-30T12:00:00Z"
    assert rows(path, "emergency_access") == [HEADER]
    orphaned = dict(zip(HEADER, rows(path, "orphaned")[1], strict=True))
    assert orphaned["evidence"] == '{"user_name":"' + HOSTILE_SCRIPT + '"}'
    assert orphaned["account_id"] is None  # an empty cell, not the text "None"


def test_summary_counts_findings_by_category_and_severity(tmp_path):
    path = write(tmp_path, sample_findings(), {"as_of": AS_OF, "run_id": 9})
    summary = summary_rows(path)
    assert ("As of", "2024-06-30 12:00:00 UTC") in summary
    assert ("Run id", "9") in summary
    header = summary.index(("category", "critical", "high", "medium", "low", "info", "total"))
    table = {row[0]: row[1:] for row in summary[header + 1 :]}
    assert table["lifecycle"] == (1, 0, 0, 0, 0, 1)
    assert table["inactive"] == (0, 0, 0, 0, 1, 1)
    assert table["total"] == (1, 0, 1, 1, 1, 4)


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://x")', "=1+1", "+1", "-2", "@SUM(A1:A9)", "=cmd|' /C calc'!A0"])
def test_formula_like_text_is_stored_as_a_string_not_a_formula(tmp_path, hostile):
    finding = make_finding(
        "f-1", principal=Principal(type="idc_user", id="u-9", name=hostile), title=hostile, recommendation=hostile
    )
    path = write(tmp_path, [finding])
    sheet = load_workbook(path)["inactive"]
    for column in ("principal_name", "title", "recommendation"):
        cell = sheet.cell(row=2, column=HEADER.index(column) + 1)
        assert cell.value == hostile
        assert cell.data_type == "s"
    with zipfile.ZipFile(path) as archive:
        xml = "".join(archive.read(name).decode() for name in archive.namelist() if name.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml


def test_characters_a_workbook_cannot_hold_are_replaced_and_huge_cells_truncated(tmp_path):
    finding = make_finding(
        "f-1", title="bell\x07 and nul\x00 in a name", evidence={"blob": "x" * (EXCEL_CELL_LIMIT + 10)}
    )
    path = write(tmp_path, [finding])
    row = dict(zip(HEADER, rows(path, "inactive")[1], strict=True))
    assert row["title"] == "bell\ufffd and nul\ufffd in a name"
    assert len(row["evidence"]) == EXCEL_CELL_LIMIT
    assert row["evidence"].endswith("[truncated; see findings.json]")


def test_the_workbook_is_stamped_with_the_report_time_not_the_clock(tmp_path):
    path = write(tmp_path, [])
    with zipfile.ZipFile(path) as archive:
        core = archive.read("docProps/core.xml").decode()
    assert re.search(r"<dcterms:created[^>]*>2024-06-30T12:00:00Z</dcterms:created>", core)
