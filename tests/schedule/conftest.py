"""A fake clock, settings with jobs, a state store, and APScheduler driven by the fake clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from auditor import config, pipeline
from auditor import snapshot as snapshots
from auditor.config import Settings
from auditor.store import Store
from tests.campaign.estate import FALLBACK, build_world, idc_status


class FakeClock:
    """Time that moves only when a test (or a fake sleep) moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def make_settings(tmp_path: Path, jobs: list[dict], **sections) -> Settings:
    data = {
        "scheduler": {"jobs": jobs, "lock_wait_seconds": 0},
        "campaigns": {"fallback_reviewer": FALLBACK, "outbox_dir": str(tmp_path / "outbox")},
        "output": {"dir": str(tmp_path / "runs")},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings(values=config.validate(data, "test config"))


def fake_pipeline(calls: list | None = None):
    """`pipeline.run` without AWS: the campaign estate's snapshot, analysed, recorded and reported for real."""

    def run(settings, *, out_dir, as_of, hr_feed, store, **_):
        if calls is not None:
            calls.append(as_of)
        snapshot = build_world().snapshot(overrides=[idc_status()])
        snapshots.save(snapshot, Path(out_dir) / "snapshot")
        return pipeline.conclude(
            snapshot,
            settings,
            out_dir=Path(out_dir),
            as_of=as_of,
            store=store,
            began=time.monotonic(),
            record_started=as_of,
        )

    return run


class SteppedScheduler(BaseScheduler):
    """APScheduler's own scheduling logic, stepped by the test instead of a timer thread."""

    def wakeup(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))


@pytest.fixture
def apscheduler_clock(clock, monkeypatch):
    """APScheduler reads datetime.now() in the scheduler loop and the executor: give it the fake clock."""
    import apscheduler.executors.base
    import apscheduler.schedulers.base

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock.now.astimezone(tz) if tz else clock.now

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", FakeDatetime)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", FakeDatetime)
    return clock


@pytest.fixture
def store(store_url) -> Store:
    """The state store on SQLite, then on PostgreSQL (tests/conftest.py: store_url)."""
    return Store.open(store_url)


def stepped_service(settings, store, clock, **runner_options):
    """A SchedulerService on a SteppedScheduler whose jobs run synchronously."""
    from auditor.schedule.runner import Runner
    from auditor.schedule.service import SchedulerService

    runner = Runner(settings, store, clock=clock, sleep=clock.sleep, heartbeat=False, **runner_options)
    return SchedulerService(
        settings,
        store,
        runner=runner,
        clock=clock,
        scheduler=SteppedScheduler(),
        executor=DebugExecutor(),
        exit=lambda code: None,
    )


def advance(service, clock: FakeClock, until: datetime, latency: timedelta = timedelta(seconds=2)) -> int:
    """Move the clock to each stored next run time up to ``until`` and let APScheduler process due jobs."""
    steps = 0
    while True:
        due = service.jobstore.get_next_run_time()
        if due is None or due + latency > until:
            clock.now = until
            return steps
        clock.now = max(clock.now, due + latency)
        service.scheduler._process_jobs()
        steps += 1
