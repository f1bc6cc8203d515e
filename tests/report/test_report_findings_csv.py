import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from auditor.model import Principal
from auditor.report import write_findings_csv

from .builders import HOSTILE_SCRIPT, sample_findings
from .builders import finding as make_finding

HEADER = (
    "finding_id,rule_id,category,severity,status,principal_type,principal_id,principal_name,principal_arn,"
    "account_id,resource,title,controls,evidence,recommendation,first_seen,resolved_at"
)


def read_rows(path):
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_header_is_exact_and_file_is_excel_friendly_utf8(tmp_path):
    path = tmp_path / "findings.csv"
    write_findings_csv(sample_findings(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").split("\r\n", 1)[0] == HEADER


def test_one_row_per_finding_worst_first_with_flattened_fields(tmp_path):
    path = tmp_path / "findings.csv"
    findings = sample_findings()
    write_findings_csv(findings, path)
    rows = read_rows(path)
    assert len(rows) == len(findings)
    assert [r["severity"] for r in rows] == ["critical", "medium", "low", "info"]
    critical = rows[0]
    assert critical["finding_id"] == "f-crit"
    assert critical["principal_type"] == "idc_user"
    assert critical["principal_name"] == "alice"
    assert critical["principal_arn"] == ""
    assert critical["controls"] == "CIS-AWS-1.12; SOC2-CC6.2"
    assert critical["evidence"] == '{"end_date":"2024-05-01","hr_status":"terminated"}'
    assert critical["recommendation"] == "Remove the assignment."
    org_wide = rows[1]
    assert org_wide["account_id"] == "" and org_wide["resource"] == "" and org_wide["recommendation"] == ""
    assert json.loads(org_wide["evidence"]) == {"user_name": HOSTILE_SCRIPT}


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1:A9)", "\tx", "\rx"])
def test_formula_like_cells_are_neutralised(tmp_path, hostile):
    path = tmp_path / "findings.csv"
    finding = make_finding(
        "f-1",
        principal=Principal(type="iam_user", id="AIDA1", name=hostile),
        title=hostile,
        resource=hostile,
        recommendation=hostile,
    )
    write_findings_csv([finding], path)
    [row] = read_rows(path)
    for column in ("principal_name", "title", "resource", "recommendation"):
        assert row[column] == "'" + hostile


def test_ordinary_cells_are_left_alone(tmp_path):
    path = tmp_path / "findings.csv"
    finding = make_finding("f-1", title="a=b, +c and 'quoted' \"text\"\nsecond line", recommendation="Zoë → revoke")
    write_findings_csv([finding], path)
    [row] = read_rows(path)
    assert row["title"] == "a=b, +c and 'quoted' \"text\"\nsecond line"
    assert row["recommendation"] == "Zoë → revoke"


def test_no_findings_writes_the_header_alone(tmp_path):
    path = tmp_path / "findings.csv"
    write_findings_csv([], path)
    assert path.read_bytes().decode("utf-8-sig") == HEADER + "\r\n"
    assert list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))) == [HEADER.split(",")]


@pytest.mark.parametrize(
    "hostile",
    [" =1+2", "  @SUM(A1:A9)", '\n=HYPERLINK("http://x")', '\uff1dHYPERLINK("http://x")', "\uff0b1", " \uff20SUM(A1)"],
)
def test_formulas_behind_whitespace_or_in_fullwidth_form_are_neutralised(tmp_path, hostile):
    path = tmp_path / "findings.csv"
    write_findings_csv([make_finding("f-1", title=hostile)], path)
    [row] = read_rows(path)
    assert row["title"] == "'" + hostile


def test_first_seen_and_resolved_at_are_iso_utc_as_in_the_workbook(tmp_path):
    path = tmp_path / "findings.csv"
    paris = timezone(timedelta(hours=1))
    open_one = make_finding("f-open", first_seen=datetime(2026, 9, 1, 7, 0, tzinfo=paris))
    resolved = make_finding(
        "f-gone",
        status="resolved",
        first_seen=datetime(2026, 8, 1, 6, 0, tzinfo=UTC),
        resolved_at=datetime(2026, 11, 28, 6, 0, 30, tzinfo=UTC),
    )
    write_findings_csv([open_one, resolved, make_finding("f-never")], path)
    rows = {row["finding_id"]: row for row in read_rows(path)}
    assert (rows["f-open"]["first_seen"], rows["f-open"]["resolved_at"]) == ("2026-09-01T06:00:00Z", "")
    assert (rows["f-gone"]["first_seen"], rows["f-gone"]["resolved_at"]) == (
        "2026-08-01T06:00:00Z",
        "2026-11-28T06:00:30Z",
    )
    assert rows["f-never"]["first_seen"] == rows["f-never"]["resolved_at"] == ""
