"""sso-admin's filled operations: exact provisioning, reserved roles, boundaries, tags, home region."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import conforms, error_code

pytestmark = pytest.mark.e2e  # the tiny sandbox, served


def test_provisioned_permission_sets_are_exact_per_account(tiny, aws):
    sso = aws.client("sso-admin")
    arns = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)
    assigned: dict[str, set[str]] = {arn: set() for arn in arns}
    for account_id in tiny.accounts.values():
        provisioned = conforms(
            sso,
            "ListPermissionSetsProvisionedToAccount",
            sso.list_permission_sets_provisioned_to_account(InstanceArn=tiny.instance_arn, AccountId=account_id),
        )["PermissionSets"]
        for arn in arns:
            has = aws.paginate(
                sso,
                "list_account_assignments",
                "AccountAssignments",
                InstanceArn=tiny.instance_arn,
                AccountId=account_id,
                PermissionSetArn=arn,
            )
            assert (arn in provisioned) == bool(has)
            if has:
                assigned[arn].add(account_id)
    for arn, accounts in assigned.items():
        listed = conforms(
            sso,
            "ListAccountsForProvisionedPermissionSet",
            sso.list_accounts_for_provisioned_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn),
        )["AccountIds"]
        assert set(listed) == accounts
    assert all(arn.startswith("arn:aws:sso:::permissionSet/ssoins-") for arn in arns)


def test_provisioning_creates_the_reserved_roles_in_each_account(tiny, aws):
    sso = aws.client("sso-admin")
    for account_id in tiny.accounts.values():
        provisioned = sso.list_permission_sets_provisioned_to_account(
            InstanceArn=tiny.instance_arn, AccountId=account_id
        )["PermissionSets"]
        names = {
            sso.describe_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn)["PermissionSet"]["Name"]
            for arn in provisioned
        }
        iam = aws.client("iam", account_id)
        roles = aws.paginate(iam, "list_roles", "Roles", PathPrefix="/aws-reserved/sso.amazonaws.com/")
        assert {r["RoleName"].rsplit("_", 1)[0].removeprefix("AWSReservedSSO_") for r in roles} == names
        assert all(r["Path"] == f"/aws-reserved/sso.amazonaws.com/{tiny.region}/" for r in roles)


def test_provisioned_permission_sets_page_with_next_token(tiny, aws):
    sso = aws.client("sso-admin")
    pages = list(
        sso.get_paginator("list_permission_sets_provisioned_to_account").paginate(
            InstanceArn=tiny.instance_arn, AccountId=tiny.management_account_id, PaginationConfig={"PageSize": 1}
        )
    )
    everything = sso.list_permission_sets_provisioned_to_account(
        InstanceArn=tiny.instance_arn, AccountId=tiny.management_account_id
    )
    assert len(pages) == len(everything["PermissionSets"]) > 1
    assert [arn for page in pages for arn in page["PermissionSets"]] == everything["PermissionSets"]


def test_permissions_boundary_round_trip(tiny, aws):
    sso = aws.client("sso-admin")
    arn = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)[0]
    with pytest.raises(ClientError) as caught:
        sso.get_permissions_boundary_for_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn)
    assert error_code(caught) == "ResourceNotFoundException"
    boundary = {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=tiny.instance_arn, PermissionSetArn=arn, PermissionsBoundary=boundary
    )
    try:
        got = conforms(
            sso,
            "GetPermissionsBoundaryForPermissionSet",
            sso.get_permissions_boundary_for_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn),
        )
        assert got["PermissionsBoundary"] == boundary
        behind = sso.list_accounts_for_provisioned_permission_set(
            InstanceArn=tiny.instance_arn,
            PermissionSetArn=arn,
            ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED",
        )["AccountIds"]
        assert behind, "a changed permission set waits for ProvisionPermissionSet"
    finally:
        sso.delete_permissions_boundary_from_permission_set(InstanceArn=tiny.instance_arn, PermissionSetArn=arn)
        sso.provision_permission_set(
            InstanceArn=tiny.instance_arn, PermissionSetArn=arn, TargetType="ALL_PROVISIONED_ACCOUNTS"
        )
    assert (
        sso.list_accounts_for_provisioned_permission_set(
            InstanceArn=tiny.instance_arn,
            PermissionSetArn=arn,
            ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED",
        )["AccountIds"]
        == []
    )


def test_permission_set_tags(tiny, aws):
    sso = aws.client("sso-admin")
    arns = aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=tiny.instance_arn)
    tags = {
        arn: conforms(
            sso, "ListTagsForResource", sso.list_tags_for_resource(InstanceArn=tiny.instance_arn, ResourceArn=arn)
        )["Tags"]
        for arn in arns
    }
    assert sum({"Key": "purpose", "Value": "break-glass"} in found for found in tags.values()) == 1
    arn = arns[0]
    assert sso.list_tags_for_resource(InstanceArn=tiny.instance_arn, ResourceArn=tiny.instance_arn)["Tags"] == []
    with pytest.raises(ClientError) as caught:
        sso.list_tags_for_resource(InstanceArn=tiny.instance_arn, ResourceArn=arn.replace("ps-", "ps-0"))
    assert error_code(caught) == "ResourceNotFoundException"


def test_identity_center_exists_in_its_home_region_only(tiny, aws):
    sso = aws.client("sso-admin")
    home = conforms(sso, "ListInstances", sso.list_instances())["Instances"]
    assert [i["InstanceArn"] for i in home] == [tiny.instance_arn]
    assert aws.client("sso-admin", region="eu-central-1").list_instances()["Instances"] == []
