"""Two scheduler processes on one state database never run the same job at the same time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # real processes racing for one state store

ROOT = Path(__file__).resolve().parents[2]


def start(state: Path, scheduled: str, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.schedule.compete", str(state), scheduled, mode],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(process: subprocess.Popen, release: bool = False) -> dict:
    out, err = process.communicate("go\n" if release else None, timeout=60)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def state(tmp_path) -> Path:
    from auditor.store import Store

    Store.open(tmp_path / "state.db")  # migrated once, as a deployed scheduler finds it
    return tmp_path / "state.db"


def test_the_same_occurrence_runs_once_across_processes(state):
    first = start(state, "2026-12-01T02:00:00+00:00", "hold")
    assert first.stdout.readline().strip() == "started"
    second = result_of(start(state, "2026-12-01T02:00:00+00:00", "quick"))
    assert second["status"] == "skipped"
    assert "already claimed by scheduler job nightly" in second["detail"]["reason"]
    assert result_of(first, release=True)["status"] == "ok"
    late = result_of(start(state, "2026-12-01T02:00:00+00:00", "quick"))  # after the first finished: still once
    assert late["status"] == "skipped" and "(ok)" in late["detail"]["reason"]


def test_a_second_run_while_one_is_running_is_refused_naming_the_holder(state):
    first = start(state, "2026-12-01T02:00:00+00:00", "hold")
    assert first.stdout.readline().strip() == "started"
    other = result_of(start(state, "2026-12-02T02:00:00+00:00", "quick"))
    assert other["status"] == "skipped"
    assert 'the "run" lock is held by scheduler job nightly (' in other["detail"]["reason"]
    assert result_of(first, release=True)["status"] == "ok"
    after = result_of(start(state, "2026-12-03T02:00:00+00:00", "quick"))
    assert after["status"] == "ok"
