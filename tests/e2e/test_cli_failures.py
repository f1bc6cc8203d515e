"""The command line when the network is not there: one line, the documented exit status, at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from auditor.exit_codes import EXIT_BAD_INPUT

pytestmark = pytest.mark.e2e

HR_HEADER = (
    "employee_id,email,user_name,display_name,department,title,manager_email,status,employment_type,"
    "start_date,end_date\n"
)


def auditor(args: list[str], cwd, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serving_on_a_taken_port_exits_2_at_once_naming_the_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = auditor(["sandbox", "serve", "--port", str(port), "--workdir", str(tmp_path / "sb")], tmp_path)
    assert done.returncode == EXIT_BAD_INPUT
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "sb" / "hr.csv").exists()  # nothing was built


def test_an_unreachable_endpoint_is_one_line_and_exit_2_within_seconds(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening, then released: nothing answers there
    (tmp_path / "hr.csv").write_text(
        HR_HEADER + "1,a@example.com,a,A,Eng,Dev,b@example.com,active,employee,2020-01-01,\n"
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    # the whole retry budget for throttling took 10 to 30 seconds here; a closed port must not
    done = auditor(["run", "--hr-feed", "hr.csv", "--out", "out", "--state", "state.db"], tmp_path, env, timeout=8)
    assert done.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "cannot reach AWS" in line and f"127.0.0.1:{port}" in line
    assert not (tmp_path / "out" / "findings.json").exists()
