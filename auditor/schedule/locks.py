"""Named locks in the state database: one job of a kind at a time, across processes and hosts.

A lock is a row lease (owner + expiry) taken by a conditional UPDATE that
succeeds only when the row is free, expired or already ours; the row is
created on first use (a concurrent insert loses on the primary key). This
works unchanged on SQLite, where the store's transactions start with
BEGIN IMMEDIATE, and on PostgreSQL, where the UPDATE re-checks its
condition after waiting for a concurrent one. A holder renews its lease
while it works (a heartbeat thread), so a crashed process frees its locks
when the lease runs out and a live one keeps them. Waiting is bounded and
uses the injected clock and sleep; a lock still held at the deadline is a
``LockHeld`` naming its holder. A holder on this host whose process is
gone (killed with SIGKILL, say) is taken over at once.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from auditor.schedule.clock import Clock, Sleep, system_clock, system_sleep
from auditor.schedule.schema import job_locks
from auditor.store import Store

log = logging.getLogger("auditor.schedule.locks")

DEFAULT_LEASE_SECONDS = 600
POLL_SECONDS = 5.0


@dataclass(frozen=True)
class Holder:
    name: str
    owner: str
    acquired_at: datetime | None
    expires_at: datetime


class LockHeld(Exception):
    """Another process holds the lock; the message names it and how long it holds the lease."""

    def __init__(self, holder: Holder, waited: float) -> None:
        self.holder = holder
        self.waited = waited
        waited_text = f"waited {waited:.0f} s; " if waited else ""
        super().__init__(
            f'the "{holder.name}" lock is held by {holder.owner} since {_text(holder.acquired_at)} '
            f"(lease until {_text(holder.expires_at)}); {waited_text}nothing was changed, try again when it is done"
        )


def _text(moment: datetime | None) -> str:
    return moment.isoformat(timespec="microseconds") if moment else "an unknown time"


def owner_name(purpose: str) -> str:
    """Who holds a lock, for people reading the refusal: purpose, user, host, process, and a nonce."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{purpose} ({user}@{socket.gethostname()} pid {os.getpid()} {secrets.token_hex(3)})"


_OWNER_PROCESS = re.compile(r"@(?P<host>[^ ]+) pid (?P<pid>\d+) [0-9a-f]+\)$")


def holder_is_gone(owner: str) -> bool:
    """Whether ``owner`` (as ``owner_name`` wrote it) was a process on this host that no longer runs.

    Only a process of this host can be checked; a reused pid looks alive,
    and then the lease runs out as for any other holder.
    """
    match = _OWNER_PROCESS.search(owner)
    if match is None or match["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by another user
        return False
    return False


def try_acquire(store: Store, name: str, owner: str, *, lease_seconds: float, now: datetime) -> Holder | None:
    """Take or renew the lease on ``name``; None when taken, else who holds it."""
    expires = now + timedelta(seconds=lease_seconds)
    try:
        with store.engine.begin() as conn:
            row = conn.execute(sa.select(job_locks).where(job_locks.c.name == name)).first()
            if row is None:
                conn.execute(job_locks.insert().values(name=name, owner=owner, acquired_at=now, expires_at=expires))
                return None
            free = [job_locks.c.owner == "", job_locks.c.owner == owner, job_locks.c.expires_at < now]
            if row.owner and holder_is_gone(row.owner):  # killed here (kill -9): its lease would hold for nothing
                free.append(job_locks.c.owner == row.owner)
            taken = conn.execute(
                job_locks.update()
                .where(job_locks.c.name == name, sa.or_(*free))
                .values(owner=owner, acquired_at=now, expires_at=expires)
            ).rowcount
            if taken:
                if row.owner not in ("", owner):
                    log.warning("took over an expired lease", extra={"lock": name, "previous_owner": row.owner})
                return None
            # PostgreSQL: the row read above may predate a concurrent taker's commit; name the holder now
            row = conn.execute(sa.select(job_locks).where(job_locks.c.name == name)).first()
            return Holder(name, row.owner, row.acquired_at, row.expires_at)
    except sa.exc.IntegrityError:  # another process created the row first: it holds the lock
        return holder_of(store, name) or Holder(name, "another process", None, expires)


def holder_of(store: Store, name: str) -> Holder | None:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(job_locks).where(job_locks.c.name == name)).first()
    if row is None or not row.owner:
        return None
    return Holder(name, row.owner, row.acquired_at, row.expires_at)


def renew(store: Store, name: str, owner: str, *, lease_seconds: float, now: datetime) -> bool:
    """Extend our lease; False when it is no longer ours (it expired and another process took it)."""
    with store.engine.begin() as conn:
        return bool(
            conn.execute(
                job_locks.update()
                .where(job_locks.c.name == name, job_locks.c.owner == owner)
                .values(expires_at=now + timedelta(seconds=lease_seconds))
            ).rowcount
        )


def release(store: Store, name: str, owner: str, *, now: datetime) -> None:
    """Free the lock if it is still ours (the row stays: nothing here deletes)."""
    with store.engine.begin() as conn:
        conn.execute(
            job_locks.update()
            .where(job_locks.c.name == name, job_locks.c.owner == owner)
            .values(owner="", expires_at=now)
        )


@dataclass
class Lease:
    """Locks held together; ``lost`` turns true if a renewal found one taken over."""

    store: Store
    names: tuple[str, ...]
    owner: str
    lease_seconds: float
    clock: Clock
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def renew(self) -> bool:
        now = self.clock()
        kept = all(renew(self.store, n, self.owner, lease_seconds=self.lease_seconds, now=now) for n in self.names)
        if not kept and not self.lost:
            self.lost = True
            log.error("lost a lock lease while working", extra={"locks": list(self.names), "owner": self.owner})
        return kept

    def start_heartbeat(self) -> None:
        interval = max(self.lease_seconds / 3, 1.0)

        def beat() -> None:
            while not self._stop.wait(interval):
                try:
                    self.renew()
                except sa.exc.SQLAlchemyError as exc:  # the next beat tries again; the lease still runs
                    log.warning("could not renew a lock lease", extra={"locks": list(self.names), "error": str(exc)})

        self._thread = threading.Thread(target=beat, name="lock-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        now = self.clock()
        for name in reversed(self.names):
            release(self.store, name, self.owner, now=now)


def acquire(
    store: Store,
    names: str | Sequence[str],
    *,
    owner: str,
    wait_seconds: float = 0,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Clock = system_clock,
    sleep: Sleep = system_sleep,
    poll_seconds: float = POLL_SECONDS,
) -> Lease:
    """Take every named lock (in name order), waiting at most ``wait_seconds``; raises ``LockHeld``."""
    wanted = tuple(sorted({names} if isinstance(names, str) else set(names)))
    started = clock()
    deadline = started + timedelta(seconds=wait_seconds)
    while True:
        taken: list[str] = []
        holder = None
        for name in wanted:
            holder = try_acquire(store, name, owner, lease_seconds=lease_seconds, now=clock())
            if holder is not None:
                break
            taken.append(name)
        if holder is None:
            return Lease(store, wanted, owner, lease_seconds, clock)
        now = clock()
        for name in taken:  # never sit on some locks while waiting for the others
            release(store, name, owner, now=now)
        remaining = (deadline - now).total_seconds()
        if remaining <= 0:
            raise LockHeld(holder, (now - started).total_seconds())
        log.info("waiting for a lock", extra={"lock": holder.name, "holder": holder.owner})
        sleep(min(poll_seconds, remaining))


@contextmanager
def job_lock(
    store: Store,
    names: str | Sequence[str],
    *,
    wait_seconds: float = 0,
    owner: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Clock = system_clock,
    sleep: Sleep = system_sleep,
    heartbeat: bool = True,
) -> Iterator[Lease]:
    """Hold the named locks for the ``with`` block: ``with job_lock(store, "run", wait_seconds=60): ...``.

    Raises ``LockHeld`` (naming the holder) when they are still held after
    ``wait_seconds``. The lease is renewed in the background while the
    block runs and released when it ends, whatever way it ends.
    """
    lease = acquire(
        store,
        names,
        owner=owner or owner_name("auditor"),
        wait_seconds=wait_seconds,
        lease_seconds=lease_seconds,
        clock=clock,
        sleep=sleep,
    )
    if heartbeat:
        lease.start_heartbeat()
    try:
        yield lease
    finally:
        lease.release()


def run_lock(
    store: Store, settings, *, purpose: str = "auditor run", clock: Clock = system_clock, sleep: Sleep = system_sleep
):
    """The "run" lock a manual `auditor run` holds, as the nightly job does; waits [scheduler] run_lock_wait_seconds."""
    section = settings.section("scheduler")
    return job_lock(
        store,
        "run",
        wait_seconds=section["run_lock_wait_seconds"],
        owner=owner_name(purpose),
        lease_seconds=section["lock_lease_seconds"],
        clock=clock,
        sleep=sleep,
    )
