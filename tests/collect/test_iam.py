import json
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto.core.exceptions import AccessDeniedError
from moto.iam.models import AccessKeyLastUsed, IAMBackend, iam_backends

from auditor.collect.iam import (
    TABLES,
    CredentialReportTimeout,
    authorization_details,
    collect_iam,
    parse_credential_report,
    report_bool,
    report_time,
    root_credentials,
    wait_for_credential_report,
)
from auditor.collect.organizations import collect_organizations
from auditor.model import Account
from auditor.progress import Progress

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
# The <root_account> row as AWS writes it (IAM User Guide, "Understanding the report format"): root's
# password_enabled is not_supported; password_last_changed and password_next_rotation too.
ROOT_ROW = (
    "<root_account>,arn:aws:iam::{account}:root,2015-06-24T12:45:00+00:00,not_supported,2016-10-07T14:30:00+00:00,"
    "not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
USER_ROW = (
    "IAM-user,arn:aws:iam::0123456789:user/IAM-user,2015-06-24T15:45:00+00:00,true,2017-03-08T19:35:01+00:00,"
    "2016-04-29T16:20:00+00:00,N/A,true,true,2016-04-29T16:20:00+00:00,2017-03-08T19:30:00+00:00,us-east-1,s3,"
    "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
KEY1_CREATED = datetime(2024, 1, 2, 3, 4, 5)  # moto keeps naive UTC
KEY2_CREATED = datetime(2024, 6, 7, 8, 9, 10)
KEY1_USED = datetime(2025, 2, 3, 4, 5, 6)
ROLE_USED = datetime(2025, 3, 4, 5, 6, 7)


def at(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)


def edit_report(monkeypatch, edit):
    """GetCredentialReport's content passed through ``edit(lines, account_id)``."""
    original = IAMBackend.get_credential_report

    def get_credential_report(self):
        lines = original(self).splitlines()
        return "\n".join(edit(lines, self.account_id)) + "\n"

    monkeypatch.setattr(IAMBackend, "get_credential_report", get_credential_report)


@pytest.fixture
def root_row_in_report(monkeypatch):
    """AWS's report always has the <root_account> row, first after the header; moto's has none."""
    edit_report(
        monkeypatch,
        lambda lines, account: (
            [lines[0], ROOT_ROW.format(account=account)]
            + [line for line in lines[1:] if not line.startswith("<root_account>")]
        ),
    )


@dataclass
class World:
    accounts: list[Account]
    management: str
    members: list[str]
    keys: list[str]
    policy_arn: str


@pytest.fixture
def world(ctx, make_organization, member_client, root_row_in_report) -> World:
    """In member 0: alice (password, MFA, two keys, policies, group), bob (nothing), role deploy."""
    estate = make_organization(2)
    _, organization = collect_organizations(ctx, Progress())
    member = estate.members[0]
    iam = member_client("iam", member)
    policy_arn = iam.create_policy(PolicyName="s3-all", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_group(GroupName="devs")
    iam.attach_group_policy(GroupName="devs", PolicyArn=policy_arn)
    iam.create_user(UserName="alice", Path="/people/", Tags=[{"Key": "team", "Value": "data"}])
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.attach_user_policy(UserName="alice", PolicyArn=policy_arn)
    iam.put_user_policy(UserName="alice", PolicyName="inline-s3", PolicyDocument=POLICY)
    iam.add_user_to_group(GroupName="devs", UserName="alice")
    keys = [iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.update_access_key(UserName="alice", AccessKeyId=keys[1], Status="Inactive")
    iam.create_user(UserName="bob")
    iam.create_role(
        RoleName="deploy", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "owner", "Value": "platform"}]
    )
    iam.attach_role_policy(RoleName="deploy", PolicyArn=policy_arn)
    iam.put_role_policy(RoleName="deploy", PolicyName="inline-deploy", PolicyDocument=POLICY)
    boto3.client("iam").create_user(UserName="breakglass")
    # Plant history no API can set (moto stamps everything "now"): key ages, key and role use.
    backend = iam_backends[member]["aws"]
    first, second = backend.users["alice"].access_keys
    first.create_date, second.create_date = KEY1_CREATED, KEY2_CREATED
    first.last_used = AccessKeyLastUsed(timestamp=KEY1_USED, service="s3", region="eu-west-1")
    role = backend.roles[backend.get_role("deploy").id]
    role.last_used, role.last_used_region = ROLE_USED, "eu-west-1"
    return World(organization.accounts, estate.management, estate.members, keys, policy_arn)


def by_account(result, table: str, account_id: str) -> list:
    return [r for r in result.tables.get(table, []) if r.account_id == account_id]


def test_every_table_of_a_member_account(ctx, world):
    progress = Progress()
    result = collect_iam(ctx, world.accounts, progress, sleep=lambda s: None)

    member = world.members[0]
    users = {u.user_name: u for u in by_account(result, "iam_users", member)}
    assert set(users) == {"alice", "bob"}
    alice = users["alice"]
    assert alice.arn == f"arn:aws:iam::{member}:user/people/alice" and alice.path == "/people/"
    assert alice.created is not None and alice.created.tzinfo is not None
    assert (alice.password_enabled, alice.password_last_used, alice.mfa_active) == (True, None, True)
    assert alice.attached_policies == [world.policy_arn]
    assert alice.inline_policies == ["inline-s3"]
    assert alice.groups == ["devs"]
    assert alice.tags == {"team": "data"}
    bob = users["bob"]
    assert (bob.password_enabled, bob.mfa_active, bob.attached_policies, bob.groups) == (False, False, [], [])

    keys = {k.access_key_id: k for k in by_account(result, "access_keys", member)}
    assert set(keys) == set(world.keys)
    used, unused = keys[world.keys[0]], keys[world.keys[1]]
    assert (used.user_name, used.status, used.created, used.last_used) == (
        "alice",
        "Active",
        at(KEY1_CREATED),
        at(KEY1_USED),
    )
    assert (unused.status, unused.created, unused.last_used) == ("Inactive", at(KEY2_CREATED), None)
    assert ctx.count("GetAccessKeyLastUsed") == 0  # both keys were read from the credential report

    [group] = by_account(result, "iam_groups", member)
    assert (group.group_name, group.attached_policies, group.inline_policies) == ("devs", [world.policy_arn], [])

    roles = {r.role_name: r for r in by_account(result, "iam_roles", member)}
    assert set(roles) == {"deploy", "OrganizationAccountAccessRole"}  # Organizations creates the latter
    role = roles["deploy"]
    assert role.arn == f"arn:aws:iam::{member}:role/deploy"
    assert role.trust_policy == TRUST
    assert (role.last_used, role.last_used_region) == (at(ROLE_USED), "eu-west-1")
    assert role.attached_policies == [world.policy_arn]
    assert role.inline_policies == ["inline-deploy"]
    assert role.tags == {"owner": "platform"}

    [root] = by_account(result, "root_credentials", member)
    assert root.password_enabled is None  # not_supported
    assert root.password_last_used == datetime(2016, 10, 7, 14, 30, tzinfo=UTC)
    assert (root.mfa_active, root.access_key_1_active, root.access_key_2_active) == (True, False, False)

    assert [u.user_name for u in by_account(result, "iam_users", world.management)] == ["breakglass"]
    statuses = {s.account_id: s for s in result.statuses}
    assert set(statuses) == {world.management, *world.members}
    assert all(s.source == "iam" and s.status == "ok" and s.error is None for s in statuses.values())
    assert statuses[member].detail["users"] == 2 and statuses[member].detail["access_keys"] == 2
    assert progress.tasks["iam"] == [3, 3]
    assert ctx.count("GetAccountAuthorizationDetails") == 3  # one call per account gives users, groups, roles


# AccessDenied is one of AWS's common errors, absent from the STS model moto checks against.
@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\):UserWarning")
def test_an_account_whose_role_cannot_be_assumed_fails_alone(ctx, world, deny_assume_role):
    locked = world.members[1]
    deny_assume_role(locked)

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    statuses = {s.account_id: s for s in result.statuses}
    assert statuses[locked].status == "failed"
    assert statuses[locked].error.startswith("AccessDenied: ")
    assert f"arn:aws:iam::{locked}:role/{ctx.member_role_name}" in statuses[locked].error
    assert statuses[locked].error.endswith("(sts, AssumeRole)")
    assert statuses[world.members[0]].status == "ok" and statuses[world.management].status == "ok"
    assert not by_account(result, "iam_users", locked)
    assert len(by_account(result, "iam_users", world.members[0])) == 2


def test_only_active_accounts_are_read(ctx, world):
    suspended = Account(account_id=world.members[0], name="old", status="SUSPENDED")
    management = Account(account_id=world.management, name="management", is_management=True)
    progress = Progress()

    result = collect_iam(ctx, [management, suspended], progress, sleep=lambda s: None)

    assert [s.account_id for s in result.statuses] == [world.management]
    assert progress.tasks["iam"] == [1, 1]


def test_a_report_without_a_root_row_records_nothing_for_root(ctx, world, monkeypatch):
    edit_report(monkeypatch, lambda lines, account: [line for line in lines if not line.startswith("<root_account>")])

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    assert result.tables["root_credentials"] == []
    status = next(s for s in result.statuses if s.account_id == world.members[0])
    assert status.status == "ok"
    assert "no <root_account> row" in status.detail["root_credentials"]


def test_a_user_newer_than_the_report_is_read_directly(ctx, world, monkeypatch):
    edit_report(monkeypatch, lambda lines, account: [line for line in lines if not line.startswith("alice,")])

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    alice = next(u for u in by_account(result, "iam_users", world.members[0]) if u.user_name == "alice")
    assert (alice.password_enabled, alice.mfa_active) == (True, True)
    keys = {k.access_key_id: k for k in by_account(result, "access_keys", world.members[0])}
    assert keys[world.keys[0]].last_used == at(KEY1_USED)
    assert keys[world.keys[0]].last_used_service == "s3"
    assert ctx.count("GetAccessKeyLastUsed") == 2
    assert ctx.count("GetLoginProfile") == 1 and ctx.count("ListMFADevices") == 1


def test_a_report_that_never_completes_is_partial_within_the_deadline(ctx, world, monkeypatch):
    monkeypatch.setattr(IAMBackend, "report_generated", lambda self: False)  # always "STARTED"
    slept: list[float] = []

    result = collect_iam(ctx, world.accounts, Progress(), sleep=slept.append, report_timeout=10)

    status = next(s for s in result.statuses if s.account_id == world.members[0])
    assert status.status == "partial"
    assert status.error.startswith("CredentialReportTimeout: ")
    assert status.error.endswith("(iam, GenerateCredentialReport)")
    assert sum(slept) == pytest.approx(10 * 3)  # three accounts, ten seconds of waiting each
    alice = next(u for u in by_account(result, "iam_users", world.members[0]) if u.user_name == "alice")
    assert (alice.password_enabled, alice.mfa_active) == (True, True)
    assert result.tables["root_credentials"] == []


# --- the credential report, unit by unit ---------------------------------------------


def test_parsing_a_report_in_the_aws_format():
    rows = parse_credential_report(f"{HEADER}\n{ROOT_ROW.format(account='0123456789')}\n{USER_ROW}\n".encode())

    root, user = rows
    assert root["user"] == "<root_account>" and root["password_enabled"] == "not_supported"
    assert user["user"] == "IAM-user"
    assert report_time(user["access_key_1_last_used_date"]) == datetime(2017, 3, 8, 19, 30, tzinfo=UTC)
    assert user["access_key_1_last_used_service"] == "s3"
    assert report_bool(user["mfa_active"]) is True and report_bool(user["access_key_2_active"]) is False

    credentials = root_credentials("0123456789", root)
    assert credentials.password_enabled is None
    assert credentials.password_last_used == datetime(2016, 10, 7, 14, 30, tzinfo=UTC)
    assert credentials.mfa_active is True
    assert (credentials.access_key_1_active, credentials.access_key_1_last_used) == (False, None)


@pytest.mark.parametrize("value", ["N/A", "no_information", "not_supported", "", None])
def test_report_non_values_are_no_time(value):
    assert report_time(value) is None


def test_report_times_are_utc():
    assert report_time("2017-03-08T19:35:01+00:00") == datetime(2017, 3, 8, 19, 35, 1, tzinfo=UTC)
    assert report_time("2017-03-08T19:35:01Z").tzinfo is not None
    assert report_bool("TRUE") is True and report_bool("not_supported") is None


def test_a_report_without_a_header_is_refused():
    with pytest.raises(ValueError, match="'user' column"):
        parse_credential_report(b"")


def stubbed_iam():
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return iam, Stubber(iam)


def test_report_polling_backs_off_until_complete():
    iam, stub = stubbed_iam()
    for state in ("STARTED", "INPROGRESS", "INPROGRESS", "COMPLETE"):
        stub.add_response("generate_credential_report", {"State": state}, {})
    slept: list[float] = []

    with stub:
        wait_for_credential_report(iam, slept.append, timeout=60)

    assert slept == [1.0, 2.0, 4.0]
    stub.assert_no_pending_responses()


def test_report_polling_stops_at_the_deadline():
    iam, stub = stubbed_iam()
    for _ in range(4):
        stub.add_response("generate_credential_report", {"State": "INPROGRESS"}, {})
    slept: list[float] = []

    with stub, pytest.raises(CredentialReportTimeout, match="still INPROGRESS after 5 s"):
        wait_for_credential_report(iam, slept.append, timeout=5)

    assert slept == [1.0, 2.0, 2.0]


def test_authorization_details_follow_every_page():
    # moto answers GetAccountAuthorizationDetails in one page whatever MaxItems says; AWS pages by Marker.
    iam, stub = stubbed_iam()
    created = datetime(2020, 1, 1, tzinfo=UTC)

    def user(name):
        return {
            "UserName": name,
            "UserId": f"AIDA{name.upper():0>16}",
            "Arn": f"arn:aws:iam::111122223333:user/{name}",
            "Path": "/",
            "CreateDate": created,
        }

    stub.add_response(
        "get_account_authorization_details",
        {"UserDetailList": [user("a"), user("b")], "IsTruncated": True, "Marker": "page-2"},
        {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"], "MaxItems": 1000},
    )
    stub.add_response(
        "get_account_authorization_details",
        {
            "UserDetailList": [user("b"), user("c")],
            "RoleDetailList": [
                {
                    "RoleName": "r",
                    "RoleId": "AROAEXAMPLEROLE0001",
                    "Path": "/",
                    "CreateDate": created,
                    "Arn": "arn:aws:iam::111122223333:role/r",
                }
            ],
            "IsTruncated": False,
        },
        {"Filter": ["User", "Group", "Role", "LocalManagedPolicy"], "MaxItems": 1000, "Marker": "page-2"},
    )

    with stub:
        users, groups, roles = authorization_details(iam)

    assert [u["UserName"] for u in users] == ["a", "b", "c"]
    assert [r["RoleName"] for r in roles] == ["r"] and groups == []
    stub.assert_no_pending_responses()


# --- completeness per table and per optional attribute ---------------------------------


def _deny(monkeypatch, method: str, action: str, account_id: str) -> None:
    """IAMBackend.``method`` answers AccessDenied in ``account_id`` only, as a policy without ``action`` would."""
    original = getattr(IAMBackend, method)

    def denied(self, *args, **kwargs):
        if self.account_id == account_id:
            raise AccessDeniedError(f"arn:aws:sts::{account_id}:assumed-role/auditor/run", action)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IAMBackend, method, denied)


def test_per_user_reads_that_fail_are_attribute_gaps_of_those_users(ctx, world, monkeypatch):
    member = world.members[0]
    edit_report(monkeypatch, lambda lines, account: [line for line in lines if not line.startswith("alice,")])
    _deny(monkeypatch, "list_mfa_devices", "iam:ListMFADevices", member)
    _deny(monkeypatch, "get_access_key_last_used", "iam:GetAccessKeyLastUsed", member)

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    status = next(s for s in result.statuses if s.account_id == member)
    assert status.status == "partial"
    assert status.tables == dict.fromkeys(TABLES, "complete")  # every user and key was listed
    gaps = {gap.what: gap for gap in status.attributes}
    assert set(gaps) == {"iam_user.mfa_active", "access_key.last_used"}
    alice = f"arn:aws:iam::{member}:user/people/alice"
    assert gaps["iam_user.mfa_active"].objects == [alice]
    assert gaps["iam_user.mfa_active"].error.startswith("AccessDenied: ")
    assert gaps["iam_user.mfa_active"].error.endswith("iam:ListMFADevices (iam, ListMFADevices)")
    assert sorted(gaps["access_key.last_used"].objects) == sorted(world.keys)
    assert len(by_account(result, "access_keys", member)) == 2
    others = [s for s in result.statuses if s.account_id != member]
    assert all(s.status == "ok" and s.attributes == [] for s in others)


def test_keys_that_cannot_be_listed_leave_the_key_table_partial(ctx, world, monkeypatch):
    member = world.members[0]
    _deny(monkeypatch, "list_access_keys", "iam:ListAccessKeys", member)

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    status = next(s for s in result.statuses if s.account_id == member)
    assert status.tables["access_keys"] == "partial" and status.tables["iam_users"] == "complete"
    [gap] = status.attributes
    assert gap.what == "iam_user.access_keys"
    assert sorted(gap.objects) == sorted(u.arn for u in by_account(result, "iam_users", member))


def test_no_credential_report_fails_root_and_leaves_password_use_unknown(ctx, world, monkeypatch):
    monkeypatch.setattr(IAMBackend, "report_generated", lambda self: False)  # always "STARTED"

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None, report_timeout=1)

    status = next(s for s in result.statuses if s.account_id == world.members[0])
    assert status.tables["root_credentials"] == "failed"
    assert status.tables["iam_users"] == "complete"
    [gap] = [g for g in status.attributes if g.what == "iam_user.password_last_used"]
    assert gap.error.startswith("CredentialReportTimeout: ")
    assert sorted(gap.objects) == sorted(u.arn for u in by_account(result, "iam_users", world.members[0]))


def test_a_report_without_a_root_row_leaves_the_root_table_partial(ctx, world, monkeypatch):
    edit_report(monkeypatch, lambda lines, account: [line for line in lines if not line.startswith("<root_account>")])

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    status = next(s for s in result.statuses if s.account_id == world.members[0])
    assert status.tables["root_credentials"] == "partial"


@pytest.mark.filterwarnings("ignore:Exception\\(STSClientError\\):UserWarning")
def test_an_account_whose_role_cannot_be_assumed_fails_every_table(ctx, world, deny_assume_role):
    deny_assume_role(world.members[1])

    result = collect_iam(ctx, world.accounts, Progress(), sleep=lambda s: None)

    status = next(s for s in result.statuses if s.account_id == world.members[1])
    assert status.tables == dict.fromkeys(TABLES, "failed")


def test_each_account_is_handed_on_as_soon_as_it_is_read(ctx, world):
    heard = []

    def on_account(account_id, read):
        users = {u.user_name for u in read.tables["iam_users"]}
        heard.append((account_id, ctx.count("GetAccountAuthorizationDetails"), users))

    result = collect_iam(ctx, world.accounts, Progress(), max_workers=1, sleep=lambda s: None, on_account=on_account)

    # one worker: each account is heard of before the next one is read, with its own entities only
    assert [(account_id, calls) for account_id, calls, _ in heard] == [
        (a.account_id, n) for n, a in enumerate(world.accounts, 1)
    ]
    assert dict((a, names) for a, _, names in heard)[world.members[0]] == {"alice", "bob"}
    assert {s.account_id for s in result.statuses} == {a.account_id for a in world.accounts}
