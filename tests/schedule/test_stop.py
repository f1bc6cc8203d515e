"""SIGTERM: no new jobs; the running one finishes within the grace time or is abandoned cleanly."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime

from auditor.schedule import service as service_module
from auditor.schedule.locks import holder_of
from auditor.schedule.runner import Outcome, Runner, last_runs
from auditor.schedule.service import SchedulerService
from tests.schedule.conftest import SteppedScheduler, make_settings

JOB = {"id": "nightly", "kind": "run", "cron": "0 2 * * *"}


class Blocking:
    """A task that runs until the test lets it finish."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, ctx, job, scheduled_at):
        self.started.set()
        self.release.wait(30)
        return Outcome("ok", {"finished": True})


def service_with(tmp_path, store, clock, task, stop_grace: int):
    settings = make_settings(tmp_path, [JOB], scheduler={"stop_grace_seconds": stop_grace})
    runner = Runner(settings, store, clock=clock, tasks={"run": task}, heartbeat=False)
    exits: list[int] = []
    service = SchedulerService(
        settings, store, runner=runner, clock=clock, scheduler=SteppedScheduler(), exit=exits.append
    )
    return service, exits


def test_sigterm_abandons_a_job_that_outlives_the_grace_time_and_frees_its_lock(tmp_path, store, clock):
    task = Blocking()
    service, exits = service_with(tmp_path, store, clock, task, stop_grace=0)
    worker = threading.Thread(
        target=service.runner.fire, args=(service.jobs["nightly"], datetime(2026, 11, 30, 2, tzinfo=UTC))
    )
    worker.start()
    assert task.started.wait(10)
    assert holder_of(store, "run") is not None

    service.scheduler.start()
    service.on_signal(signal.SIGTERM)
    assert service.finish() == 0
    assert exits == [0]  # the process ends without waiting for the abandoned thread
    assert last_runs(store)["nightly"]["status"] == "abandoned"
    assert holder_of(store, "run") is None

    task.release.set()  # the thread ends later: its outcome does not overwrite the record
    worker.join(10)
    assert last_runs(store)["nightly"]["status"] == "abandoned"


def test_sigterm_lets_a_job_finish_within_the_grace_time(tmp_path, store, clock):
    task = Blocking()
    task.release.set()
    service, exits = service_with(tmp_path, store, clock, task, stop_grace=30)
    service.fire_now("nightly")
    service.scheduler.start()
    service.on_signal(signal.SIGTERM)
    assert service.finish() == 0 and exits == []
    assert last_runs(store)["nightly"]["status"] == "ok"
    assert service.runner.fire(service.jobs["nightly"], datetime(2026, 12, 1, 2, tzinfo=UTC)).status == "skipped"


def test_serve_stops_on_a_real_sigterm_and_restores_the_handler(tmp_path, store, clock, monkeypatch):
    class SignalledScheduler(SteppedScheduler):
        def start(self, paused: bool = False) -> None:
            super().start(paused)
            os.kill(os.getpid(), signal.SIGTERM)  # delivered to the handler serve() installed

    settings = make_settings(tmp_path, [JOB])
    before = signal.getsignal(signal.SIGTERM)
    service = SchedulerService(settings, store, clock=clock, scheduler=SignalledScheduler(), exit=lambda c: None)
    assert service.serve() == 0
    assert service.stopping and service.runner.stop.is_set()
    assert signal.getsignal(signal.SIGTERM) == before
    assert service_module._service is None
