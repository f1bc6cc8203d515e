from datetime import date, timedelta

from auditor.snapshot import SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World


def test_leaver_still_enabled_is_critical_with_days_since_termination(findings_of):
    world = World()
    alice = world.idc_user("alice")
    world.group("engineering", alice)
    world.person("alice", status="terminated", end_date=date(2026, 11, 1))
    found = findings_of(world, "idc-leaver-with-access")
    assert found["alice"].severity == "critical"
    assert found["alice"].evidence["days_since_termination"] == 27
    assert found["alice"].evidence["groups"] == ["engineering"]


def test_disabled_leaver_without_memberships_is_clean_but_with_memberships_is_low(findings_of):
    world = World()
    world.idc_user("gone", status="DISABLED")
    lingering = world.idc_user("lingering", status="DISABLED")
    world.group("data", lingering)
    world.person("gone", status="terminated")
    world.person("lingering", status="terminated")
    found = findings_of(world, "idc-leaver-with-access")
    assert "gone" not in found
    assert found["lingering"].severity == "low"


def test_active_and_on_leave_people_are_not_leavers(findings_of):
    world = World()
    world.idc_user("bob")
    world.idc_user("carol")
    world.person("bob")
    world.person("carol", status="leave")
    assert findings_of(world, "idc-leaver-with-access") == {}


def test_leaver_rule_claims_nothing_and_says_so_when_hr_failed(findings_of):
    world = World()
    world.idc_user("alice")
    world.person("alice", status="terminated")
    failed = SourceStatus(source="hr", status="failed", error="no HR feed")
    found = findings_of(world, "idc-leaver-with-access", overrides=[failed])
    assert found["alice"].severity == "info"
    assert found["alice"].evidence["missing"] == "the HR feed could not be read (no HR feed)"


def test_not_in_hr_matches_by_user_name_then_email_case_insensitively(findings_of):
    world = World()
    world.idc_user("Dave")  # user name differs only by case
    world.idc_user("erin.x", email="Erin@Example.com")  # matched by email
    world.idc_user("mallory")  # nobody
    world.idc_user("breakglass-admin")  # exempt by name
    world.person("dave")
    world.person("erin", email="erin@example.com")
    found = findings_of(world, "idc-user-not-in-hr")
    assert set(found) == {"mallory"}
    assert found["mallory"].severity == "high"
    assert found["mallory"].category == "orphaned"


def test_unreadable_hr_row_gives_insufficient_evidence_not_orphaned(findings_of):
    world = World()
    world.idc_user("frank")
    hr = SourceStatus(
        source="hr",
        status="partial",
        error="1 row",
        detail={"unusable_rows": [{"line": 7, "user_name": "frank", "email": None}]},
    )
    found = findings_of(world, "idc-user-not-in-hr", overrides=[hr])
    assert found["frank"].severity == "info"
    assert found["frank"].evidence["insufficient_evidence"] is True
    assert "line 7" in found["frank"].evidence["missing"]


def test_inactive_fires_from_the_threshold_day(findings_of):
    world = World()
    for name, idle in [("idle90", 90), ("idle89", 89.9), ("recent", 3)]:
        user = world.idc_user(name)
        world.person(name)
        world.signed_in(user, idle)
    found = findings_of(world, "idc-user-inactive")
    assert set(found) == {"idle90"}
    assert found["idle90"].evidence["days_idle"] == 90
    assert found["idle90"].severity == "medium"


def test_old_style_sign_in_by_user_name_counts(findings_of):
    world = World()
    user = world.idc_user("grace")
    world.signed_in(user, 5, by="name")
    assert findings_of(world, "idc-user-inactive") == {}
    assert findings_of(world, "idc-user-never-signed-in") == {}


def test_inactive_with_short_coverage_is_insufficient_evidence(findings_of):
    world = World(coverage_days=60)
    user = world.idc_user("henry")
    world.signed_in(user, 59)
    found = findings_of(world, "idc-user-inactive")
    # 59 days idle inside a 60-day window: not inactive, and nothing claimed
    assert found == {}
    world2 = World(coverage_days=60)
    old = world2.idc_user("ivan", created_days_ago=400)
    world2.signed_in(old, 200)  # seen before the window (e.g. carried in an older snapshot)
    found2 = findings_of(world2, "idc-user-inactive")
    assert found2["ivan"].severity == "info"
    assert found2["ivan"].evidence["insufficient_evidence"] is True
    assert "60 days" in found2["ivan"].evidence["missing"]


def test_failed_cloudtrail_in_home_account_never_claims_inactivity(findings_of):
    world = World()
    world.idc_user("judy")  # no activity at all
    failed = SourceStatus(
        source="cloudtrail", account_id=MGMT, status="failed", error="AccessDenied: (s3, ListObjectsV2)"
    )
    found = findings_of(world, "idc-user-inactive", overrides=[failed])
    assert found["judy"].severity == "info"
    assert "AccessDenied" in found["judy"].evidence["missing"]
    assert findings_of(world, "idc-user-never-signed-in", overrides=[failed]) == {}


def test_young_user_is_not_inactive(findings_of):
    world = World()
    world.idc_user("kim", created_days_ago=20)
    assert findings_of(world, "idc-user-inactive") == {}
    assert findings_of(world, "idc-user-never-signed-in") == {}


def test_never_signed_in_boundary_and_handover_to_inactive(findings_of):
    world = World()
    world.idc_user("new30", created_days_ago=30)
    world.idc_user("new29", created_days_ago=29.5)
    world.idc_user("ancient", created_days_ago=400)  # older than the 120-day window: inactive, not "never"
    never = findings_of(world, "idc-user-never-signed-in")
    inactive = findings_of(world, "idc-user-inactive")
    assert set(never) == {"new30"}
    assert never["new30"].evidence["last_activity"] == "never"
    assert set(inactive) == {"ancient"}


def test_disabled_users_are_not_inactive(findings_of):
    world = World()
    world.idc_user("off", status="DISABLED")
    assert findings_of(world, "idc-user-inactive") == {}


def test_direct_admin_assignment_is_critical_in_production_and_high_elsewhere(findings_of):
    world = World()
    admin = world.permission_set("AdministratorAccess", managed=[ADMIN_ARN])
    read = world.permission_set("ReadOnly", managed=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    inline = world.permission_set(
        "Custom", inline='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    lee, max_, nia = world.idc_user("lee"), world.idc_user("max"), world.idc_user("nia")
    world.assign(admin, lee, PROD)
    world.assign(inline, max_, DEV)
    world.assign(read, nia, PROD)
    team = world.group("admins", nia)
    world.assign(admin, team, PROD)  # via a group: not this rule
    found = findings_of(world, "idc-admin-direct-assignment")
    assert set(found) == {"lee", "max"}
    assert found["lee"].severity == "critical" and found["lee"].account_id == PROD
    assert found["max"].severity == "high"
    assert found["max"].evidence["admin_because"] == ["inline policy allows * on *"]


def test_break_glass_direct_assignment_is_exempt(findings_of):
    world = World()
    bg = world.permission_set("BreakGlassAdmin", managed=[ADMIN_ARN])
    world.assign(bg, world.idc_user("oscar"), PROD)
    assert findings_of(world, "idc-admin-direct-assignment") == {}


def test_finding_ids_are_stable_and_distinct():
    from auditor.analyze import analyze
    from auditor.config import defaults

    world = World()
    world.idc_user("pat")
    world.idc_user("quinn")
    first = [f.finding_id for f in analyze(world.snapshot(), defaults(), world.as_of)]
    second = [f.finding_id for f in analyze(world.snapshot(), defaults(), world.as_of + timedelta(days=1))]
    assert len(first) == len(set(first)) == 4  # not in HR and inactive, for each
    assert set(first) == set(second)


# --- every user gets a verdict, or a finding that says what is missing ----------------------------------


def _outcomes(world, rule_id, *overrides):
    """Principal name -> the rule's findings and verdicts for it, as (outcome or severity, reason or missing)."""
    from auditor.analyze import evaluate
    from auditor.config import defaults

    evaluation = evaluate(world.snapshot(overrides=list(overrides)), defaults(), world.as_of)
    outcomes: dict[str, list[tuple[str, str | None]]] = {}
    for finding in evaluation.findings:
        if finding.rule_id == rule_id:
            outcomes.setdefault(finding.principal.name, []).append((finding.severity, finding.evidence.get("missing")))
    for verdict in evaluation.verdicts:
        if verdict.rule_id == rule_id:
            outcomes.setdefault(verdict.principal.name, []).append((verdict.outcome, verdict.reason))
    return outcomes


def _identity_center(**tables) -> SourceStatus:
    """Identity Center listed every table completely except ``tables`` (name -> partial or failed)."""
    every = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
    return SourceStatus(
        source="identity_center",
        status="partial",
        error="ThrottlingException: Rate exceeded (identitystore, ListGroupMemberships)",
        detail={"home_account_id": MGMT},
        tables={**dict.fromkeys(every, "complete"), **tables},
    )


def test_leaver_verdicts_say_what_hr_says_and_what_access_is_left():
    world = World()
    world.idc_user("stays")
    world.person("stays", end_date=date(2027, 1, 31))
    world.idc_user("gone", status="DISABLED")
    world.person("gone", status="terminated")
    world.idc_user("nobody")
    outcomes = _outcomes(world, "idc-leaver-with-access")
    assert outcomes["stays"] == [("cleared", "HR status active (employee, end date 2027-01-31)")]
    assert outcomes["gone"] == [("cleared", "no access left: disabled, in no group, assigned to no account")]
    assert outcomes["nobody"] == [("cleared", "no HR row names the user (idc-user-not-in-hr reports it)")]


def test_disabled_leaver_whose_memberships_were_read_partly_is_undecided_not_cleared():
    world = World()
    world.idc_user("gone", status="DISABLED")
    world.person("gone", status="terminated")
    ((severity, missing),) = _outcomes(world, "idc-leaver-with-access", _identity_center(idc_memberships="partial"))[
        "gone"
    ]
    assert severity == "info"
    assert "did not list group memberships completely (ThrottlingException" in missing


def test_a_user_missing_from_a_partly_read_hr_feed_is_not_called_orphaned():
    world = World()
    world.idc_user("unknown")
    world.idc_user("known")
    world.person("known")
    partial = SourceStatus(source="hr", status="partial", error="the feed was cut short")
    outcomes = _outcomes(world, "idc-user-not-in-hr", partial)
    assert outcomes["known"] == [("cleared", "HR row at line 2 (HR status active)")]
    ((severity, missing),) = outcomes["unknown"]
    assert severity == "info" and "did not list HR rows completely (the feed was cut short)" in missing
    for rule_id in ("idc-leaver-with-access", "idc-contractor-past-end-date"):
        assert _outcomes(world, rule_id, partial)["unknown"][0][0] == "info", rule_id


def test_unreadable_hr_rows_that_name_someone_else_leave_the_absence_a_fact():
    world = World()
    world.idc_user("mallory")
    hr = SourceStatus(
        source="hr",
        status="partial",
        error="1 row",
        detail={"unusable_rows": [{"line": 7, "user_name": "frank", "email": None}]},
    )
    assert _outcomes(world, "idc-user-not-in-hr", hr)["mallory"] == [("high", None)]
    hr_anonymous = SourceStatus(
        source="hr", status="partial", error="1 row", detail={"unusable_rows": [{"line": 7}]}
    )  # a row that names nobody could be anyone's
    assert _outcomes(world, "idc-user-not-in-hr", hr_anonymous)["mallory"][0][0] == "info"


def test_exemptions_are_verdicts_with_their_reason():
    world = World()
    world.idc_user("breakglass-admin")
    outcomes = _outcomes(world, "idc-user-not-in-hr")
    assert outcomes["breakglass-admin"] == [("exempt", "break-glass identity ([rules] break_glass_patterns)")]
    for rule_id in ("idc-user-inactive", "idc-user-never-signed-in"):
        ((outcome, reason),) = _outcomes(world, rule_id)["breakglass-admin"]
        assert outcome == "exempt" and "break-glass" in reason


def test_idle_rules_clear_with_the_fact():
    world = World()
    world.signed_in(world.idc_user("busy"), 3)
    world.idc_user("joiner", created_days_ago=10)
    world.idc_user("off", status="DISABLED")
    inactive = _outcomes(world, "idc-user-inactive")
    never = _outcomes(world, "idc-user-never-signed-in")
    assert inactive["busy"] == [("cleared", "last sign-in 3 days ago (threshold 90)")]
    assert never["busy"] == [("cleared", "signed in, last 3 days ago")]
    assert inactive["joiner"] == [("cleared", "created 10 days ago (threshold 90)")]
    assert never["joiner"] == [("cleared", "created 10 days ago (threshold 30)")]
    assert inactive["off"] == never["off"] == [("cleared", "disabled: cannot sign in")]


def test_inactivity_is_not_claimed_from_a_partly_read_trail():
    world = World()
    world.idc_user("quiet")
    partial = SourceStatus(
        source="cloudtrail",
        account_id=MGMT,
        status="partial",
        error="3 of 900 log objects could not be read",
        coverage_start=world.as_of - timedelta(days=120),
        coverage_end=world.as_of,
        tables={"activity": "partial"},
    )
    ((severity, missing),) = _outcomes(world, "idc-user-inactive", partial)["quiet"]
    assert severity == "info"
    assert missing == f"CloudTrail for account {MGMT} was read partly (3 of 900 log objects could not be read)"


def test_direct_admin_rule_decides_each_direct_assignment_and_the_rest():
    world = World()
    read = world.permission_set("ReadOnly", managed=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    reader = world.idc_user("reader")
    world.assign(read, reader, DEV)
    world.idc_user("grouped")
    outcomes = _outcomes(world, "idc-admin-direct-assignment")
    assert outcomes["reader"] == [("cleared", "ReadOnly in dev grants no administrator power")]
    assert outcomes["grouped"] == [("cleared", "no direct assignment")]
    partly = _outcomes(world, "idc-admin-direct-assignment", _identity_center(account_assignments="partial"))
    assert ("cleared", "ReadOnly in dev grants no administrator power") in partly["reader"]
    assert sorted(severity for severity, _ in partly["reader"]) == ["cleared", "info"]  # others may be unlisted
    ((severity, missing),) = partly["grouped"]
    assert severity == "info" and "did not list account assignments completely" in missing
