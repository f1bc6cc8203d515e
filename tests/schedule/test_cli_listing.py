"""`auditor scheduler --list` keeps its columns whatever the length of a cron expression or a job id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditor.cli import scheduler as cli
from tests.schedule.test_cli import parse

LONG = """
[[scheduler.jobs]]
id = "nightly"
kind = "run"
cron = "0 2 * * *"
timezone = "UTC"
[[scheduler.jobs]]
id = "quarterly-access-review-for-production"
kind = "campaign"
cron = "0,15,30,45 8-18 1-7 jan,apr,jul,oct mon-fri"
timezone = "America/Argentina/Buenos_Aires"
"""


def test_columns_line_up_under_their_headers_with_a_long_cron(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(LONG)
    args = parse(["scheduler", "--list", "--config", str(config), "--state", str(tmp_path / "state.db")])
    assert cli.handle(args, clock=lambda: datetime(2027, 2, 15, 12, 0, tzinfo=UTC)) == 0
    header, nightly, quarterly = capsys.readouterr().out.splitlines()
    for column in ("kind", "cron", "time zone", "next fire (UTC)", "last"):
        start = header.index(column)
        assert nightly[start - 1] == " " and nightly[start] != " ", (column, nightly)
        assert quarterly[start - 1] == " " and quarterly[start] != " ", (column, quarterly)
    assert quarterly[header.index("cron") :].startswith("0,15,30,45 8-18 1-7 jan,apr,jul,oct mon-fri")
    assert quarterly[header.index("time zone") :].startswith("America/Argentina/Buenos_Aires")


def _listing(tmp_path, capsys, text: str | None) -> list[str]:
    argv = ["scheduler", "--list", "--state", str(tmp_path / "state.db")]
    if text is not None:
        (tmp_path / "config.toml").write_text(text)
        argv += ["--config", str(tmp_path / "config.toml")]
    assert cli.handle(parse(argv), clock=lambda: datetime(2027, 2, 15, 12, 0, tzinfo=UTC)) == 0
    return capsys.readouterr().out.splitlines()


def test_without_any_job_table_the_standard_jobs_are_scheduled(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./config.toml either
    shipped = (Path(__file__).resolve().parents[2] / "config.toml").read_text()
    for text in (None, '[scheduler]\ntimezone = "UTC"\n', shipped):
        rows = [line.split()[:2] for line in _listing(tmp_path, capsys, text)[1:]]
        assert rows == [
            ["nightly", "run"],
            ["quarterly-review", "campaign"],
            ["reminders", "remind"],
            ["close-due", "close"],
        ]


def test_jobs_written_empty_means_none(tmp_path, capsys):
    assert _listing(tmp_path, capsys, "[scheduler]\njobs = []\n") == [
        "no jobs configured ([[scheduler.jobs]] in config.toml)"
    ]
