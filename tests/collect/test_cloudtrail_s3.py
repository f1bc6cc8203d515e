"""The CloudTrail collector end to end against moto S3, and trail discovery."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from auditor.aws import AwsContext
from auditor.collect import cloudtrail_pool
from auditor.collect.cloudtrail import TrailLocation, collect_cloudtrail, discover_trail
from auditor.collect.cloudtrail_s3 import parse_log_key
from auditor.model import Account
from auditor.progress import Progress

DATA = Path(__file__).parent / "data"
REGION = "us-east-1"
BUCKET = "org-trail-logs"
PREFIX = "audit/logs"
ORG = "o-a1b2c3d4e5"
ROOT = f"{PREFIX}/AWSLogs/"
MGMT, MEMBER, LEGACY, EMPTY = "111111111111", "222222222222", "333333333333", "444444444444"
AS_OF = datetime(2024, 6, 30, 23, 59, tzinfo=UTC)
LOOKBACK = 30
WINDOW_START = AS_OF - timedelta(days=LOOKBACK)


def fixture_records(name: str, *indexes: int) -> list[dict]:
    loaded = json.loads((DATA / name).read_text())["Records"]
    return [loaded[i] for i in indexes]


def at(when: str, record: dict) -> dict:
    return {**record, "eventTime": when}


def log_key(
    account: str, region: str, delivered: datetime, org: str | None = ORG, unique: str = "Mu0KsOhtH1ar15ZZ"
) -> str:
    folder = f"{ROOT}{org + '/' if org else ''}{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
    return f"{folder}{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz"


def put(s3, key: str, batch: list[dict] | bytes) -> None:
    body = batch if isinstance(batch, bytes) else gzip.compress(json.dumps({"Records": batch}).encode())
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


class HookedContext(AwsContext):
    """An AwsContext whose S3 calls can be denied, as a bucket policy or a KMS key would deny them."""

    denied: tuple[tuple[str, Callable[[dict], bool]], ...] = ()  # (operation, which parameters are denied)

    def client(self, service, account_id=None, region=None, **options):
        client = super().client(service, account_id, region, **options)
        for operation, matches in self.denied:

            def deny(params, operation=operation, matches=matches, **_):
                if matches(params):
                    raise botocore.exceptions.ClientError(
                        {
                            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                            "ResponseMetadata": {"HTTPStatusCode": 403},
                        },
                        operation,
                    )

            event = f"before-parameter-build.{service}.{operation}"
            client.meta.events.register(event, deny, unique_id=f"test-deny-{operation}")  # once per client
        return client


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto with fake credentials: nothing from a developer's own AWS set-up (endpoints, profiles) leaks in."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield HookedContext(session=boto3.Session(region_name=REGION), region=REGION)


@pytest.fixture
def estate(aws):
    """A trail bucket with both key layouts, digests, Insights, a corrupt object and an empty account."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    login = fixture_records("console-and-root.json", 16)[0]
    root_login = fixture_records("console-and-root.json", 7)[0]
    idc = fixture_records("idc-documented-shapes.json", 0, 1, 2)
    sessions = fixture_records("sso-role-sessions.json", 2, 11)
    keys = fixture_records("keys-roles-and-errors.json", 2, 3, 4)

    # management account, organisation layout
    put(
        s3,
        log_key(MGMT, REGION, datetime(2024, 5, 29, 12, 0, tzinfo=UTC)),  # before the listed days
        [at("2024-05-29T11:58:00Z", root_login)],
    )
    put(
        s3,
        log_key(MGMT, REGION, datetime(2024, 5, 30, 12, 0, tzinfo=UTC)),  # listed (widened), events outside
        [at("2024-05-30T11:58:00Z", root_login)],
    )
    put(
        s3,
        log_key(MGMT, "eu-west-1", datetime(2024, 6, 15, 9, 5, tzinfo=UTC)),
        [at(f"2024-06-15T09:00:0{i}Z", record) for i, record in enumerate(idc)][::-1],
    )
    # delivered after midnight, in the next day's folder: the 23:58:30 event counts, the 00:01 one is after as-of
    put(
        s3,
        log_key(MGMT, REGION, datetime(2024, 7, 1, 0, 3, tzinfo=UTC)),
        [at("2024-07-01T00:01:00Z", root_login), at("2024-06-30T23:58:30Z", root_login)],
    )
    digest = f"{ROOT}{ORG}/{MGMT}/CloudTrail-Digest/{REGION}/2024/06/15/{MGMT}_CloudTrail-Digest_{REGION}_org_{REGION}_20240615T090500Z.json.gz"
    insight = f"{ROOT}{ORG}/{MGMT}/CloudTrail-Insight/{REGION}/2024/06/15/{MGMT}_CloudTrail-Insight_{REGION}_20240615T0905Z_x.json.gz"
    for key in (digest, insight, f"{ROOT}{ORG}/{MGMT}/CloudTrail/{REGION}/2024/06/15/notes.txt"):
        put(s3, key, b"not a CloudTrail log")

    # member account: two regions and a corrupt object
    put(
        s3,
        log_key(MEMBER, "us-west-2", datetime(2024, 6, 10, 10, 5, tzinfo=UTC)),
        [at("2024-06-10T10:01:00Z", sessions[0]), at("2024-06-10T10:02:00Z", sessions[1])],
    )
    put(s3, log_key(MEMBER, "us-west-2", datetime(2024, 6, 20, 10, 5, tzinfo=UTC)), b"\x1f\x8b\x08\x00truncated")
    put(
        s3,
        log_key(MEMBER, "ap-southeast-2", datetime(2024, 6, 25, 8, 0, tzinfo=UTC)),
        [at("2024-06-25T07:56:00Z", login)],
    )

    # an account whose logs predate the organisation trail: no o-id level
    put(
        s3,
        log_key(LEGACY, REGION, datetime(2024, 6, 12, 0, 0, tzinfo=UTC), org=None),
        [at(f"2024-06-11T23:5{i}:00Z", record) for i, record in enumerate(keys)],
    )
    return s3


ACCOUNTS = [Account(account_id=a, name=a) for a in (MGMT, MEMBER, LEGACY, EMPTY)]
TRAIL = TrailLocation(
    bucket=BUCKET,
    prefix=PREFIX,
    organization_id=ORG,
    home_region=REGION,
    trail_arn=f"arn:aws:cloudtrail:{REGION}:{MGMT}:trail/org",
)


def collect(ctx, progress=None, accounts=ACCOUNTS, trail=TRAIL):
    return collect_cloudtrail(
        ctx, accounts, trail, progress or Progress(), as_of=AS_OF, lookback_days=LOOKBACK, max_workers=4
    )


def by_account(result):
    return {status.account_id: status for status in result.statuses}


def activity(result):
    return {
        (a.kind, a.key, a.account_id, a.detail): (a.first_seen, a.last_seen, a.events)
        for a in result.tables["activity"]
    }


def test_reads_both_layouts_and_reduces_to_activity(aws, estate):
    result = collect(aws)
    seen = activity(result)
    assert seen[("idc_user", "id:94482488-3041-7026-18f3-be45837cd0e4", None, None)][1] == datetime(
        2024, 6, 15, 9, 0, 2, tzinfo=UTC
    )
    assert ("idc_assignment", "name:nicholas.hakmiller", "187901811700", "DevAdmin") in seen
    assert ("idc_assignment", "name:randomca0l529zwnay@gmail.com", "844015365555", "account-admin") in seen
    assert ("iam_user", "stratus-red-team-nmfalu-jfzdtsvchl", "562283505220", None) in seen
    # the legacy layout's key use, including the failed call
    assert seen[("access_key", "AKIAE18PGYHCY2CYMTFK", "070411556318", "christophe")] == (
        datetime(2024, 6, 11, 23, 50, tzinfo=UTC),
        datetime(2024, 6, 11, 23, 52, tzinfo=UTC),
        3,
    )
    # root: only the event inside the window, found in the next day's folder
    assert seen[("root", "111122223333", "111122223333", None)] == (
        datetime(2024, 6, 30, 23, 58, 30, tzinfo=UTC),
    ) * 2 + (1,)


def test_per_account_status_coverage_and_counts(aws, estate):
    statuses = by_account(collect(aws))
    assert [s.source for s in statuses.values()] == ["cloudtrail"] * 4

    mgmt = statuses[MGMT]
    assert (mgmt.status, mgmt.error) == ("ok", None)
    # objects from the day before the window were read, so the whole window start is covered
    assert (mgmt.coverage_start, mgmt.coverage_end) == (WINDOW_START, AS_OF)
    assert mgmt.detail["objects_listed"] == mgmt.detail["objects_read"] == 3  # no digest, Insight, .txt, May 29
    assert mgmt.detail["regions"] == ["eu-west-1", REGION]
    assert mgmt.detail["records"] == 6
    assert mgmt.detail["records_counted"] == 2  # the UserAuthentication and the 23:58:30 login

    member = statuses[MEMBER]
    assert member.status == "partial"
    assert member.error == "1 of 3 log objects could not be read"
    assert (member.coverage_start, member.coverage_end) == (
        datetime(2024, 6, 10, 10, 5, tzinfo=UTC),
        datetime(2024, 6, 25, 8, 0, tzinfo=UTC),
    )
    assert member.detail["largest_gap_hours"] == round(
        (datetime(2024, 6, 25, 8, 0) - datetime(2024, 6, 10, 10, 5)).total_seconds() / 3600, 1
    )

    legacy = statuses[LEGACY]
    assert (legacy.status, legacy.coverage_start, legacy.coverage_end) == (
        "ok",
        datetime(2024, 6, 12, tzinfo=UTC),
        datetime(2024, 6, 12, tzinfo=UTC),
    )
    assert legacy.detail["prefixes"] == [
        f"s3://{BUCKET}/{ROOT}{ORG}/{LEGACY}/CloudTrail/",
        f"s3://{BUCKET}/{ROOT}{LEGACY}/CloudTrail/",
    ]

    empty = statuses[EMPTY]
    assert (empty.status, empty.coverage_start, empty.coverage_end) == ("partial", None, None)
    assert f"s3://{BUCKET}/{ROOT}{ORG}/{EMPTY}/CloudTrail/" in empty.error
    assert empty.error.startswith("no CloudTrail log objects")


def test_a_corrupt_object_is_unreadable_and_the_rest_is_read(aws, estate):
    result = collect(aws)
    [unreadable] = result.unreadable
    assert unreadable.what == f"s3://{BUCKET}/" + log_key(MEMBER, "us-west-2", datetime(2024, 6, 20, 10, 5, tzinfo=UTC))
    assert "gzip" in unreadable.error
    assert ("iam_user", "stratus-red-team-nmfalu-jfzdtsvchl", "562283505220", None) in activity(result)


def test_progress_counts_accounts_and_objects(aws, estate):
    progress = Progress()
    collect(aws, progress)
    assert progress.tasks == {"cloudtrail accounts": [4, 4], "cloudtrail objects": [7, 7]}


def test_an_account_whose_listing_is_denied_fails_alone(aws, estate):
    aws.denied = (("ListObjectsV2", lambda params: f"/{MEMBER}/" in params.get("Prefix", "")),)
    result = collect(aws)
    statuses = by_account(result)
    assert statuses[MEMBER].status == "failed"
    assert statuses[MEMBER].error == "AccessDenied: Access Denied (s3, ListObjectsV2)"
    assert statuses[MEMBER].coverage_start is None
    assert statuses[MGMT].status == statuses[LEGACY].status == "ok"
    assert not [a for a in result.tables["activity"] if a.account_id == "844015365555"]


def test_each_account_says_how_completely_its_activity_was_read(aws, estate):
    aws.denied = (("ListObjectsV2", lambda params: f"/{MEMBER}/" in params.get("Prefix", "")),)
    statuses = by_account(collect(aws))
    assert statuses[MEMBER].tables == dict.fromkeys(("activity", "lifecycle_events", "action_usage"), "failed")
    complete = dict.fromkeys(("activity", "lifecycle_events", "action_usage"), "complete")
    assert statuses[MGMT].tables == statuses[LEGACY].tables == complete


def test_objects_that_cannot_be_fetched_are_unreadable_and_all_of_them_fail_the_account(aws, estate):
    aws.denied = (("GetObject", lambda params: f"/{LEGACY}/" in params["Key"]),)
    result = collect(aws)
    legacy = by_account(result)[LEGACY]
    assert legacy.status == "failed"
    assert (
        legacy.error == "none of 1 log objects could be read (first error: AccessDenied: Access Denied (s3, GetObject))"
    )
    assert [u.error for u in result.unreadable if f"/{LEGACY}/" in u.what] == [
        "AccessDenied: Access Denied (s3, GetObject)"
    ]


def test_a_bucket_root_that_cannot_be_listed_still_reads_both_layouts(aws, estate):
    # a bucket policy may allow listing only below each account's folder
    aws.denied = (("ListObjectsV2", lambda params: params.get("Prefix") == ROOT),)
    statuses = by_account(collect(aws))
    assert statuses[MGMT].status == statuses[LEGACY].status == "ok"
    assert statuses[MEMBER].status == "partial"  # its corrupt object, as before
    assert statuses[MGMT].detail["objects_read"] == 3


def test_a_trail_without_prefix_or_organisation(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    login = fixture_records("console-and-root.json", 16)[0]
    key = f"AWSLogs/{MGMT}/CloudTrail/{REGION}/2024/06/29/{MGMT}_CloudTrail_{REGION}_20240629T1200Z_a.json.gz"
    put(s3, key, [at("2024-06-29T11:57:00Z", login)])
    trail = TrailLocation(bucket=BUCKET, prefix=None, organization_id=None, home_region=REGION)
    result = collect(aws, accounts=[Account(account_id=MGMT, name="mgmt")], trail=trail)
    [status] = result.statuses
    assert (status.status, status.coverage_start) == ("ok", datetime(2024, 6, 29, 12, 0, tzinfo=UTC))
    assert [a.key for a in result.tables["activity"]] == ["stratus-red-team-nmfalu-jfzdtsvchl"]


def test_an_account_with_objects_only_outside_the_window_is_partial(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    root_login = fixture_records("console-and-root.json", 7)[0]
    put(s3, log_key(MGMT, REGION, datetime(2024, 5, 30, 12, 0, tzinfo=UTC)), [at("2024-05-30T11:58:00Z", root_login)])
    result = collect(aws, accounts=[Account(account_id=MGMT, name="mgmt")])
    [status] = result.statuses
    assert (status.status, status.coverage_start, status.coverage_end) == ("partial", None, None)
    assert "no log object read was delivered between" in status.error
    assert result.tables["activity"] == []


def test_naive_as_of_is_refused(aws):
    with pytest.raises(ValueError, match="timezone-aware"):
        collect_cloudtrail(aws, ACCOUNTS, TRAIL, Progress(), as_of=datetime(2024, 6, 30))


# --- keys -----------------------------------------------------------------------------------------


def test_log_keys_of_both_layouts_parse_with_their_delivery_time():
    for key in (
        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
        "p/AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
    ):
        log = parse_log_key(key, 12)
        assert (log.region, log.delivered, log.size) == ("us-east-2", datetime(2015, 8, 1, 2, 10, tzinfo=UTC), 12)


@pytest.mark.parametrize(
    "key",
    [
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/01/111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150801T021000Z.json.gz",
        "AWSLogs/111122223333/CloudTrail-Insight/us-east-2/2015/08/01/111122223333_CloudTrail-Insight_us-east-2_20150801T0210Z_x.json.gz",
        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/readme.txt",
        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/13/01/111122223333_CloudTrail_us-east-2_20151301T0210Z_x.json.gz",
    ],
)
def test_digests_insights_and_other_objects_are_not_logs(key):
    assert parse_log_key(key) is None


def test_a_log_name_without_a_time_falls_back_to_its_day_folder():
    log = parse_log_key("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/06/03/copied.json.gz")
    assert log.delivered == datetime(2024, 6, 3, tzinfo=UTC)


# --- discovery ------------------------------------------------------------------------------------


def make_trail(aws, name: str, **options) -> None:
    aws.client("cloudtrail").create_trail(Name=name, S3BucketName=BUCKET, **options)


def test_no_trail_or_only_single_region_trails_is_none(aws):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    assert discover_trail(aws) is None
    make_trail(aws, "regional")
    assert discover_trail(aws) is None


def test_an_organisation_multi_region_trail_is_preferred(aws):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    organization_id = aws.client("organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    make_trail(aws, "a-account-wide", IsMultiRegionTrail=True)
    make_trail(aws, "b-organisation", IsMultiRegionTrail=True, IsOrganizationTrail=True, S3KeyPrefix=PREFIX)
    make_trail(aws, "c-regional", S3KeyPrefix="other")
    trail = discover_trail(aws)
    assert trail == TrailLocation(
        bucket=BUCKET, prefix=PREFIX, organization_id=organization_id, home_region=REGION, trail_arn=trail.trail_arn
    )
    assert trail.trail_arn.endswith(":trail/b-organisation")


def test_a_multi_region_account_trail_is_taken_when_there_is_no_organisation_trail(aws):
    aws.client("s3").create_bucket(Bucket=BUCKET)
    make_trail(aws, "account-wide", IsMultiRegionTrail=True)
    trail = discover_trail(aws)
    assert (trail.bucket, trail.prefix, trail.organization_id, trail.home_region) == (BUCKET, None, None, REGION)


def test_a_corrupt_object_is_a_gap_from_the_object_before_it_in_its_region(aws, estate):
    """Its events happened after the previous object of us-west-2 and before its own delivery: not read."""
    member = by_account(collect(aws))[MEMBER]
    [gap] = member.detail["gaps"]
    assert (gap["start"], gap["end"], gap["objects"]) == (
        datetime(2024, 6, 10, 10, 5, tzinfo=UTC).isoformat(),
        datetime(2024, 6, 20, 10, 5, tzinfo=UTC).isoformat(),
        1,
    )
    assert "gzip" in gap["error"]
    assert "gaps" not in by_account(collect(aws))[MGMT].detail


def test_on_every_core_each_worker_fetches_with_a_client_of_its_own(aws, estate, monkeypatch):
    """Where a pool pays off, workers make their clients from the context's recipe: same result, none fetched here."""
    alone = collect(aws)
    fetched_here: list[str] = []
    aws.denied = (("GetObject", lambda params: fetched_here.append(params["Key"])),)  # noted, not denied
    monkeypatch.setattr(cloudtrail_pool, "POOL_MIN_OBJECTS", 1)
    monkeypatch.setattr(cloudtrail_pool, "cores", lambda: 2)
    pooled = collect(aws)
    assert fetched_here == []
    assert activity(pooled) == activity(alone)
    assert pooled.tables["action_usage"] == alone.tables["action_usage"]
    assert pooled.unreadable == alone.unreadable and len(pooled.unreadable) == 1  # the corrupt object
    assert [(s.account_id, s.status, s.detail) for s in pooled.statuses] == [
        (s.account_id, s.status, s.detail) for s in alone.statuses
    ]
