"""Reading CloudTrail log objects: fetched concurrently, decoded and reduced on every core.

``read_objects`` is the one entry point: give it the S3 client, the bucket,
the ``LogObject`` list to read and the reducer to fold their activity into
(its window is the events that count), and it yields one ``ObjectRead`` per
object as each finishes (in no particular order), with what the object
held. The caller keeps its own books (coverage, gaps, ledger).

Fetching costs CPU too: botocore signs, sends and parses every GetObject
in Python (about a millisecond each), as much as decoding a small object.
So on a machine with more than one core, when there is enough to read to
repay starting processes (``POOL_MIN_BYTES`` or ``POOL_MIN_OBJECTS``), and
when the caller says how a worker makes its own client (a ``recipe``),
each worker process fetches, inflates, decodes and reduces batches of
objects with a client and fetch threads of its own: every core does the
whole per-object work. A worker folds a batch's objects into one reducer,
and this process merges one per batch: the principals of a few hundred
small objects are mostly the same ones, so a batch's reducer is a fraction
of theirs together, to pickle, load and merge. Otherwise fetch
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
    "Held",
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
class Held:
    """What one object's records held, once folded into a reducer (crosses the process boundary)."""

    records: int = 0  # records decoded
    counted: int = 0  # inside the window, proving some principal active
    undated: int = 0  # without a usable eventTime
    malformed: int = 0  # skipped as not decodable
    changes: list[LifecycleEvent] = field(default_factory=list)  # access granted or taken away, in the window


@dataclass
class ObjectRead:
    """One log object's outcome: what it held (its activity is in the reducer read into), or why it is unread."""

    obj: LogObject
    held: Held | None = None  # None when ``error`` is set
    size: int = 0  # bytes fetched
    error: Exception | None = None  # a FETCH_ERRORS instance


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
    into: ActivityReducer,
    *,
    fetchers: int = 32,
    processes: int | None = None,
    recipe: Callable[[int], Recipe] | None = None,
) -> Iterator[ObjectRead]:
    """Fetch, gunzip, decode and reduce ``objects`` into ``into`` (events in its window count); one result each.

    ``into`` takes each object's activity and actions called (it needs a
    ``UsageReducer``) before that object's result is yielded.
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
        yield from _read_on_threads(s3, bucket, objects, into, fetchers)
        return
    with pool:
        per_worker = max(MIN_WORKER_FETCHERS, fetchers // processes)
        yield from _read_on_processes(pool, recipe, per_worker, s3, bucket, objects, into, fetchers, processes)


def _process_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes, or None where the platform cannot run one (Lambda)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    try:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    except (OSError, NotImplementedError, ImportError):  # no /dev/shm (sem_open fails), no _multiprocessing
        return None


def _fetch(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def reduce_object(data: bytes, reducer: ActivityReducer, buffer: InflateBuffer | None = None) -> Held:
    """One object's bytes inflated (into ``buffer`` if given), decoded and folded into ``reducer``: the per-object work."""
    records_before, counted_before, undated_before = reducer.records, reducer.counted, reducer.undated
    with collector_paused():  # decoded records and their tallies make no cycles
        records, malformed = read_log(data, buffer)
        reducer.add(records)
        changes = lifecycle_events(records, reducer.start, reducer.end)
        del records  # freed while paused: the collector's next pass would otherwise walk every record's parts
    return Held(
        records=reducer.records - records_before,
        counted=reducer.counted - counted_before,
        undated=reducer.undated - undated_before,
        malformed=malformed,
        changes=changes,
    )


def _read_one(s3, bucket: str, obj: LogObject, window: ActivityReducer) -> tuple[ObjectRead, ActivityReducer | None]:
    """One object fetched and reduced on a fetch thread, into a reducer of its own (threads share none)."""
    reducer = ActivityReducer(window.start, window.end, usage=UsageReducer())
    try:
        data = _fetch(s3, bucket, obj.key)
        held = reduce_object(data, reducer)
    except FETCH_ERRORS as exc:
        return ObjectRead(obj, error=exc), None
    return ObjectRead(obj, held=held, size=len(data)), reducer


def _read_on_threads(
    s3, bucket, objects: Iterable[LogObject], into: ActivityReducer, limit: int
) -> Iterator[ObjectRead]:
    """Fetch and decode on ``limit`` threads here, at most ``limit`` objects in flight; merged into ``into`` here."""
    done: queue.SimpleQueue[Future] = queue.SimpleQueue()
    source = iter(objects)
    in_flight = 0
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cloudtrail-fetch") as threads:
        for obj in _take(source, limit):
            threads.submit(_read_one, s3, bucket, obj, into).add_done_callback(done.put)
            in_flight += 1
        while in_flight:
            future = done.get()
            in_flight -= 1
            for obj in _take(source, 1):
                threads.submit(_read_one, s3, bucket, obj, into).add_done_callback(done.put)
                in_flight += 1
            read, reducer = future.result()
            if reducer is not None:
                into.merge(reducer)
            yield read


# A worker process's own client (made from the last recipe it was handed), fetch threads, and the
# memory it inflates objects into (one at a time: its fetch threads only fetch).
_worker: dict[str, Any] = {}


def read_batch(
    recipe: Recipe, bucket: str, keys: list[str], start: datetime | None, end: datetime | None, fetchers: int
) -> bytes:
    """A worker's share: each object fetched on its threads and folded into one reducer as it arrives.

    Pickled here: per key, in order, ``(size, Held)``, or ``(size, error)`` for an object that
    could not be fetched (size 0) or decoded; then the batch's reducer. The parent loads the
    bytes (see ``_merge_results``).
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
    reducer = ActivityReducer(start, end, usage=UsageReducer())
    for future in as_completed(futures):
        index = futures[future]
        try:
            data = future.result()
        except FETCH_ERRORS as exc:
            results[index] = (0, exc)
            continue
        try:
            results[index] = (len(data), reduce_object(data, reducer, buffer))
        except LogDecodeError as exc:
            results[index] = (len(data), exc)
    return pickle.dumps((results, reducer), protocol=pickle.HIGHEST_PROTOCOL)  # botocore's errors pickle


def _merge_results(data: bytes, into: ActivityReducer) -> list[tuple[int, Held | Exception]]:
    """A worker's results loaded, its reducer merged into ``into`` and dropped, without the cycle collector.

    Loading builds tens of thousands of dicts, lists and tuples per batch
    (none in a cycle), and the collector would scan them again and again
    as they arrive: several times the cost of the load itself. Merged and
    dropped inside the pause, they are gone before it can: only what
    ``into`` gains, and the per-object outcomes, outlive it. The pool
    would unpickle in its own thread, beyond reach, so workers hand back
    bytes and this process loads them.
    """
    with collector_paused():
        outcomes, reducer = pickle.loads(data)
        into.merge(reducer)
        del reducer
    return outcomes


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
    into: ActivityReducer,
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
            keys = [o.key for o in batch]
            future = pool.submit(read_batch, recipe(per_worker), bucket, keys, into.start, into.end, per_worker)
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
                data = future.result()
            except BrokenExecutor:
                left.extend(batch)
                continue
            if not left:
                submit_next()
            outcomes = _merge_results(data, into)
            for obj, (size, outcome) in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Held):
                    yield ObjectRead(obj, held=outcome, size=size)
                else:
                    yield ObjectRead(obj, error=outcome)
    if left:
        for future, batch in pending.items():
            future.cancel()
            left.extend(batch)
        left.extend(obj for batch in source for obj in batch)
        yield from _read_on_threads(s3, bucket, left, into, fetchers)


def _take(source: Iterator[LogObject], count: int) -> Iterable[LogObject]:
    for _ in range(max(0, count)):
        obj = next(source, None)
        if obj is None:
            return
        yield obj
