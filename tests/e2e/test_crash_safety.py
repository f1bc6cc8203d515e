"""`kill -9` in the middle of `auditor run` loses nothing, and two runs on one state store never interleave.

Each `auditor run` is a child process against the session sandbox, through the fault proxy
used here only as a gate: a request the test names is held until the test lets it go, so
the moment of the kill (or of the second run) is chosen exactly, without timing guesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.store import Store
from tests.e2e.fault_proxy import FaultProxy, Request

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
WAIT = 300  # seconds: an upper bound for a run, never a pause


class Gate:
    """A proxy fault rule that holds the requests ``match`` picks until ``release``; ``reached`` tells one came."""

    def __init__(self, match: Callable[[Request], bool]) -> None:
        self.match = match
        self.reached = threading.Event()
        self.opened = threading.Event()

    def __call__(self, request: Request, _rng) -> None:
        if self.match(request):
            self.reached.set()
            self.opened.wait(WAIT)
        return None

    def release(self) -> None:
        self.opened.set()


def first_log_object(request: Request) -> bool:
    return request.service == "s3" and request.method == "GET" and "/CloudTrail/" in request.path


def start_run(sandbox, endpoint: str, out: Path, state: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")}
    env.update(sandbox.env())
    env["AWS_ENDPOINT_URL"] = endpoint
    command = [
        sys.executable,
        "-m",
        "auditor.cli",
        "run",
        "--config",
        str(sandbox.config_file),
        "--hr-feed",
        str(sandbox.hr_feed),
        "--out",
        str(out),
        "--as-of",
        sandbox.as_of.isoformat(),
        "--state",
        str(state),
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, err = process.communicate(timeout=WAIT)
    return process.returncode, err


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` by relative path, with its content hash."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def verify(state: Path) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "auditor.cli", "audit", "verify", "--state", str(state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def finding_ids(out: Path) -> list[str]:
    return sorted(f["finding_id"] for f in json.loads((out / "findings.json").read_text()))


def test_kill_9_during_a_run_leaves_the_last_run_intact_and_the_next_run_correct(sandbox, tmp_path):
    state, out = tmp_path / "state.db", tmp_path / "out"
    code, err = finish(start_run(sandbox, sandbox.endpoint_url, out, state))
    assert code == 0, err
    before, first = fingerprint(out), finding_ids(out)
    runs_before = Store.open(str(state)).recent_runs()

    gate = Gate(first_log_object)
    with FaultProxy(sandbox.endpoint_url, faults=[gate]) as proxy:
        killed = start_run(sandbox, proxy.endpoint, out, state)  # the same output directory, the same store
        try:
            assert gate.reached.wait(WAIT), "the run never reached CloudTrail"
            os.kill(killed.pid, signal.SIGKILL)
            code, _ = finish(killed)
        finally:
            gate.release()
    assert code == -signal.SIGKILL

    verify(state)
    assert fingerprint(out) == before  # the last run's outputs, byte for byte
    assert Store.open(str(state)).recent_runs() == runs_before  # the killed run recorded nothing

    code, err = finish(start_run(sandbox, sandbox.endpoint_url, out, state))  # at once: the dead holder's lock is free
    assert code == 0, err
    assert finding_ids(out) == first
    assert not [f for f in json.loads((out / "findings.json").read_text()) if f["status"] == "new"]  # vs. run one
    assert len(Store.open(str(state)).recent_runs()) == len(runs_before) + 1
    verify(state)


def test_a_second_run_on_the_same_store_is_refused_naming_the_first(sandbox, tmp_path):
    state = tmp_path / "state.db"
    gate = Gate(first_log_object)
    with FaultProxy(sandbox.endpoint_url, faults=[gate]) as proxy:
        first = start_run(sandbox, proxy.endpoint, tmp_path / "first", state)
        try:
            assert gate.reached.wait(WAIT), "the first run never reached CloudTrail"
            second = start_run(sandbox, sandbox.endpoint_url, tmp_path / "second", state)
            code, err = finish(second)
        finally:
            gate.release()
        first_code, first_err = finish(first)
    assert code == 2
    assert 'the "run" lock is held by auditor run' in err and f"pid {first.pid} " in err
    assert not (tmp_path / "second" / "findings.json").exists()
    assert first_code == 0, first_err
    assert len(Store.open(str(state)).recent_runs()) == 1
    verify(state)
