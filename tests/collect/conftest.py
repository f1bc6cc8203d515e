"""Small estates on moto, in process, with the sandbox's fills of moto's gaps, and AWS errors injected per test.

The fills (``auditor.sandbox.fills``) answer what moto lacks as AWS does, so
that no test depends on a moto quirk; a test that needs another answer
(an error, an attribute the store does not return) injects it here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.identitystore.responses import IdentityStoreResponse

from auditor.aws import AwsContext
from auditor.sandbox import fills

REGION = "us-east-1"
MANAGEMENT = "123456789012"  # moto's default account: the caller, and the organisation's management account


@dataclass
class CountingContext(AwsContext):
    """An AwsContext that records every API call made through its clients: (account, operation)."""

    calls: list[tuple[str | None, str]] = field(default_factory=list, repr=False)

    def client(self, service: str, account_id: str | None = None, region: str | None = None, **options):
        made = super().client(service, account_id, region, **options)
        made.meta.events.register(  # once per client: the context hands the same client out again
            "before-call", lambda model, **_: self.calls.append((account_id, model.name)), unique_id="test-count"
        )
        return made

    def count(self, operation: str) -> int:
        return sum(1 for _, name in self.calls if name == operation)


@pytest.fixture(autouse=True)
def fills_installed():
    """The sandbox's fills for each test (process-wide, as moto's state is: whatever ran before on this worker)."""
    with fills.installed():
        yield


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials only: nothing from the developer's own AWS set-up may leak in."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Not needed here (sso-admin knows AWS managed policies without it), and loading every AWS managed
    # policy into each account's IAM backend costs seconds per account.
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture
def moto(aws_env):
    with mock_aws():
        yield


@pytest.fixture
def ctx(moto) -> CountingContext:
    return CountingContext(session=boto3.Session(region_name=REGION), region=REGION)


@dataclass
class Estate:
    management: str
    members: list[str]

    @property
    def all(self) -> list[str]:
        return [self.management, *self.members]


def _build_organization(n_members: int, tags: dict[int, dict[str, str]] | None = None) -> Estate:
    """An organisation owned by the caller with ``n_members`` member accounts (tags by member index)."""
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    members = []
    for index in range(n_members):
        extra = [{"Key": k, "Value": v} for k, v in (tags or {}).get(index, {}).items()]
        created = org.create_account(AccountName=f"member-{index}", Email=f"member-{index}@example.com", Tags=extra)
        members.append(created["CreateAccountStatus"]["AccountId"])
    return Estate(management=MANAGEMENT, members=members)


def _member_client(service: str, account_id: str):
    """A client in a member account, as an administrator would get one (moto routes by the role's account)."""
    sts = boto3.client("sts", region_name=REGION)
    role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="fixture")["Credentials"]
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _fail_call(
    monkeypatch,
    response_cls: type,
    method: str,
    when: Callable[[object], bool],
    code: str,
    message: str,
    http_status: int = 400,
) -> None:
    """Make one moto JSON operation answer an AWS error (with ``http_status``) when ``when(response)`` holds."""
    original = getattr(response_cls, method)

    def failing(self, *args, **kwargs):
        if when(self):
            error = JsonRESTError(code, message)
            error.code = http_status
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(response_cls, method, failing)


def _rewrite_response(monkeypatch, response_cls: type, method: str, rewrite: Callable[[dict, object], dict]) -> None:
    """Rewrite the answer one moto operation gives (a JSON body, or a fill's result before serialisation)."""
    original = getattr(response_cls, method)

    def rewritten(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        if isinstance(answer, ActionResult):
            return ActionResult(rewrite(dict(answer.result), self))
        return json.dumps(rewrite(json.loads(answer), self))

    monkeypatch.setattr(response_cls, method, rewritten)


def _deny_assume_role(monkeypatch, account_id: str) -> None:
    """STS AssumeRole into ``account_id`` is refused, as AWS refuses a role that does not trust the caller."""
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self, *args, **kwargs):
        role_arn = kwargs.get("role_arn", "")
        if f":{account_id}:" in role_arn:
            raise STSClientError(
                "AccessDenied",
                f"User: arn:aws:iam::{MANAGEMENT}:user/auditor is not authorized to perform: "
                f"sts:AssumeRole on resource: {role_arn}",
            )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(STSBackend, "assume_role", assume_role)


@pytest.fixture
def make_organization(moto):
    return _build_organization


@pytest.fixture
def member_client(moto):
    return _member_client


@pytest.fixture
def fail_call(monkeypatch):
    """``fail_call(ResponseClass, "operation", when, code, message[, http_status])``; see ``_fail_call``."""
    return lambda *args: _fail_call(monkeypatch, *args)


@pytest.fixture
def rewrite_response(monkeypatch):
    return lambda *args: _rewrite_response(monkeypatch, *args)


@pytest.fixture
def deny_assume_role(monkeypatch):
    return lambda account_id: _deny_assume_role(monkeypatch, account_id)


@pytest.fixture
def identity_store_users_with(monkeypatch):
    return lambda extra: _identity_store_users_with(monkeypatch, extra)


# --- Identity Center -----------------------------------------------------------------


def _identity_store_users_with(monkeypatch, extra: dict[str, dict]) -> None:
    """ListUsers answers with these attributes per user name (a None value: the attribute is absent).

    AWS returns UserStatus and CreatedAt, but not always (identity stores
    synced from an external IdP may omit CreatedAt), so tests set them, or
    remove them, explicitly.
    """

    def rewrite(body: dict, _response) -> dict:
        for user in body.get("Users", []):
            for key, value in extra.get(user["UserName"], {}).items():
                if value is None:
                    user.pop(key, None)
                else:
                    user[key] = value
        return body

    _rewrite_response(monkeypatch, IdentityStoreResponse, "list_users", rewrite)


@dataclass
class Idc:
    sso: object
    store: object
    instance_arn: str
    store_id: str

    def user(self, name: str, emails: list[dict] | None = None, **extra) -> str:
        return self.store.create_user(
            IdentityStoreId=self.store_id,
            UserName=name,
            DisplayName=name.title(),
            Name={"GivenName": name.title(), "FamilyName": "Example"},
            Emails=emails
            if emails is not None
            else [{"Value": f"{name}@example.com", "Type": "work", "Primary": True}],
            **extra,
        )["UserId"]

    def group(self, name: str, members: list[str] = ()) -> str:
        group_id = self.store.create_group(
            IdentityStoreId=self.store_id, DisplayName=name, Description=f"{name} group"
        )["GroupId"]
        for user_id in members:
            self.store.create_group_membership(
                IdentityStoreId=self.store_id, GroupId=group_id, MemberId={"UserId": user_id}
            )
        return group_id

    def permission_set(self, name: str, managed: list[str] = (), **extra) -> str:
        extra.setdefault("SessionDuration", "PT1H")  # what AWS reports when none is given
        arn = self.sso.create_permission_set(InstanceArn=self.instance_arn, Name=name, **extra)["PermissionSet"][
            "PermissionSetArn"
        ]
        for policy_arn in managed:
            self.sso.attach_managed_policy_to_permission_set(
                InstanceArn=self.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=policy_arn
            )
        return arn

    def assign(self, account_id: str, permission_set_arn: str, principal_type: str, principal_id: str) -> None:
        self.sso.create_account_assignment(
            InstanceArn=self.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set_arn,
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )


@pytest.fixture
def idc(moto) -> Idc:
    """The default Identity Center instance that ListInstances returns (moto cannot CreateInstance)."""
    sso = boto3.client("sso-admin", region_name=REGION)
    instance = sso.list_instances()["Instances"][0]
    store = boto3.client("identitystore", region_name=REGION)
    return Idc(sso=sso, store=store, instance_arn=instance["InstanceArn"], store_id=instance["IdentityStoreId"])
