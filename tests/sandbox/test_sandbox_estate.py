"""The estate as the product reads it over HTTP: organisation, Identity Center, IAM, and each plant's state."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.e2e

MANAGED_ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def planted(tiny, problem):
    found = [p for p in tiny.planted if p.problem == problem]
    assert found, problem
    return found


def hr(tiny) -> dict[str, dict[str, str]]:
    with tiny.hr_feed.open(newline="", encoding="utf-8") as handle:
        return {row["user_name"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def idc(tiny, aws):
    """Users by name, group names by id, and each user's group names."""
    store = aws.client("identitystore")
    users = {
        u["UserName"]: u for u in aws.paginate(store, "list_users", "Users", IdentityStoreId=tiny.identity_store_id)
    }
    groups = {
        g["GroupId"]: g["DisplayName"]
        for g in aws.paginate(store, "list_groups", "Groups", IdentityStoreId=tiny.identity_store_id)
    }
    member_of: dict[str, set[str]] = {name: set() for name in users}
    ids = {u["UserId"]: name for name, u in users.items()}
    for group_id, name in groups.items():
        for membership in aws.paginate(
            store,
            "list_group_memberships",
            "GroupMemberships",
            IdentityStoreId=tiny.identity_store_id,
            GroupId=group_id,
        ):
            member_of[ids[membership["MemberId"]["UserId"]]].add(name)
    return users, groups, member_of


def test_accounts_carry_owner_and_environment_tags(tiny, aws):
    org = aws.client("organizations")
    accounts = aws.paginate(org, "list_accounts", "Accounts")
    assert len(accounts) == 3 and {a["Id"] for a in accounts} == set(tiny.accounts.values())
    emails = {row["email"] for row in hr(tiny).values()}
    environments = []
    for account in accounts:
        tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account["Id"])["Tags"]}
        assert tags["owner"] in emails
        environments.append(tags["environment"])
        assert account["JoinedTimestamp"] < tiny.as_of - timedelta(days=100)
    assert set(environments) <= {"production", "staging", "development", "sandbox"} and "production" in environments


def test_every_member_account_is_reachable_through_the_access_role(tiny, aws):
    for account_id in set(tiny.accounts.values()) - {tiny.management_account_id}:
        iam = aws.client("iam", account_id)
        attached = iam.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [MANAGED_ADMIN]
        assert aws.client("sts", account_id).get_caller_identity()["Account"] == account_id


def test_permission_sets_cover_managed_customer_managed_inline_and_break_glass(tiny, aws):
    sso = aws.client("sso-admin")
    arns = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)
    by_name = {
        sso.describe_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn)["PermissionSet"]["Name"]: arn
        for arn in arns
    }
    assert {"AdministratorAccess", "ReadOnlyAccess", "DeveloperAccess", "BreakGlassAdmin"} <= set(by_name)

    def managed(name):
        return [
            p["Arn"]
            for p in sso.list_managed_policies_in_permission_set(
                InstanceArn=tiny.instance_arn, PermissionSetArn=by_name[name]
            )["AttachedManagedPolicies"]
        ]

    assert managed("AdministratorAccess") == [MANAGED_ADMIN] == managed("BreakGlassAdmin")
    assert any(
        sso.list_customer_managed_policy_references_in_permission_set(
            InstanceArn=tiny.instance_arn, PermissionSetArn=arn
        )["CustomerManagedPolicyReferences"]
        for arn in arns
    )
    assert any(
        sso.get_inline_policy_for_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn).get(
            "InlinePolicy"
        )
        for arn in arns
    )


def test_leavers_are_terminated_in_hr_yet_enabled_and_grouped(tiny, idc):
    users, _, member_of = idc
    people = hr(tiny)
    for plant in planted(tiny, "leaver"):
        person = people[plant.name]
        days = (tiny.as_of.date() - date.fromisoformat(person["end_date"])).days
        assert person["status"] == "terminated" and 10 <= days <= 60
        assert users[plant.name]["UserStatus"] == "ENABLED" and member_of[plant.name]


def test_not_in_hr_users_have_no_hr_row_by_name_or_email(tiny, idc):
    users, _, _ = idc
    people = hr(tiny)
    emails = {row["email"].lower() for row in people.values()}
    for plant in planted(tiny, "not_in_hr"):
        assert plant.name not in people and users[plant.name]["Emails"][0]["Value"].lower() not in emails


def test_movers_keep_their_old_department_group(tiny, idc):
    _, _, member_of = idc
    people = hr(tiny)
    for plant in planted(tiny, "mover"):
        assert people[plant.name]["previous_department"] and plant.detail["stale_group"] in member_of[plant.name]


def test_never_signed_in_users_are_older_than_the_grace_period(tiny, idc):
    users, _, _ = idc
    for plant in planted(tiny, "idc_never_signed_in"):
        assert users[plant.name]["CreatedAt"] < tiny.as_of - timedelta(days=30)


def test_break_glass_identities_are_named_so_and_only_in_the_emergency_group(tiny, idc):
    users, _, member_of = idc
    glass = [name for name in users if "breakglass" in name]
    assert len(glass) == 2 and all(member_of[name] == {"emergency-access"} for name in glass)


def test_direct_admin_assignment_is_to_a_user(tiny, aws, idc):
    users, _, _ = idc
    sso = aws.client("sso-admin")
    arns = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)
    admin = next(
        a
        for a in arns
        if sso.describe_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=a)["PermissionSet"]["Name"]
        == "AdministratorAccess"
    )
    for plant in planted(tiny, "direct_admin_assignment"):
        assignments = aws.paginate(
            sso,
            "list_account_assignments",
            "AccountAssignments",
            InstanceArn=tiny.instance_arn,
            AccountId=plant.account_id,
            PermissionSetArn=admin,
        )
        assert {"PrincipalType": "USER", "PrincipalId": users[plant.name]["UserId"]} in [
            {k: a[k] for k in ("PrincipalType", "PrincipalId")} for a in assignments
        ]


def test_console_user_without_mfa(tiny, aws):
    for plant in planted(tiny, "console_no_mfa"):
        iam = aws.client("iam", plant.account_id)
        assert iam.get_login_profile(UserName=plant.name)["LoginProfile"]["UserName"] == plant.name
        assert iam.list_mfa_devices(UserName=plant.name)["MFADevices"] == []


def _key(aws, plant):
    iam = aws.client("iam", plant.account_id)
    (key,) = iam.list_access_keys(UserName=plant.name)["AccessKeyMetadata"]
    assert key["AccessKeyId"] == plant.detail["access_key_id"] and key["Status"] == "Active"
    return key, iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]


def test_unused_and_old_keys(tiny, aws):
    for plant in planted(tiny, "key_unused"):
        key, used = _key(aws, plant)
        assert timedelta(days=45) <= tiny.as_of - key["CreateDate"] <= timedelta(days=90)
        assert "LastUsedDate" not in used or tiny.as_of - used["LastUsedDate"] >= timedelta(days=45)
    for plant in planted(tiny, "key_old"):
        key, used = _key(aws, plant)
        assert tiny.as_of - key["CreateDate"] > timedelta(days=90)
        assert tiny.as_of - used["LastUsedDate"] < timedelta(days=30)


def test_clean_iam_users_have_mfa_and_fresh_used_keys(tiny, aws):
    for kind, name, account_id in tiny.clean:
        if kind != "iam_user":
            continue
        iam = aws.client("iam", account_id)
        user = iam.get_user(UserName=name)["User"]
        if "PasswordLastUsed" in user:
            assert iam.list_mfa_devices(UserName=name)["MFADevices"]
            assert tiny.as_of - user["PasswordLastUsed"] < timedelta(days=30)
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
            assert tiny.as_of - key["CreateDate"] < timedelta(days=90)
            assert tiny.as_of - used["LastUsedDate"] < timedelta(days=30)
