from datetime import date

from auditor.analyze import analyze, evaluate
from auditor.config import defaults, validate
from auditor.model import AccountAssignment, Activity, IamRole, RootCredentials
from auditor.snapshot import SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World, days_ago


def _all(world, rule_id, settings=None, **kwargs):
    found = analyze(world.snapshot(**kwargs), settings or defaults(), world.as_of)
    return [f for f in found if f.rule_id == rule_id]


def test_empty_group_with_assignments_and_unassigned_permission_set():
    world = World()
    ro = world.permission_set("ReadOnly")
    world.permission_set("Forgotten")
    world.assign(ro, world.group("ghost-team"), DEV)
    world.assign(ro, world.group("real-team", world.idc_user("ann")), DEV)
    assert [f.principal.name for f in _all(world, "idc-group-empty-with-assignments")] == ["ghost-team"]
    assert [f.principal.name for f in _all(world, "idc-permission-set-unassigned")] == ["Forgotten"]


def test_assignment_to_missing_principal_only_when_the_directory_was_read_fully():
    world = World()
    ro = world.permission_set("ReadOnly")
    world.tables["account_assignments"].append(
        AccountAssignment(account_id=PROD, permission_set_arn=ro.arn, principal_type="USER", principal_id="gone-id")
    )
    (finding,) = _all(world, "idc-assignment-to-missing-principal")
    assert (finding.principal.id, finding.account_id, finding.severity) == ("gone-id", PROD, "medium")
    partial = SourceStatus(source="identity_center", status="partial", detail={"home_account_id": MGMT})
    (undecided,) = _all(world, "idc-assignment-to-missing-principal", overrides=[partial])
    assert undecided.finding_id == finding.finding_id  # the same grant, not claimed: what is missing instead
    assert undecided.severity == "info" and undecided.evidence["insufficient_evidence"] is True
    assert "idc_users (partial)" in undecided.evidence["missing"]


def test_break_glass_permission_set_use_is_critical_inside_the_window():
    world = World()
    user = world.idc_user("oncall")
    for days, account in [(30, PROD), (30.1, DEV)]:
        world.tables["activity"].append(
            Activity(
                kind="idc_assignment",
                key=f"id:{user.user_id}",
                account_id=account,
                detail="BreakGlassAdmin",
                first_seen=days_ago(days),
                last_seen=days_ago(days),
                events=12,
            )
        )
    world.tables["activity"].append(
        Activity(
            kind="idc_assignment",
            key=f"id:{user.user_id}",
            account_id=PROD,
            detail="ReadOnly",
            first_seen=days_ago(1),
            last_seen=days_ago(1),
        )
    )
    (finding,) = _all(world, "emergency-access-used")
    assert (finding.severity, finding.account_id, finding.principal.name) == ("critical", PROD, "oncall")
    assert finding.category == "emergency_access"


def test_break_glass_role_and_user_sign_in():
    world = World()
    role_arn = f"arn:aws:iam::{PROD}:role/emergency-admin"
    world.tables["activity"].append(
        Activity(kind="iam_role", key=role_arn, account_id=PROD, first_seen=days_ago(2), last_seen=days_ago(2))
    )
    world.tables["activity"].append(
        Activity(kind="idc_user", key="name:breakglass-1", first_seen=days_ago(3), last_seen=days_ago(3))
    )
    names = sorted(f.principal.name for f in _all(world, "emergency-access-used"))
    assert names == ["breakglass-1", "emergency-admin"]


def test_root_rules():
    world = World()
    world.tables["root_credentials"] += [
        RootCredentials(account_id=PROD, mfa_active=False, access_key_1_active=True, password_last_used=days_ago(10)),
        RootCredentials(account_id=DEV, mfa_active=True, password_last_used=days_ago(91)),
    ]
    assert [f.account_id for f in _all(world, "iam-root-access-key")] == [PROD]
    assert [f.account_id for f in _all(world, "iam-root-without-mfa")] == [PROD]
    assert [f.account_id for f in _all(world, "iam-root-used")] == [PROD]
    world.tables["activity"].append(
        Activity(kind="root", key=DEV, account_id=DEV, first_seen=days_ago(5), last_seen=days_ago(5))
    )
    assert sorted(f.account_id for f in _all(world, "iam-root-used")) == [PROD, DEV]


def test_iam_user_inactive_two_keys_and_keys_without_mfa():
    world = World()
    idle = world.iam_user("idle", password=True, mfa=True)
    world.key(idle, "AKIAIDLE00", created_days_ago=300, last_used_days_ago=95)
    busy = world.iam_user("busy", password=True, mfa=False)
    world.key(busy, "AKIABUSY01", created_days_ago=30, last_used_days_ago=1)
    world.key(busy, "AKIABUSY02", created_days_ago=20, last_used_days_ago=2)
    world.iam_user("nocreds")  # nothing to use: not "inactive"
    assert [f.principal.name for f in _all(world, "iam-user-inactive")] == ["idle"]
    assert [f.principal.name for f in _all(world, "iam-user-two-active-keys")] == ["busy"]
    assert [f.principal.name for f in _all(world, "iam-keys-on-console-user-without-mfa")] == ["busy"]


def test_iam_user_owner_from_tag_or_name():
    from auditor.model import IamUser

    world = World()
    world.person("ann")
    world.person("leaver", status="terminated")
    for name, tags in [
        ("ann", {}),
        ("ci-bot", {"owner": "ann@example.com"}),
        ("orphan", {}),
        ("legacy", {"Owner": "leaver@example.com"}),
    ]:
        world.tables["iam_users"].append(
            IamUser(
                account_id=DEV, user_name=name, user_id=f"AIDA{name}", arn=f"arn:aws:iam::{DEV}:user/{name}", tags=tags
            )
        )
    found = {f.principal.name: f for f in _all(world, "iam-user-without-owner")}
    assert set(found) == {"orphan", "legacy"}
    assert found["legacy"].severity == "high"


def test_admin_policy_attached_and_direct_user_policy():
    from auditor.model import IamGroup, IamUser

    world = World()
    world.tables["iam_groups"].append(
        IamGroup(account_id=DEV, group_name="admins", arn="arn:g", attached_policies=[ADMIN_ARN])
    )
    world.tables["iam_users"].append(
        IamUser(account_id=DEV, user_name="op", user_id="AIDAOP", arn="arn:u", groups=["admins"])
    )
    world.tables["iam_users"].append(
        IamUser(
            account_id=DEV,
            user_name="direct",
            user_id="AIDADIRECT",
            arn="arn:u2",
            attached_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        )
    )
    world.tables["iam_roles"].append(
        IamRole(
            account_id=DEV,
            role_name="deployer",
            role_id="AROA1",
            arn="arn:r",
            attached_policies=[ADMIN_ARN],
            created=days_ago(400),
            last_used=days_ago(1),
        )
    )
    found = {f.principal.name: f for f in _all(world, "iam-admin-policy-attached")}
    assert found["op"].evidence["paths"] == [f"via group admins: {ADMIN_ARN}"]
    assert found["deployer"].severity == "medium"
    assert [f.principal.name for f in _all(world, "iam-user-direct-policy")] == ["direct"]


def test_role_unused_boundary_and_exemptions():
    world = World()
    for name, last, path in [
        ("r90", 90, "/"),
        ("r89", 89.9, "/"),
        ("never", None, "/"),
        ("AWSServiceRoleForX", None, "/aws-service-role/x/"),
        ("AWSReservedSSO_A_0123456789abcdef", None, "/aws-reserved/sso.amazonaws.com/"),
    ]:
        world.tables["iam_roles"].append(
            IamRole(
                account_id=DEV,
                role_name=name,
                role_id=f"AROA{name}",
                arn=f"arn:aws:iam::{DEV}:role{path}{name}",
                path=path,
                created=days_ago(400),
                last_used=None if last is None else days_ago(last),
            )
        )
    assert sorted(f.principal.name for f in _all(world, "iam-role-unused")) == ["never", "r90"]


def test_exceptions_suppress_until_they_expire():
    world = World()
    svc = world.iam_user("ci-deployer")
    world.key(svc, "AKIAOLD000", created_days_ago=200, last_used_days_ago=1)
    live = {
        "rule": "iam-access-key-old",
        "principal": "ci-*",
        "owner": "lead@example.com",
        "justification": "vendor rotation",
        "expires": date(2026, 12, 31),
    }
    settings = defaults().__class__(values=validate({"exceptions": [live]}, "test"))
    (finding,) = _all(world, "iam-access-key-old", settings)
    assert finding.status == "suppressed"
    assert finding.evidence["exception"]["owner"] == "lead@example.com"
    expired = dict(live, expires=date(2026, 11, 27))
    settings = defaults().__class__(values=validate({"exceptions": [expired]}, "test"))
    (finding,) = _all(world, "iam-access-key-old", settings)
    assert finding.status == "new"
    assert finding.evidence["expired_exception"]["expires"] == "2026-11-27"


def test_unused_services_from_access_advisor():
    from auditor.model import ServiceLastAccessed

    world = World()
    role = IamRole(
        account_id=DEV,
        role_name="app",
        role_id="AROAAPP",
        arn=f"arn:aws:iam::{DEV}:role/app",
        created=days_ago(400),
        last_used=days_ago(1),
    )
    young = IamRole(
        account_id=DEV,
        role_name="new",
        role_id="AROANEW",
        arn=f"arn:aws:iam::{DEV}:role/new",
        created=days_ago(10),
        last_used=days_ago(1),
    )
    world.tables["iam_roles"] += [role, young]
    for arn in (role.arn, young.arn):
        world.tables["service_access"] += [
            ServiceLastAccessed(
                account_id=DEV,
                entity_arn=arn,
                entity_type="role",
                service_namespace="s3",
                last_authenticated=days_ago(89.9),
            ),
            ServiceLastAccessed(
                account_id=DEV,
                entity_arn=arn,
                entity_type="role",
                service_namespace="ec2",
                last_authenticated=days_ago(90),
            ),
            ServiceLastAccessed(account_id=DEV, entity_arn=arn, entity_type="role", service_namespace="kms"),
        ]
    advisor = SourceStatus(source="access_advisor", account_id=DEV)
    (finding,) = _all(world, "iam-unused-services", overrides=[advisor])
    assert finding.principal.name == "app"
    assert finding.evidence["unused_services"] == ["ec2", "kms"]
    assert finding.evidence["used_services"] == ["s3"]
    failed = SourceStatus(source="access_advisor", account_id=DEV, status="failed", error="AccessDenied")
    assert {f.severity for f in _all(world, "iam-unused-services", overrides=[failed])} == {"info"}  # undecided


def test_iam_user_inactive_boundary_day():
    world = World()
    for name, days in [("u90", 90), ("u89", 89.9)]:
        user = world.iam_user(name, password=True, mfa=True)
        world.tables["iam_users"][-1] = type(user)(
            **{**{f: getattr(user, f) for f in user.__struct_fields__}, "password_last_used": days_ago(days)}
        )
    assert [f.principal.name for f in _all(world, "iam-user-inactive")] == ["u90"]


def test_never_signed_in_with_a_window_shorter_than_the_user_life_is_insufficient_evidence():
    world = World(coverage_days=20)
    world.idc_user("newbie", created_days_ago=35)
    (finding,) = _all(world, "idc-user-never-signed-in")
    assert finding.severity == "info" and finding.evidence["insufficient_evidence"] is True
    assert "covers 20 days" in finding.evidence["missing"]


# --- every candidate decided: the fact that cleared it, or what is missing ----------------------


def _outcomes(world, rule_id, **kwargs) -> dict[str, list[tuple[str, str]]]:
    """One rule's outcomes by principal name: (cleared | exempt, reason) or (fired | insufficient, title)."""
    evaluation = evaluate(world.snapshot(**kwargs), defaults(), world.as_of)
    out: dict[str, list[tuple[str, str]]] = {}
    for f in evaluation.findings:
        if f.rule_id == rule_id:
            kind = "insufficient" if f.evidence.get("insufficient_evidence") else "fired"
            out.setdefault(f.principal.name or f.principal.id, []).append((kind, f.evidence.get("missing") or f.title))
    for v in evaluation.verdicts:
        if v.rule_id == rule_id:
            out.setdefault(v.principal.name or v.principal.id, []).append((v.outcome, v.reason))
    return out


def test_hygiene_rules_say_why_each_group_set_and_principal_is_fine():
    world = World()
    ro = world.permission_set("ReadOnly")
    world.permission_set("Forgotten")
    world.assign(ro, world.group("real-team", world.idc_user("ann")), DEV)
    world.group("idle-team")
    assert _outcomes(world, "idc-group-empty-with-assignments") == {
        "real-team": [("cleared", "has 1 member(s)")],
        "idle-team": [("cleared", "no assignment")],
    }
    assert _outcomes(world, "idc-permission-set-unassigned")["ReadOnly"] == [("cleared", "1 assignment(s)")]
    assert _outcomes(world, "idc-assignment-to-missing-principal") == {
        "ann": [("cleared", "present in the identity store")],
        "real-team": [("cleared", "present in the identity store")],
        "idle-team": [("cleared", "present in the identity store")],
    }


def _trail_failed(account_id: str) -> SourceStatus:
    return SourceStatus(source="cloudtrail", account_id=account_id, status="failed", error="AccessDenied: no (s3)")


def test_break_glass_roles_are_named_by_their_arns_users_by_their_iam_ids_and_iam_records_count():
    world = World()
    used = IamRole(
        account_id=PROD,
        role_name="emergency-admin",
        role_id="AROAEMERGENCY",
        arn=f"arn:aws:iam::{PROD}:role/emergency-admin",
        last_used=days_ago(5),  # IAM's RoleLastUsed; CloudTrail saw nothing
    )
    app = IamRole(account_id=PROD, role_name="app", role_id="AROAAPP", arn=f"arn:aws:iam::{PROD}:role/app")
    world.tables["iam_roles"] += [used, app]
    world.iam_user("breakglass-ops", DEV)
    found = _all(world, "emergency-access-used")
    glass_arn = next(r.arn for r in world.tables["iam_roles"] if r.role_id == "AROAEMERGENCY")
    # named by its ARN, which CloudTrail gives whether or not IAM could be read: one stable finding id
    assert [(f.principal.id, f.account_id, f.severity) for f in found] == [(glass_arn, PROD, "critical")]
    outcomes = _outcomes(world, "emergency-access-used")
    assert outcomes["app"] == [("cleared", "not a break-glass role")]
    assert outcomes["breakglass-ops"] == [
        ("cleared", "break-glass IAM user breakglass-ops not used in the last 30 days (no use in the observed window)")
    ]
    ((kind, missing),) = _outcomes(world, "emergency-access-used", overrides=[_trail_failed(DEV)])["breakglass-ops"]
    assert kind == "insufficient"
    assert missing == f"CloudTrail for account {DEV} could not be read (AccessDenied: no (s3))"


def test_a_break_glass_role_seen_in_cloudtrail_is_one_finding_on_its_arn():
    world = World()
    role = IamRole(
        account_id=PROD, role_name="breakglass", role_id="AROAGLASS", arn=f"arn:aws:iam::{PROD}:role/breakglass"
    )
    world.tables["iam_roles"].append(role)
    world.tables["activity"].append(
        Activity(kind="iam_role", key=role.arn, account_id=PROD, first_seen=days_ago(2), last_seen=days_ago(2))
    )
    (finding,) = _all(world, "emergency-access-used")
    assert (finding.principal.id, finding.principal.name, finding.title) == (
        f"arn:aws:iam::{PROD}:role/breakglass",
        "breakglass",
        f"Break-glass use: role breakglass was assumed on {days_ago(2).date().isoformat()}",
    )


def test_identity_center_users_decided_by_the_break_glass_sets_they_hold():
    world = World()
    glass = world.permission_set("BreakGlassAdmin", managed=[ADMIN_ARN])
    world.assign(glass, world.group("oncall", world.idc_user("ops")), PROD)
    world.idc_user("ann")
    signer = world.idc_user("breakglass-1")
    world.tables["activity"].append(  # signed in (seen only as a permission set's use) 2 days ago
        Activity(
            kind="idc_assignment",
            key=f"id:{signer.user_id}",
            account_id=DEV,
            detail="ReadOnly",
            first_seen=days_ago(2),
            last_seen=days_ago(2),
        )
    )
    outcomes = _outcomes(world, "emergency-access-used")
    assert outcomes["ops"] == [
        (
            "cleared",
            f"ops's break-glass permission set BreakGlassAdmin in {PROD} not used in the last 30 days "
            "(no use in the observed window)",
        )
    ]
    assert outcomes["ann"] == [("cleared", "not a break-glass user and holds no break-glass permission set")]
    assert outcomes["breakglass-1"][0][0] == "fired"
    ((kind, missing),) = _outcomes(world, "emergency-access-used", overrides=[_trail_failed(PROD)])["ops"]
    assert kind == "insufficient" and f"CloudTrail for account {PROD} could not be read" in missing


def test_root_not_used_needs_the_credential_report_or_cloudtrail():
    world = World(root_users=False)  # only DEV's credential report row, added below
    world.tables["root_credentials"].append(RootCredentials(account_id=DEV, password_last_used=days_ago(91)))
    outcomes = _outcomes(world, "iam-root-used")
    when = days_ago(91).date().isoformat()
    assert outcomes["root"] == [
        ("cleared", "not used in the last 90 days (no use recorded; CloudTrail)"),  # MGMT
        ("cleared", "not used in the last 90 days (no use recorded; CloudTrail)"),  # PROD
        ("cleared", f"not used in the last 90 days (last used on {when}; credential report and CloudTrail)"),
    ]
    failed = [_trail_failed(PROD), _trail_failed(DEV)]
    evaluation = evaluate(world.snapshot(overrides=failed), defaults(), world.as_of)
    by_account = {r.account_id: r for r in [*evaluation.findings, *evaluation.verdicts] if r.rule_id == "iam-root-used"}
    assert by_account[DEV].reason == f"not used in the last 90 days (last used on {when}; credential report)"
    undecided = by_account[PROD]
    assert undecided.severity == "info"
    assert undecided.evidence["missing"] == (
        f"the root credential report for account {PROD} was not read, "
        f"and CloudTrail for account {PROD} could not be read (AccessDenied: no (s3))"
    )
