"""`auditor run` with no config against a separately started emulator equals `auditor demo` on the same estate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

AS_OF = "2026-10-15T06:00:00Z"


def _auditor(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args], env=env, capture_output=True, text=True, timeout=600, **kwargs
    )


def _summary(out: Path) -> set[tuple]:
    findings = json.loads((out / "findings.json").read_text())
    return {
        (f["rule_id"], f["severity"], f["principal"]["type"], f["principal"]["name"], f["account_id"], f["finding_id"])
        for f in findings
    }


def test_run_against_a_separately_started_server_reports_the_demo_estate(tmp_path):
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    demo = _auditor(
        "demo", "--size", "tiny", "--seed", "3", "--as-of", AS_OF, "--out", str(tmp_path / "demo"), env=base_env
    )
    assert demo.returncode == 0, demo.stderr[-2000:]

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "sandbox",
            "serve",
            "--port",
            "0",  # the server binds a free port and prints its endpoint
            "--size",
            "tiny",
            "--seed",
            "3",
            "--as-of",
            AS_OF,
            "--workdir",
            str(tmp_path / "served"),
        ],
        env=base_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint = None
        for line in server.stdout:  # the server says where it listens, then that it is ready
            if line.startswith("export AWS_ENDPOINT_URL="):
                endpoint = line.strip().split("=", 1)[1]
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise AssertionError("the sandbox server exited before it was ready")
        env = {
            **base_env,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        run = _auditor(
            "run",
            "--config",
            str(tmp_path / "served" / "config.toml"),  # the settings the demo audits its estate with
            "--out",
            str(tmp_path / "run"),
            "--hr-feed",
            str(tmp_path / "served" / "hr.csv"),
            "--as-of",
            AS_OF,
            "--state",
            str(tmp_path / "state.db"),
            env=env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert _summary(tmp_path / "run") == _summary(tmp_path / "demo")
