"""Build a planned world through the AWS APIs, as an administrator would.

Every resource is created with boto3 against the sandbox endpoint: the
organisation and its accounts from the management account, each member's
IAM through ``OrganizationAccountAccessRole``, Identity Center from its
home region, the organisation trail last. Calls run one after another so
moto's seeded id generator hands out the same ids every time.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config

from auditor.sandbox.fills import sso_admin
from auditor.sandbox.plan import IamUserPlan, World

ACCESS_ROLE = "OrganizationAccountAccessRole"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
TRAIL_NAME = "org-trail"
FAKE_KEY_ID, FAKE_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class Built:
    """The ids AWS handed out, keyed by the plan's names."""

    management_id: str = ""
    organization_id: str = ""
    account_ids: dict[str, str] = field(default_factory=dict)  # account key -> id
    instance_arn: str = ""
    identity_store_id: str = ""
    group_ids: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)  # IdC user name -> UserId
    permission_set_arns: dict[str, str] = field(default_factory=dict)
    iam_users: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (account id, name) -> user
    mfa_serials: dict[tuple[str, str], str] = field(default_factory=dict)
    roles: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (account id, role name) -> role
    trail_bucket: str = ""
    trail_arn: str = ""


class Clients:
    """boto3 clients for the sandbox: the management account directly, members through the access role."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3})
        self.management = boto3.Session(
            aws_access_key_id=FAKE_KEY_ID, aws_secret_access_key=FAKE_SECRET, region_name=region
        )
        self.members: dict[str, boto3.Session] = {}
        self.management_id = ""

    def client(self, service: str, account_id: str | None = None, region: str | None = None) -> Any:
        session = self.management if account_id in (None, self.management_id) else self.member(account_id)
        return session.client(
            service, endpoint_url=self.endpoint_url, region_name=region or self.region, config=self.config
        )

    def member(self, account_id: str) -> boto3.Session:
        if account_id not in self.members:
            credentials = self.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{ACCESS_ROLE}", RoleSessionName="sandbox-admin"
            )["Credentials"]
            self.members[account_id] = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region,
            )
        return self.members[account_id]


def build(world: World, clients: Clients) -> Built:
    built = Built()
    rng = random.Random(f"auditor-sandbox-build:{world.seed}")
    build_organization(world, clients, built)
    for account in world.accounts:
        build_iam(world, clients, built, account.key, rng)
    build_identity_center(world, clients, built)
    read_reserved_roles(clients, built)
    build_trail(world, clients, built)
    return built


def _tags(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in mapping.items()]


def build_organization(world: World, clients: Clients, built: Built) -> None:
    org = clients.client("organizations")
    org.create_organization(FeatureSet="ALL")
    description = org.describe_organization()["Organization"]
    built.management_id = clients.management_id = description["MasterAccountId"]
    built.organization_id = description["Id"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    units: dict[str, str] = {}
    for account in world.accounts:
        tags = _tags({"owner": account.owner, "environment": account.environment})
        if account.management:
            built.account_ids[account.key] = built.management_id
            org.tag_resource(ResourceId=built.management_id, Tags=tags)
            continue
        status = org.create_account(Email=account.email, AccountName=account.name, Tags=tags)["CreateAccountStatus"]
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"account {account.name} was not created: {status}")
        built.account_ids[account.key] = status["AccountId"]
        if account.ou:
            if account.ou not in units:
                units[account.ou] = org.create_organizational_unit(ParentId=root_id, Name=account.ou)[
                    "OrganizationalUnit"
                ]["Id"]
            org.move_account(
                AccountId=status["AccountId"], SourceParentId=root_id, DestinationParentId=units[account.ou]
            )


def _policy_arn(account_id: str, reference: str) -> str:
    return reference if reference.startswith("arn:") else f"arn:aws:iam::{account_id}:{reference}"


def build_iam(world: World, clients: Clients, built: Built, account_key: str, rng: random.Random) -> None:
    account_id = built.account_ids[account_key]
    iam = clients.client("iam", account_id)
    if account_id != built.management_id:
        iam.attach_role_policy(RoleName=ACCESS_ROLE, PolicyArn=ADMIN_POLICY)
    for policy in (p for p in world.policies if p.account_key == account_key):
        iam.create_policy(
            PolicyName=policy.name,
            Path=policy.path,
            PolicyDocument=json.dumps(policy.document),
            Description=f"{policy.name} ({world.company})",
        )
    for group in (g for g in world.iam_groups if g.account_key == account_key):
        iam.create_group(GroupName=group.name)
        for reference in group.managed:
            iam.attach_group_policy(GroupName=group.name, PolicyArn=_policy_arn(account_id, reference))
    for user in (u for u in world.iam_users if u.account_key == account_key):
        build_iam_user(iam, built, account_id, user, rng)
    for role in (r for r in world.roles if r.account_key == account_key):
        if role.trust_service:
            principal = {"Service": role.trust_service}
        else:
            principal = {"AWS": f"arn:aws:iam::{built.management_id}:root"}
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        created = iam.create_role(
            RoleName=role.name, AssumeRolePolicyDocument=json.dumps(trust), Description=role.description
        )["Role"]
        built.roles[(account_id, role.name)] = {"RoleId": created["RoleId"], "Arn": created["Arn"]}
        for name, document in role.inline.items():
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for reference in role.managed:
            iam.attach_role_policy(RoleName=role.name, PolicyArn=_policy_arn(account_id, reference))


def build_iam_user(iam: Any, built: Built, account_id: str, user: IamUserPlan, rng: random.Random) -> None:
    created = iam.create_user(UserName=user.name, Tags=_tags(user.tags))["User"]
    built.iam_users[(account_id, user.name)] = {"UserId": created["UserId"], "Arn": created["Arn"]}
    for group in user.groups:
        iam.add_user_to_group(GroupName=group, UserName=user.name)
    for reference in user.managed:
        iam.attach_user_policy(UserName=user.name, PolicyArn=_policy_arn(account_id, reference))
    for name, document in user.inline.items():
        iam.put_user_policy(UserName=user.name, PolicyName=name, PolicyDocument=json.dumps(document))
    if user.console:
        password = "".join(rng.choice(string.ascii_letters + string.digits + "!@#%") for _ in range(24))
        iam.create_login_profile(UserName=user.name, Password=password, PasswordResetRequired=False)
    if user.mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user.name)["VirtualMFADevice"]["SerialNumber"]
        codes = [f"{rng.randrange(10**6):06d}" for _ in range(2)]
        iam.enable_mfa_device(
            UserName=user.name, SerialNumber=serial, AuthenticationCode1=codes[0], AuthenticationCode2=codes[1]
        )
        built.mfa_serials[(account_id, user.name)] = serial
    for key in user.keys:
        key.key_id = iam.create_access_key(UserName=user.name)["AccessKey"]["AccessKeyId"]


def build_identity_center(world: World, clients: Clients, built: Built) -> None:
    sso_admin.set_identity_center_region(built.management_id, world.region)  # enabled once, in the home region
    sso, store = clients.client("sso-admin"), clients.client("identitystore")
    instance = sso.list_instances()["Instances"][0]
    built.instance_arn, built.identity_store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    store_id = built.identity_store_id
    for name, description in world.groups.items():
        built.group_ids[name] = store.create_group(IdentityStoreId=store_id, DisplayName=name, Description=description)[
            "GroupId"
        ]
    for user in world.idc_users:
        person = user.person
        user_type = "Contractor" if person and person.employment_type == "contractor" else "Employee"
        built.user_ids[user.user_name] = store.create_user(
            IdentityStoreId=store_id,
            UserName=user.user_name,
            DisplayName=user.display_name,
            Name={"GivenName": user.given_name, "FamilyName": user.family_name, "Formatted": user.display_name},
            Emails=[{"Value": user.email, "Type": "work", "Primary": True}],
            Title=user.title,
            UserType=user_type,
        )["UserId"]
        for group in user.groups:
            store.create_group_membership(
                IdentityStoreId=store_id,
                GroupId=built.group_ids[group],
                MemberId={"UserId": built.user_ids[user.user_name]},
            )
        if user.status != "ENABLED":
            store.update_user(
                IdentityStoreId=store_id,
                UserId=built.user_ids[user.user_name],
                Operations=[{"AttributePath": "userStatus", "AttributeValue": user.status}],
            )
    for permission_set in world.permission_sets:
        arn = sso.create_permission_set(
            Name=permission_set.name,
            Description=permission_set.description,
            InstanceArn=built.instance_arn,
            SessionDuration=permission_set.session_duration,
            Tags=_tags(permission_set.tags),
        )["PermissionSet"]["PermissionSetArn"]
        built.permission_set_arns[permission_set.name] = arn
        for policy in permission_set.managed:
            sso.attach_managed_policy_to_permission_set(
                InstanceArn=built.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=policy
            )
        for path, name in permission_set.customer_managed:
            sso.attach_customer_managed_policy_reference_to_permission_set(
                InstanceArn=built.instance_arn,
                PermissionSetArn=arn,
                CustomerManagedPolicyReference={"Name": name, "Path": path},
            )
        if permission_set.inline:
            sso.put_inline_policy_to_permission_set(
                InstanceArn=built.instance_arn, PermissionSetArn=arn, InlinePolicy=json.dumps(permission_set.inline)
            )
    for assignment in world.assignments:
        principal = (built.group_ids if assignment.principal_type == "GROUP" else built.user_ids)[assignment.principal]
        status = sso.create_account_assignment(
            InstanceArn=built.instance_arn,
            TargetId=built.account_ids[assignment.account_key],
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=built.permission_set_arns[assignment.permission_set],
            PrincipalType=assignment.principal_type,
            PrincipalId=principal,
        )["AccountAssignmentCreationStatus"]
        if status["Status"] == "FAILED":
            raise RuntimeError(f"assignment {assignment} failed: {status.get('FailureReason')}")
    for user in (u for u in world.idc_users if u.deleted):  # offboarded by deleting the user, not its grants
        store.delete_user(IdentityStoreId=store_id, UserId=built.user_ids[user.user_name])


def read_reserved_roles(clients: Clients, built: Built) -> None:
    """The roles Identity Center made in each account, as an auditor would list them."""
    for account_id in built.account_ids.values():
        iam = clients.client("iam", account_id)
        for page in iam.get_paginator("list_roles").paginate(PathPrefix="/aws-reserved/sso.amazonaws.com/"):
            for role in page["Roles"]:
                built.roles[(account_id, role["RoleName"])] = {"RoleId": role["RoleId"], "Arn": role["Arn"]}


def build_trail(world: World, clients: Clients, built: Built) -> None:
    """The organisation trail in the management account's home region, writing to its own bucket."""
    slug = world.company.split()[0].lower()
    bucket = built.trail_bucket = f"{slug}-org-cloudtrail-{built.management_id}"
    s3 = clients.client("s3")
    if world.region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": world.region})
    prefix = f"arn:aws:s3:::{bucket}/AWSLogs"
    trail_arn = f"arn:aws:cloudtrail:{world.region}:{built.management_id}:trail/{TRAIL_NAME}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [f"{prefix}/{built.management_id}/*", f"{prefix}/{built.organization_id}/*"],
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    cloudtrail = clients.client("cloudtrail")
    built.trail_arn = cloudtrail.create_trail(
        Name=TRAIL_NAME,
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        IsOrganizationTrail=True,
        EnableLogFileValidation=True,
        IncludeGlobalServiceEvents=True,
    )["TrailARN"]
    cloudtrail.start_logging(Name=TRAIL_NAME)


def saml_provider(built: Built) -> str:
    return sso_admin.saml_provider_name(built.instance_arn)
