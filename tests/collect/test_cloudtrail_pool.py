"""Reading log objects on every core gives what reading them on one thread gives, failures included.

The workers fetch for themselves: each makes its client from the recipe it is handed, and
the client here is used only where no pool runs.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
from dataclasses import dataclass
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


class Untouched:
    """The client of a process whose workers read everything: never asked for an object."""

    def get_object(self, **kwargs) -> dict:
        raise AssertionError("the workers fetch, not this process")


BUCKETS: dict[str, Bucket] = {}  # a forked worker inherits them


@dataclass(frozen=True)
class InMemory:
    """A recipe for the bucket a worker finds in ``BUCKETS`` (workers fork here; a spawned one would not)."""

    name: str

    def client(self) -> Bucket:
        return BUCKETS[self.name]


def in_memory(pool: int) -> InMemory:
    return InMemory("b")


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
    BUCKETS["b"] = Bucket(bodies)
    return BUCKETS["b"], objects


def outcome(s3, objects, **options) -> tuple[tuple, dict[str, str]]:
    """``read_objects``: the activity, actions called and access changes read, the counts, and the objects' errors."""
    merged, errors, changes, counts = ActivityReducer(START, END, UsageReducer()), {}, [], {}
    for read in read_objects(s3, "b", objects, merged, **options):
        if read.error is not None:
            errors[read.obj.key] = type(read.error).__name__
        else:
            changes.extend(read.held.changes)
            counts[read.obj.key] = (read.size, read.held.records, read.held.counted, read.held.undated)
    return (merged.activities(), merged.usage.uses(), sort_events(changes), counts), errors


def test_processes_read_what_one_thread_reads(bucket, monkeypatch):
    s3, objects = bucket
    alone = outcome(s3, objects, fetchers=1, processes=0)
    monkeypatch.setattr(cloudtrail_pool, "BATCH_OBJECTS", 7)  # several batches per worker
    asked: list[int] = []

    def recipe(pool: int) -> InMemory:
        asked.append(pool)
        return in_memory(pool)

    pooled = outcome(Untouched(), objects, fetchers=4, processes=2, recipe=recipe)
    assert alone == pooled
    # written afresh for every batch (credentials stay current), for a worker's own connection pool
    assert asked == [cloudtrail_pool.MIN_WORKER_FETCHERS] * math.ceil(len(objects) / 7)
    (activities, uses, _changes, counts), errors = alone
    assert errors == {"corrupt.json.gz": "LogDecodeError", "denied.json.gz": "ClientError"}
    assert len(activities) > 20 and uses  # the actions called cross the process boundary too
    # each object's own counts, though a worker folds a whole batch into one reducer
    assert len(counts) == len(objects) - 2
    assert all(0 < records <= 5 and counted <= records for _, records, counted, _ in counts.values())


def test_without_a_process_pool_the_threads_decode(bucket, monkeypatch):
    """Where multiprocessing cannot start (AWS Lambda has no /dev/shm), the read goes on on threads."""
    s3, objects = bucket

    def no_semaphores(*args, **kwargs):
        raise OSError(38, "Function not implemented")

    expected = outcome(s3, objects, processes=0)
    monkeypatch.setattr(cloudtrail_pool, "ProcessPoolExecutor", no_semaphores)
    assert outcome(s3, objects, processes=2, recipe=in_memory) == expected


@pytest.fixture
def no_pool(monkeypatch) -> None:
    """Starting a process pool fails the test."""

    def refused(*args, **kwargs):
        raise AssertionError("no process pool should be started")

    monkeypatch.setattr(cloudtrail_pool, "ProcessPoolExecutor", refused)


def test_without_a_recipe_no_worker_is_started(bucket, no_pool):
    """A worker cannot share this process's client (its connections): without a recipe the threads read."""
    s3, objects = bucket
    expected = outcome(s3, objects, processes=0)
    assert outcome(s3, objects, processes=2) == expected


HERE = os.getpid()
REDUCE = cloudtrail_pool.reduce_object


def killed(data, reducer, buffer=None):
    """Decoding that ends a worker's process, as the kernel's OOM killer would (this process decodes)."""
    if os.getpid() != HERE:
        os._exit(1)
    return REDUCE(data, reducer, buffer)


def test_a_worker_that_dies_leaves_its_objects_to_this_process(bucket, monkeypatch):
    s3, objects = bucket
    expected = outcome(s3, objects, processes=0)
    monkeypatch.setattr(cloudtrail_pool, "BATCH_OBJECTS", 3)
    monkeypatch.setattr(cloudtrail_pool, "reduce_object", killed)
    assert outcome(s3, objects, processes=2, recipe=in_memory) == expected


def test_one_core_or_little_to_read_decodes_on_threads(bucket, no_pool, monkeypatch):
    """A process pool only pays off with several cores and enough to read: otherwise none is started."""
    s3, objects = bucket
    expected = outcome(s3, objects, processes=0)
    # a few kB in a few dozen objects: below POOL_MIN_BYTES and POOL_MIN_OBJECTS
    assert outcome(s3, objects, recipe=in_memory) == expected
    monkeypatch.setattr(cloudtrail_pool, "POOL_MIN_OBJECTS", 0)
    monkeypatch.setattr(cloudtrail_pool, "cores", lambda: 1)
    assert outcome(s3, objects, recipe=in_memory) == expected


def test_enough_objects_start_the_pool_however_small(bucket, monkeypatch):
    """Fetching costs CPU per object whatever its size: many small objects are read on every core."""
    s3, objects = bucket
    expected = outcome(s3, objects, processes=0)
    monkeypatch.setattr(cloudtrail_pool, "POOL_MIN_OBJECTS", len(objects))
    monkeypatch.setattr(cloudtrail_pool, "cores", lambda: 2)
    assert outcome(Untouched(), objects, recipe=in_memory) == expected


@dataclass(frozen=True)
class Counted:
    """A recipe that counts the clients made from it (by its credentials, as ``ClientRecipe`` compares)."""

    token: str
    made: list

    def __hash__(self) -> int:
        return hash(self.token)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counted) and other.token == self.token

    def client(self) -> Bucket:
        self.made.append(self.token)
        return BUCKETS["b"]


def test_a_worker_keeps_its_client_until_the_credentials_it_is_handed_change(bucket, monkeypatch):
    """A long first night outlives its credentials: a refreshed recipe makes a new client, an equal one does not."""
    _, objects = bucket
    worker: dict = {}
    monkeypatch.setattr(cloudtrail_pool, "_worker", worker)  # this process plays the worker; later forks start clean
    made: list[str] = []
    keys = [objects[0].key]
    for token in ("first", "first", "refreshed", "refreshed"):
        cloudtrail_pool.read_batch(Counted(token, made), "b", keys, START, END, fetchers=2)
    worker["threads"].shutdown()
    assert made == ["first", "refreshed"]
