from auditor.model import Activity
from auditor.snapshot import SourceStatus
from tests.builders import ADMIN_ARN, DEV, PROD, World, days_ago


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
    from auditor.analyze import analyze
    from auditor.config import defaults

    return [f for f in analyze(world.snapshot(**kwargs), defaults(), world.as_of) if f.rule_id == rule_id]
