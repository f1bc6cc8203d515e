"""A state URL's password is never shown: errors, listings, logs and job details all mask it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from auditor.cli import common, main
from auditor.schedule.logs import configure_logging
from auditor.store import Store
from auditor.store.urls import display_url, redact

PASSWORD = "s3cr3t-Pa55"
# a server nobody listens on (port 1 of this host): the command fails quickly, after reading the URL
URL = f"postgresql+psycopg://auditor:{PASSWORD}@127.0.0.1:1/auditor"
SHOWN = "postgresql+psycopg://auditor:***@127.0.0.1:1/auditor"

COMMANDS = [
    ["run"],
    ["collect"],
    ["analyze", "--snapshot", "SNAPSHOT"],
    ["export", "--framework", "cis"],
    ["campaign", "create", "--name", "q"],
    ["campaign", "list"],
    ["campaign", "status", "1"],
    ["campaign", "export", "1", "--out", "OUT"],
    ["campaign", "import", "1", "packet.csv"],
    ["campaign", "remind", "1"],
    ["campaign", "close", "1"],
    ["campaign", "verify", "OUT"],
    ["remediate", "plan", "--campaign", "1", "--out", "OUT/plan.json"],
    ["remediate", "apply", "plan.json"],
    ["remediate", "verify", "1"],
    ["remediate", "rollback", "1"],
    ["scheduler", "--list"],
    ["audit", "verify"],
    ["audit", "rotate-key"],
    ["db", "current"],
    ["db", "upgrade"],
    ["db", "export", "OUT/copy"],
    ["db", "import", "OUT"],
]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    (tmp_path / "SNAPSHOT").mkdir()
    (tmp_path / "OUT").mkdir()
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_no_command_prints_the_password_of_the_state_url(command, isolated, capsys):
    code = main([*command, "--state", URL])
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    assert code == 2 and f"state store {SHOWN}: " in err


def test_a_configured_url_is_masked_too(isolated, capsys):
    (isolated / "config.toml").write_text(f'[state]\nurl = "{URL}"\n')
    assert main(["audit", "verify"]) == 2
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err and SHOWN in err


def test_commands_that_show_the_store_show_it_masked(isolated, capsys, monkeypatch):
    """A reachable server: the listing and the verification name the store, without its password."""
    local = Store.open(isolated / "state.db")
    server = Store(local.engine, local.keyring, url=URL)
    monkeypatch.setattr(common, "open_store", lambda args, settings: server)
    for command in (["scheduler", "--list"], ["audit", "verify"]):
        assert main(command) == 0
        out, err = capsys.readouterr()
        assert PASSWORD not in out + err and f"state store: {SHOWN}" in out + err


def test_log_lines_mask_a_url_they_quote(restore_logging):
    for fmt in ("text", "json"):
        stream = io.StringIO()
        configure_logging(fmt, stream=stream)
        try:
            raise RuntimeError(f"cannot reach {URL}")
        except RuntimeError:
            logging.getLogger("auditor.test").exception("job failed", extra={"error": f"OperationalError: {URL}"})
        text = stream.getvalue()
        assert PASSWORD not in text and text.count(SHOWN) == 2, text
        if fmt == "json":
            assert json.loads(text)["error"] == f"OperationalError: {SHOWN}"


@pytest.fixture
def restore_logging():
    yield
    for name in ("auditor", "apscheduler"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_auditor", False)]:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (URL, SHOWN),
        ("postgresql://u:p%40ss@db.internal/auditor", "postgresql://u:***@db.internal/auditor"),
        ("sqlite:////var/lib/auditor/state.db", "sqlite:////var/lib/auditor/state.db"),
        ("not a url at all", "not a url at all"),
    ],
)
def test_display_url(given, shown):
    assert display_url(given) == shown
    assert redact(f"error: {given} refused") == f"error: {shown} refused"
