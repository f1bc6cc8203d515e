"""One scheduler process for the two-process tests: fires one occurrence of the nightly job and prints the result.

    python -m tests.schedule.compete STATE_DB SCHEDULED_AT hold|quick

``hold`` prints "started" once inside the job and finishes when a line
arrives on stdin, so a test can start a second process while the first
one works, without waiting on the clock.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from auditor.schedule.jobs import jobs_from_settings
from auditor.schedule.runner import Outcome, Runner
from auditor.store import Store
from tests.schedule.conftest import make_settings

NOW = datetime(2026, 12, 3, 2, 0, 1, tzinfo=UTC)


def main(state: str, scheduled: str, mode: str) -> None:
    scheduled_at = datetime.fromisoformat(scheduled)

    def task(ctx, job, at):
        if mode == "hold":
            print("started", flush=True)
            sys.stdin.readline()
        return Outcome("ok", {"pid_mode": mode})

    settings = make_settings(Path(state).parent, [{"id": "nightly", "kind": "run", "cron": "0 2 * * *"}])
    runner = Runner(
        settings,
        Store.open(state),
        clock=lambda: NOW,  # one time in every process: leases compare
        tasks={"run": task},
        heartbeat=False,
    )
    (job,) = jobs_from_settings(settings)
    result = runner.fire(job, scheduled_at)
    print(json.dumps({"status": result.status, "detail": result.detail}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
