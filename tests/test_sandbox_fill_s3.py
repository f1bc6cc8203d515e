"""The S3 listing fill answers every ListObjects(V2) page exactly as moto does, only by name first.

In-process moto (``mock_aws``) resets the state every moto backend of the process holds, so this lives
outside tests/sandbox, whose served sandbox keeps its estate in those backends for the whole package.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from auditor.sandbox.fills import s3 as s3_fill
from auditor.sandbox.patching import Patches

BUCKET = "org-trail"
KEYS = [
    f"AWSLogs/o-a1b2c3d4e5/{account}/CloudTrail/{region}/2026/11/{day:02d}/{account}_CloudTrail_{region}_202611{day:02d}T{hour:02d}00Z_{n}.json.gz"
    for account in ("111111111111", "222222222222")
    for region in ("us-east-1", "eu-west-1")
    for day in (27, 28, 29)
    for hour in (0, 13)
    for n in ("a", "b")
] + ["AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail-Digest/x.json.gz", "top-level.txt", "AWSLogs/readme"]
QUERIES = [
    {},
    {"Prefix": "AWSLogs/"},
    {"Prefix": "AWSLogs/o-a1b2c3d4e5/", "Delimiter": "/"},
    {"Prefix": "AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/", "Delimiter": "/"},
    {"Delimiter": "/"},
    {"Prefix": "AWSLogs/o-a1b2c3d4e5/222222222222/CloudTrail/eu-west-1/", "MaxKeys": 5},
    {
        "Prefix": "AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/us-east-1/",
        "StartAfter": "AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/us-east-1/2026/11/28/111111111111_CloudTrail_us-east-1_20261128T1300Z",
        "MaxKeys": 3,
    },
    {"Prefix": "nothing-here/"},
]


def pages(s3, operation: str, query: dict) -> list[dict]:
    kept = ("CommonPrefixes", "IsTruncated", "KeyCount", "StartAfter", "Marker", "NextMarker", "Prefix", "Delimiter")
    if operation == "list_objects" and "StartAfter" in query:  # version 1 names it Marker
        query = {("Marker" if k == "StartAfter" else k): v for k, v in query.items()}
    answers = []
    for page in s3.get_paginator(operation).paginate(Bucket=BUCKET, **query):
        contents = [(o["Key"], o["Size"], o["ETag"]) for o in page.get("Contents", [])]
        answers.append({k: page[k] for k in kept if k in page} | {"Contents": contents})
    return answers


@pytest.fixture
def s3(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for key in KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        client.put_object(Bucket=BUCKET, Key=KEYS[3], Body=b"a later version")
        client.delete_object(Bucket=BUCKET, Key=KEYS[5])  # a delete marker: listed by neither
        yield client


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects"])
def test_the_fill_answers_every_page_as_moto_does(s3, operation):
    stock = {str(query): pages(s3, operation, query) for query in QUERIES}
    patches = Patches()
    s3_fill.install(patches)
    try:
        filled = {str(query): pages(s3, operation, query) for query in QUERIES}
    finally:
        patches.undo()
    assert filled == stock
    assert any(len(answer) > 1 for answer in stock.values())  # pages were resumed
    assert KEYS[5] not in str(stock)


def test_a_listing_after_objects_are_added_or_removed_answers_as_moto_does(s3):
    """The fill keeps names sorted between listings: an object put or deleted since, installed or not, shows."""
    account = "AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/us-east-1/"
    query = {"Prefix": account, "MaxKeys": 4}
    patches = Patches()
    s3_fill.install(patches)
    try:
        pages(s3, "list_objects_v2", query)  # sorted now
        s3.put_object(Bucket=BUCKET, Key=f"{account}2026/11/30/new.json.gz", Body=b"new")
        s3.put_object(Bucket=BUCKET, Key=f"{account}2026/11/27/early.json.gz", Body=b"early")
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": KEYS[0]}]})
        changed = pages(s3, "list_objects_v2", query)
        patches.undo()
        s3.put_object(Bucket=BUCKET, Key=f"{account}2026/11/30/while-stock.json.gz", Body=b"stock")
        stock = pages(s3, "list_objects_v2", query)
        s3_fill.install(patches)
        refilled = pages(s3, "list_objects_v2", query)
    finally:
        patches.undo()
    keys = [key for page in changed for key, _, _ in page["Contents"]]
    assert f"{account}2026/11/30/new.json.gz" in keys and f"{account}2026/11/27/early.json.gz" in keys
    assert KEYS[0] not in keys
    assert keys == sorted(keys)
    assert refilled == stock
    assert f"{account}2026/11/30/while-stock.json.gz" in str(refilled)
