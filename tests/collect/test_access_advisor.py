"""Access Advisor's two-phase jobs, with botocore's Stubber playing IAM exactly per the service model."""

import threading
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from auditor.collect.access_advisor import AccountByAccount, collect_access_advisor
from auditor.model import Account, IamRole, IamUser
from auditor.progress import Progress

ACCOUNT = "222222222222"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ci"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
WHEN = datetime(2026, 9, 1, tzinfo=UTC)
JOB_USER = "11111111-1111-4111-8111-111111111111"  # JobIds are 36-character UUIDs
JOB_ROLE = "22222222-2222-4222-8222-222222222222"


class FakeContext:
    def __init__(self, iam):
        self.iam = iam

    def client(self, service, account_id=None, region=None):
        return self.iam


@pytest.fixture
def iam():
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber


def _entities():
    users = [IamUser(account_id=ACCOUNT, user_name="ci", user_id="AIDA1", arn=USER_ARN)]
    roles = [
        IamRole(account_id=ACCOUNT, role_name="app", role_id="AROA1", arn=ROLE_ARN),
        IamRole(
            account_id=ACCOUNT,
            role_name="AWSServiceRoleForX",
            role_id="AROA2",
            path="/aws-service-role/x/",
            arn=f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x/AWSServiceRoleForX",
        ),
    ]
    return users, roles


def _status(job_status, services=(), truncated=False, marker=None):
    # the service model marks JobCompletionDate required, whatever the status
    page = {
        "JobStatus": job_status,
        "JobCreationDate": WHEN,
        "JobCompletionDate": WHEN,
        "ServicesLastAccessed": list(services),
        "IsTruncated": truncated,
    }
    if marker:
        page["Marker"] = marker
    return page


def test_starts_every_job_then_polls_until_complete_following_pages(iam):
    client, stubber = iam
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_USER}, {"Arn": USER_ARN})
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    stubber.add_response("get_service_last_accessed_details", _status("IN_PROGRESS"), {"JobId": JOB_USER})
    stubber.add_response("get_service_last_accessed_details", _status("IN_PROGRESS"), {"JobId": JOB_ROLE})
    s3 = {
        "ServiceName": "Amazon S3",
        "ServiceNamespace": "s3",
        "LastAuthenticated": WHEN,
        "LastAuthenticatedRegion": "eu-west-1",
        "TotalAuthenticatedEntities": 1,
    }
    ec2 = {"ServiceName": "Amazon EC2", "ServiceNamespace": "ec2", "TotalAuthenticatedEntities": 0}
    stubber.add_response(
        "get_service_last_accessed_details", _status("COMPLETED", [s3], True, "m1"), {"JobId": JOB_USER}
    )
    stubber.add_response(
        "get_service_last_accessed_details", _status("COMPLETED", [ec2]), {"JobId": JOB_USER, "Marker": "m1"}
    )
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", [ec2]), {"JobId": JOB_ROLE})
    sleeps = []
    users, roles = _entities()
    result = collect_access_advisor(
        FakeContext(client), [Account(account_id=ACCOUNT, name="a")], users, roles, Progress(), sleep=sleeps.append
    )
    stubber.assert_no_pending_responses()
    assert sleeps == [0.5]  # one round of waiting for both jobs
    records = {(r.entity_arn, r.service_namespace): r for r in result.tables["service_access"]}
    assert set(records) == {(USER_ARN, "s3"), (USER_ARN, "ec2"), (ROLE_ARN, "ec2")}
    assert records[(USER_ARN, "s3")].last_authenticated == WHEN
    assert records[(USER_ARN, "ec2")].last_authenticated is None
    (status,) = result.statuses
    assert (status.source, status.account_id, status.status) == ("access_advisor", ACCOUNT, "ok")


def test_a_failed_job_and_a_deadline_make_the_account_partial(iam):
    client, stubber = iam
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_USER}, {"Arn": USER_ARN})
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    failed = _status("FAILED")
    failed["Error"] = {"Message": "internal", "Code": "InternalError"}
    stubber.add_response("get_service_last_accessed_details", failed, {"JobId": JOB_USER})
    stubber.add_response("get_service_last_accessed_details", _status("IN_PROGRESS"), {"JobId": JOB_ROLE})
    ticks = iter([0.0, 999.0])  # the deadline passes after the first round
    users, roles = _entities()
    result = collect_access_advisor(
        FakeContext(client),
        [Account(account_id=ACCOUNT, name="a")],
        users,
        roles,
        Progress(),
        sleep=lambda s: None,
        clock=lambda: next(ticks),
        timeout=60,
    )
    (status,) = result.statuses
    assert status.status == "failed"  # nothing usable came back
    assert "InternalError" in status.error and "JobsTimedOut" in status.error


def test_access_denied_on_start_is_recorded_per_entity(iam):
    client, stubber = iam
    stubber.add_client_error(
        "generate_service_last_accessed_details", "AccessDenied", "not allowed", expected_params={"Arn": USER_ARN}
    )
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", []), {"JobId": JOB_ROLE})
    users, roles = _entities()
    result = collect_access_advisor(
        FakeContext(client), [Account(account_id=ACCOUNT, name="a")], users, roles, Progress(), sleep=lambda s: None
    )
    (status,) = result.statuses
    assert status.status == "failed"
    assert status.error.startswith("AccessDenied: not allowed (iam, GenerateServiceLastAccessedDetails)")


def test_entities_without_services_are_named_with_the_error_and_the_table_is_partial(iam):
    client, stubber = iam
    stubber.add_client_error(
        "generate_service_last_accessed_details", "AccessDenied", "not allowed", expected_params={"Arn": USER_ARN}
    )
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    s3 = {"ServiceName": "Amazon S3", "ServiceNamespace": "s3", "TotalAuthenticatedEntities": 0}
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", [s3]), {"JobId": JOB_ROLE})
    users, roles = _entities()

    result = collect_access_advisor(
        FakeContext(client), [Account(account_id=ACCOUNT, name="a")], users, roles, Progress(), sleep=lambda s: None
    )

    (status,) = result.statuses
    assert status.status == "partial"
    assert status.tables == {"service_access": "partial"}
    [gap] = status.attributes
    assert (gap.what, gap.objects) == ("iam_user.service_access", [USER_ARN])
    assert gap.error == "AccessDenied: not allowed (iam, GenerateServiceLastAccessedDetails)"


def test_a_failed_job_and_a_deadline_name_their_entities(iam):
    client, stubber = iam
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_USER}, {"Arn": USER_ARN})
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    failed = _status("FAILED")
    failed["Error"] = {"Message": "internal", "Code": "InternalError"}
    stubber.add_response("get_service_last_accessed_details", failed, {"JobId": JOB_USER})
    stubber.add_response("get_service_last_accessed_details", _status("IN_PROGRESS"), {"JobId": JOB_ROLE})
    ticks = iter([0.0, 999.0])
    users, roles = _entities()

    result = collect_access_advisor(
        FakeContext(client),
        [Account(account_id=ACCOUNT, name="a")],
        users,
        roles,
        Progress(),
        sleep=lambda s: None,
        clock=lambda: next(ticks),
        timeout=60,
    )

    (status,) = result.statuses
    assert status.tables == {"service_access": "failed"}
    gaps = {gap.what: gap for gap in status.attributes}
    assert gaps["iam_user.service_access"].objects == [USER_ARN]
    assert "InternalError" in gaps["iam_user.service_access"].error
    assert gaps["iam_role.service_access"].objects == [ROLE_ARN]
    assert gaps["iam_role.service_access"].error.startswith("JobsTimedOut: 1 Access Advisor job(s)")


def test_accounts_handed_over_one_by_one_are_reported_in_the_accounts_order(iam):
    client, stubber = iam
    other = "333333333333"
    other_user = f"arn:aws:iam::{other}:user/ops"
    # one worker: the jobs run in the order the accounts are handed over (the other account first)
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": other_user})
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", []), {"JobId": JOB_ROLE})
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_USER}, {"Arn": USER_ARN})
    stubber.add_response("generate_service_last_accessed_details", {"JobId": JOB_ROLE}, {"Arn": ROLE_ARN})
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", []), {"JobId": JOB_USER})
    stubber.add_response("get_service_last_accessed_details", _status("COMPLETED", []), {"JobId": JOB_ROLE})
    accounts = [
        Account(account_id=ACCOUNT, name="a"),
        Account(account_id="444444444444", name="empty"),
        Account(account_id="555555555555", name="gone", status="SUSPENDED"),
        Account(account_id=other, name="b"),
    ]
    users, roles = _entities()
    with AccountByAccount(FakeContext(client), accounts, Progress(), max_workers=1, sleep=lambda s: None) as feed:
        feed.add(other, [IamUser(account_id=other, user_name="ops", user_id="AIDA2", arn=other_user)], [])
        feed.add("444444444444", [], [])  # IAM read no entity there: no job, no status
        feed.add("555555555555", users, roles)  # not active: not read
        feed.add(ACCOUNT, users, roles)
        feed.add(ACCOUNT, users, roles)  # handed over twice: read once
        result = feed.result()
    stubber.assert_no_pending_responses()
    assert [(s.account_id, s.status) for s in result.statuses] == [(ACCOUNT, "ok"), (other, "ok")]


class _HeldIam:
    """An IAM client whose first job start waits until the test lets it go."""

    def __init__(self):
        self.started: list[str] = []
        self.first = threading.Event()
        self.release = threading.Event()

    def generate_service_last_accessed_details(self, Arn):
        self.started.append(Arn)
        self.first.set()
        self.release.wait(10)
        return {"JobId": JOB_USER}

    def get_service_last_accessed_details(self, **_params):
        return _status("COMPLETED", [])


def test_a_run_that_fails_while_jobs_wait_starts_none_of_them():
    held = _HeldIam()
    accounts = [Account(account_id=f"10000000000{n}", name=f"a{n}") for n in range(3)]
    users = {
        a.account_id: [IamUser(account_id=a.account_id, user_name="u", user_id="AIDA1", arn=a.account_id)]
        for a in accounts
    }
    with (
        pytest.raises(RuntimeError, match="identity center failed"),
        AccountByAccount(FakeContext(held), accounts, Progress(), max_workers=1, sleep=lambda s: None) as feed,
    ):
        for account in accounts:
            feed.add(account.account_id, users[account.account_id], [])
        assert held.first.wait(10)
        raise RuntimeError("identity center failed")  # e.g. another collector's defect, mid-collection
    held.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("access-advisor"):
            thread.join(10)
    assert held.started == [accounts[0].account_id]  # the job already running ends; the two waiting never start
