"""The plants beyond people's lifecycle, as the product reads them over HTTP: Identity Center's shape,
IAM users and roles, root users; and the settings and plant list the sandbox writes beside its HR feed."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from auditor import configure
from tests.sandbox.test_sandbox_estate import hr, planted

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def permission_sets(tiny, aws) -> dict[str, str]:
    """Permission set name -> ARN."""
    sso = aws.client("sso-admin")
    arns = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)
    return {
        sso.describe_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn)["PermissionSet"]["Name"]: arn
        for arn in arns
    }


@pytest.fixture(scope="module")
def groups(tiny, aws) -> dict[str, str]:
    """Group display name -> id."""
    store = aws.client("identitystore")
    return {
        g["DisplayName"]: g["GroupId"]
        for g in aws.paginate(store, "list_groups", "Groups", IdentityStoreId=tiny.identity_store_id)
    }


def _assignments(tiny, aws, account_id: str, permission_set_arn: str) -> list[dict]:
    return aws.paginate(
        aws.client("sso-admin"),
        "list_account_assignments",
        "AccountAssignments",
        InstanceArn=tiny.instance_arn,
        AccountId=account_id,
        PermissionSetArn=permission_set_arn,
    )


# --- Identity Center ---------------------------------------------------------------------------


def test_a_deleted_users_assignment_stays_listed_under_its_id(tiny, aws, permission_sets):
    (plant,) = planted(tiny, "assignment_to_deleted_user")
    with pytest.raises(ClientError) as caught:
        aws.client("identitystore").describe_user(IdentityStoreId=tiny.identity_store_id, UserId=plant.name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    listed = _assignments(tiny, aws, plant.account_id, permission_sets[plant.detail["permission_set"]])
    assert {"PrincipalType": "USER", "PrincipalId": plant.name} in [
        {k: a[k] for k in ("PrincipalType", "PrincipalId")} for a in listed
    ]
    assert hr(tiny)[plant.detail["user_name"]]["status"] == "terminated"


def test_risky_permission_set_carries_its_inline_policy_and_is_assigned(tiny, aws, permission_sets):
    for plant in planted(tiny, "risky_permission_set"):
        arn = permission_sets[plant.name]
        inline = aws.client("sso-admin").get_inline_policy_for_permission_set(
            InstanceArn=tiny.instance_arn, PermissionSetArn=arn
        )["InlinePolicy"]
        statements = json.loads(inline)["Statement"]
        assert json.loads(inline) == plant.detail["inline_policy"]
        assert any("iam:PassRole" in s["Action"] and s["Resource"] == "*" for s in statements)
        for account in plant.detail["accounts"]:
            assert any(a["PrincipalType"] == "GROUP" for a in _assignments(tiny, aws, tiny.accounts[account], arn))


def test_the_empty_group_has_no_member_but_keeps_its_assignments(tiny, aws, groups, permission_sets):
    (plant,) = planted(tiny, "empty_group_with_assignments")
    store = aws.client("identitystore")
    assert (
        store.list_group_memberships(IdentityStoreId=tiny.identity_store_id, GroupId=groups[plant.name])[
            "GroupMemberships"
        ]
        == []
    )
    for account in plant.detail["accounts"]:
        listed = _assignments(tiny, aws, tiny.accounts[account], permission_sets[plant.detail["permission_set"]])
        assert groups[plant.name] in [a["PrincipalId"] for a in listed]


def test_the_unassigned_permission_set_is_provisioned_nowhere(tiny, aws, permission_sets):
    (plant,) = planted(tiny, "unassigned_permission_set")
    arn = permission_sets[plant.name]
    assert (
        aws.client("sso-admin").list_accounts_for_provisioned_permission_set(
            InstanceArn=tiny.instance_arn, PermissionSetArn=arn
        )["AccountIds"]
        == []
    )
    assert all(_assignments(tiny, aws, account_id, arn) == [] for account_id in tiny.accounts.values())


# --- IAM ---------------------------------------------------------------------------------------


def _active_keys(aws, account_id: str, user_name: str) -> list[dict]:
    keys = aws.client("iam", account_id).list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    return [k for k in keys if k["Status"] == "Active"]


def test_two_active_keys_are_both_fresh_and_in_use(tiny, aws):
    for plant in planted(tiny, "two_active_keys"):
        iam = aws.client("iam", plant.account_id)
        keys = _active_keys(aws, plant.account_id, plant.name)
        assert len(keys) == 2
        for key in keys:
            used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
            assert tiny.as_of - key["CreateDate"] < timedelta(days=90)
            assert tiny.as_of - used["LastUsedDate"] < timedelta(days=7)


def test_console_user_without_mfa_holds_a_key(tiny, aws):
    for plant in planted(tiny, "keys_on_console_no_mfa"):
        iam = aws.client("iam", plant.account_id)
        assert iam.get_login_profile(UserName=plant.name)["LoginProfile"]["UserName"] == plant.name
        assert iam.list_mfa_devices(UserName=plant.name)["MFADevices"] == []
        assert [k["AccessKeyId"] for k in _active_keys(aws, plant.account_id, plant.name)] == [
            plant.detail["access_key_id"]
        ]


def test_iam_users_without_an_active_owner(tiny, aws):
    people = {row["email"]: row for row in hr(tiny).values()}
    (no_owner,) = planted(tiny, "iam_user_no_owner")
    tags = {
        t["Key"]: t["Value"]
        for t in aws.client("iam", no_owner.account_id).list_user_tags(UserName=no_owner.name)["Tags"]
    }
    assert "owner" not in tags and no_owner.name not in hr(tiny)
    (owner_left,) = planted(tiny, "iam_user_owner_left")
    tags = {
        t["Key"]: t["Value"]
        for t in aws.client("iam", owner_left.account_id).list_user_tags(UserName=owner_left.name)["Tags"]
    }
    assert people[tags["owner"]]["status"] == "terminated"


def test_admin_user_is_in_a_group_with_administrator_access(tiny, aws):
    for plant in planted(tiny, "iam_admin_user"):
        iam = aws.client("iam", plant.account_id)
        (group,) = iam.list_groups_for_user(UserName=plant.name)["Groups"]
        attached = iam.list_attached_group_policies(GroupName=group["GroupName"])["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
        assert iam.list_mfa_devices(UserName=plant.name)["MFADevices"]


def test_direct_policy_is_on_the_user_and_no_group_grants_anything(tiny, aws):
    for plant in planted(tiny, "user_direct_policy"):
        iam = aws.client("iam", plant.account_id)
        assert iam.list_user_policies(UserName=plant.name)["PolicyNames"] == plant.detail["inline_policies"]
        assert iam.list_groups_for_user(UserName=plant.name)["Groups"] == []


def test_clean_service_users_get_their_permissions_from_groups_only(tiny, aws):
    for kind, name, account_id in tiny.clean:
        if kind == "iam_user" and name.startswith("svc-"):
            iam = aws.client("iam", account_id)
            assert iam.list_user_policies(UserName=name)["PolicyNames"] == []
            assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []
            assert iam.list_groups_for_user(UserName=name)["Groups"]


def test_roles_last_used_where_planted(tiny, aws):
    def last_used(plant):
        return aws.client("iam", plant.account_id).get_role(RoleName=plant.name)["Role"]["RoleLastUsed"]

    for plant in planted(tiny, "role_unused"):
        used = last_used(plant)
        assert "LastUsedDate" not in used or tiny.as_of - used["LastUsedDate"] > timedelta(days=90)
    for plant in (b for b in tiny.boundary if b.problem == "role_unused"):
        assert tiny.as_of - last_used(plant)["LastUsedDate"] < timedelta(days=89)
    (glass,) = planted(tiny, "break_glass_role_used")
    assert tiny.as_of - last_used(glass)["LastUsedDate"] < timedelta(days=30)
    (worker,) = planted(tiny, "unused_services")
    assert tiny.as_of - last_used(worker)["LastUsedDate"] < timedelta(days=2)


def test_root_users_in_the_credential_reports(tiny, aws):
    def root_row(account_id):
        iam = aws.client("iam", account_id)
        iam.generate_credential_report()
        return next(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))

    (keyed,) = planted(tiny, "root_access_key")
    row = root_row(keyed.account_id)
    assert (row["user"], row["access_key_1_active"], row["mfa_active"]) == ("<root_account>", "true", "true")
    assert row["access_key_1_last_used_date"] == keyed.detail["last_used"]
    assert row["access_key_1_last_rotated"] == keyed.detail["created"]
    (no_mfa,) = planted(tiny, "root_without_mfa")
    assert (root_row(no_mfa.account_id)["mfa_active"], root_row(no_mfa.account_id)["access_key_1_active"]) == (
        "false",
        "false",
    )
    (used,) = planted(tiny, "root_used")
    assert root_row(used.account_id)["password_last_used"] == used.detail["last_sign_in"]


# --- beside the HR feed ------------------------------------------------------------------------


def test_the_config_maps_every_department_to_groups_that_exist(tiny, groups):
    assert tiny.config_file == tiny.hr_feed.parent / "config.toml"
    settings = configure.load(tiny.config_file, required=True)
    mapping = settings.get("rules", "department_groups")
    assert {row["department"] for row in hr(tiny).values()} <= set(mapping)
    assert {g for listed in mapping.values() for g in listed} <= set(groups)
    assert (tiny.config_file.parent / settings.get("hr", "feed")).resolve() == tiny.hr_feed.resolve()


def test_planted_json_lists_what_the_sandbox_says(tiny):
    document = json.loads(tiny.planted_file.read_text())
    assert tiny.planted_file.parent == tiny.hr_feed.parent
    assert [(p["problem"], p["name"], p["account_id"]) for p in document["planted"]] == [
        (p.problem, p.name, p.account_id) for p in tiny.planted
    ]
    assert len(document["boundary"]) == len(tiny.boundary)
    assert [(c["principal_type"], c["name"], c["account_id"]) for c in document["clean"]] == [
        tuple(c) for c in tiny.clean
    ]
    assert document["as_of"] == tiny.as_of.isoformat()
