"""Reading CloudTrail log objects: fetched concurrently, decoded and reduced on every core.

``read_objects`` is the one entry point: give it the S3 client, the bucket,
the ``LogObject`` list to read and the event window, and it yields one
``ObjectRead`` per object as each finishes (in no particular order). The
caller merges the reducers and keeps its own books (coverage, gaps, ledger).

Fetching is I/O: one client (thread-safe, its connection pool sized to the
fetch threads by the caller) is shared by ``fetchers`` threads. Decoding and
reducing is CPU: on a machine with more than one core, and when there is
enough to read to repay starting processes (``POOL_MIN_BYTES``), the fetched
bytes go in batches to a process pool of one worker per core, so inflating
and decoding use every core while the parent keeps fetching. Otherwise the
fetch threads decode in this process, as they do where a process pool
cannot start at all: AWS Lambda has no ``/dev/shm``, so multiprocessing's
locks and queues fail there; that failure is caught and the read goes on
on threads. Results are the same either way (reducers are order-independent).

Workers are forked where the platform can (Linux): a fork costs milliseconds
where a fresh interpreter costs a second of CPU importing the command line
again, and the workers are this process's children, so their CPU time is
accounted to it. Forking beside running threads is safe here because a
worker only runs code imported before the fork (decoding, attribution,
pickling) and takes no lock another thread could hold: no logging, no
imports, no AWS calls. Elsewhere (macOS, Windows) workers are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import botocore.exceptions

from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_lifecycle import lifecycle_events
from auditor.collect.cloudtrail_records import LogDecodeError, read_log
from auditor.collect.cloudtrail_reduce import ActivityReducer
from auditor.collect.cloudtrail_s3 import LogObject
from auditor.heap import collector_paused
from auditor.model import LifecycleEvent

__all__ = ["FETCH_ERRORS", "POOL_MIN_BYTES", "ObjectRead", "cores", "read_objects"]

# What a fetch or a decode may raise for one object; anything else is a bug and propagates.
FETCH_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, LogDecodeError)
# Below this many listed (compressed) bytes, decoding in this process costs less than shipping the
# bytes to workers and their results back (and, where workers are spawned, than starting them).
POOL_MIN_BYTES = 16 * 1024 * 1024
# A batch is what one worker decodes per round trip: large enough that the pickling and the pipe
# cost little per object (small objects are a few kB), small enough to spread over the cores.
BATCH_BYTES = 2 * 1024 * 1024
BATCH_OBJECTS = 256


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
) -> Iterator[ObjectRead]:
    """Fetch, gunzip, decode and reduce ``objects`` (events inside ``[start, end]`` count); one result each.

    ``processes`` None chooses: one worker per core when there are several
    cores and at least ``POOL_MIN_BYTES`` listed; 0 or 1 decodes on the
    fetch threads. Fetch and decode errors are per object (``ObjectRead.error``).
    """
    if not objects:
        return
    fetchers = max(1, fetchers)
    if processes is None:
        listed = sum(obj.size for obj in objects)
        processes = cores() if listed >= POOL_MIN_BYTES else 0
    pool = _process_pool(min(processes, len(objects))) if processes > 1 else None
    with ThreadPoolExecutor(max_workers=fetchers, thread_name_prefix="cloudtrail-fetch") as threads:
        if pool is None:
            yield from _read_on_threads(threads, s3, bucket, objects, start, end, fetchers)
            return
        with pool:
            yield from _read_on_processes(threads, pool, s3, bucket, objects, start, end, fetchers, processes)


def _process_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes, or None where the platform cannot run one (Lambda)."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    try:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    except (OSError, NotImplementedError, ImportError):  # no /dev/shm (sem_open fails), no _multiprocessing
        return None


def _fetch(s3, bucket: str, obj: LogObject) -> bytes:
    return s3.get_object(Bucket=bucket, Key=obj.key)["Body"].read()


def _reduce(data: bytes, start: datetime | None, end: datetime | None) -> _Reduced:
    with collector_paused():  # decoded records and their tallies make no cycles
        records, malformed = read_log(data)
        reducer = ActivityReducer(start, end, usage=UsageReducer())
        reducer.add(records)
        return _Reduced(reducer, malformed, lifecycle_events(records, start, end))


def _read_one(s3, bucket: str, obj: LogObject, start: datetime | None, end: datetime | None) -> ObjectRead:
    try:
        data = _fetch(s3, bucket, obj)
        reduced = _reduce(data, start, end)
    except FETCH_ERRORS as exc:
        return ObjectRead(obj, error=exc)
    return reduced.read(obj, len(data))


def _read_on_threads(threads, s3, bucket, objects, start, end, limit: int) -> Iterator[ObjectRead]:
    """Fetch and decode on the threads, at most ``limit`` in flight."""
    done: queue.SimpleQueue[Future] = queue.SimpleQueue()
    source = iter(objects)
    in_flight = 0
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


def decode_batch(blobs: list[bytes], start: datetime | None, end: datetime | None) -> list[_Reduced | LogDecodeError]:
    """A worker's share: each blob reduced, or the decode error that made it unreadable."""
    results: list[_Reduced | LogDecodeError] = []
    for data in blobs:
        try:
            results.append(_reduce(data, start, end))
        except LogDecodeError as exc:
            results.append(exc)
    return results


def decode_batch_pickled(blobs: list[bytes], start: datetime | None, end: datetime | None) -> bytes:
    """``decode_batch`` in a worker, its results pickled here (see ``_unpickle``)."""
    return pickle.dumps(decode_batch(blobs, start, end), protocol=pickle.HIGHEST_PROTOCOL)


def _unpickle(data: bytes) -> list[_Reduced | LogDecodeError]:
    """A worker's results, loaded without the cycle collector.

    Loading builds tens of thousands of dicts, lists and tuples per object
    (none in a cycle), and the collector would scan them again and again
    as they arrive: several times the cost of the load itself. The pool
    would unpickle in its own thread, beyond reach, so workers hand back
    bytes and this process loads them.
    """
    with collector_paused():
        return pickle.loads(data)


def _read_on_processes(
    threads, pool: ProcessPoolExecutor, s3, bucket, objects, start, end, limit: int, processes: int
) -> Iterator[ObjectRead]:
    """Threads fetch; batches of fetched bytes are decoded by the pool; at most ``limit`` fetches in flight.

    Fetched bytes cut into batches wait for a worker while ``2 * processes``
    batches are in flight; fetching pauses meanwhile, so a slow decode holds
    back fetching, not memory. A pool that breaks (a worker killed, or none
    could start) leaves its batches, and every later one, to this process.
    """
    events: queue.SimpleQueue[tuple[str, object, Future]] = queue.SimpleQueue()
    source = iter(objects)
    fetching = decoding = 0
    batch: list[tuple[LogObject, bytes]] = []
    batch_bytes = 0
    ready: deque[list[tuple[LogObject, bytes]]] = deque()  # full batches waiting for a worker
    max_batches = 2 * processes
    broken = False

    def fetch_more() -> None:
        nonlocal fetching
        room = limit - fetching if decoding < max_batches else 0
        for obj in _take(source, room):
            future = threads.submit(_fetch, s3, bucket, obj)
            future.add_done_callback(lambda f, obj=obj: events.put(("fetched", obj, f)))
            fetching += 1

    def submit(work: list[tuple[LogObject, bytes]]) -> bool:
        """Hand a batch to the pool; False when the pool is broken."""
        nonlocal decoding
        try:
            future = pool.submit(decode_batch_pickled, [data for _, data in work], start, end)
        except (BrokenExecutor, OSError):  # a worker died, or none could be started
            return False
        future.add_done_callback(lambda f, work=work: events.put(("decoded", work, f)))
        decoding += 1
        return True

    fetch_more()
    while fetching or decoding or batch or ready:
        if batch and (batch_bytes >= BATCH_BYTES or len(batch) >= BATCH_OBJECTS or not fetching):
            ready.append(batch)
            batch, batch_bytes = [], 0
        while ready and decoding < max_batches and not broken:
            if not submit(ready[0]):
                broken = True
                break
            ready.popleft()
        if broken:
            while ready:
                yield from (_decoded_here(obj, data, start, end) for obj, data in ready.popleft())
        fetch_more()
        if not (fetching or decoding):
            continue  # nothing outstanding: what is left is in ``batch`` (or nothing is)
        kind, payload, future = events.get()
        if kind == "fetched":
            fetching -= 1
            obj: LogObject = payload  # type: ignore[assignment]
            try:
                data = future.result()
            except FETCH_ERRORS as exc:
                yield ObjectRead(obj, error=exc)
            else:
                if broken:
                    yield _decoded_here(obj, data, start, end)
                else:
                    batch.append((obj, data))
                    batch_bytes += len(data)
            continue
        decoding -= 1
        work: list[tuple[LogObject, bytes]] = payload  # type: ignore[assignment]
        try:
            outcomes = _unpickle(future.result())
        except BrokenExecutor:
            broken = True
            yield from (_decoded_here(obj, data, start, end) for obj, data in work)
            continue
        for (obj, data), outcome in zip(work, outcomes, strict=True):
            if isinstance(outcome, LogDecodeError):
                yield ObjectRead(obj, error=outcome)
            else:
                yield outcome.read(obj, len(data))


def _decoded_here(obj: LogObject, data: bytes, start, end) -> ObjectRead:
    try:
        reduced = _reduce(data, start, end)
    except LogDecodeError as exc:
        return ObjectRead(obj, error=exc)
    return reduced.read(obj, len(data))


def _take(source: Iterator[LogObject], count: int) -> Iterable[LogObject]:
    for _ in range(max(0, count)):
        obj = next(source, None)
        if obj is None:
            return
        yield obj
