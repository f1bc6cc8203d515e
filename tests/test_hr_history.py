from auditor.hr_history import roles, with_moves
from auditor.model import HrPerson


def _person(department: str, title: str = "Engineer", **extra) -> HrPerson:
    return HrPerson(
        line=2,
        employee_id="E1",
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
