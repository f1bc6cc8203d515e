from auditor.analyze import evaluate
from auditor.config import defaults
from auditor.model import Activity, IdcUser
from auditor.snapshot import SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World, days_ago


def _used(world, user, account, ps_name, days, by="id"):
    key = f"id:{user.user_id}" if by == "id" else f"name:{user.user_name.lower()}"
    world.tables["activity"].append(
        Activity(
            kind="idc_assignment",
            key=key,
            account_id=account,
            detail=ps_name,
            first_seen=days_ago(days + 1),
            last_seen=days_ago(days),
            events=4,
        )
    )


def test_unused_assignment_names_every_path_and_the_boundary(findings_of):
    world = World()
    dev = world.permission_set("Developer", managed=["arn:aws:iam::aws:policy/PowerUserAccess"])
    ana, ben, cy = world.idc_user("ana"), world.idc_user("ben"), world.idc_user("cy")
    team = world.group("engineering", ana, ben, cy)
    world.assign(dev, team, DEV)
    world.assign(dev, ana, DEV)  # also direct
    _used(world, ben, DEV, "Developer", 89.9)
    _used(world, cy, DEV, "developer", 90, by="name")  # old-style session name, case differs
    found = {f.principal.name: f for f in _all(world, "idc-assignment-unused")}
    assert set(found) == {"ana", "cy"}
    assert found["ana"].evidence["paths"] == ["direct", "via group engineering"]
    assert found["ana"].evidence["last_used"] == "never"
    assert found["cy"].evidence["days_unused"] == 90
    assert found["ana"].account_id == DEV and found["ana"].resource == dev.arn


def test_unused_assignment_without_observed_window_is_insufficient_evidence():
    world = World()
    ps = world.permission_set("ReadOnly")
    world.assign(ps, world.idc_user("dan"), PROD)
    failed = SourceStatus(source="cloudtrail", account_id=PROD, status="partial", error="no log objects found")
    (finding,) = _all(world, "idc-assignment-unused", overrides=[failed])
    assert finding.severity == "info"
    assert finding.evidence["insufficient_evidence"] is True


def test_unused_admin_assignment_is_medium_and_break_glass_is_exempt():
    world = World()
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    glass = world.permission_set("BreakGlassAdmin", managed=[ADMIN_ARN])
    eve = world.idc_user("eve")
    group = world.group("admins", eve)
    world.assign(admin, group, PROD)
    world.assign(glass, group, PROD)
    (finding,) = _all(world, "idc-assignment-unused")
    assert (finding.resource, finding.severity) == (admin.arn, "medium")


def test_direct_user_assignment_of_a_non_admin_set():
    world = World()
    ro = world.permission_set("ReadOnly")
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    fay = world.idc_user("fay")
    world.assign(ro, fay, DEV)
    world.assign(admin, fay, DEV)  # reported by the admin rule instead
    world.assign(ro, world.group("g", world.idc_user("gus")), DEV)
    found = _all(world, "idc-direct-user-assignment")
    assert [(f.principal.name, f.resource) for f in found] == [("fay", ro.arn)]


def test_admin_access_resolved_through_groups_higher_in_production():
    world = World()
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    hal, ivy = world.idc_user("hal"), world.idc_user("ivy")
    world.assign(admin, world.group("prod-admins", hal), PROD)
    world.assign(admin, world.group("dev-admins", ivy), DEV)
    found = {f.principal.name: f for f in _all(world, "idc-admin-access")}
    assert found["hal"].severity == "low" and found["hal"].evidence["production_accounts"] == [PROD]
    assert found["ivy"].severity == "info"
    assert found["ivy"].evidence["accounts"][DEV]["paths"] == ["via group dev-admins"]


def test_risky_permission_set_policies():
    world = World()
    world.permission_set("S3All", inline='{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}')
    world.permission_set(
        "Escalate",
        inline='{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","iam:AttachRolePolicy"],"Resource":"*"}]}',
    )
    world.permission_set(
        "Scoped", inline='{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}'
    )
    world.permission_set(
        "Conditional",
        inline='{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
        '"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}',
    )
    found = {f.principal.name: f for f in _all(world, "idc-permission-set-risky-policy")}
    assert set(found) == {"S3All", "Escalate"}
    assert found["S3All"].severity == "medium"
    assert found["Escalate"].severity == "high"
    assert found["Escalate"].principal.type == "permission_set"


def _all(world, rule_id, **kwargs):
    return [f for f in evaluate(world.snapshot(**kwargs), defaults(), world.as_of).findings if f.rule_id == rule_id]


# --- every candidate decided: the fact that cleared it, or what is missing ----------------------


def _outcomes(world, rule_id, **kwargs) -> dict[str, list[tuple[str, str]]]:
    """One rule's outcomes by principal name: (cleared | exempt, reason) or (fired | insufficient, title)."""
    evaluation = evaluate(world.snapshot(**kwargs), defaults(), world.as_of)
    out: dict[str, list[tuple[str, str]]] = {}
    for f in evaluation.findings:
        if f.rule_id == rule_id:
            kind = "insufficient" if f.evidence.get("insufficient_evidence") else "fired"
            out.setdefault(f.principal.name, []).append((kind, f.evidence.get("missing") or f.title))
    for v in evaluation.verdicts:
        if v.rule_id == rule_id:
            out.setdefault(v.principal.name, []).append((v.outcome, v.reason))
    return out


def _partial(**tables: str) -> SourceStatus:
    idc = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
    return SourceStatus(
        source="identity_center",
        status="partial",
        error="InternalFailure: simulated",
        detail={"home_account_id": MGMT},
        tables={**dict.fromkeys(idc, "complete"), **tables},
    )


def _assignment_world() -> World:
    world = World()
    ro = world.permission_set("ReadOnly")
    glass = world.permission_set("BreakGlassAdmin", managed=[ADMIN_ARN])
    ana = world.idc_user("ana")
    world.assign(ro, ana, DEV)
    _used(world, ana, DEV, "ReadOnly", 3)
    world.assign(ro, world.idc_user("ben", created_days_ago=10), DEV)
    world.assign(ro, world.idc_user("dee", status="DISABLED"), DEV)
    world.idc_user("eve")
    world.assign(glass, world.group("oncall", world.idc_user("fay")), PROD)
    return world


def test_unused_assignment_says_why_each_user_is_not_flagged():
    found = _outcomes(_assignment_world(), "idc-assignment-unused")
    assert found == {
        "ana": [("cleared", "used ReadOnly in dev 3 days ago (threshold 90)")],
        "ben": [("cleared", "created 10 days ago (threshold 90)")],
        "dee": [("cleared", "disabled: cannot use any assignment")],
        "eve": [("cleared", "holds no permission set")],
        "fay": [("exempt", "break-glass permission set BreakGlassAdmin in prod: unused is its normal state")],
    }


def test_holding_nothing_needs_every_assignment_and_membership():
    found = _outcomes(_assignment_world(), "idc-assignment-unused", overrides=[_partial(idc_memberships="partial")])
    ((kind, missing),) = found["eve"]
    assert kind == "insufficient"
    assert missing == "identity_center did not list idc_memberships (partial) completely: InternalFailure: simulated"


def test_a_user_dated_only_by_a_recent_sighting_is_not_cleared_as_young():
    """Seen first 30 days ago: at least 30 days old, maybe much older; a never-used set is undecided."""
    world = World()
    ps = world.permission_set("ReadOnly")
    user = IdcUser(user_id="uid-synced", user_name="synced", email="synced@example.com", status="ENABLED")
    world.tables["idc_users"].append(user)
    world.signed_in(user, 29)
    world.assign(ps, user, DEV)
    ((kind, missing),) = _outcomes(world, "idc-assignment-unused")["synced"]
    assert kind == "insufficient"
    assert missing == "the principal's age: only known to be at least 30 days (cloudtrail_first_seen), 90 needed"


def test_direct_and_admin_rules_say_why_they_did_not_fire():
    world = World()
    ro = world.permission_set("ReadOnly")
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    glass = world.permission_set("BreakGlass", managed=[ADMIN_ARN])
    fay, gus = world.idc_user("fay"), world.idc_user("gus")
    world.assign(admin, fay, DEV)
    world.assign(ro, world.group("g", gus), DEV)
    world.assign(glass, world.group("oncall", gus), PROD)
    world.idc_user("off", status="DISABLED")

    direct = _outcomes(world, "idc-direct-user-assignment")
    assert direct["fay"] == [("cleared", "Admin is administrator-capable: idc-admin-direct-assignment")]
    assert direct["gus"] == [("cleared", "no direct assignment")]
    ((kind, missing),) = _outcomes(
        world, "idc-direct-user-assignment", overrides=[_partial(account_assignments="partial")]
    )["gus"]
    assert kind == "insufficient" and "account_assignments (partial)" in missing

    access = _outcomes(world, "idc-admin-access")
    assert access["fay"][0][0] == "fired"
    assert sorted(access["gus"]) == [
        ("cleared", "ReadOnly is not administrator-capable"),
        ("exempt", "break-glass permission set BreakGlass: the emergency-access rules"),
    ]
    assert access["off"] == [("cleared", "disabled: cannot sign in")]


def test_a_permission_set_without_risk_is_cleared_with_what_was_read():
    world = World()
    world.permission_set("Bare")
    world.permission_set(
        "Scoped", inline='{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}'
    )
    found = _outcomes(world, "idc-permission-set-risky-policy")
    assert found == {
        "Bare": [("cleared", "no inline policy")],
        "Scoped": [("cleared", "inline policy has no wildcard or escalation")],
    }
    failed = SourceStatus(source="identity_center", status="failed", error="AccessDenied: no (sso-admin)")
    undecided = _outcomes(world, "idc-permission-set-risky-policy", overrides=[failed])
    assert undecided["Bare"] == [("insufficient", "identity_center could not be read (AccessDenied: no (sso-admin))")]
