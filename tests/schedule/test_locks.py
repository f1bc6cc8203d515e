"""Database locks: one holder at a time, bounded waits with the holder named, leases that expire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditor.schedule.locks import LockHeld, acquire, holder_of, job_lock, run_lock
from auditor.store import Store
from tests.schedule.conftest import make_settings


@pytest.fixture
def store(store_url) -> Store:
    """The same tests on a SQLite file and on a fresh PostgreSQL database."""
    return Store.open(store_url)


def test_a_second_holder_is_refused_with_the_holder_named(store, clock):
    with (
        job_lock(store, "run", owner="nightly on host-a", clock=clock, heartbeat=False),
        pytest.raises(LockHeld) as refused,
        job_lock(store, "run", owner="manual run on host-b", clock=clock, heartbeat=False),
    ):
        pytest.fail("two holders of one lock")
    message = str(refused.value)
    assert 'the "run" lock is held by nightly on host-a since 2026-11-30T00:00:00' in message
    assert "nothing was changed" in message
    assert holder_of(store, "run") is None  # released when the block ended
    with job_lock(store, "run", owner="manual run on host-b", clock=clock, heartbeat=False):
        assert holder_of(store, "run").owner == "manual run on host-b"


def test_waiting_is_bounded_and_uses_the_injected_clock(store, clock):
    acquire(store, "run", owner="nightly", clock=clock)
    with pytest.raises(LockHeld) as refused:
        acquire(store, "run", owner="manual", wait_seconds=12, clock=clock, sleep=clock.sleep, poll_seconds=5)
    assert clock.slept == [5, 5, 2]
    assert refused.value.waited == 12 and "waited 12 s" in str(refused.value)


def test_a_waiter_gets_the_lock_once_the_holder_releases_it(store, clock):
    held = acquire(store, "run", owner="nightly", clock=clock)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        held.release()  # the nightly run ends while the manual run waits

    lease = acquire(store, "run", owner="manual", wait_seconds=60, clock=clock, sleep=sleep)
    assert holder_of(store, "run").owner == "manual" and clock.slept == [5]
    lease.release()


def test_the_lease_of_a_crashed_holder_expires(store, clock):
    acquire(store, "run", owner="crashed", lease_seconds=600, clock=clock)  # never released
    clock.now += timedelta(seconds=599)
    with pytest.raises(LockHeld):
        acquire(store, "run", owner="next", clock=clock)
    clock.now += timedelta(seconds=2)
    lease = acquire(store, "run", owner="next", clock=clock)
    assert holder_of(store, "run").owner == "next"
    lease.release()


def test_a_renewed_lease_is_kept_and_a_lost_one_is_noticed(store, clock):
    lease = acquire(store, "run", owner="nightly", lease_seconds=600, clock=clock)
    clock.now += timedelta(seconds=500)
    assert lease.renew()
    clock.now += timedelta(seconds=500)  # 1000 s after taking it, but renewed at 500 s: still ours
    with pytest.raises(LockHeld):
        acquire(store, "run", owner="other", clock=clock)
    clock.now += timedelta(seconds=200)
    acquire(store, "run", owner="other", clock=clock)  # expired: taken over
    assert not lease.renew() and lease.lost


def test_several_locks_are_all_or_nothing(store, clock):
    acquire(store, "run", owner="nightly", clock=clock)
    with pytest.raises(LockHeld):
        acquire(store, ["retention", "run"], owner="retention job", clock=clock)
    assert holder_of(store, "retention") is None  # not kept while the other was refused


def test_the_manual_run_lock_waits_as_configured(store, clock, tmp_path):
    settings = make_settings(tmp_path, [], scheduler={"run_lock_wait_seconds": 30})
    acquire(store, "run", owner="scheduler job nightly", clock=clock)
    with (
        pytest.raises(LockHeld, match="held by scheduler job nightly"),
        run_lock(store, settings, clock=clock, sleep=clock.sleep),
    ):
        pytest.fail("ran beside the nightly run")
    assert sum(clock.slept) == 30
