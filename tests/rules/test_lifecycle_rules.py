from datetime import date

from auditor.config import defaults
from auditor.snapshot import SourceStatus
from tests.builders import MGMT, World


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


# --- every person gets a verdict, or a finding that says what is missing ----------------------------------


def _outcomes(world, rule_id, *overrides, settings=None):
    """Principal name -> the rule's findings and verdicts, as (severity or outcome, missing or reason, resource)."""
    from auditor.analyze import evaluate

    evaluation = evaluate(world.snapshot(overrides=list(overrides)), settings or defaults(), world.as_of)
    outcomes: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for finding in evaluation.findings:
        if finding.rule_id == rule_id:
            entry = (finding.severity, finding.evidence.get("missing"), finding.resource)
            outcomes.setdefault(finding.principal.name, []).append(entry)
    for verdict in evaluation.verdicts:
        if verdict.rule_id == rule_id:
            outcomes.setdefault(verdict.principal.name, []).append((verdict.outcome, verdict.reason, verdict.resource))
    return outcomes


def _memberships(state: str) -> SourceStatus:
    every = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
    return SourceStatus(
        source="identity_center",
        status="partial",
        error="ThrottlingException: Rate exceeded (identitystore, ListGroupMemberships)",
        detail={"home_account_id": MGMT},
        tables={**dict.fromkeys(every, "complete"), "idc_memberships": state},
    )


def test_contractor_verdicts_name_the_hr_fact():
    world = World()
    for name, kind, end in [
        ("emp", "employee", None),
        ("open", "contractor", None),
        ("later", "vendor", date(2027, 3, 1)),
    ]:
        world.idc_user(name)
        world.person(name, employment_type=kind, end_date=end)
    world.idc_user("gone", status="DISABLED")
    world.person("gone", employment_type="contractor", end_date=date(2026, 1, 1))
    outcomes = _outcomes(world, "idc-contractor-past-end-date")
    assert outcomes["emp"] == [("cleared", "not a contractor or vendor (HR: employee)", None)]
    assert outcomes["open"] == [("cleared", "contractor with no end date in HR", None)]
    assert outcomes["later"] == [("cleared", "vendor engagement ends 2027-03-01", None)]
    assert outcomes["gone"] == [("cleared", "no access left: disabled, in no group, assigned to no account", None)]
    ((severity, missing, _),) = _outcomes(world, "idc-contractor-past-end-date", _memberships("partial"))["gone"]
    assert severity == "info" and "group memberships" in missing


def test_no_use_on_leave_is_claimed_only_over_an_observed_window():
    world = World()
    world.idc_user("away")
    world.person("away", status="leave")
    assert _outcomes(world, "idc-access-used-on-leave")["away"] == [
        ("cleared", "on leave, no sign-in within 7 days (no use observed)", None)
    ]
    failed = SourceStatus(
        source="cloudtrail", account_id=MGMT, status="failed", error="AccessDenied: (s3, ListObjectsV2)"
    )
    ((severity, missing, _),) = _outcomes(world, "idc-access-used-on-leave", failed)["away"]
    assert severity == "info" and "AccessDenied" in missing


def test_mover_without_all_memberships_or_group_names_is_undecided():
    world = World()
    mover = world.idc_user("mo")
    world.group("Engineering", mover)
    world.person("mo", department="engineering", previous_department="finance")
    assert _outcomes(world, "idc-mover-keeps-old-access")["mo"] == [
        ("cleared", "moved from finance and keeps none of its groups", None)
    ]
    ((severity, missing, _),) = _outcomes(world, "idc-mover-keeps-old-access", _memberships("partial"))["mo"]
    assert severity == "info" and "group memberships" in missing
    world.tables["idc_groups"].clear()  # the membership names a group whose name is unknown: maybe finance's
    ((severity, missing, _),) = _outcomes(world, "idc-mover-keeps-old-access")["mo"]
    assert (
        severity == "info" and missing == "group(s) gid-Engineering are not in the snapshot (their names are unknown)"
    )


def test_birthright_membership_of_an_unknown_group_is_undecided_not_beyond():
    from auditor.config import Settings, validate

    settings = Settings(values=validate({"rules": {"department_groups": {"engineering": ["developers"]}}}, "test"))
    world = World()
    user = world.idc_user("mia")
    world.group("developers", user)
    secret = world.group("secret-project", user)
    world.person("mia")
    world.idc_user("solo")
    world.person("solo")
    outcomes = _outcomes(world, "idc-access-beyond-birthright", settings=settings)
    assert outcomes["mia"] == [("low", None, secret.group_id)]
    assert outcomes["solo"] == [("cleared", "in no group", None)]
    world.tables["idc_groups"].remove(secret)
    ((severity, missing, resource),) = _outcomes(world, "idc-access-beyond-birthright", settings=settings)["mia"]
    assert (severity, resource) == ("info", secret.group_id)
    assert missing == "group gid-secret-project is not in the snapshot (its name is unknown)"
