from msgspec.structs import replace

from auditor.model import Activity, IamRole, ServiceLastAccessed
from auditor.snapshot import AttributeGap, SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World, days_ago


def test_access_key_unused_boundary_and_never_used(findings_of):
    world = World()
    svc = world.iam_user("svc")
    world.key(svc, "AKIA45DAYS", created_days_ago=200, last_used_days_ago=45)
    world.key(svc, "AKIA44DAYS", created_days_ago=200, last_used_days_ago=44.9)
    world.key(svc, "AKIANEVER0", created_days_ago=45, last_used_days_ago=None)
    world.key(svc, "AKIAYOUNG0", created_days_ago=10, last_used_days_ago=None)
    world.key(svc, "AKIAOFF000", created_days_ago=300, last_used_days_ago=None, status="Inactive")
    found = {f.resource: f for f in _all(world, "iam-access-key-unused")}
    assert set(found) == {"AKIA45DAYS", "AKIANEVER0"}
    assert found["AKIANEVER0"].evidence["last_used"] == "never"
    assert found["AKIA45DAYS"].principal.type == "access_key"
    assert found["AKIA45DAYS"].account_id == DEV


def test_cloudtrail_use_refreshes_a_key_iam_thinks_stale(findings_of):
    world = World()
    svc = world.iam_user("svc")
    world.key(svc, "AKIATRAIL0", created_days_ago=200, last_used_days_ago=100)
    world.tables["activity"].append(
        Activity(kind="access_key", key="AKIATRAIL0", account_id=DEV, first_seen=days_ago(3), last_seen=days_ago(2))
    )
    assert _all(world, "iam-access-key-unused") == []


def test_access_key_old_boundary(findings_of):
    world = World()
    svc = world.iam_user("svc")
    world.key(svc, "AKIA90DAYS", created_days_ago=90, last_used_days_ago=1)
    world.key(svc, "AKIA89DAYS", created_days_ago=89.9, last_used_days_ago=1)
    assert [f.resource for f in _all(world, "iam-access-key-old")] == ["AKIA90DAYS"]


def test_console_user_without_mfa(findings_of):
    world = World()
    world.iam_user("console-nomfa", PROD, password=True, mfa=False)
    world.iam_user("console-mfa", PROD, password=True, mfa=True)
    world.iam_user("api-only", PROD, password=False, mfa=False)
    found = findings_of(world, "iam-console-user-without-mfa")
    assert set(found) == {"console-nomfa"}
    assert found["console-nomfa"].severity == "high"
    assert "CIS-AWS-1.10" in found["console-nomfa"].controls


def test_iam_rules_flag_nothing_in_an_account_whose_iam_source_failed_and_say_why(findings_of):
    world = World()
    user = world.iam_user("x", DEV, password=True)
    world.key(user, "AKIAFAILED", created_days_ago=300, last_used_days_ago=None)
    failed = SourceStatus(source="iam", account_id=DEV, status="failed", error="AccessDenied")
    for rule_id in ("iam-console-user-without-mfa", "iam-access-key-unused", "iam-user-inactive"):
        found = _all(world, rule_id, overrides=[failed])
        assert [f.severity for f in found] == ["info"], rule_id  # undecided, not flagged, not silent
        assert found[0].evidence["missing"] == f"IAM could not be read for account {DEV} (AccessDenied)"
        assert found[0].finding_id == _all(world, rule_id)[0].finding_id  # the id the real finding has


def _all(world, rule_id, **kwargs):
    from auditor.analyze import analyze
    from auditor.config import defaults

    return [f for f in analyze(world.snapshot(**kwargs), defaults(), world.as_of) if f.rule_id == rule_id]


# --- every IAM user, key, role and root user gets an outcome, with the fact that decided it ------------------


def _results(world, rule_id, overrides=()):
    """Rule ``rule_id``'s findings and verdicts."""
    from auditor.analyze import evaluate
    from auditor.config import defaults

    evaluation = evaluate(world.snapshot(overrides=list(overrides)), defaults(), world.as_of)
    return [r for r in [*evaluation.findings, *evaluation.verdicts] if r.rule_id == rule_id]


def _outcomes(world, rule_id, overrides=()):
    """Rule ``rule_id``'s findings and verdicts, keyed by (principal name, or account for a root user; account)."""
    return {
        (r.principal.name if r.principal.type != "root" else r.principal.id, r.account_id): r
        for r in _results(world, rule_id, overrides)
    }


def _undecided(result) -> str:
    assert result.severity == "info" and result.evidence["insufficient_evidence"] is True
    return result.evidence["missing"]


def test_a_cleared_key_or_user_says_which_fact_cleared_it():
    world = World()
    svc = world.iam_user("svc", password=True, mfa=True)
    world.key(svc, "AKIARECENT", created_days_ago=30, last_used_days_ago=3)
    world.key(svc, "AKIAOFF000", created_days_ago=300, last_used_days_ago=None, status="Inactive")
    world.iam_user("idle-api", password=False)

    unused = {r.resource: r for r in _results(world, "iam-access-key-unused")}
    assert unused["AKIARECENT"].reason == "last used 3 days ago (2026-11-25), within 45 days"
    assert unused["AKIAOFF000"].reason == "key is Inactive"
    old = {r.resource: r for r in _results(world, "iam-access-key-old")}
    assert old["AKIARECENT"].reason == "created 30 days ago (2026-10-29), within 90 days"
    mfa = _outcomes(world, "iam-console-user-without-mfa")
    assert mfa[("svc", DEV)].reason == "MFA device active"
    assert mfa[("idle-api", DEV)].reason == "no console password"
    inactive = _outcomes(world, "iam-user-inactive")
    assert inactive[("idle-api", DEV)].reason == "no console password and no active access key"
    assert inactive[("svc", DEV)].reason.startswith("last used 3 days ago")
    assert _outcomes(world, "iam-user-two-active-keys")[("svc", DEV)].reason == "1 active access key"


def test_no_active_key_is_claimed_when_the_keys_could_not_be_listed():
    world = World()
    ann = world.iam_user("ann", password=True)
    world.iam_user("bob", password=True)
    iam = SourceStatus(
        source="iam",
        account_id=DEV,
        status="partial",
        tables={"iam_users": "complete", "access_keys": "partial"},
        attributes=[AttributeGap(what="iam_user.access_keys", error="AccessDenied: no", objects=[ann.arn])],
    )
    keys = _outcomes(world, "iam-keys-on-console-user-without-mfa", [iam])
    assert _undecided(keys[("ann", DEV)]) == "the access keys of ann could not be listed (AccessDenied: no)"
    assert keys[("bob", DEV)].reason == "no active access key"  # the listing named ann only
    assert "could not be listed" in _undecided(_outcomes(world, "iam-user-two-active-keys", [iam])[("ann", DEV)])


def test_an_unread_key_use_needs_cloudtrail_over_the_whole_window():
    world = World(coverage_days=30)
    svc = world.iam_user("svc")
    world.key(svc, "AKIAUNREAD", created_days_ago=300, last_used_days_ago=None)
    gap = AttributeGap(what="access_key.last_used", error="Throttling: slow down", objects=["AKIAUNREAD"])
    iam = SourceStatus(source="iam", account_id=DEV, status="partial", attributes=[gap])
    unused = _outcomes(world, "iam-access-key-unused", [iam])[("svc", DEV)]
    assert _undecided(unused).startswith("IAM's last use of key AKIAUNREAD could not be read (Throttling: slow down)")
    assert "covers 30 days" in unused.evidence["missing"]
    assert "covers 30 days" in _undecided(_outcomes(world, "iam-user-inactive", [iam])[("svc", DEV)])
    world.coverage_days = 120  # CloudTrail saw the whole 45 days, and no use of the key
    assert _outcomes(world, "iam-access-key-unused", [iam])[("svc", DEV)].severity == "medium"


def test_a_stock_emulator_without_root_rows_or_access_advisor_is_undecided_per_account():
    """A credential report without its <root_account> row and failed Access Advisor jobs, as a stock emulator
    gives them: each account's root user and each IAM principal is undecided, naming what is missing."""
    world = World(root_users=False)
    world.iam_user("ci", PROD)
    world.tables["iam_roles"].append(
        IamRole(
            account_id=PROD,
            role_name="AWSServiceRoleForSupport",
            role_id="AROASUPPORT",
            arn=f"arn:aws:iam::{PROD}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
            path="/aws-service-role/support.amazonaws.com/",
        )
    )
    no_row = [
        SourceStatus(source="iam", account_id=a, status="partial", tables={"root_credentials": "partial"})
        for a in (MGMT, PROD)
    ]
    report_failed = SourceStatus(
        source="iam", account_id=DEV, status="partial", error="ReportTimeout", tables={"root_credentials": "failed"}
    )
    advisor = SourceStatus(
        source="access_advisor", account_id=PROD, status="failed", error="NotImplemented: no (iam, GenerateX)"
    )
    overrides = [*no_row, report_failed, advisor]
    for rule_id in ("iam-root-access-key", "iam-root-without-mfa"):
        roots = _outcomes(world, rule_id, overrides)
        assert set(roots) == {(MGMT, MGMT), (PROD, PROD), (DEV, DEV)}
        assert _undecided(roots[(PROD, PROD)]) == (
            f"the credential report of account {PROD} has no <root_account> row: nothing is known of its root user"
        )
        assert (
            _undecided(roots[(DEV, DEV)]) == f"the credential report of account {DEV} could not be read (ReportTimeout)"
        )
    services = _outcomes(world, "iam-unused-services", overrides)
    assert _undecided(services[("ci", PROD)]) == (
        f"IAM Access Advisor could not be read for account {PROD} (NotImplemented: no (iam, GenerateX))"
    )
    assert services[("AWSServiceRoleForSupport", PROD)].outcome == "exempt"


def test_root_rules_clear_a_root_user_with_mfa_and_no_keys():
    world = World()  # each account's root row: MFA on, no keys
    assert {r.reason for r in _outcomes(world, "iam-root-without-mfa").values()} == {
        "root MFA active (credential report)"
    }
    assert {r.reason for r in _outcomes(world, "iam-root-access-key").values()} == {
        "no active root access key (credential report)"
    }


def test_unused_services_decides_for_each_principal_from_what_access_advisor_answered():
    world = World()
    app = world.iam_user("app")
    lost = world.iam_user("lost")
    world.iam_user("nothing-granted")
    world.tables["service_access"] += [
        ServiceLastAccessed(
            account_id=DEV,
            entity_arn=app.arn,
            entity_type="user",
            service_namespace="s3",
            last_authenticated=days_ago(2),
        ),
    ]
    gap = AttributeGap(what="iam_user.service_access", error="Throttling: slow down", objects=[lost.arn])
    advisor = SourceStatus(
        source="access_advisor",
        account_id=DEV,
        status="partial",
        tables={"service_access": "partial"},
        attributes=[gap],
    )
    services = _outcomes(world, "iam-unused-services", [advisor])
    assert services[("app", DEV)].reason == "every one of its 1 granted services used within 90 days"
    assert services[("nothing-granted", DEV)].reason == "granted no service (Access Advisor)"
    assert _undecided(services[("lost", DEV)]) == (
        "the services lost is granted could not be read from Access Advisor (Throttling: slow down)"
    )


def test_aws_managed_roles_are_exempt_and_unread_groups_undecided():
    world = World()
    reserved = IamRole(
        account_id=PROD,
        role_name="AWSReservedSSO_Admin_0123",
        role_id="AROARESERVED",
        arn=f"arn:aws:iam::{PROD}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
        path="/aws-reserved/sso.amazonaws.com/",
        created=days_ago(400),
        attached_policies=[ADMIN_ARN],
    )
    world.tables["iam_roles"].append(reserved)
    user = world.iam_user("ops")
    world.tables["iam_users"][-1] = replace(user, groups=["admins"])
    admin = _outcomes(world, "iam-admin-policy-attached")
    assert admin[(reserved.role_name, PROD)].outcome == "exempt"
    assert _undecided(admin[("ops", DEV)]) == f"the policies of IAM group(s) admins of account {DEV} were not read"
    assert _outcomes(world, "iam-role-unused")[(reserved.role_name, PROD)].outcome == "exempt"


def test_iam_user_without_owner_says_what_cleared_it_or_what_is_missing():
    world = World()
    world.person("ann")
    world.group("data-platform")
    _user(world, "ann-tool", {"owner": "ann@example.com"})
    _user(world, "team-tool", {"owner": "data-platform"})
    _user(world, "stray", {"owner": "zed@example.com"})
    found = _outcomes(world, "iam-user-without-owner")
    assert found[("ann-tool", DEV)].reason == "owned by ann@example.com (HR: active)"
    assert (
        found[("team-tool", DEV)].reason == "owner tag data-platform names a team: Identity Center group data-platform"
    )
    assert found[("stray", DEV)].severity == "medium"

    groups_partial = SourceStatus(
        source="identity_center", status="partial", detail={"home_account_id": MGMT}, tables={"idc_groups": "partial"}
    )
    stray = _outcomes(world, "iam-user-without-owner", [groups_partial])[("stray", DEV)]
    assert "Identity Center groups were not listed completely" in _undecided(stray)
    assert stray.finding_id == found[("stray", DEV)].finding_id

    unusable = SourceStatus(
        source="hr",
        status="partial",
        error="1 row(s) of hr.csv could not be used",
        detail={"unusable_rows": [{"line": 7, "user_name": "zed", "email": "zed@example.com"}]},
    )
    assert _undecided(_outcomes(world, "iam-user-without-owner", [unusable])[("stray", DEV)]) == (
        "HR line 7 naming zed, zed@example.com could not be read"
    )
    hr_failed = SourceStatus(source="hr", status="failed", error="HrFeedError: empty")
    for result in _outcomes(world, "iam-user-without-owner", [hr_failed]).values():
        assert _undecided(result) == "the HR feed could not be read (HrFeedError: empty)"


def _user(world, name, tags):
    user = world.iam_user(name)
    world.tables["iam_users"][-1] = replace(user, tags=tags)


def test_a_principal_younger_than_the_threshold_is_cleared_only_by_its_creation_time():
    world = World()
    world.tables["iam_roles"] += [
        IamRole(
            account_id=DEV,
            role_name=name,
            role_id=f"AROA{name.upper()}",
            arn=f"arn:aws:iam::{DEV}:role/{name}",
            created=created,
        )
        for name, created in (("new", days_ago(10)), ("old", days_ago(400)))
    ]
    world.tables["service_access"] += [
        ServiceLastAccessed(
            account_id=DEV, entity_arn=f"arn:aws:iam::{DEV}:role/{name}", entity_type="role", service_namespace="s3"
        )
        for name in ("new", "old")
    ]
    services = _outcomes(world, "iam-unused-services")
    assert services[("new", DEV)].reason == "created 10 days ago (2026-11-18), within 90 days"
    assert services[("old", DEV)].severity == "low"
    roles = _outcomes(world, "iam-role-unused")
    assert roles[("new", DEV)].reason == "created 10 days ago (2026-11-18), within 90 days"


def test_a_user_known_only_from_a_young_key_is_undecided_not_young():
    world = World()
    user = world.iam_user("legacy", password=True)
    world.tables["iam_users"][-1] = replace(user, created=None)
    world.key(user, "AKIAYOUNG1", created_days_ago=10, last_used_days_ago=None)
    (result,) = _results(world, "iam-user-inactive")
    assert _undecided(result) == (
        "the creation time of legacy: it is known to exist only since "
        f"{days_ago(10).isoformat()} (access_key_creation_time, 10 days), fewer than the 90 days the rule needs"
    )
