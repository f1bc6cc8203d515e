"""A small estate on moto (in process) for the remediation tests, and builders of revocations.

moto lacks identity store UpdateUser with user status and exact sso-admin
provisioning; the sandbox's gap fills (``auditor.sandbox.fills``) supply
them faithfully to the AWS API reference, so the product's own code paths run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.aws import AwsContext
from auditor.config import Settings, validate
from auditor.model import Principal, Revocation, RevocationKind
from auditor.remediate import Clients, Waiter
from auditor.remediate.population import Population
from auditor.store import Store

REGION = "us-east-1"
MANAGEMENT = "123456789012"  # moto's default account: the caller
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@dataclass
class RecordingContext(AwsContext):
    """An AwsContext recording every API call made through its clients: (account, operation, params)."""

    calls: list[tuple[str | None, str, dict]] = field(default_factory=list, repr=False)

    def client(self, service: str, account_id: str | None = None, region: str | None = None, **options):
        made = super().client(service, account_id, region, **options)
        made.meta.events.register(  # once per client: the context hands the same client out again
            "provide-client-params",
            lambda model, params, **_: self.calls.append((account_id, model.name, dict(params))),
            unique_id="test-record",
        )
        return made

    def count(self, operation: str) -> int:
        return sum(1 for _, name, _ in self.calls if name == operation)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _login_profiles_as_aws(monkeypatch) -> None:
    """IAM login profiles as AWS keeps them: their own CreateDate, and PasswordResetRequired as given.

    moto 5.2.5 answers the user's creation time for CreateDate and ignores
    PasswordResetRequired on CreateLoginProfile.
    """
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    def view(user) -> dict:
        return {
            "UserName": user.name,
            "CreateDate": user.__dict__.get("login_profile_created", user.create_date),
            "PasswordResetRequired": user.password_reset_required,
        }

    def create_login_profile(self):
        user = self.backend.create_login_profile(self._get_param("UserName"), self._get_param("Password"))
        user.password_reset_required = str(self._get_param("PasswordResetRequired")).lower() == "true"
        user.__dict__["login_profile_created"] = datetime.now(UTC)
        return ActionResult({"LoginProfile": view(user)})

    def get_login_profile(self):
        return ActionResult({"LoginProfile": view(self.backend.get_login_profile(self._get_param("UserName")))})

    monkeypatch.setattr(IamResponse, "create_login_profile", create_login_profile)
    monkeypatch.setattr(IamResponse, "get_login_profile", get_login_profile)


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto in process, with fake credentials only, and the sandbox's fills for the operations moto lacks."""
    from auditor.sandbox import fills

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)  # not needed, and slow to load
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    _login_profiles_as_aws(monkeypatch)
    with fills.installed(), mock_aws():  # process-wide: undone after, unless something else had installed them
        yield


@dataclass
class Estate:
    ctx: RecordingContext
    clock: FakeClock
    instance_arn: str
    store_id: str
    member: str  # a member account, reached through the member role
    users: dict[str, str]  # Identity Center user name -> id
    groups: dict[str, str]
    permission_sets: dict[str, str]
    keys: dict[str, str]  # IAM user name -> access key id
    policy_arn: str
    idc: object
    sso: object
    store: Store  # where plans are recorded and campaigns decide
    workdir: Path  # campaign evidence goes here
    _iam: dict = field(default_factory=dict, repr=False)

    def clients(self) -> Clients:
        return Clients(self.ctx, Waiter(sleep=self.clock.sleep, clock=self.clock))

    def iam(self, account_id: str):
        if account_id not in self._iam:
            credentials = {} if account_id == MANAGEMENT else self.ctx.credentials_for(account_id)
            self._iam[account_id] = boto3.Session(region_name=REGION).client("iam", **credentials)
        return self._iam[account_id]

    # --- revocations as a campaign would produce them -------------------------------------

    def membership(self, user: str, group: str) -> Revocation:
        return revocation(
            RevocationKind.IDC_GROUP_MEMBERSHIP,
            "idc_user",
            self.users[user],
            user,
            identity_store_id=self.store_id,
            group_id=self.groups[group],
            user_id=self.users[user],
        )

    def assignment(self, user: str, permission_set: str, account_id: str | None = None) -> Revocation:
        return revocation(
            RevocationKind.IDC_ACCOUNT_ASSIGNMENT,
            "idc_user",
            self.users[user],
            user,
            instance_arn=self.instance_arn,
            account_id=account_id or self.member,
            permission_set_arn=self.permission_sets[permission_set],
            principal_type="USER",
            principal_id=self.users[user],
        )

    def group_assignment(self, group: str, permission_set: str) -> Revocation:
        return revocation(
            RevocationKind.IDC_ACCOUNT_ASSIGNMENT,
            "idc_group",
            self.groups[group],
            group,
            instance_arn=self.instance_arn,
            account_id=self.member,
            permission_set_arn=self.permission_sets[permission_set],
            principal_type="GROUP",
            principal_id=self.groups[group],
        )

    def disable(self, user: str) -> Revocation:
        return revocation(
            RevocationKind.IDC_USER,
            "idc_user",
            self.users[user],
            user,
            identity_store_id=self.store_id,
            user_id=self.users[user],
        )

    def key(self, user: str, account_id: str = MANAGEMENT) -> Revocation:
        return revocation(
            RevocationKind.IAM_ACCESS_KEY,
            "access_key",
            self.keys[user],
            user,
            account_id=account_id,
            user_name=user,
            access_key_id=self.keys[user],
        )

    def login(self, user: str, account_id: str = MANAGEMENT) -> Revocation:
        return revocation(
            RevocationKind.IAM_LOGIN_PROFILE, "iam_user", user, user, account_id=account_id, user_name=user
        )

    def policy(self, user: str, account_id: str = MANAGEMENT) -> Revocation:
        return revocation(
            RevocationKind.IAM_USER_POLICY,
            "iam_user",
            user,
            user,
            account_id=account_id,
            user_name=user,
            policy_arn=self.policy_arn,
        )


def revocation(kind: RevocationKind, ptype: str, pid: str, name: str, **target: str) -> Revocation:
    return Revocation(
        kind=kind.value,
        target=target,
        reason={
            "campaign_id": 1,
            "decision": "revoke",
            "reviewer": "manager@example.com",
            "justification": f"{name} no longer needs it",
        },
        principal=Principal(type=ptype, id=pid, name=name),
        account_id=target.get("account_id"),
    )


@pytest.fixture
def estate(aws, store, tmp_path) -> Estate:
    """Identity Center users in groups and assignments in a member account; IAM users in both accounts.

    alice, bob and carol are engineers (the group holds ReadOnly in the
    member account); alice also holds Admin directly; breakglass-admin holds
    Admin and is in the engineers group too. IAM: erin (console password,
    key, attached policy) in the management account, frank (console
    password, key) in the member account, breakglass-iam with a key.
    """
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="workloads", Email="workloads@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    sso = boto3.client("sso-admin", region_name=REGION)
    idc = boto3.client("identitystore", region_name=REGION)
    instance = sso.list_instances()["Instances"][0]
    instance_arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    users = {}
    for name in ("alice", "bob", "carol", "dave", "breakglass-admin"):
        users[name] = idc.create_user(
            IdentityStoreId=store_id,
            UserName=name,
            DisplayName=name.title(),
            Name={"GivenName": name.title(), "FamilyName": "Example"},
            Emails=[{"Value": f"{name}@example.com", "Type": "work", "Primary": True}],
        )["UserId"]
    groups = {
        name: idc.create_group(IdentityStoreId=store_id, DisplayName=name)["GroupId"]
        for name in ("engineers", "auditors")
    }
    for name in ("alice", "bob", "carol", "breakglass-admin"):
        idc.create_group_membership(
            IdentityStoreId=store_id, GroupId=groups["engineers"], MemberId={"UserId": users[name]}
        )
    idc.create_group_membership(
        IdentityStoreId=store_id, GroupId=groups["auditors"], MemberId={"UserId": users["dave"]}
    )
    permission_sets = {
        name: sso.create_permission_set(InstanceArn=instance_arn, Name=name, SessionDuration="PT1H")["PermissionSet"][
            "PermissionSetArn"
        ]
        for name in ("Admin", "ReadOnly")
    }

    def assign(permission_set: str, principal_type: str, principal_id: str) -> None:
        sso.create_account_assignment(
            InstanceArn=instance_arn,
            TargetId=member,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_sets[permission_set],
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )

    assign("ReadOnly", "GROUP", groups["engineers"])
    assign("Admin", "USER", users["alice"])
    assign("Admin", "USER", users["bob"])
    assign("Admin", "USER", users["breakglass-admin"])
    assign("ReadOnly", "GROUP", groups["auditors"])
    ctx = RecordingContext(session=boto3.Session(region_name=REGION), region=REGION)
    estate = Estate(
        ctx=ctx,
        clock=FakeClock(),
        instance_arn=instance_arn,
        store_id=store_id,
        member=member,
        users=users,
        groups=groups,
        permission_sets=permission_sets,
        keys={},
        policy_arn="",
        idc=idc,
        sso=sso,
        store=store,
        workdir=tmp_path / "campaigns",
    )
    policy_doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
    estate.policy_arn = estate.iam(MANAGEMENT).create_policy(PolicyName="deploy", PolicyDocument=policy_doc)["Policy"][
        "Arn"
    ]
    for account_id, name, console in (
        (MANAGEMENT, "erin", True),
        (member, "frank", True),
        (MANAGEMENT, "breakglass-iam", True),
    ):
        iam = estate.iam(account_id)
        iam.create_user(UserName=name)
        estate.keys[name] = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        if console:
            iam.create_login_profile(UserName=name, Password="Initial-Passw0rd!", PasswordResetRequired=False)
    estate.iam(MANAGEMENT).attach_user_policy(UserName="erin", PolicyArn=estate.policy_arn)
    other = estate.iam(MANAGEMENT).create_policy(PolicyName="read-logs", PolicyDocument=policy_doc)["Policy"]["Arn"]
    estate.iam(MANAGEMENT).attach_user_policy(UserName="erin", PolicyArn=other)
    return estate


def make_settings(**remediation) -> Settings:
    return Settings(values=validate({"remediation": remediation} if remediation else {}, "test config"))


@pytest.fixture
def settings() -> Settings:
    # the estate is small: 5 Identity Center users + 3 IAM users; a few actions are a large share of it
    return make_settings(max_share=0.75, max_actions=20)


@pytest.fixture
def population() -> Population:
    return Population(size=8)


@pytest.fixture
def store(store_url) -> Store:
    """The state store on SQLite, then on PostgreSQL (tests/conftest.py: store_url)."""
    return Store.open(store_url)
