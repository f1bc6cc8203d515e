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
