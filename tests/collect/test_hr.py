from pathlib import Path

import pytest

from auditor.collect.hr import HrFeedError, collect_hr

HEADER = (
    "employee_id,email,user_name,display_name,department,title,manager_email,status,employment_type,start_date,end_date"
)


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "hr.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_people_with_dates_and_optional_previous_department(tmp_path):
    path = write(
        tmp_path,
        'E1,ann@example.com,ann,"Ann, A.",eng,Dev,boss@example.com,active,employee,2020-01-06,,',
        "E2,bo@example.com,bo,Bo,data,Analyst,boss@example.com,terminated,contractor,2021-03-01,2026-10-31,eng",
        header=HEADER + ",previous_department",
    )
    result = collect_hr(path)
    ann, bo = result.tables["hr_people"]
    assert (ann.display_name, ann.line, ann.end_date, ann.previous_department) == ("Ann, A.", 2, None, None)
    assert (bo.status, bo.employment_type, bo.end_date.isoformat(), bo.previous_department) == (
        "terminated",
        "contractor",
        "2026-10-31",
        "eng",
    )
    assert result.statuses[0].status == "ok"
    assert result.unreadable == []


def test_malformed_row_is_reported_with_physical_line_and_the_rest_is_read(tmp_path):
    path = write(
        tmp_path,
        'E1,ann@example.com,ann,"Ann\nSecond line",eng,Dev,boss@example.com,active,employee,2020-01-06,',
        "E2,bo@example.com,bo,Bo,data,Analyst,boss@example.com,fired,employee,2021-03-01,",
        "E3,cy@example.com,cy,Cy,data,Analyst,boss@example.com,active,employee,2021-13-01,",
        "E4,di@example.com,di,Di,data,Analyst,boss@example.com,active,employee,2021-01-01,",
    )
    result = collect_hr(path)
    assert [p.user_name for p in result.tables["hr_people"]] == ["ann", "di"]
    assert [p.line for p in result.tables["hr_people"]] == [2, 6]
    problems = {u.what: u.error for u in result.unreadable}
    assert problems == {
        "hr.csv line 4": "status 'fired' is not one of active, leave, terminated",
        "hr.csv line 5": "start_date '2021-13-01' is not an ISO 8601 date",
    }
    status = result.statuses[0]
    assert status.status == "partial"
    # the unreadable rows' identities are kept so nobody looks orphaned or terminated for it
    assert [r["user_name"] for r in status.detail["unusable_rows"]] == ["bo", "cy"]


def test_duplicate_person_is_reported(tmp_path):
    path = write(
        tmp_path,
        "E1,ann@example.com,ann,Ann,eng,Dev,boss@example.com,active,employee,,",
        "E2,ANN@example.com,ann2,Ann,eng,Dev,boss@example.com,active,employee,,",
    )
    result = collect_hr(path)
    assert result.unreadable[0].what == "hr.csv line 3"
    assert "already on line 2" in result.unreadable[0].error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        (HEADER + "\n", "header but no rows"),
        ("employee_id,email\nE1,a@example.com\n", "line 1: missing required column(s): user_name"),
    ],
)
def test_unusable_feed_is_an_error(tmp_path, content, message):
    path = tmp_path / "hr.csv"
    path.write_text(content)
    with pytest.raises(HrFeedError) as error:
        collect_hr(path)
    assert message in str(error.value) and "hr.csv" in str(error.value)


def test_missing_feed_is_an_error(tmp_path):
    with pytest.raises(HrFeedError, match="not found"):
        collect_hr(tmp_path / "nope.csv")


def test_byte_order_mark_and_crlf_read_as_plain_utf8_with_physical_lines(tmp_path):
    rows = [
        HEADER,
        'E1,ann@example.com,ann,"Ann\r\nAnders",eng,Dev,boss@example.com,active,employee,2020-01-06,',
        "E2,bo@example.com,bo,Bo,data,Analyst,boss@example.com,fired,employee,,",
        "E3,cy@example.com,cy,Cy,data,Analyst,boss@example.com,active,employee,,",
    ]
    path = tmp_path / "hr.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    result = collect_hr(path)
    people = result.tables["hr_people"]
    assert [(p.employee_id, p.user_name, p.line) for p in people] == [("E1", "ann", 2), ("E3", "cy", 5)]
    assert people[0].display_name == "Ann\r\nAnders"
    assert [(u.what, u.error) for u in result.unreadable] == [
        ("hr.csv line 4", "status 'fired' is not one of active, leave, terminated")
    ]


def test_a_latin1_row_is_named_with_its_line_and_its_person_kept_as_unusable(tmp_path):
    rows = [
        HEADER,
        "E1,ann@example.com,ann,Ann,eng,Dev,boss@example.com,active,employee,,",
        "E2,jose@example.com,jose,José Müller,eng,Dev,boss@example.com,terminated,employee,,2026-01-01",
    ]
    path = tmp_path / "hr.csv"
    path.write_bytes("\n".join(rows).encode("latin-1") + b"\n")
    result = collect_hr(path)
    assert [p.user_name for p in result.tables["hr_people"]] == ["ann"]
    [problem] = result.unreadable
    assert problem.what == "hr.csv line 3"
    assert problem.error.startswith("display_name not UTF-8 (byte 0xe9)")
    status = result.statuses[0]
    assert status.status == "partial"
    assert status.detail["unusable_rows"] == [{"line": 3, "user_name": "jose", "email": "jose@example.com"}]


def test_a_latin1_header_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes((HEADER + ",ré\n").encode("latin-1"))
    with pytest.raises(HrFeedError, match=r"hr.csv line 1: the header is not UTF-8"):
        collect_hr(path)


def test_a_duplicate_employee_id_withdraws_both_rows(tmp_path):
    """Which of two rows for one employee is right is unknown: the terminated one must not win."""
    path = write(
        tmp_path,
        "E1,ann@example.com,ann,Ann,eng,Dev,boss@example.com,active,employee,,",
        "E2,bo@example.com,bo,Bo,eng,Dev,boss@example.com,active,employee,,",
        "E1,ann.b@example.com,annb,Ann B,eng,Dev,boss@example.com,terminated,employee,,2026-01-01",
    )
    result = collect_hr(path)
    assert [p.user_name for p in result.tables["hr_people"]] == ["bo"]
    assert [(u.what, u.error) for u in result.unreadable] == [
        ("hr.csv line 4", "employee_id 'E1' already on line 2"),
        ("hr.csv line 2", "employee_id 'E1' is also on line 4"),
    ]
    unusable = result.statuses[0].detail["unusable_rows"]
    assert [(r["line"], r["user_name"]) for r in unusable] == [(2, "ann"), (4, "annb")]
