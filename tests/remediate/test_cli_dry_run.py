"""`remediate plan` and a dry-run `remediate apply` when the circuit breaker would refuse: show, do not hide."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.cli import remediate as cli
from auditor.remediate import save_plan
from auditor.remediate.planning import Planned
from tests.remediate.helpers import make_plan
from tests.remediate.test_cli import _state, run


@pytest.fixture
def config(tmp_path, store):
    path = tmp_path / "config.toml"
    path.write_text("[remediation]\nmax_share = 0.75\n")
    return ["--config", str(path), "--state", store.url]  # the tests' store, on either database


def test_a_dry_run_the_breaker_refuses_shows_every_action_under_the_verdict(estate, settings, capsys, config, tmp_path):
    plan = make_plan(estate, settings, None, [estate.disable("carol"), estate.key("erin")], now=datetime.now(UTC))
    path = tmp_path / "plan.json"
    save_plan(plan, path)

    # no run recorded in this state store: the breaker cannot count the population, and would refuse
    assert run("apply", str(path), *config) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("REFUSED: circuit breaker refused the plan") and "population is unknown" in lines[0]
    assert "DRY RUN" in lines[1]
    shown = [line for line in lines if line.lstrip().startswith("would_apply")]
    assert len(shown) == 2 and any("carol" in line for line in shown) and any("erin" in line for line in shown)
    assert _state(estate) == ("ENABLED", "Active")


def test_an_overridden_dry_run_says_so_on_top(estate, settings, capsys, config, tmp_path):
    plan = make_plan(estate, settings, None, [estate.disable("carol")], now=datetime.now(UTC))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert run("apply", str(path), "--override-breaker", "first run on a new estate", *config) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("circuit breaker overridden (first run on a new estate)")
    assert "DRY RUN" in lines[1]


def test_plan_exits_0_when_it_wrote_the_plan_even_if_the_breaker_would_refuse(
    estate, settings, capsys, config, tmp_path, monkeypatch
):
    plan = make_plan(estate, settings, None, [estate.disable("carol")], now=datetime.now(UTC))
    assert plan.breaker["tripped"]
    out = tmp_path / "plan.json"

    def planned(*_args, **options):
        save_plan(plan, options["out"])
        return Planned(plan)

    monkeypatch.setattr(cli, "plan_revocations", planned)
    assert run("plan", "--campaign", "1", "--out", str(out), *config) == 0
    printed = capsys.readouterr().out
    assert out.exists() and f"plan: {out}" in printed
    assert "circuit breaker would refuse this plan: " in printed and "population is unknown" in printed
