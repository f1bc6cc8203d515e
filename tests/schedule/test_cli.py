"""`auditor scheduler --list` and `--run JOB`, through the command's own parser."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime

import pytest

from auditor.cli import scheduler as cli
from auditor.config import ConfigError
from auditor.schedule.locks import acquire
from auditor.store import Store

CONFIG = """
[scheduler]
timezone = "Europe/Paris"
lock_wait_seconds = 0
[[scheduler.jobs]]
id = "nightly"
kind = "run"
cron = "0 2 * * *"
timezone = "UTC"
[[scheduler.jobs]]
id = "quarterly-review"
kind = "campaign"
cron = "0 8 1 jan,apr,jul,oct *"
[[scheduler.jobs]]
id = "retention"
kind = "retention"
cron = "30 3 * * sun"
keep_days = 400
enabled = false
"""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="auditor")
    commands = parser.add_subparsers(dest="command")
    cli.register(commands)
    return parser.parse_args(argv)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_list_prints_every_job_with_its_next_fire_time(config, tmp_path, capsys):
    args = parse(["scheduler", "--list", "--config", str(config), "--state", str(tmp_path / "state.db")])
    assert cli.handle(args, clock=lambda: datetime(2027, 2, 15, 12, 0, tzinfo=UTC)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["job", "kind", "cron", "time", "zone", "next", "fire", "(UTC)", "last"]
    nightly, quarterly, retention = lines[1:]
    assert "2027-02-16 02:00:00 UTC" in nightly
    assert nightly.split()[:5] == ["nightly", "run", "0", "2", "*"] and "UTC" in nightly and nightly.endswith("never")
    assert "Europe/Paris" in quarterly and "2027-04-01 06:00:00 UTC" in quarterly  # 08:00 in Paris, summer time
    assert "disabled" in retention


@pytest.fixture
def restore_logging():
    yield
    for name in ("auditor", "apscheduler"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_auditor", False)]:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def test_run_fires_one_occurrence_under_the_lock(config, tmp_path, capsys, restore_logging):
    state = tmp_path / "state.db"
    acquire(Store.open(state), "run", owner="a manual auditor run on laptop")
    args = parse(
        ["scheduler", "--run", "nightly", "--config", str(config), "--state", str(state), "--log-format", "json"]
    )
    assert cli.handle(args) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("nightly: skipped")
    assert 'the "run" lock is held by a manual auditor run on laptop' in captured.out
    logged = [json.loads(line) for line in captured.err.splitlines()]  # --log-format json: one object a line
    (skipped,) = [entry for entry in logged if entry["message"] == "job skipped"]
    assert skipped["job"] == "nightly" and skipped["status"] == "skipped" and skipped["level"] == "info"
    assert "held by a manual auditor run" in skipped["detail"]["reason"]


def test_run_of_an_unknown_job_names_the_configured_ones(config, tmp_path):
    args = parse(["scheduler", "--run", "weekly", "--config", str(config), "--state", str(tmp_path / "s.db")])
    with pytest.raises(ConfigError, match="no job 'weekly'.*nightly, quarterly-review, retention"):
        cli.handle(args)


def test_list_and_run_are_exclusive():
    with pytest.raises(SystemExit):
        parse(["scheduler", "--list", "--run", "nightly"])
