"""moto's gaps, filled: each answer parses with boto3 and validates against botocore's output shape."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

pytestmark = pytest.mark.e2e


def conforms(client, operation: str, response: dict) -> dict:
    """The response holds only members of the operation's output shape, with the right types."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()
    return body


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- identity store ---------------------------------------------------------------------


@pytest.fixture
def scratch_user(tiny, aws):
    store = aws.client("identitystore")
    user_id = store.create_user(
        IdentityStoreId=tiny.identity_store_id,
        UserName="scratch.user",
        DisplayName="Scratch User",
        Name={"GivenName": "Scratch", "FamilyName": "User"},
    )["UserId"]
    yield store, user_id
    store.delete_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id)


def test_update_user_disables_and_renames(tiny, scratch_user):
    store, user_id = scratch_user
    response = store.update_user(
        IdentityStoreId=tiny.identity_store_id,
        UserId=user_id,
        Operations=[
            {"AttributePath": "userStatus", "AttributeValue": "DISABLED"},
            {"AttributePath": "name.givenName", "AttributeValue": "Renamed"},
            {"AttributePath": "title", "AttributeValue": "Departed"},
        ],
    )
    conforms(store, "UpdateUser", response)  # whatever the installed model requires (newer ones: ARN, revision)
    user = conforms(store, "DescribeUser", store.describe_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id))
    assert (user["UserStatus"], user["Name"]["GivenName"], user["Title"]) == ("DISABLED", "Renamed", "Departed")
    assert user["UpdatedAt"] == tiny.as_of and user["CreatedAt"] <= user["UpdatedAt"]


def test_update_user_refuses_bad_input(tiny, scratch_user):
    store, user_id = scratch_user
    for operation in (
        {"AttributePath": "userStatus", "AttributeValue": "SUSPENDED"},
        {"AttributePath": "noSuchAttribute", "AttributeValue": "x"},
    ):
        with pytest.raises(ClientError) as caught:
            store.update_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id, Operations=[operation])
        assert error_code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        store.update_user(
            IdentityStoreId=tiny.identity_store_id,
            UserId="00000000-0000-0000-0000-000000000000",
            Operations=[{"AttributePath": "title", "AttributeValue": "x"}],
        )
    assert error_code(caught) == "ResourceNotFoundException"


def test_list_users_reports_status_and_creation(tiny, aws):
    store = aws.client("identitystore")
    page = conforms(store, "ListUsers", store.list_users(IdentityStoreId=tiny.identity_store_id))
    assert {u["UserStatus"] for u in page["Users"]} <= {"ENABLED", "DISABLED"}
    assert all(u["CreatedAt"] < tiny.as_of for u in page["Users"])
    never = next(p for p in tiny.planted if p.problem == "idc_never_signed_in")
    created = next(u["CreatedAt"] for u in page["Users"] if u["UserName"] == never.name)
    assert created.isoformat() == never.detail["created"]


# --- CloudTrail LookupEvents ---------------------------------------------------------------


def test_lookup_events_pages_newest_first_within_90_days(tiny, aws, records):
    cloudtrail = aws.client("cloudtrail")
    first = conforms(cloudtrail, "LookupEvents", cloudtrail.lookup_events(MaxResults=50))
    events, token = list(first["Events"]), first.get("NextToken")
    while token:
        page = cloudtrail.lookup_events(MaxResults=50, NextToken=token)
        events += page["Events"]
        token = page.get("NextToken")
    expected = [
        r
        for r in records
        if r["recipientAccountId"] == tiny.management_account_id
        and r["awsRegion"] == tiny.region
        and r["eventTime"] >= (tiny.as_of - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ]
    assert sorted(e["EventId"] for e in events) == sorted(r["eventID"] for r in expected)
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    assert json.loads(events[0]["CloudTrailEvent"])["eventID"] == events[0]["EventId"]


def test_lookup_events_by_attribute_and_per_account(tiny, aws):
    plant = next(p for p in tiny.planted if p.problem == "key_old")
    cloudtrail = aws.client("cloudtrail", plant.account_id)
    events = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": plant.detail["access_key_id"]}]
    )["Events"]
    assert events and {e["Username"] for e in events} == {plant.name}
    assert {e["AccessKeyId"] for e in events} == {plant.detail["access_key_id"]}
    management = aws.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": plant.detail["access_key_id"]}]
    )
    assert management["Events"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "EventName", "AttributeValue": "a"},
                    {"AttributeKey": "EventName", "AttributeValue": "b"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        ({"NextToken": "bm90IGEgdG9rZW4="}, "InvalidNextTokenException"),
    ],
)
def test_lookup_events_refuses_what_aws_refuses(aws, params, code):
    with pytest.raises(ClientError) as caught:
        aws.client("cloudtrail").lookup_events(**params)
    assert error_code(caught) == code


def test_lookup_events_refuses_a_reversed_time_range(tiny, aws):
    with pytest.raises(ClientError) as caught:
        aws.client("cloudtrail").lookup_events(StartTime=tiny.as_of, EndTime=tiny.as_of - timedelta(days=1))
    assert error_code(caught) == "InvalidTimeRangeException"


# --- IAM: Access Advisor and the credential report -------------------------------------------


def test_service_last_accessed_details_for_a_user(tiny, aws):
    plant = next(p for p in tiny.planted if p.problem == "key_old")
    iam = aws.client("iam", plant.account_id)
    arn = iam.get_user(UserName=plant.name)["User"]["Arn"]
    job = conforms(
        iam,
        "GenerateServiceLastAccessedDetails",
        iam.generate_service_last_accessed_details(Arn=arn, Granularity="ACTION_LEVEL"),
    )
    details = conforms(iam, "GetServiceLastAccessedDetails", iam.get_service_last_accessed_details(JobId=job["JobId"]))
    assert details["JobStatus"] == "COMPLETED" and details["JobType"] == "ACTION_LEVEL"
    used = [s for s in details["ServicesLastAccessed"] if "LastAuthenticated" in s]
    assert used and all(s["LastAuthenticatedEntity"] == arn and s["TotalAuthenticatedEntities"] == 1 for s in used)
    key_used = iam.get_access_key_last_used(AccessKeyId=plant.detail["access_key_id"])["AccessKeyLastUsed"]
    assert max(s["LastAuthenticated"] for s in used) == key_used["LastUsedDate"]
    page = iam.get_service_last_accessed_details(JobId=job["JobId"], MaxItems=1)
    assert len(page["ServicesLastAccessed"]) == 1 and page["IsTruncated"] == (len(details["ServicesLastAccessed"]) > 1)
    with pytest.raises(ClientError) as caught:
        iam.generate_service_last_accessed_details(Arn=arn.replace(plant.name, "nobody"))
    assert error_code(caught) == "NoSuchEntity"


def test_credential_report_starts_with_the_root_row(tiny, aws):
    iam = aws.client("iam")
    iam.generate_credential_report()
    report = conforms(iam, "GetCredentialReport", iam.get_credential_report())
    assert report["GeneratedTime"] == tiny.as_of
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    root = rows[0]
    assert root["user"] == "<root_account>" and root["arn"] == f"arn:aws:iam::{tiny.management_account_id}:root"
    assert root["password_enabled"] == "not_supported" and root["mfa_active"] == "true"
    assert root["access_key_1_active"] == "false" and root["password_last_used"] != "no_information"


def test_credential_report_matches_the_key_and_password_apis(tiny, aws):
    plant = next(p for p in tiny.planted if p.problem == "console_no_mfa")
    iam = aws.client("iam", plant.account_id)
    iam.generate_credential_report()
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode()))}
    row = rows[plant.name]
    assert (row["password_enabled"], row["mfa_active"], row["access_key_1_active"]) == ("true", "false", "false")
    assert row["password_last_used"] == plant.detail["password_last_used"]
    keyed = [(name, r) for name, r in rows.items() if r["access_key_1_active"] == "true" and name != "<root_account>"]
    assert keyed
    for name, key_row in keyed:
        key = iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        expected = used["LastUsedDate"].strftime("%Y-%m-%dT%H:%M:%S+00:00") if "LastUsedDate" in used else "N/A"
        assert key_row["access_key_1_last_used_date"] == expected
        assert key_row["access_key_1_last_used_region"] == used.get("Region", "N/A")
        assert key_row["access_key_1_last_rotated"] == key["CreateDate"].strftime("%Y-%m-%dT%H:%M:%S+00:00")


# --- sso-admin provisioning -------------------------------------------------------------------


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
    sso.tag_resource(InstanceArn=tiny.instance_arn, ResourceArn=arn, Tags=[{"Key": "review", "Value": "q3"}])
    sso.untag_resource(InstanceArn=tiny.instance_arn, ResourceArn=arn, TagKeys=["review"])
    assert sso.list_tags_for_resource(InstanceArn=tiny.instance_arn, ResourceArn=arn)["Tags"] == tags[arn]


def test_identity_center_exists_in_its_home_region_only(tiny, aws):
    sso = aws.client("sso-admin")
    home = conforms(sso, "ListInstances", sso.list_instances())["Instances"]
    assert [i["InstanceArn"] for i in home] == [tiny.instance_arn]
    assert aws.client("sso-admin", region="eu-central-1").list_instances()["Instances"] == []
