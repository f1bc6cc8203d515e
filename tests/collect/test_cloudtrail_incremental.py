"""Nightly incremental CloudTrail reads against moto S3: 30 nights give what one full read gives.

Each night the trail delivers that day's log objects (at the organisation
trail's key layout, as the sandbox's trail writes them), then the collector
runs with the state store's ledger. Late deliveries, a damaged object, an
object that cannot be fetched for a night and an object delivered after the
as-of time all happen on the way.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from datetime import UTC, datetime, timedelta

import boto3
import botocore.exceptions
import pytest
import sqlalchemy as sa
from moto import mock_aws

from auditor.analyze import analyze
from auditor.aws import AwsContext
from auditor.collect.cloudtrail import TrailLocation, collect_cloudtrail
from auditor.collect.cloudtrail_ledger import OVERLAP, Ledger, trail_id
from auditor.collect.cloudtrail_plan import plan_reads
from auditor.collect.cloudtrail_s3 import list_account, parse_log_key
from auditor.config import defaults
from auditor.model import Account
from auditor.progress import Progress
from auditor.sandbox.trail import object_key
from auditor.store import Store
from auditor.store import activity as stored
from auditor.store.activity import cloudtrail_objects
from tests.builders import DEV, MGMT, PROD, World

REGION = "us-east-1"
OTHER = "eu-west-1"
BUCKET = "org-trail"
ORG = "o-a1b2c3d4e5"
TRAIL = TrailLocation(bucket=BUCKET, prefix=None, organization_id=ORG, home_region=REGION)
ACCOUNTS = [Account(account_id=a, name=a) for a in (MGMT, PROD, DEV)]
FINAL = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # tests.builders' as-of: its world ages from here
NIGHTS = 30
FIRST_NIGHT = FINAL - timedelta(days=NIGHTS - 1)
TRAIL_START = FIRST_NIGHT - timedelta(days=40)
KEY = "AKIAIOSFODNN7EXAMPLE"
PS_ROLE = "AWSReservedSSO_Admin_0123456789abcdef"


class Context(AwsContext):
    """Counts S3 calls by operation, and denies GetObject on the keys in ``denied``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: dict[str, int] = {}
        self.denied: set[str] = set()

    def client(self, service, account_id=None, region=None, **options):
        made = super().client(service, account_id, region, **options)

        def count(model, **_):
            self.calls[model.name] = self.calls.get(model.name, 0) + 1

        def deny(params, **_):
            if params.get("Key") in self.denied:
                error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
                raise botocore.exceptions.ClientError(error, "GetObject")

        # once per client: the context hands the same client out again
        made.meta.events.register("before-call", count, unique_id="test-count")
        made.meta.events.register("before-parameter-build.s3.GetObject", deny, unique_id="test-deny")
        return made


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ctx = Context(session=boto3.Session(region_name=REGION), region=REGION)
        ctx.client("s3").create_bucket(Bucket=BUCKET)
        yield ctx


# --- the trail -------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_in(user_id: str, when: datetime) -> list[dict]:
    identity = {"type": "IdentityCenterUser", "accountId": MGMT, "onBehalfOf": {"userId": user_id}}
    base = {"userIdentity": identity, "recipientAccountId": MGMT, "awsRegion": REGION}
    return [
        {
            **base,
            "eventTime": stamp(when),
            "eventSource": "signin.amazonaws.com",
            "eventName": "UserAuthentication",
            "serviceEventDetails": {"UserAuthentication": "Success"},
        },
        {
            **base,
            "eventTime": stamp(when + timedelta(seconds=40)),
            "eventSource": "sso.amazonaws.com",
            "eventName": "GetRoleCredentials",
            "serviceEventDetails": {"role_name": "Admin", "account_id": PROD},
        },
    ]


def session_call(user: str, when: datetime) -> dict:
    arn = f"arn:aws:sts::{PROD}:assumed-role/{PS_ROLE}/{user}"
    issuer = {"type": "Role", "arn": f"arn:aws:iam::{PROD}:role/aws-reserved/sso.amazonaws.com/{PS_ROLE}"}
    return {
        "eventTime": stamp(when),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": OTHER,
        "recipientAccountId": PROD,
        "userIdentity": {"type": "AssumedRole", "arn": arn, "sessionContext": {"sessionIssuer": issuer}},
    }


def key_call(when: datetime) -> dict:
    return {
        "eventTime": stamp(when),
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": OTHER,
        "recipientAccountId": DEV,
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{DEV}:user/deploy",
            "accountId": DEV,
            "userName": "deploy",
            "accessKeyId": KEY,
        },
    }


def root_login(account: str, when: datetime) -> dict:
    return {
        "eventTime": stamp(when),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": REGION,
        "recipientAccountId": account,
        "userIdentity": {"type": "Root", "arn": f"arn:aws:iam::{account}:root", "accountId": account},
        "responseElements": {"ConsoleLogin": "Success"},
    }


class Trail:
    """Delivers log objects into the bucket as CloudTrail does, at the sandbox trail's key layout."""

    def __init__(self, s3) -> None:
        self.s3 = s3
        self.count = 0
        self.keys: list[str] = []

    def deliver(self, account: str, region: str, delivered: datetime, records: list[dict] | bytes) -> str:
        self.count += 1
        key = object_key(ORG, account, region, delivered, f"{self.count:016d}")
        body = records if isinstance(records, bytes) else gzip.compress(json.dumps({"Records": records}).encode())
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.keys.append(key)
        return key

    def day(self, day_start: datetime) -> None:
        """One day of ordinary activity: sign-ins, a session, key use; an empty-ish object per region."""
        alice = day_start + timedelta(hours=9)
        self.deliver(MGMT, REGION, alice + timedelta(minutes=5), sign_in("uid-alice", alice))
        self.deliver(PROD, OTHER, alice + timedelta(minutes=10), [session_call("alice", alice + timedelta(minutes=2))])
        if day_start.day % 3 == 0:
            self.deliver(
                DEV, OTHER, day_start + timedelta(hours=14, minutes=5), [key_call(day_start + timedelta(hours=14))]
            )
        if day_start < TRAIL_START + timedelta(days=10):  # bob stops signing in after ten days
            self.deliver(
                MGMT,
                REGION,
                day_start + timedelta(hours=11, minutes=5),
                sign_in("uid-bob", day_start + timedelta(hours=11)),
            )
        if day_start.day % 7 == 0:  # an access change now and then, kept whole rather than reduced
            self.deliver(MGMT, REGION, day_start + timedelta(hours=16, minutes=5), [membership(day_start)])
        self.deliver(PROD, REGION, day_start + timedelta(hours=20), [])


def membership(day_start: datetime) -> dict:
    """Identity Center's CreateGroupMembership, as the provisioning automation makes it."""
    return {
        "eventVersion": "1.08",
        "eventTime": stamp(day_start + timedelta(hours=16)),
        "eventSource": "identitystore.amazonaws.com",
        "eventName": "CreateGroupMembership",
        "awsRegion": REGION,
        "recipientAccountId": MGMT,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{MGMT}:assumed-role/provisioner/scim",
            "accountId": MGMT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{MGMT}:role/provisioner"}},
        },
        "requestParameters": {
            "identityStoreId": "d-1234567890",
            "groupId": "g-ops",
            "memberId": {"userId": "uid-carol"},
        },
        "responseElements": {"membershipId": f"m-{day_start:%m%d}"},
    }


def world() -> World:
    """The directory the findings are computed over (tests.builders), without its activity."""
    w = World()
    alice, bob, _carol = (w.idc_user(name) for name in ("alice", "bob", "carol"))
    for name in ("alice", "bob", "carol"):
        w.person(name)
    admin = w.permission_set("Admin", managed=["arn:aws:iam::aws:policy/AdministratorAccess"])
    w.assign(admin, alice, PROD)
    w.assign(admin, bob, PROD)
    deploy = w.iam_user("deploy", DEV)
    w.key(deploy, KEY, created_days_ago=300, last_used_days_ago=None)
    return w


def findings_with(result, as_of: datetime) -> list:
    w = world()
    w.tables["activity"] = list(result.tables["activity"])
    snapshot = w.snapshot(overrides=result.statuses)
    return sorted(
        (f.finding_id, f.rule_id, f.severity, f.title, json.dumps(f.evidence, sort_keys=True))
        for f in analyze(snapshot, defaults(), as_of)
    )


def collect(ctx, as_of, ledger=None):
    return collect_cloudtrail(
        ctx, ACCOUNTS, TRAIL, Progress(), as_of=as_of, lookback_days=120, max_workers=2, ledger=ledger
    )


def windows(result) -> dict:
    """Per account: status, error, coverage, gaps and what was read."""
    return {
        s.account_id: (
            s.status,
            s.error,
            s.coverage_start,
            s.coverage_end,
            {k: v for k, v in s.detail.items() if k != "ledger"},
        )
        for s in result.statuses
    }


def test_thirty_incremental_nights_give_the_full_reads_findings_and_windows(aws, store_url):
    s3 = aws.client("s3")
    trail = Trail(s3)
    day = TRAIL_START
    while day < FIRST_NIGHT - timedelta(days=1):
        trail.day(day)
        day += timedelta(days=1)
    store = Store.open(store_url)
    ledger = Ledger(store.engine)
    late = damaged = denied = None
    for night in range(NIGHTS):
        as_of = FIRST_NIGHT + timedelta(days=night)
        trail.day(as_of - timedelta(days=1))
        if night == 5:
            damaged = trail.deliver(DEV, OTHER, as_of - timedelta(hours=3), b"\x1f\x8b\x08\x00truncated")
        if night == 10:  # written late, under a name whose time is before the last object last night read there
            late = as_of - timedelta(days=1, hours=16)
            trail.deliver(MGMT, REGION, late, [root_login(MGMT, late - timedelta(minutes=3))])
        if night == 12:
            denied = trail.deliver(
                PROD, REGION, as_of - timedelta(hours=2), [root_login(PROD, as_of - timedelta(hours=2, minutes=2))]
            )
            aws.denied = {denied}
        if night == 20:  # delivered a minute after this night's as-of, holding an event on each side of it
            trail.deliver(
                PROD,
                OTHER,
                as_of + timedelta(minutes=1),
                [session_call("bob", as_of - timedelta(minutes=1)), session_call("bob", as_of + timedelta(seconds=30))],
            )
        before = dict(aws.calls)
        result = collect(aws, as_of, ledger)
        statuses = {s.account_id: s for s in result.statuses}
        if night == 12:  # the object that could not be fetched is a gap tonight, and is fetched again tomorrow
            assert statuses[PROD].status == "partial" and statuses[PROD].detail["gaps"]
            aws.denied = set()
        if night == 13:
            assert aws.calls["GetObject"] - before.get("GetObject", 0) == sum(
                s.detail["ledger"]["objects_new"] for s in result.statuses
            )
            assert any(
                a.kind == "root" and a.last_seen == as_of - timedelta(days=1, hours=2, minutes=2)
                for a in result.tables["activity"]
            )
        if night == 20:
            assert ("idc_assignment", "name:bob", PROD, "Admin") in {
                (a.kind, a.key, a.account_id, a.detail) for a in result.tables["activity"]
            }
        if night:
            assert all(
                s.detail["ledger"]
                == {"mode": "incremental", "kept": True, "objects_new": s.detail["ledger"]["objects_new"]}
                for s in result.statuses
            )
        new = sum(s.detail["ledger"]["objects_new"] for s in result.statuses)
        assert aws.calls["GetObject"] - before.get("GetObject", 0) == new - (night == 12)  # one was denied
        if 0 < night < 12 and night not in (5, 10):
            day = (as_of - timedelta(days=1)).day
            assert new == 3 + (day % 3 == 0) + (day % 7 == 0)
    incremental = result
    assert late and damaged
    # the ledger keeps rows only for what tomorrow's listings can return (the overlap before tonight: DEV's
    # region, which writes every third day, resumes from tonight too) and the damaged object, with its gap
    with store.engine.connect() as conn:
        rows = {row.key: row for row in conn.execute(sa.select(cloudtrail_objects))}
    delivered = {o.key: o.delivered for o in map(parse_log_key, trail.keys) if o is not None}
    assert rows[damaged].folded and rows[damaged].previous < delivered[damaged]
    assert all(delivered[key] >= FINAL - OVERLAP for key in set(rows) - {damaged})
    assert len(rows) < len(delivered) / 10

    full = collect(aws, FINAL)

    assert windows(incremental) == windows(full)
    assert incremental.tables["activity"] == full.tables["activity"]
    assert incremental.tables["lifecycle_events"] == full.tables["lifecycle_events"]
    assert len(full.tables["lifecycle_events"]) >= 4  # the store keeps earlier nights' access changes
    assert incremental.unreadable == full.unreadable
    assert findings_with(incremental, FINAL) == findings_with(full, FINAL)
    rules = {f[1] for f in findings_with(full, FINAL)}
    assert {"idc-user-inactive", "iam-root-used"} <= rules  # bob, and root's late-delivered login


def test_a_night_lists_only_new_days_and_fetches_only_new_objects(aws, tmp_path):
    trail = Trail(aws.client("s3"))
    for offset in range(31, 1, -1):
        trail.day(FINAL - timedelta(days=offset))
    ledger = Ledger(Store.open(tmp_path / "state.db").engine)
    collect(aws, FINAL - timedelta(days=1), ledger)
    first = dict(aws.calls)
    trail.day(FINAL - timedelta(days=1))
    collect(aws, FINAL, ledger)
    second = {op: n - first.get(op, 0) for op, n in aws.calls.items()}
    # a folder listing per account and one page per region folder; 3 or 4 objects delivered that day
    assert second["ListObjectsV2"] == first["ListObjectsV2"]
    assert second["GetObject"] == 3 + ((FINAL - timedelta(days=1)).day % 3 == 0)
    assert first["GetObject"] >= 29 * 3


def test_full_rebuilds_the_ledger_and_later_nights_go_on_from_it(aws, store_url):
    trail = Trail(aws.client("s3"))
    for offset in range(10, 1, -1):
        trail.day(FINAL - timedelta(days=offset))
    engine = Store.open(store_url).engine
    collect(aws, FINAL - timedelta(days=1), Ledger(engine))
    trail.day(FINAL - timedelta(days=1))
    rebuilt = collect(aws, FINAL, Ledger(engine, full=True))
    assert {s.detail["ledger"]["mode"] for s in rebuilt.statuses} == {"full"}
    assert rebuilt.tables["activity"] == collect(aws, FINAL).tables["activity"]
    before = aws.calls["GetObject"]
    again = collect(aws, FINAL, Ledger(engine))
    assert aws.calls["GetObject"] == before  # nothing new since the full read
    assert again.tables["activity"] == rebuilt.tables["activity"]


def test_an_as_of_before_the_last_read_reads_the_window_and_keeps_nothing(aws, tmp_path):
    trail = Trail(aws.client("s3"))
    for offset in range(10, 0, -1):
        trail.day(FINAL - timedelta(days=offset))
    engine = Store.open(tmp_path / "state.db").engine
    collect(aws, FINAL, Ledger(engine))
    earlier = FINAL - timedelta(days=5)
    result = collect(aws, earlier, Ledger(engine))
    assert {s.detail["ledger"]["kept"] for s in result.statuses} == {False}
    assert result.tables["activity"] == collect(aws, earlier).tables["activity"]
    assert max(a.last_seen for a in result.tables["activity"]) <= earlier


# --- reading only what the rules need ---------------------------------------------------------


def test_a_plan_for_identity_center_facts_reads_the_home_account_in_its_region_only(aws, tmp_path):
    trail = Trail(aws.client("s3"))
    for offset in range(5, 0, -1):
        trail.day(FINAL - timedelta(days=offset))
    trail.deliver(MGMT, OTHER, FINAL - timedelta(days=2), [root_login(MGMT, FINAL - timedelta(days=2, minutes=1))])
    plan = plan_reads({"idc_user", "idc_assignment"}, mode="needed", home_account=MGMT, home_region=REGION)
    result = collect_cloudtrail(aws, ACCOUNTS, TRAIL, Progress(), as_of=FINAL, plan=plan)
    [status] = result.statuses
    assert (status.account_id, status.status, status.detail["regions"]) == (MGMT, "ok", [REGION])
    assert status.detail["read"] == {"mode": "needed", "facts": ["idc_assignment", "idc_user"]}
    assert aws.calls["GetObject"] == status.detail["objects_read"] == 5  # the sign-ins; no member account, no eu-west-1
    assert {a.kind for a in result.tables["activity"]} == {"idc_user", "idc_assignment"}
    assert plan.event_sources(MGMT) == ("signin.amazonaws.com", "sso.amazonaws.com", "sso-oauth.amazonaws.com")
    assert plan.event_sources(PROD) == ()

    everything = plan_reads({"idc_user", "iam_role"}, mode="needed", home_account=MGMT, home_region=REGION)
    result = collect_cloudtrail(aws, ACCOUNTS, TRAIL, Progress(), as_of=FINAL, plan=everything)
    read = {s.account_id: s.detail["read"]["facts"] for s in result.statuses}
    assert read[MGMT] == sorted(["access_key", "iam_role", "iam_user", "idc_assignment", "idc_user", "root"])
    assert read[PROD] == read[DEV] == ["access_key", "iam_role", "iam_user", "idc_assignment", "root"]
    assert {s.account_id: s.detail["regions"] for s in result.statuses}[MGMT] == [OTHER, REGION]
    assert everything.event_sources(MGMT) is None


def test_of_two_runs_reading_at_once_only_the_first_to_commit_is_kept(aws, store_url):
    trail = Trail(aws.client("s3"))
    for offset in range(5, 0, -1):
        trail.day(FINAL - timedelta(days=offset))
    ledger = Ledger(Store.open(store_url).engine)
    first, second = (ledger.open(trail_id(BUCKET, "AWSLogs/"), FINAL, FINAL - timedelta(days=120)) for _ in "12")
    assert first.commit([]) is True
    assert second.commit([]) is False  # it loaded the same generation: its objects would count twice
    result = collect(aws, FINAL, ledger)
    assert {s.detail["ledger"]["kept"] for s in result.statuses} == {True}


def test_a_plan_that_grows_reads_each_object_once_and_counts_as_a_full_read(aws, tmp_path):
    """Nights reading Identity Center facts only, then every fact: what the first nights folded is not read
    again, and the regions and accounts added are read over the whole window."""
    trail = Trail(aws.client("s3"))
    day = FINAL - timedelta(days=12)
    while day < FINAL - timedelta(days=5):
        trail.day(day)
        day += timedelta(days=1)
    trail.deliver(MGMT, OTHER, FINAL - timedelta(days=9), [root_login(MGMT, FINAL - timedelta(days=9, minutes=1))])
    ledger = Ledger(Store.open(tmp_path / "state.db").engine)
    people = plan_reads({"idc_user", "idc_assignment"}, mode="needed", home_account=MGMT, home_region=REGION)
    for night in range(5, -1, -1):
        as_of = FINAL - timedelta(days=night)
        trail.day(as_of - timedelta(days=1))
        plan = people if night > 2 else None  # a rule needing every fact is enabled three nights before the end
        result = collect_cloudtrail(
            aws, ACCOUNTS, TRAIL, Progress(), as_of=as_of, lookback_days=120, max_workers=2, ledger=ledger, plan=plan
        )
    fetched = aws.calls["GetObject"]
    full = collect(aws, FINAL)

    assert fetched == len(trail.keys)  # every object fetched once over the nights, none twice
    assert result.tables["activity"] == full.tables["activity"]
    assert ("root", MGMT) in {(a.kind, a.key) for a in result.tables["activity"]}  # in the region added
    counted = ("objects_listed", "objects_read", "bytes_read", "records", "records_counted", "regions")
    for mine, theirs in zip(result.statuses, full.statuses, strict=True):
        assert {k: mine.detail[k] for k in counted} == {k: theirs.detail[k] for k in counted}
        assert (mine.status, mine.coverage_start, mine.coverage_end) == (
            theirs.status,
            theirs.coverage_start,
            theirs.coverage_end,
        )
        assert mine.detail["largest_gap_hours"] >= theirs.detail["largest_gap_hours"]  # an upper bound at worst


def test_a_night_lists_and_reads_while_the_stores_evidence_is_still_loading(aws, tmp_path, monkeypatch):
    """The ledger alone decides what to list and fetch; the activity and usage are merged once they are loaded."""
    trail = Trail(aws.client("s3"))
    for offset in range(5, 1, -1):
        trail.day(FINAL - timedelta(days=offset))
    ledger = Ledger(Store.open(tmp_path / "state.db").engine)
    collect(aws, FINAL - timedelta(days=2), ledger)
    trail.day(FINAL - timedelta(days=1))
    expected = collect(aws, FINAL, Ledger(Store.open(tmp_path / "copy.db").engine))  # a first read of it all
    load_evidence = stored.load_evidence
    listed, released = threading.Event(), threading.Event()

    def held_until_listed(conn, memory):
        assert released.wait(30)
        load_evidence(conn, memory)

    def list_then_release(*args, **kwargs):
        listed.set()
        released.set()  # nothing above waited for the evidence: the listing is under way
        return list_account(*args, **kwargs)

    monkeypatch.setattr(stored, "load_evidence", held_until_listed)
    monkeypatch.setattr("auditor.collect.cloudtrail.list_account", list_then_release)
    night = collect(aws, FINAL, ledger)
    assert listed.is_set()
    assert night.tables["activity"] == expected.tables["activity"]
    assert night.tables["action_usage"] == expected.tables["action_usage"]


def test_a_store_that_fails_while_loading_its_evidence_fails_the_read(aws, tmp_path, monkeypatch):
    """Never a night merged onto an empty memory as if nothing had been read before."""
    trail = Trail(aws.client("s3"))
    trail.day(FINAL - timedelta(days=2))
    ledger = Ledger(Store.open(tmp_path / "state.db").engine)
    collect(aws, FINAL - timedelta(days=1), ledger)

    def broken(conn, memory):
        raise sa.exc.OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(stored, "load_evidence", broken)
    with pytest.raises(sa.exc.OperationalError):
        collect(aws, FINAL, ledger)


def test_a_first_night_commits_an_account_whose_trail_has_no_log_folder_yet(aws, store_url):
    """A new member account has no folder under the trail until CloudTrail delivers to it: it is kept all the same."""
    trail = Trail(aws.client("s3"))
    trail.day(FINAL - timedelta(days=2))  # the 26th: no object of DEV's, whose key is used every third day
    assert not [key for key in trail.keys if f"/{DEV}/" in key]
    ledger = Ledger(Store.open(store_url).engine)
    first = collect(aws, FINAL - timedelta(days=1), ledger)
    assert {s.detail["ledger"]["kept"] for s in first.statuses} == {True}
    trail.day(FINAL - timedelta(days=1))
    second = collect(aws, FINAL, ledger)
    assert {s.detail["ledger"]["mode"] for s in second.statuses} == {"incremental"}
    assert windows(second) == windows(collect(aws, FINAL))  # as a read of the whole window without the store
    assert second.tables["activity"] == collect(aws, FINAL).tables["activity"]
