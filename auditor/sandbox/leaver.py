"""A person about to leave, planted into a running sandbox for the event tests and the latency benchmark.

Planted through the AWS APIs after the estate is built (so the demo's own
findings do not change): an Identity Center user in two groups with an
administrator permission set assigned directly in a member account, an IAM
user they own (tagged ``owner=<their email>``) with an active access key,
and their active row appended to the sandbox's HR feed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import boto3

from auditor.sandbox.people import HR_COLUMNS
from auditor.sandbox.server import Sandbox


@dataclass(frozen=True)
class PlantedLeaver:
    user_name: str
    email: str
    employee_id: str
    manager_email: str
    user_id: str
    group_ids: tuple[str, ...]
    account_id: str  # where the direct assignment and the owned IAM user are
    permission_set_arn: str
    iam_user: str
    access_key_id: str


def _session(sandbox: Sandbox, account_id: str | None = None) -> boto3.Session:
    env = sandbox.env()
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=sandbox.region,
    )
    if account_id is None or account_id == sandbox.management_account_id:
        return session
    sts = session.client("sts", endpoint_url=sandbox.endpoint_url)
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="plant")["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=sandbox.region,
    )


def admin_permission_set(sandbox: Sandbox) -> str:
    """An existing permission set with AWS AdministratorAccess attached."""
    sso = _session(sandbox).client("sso-admin", endpoint_url=sandbox.endpoint_url)
    for arn in sso.list_permission_sets(InstanceArn=sandbox.instance_arn, MaxResults=100)["PermissionSets"]:
        attached = sso.list_managed_policies_in_permission_set(InstanceArn=sandbox.instance_arn, PermissionSetArn=arn)
        if any(p["Name"] == "AdministratorAccess" for p in attached["AttachedManagedPolicies"]):
            name = sso.describe_permission_set(InstanceArn=sandbox.instance_arn, PermissionSetArn=arn)
            if "break" not in name["PermissionSet"]["Name"].lower():
                return arn
    raise LookupError("the sandbox has no administrator permission set")


def member_account(sandbox: Sandbox) -> str:
    return next(a for a in sorted(sandbox.accounts.values()) if a != sandbox.management_account_id)


def plant_leaver(sandbox: Sandbox, user_name: str = "quinn.harlow", employee_id: str = "E09001") -> PlantedLeaver:
    """Plant the person (see the module's docstring); returns what was planted."""
    endpoint = sandbox.endpoint_url
    email = f"{user_name}@corvid.example"
    manager = _first_manager(sandbox.hr_feed)
    management = _session(sandbox)
    store = management.client("identitystore", endpoint_url=endpoint)
    sso = management.client("sso-admin", endpoint_url=endpoint)
    user_id = store.create_user(
        IdentityStoreId=sandbox.identity_store_id,
        UserName=user_name,
        DisplayName="Quinn Harlow",
        Name={"GivenName": "Quinn", "FamilyName": "Harlow"},
        Emails=[{"Value": email, "Type": "work", "Primary": True}],
    )["UserId"]
    groups = store.list_groups(IdentityStoreId=sandbox.identity_store_id, MaxResults=100)["Groups"]
    chosen = tuple(g["GroupId"] for g in groups if "break" not in g["DisplayName"].lower())[:2]
    for group_id in chosen:
        store.create_group_membership(
            IdentityStoreId=sandbox.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
        )
    account = member_account(sandbox)
    permission_set = admin_permission_set(sandbox)
    sso.create_account_assignment(
        InstanceArn=sandbox.instance_arn,
        TargetId=account,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=permission_set,
        PrincipalType="USER",
        PrincipalId=user_id,
    )
    iam = _session(sandbox, account).client("iam", endpoint_url=endpoint)
    iam_user = f"svc-{user_name.split('.')[0]}-reports"
    iam.create_user(UserName=iam_user, Tags=[{"Key": "owner", "Value": email}])
    key = iam.create_access_key(UserName=iam_user)["AccessKey"]["AccessKeyId"]
    _append_hr(sandbox.hr_feed, employee_id, email, user_name, manager)
    return PlantedLeaver(
        user_name, email, employee_id, manager, user_id, chosen, account, permission_set, iam_user, key
    )


def _first_manager(hr_feed: Path) -> str:
    with hr_feed.open(encoding="utf-8") as handle:
        return next(row["email"] for row in csv.DictReader(handle) if row["status"] == "active")


def _append_hr(hr_feed: Path, employee_id: str, email: str, user_name: str, manager: str) -> None:
    row = dict.fromkeys(HR_COLUMNS, "")
    row.update(
        employee_id=employee_id,
        email=email,
        user_name=user_name,
        display_name="Quinn Harlow",
        department="engineering",
        title="Data Engineer",
        manager_email=manager,
        status="active",
        employment_type="employee",
        start_date="2024-03-04",
    )
    with hr_feed.open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=HR_COLUMNS, lineterminator="\n").writerow(row)
