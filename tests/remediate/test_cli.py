"""`auditor remediate ...` through its parser and handlers, against the moto estate."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest

from auditor.cli import UsageError
from auditor.cli.remediate import ACTION_EXAMPLES as EXAMPLES
from auditor.cli.remediate import handle as remediate
from auditor.cli.remediate import register
from auditor.remediate import save_plan
from tests.remediate.conftest import MANAGEMENT
from tests.remediate.helpers import make_plan


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auditor")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def run(*argv: str) -> int:
    return remediate(_parser().parse_args(["remediate", *argv]))


@pytest.fixture
def config(tmp_path, store):
    path = tmp_path / "config.toml"
    path.write_text("[remediation]\nmax_share = 0.75\n")
    return ["--config", str(path), "--state", store.url]  # the tests' store, on either database


def test_every_action_has_help_with_an_example():
    parser = _parser()
    subcommands = parser._subparsers._group_actions[0].choices["remediate"]._subparsers._group_actions[0].choices
    assert set(subcommands) == {"plan", "apply", "verify", "rollback", "policy"}
    for name, sub in subcommands.items():
        assert EXAMPLES[name] in sub.format_help()


def test_policy_prints_the_generated_document(capsys, config):
    assert run("policy", *config[:2]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "identitystore:UpdateUser" in {a for s in document["Statement"] for a in s["Action"]}


def test_plan_needs_a_source(config):
    with pytest.raises(UsageError, match="--campaign ID or --findings"):
        run("plan", "--out", "plan.json", *config)


def test_plan_from_findings_without_a_policy_is_refused(capsys, config, tmp_path):
    assert run("plan", "--findings", "idc-user-inactive", "--out", str(tmp_path / "p.json"), *config) == 1
    assert "disable_inactive_users_after_days is 0 (off)" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def _state(estate) -> tuple[str, str]:
    user = estate.idc.describe_user(IdentityStoreId=estate.store_id, UserId=estate.users["carol"])
    [key] = estate.iam(MANAGEMENT).list_access_keys(UserName="erin")["AccessKeyMetadata"]
    return user["UserStatus"], key["Status"]


def test_apply_verify_rollback(estate, settings, capsys, config, tmp_path):
    plan = make_plan(estate, settings, None, [estate.disable("carol"), estate.key("erin")], now=datetime.now(UTC))
    path = tmp_path / "plan.json"
    save_plan(plan, path)

    # no run recorded in this state store: the breaker cannot count the population
    assert run("apply", str(path), "--yes", *config) == 1
    assert "population is unknown" in capsys.readouterr().err
    assert _state(estate) == ("ENABLED", "Active")

    assert run("apply", str(path), "--override-breaker", "first run on a new estate", *config) == 0
    assert "DRY RUN" in capsys.readouterr().out
    assert _state(estate) == ("ENABLED", "Active")

    assert run("apply", str(path), "--yes", "--override-breaker", "first run on a new estate", *config) == 0
    out = capsys.readouterr().out
    assert "remediation run 1" in out and out.count("done") >= 2
    assert _state(estate) == ("DISABLED", "Inactive")

    assert run("verify", "1", *config) == 0
    assert "every action is in effect" in capsys.readouterr().out

    assert run("rollback", "1", *config) == 0
    assert "would_restore" in capsys.readouterr().out
    assert run("rollback", "1", "--yes", *config) == 0
    assert "summary: restored 2" in capsys.readouterr().out
    assert _state(estate) == ("ENABLED", "Active")


def test_an_edited_plan_file_is_refused(estate, settings, capsys, config, tmp_path):
    path = tmp_path / "plan.json"
    save_plan(make_plan(estate, settings, None, [estate.disable("carol")], now=datetime.now(UTC)), path)
    path.write_text(path.read_text().replace(estate.users["carol"], estate.users["alice"]))
    assert run("apply", str(path), "--yes", "--override-breaker", "x", *config) == 1
    assert "SHA-256 does not match" in capsys.readouterr().err
