from datetime import date

from auditor.config import defaults
from tests.builders import World


def test_employee_past_end_date_is_a_leaver_even_if_hr_still_says_active(findings_of):
    world = World()
    world.group("eng", world.idc_user("ana"))
    world.person("ana", end_date=date(2026, 11, 27))  # yesterday
    world.idc_user("ben")
    world.person("ben", end_date=date(2026, 11, 28))  # today: still employed
    assert set(findings_of(world, "idc-leaver-with-access")) == {"ana"}


def test_contractor_past_end_date_boundary(findings_of):
    world = World()
    for name, end in [("past", date(2026, 11, 27)), ("today", date(2026, 11, 28)), ("none", None)]:
        world.idc_user(name)
        world.person(name, employment_type="contractor", end_date=end)
    world.idc_user("vendor")
    world.person("vendor", employment_type="vendor", end_date=date(2026, 1, 1))
    found = findings_of(world, "idc-contractor-past-end-date")
    assert set(found) == {"past", "vendor"}
    assert found["past"].evidence["days_past_end_date"] == 1
    assert found["past"].severity == "high"


def test_contractor_with_no_access_left_is_clean(findings_of):
    world = World()
    world.idc_user("gone", status="DISABLED")
    world.person("gone", employment_type="contractor", end_date=date(2026, 1, 1))
    assert findings_of(world, "idc-contractor-past-end-date") == {}


def test_access_used_on_leave(findings_of):
    world = World()
    for name, days in [("used", 7), ("older", 7.1)]:
        user = world.idc_user(name)
        world.person(name, status="leave")
        world.signed_in(user, days)
    active = world.idc_user("active")
    world.person("active")
    world.signed_in(active, 1)
    assert set(findings_of(world, "idc-access-used-on-leave")) == {"used"}


def test_mover_keeps_groups_of_the_old_department_by_name(findings_of):
    world = World()
    mover = world.idc_user("mo")
    world.group("Finance-Analysts", mover)
    world.group("Engineering", mover)
    world.person("mo", department="engineering", previous_department="finance")
    settled = world.idc_user("settled")
    world.group("Engineering-2", settled)
    world.person("settled", department="engineering", previous_department="finance")
    found = findings_of(world, "idc-mover-keeps-old-access")
    assert set(found) == {"mo"}
    assert found["mo"].evidence["old_groups_kept"] == ["Finance-Analysts"]


def test_mover_and_birthright_with_a_department_map():
    from auditor.analyze import analyze
    from auditor.config import validate

    world = World()
    user = world.idc_user("mia")
    world.group("ledger", user)  # finance's
    world.group("developers", user)  # engineering's
    world.group("all-staff", user)  # shared
    world.group("secret-project", user)  # nobody's
    world.person("mia", department="engineering", previous_department="finance")
    values = validate(
        {
            "rules": {
                "department_groups": {"engineering": ["developers"], "finance": ["ledger"]},
                "shared_groups": ["all-staff"],
            }
        },
        "test",
    )
    settings = defaults().__class__(values=values)
    found = analyze(world.snapshot(), settings, world.as_of)
    mover = [f for f in found if f.rule_id == "idc-mover-keeps-old-access"]
    beyond = [f for f in found if f.rule_id == "idc-access-beyond-birthright"]
    assert mover[0].evidence["old_groups_kept"] == ["ledger"]
    assert [f.evidence["group"] for f in beyond] == ["secret-project"]


def test_birthright_is_silent_without_a_map(findings_of):
    world = World()
    world.group("anything", world.idc_user("zed"))
    world.person("zed")
    assert findings_of(world, "idc-access-beyond-birthright") == {}
