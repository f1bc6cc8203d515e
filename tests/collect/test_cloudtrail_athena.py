"""The Athena engine on moto's Athena (queries run by the sandbox's fill): the S3 reader's activity and coverage.

The bucket holds every recorded CloudTrail shape in tests/collect/data, so the
query text (grouping, JSON extraction, the sign-in join within a log object,
the window's edges) is checked against the S3 reader on real record shapes.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import sqlglot
from moto import mock_aws
from moto.moto_api import state_manager
from sqlglot import exp

from auditor import config
from auditor.collect import cloudtrail_athena
from auditor.collect.cloudtrail import TrailLocation, collect_cloudtrail
from auditor.collect.cloudtrail_athena import AthenaSettings, athena_settings, collect_cloudtrail_athena
from auditor.collect.cloudtrail_rows import usage_from_rows
from auditor.model import Account
from auditor.progress import Progress
from auditor.sandbox import fills
from tests.collect.conftest import REGION, CountingContext
from tests.collect.test_cloudtrail_s3 import DATA

BUCKET = "org-trail-logs"
ORG = "o-a1b2c3d4e5"
FIRST, SECOND, QUIET = "111111111111", "222222222222", "333333333333"
AS_OF = datetime(2024, 6, 30, 23, 59, tzinfo=UTC)
LOOKBACK = 30
REGIONS = ("eu-west-1", "us-east-1")
SETTINGS = AthenaSettings(regions=REGIONS, output_location="s3://athena-results/auditor/")
ACCOUNTS = [Account(account_id=a, name=a) for a in (FIRST, SECOND, QUIET)]
TRAIL = TrailLocation(bucket=BUCKET, prefix=None, organization_id=ORG, home_region=REGION)


def log_key(account: str, region: str, delivered: datetime) -> str:
    return (
        f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_Mu0KsOhtH1ar15ZZ.json.gz"
    )


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    """One moto for the module: every recorded shape, one log object per file and day, around the window's edges.

    Tests that change what Athena keeps use a table of their own.
    """
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            env.delenv(name)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        }.items():
            env.setenv(name, value)
        with mock_aws(), fills.installed():  # the module's fixtures query Athena before any test's own set-up
            yield _fill(boto3.client("s3", region_name=REGION))


@pytest.fixture
def ctx(trail) -> CountingContext:
    return CountingContext(session=boto3.Session(region_name=REGION), region=REGION)


def _fill(s3):
    s3 = s3
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="athena-results")
    start = AS_OF - timedelta(days=LOOKBACK)
    moments = [
        start - timedelta(days=3),
        start - timedelta(hours=20),
        start - timedelta(minutes=2),
        start + timedelta(days=3),
        AS_OF,
    ]
    for number, path in enumerate(sorted(DATA.glob("*.json"))):
        records = json.loads(path.read_text())["Records"]
        account, region = (FIRST, SECOND)[number % 2], REGIONS[number % 2]
        for day, moment in enumerate(moments):
            batch = [
                {**record, "eventTime": (moment + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
                for i, record in enumerate(records)
            ]
            delivered = moment + timedelta(minutes=5 + number)
            body = gzip.compress(json.dumps({"Records": batch[day::2] + batch[1 - day % 2 :: 2]}).encode())
            s3.put_object(Bucket=BUCKET, Key=log_key(account, region, delivered), Body=body)
    # a sign-in step that names nobody, apart from the step naming the user (joined within one object only),
    # and an Identity Center SAML session known by its session name alone
    shapes = json.loads((DATA / "idc-documented-shapes.json").read_text())["Records"]
    identity = {k: v for k, v in shapes[13]["userIdentity"].items() if k != "userName"}
    alone = [{**shapes[3], "eventTime": "2024-06-20T10:00:00Z"}, {**shapes[13], "userIdentity": identity}]
    alone[1]["eventTime"] = "2024-06-20T10:01:00Z"
    body = gzip.compress(json.dumps({"Records": alone}).encode())
    s3.put_object(Bucket=BUCKET, Key=log_key(FIRST, REGIONS[1], datetime(2024, 6, 20, 10, 5, tzinfo=UTC)), Body=body)
    body = gzip.compress(json.dumps({"Records": access_changes_and_data_events()}).encode())
    s3.put_object(Bucket=BUCKET, Key=log_key(SECOND, REGIONS[0], datetime(2024, 6, 21, 9, 5, tzinfo=UTC)), Body=body)
    return s3


def access_changes_and_data_events() -> list[dict]:
    """Access granted, a removal that failed, and S3 data events naming objects (right-sizing scopes them)."""
    admin = {
        "type": "AssumedRole",
        "principalId": "AROAADMIN:jane",
        "arn": f"arn:aws:sts::{SECOND}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/jane",
        "accountId": SECOND,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": f"arn:aws:iam::{SECOND}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
                "accountId": SECOND,
                "userName": "AWSReservedSSO_Admin_0123456789abcdef",
            }
        },
    }
    worker = {**admin, "arn": f"arn:aws:sts::{SECOND}:assumed-role/etl/run-1", "principalId": "AROAETL:run-1"}
    worker["sessionContext"] = {
        "sessionIssuer": {**admin["sessionContext"]["sessionIssuer"], "arn": f"arn:aws:iam::{SECOND}:role/etl"}
    }
    grant = {
        "eventTime": "2024-06-21T09:00:00Z",
        "eventSource": "sso.amazonaws.com",
        "eventName": "CreateAccountAssignment",
        "userIdentity": admin,
        "requestParameters": {
            "targetId": FIRST,
            "targetType": "AWS_ACCOUNT",
            "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2222222222222222",
            "principalType": "USER",
            "principalId": "90676d0c4b-1111-2222-3333-444444444444",
        },
        "recipientAccountId": SECOND,
    }
    removal = {
        "eventTime": "2024-06-21T09:01:00Z",
        "eventSource": "identitystore.amazonaws.com",
        "eventName": "DeleteGroupMembership",
        "userIdentity": admin,
        "errorCode": "AccessDenied",
        "requestParameters": {"identityStoreId": "d-1234567890", "membershipId": "m-1"},
        "recipientAccountId": SECOND,
    }
    reads = [
        {
            "eventTime": f"2024-06-21T09:02:{second:02d}Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "userIdentity": worker,
            "resources": [
                {"ARN": f"arn:aws:s3:::data-lake/raw/part-{second}.parquet", "type": "AWS::S3::Object"},
                {"ARN": "arn:aws:s3:::data-lake", "accountId": SECOND, "type": "AWS::S3::Bucket"},
            ],
            "recipientAccountId": SECOND,
        }
        for second in range(3)
    ]
    return [grant, removal, *reads]


def collect(ctx, settings: AthenaSettings | None = SETTINGS, trail: TrailLocation = TRAIL):
    return collect_cloudtrail(ctx, ACCOUNTS, trail, Progress(), as_of=AS_OF, lookback_days=LOOKBACK, athena=settings)


def own_table(name: str, **options) -> AthenaSettings:
    return AthenaSettings(regions=REGIONS, output_location=SETTINGS.output_location, table=name, **options)


@pytest.fixture(scope="module")
def engines(trail):
    """The S3 reader's result and Athena's, on the module's trail, computed once."""
    context = CountingContext(session=boto3.Session(region_name=REGION), region=REGION)
    return collect(context, None), collect(context)


def coverage(result) -> dict:
    return {
        s.account_id: (s.status, s.error, s.coverage_start, s.coverage_end, s.detail.get("largest_gap_hours"))
        for s in result.statuses
    }


def test_athena_gives_the_s3_readers_activity_and_coverage(engines):
    by_s3, by_athena = engines
    assert len(by_s3.tables["activity"]) > 30  # every kind of principal, from real record shapes
    assert {a.kind for a in by_s3.tables["activity"]} == {
        "idc_user",
        "idc_assignment",
        "iam_user",
        "access_key",
        "root",
        "iam_role",
    }
    assert by_athena.tables["activity"] == by_s3.tables["activity"]
    assert coverage(by_athena) == coverage(by_s3)


def test_athena_gives_the_s3_readers_actions_called_and_access_changes(engines):
    by_s3, by_athena = engines
    assert by_athena.tables["action_usage"] == by_s3.tables["action_usage"]
    assert by_athena.tables["lifecycle_events"] == by_s3.tables["lifecycle_events"]
    reads = {
        (u.key, u.action, u.resource, u.events) for u in by_athena.tables["action_usage"] if u.key.endswith(":role/etl")
    }
    assert reads == {
        (f"arn:aws:iam::{SECOND}:role/etl", "s3:GetObject", "arn:aws:s3:::data-lake/*", 3),
        (f"arn:aws:iam::{SECOND}:role/etl", "s3:GetObject", "arn:aws:s3:::data-lake", 3),
    }
    changes = {(e.event_name, e.user_id, e.error_code) for e in by_athena.tables["lifecycle_events"]}
    assert ("CreateAccountAssignment", "90676d0c4b-1111-2222-3333-444444444444", None) in changes
    assert ("DeleteGroupMembership", None, "AccessDenied") in changes
    for status in by_athena.statuses:  # the rules that read them see them vouched for as activity is
        assert status.tables["action_usage"] == status.tables["lifecycle_events"] == status.tables["activity"]
    assert coverage(by_athena)[QUIET][0] == "partial"  # no logs: never "inactive" for lack of data
    assert f"s3://{BUCKET}/AWSLogs/{ORG}/{QUIET}/CloudTrail/" in coverage(by_athena)[QUIET][1]


def test_the_table_is_created_once_and_the_run_is_one_query_recorded_in_the_manifest(ctx, trail):
    settings = own_table("created_once")
    first = collect(ctx, settings)
    assert ctx.count("StartQueryExecution") == 2  # the table, then the query
    second = collect(ctx, settings)
    assert ctx.count("StartQueryExecution") == 3  # the table is reused
    athena = boto3.client("athena", region_name=REGION)
    detail = {s.account_id: s.detail for s in second.statuses}[FIRST]
    execution = athena.get_query_execution(QueryExecutionId=detail["query_execution_id"])["QueryExecution"]
    assert execution["Query"].startswith("WITH records AS")
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://athena-results/auditor/")
    assert detail["data_scanned_bytes"] == execution["Statistics"]["DataScannedInBytes"]
    in_partitions = sum(
        o["Size"] for o in trail.list_objects_v2(Bucket=BUCKET)["Contents"] if "/2024/05/29/" not in o["Key"]
    )
    assert detail["data_scanned_bytes"] == in_partitions  # the day before the widened window is not scanned
    assert {s.detail["table_action"] for s in first.statuses} == {"created"}
    assert {s.detail["table_action"] for s in second.statuses} == {"reused"}
    table = athena.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="default", TableName="created_once")
    parameters = table["TableMetadata"]["Parameters"]
    assert parameters["storage.location.template"] == (
        f"s3://{BUCKET}/AWSLogs/{ORG}/${{account}}/CloudTrail/${{region}}/${{timestamp}}"
    )
    assert parameters["projection.account.type"] == "injected"
    assert parameters["projection.region.values"] == "eu-west-1,us-east-1"


def test_results_are_read_page_by_page(ctx, engines, monkeypatch):
    whole = engines[1]
    monkeypatch.setattr(cloudtrail_athena, "PAGE_SIZE", 7)
    calls = ctx.count("GetQueryResults")
    paged = collect(ctx)
    assert ctx.count("GetQueryResults") - calls > 3
    assert paged.tables["activity"] == whole.tables["activity"]


def test_a_table_of_that_name_over_another_trail_is_left_alone(ctx, trail):
    athena = boto3.client("athena", region_name=REGION)
    settings = own_table("another_trail")
    elsewhere = cloudtrail_athena.table_ddl(settings, "s3://another-trail/AWSLogs/", REGIONS)
    athena.start_query_execution(QueryString=elsewhere, WorkGroup="primary")
    result = collect(ctx, settings)
    assert {s.status for s in result.statuses} == {"failed"}
    assert "s3://another-trail/AWSLogs/${account}" in result.statuses[0].error
    assert "set [cloudtrail.athena] table to another name" in result.statuses[0].error
    assert "activity" not in result.tables


def test_a_query_athena_refuses_fails_every_account_with_the_reason(ctx, trail):
    result = collect(ctx, AthenaSettings(regions=REGIONS, workgroup="no-such-group"))
    assert {s.status for s in result.statuses} == {"failed"}
    assert "WorkGroup does not exist" in result.statuses[0].error
    assert "athena" in result.statuses[0].error and "activity" not in result.tables


def test_a_damaged_log_object_fails_the_query_and_every_account_says_which(ctx, trail):
    trail.create_bucket(Bucket="damaged-trail")
    damaged = log_key(SECOND, REGIONS[0], datetime(2024, 6, 21, 9, 5, tzinfo=UTC))
    trail.put_object(Bucket="damaged-trail", Key=damaged, Body=b"\x1f\x8b\x08\x00truncated")
    elsewhere = TrailLocation(bucket="damaged-trail", prefix=None, organization_id=ORG, home_region=REGION)
    result = collect(ctx, own_table("damaged_trail"), elsewhere)
    assert {s.status for s in result.statuses} == {"failed"}
    assert all(" FAILED: HIVE_CURSOR_ERROR" in s.error and damaged in s.error for s in result.statuses)
    assert "activity" not in result.tables  # nothing is claimed from a query that did not finish


def test_a_query_past_its_deadline_is_stopped_and_reported(ctx, trail):
    slept: list[float] = []
    state_manager.set_transition(model_name="athena::execution", transition={"progression": "manual", "times": 50})
    try:
        result = collect_cloudtrail_athena(
            ctx,
            ACCOUNTS,
            TRAIL,
            Progress(),
            as_of=AS_OF,
            lookback_days=LOOKBACK,
            settings=own_table("never_done", timeout_seconds=5),
            sleep=slept.append,
        )
    finally:
        state_manager.unset_transition("athena::execution")
    assert sum(slept) == 5 and ctx.count("StopQueryExecution") == 1
    assert {s.status for s in result.statuses} == {"failed"}
    assert "after 5 s; stopped it (raise [cloudtrail.athena] timeout_seconds)" in result.statuses[0].error


def test_the_engine_and_its_settings_come_from_config():
    assert athena_settings(config.defaults()) is None
    values = config.validate(
        {"cloudtrail": {"engine": "athena", "athena": {"workgroup": "audit", "regions": ["eu-west-1"]}}}, "c.toml"
    )
    chosen = athena_settings(config.Settings(values=values))
    assert chosen == AthenaSettings(workgroup="audit", regions=("eu-west-1",))
    for bad, message in [
        ({"engine": "lake"}, "c.toml: cloudtrail.engine must be one of s3, athena"),
        ({"athena": {"work_group": "x"}}, "c.toml: cloudtrail.athena: unknown key work_group"),
        ({"athena": {"timeout_seconds": "60"}}, "c.toml: cloudtrail.athena.timeout_seconds must be an integer"),
        ({"athena": {"output_location": "bucket/x"}}, "cloudtrail.athena.output_location must be an s3://"),
        ({"athena": {"regions": ["us-east-1'--"]}}, "cloudtrail.athena.regions not AWS region names"),
        ({"athena": {"table": "Trail;Logs"}}, "cloudtrail.athena.table must be lower-case letters, digits and _"),
    ]:
        with pytest.raises(config.ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
            config.validate({"cloudtrail": bad}, "c.toml")


def test_the_queries_ship_inside_the_package():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in data["auditor.collect"] for p in (root / "auditor" / "collect").glob(pattern)}
    assert shipped == set((root / "auditor" / "collect" / "sql").glob("*.sql")) and len(shipped) == 2


def test_the_query_reads_the_logs_in_one_pass():
    """Athena (Trino) inlines a WITH query at each reference, scanning its table again (and billing it again):
    the table is read once, and every named query is referenced once."""
    text = cloudtrail_athena.activity_query(SETTINGS, [FIRST, SECOND], AS_OF - timedelta(days=LOOKBACK), AS_OF)
    query = sqlglot.parse_one(text, read="trino")
    tables = [t for t in query.find_all(exp.Table)]
    named = {cte.alias for cte in query.find_all(exp.CTE)}
    assert [t.name for t in tables if t.name not in named] == [SETTINGS.table]
    references = Counter(t.name for t in tables if t.name in named)
    assert references == dict.fromkeys(named, 1)


def test_a_call_whose_resources_are_not_a_json_array_is_kept_without_a_resource():
    row = defaultdict(
        lambda: None,
        identity_type="IAMUser",
        identity_arn=f"arn:aws:iam::{FIRST}:user/alice",
        identity_account=FIRST,
        user_name="alice",
        recipient_account=FIRST,
        event_source="other",
        call_source="ec2.amazonaws.com",
        call_name="DescribeInstances",
        call_resources="[arn:aws:ec2 not JSON",
        first_seen="2024-06-20T10:00:00Z",
        last_seen="2024-06-20T10:05:00Z",
        events="2",
    )
    [use] = usage_from_rows([row])
    assert (use.key, use.action, use.resource, use.events) == ("alice", "ec2:DescribeInstances", None, 2)
