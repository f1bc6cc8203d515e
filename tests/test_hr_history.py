import msgspec
import pytest

from auditor.hr_history import cut_short, is_cut_short, roles, with_moves
from auditor.model import HrPerson
from auditor.snapshot import SourceStatus


def _person(department: str, title: str = "Engineer", employee_id: str = "E1", **extra) -> HrPerson:
    return HrPerson(
        line=2,
        employee_id=employee_id,
        email="a@example.com",
        user_name="a",
        display_name="A",
        department=department,
        title=title,
        manager_email="m@example.com",
        status="active",
        employment_type="employee",
        **extra,
    )


def test_a_department_change_since_the_last_run_is_a_move_and_stays_one():
    day1 = [_person("finance")]
    day2 = with_moves([_person("engineering", "Developer")], roles(day1))
    assert (day2[0].previous_department, day2[0].previous_title) == ("finance", "Engineer")
    day3 = with_moves([_person("engineering", "Developer")], roles(day2))
    assert day3[0].previous_department == "finance"  # carried forward while the rule needs it


def test_the_feed_own_column_wins_and_new_people_are_untouched():
    moved = with_moves([_person("engineering", previous_department="data")], roles([_person("finance")]))
    assert moved[0].previous_department == "data"
    assert with_moves([_person("finance")], {}) == [_person("finance")]
    assert with_moves([_person("finance")], roles([_person("finance")])) == [_person("finance")]


FEED = SourceStatus(source="hr", detail={"file": "hr.csv", "rows": 0, "unusable_rows": []})


def _staff(count: int) -> list[HrPerson]:
    return [
        msgspec.structs.replace(
            _person("engineering", employee_id=f"E{n:04d}"), user_name=f"u{n}", email=f"u{n}@example.com"
        )
        for n in range(count)
    ]


EVERYONE = {f"u{n}" for n in range(1000)}  # the directory: every one of them still has a user


@pytest.mark.parametrize(
    ("remembered", "tonight", "cut"),
    [
        (100, 90, False),  # 10 leavers dropped from the export: ordinary
        (100, 89, True),  # 11 of 100 gone at once: more than a tenth
        (20, 16, False),  # 4 gone of 20 is a fifth, but fewer than 5 people
        (20, 15, True),
        (0, 0, False),  # the first run: nothing to compare with
    ],
)
def test_a_feed_is_cut_short_when_more_than_the_share_and_at_least_five_remembered_people_are_missing(
    remembered, tonight, cut
):
    status = cut_short(FEED, _staff(tonight), roles(_staff(remembered)), EVERYONE, 0.1)
    assert is_cut_short(status) is cut
    assert (status.status, status.tables.get("hr_people")) == (("partial", "partial") if cut else ("ok", None))
    if cut:
        missing = remembered - tonight
        assert status.error.startswith(f"{missing} of the {remembered} employees of the last run's HR feed")
        assert "are not in hr.csv" in status.error and "max_dropped_share 10%" in status.error
        assert (
            status.detail["dropped_since_last_run"]["examples"] == [f"E{n:04d}" for n in range(tonight, remembered)][:5]
        )


def test_only_the_missing_who_still_have_a_user_count_and_names_not_kept_count_as_having_one():
    remembered = roles(_staff(100))
    gone_from_the_directory_too = {f"u{n}" for n in range(60)}  # 40 left both: leavers, or another estate
    assert not is_cut_short(cut_short(FEED, _staff(60), remembered, gone_from_the_directory_too, 0.1))
    assert is_cut_short(cut_short(FEED, _staff(60), remembered, EVERYONE, 0.1))
    kept_before_names = {e: kept[:4] for e, kept in remembered.items()}  # a run recorded by an older version
    assert is_cut_short(cut_short(FEED, _staff(60), kept_before_names, set(), 0.1))


def test_unusable_rows_are_people_still_there_and_a_feed_never_read_is_left_as_it_is():
    rows = [{"line": n, "user_name": f"u{n}", "email": None} for n in range(8)]
    with_unusable = msgspec.structs.replace(FEED, status="partial", error="8 row(s) of hr.csv could not be used")
    with_unusable = msgspec.structs.replace(with_unusable, detail={**FEED.detail, "unusable_rows": rows})
    remembered = roles(_staff(100))
    assert not is_cut_short(cut_short(with_unusable, _staff(90), remembered, EVERYONE, 0.1))  # 10 - 8 unusable
    kept = cut_short(with_unusable, _staff(80), remembered, EVERYONE, 0.1)
    assert kept.error.startswith("8 row(s) of hr.csv could not be used; 20 of the 100 employees")
    never_read = SourceStatus(source="hr", status="failed", error="no HR feed given")
    assert cut_short(never_read, [], remembered, EVERYONE, 0.1) is never_read
