"""Reading log objects on every core gives what reading them on one thread gives, failures included."""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions
import pytest

from auditor.collect import cloudtrail_pool
from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_lifecycle import sort_events
from auditor.collect.cloudtrail_pool import read_objects
from auditor.collect.cloudtrail_reduce import ActivityReducer
from auditor.collect.cloudtrail_s3 import LogObject

DATA = Path(__file__).parent / "data"
START, END = datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)


class Bucket:
    """``get_object`` over bodies in memory; a missing key is denied as S3 denies it."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 (boto3's parameter names)
        if Key not in self.bodies:
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise botocore.exceptions.ClientError(error, "GetObject")
        return {"Body": io.BytesIO(self.bodies[Key])}


@pytest.fixture(scope="module")
def bucket() -> tuple[Bucket, list[LogObject]]:
    """Every fixture's records split into objects, one corrupt object, and one that cannot be fetched."""
    bodies: dict[str, bytes] = {}
    for path in sorted(DATA.glob("*.json")):
        records = json.loads(path.read_text())["Records"]
        for index in range(0, len(records), 5):
            bodies[f"{path.stem}-{index}.json.gz"] = gzip.compress(
                json.dumps({"Records": records[index : index + 5]}).encode()
            )
    bodies["corrupt.json.gz"] = gzip.compress(b'{"Records": [')[:-4]
    keys = [*bodies, "denied.json.gz"]
    objects = [LogObject(key=key, region="us-east-1", delivered=START) for key in keys]
    return Bucket(bodies), objects


def outcome(reads) -> tuple[list, dict[str, str]]:
    """The activity, the actions called and the access changes read, and the objects' errors."""
    merged, errors, changes = ActivityReducer(START, END, UsageReducer()), {}, []
    for read in reads:
        if read.error is not None:
            errors[read.obj.key] = type(read.error).__name__
        else:
            merged.merge(read.reducer)
            changes.extend(read.changes)
    return (merged.activities(), merged.usage.uses(), sort_events(changes)), errors


def test_processes_read_what_one_thread_reads(bucket):
    s3, objects = bucket
    alone = outcome(read_objects(s3, "b", objects, START, END, fetchers=1, processes=0))
    pooled = outcome(read_objects(s3, "b", objects, START, END, fetchers=4, processes=2))
    assert alone == pooled
    (activities, uses, _changes), errors = alone
    assert errors == {"corrupt.json.gz": "LogDecodeError", "denied.json.gz": "ClientError"}
    assert len(activities) > 20 and uses  # the actions called cross the process boundary too


def test_without_a_process_pool_the_threads_decode(bucket, monkeypatch):
    """Where multiprocessing cannot start (AWS Lambda has no /dev/shm), the read goes on on threads."""
    s3, objects = bucket

    def no_semaphores(*args, **kwargs):
        raise OSError(38, "Function not implemented")

    expected = outcome(read_objects(s3, "b", objects, START, END, processes=0))
    monkeypatch.setattr(cloudtrail_pool, "ProcessPoolExecutor", no_semaphores)
    assert outcome(read_objects(s3, "b", objects, START, END, processes=2)) == expected


def killed(blobs, start, end):
    """A worker's share that ends its process, as the kernel's OOM killer would."""
    os._exit(1)


def test_a_worker_that_dies_leaves_its_objects_to_this_process(bucket, monkeypatch):
    s3, objects = bucket
    expected = outcome(read_objects(s3, "b", objects, START, END, processes=0))
    monkeypatch.setattr(cloudtrail_pool, "decode_batch", killed)
    assert outcome(read_objects(s3, "b", objects, START, END, processes=2)) == expected


def test_one_core_or_little_to_read_decodes_on_threads(bucket, monkeypatch):
    """A process pool only pays off with several cores and enough bytes: otherwise none is started."""
    s3, objects = bucket
    expected = outcome(read_objects(s3, "b", objects, START, END, processes=0))

    def no_pool(*args, **kwargs):
        raise AssertionError("no process pool should be started")

    monkeypatch.setattr(cloudtrail_pool, "ProcessPoolExecutor", no_pool)
    assert outcome(read_objects(s3, "b", objects, START, END)) == expected  # a few kB: below POOL_MIN_BYTES
    monkeypatch.setattr(cloudtrail_pool, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(cloudtrail_pool, "cores", lambda: 1)
    assert outcome(read_objects(s3, "b", objects, START, END)) == expected
