"""Unusual lifecycle activity, one rule at a time, on small worlds with CloudTrail's access changes."""

from __future__ import annotations

from datetime import timedelta

from auditor.analyze import analyze
from auditor.config import defaults
from auditor.model import LifecycleEvent
from tests.builders import ADMIN_ARN, MGMT, PROD, World, days_ago

AUTOMATION = f"arn:aws:iam::{MGMT}:role/idc-provisioning"
SSO_ROLE = (
    f"arn:aws:iam::{MGMT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b"
)


def event(name: str, when, *, by: str = AUTOMATION, actor: str = "terraform", **fields) -> LifecycleEvent:
    source = "sso.amazonaws.com" if "Assignment" in name else "identitystore.amazonaws.com"
    return LifecycleEvent(
        event_time=when,
        event_name=name,
        event_source=source,
        account_id=MGMT,
        actor_type="AssumedRole",
        actor_arn=by,
        actor_name=actor,
        **fields,
    )


def found(world: World, rule_id: str, settings=None) -> dict:
    result = analyze(world.snapshot(), settings or defaults(), world.as_of)
    return {f.principal.name: f for f in result if f.rule_id == rule_id}


def _world():
    world = World()
    ana, ben = world.idc_user("ana"), world.idc_user("ben")
    world.person("ana")
    world.person("ben", status="leave")
    engineering = world.group("engineering", ana, ben)
    return world, ana, ben, engineering


def test_a_grant_by_a_person_is_reported_and_the_automation_s_are_not():
    world, ana, ben, group = _world()
    world.tables["lifecycle_events"] += [
        event("CreateGroupMembership", days_ago(3), group_id=group.group_id, user_id=ana.user_id),
        event(
            "CreateGroupMembership",
            days_ago(2),
            by=SSO_ROLE,
            actor="mallory",
            group_id=group.group_id,
            user_id=ana.user_id,
        ),
        event(
            "CreateGroupMembership",
            days_ago(40),
            by=SSO_ROLE,
            actor="mallory",
            group_id=group.group_id,
            user_id=ana.user_id,
        ),  # older than anomaly_days: reported by earlier runs
    ]
    findings = found(world, "anomaly-grant-by-person")
    assert list(findings) == ["ana"]
    assert findings["ana"].evidence["actor_name"] == "mallory"
    assert findings["ana"].category == "lifecycle_anomaly"
    settings = defaults()
    settings.values["rules"]["provisioning_principals"] = ["*/AWSReservedSSO_AdministratorAccess_*"]
    assert found(world, "anomaly-grant-by-person", settings) == {}


def test_admin_granted_and_removed_within_a_day_but_not_over_two_days():
    world, ana, ben, _ = _world()
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    fields = dict(target_account_id=PROD, permission_set_arn=admin.arn, principal_type="USER")
    world.tables["lifecycle_events"] += [
        event("CreateAccountAssignment", days_ago(5), principal_id=ana.user_id, **fields),
        event("DeleteAccountAssignment", days_ago(5) + timedelta(hours=2), principal_id=ana.user_id, **fields),
        event("CreateAccountAssignment", days_ago(9), principal_id=ben.user_id, **fields),
        event("DeleteAccountAssignment", days_ago(7), principal_id=ben.user_id, **fields),
    ]
    findings = found(world, "anomaly-admin-granted-and-removed")
    assert list(findings) == ["ana"] and findings["ana"].evidence["hours_held"] == 2.0


def test_a_burst_of_grants_far_above_the_baseline():
    world, ana, _, group = _world()
    grants = [
        event("CreateGroupMembership", days_ago(100 - 7 * i), group_id=group.group_id, user_id=ana.user_id)
        for i in range(12)
    ]  # one a week: the baseline
    world.tables["lifecycle_events"] += grants
    assert found(world, "anomaly-grant-burst") == {}
    world.tables["lifecycle_events"] += [
        event("CreateGroupMembership", days_ago(3) + timedelta(minutes=i), group_id=group.group_id, user_id=ana.user_id)
        for i in range(10)
    ]
    findings = found(world, "anomaly-grant-burst")
    assert list(findings) == ["idc-provisioning"] and findings["idc-provisioning"].evidence["grants"] == 10


def test_a_grant_to_someone_on_leave_or_after_their_end_date():
    world, ana, ben, group = _world()
    cid = world.idc_user("cid")
    world.person("cid", status="terminated", end_date=days_ago(10).date())
    world.tables["lifecycle_events"] += [
        event("CreateGroupMembership", days_ago(2), group_id=group.group_id, user_id=ana.user_id),
        event("CreateGroupMembership", days_ago(2), group_id=group.group_id, user_id=ben.user_id),
        event("CreateGroupMembership", days_ago(20), group_id=group.group_id, user_id=cid.user_id),  # still employed
    ]
    assert list(found(world, "anomaly-grant-to-leaver-or-on-leave")) == ["ben"]
    world.tables["lifecycle_events"].append(
        event("CreateGroupMembership", days_ago(1), group_id=group.group_id, user_id=cid.user_id)
    )
    assert sorted(found(world, "anomaly-grant-to-leaver-or-on-leave")) == ["ben", "cid"]


def test_a_sign_in_after_the_end_date_but_not_before_it():
    world = World()
    gone, left = world.idc_user("gone"), world.idc_user("left")
    world.person("gone", status="terminated", end_date=days_ago(10).date())
    world.person("left", status="terminated", end_date=days_ago(10).date())
    world.signed_in(gone, 2)
    world.signed_in(left, 12)
    findings = found(world, "anomaly-sign-in-after-termination")
    assert list(findings) == ["gone"] and findings["gone"].severity == "critical"
