"""Reading CloudTrail log objects: fetched concurrently, decoded and reduced on every core.

``read_objects`` is the one entry point: give it the S3 client, the bucket,
the ``LogObject`` list to read and the event window, and it yields one
``ObjectRead`` per object as each finishes (in no particular order). The
caller merges the reducers and keeps its own books (coverage, gaps, ledger).

Fetching costs CPU too: botocore signs, sends and parses every GetObject
in Python (about a millisecond each), as much as decoding a small object.
So on a machine with more than one core, when there is enough to read to
repay starting processes (``POOL_MIN_BYTES`` or ``POOL_MIN_OBJECTS``), and
when the caller says how a worker makes its own client (a ``recipe``),
each worker process fetches, inflates, decodes and reduces batches of
objects with a client and fetch threads of its own: every core does the
whole per-object work, and this process only merges. Otherwise fetch
threads here read with the one client (thread-safe, its connection pool
sized to the threads by the caller), as they do where a process pool
cannot start at all: AWS Lambda has no ``/dev/shm``, so multiprocessing's
locks and queues fail there; that failure is caught and the read goes on
on threads. Results are the same either way (reducers are order-independent).

Workers are forked where the platform can (Linux): a fork costs milliseconds
where a fresh interpreter costs a second of CPU importing the command line
again, and the workers are this process's children, so their CPU time is
accounted to it. Other threads run while the pool forks, so a worker takes
no lock they could have held: it only runs modules imported before the fork
(botocore's included: this process made its client first) and makes its
own session and client from the recipe, with credentials this process
froze (no provider chain, no lock of ours); logging, which botocore calls,
re-initialises its own locks in a forked child. Elsewhere (macOS, Windows)
workers are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import botocore.exceptions

from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_lifecycle import lifecycle_events
from auditor.collect.cloudtrail_records import InflateBuffer, LogDecodeError, read_log
from auditor.collect.cloudtrail_reduce import ActivityReducer
from auditor.collect.cloudtrail_s3 import LogObject
from auditor.heap import collector_paused
from auditor.model import LifecycleEvent

__all__ = [
    "FETCH_ERRORS",
    "POOL_MIN_BYTES",
    "POOL_MIN_OBJECTS",
    "ObjectRead",
    "Recipe",
    "cores",
    "read_objects",
    "reduce_object",
]

# What a fetch or a decode may raise for one object; anything else is a bug and propagates.
FETCH_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, LogDecodeError)
# Below this many listed (compressed) bytes and objects, reading here costs less than starting workers
# that each make a client (a few tens of milliseconds), and shipping their results back.
POOL_MIN_BYTES = 16 * 1024 * 1024
POOL_MIN_OBJECTS = 500
# A batch is what one worker reads per round trip: large enough that the pickling and the pipe
# cost little per object (small objects are a few kB), small enough to spread over the cores.
BATCH_BYTES = 2 * 1024 * 1024
BATCH_OBJECTS = 256
# Fetch threads per worker, at least: S3 answers a GetObject in tens of milliseconds, and a worker
# decodes a small object in a fraction of one, so its threads mostly wait.
MIN_WORKER_FETCHERS = 8


class Recipe(Hashable, Protocol):
    """How a worker process makes its own S3 client (``auditor.aws.ClientRecipe``); compared to reuse one."""

    def client(self) -> Any: ...


@dataclass
class ObjectRead:
    """One log object's outcome: its reducer (with the actions called) and access changes, or why it is unread."""

    obj: LogObject
    reducer: ActivityReducer | None = None  # None when ``error`` is set
    malformed: int = 0  # records skipped as not decodable
    size: int = 0  # bytes fetched
    error: Exception | None = None  # a FETCH_ERRORS instance
    changes: list[LifecycleEvent] = field(default_factory=list)  # access granted or taken away, in the window


@dataclass
class _Reduced:
    """What one object's bytes reduce to (crosses the process boundary, so kept small)."""

    reducer: ActivityReducer
    malformed: int
    changes: list[LifecycleEvent]

    def read(self, obj: LogObject, size: int) -> ObjectRead:
        return ObjectRead(obj, reducer=self.reducer, malformed=self.malformed, size=size, changes=self.changes)


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_objects(
    s3,
    bucket: str,
    objects: Sequence[LogObject],
    start: datetime | None,
    end: datetime | None,
    *,
    fetchers: int = 32,
    processes: int | None = None,
    recipe: Callable[[int], Recipe] | None = None,
) -> Iterator[ObjectRead]:
    """Fetch, gunzip, decode and reduce ``objects`` (events inside ``[start, end]`` count); one result each.

    ``recipe(pool)`` describes the client a worker process makes for itself
    (with a connection pool of ``pool``); it is asked again for each batch,
    so that the credentials it carries stay current. Without it, or with
    ``processes`` 0 or 1, the fetch threads here read everything;
    ``processes`` None chooses: one worker per core when there are several
    cores and at least ``POOL_MIN_BYTES`` or ``POOL_MIN_OBJECTS`` listed.
    Fetch and decode errors are per object (``ObjectRead.error``).
    """
    if not objects:
        return
    fetchers = max(1, fetchers)
    if recipe is None:
        processes = 0
    elif processes is None:
        listed = sum(obj.size for obj in objects)
        worth_it = listed >= POOL_MIN_BYTES or len(objects) >= POOL_MIN_OBJECTS
        processes = cores() if worth_it else 0
    pool = _process_pool(min(processes, len(objects))) if processes > 1 else None
    if pool is None:
        yield from _read_on_threads(s3, bucket, objects, start, end, fetchers)
        return
    with pool:
        per_worker = max(MIN_WORKER_FETCHERS, fetchers // processes)
        yield from _read_on_processes(pool, recipe, per_worker, s3, bucket, objects, start, end, fetchers, processes)


def _process_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes, or None where the platform cannot run one (Lambda)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    try:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    except (OSError, NotImplementedError, ImportError):  # no /dev/shm (sem_open fails), no _multiprocessing
        return None


def _fetch(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def reduce_object(
    data: bytes, start: datetime | None, end: datetime | None, buffer: InflateBuffer | None = None
) -> _Reduced:
    """One object's bytes inflated (into ``buffer`` if given), decoded and reduced: the per-object work."""
    with collector_paused():  # decoded records and their tallies make no cycles
        records, malformed = read_log(data, buffer)
        reducer = ActivityReducer(start, end, usage=UsageReducer())
        reducer.add(records)
        changes = lifecycle_events(records, start, end)
        del records  # freed while paused: the collector's next pass would otherwise walk every record's parts
        return _Reduced(reducer, malformed, changes)


def _read_one(s3, bucket: str, obj: LogObject, start: datetime | None, end: datetime | None) -> ObjectRead:
    try:
        data = _fetch(s3, bucket, obj.key)
        reduced = reduce_object(data, start, end)
    except FETCH_ERRORS as exc:
        return ObjectRead(obj, error=exc)
    return reduced.read(obj, len(data))


def _read_on_threads(s3, bucket, objects: Iterable[LogObject], start, end, limit: int) -> Iterator[ObjectRead]:
    """Fetch and decode on ``limit`` threads here, at most ``limit`` objects in flight."""
    done: queue.SimpleQueue[Future] = queue.SimpleQueue()
    source = iter(objects)
    in_flight = 0
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cloudtrail-fetch") as threads:
        for obj in _take(source, limit):
            threads.submit(_read_one, s3, bucket, obj, start, end).add_done_callback(done.put)
            in_flight += 1
        while in_flight:
            future = done.get()
            in_flight -= 1
            for obj in _take(source, 1):
                threads.submit(_read_one, s3, bucket, obj, start, end).add_done_callback(done.put)
                in_flight += 1
            yield future.result()


# A worker process's own client (made from the last recipe it was handed), fetch threads, and the
# memory it inflates objects into (one at a time: its fetch threads only fetch).
_worker: dict[str, Any] = {}


def read_batch(recipe: Recipe, bucket: str, keys: list[str], start, end, fetchers: int) -> bytes:
    """A worker's share: each object fetched on its threads and reduced as it arrives, pickled here.

    Per key, in order: ``(size, _Reduced)``, or ``(size, error)`` for an object that could not be
    fetched (size 0) or decoded. The parent loads the bytes (see ``_unpickle``).
    """
    if _worker.get("recipe") != recipe:
        _worker["client"], _worker["recipe"] = recipe.client(), recipe
    if _worker.get("fetchers") != fetchers:
        if "threads" in _worker:
            _worker["threads"].shutdown()
        _worker["threads"] = ThreadPoolExecutor(max_workers=fetchers, thread_name_prefix="cloudtrail-fetch")
        _worker["fetchers"] = fetchers
    client, threads = _worker["client"], _worker["threads"]
    buffer = _worker.setdefault("buffer", InflateBuffer())
    futures = {threads.submit(_fetch, client, bucket, key): index for index, key in enumerate(keys)}
    results: list[Any] = [None] * len(keys)
    for future in as_completed(futures):
        index = futures[future]
        try:
            data = future.result()
        except FETCH_ERRORS as exc:
            results[index] = (0, exc)
            continue
        try:
            results[index] = (len(data), reduce_object(data, start, end, buffer))
        except LogDecodeError as exc:
            results[index] = (len(data), exc)
    return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)  # botocore's errors pickle (as ClientError)


def _unpickle(data: bytes) -> list[tuple[int, _Reduced | Exception]]:
    """A worker's results, loaded without the cycle collector.

    Loading builds tens of thousands of dicts, lists and tuples per batch
    (none in a cycle), and the collector would scan them again and again
    as they arrive: several times the cost of the load itself. The pool
    would unpickle in its own thread, beyond reach, so workers hand back
    bytes and this process loads them.
    """
    with collector_paused():
        return pickle.loads(data)


def _batches(objects: Iterable[LogObject]) -> Iterator[list[LogObject]]:
    """Objects in listing order, cut at ``BATCH_BYTES`` listed or ``BATCH_OBJECTS``."""
    batch: list[LogObject] = []
    size = 0
    for obj in objects:
        batch.append(obj)
        size += obj.size
        if size >= BATCH_BYTES or len(batch) >= BATCH_OBJECTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _read_on_processes(
    pool: ProcessPoolExecutor,
    recipe: Callable[[int], Recipe],
    per_worker: int,
    s3,
    bucket,
    objects,
    start,
    end,
    fetchers: int,
    processes: int,
) -> Iterator[ObjectRead]:
    """Batches read by the workers, ``2 * processes`` at a time (one reading, one waiting, per worker).

    A pool that breaks (a worker killed, or none could start) leaves the
    batches it held, and every later one, to the fetch threads here.
    """
    source = _batches(objects)
    pending: dict[Future, list[LogObject]] = {}
    left: list[LogObject] = []  # what a broken pool leaves to this process

    def submit_next() -> bool:
        batch = next(source, None)
        if batch is None:
            return False
        try:
            future = pool.submit(read_batch, recipe(per_worker), bucket, [o.key for o in batch], start, end, per_worker)
        except (BrokenExecutor, OSError):  # a worker died, or none could be started
            left.extend(batch)
            return False
        pending[future] = batch
        return True

    for _ in range(2 * processes):
        if not submit_next():
            break
    while pending and not left:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            batch = pending.pop(future)
            try:
                outcomes = _unpickle(future.result())
            except BrokenExecutor:
                left.extend(batch)
                continue
            if not left:
                submit_next()
            for obj, (size, outcome) in zip(batch, outcomes, strict=True):
                if isinstance(outcome, _Reduced):
                    yield outcome.read(obj, size)
                else:
                    yield ObjectRead(obj, error=outcome)
    if left:
        for future, batch in pending.items():
            future.cancel()
            left.extend(batch)
        left.extend(obj for batch in source for obj in batch)
        yield from _read_on_threads(s3, bucket, left, start, end, fetchers)


def _take(source: Iterator[LogObject], count: int) -> Iterable[LogObject]:
    for _ in range(max(0, count)):
        obj = next(source, None)
        if obj is None:
            return
        yield obj
