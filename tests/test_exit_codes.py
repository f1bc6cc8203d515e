"""Every command's not-found and bad-input paths: the exit status README's table gives, one line, no traceback."""

from __future__ import annotations

import socket

import pytest

from auditor.cli import main
from auditor.exit_codes import EXIT_ATTENTION, EXIT_BAD_INPUT


@pytest.fixture(autouse=True)
def nowhere(monkeypatch, tmp_path):
    """No AWS to reach (a closed local port) and no personal state: a command that reaches out is caught."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


STATE = ["--state", "state.db"]
NOT_FOUND = [
    ["remediate", "verify", "99", *STATE],
    ["remediate", "rollback", "99", *STATE],
    ["remediate", "rollback", "99", "--yes", *STATE],
    ["remediate", "apply", "missing-plan.json", *STATE],
    ["campaign", "status", "99", *STATE],
    ["campaign", "export", "99", "--out", "packets", *STATE],
    ["campaign", "import", "99", "missing.xlsx", *STATE],
    ["campaign", "remind", "99", *STATE],
    ["campaign", "close", "99", *STATE],
    ["campaign", "verify", "missing-evidence", *STATE],
    ["explain", "susan@example.com", "--run-dir", "missing-run", *STATE],
    ["explain", "susan@example.com", *STATE],  # no run recorded
    ["analyze", "--snapshot", "missing-run/snapshot", *STATE],
    ["export", "--framework", "soc2", "--run-dir", "missing-run", *STATE],
    ["export", "--framework", "soc2", *STATE],  # no run recorded
    ["audit", "verify", "--expect-head", "missing-head.json", *STATE],
    ["scheduler", "--run", "no-such-job", *STATE],
    ["run", "--hr-feed", "missing.csv", "--out", "out", *STATE],
    ["run", "--config", "missing.toml", *STATE],
    ["collect", "--hr-feed", "missing.csv", "--out", "out", *STATE],
    ["remediate", "policy", "--config", "missing.toml"],
    ["rules", "--config", "missing.toml"],
]
BAD_INPUT = [
    ["demo", "--as-of", "yesterday", "--out", "demo"],
    ["run", "--as-of", "yesterday", "--out", "out", *STATE],
    ["analyze", "--snapshot", "snap", "--as-of", "soon", *STATE],
    ["campaign", "create", "--name", "q4", "--due", "someday", *STATE],
    ["remediate", "plan", "--out", "plan.json", *STATE],  # neither --campaign nor --findings
    ["run", "--hr-feed", "empty.csv", "--out", "out", *STATE],
    ["sandbox", "serve", "--port", "-1"],
]
REFUSED = [
    ["remediate", "apply", "bad-plan.json", *STATE],  # a plan file that is not one: refused, like an edited one
]
USAGE = [
    ["remediate", "verify", "not-a-number"],
    ["campaign", "status"],
    ["rules", "--format", "yaml"],
    ["no-such-command"],
]


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("argv", NOT_FOUND + BAD_INPUT, ids=" ".join)
def test_not_found_and_bad_input_exit_2_with_one_line(argv, capsys, tmp_path):
    (tmp_path / "bad-plan.json").write_text("{not json")
    (tmp_path / "empty.csv").write_text("")
    code, err = _run(argv, capsys)
    assert code == EXIT_BAD_INPUT, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("auditor: error: "), err


@pytest.mark.parametrize("argv", REFUSED, ids=" ".join)
def test_a_refusal_exits_1_with_one_line(argv, capsys, tmp_path):
    (tmp_path / "bad-plan.json").write_text("{not json")
    code, err = _run(argv, capsys)
    assert code == EXIT_ATTENTION and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("auditor: refused: "), err


@pytest.mark.parametrize("argv", USAGE, ids=" ".join)
def test_a_malformed_command_line_exits_2_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "usage: auditor" in err and "Traceback" not in err
