"""The organisation trail: object layout, record shapes, and activity that agrees with each plant."""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from auditor.sandbox.plan import IDC_IDENTITY_CHANGE

pytestmark = pytest.mark.e2e

LOG_KEY = re.compile(
    r"AWSLogs/(?P<org>o-[a-z0-9]{10,32})/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P=acct)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_"
    r"[A-Za-z0-9]{16}\.json\.gz"
)
DIGEST_KEY = re.compile(
    r"AWSLogs/o-[a-z0-9]+/\d{12}/CloudTrail-Digest/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/"
    r"\d{12}_CloudTrail-Digest_[a-z0-9-]+_org-trail_[a-z0-9-]+_\d{8}T\d{6}Z\.json\.gz"
)
RESERVED_SESSION = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/AWSReservedSSO_(.+)_([0-9a-f]{16})/(.+)")


def when(record: dict) -> datetime:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_log_objects_follow_the_organisation_trail_layout(tiny, objects):
    digests = [key for key in objects if "/CloudTrail-Digest/" in key]
    logs = [key for key in objects if "/CloudTrail/" in key]
    assert len(digests) == 1 and DIGEST_KEY.fullmatch(digests[0])
    assert len(logs) + 1 == len(objects)
    for key in logs:
        match = LOG_KEY.fullmatch(key)
        assert match, key
        assert match["org"] == tiny.organization_id and match["acct"] in tiny.accounts.values()
        stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert (match["y"], match["m"], match["d"]) == (f"{stamp:%Y}", f"{stamp:%m}", f"{stamp:%d}")
        records = json.loads(gzip.decompress(objects[key]))["Records"]
        assert records and all(
            when(r) <= stamp and r["recipientAccountId"] == match["acct"] and r["awsRegion"] == match["region"]
            for r in records
        )


def test_each_account_has_a_handful_of_objects_a_day_over_120_days(tiny, objects):
    days: dict[str, set[str]] = defaultdict(set)
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    for key in objects:
        match = LOG_KEY.fullmatch(key)
        if match:
            day = f"{match['y']}{match['m']}{match['d']}"
            days[match["acct"]].add(day)
            per_day[(match["acct"], day)] += 1
    assert set(days) == set(tiny.accounts.values())
    assert all(len(d) >= 118 for d in days.values())
    assert max(per_day.values()) <= 8


def test_records_lie_in_the_window_and_are_not_ordered_inside_objects(tiny, objects, records):
    assert all(tiny.as_of - timedelta(days=120) <= when(r) <= tiny.as_of for r in records)
    shuffled = 0
    for key, body in objects.items():
        if "/CloudTrail/" in key:
            times = [r["eventTime"] for r in json.loads(gzip.decompress(body))["Records"]]
            shuffled += times != sorted(times)
    assert shuffled > len(objects) / 2


def test_identity_center_sign_ins_switch_identity_shape_on_2025_07_14(tiny, records):
    sign_ins = [
        r
        for r in records
        if r["eventSource"] == "signin.amazonaws.com"
        and r["eventName"] in ("CredentialChallenge", "CredentialVerification", "UserAuthentication")
    ]
    old = [r for r in sign_ins if when(r) < IDC_IDENTITY_CHANGE]
    new = [r for r in sign_ins if when(r) >= IDC_IDENTITY_CHANGE]
    assert old and new
    assert all(r["userIdentity"]["type"] == "Unknown" and r["userIdentity"]["userName"] for r in old)
    for record in new:
        identity = record["userIdentity"]
        assert identity["type"] == "IdentityCenterUser" and "userName" not in identity and identity["credentialId"]
        assert identity["onBehalfOf"]["identityStoreArn"].endswith(f":identitystore/{tiny.identity_store_id}")
    password_challenges = [
        r
        for r in new
        if r["eventName"] == "CredentialChallenge" and r["additionalEventData"]["CredentialType"] == "PASSWORD"
    ]
    assert password_challenges and all(r["additionalEventData"]["UserName"] for r in password_challenges)
    for record in sign_ins:
        assert record["eventType"] == "AwsServiceEvent" and record["recipientAccountId"] == tiny.management_account_id
        assert record["serviceEventDetails"] == {
            record["eventName"]: record["serviceEventDetails"][record["eventName"]]
        }
    assert {r["additionalEventData"]["CredentialType"] for r in sign_ins if r["eventName"] == "UserAuthentication"} == {
        "PASSWORD,TOTP"
    }
    assert any(r["serviceEventDetails"] == {"CredentialVerification": "Failure"} for r in sign_ins)
    assert any(r["eventSource"] == "sso.amazonaws.com" and r["eventName"] == "Authenticate" for r in records)


def test_permission_set_use_leaves_the_documented_chain(tiny, records):
    credentials = [r for r in records if r["eventName"] == "GetRoleCredentials"]
    assert credentials and all(set(r["serviceEventDetails"]) == {"role_name", "account_id"} for r in credentials)
    saml = [r for r in records if r["eventName"] == "AssumeRoleWithSAML"]
    assert saml and all(r["userIdentity"]["type"] == "SAMLUser" for r in saml)
    for record in saml:
        match = RESERVED_SESSION.fullmatch(record["responseElements"]["assumedRoleUser"]["arn"])
        assert match and match[1] == record["recipientAccountId"] and match[4] == record["userIdentity"]["userName"]
        assert record["responseElements"]["credentials"]["accessKeyId"].startswith("ASIA")
    sessions = [
        r
        for r in records
        if r["userIdentity"]["type"] == "AssumedRole" and RESERVED_SESSION.fullmatch(r["userIdentity"]["arn"])
    ]
    assert sessions
    for record in sessions:
        issuer = record["userIdentity"]["sessionContext"]["sessionIssuer"]
        assert issuer["arn"].startswith(
            f"arn:aws:iam::{record['recipientAccountId']}:role/aws-reserved/sso.amazonaws.com/"
        )
        assert record["userIdentity"]["arn"].split("/")[1] == issuer["userName"]


def test_iam_key_calls_carry_the_real_key_ids_and_root_signs_in_in_us_east_1(tiny, aws, records):
    keys = set()
    for account_id in tiny.accounts.values():
        iam = aws.client("iam", account_id)
        for user in aws.paginate(iam, "list_users", "Users"):
            keys |= {k["AccessKeyId"] for k in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]}
    used = {
        r["userIdentity"]["accessKeyId"]
        for r in records
        if r["userIdentity"]["type"] == "IAMUser" and r["userIdentity"].get("accessKeyId", "").startswith("AKIA")
    }
    assert used and used <= keys
    roots = [r for r in records if r["userIdentity"]["type"] == "Root" and r["eventName"] == "ConsoleLogin"]
    assert roots and all(r["awsRegion"] == "us-east-1" for r in roots)
    logins = [r for r in records if r["userIdentity"]["type"] == "IAMUser" and r["eventName"] == "ConsoleLogin"]
    assert {r["additionalEventData"]["MFAUsed"] for r in logins} == {"Yes", "No"}


def last_sign_in(tiny, aws, records) -> dict[str, datetime]:
    """Each Identity Center user's last successful sign-in, keyed by user name (old and new shapes); a user
    deleted since is keyed by its id, the only name left of it."""
    users = aws.paginate(aws.client("identitystore"), "list_users", "Users", IdentityStoreId=tiny.identity_store_id)
    names = {u["UserId"]: u["UserName"] for u in users}
    last: dict[str, datetime] = {}
    for record in records:
        if record["eventName"] == "UserAuthentication":
            identity = record["userIdentity"]
            user_id = identity.get("onBehalfOf", {}).get("userId")
            name = identity.get("userName") or names.get(user_id, user_id)
            last[name] = max(last.get(name, when(record)), when(record))
    return last


@pytest.fixture(scope="module")
def signed_in(tiny, aws, records):
    return last_sign_in(tiny, aws, records)


def test_sign_ins_agree_with_each_plant(tiny, signed_in):
    for plant in tiny.planted:
        last = signed_in.get(plant.name)
        if plant.problem == "idc_inactive":
            assert last is None or tiny.as_of - last > timedelta(days=90)
        elif plant.problem == "idc_never_signed_in":
            assert last is None
        elif plant.problem in ("leaver", "expired_contractor"):
            assert last.date().isoformat() < plant.detail["end_date"]
        elif plant.problem == "on_leave_used_access":
            assert last.date().isoformat() >= plant.detail["leave_started"]
    for kind, name, _ in tiny.clean:
        if kind == "idc_user" and "breakglass" not in name:
            assert tiny.as_of - signed_in[name] < timedelta(days=30), name


def test_break_glass_was_used_recently_where_planted(tiny, records):
    for plant in (p for p in tiny.planted if p.problem == "break_glass_used"):
        uses = [
            when(r)
            for r in records
            if r["recipientAccountId"] == plant.account_id
            and "/AWSReservedSSO_BreakGlassAdmin_" in r["userIdentity"].get("arn", "")
        ]
        assert uses and tiny.as_of - max(uses) < timedelta(days=30)


def test_iam_last_use_agrees_with_the_trail(tiny, aws, records):
    last: dict[str, datetime] = {}
    for record in records:
        key = record["userIdentity"].get("accessKeyId", "")
        if record["userIdentity"]["type"] == "IAMUser" and key.startswith("AKIA"):
            last[key] = max(last.get(key, when(record)), when(record))
    checked = 0
    for account_id in tiny.accounts.values():
        iam = aws.client("iam", account_id)
        for user in aws.paginate(iam, "list_users", "Users"):
            for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
                assert used.get("LastUsedDate") == last.get(key["AccessKeyId"])
                checked += 1
    assert checked >= 5
