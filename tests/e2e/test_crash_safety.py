"""`kill -9` in the middle of `auditor run` loses nothing, and two runs on one state store never interleave.

Each `auditor run` is a child process against the session sandbox. The moment of a kill (or
of the second run) is chosen exactly, without timing guesses: through the fault proxy used as
a gate (a request the test names is held until the test lets it go), or by halting the run at
a pipeline step (tests.e2e.crash_child).
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

from auditor.pipeline import STAGED_SNAPSHOT
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


def reading_the_trail(bucket: str) -> Callable[[Request], bool]:
    """The run's first request to the trail's bucket: its listing, which every night makes (objects are new or not)."""
    return lambda request: request.service == "s3" and request.path.strip("/").split("/")[0] == bucket


def start_run(
    sandbox, endpoint: str, out: Path, state: Path, halt_at: tuple[str, int] | None = None
) -> subprocess.Popen:
    """`auditor run` in a child process; ``halt_at`` (step, fd) halts it at a pipeline step (tests.e2e.crash_child)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")}
    env.update(sandbox.env())
    env["AWS_ENDPOINT_URL"] = endpoint
    entry = ["auditor.cli"] if halt_at is None else ["tests.e2e.crash_child", halt_at[0]]
    if halt_at is not None:
        env["CRASH_FD"] = str(halt_at[1])
    command = [
        sys.executable,
        "-m",
        *entry,
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
    log = out.parent / f"{out.name}-{len(list(out.parent.glob(f'{out.name}-*.log')))}.log"
    with log.open("w") as sink:  # a file, not a pipe: a child never blocks on output nobody reads yet
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            pass_fds=(halt_at[1],) if halt_at else (),
        )
    process.log = log  # type: ignore[attr-defined]
    return process


def finish(process: subprocess.Popen) -> tuple[int, str]:
    process.wait(timeout=WAIT)
    return process.returncode, process.log.read_text()  # type: ignore[attr-defined]


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

    gate = Gate(reading_the_trail(sandbox.trail_bucket))
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


def test_kill_9_after_collection_before_the_run_is_recorded_keeps_the_last_run_whole(sandbox, tmp_path):
    """The run halts where analysis starts (its snapshot saved, nothing recorded) and is killed there."""
    state, out = tmp_path / "state.db", tmp_path / "out"
    code, err = finish(start_run(sandbox, sandbox.endpoint_url, out, state))
    assert code == 0, err
    before, first = fingerprint(out), finding_ids(out)
    runs_before = Store.open(str(state)).recent_runs()

    told, tell = os.pipe()
    killed = start_run(sandbox, sandbox.endpoint_url, out, state, halt_at=("conclude", tell))
    os.close(tell)
    try:
        assert os.read(told, 64) == b"conclude\n", killed.wait(WAIT) and killed.log.read_text()
    finally:
        os.close(told)
    assert (out / STAGED_SNAPSHOT / "manifest.json").is_file()  # collected and saved, not yet in place
    os.kill(killed.pid, signal.SIGKILL)
    code, _ = finish(killed)
    assert code == -signal.SIGKILL

    verify(state)
    after = fingerprint(out)
    assert {path: after.get(path) for path in before} == before  # the last run's outputs, byte for byte
    assert Store.open(str(state)).recent_runs() == runs_before

    code, err = finish(start_run(sandbox, sandbox.endpoint_url, out, state))
    assert code == 0, err
    assert finding_ids(out) == first
    assert not (out / STAGED_SNAPSHOT).exists()
    assert len(Store.open(str(state)).recent_runs()) == len(runs_before) + 1
    verify(state)


def test_a_second_run_on_the_same_store_is_refused_naming_the_first(sandbox, tmp_path):
    state = tmp_path / "state.db"
    gate = Gate(reading_the_trail(sandbox.trail_bucket))
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
