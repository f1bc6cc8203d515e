"""`auditor campaign ...` end to end through its parser: output, exit status, bad input."""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from auditor.cli import build_parser
from auditor.cli.campaign import handle, parse_due, register
from tests.campaign.estate import decide_csv, read_csv


@pytest.fixture
def cli(tmp_path, monkeypatch, run_dir):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[campaigns]\nfallback_reviewer = "security@example.com"\n')
    parser = argparse.ArgumentParser(prog="auditor")
    register(parser.add_subparsers(dest="command", required=True))
    common = ["--state", str(tmp_path / "state.db"), "--config", str(tmp_path / "config.toml")]

    def run(*argv: str) -> int:
        action, *rest = argv
        return handle(parser.parse_args(["campaign", action, *common, *rest]))

    return run


def test_a_campaign_from_the_command_line(cli, capsys, tmp_path, run_dir):
    assert cli("create", "--name", "Q4", "--due", "2099-12-31", "--run-dir", str(run_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith("campaign 1 created: 'Q4', 9 items for 3 reviewer(s), due 2099-12-31 23:59:59 UTC")
    assert "C1-0009: eve@example.com: ReadOnly in dev (333333333333), assigned directly" in out

    assert cli("list") == 0
    assert "   1  quarterly open    2099-12-31 23:59:59 UTC           0/9  Q4" in capsys.readouterr().out

    assert cli("export", "1", "--out", str(tmp_path / "packets")) == 0
    assert "3 packet(s) in" in capsys.readouterr().out
    packet = tmp_path / "packets" / "campaign-1-ceo-at-example.com.csv"
    item = read_csv(packet)[1][0]["item_id"]
    filled = decide_csv(packet, tmp_path / "ceo.csv", {item: ("keep", "")})
    assert cli("import", "1", str(filled)) == 0
    assert "ceo.csv: 1 decision(s) recorded, 0 unchanged, 0 row(s) left undecided (ceo@example.com)" in (
        capsys.readouterr().out
    )

    assert cli("status", "1") == 0
    status = capsys.readouterr().out.splitlines()
    assert status[0] == "campaign 1 'Q4': open, due 2099-12-31 23:59:59 UTC; 1/9 decided"
    assert status[2].split()[:5] == ["boss@example.com", "7", "0", "7", "3"]

    assert cli("remind", "1", "--dry-run") == 0
    assert "nothing for boss@example.com: first reminder at 2099-12-24 23:59:59 UTC" in capsys.readouterr().out

    assert cli("close", "1", "--undecided", "revoke", "--out", str(tmp_path / "ev")) == 0
    closed = capsys.readouterr().out
    assert "campaign 1 closed: 1 kept, 8 revoked (8 settled by the undecided policy)" in closed
    assert cli("verify", str(tmp_path / "ev")) == 0
    assert "verifies" in capsys.readouterr().out


def test_rejected_rows_are_printed_with_file_and_line_and_exit_2(cli, capsys, tmp_path, run_dir):
    cli("create", "--name", "Q4", "--due", "2099-12-31", "--run-dir", str(run_dir))
    cli("export", "1", "--out", str(tmp_path / "packets"), "--reviewer", "ceo@example.com")
    capsys.readouterr()
    packet = tmp_path / "packets" / "campaign-1-ceo-at-example.com.csv"
    bad = decide_csv(packet, tmp_path / "ceo.csv", {read_csv(packet)[1][0]["item_id"]: ("perhaps", "")})
    assert cli("import", "1", str(bad)) == 2
    err = capsys.readouterr().err
    assert "ceo.csv: rejected, nothing from it was recorded" in err
    assert "ceo.csv line 2: item C1-0008: decision must be keep, revoke or reassign:EMAIL, got 'perhaps'" in err


def test_the_campaign_list_in_each_format(cli, capsys, run_dir):
    assert cli("list", "--format", "csv") == 0
    assert capsys.readouterr().out == ""
    cli("create", "--name", "Q4", "--due", "2099-12-31", "--run-dir", str(run_dir))
    capsys.readouterr()
    assert cli("list", "--format", "json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {
        "id": 1,
        "name": "Q4",
        "kind": "quarterly",
        "status": "open",
        "due_at": "2099-12-31T23:59:59+00:00",
        "items": 9,
        "decided": 0,
        "overdue": False,
    }
    assert cli("list", "--format", "csv") == 0
    assert capsys.readouterr().out.splitlines() == [
        "id,name,kind,status,due_at,items,decided,overdue",
        "1,Q4,quarterly,open,2099-12-31T23:59:59+00:00,9,0,False",
    ]
    cli("create", "--name", "=HYPERLINK(1)", "--due", "2099-12-31", "--run-dir", str(run_dir))
    capsys.readouterr()
    cli("list", "--format", "csv")
    assert "2,'=HYPERLINK(1),quarterly" in capsys.readouterr().out  # a name a spreadsheet would evaluate


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("create", "--name", "Q4", "--due", "soon"), "--due 'soon' is not an ISO 8601 date"),
        (("create", "--name", "Q4", "--due", "2099-01-01", "--scope", "everything"), "--scope 'everything'"),
        (("status", "42"), "no campaign 42"),
        (("close", "42", "--undecided", "revoke"), "no campaign 42"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(cli, capsys, argv, message, run_dir):
    argv = (*argv, "--run-dir", str(run_dir)) if argv[0] == "create" else argv
    assert cli(*argv) == 2
    assert message in capsys.readouterr().err


def test_due_dates_mean_the_end_of_the_day_in_utc():
    assert parse_due("2026-12-31").isoformat() == "2026-12-31T23:59:59+00:00"
    assert parse_due("2026-12-31T12:00:00+02:00").isoformat() == "2026-12-31T10:00:00+00:00"


def test_every_action_has_help_and_the_command_a_runnable_example(capsys):
    parser = argparse.ArgumentParser(prog="auditor")
    register(parser.add_subparsers(dest="command", required=True))
    for action in ("create", "list", "status", "export", "import", "remind", "close", "verify", None):
        with pytest.raises(SystemExit) as done:
            parser.parse_args(["campaign", *([action] if action else []), "--help"])
        assert done.value.code == 0
    assert "example: auditor campaign create" in capsys.readouterr().out


def test_close_names_the_command_that_plans_each_requested_right_sizing(cli, capsys, tmp_path, run_dir):
    cli("create", "--name", "Q4", "--due", "2099-12-31", "--run-dir", str(run_dir))
    cli("export", "1", "--out", str(tmp_path / "packets"), "--reviewer", "boss@example.com")
    packet = tmp_path / "packets" / "campaign-1-boss-at-example.com.csv"
    rows = read_csv(packet)[1]
    developer = [r["item_id"] for r in rows if r["permission_set"] == "Developer" and r["flagged"] == "no"]
    filled = decide_csv(packet, tmp_path / "boss.csv", {item: ("rightsize", "") for item in developer})
    assert cli("import", "1", str(filled)) == 0
    capsys.readouterr()

    assert cli("close", "1", "--undecided", "revoke", "--out", str(tmp_path / "ev")) == 0
    out = capsys.readouterr().out
    assert f"campaign 1 closed: {len(developer)} kept, {9 - len(developer)} revoked" in out
    assert "right-sizing requested: 1 (permission set, account) kept on condition of right-sizing" in out
    assert f"  Developer in dev (333333333333): {', '.join(developer)} (asked by boss@example.com)" in out
    command = next(line for line in out.splitlines() if "plan it:" in line).split("plan it: ", 1)[1]
    assert command == (
        "auditor remediate plan --rightsize Developer --out rightsize-Developer.json "
        f"--config {tmp_path / 'config.toml'} --state {tmp_path / 'state.db'}"
    )
    args = build_parser().parse_args(shlex.split(command)[1:])  # the flags are the real command line's
    assert (args.remediate_command, args.rightsize, args.state) == ("plan", "Developer", str(tmp_path / "state.db"))
