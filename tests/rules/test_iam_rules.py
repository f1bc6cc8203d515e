from auditor.model import Activity
from auditor.snapshot import SourceStatus
from tests.builders import DEV, PROD, World, days_ago


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


def test_iam_rules_skip_an_account_whose_iam_source_failed(findings_of):
    world = World()
    user = world.iam_user("x", DEV, password=True)
    world.key(user, "AKIAFAILED", created_days_ago=300, last_used_days_ago=None)
    failed = SourceStatus(source="iam", account_id=DEV, status="failed", error="AccessDenied")
    assert findings_of(world, "iam-console-user-without-mfa", overrides=[failed]) == {}
    assert _all(world, "iam-access-key-unused", overrides=[failed]) == []


def _all(world, rule_id, **kwargs):
    from auditor.analyze import analyze
    from auditor.config import defaults

    return [f for f in analyze(world.snapshot(**kwargs), defaults(), world.as_of) if f.rule_id == rule_id]
