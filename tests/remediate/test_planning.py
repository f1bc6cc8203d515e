"""`plan_revocations`: the plan `auditor remediate plan` (or a job, or a web page) asks for, without the CLI."""

from __future__ import annotations

import pytest

from auditor.remediate import PlanError, Refused
from auditor.remediate.planning import plan_revocations
from auditor.store import Store
from tests.remediate.conftest import NOW, make_settings


def test_a_plan_needs_a_campaign_or_stale_access_rules(tmp_path):
    with pytest.raises(PlanError, match="closed campaign or stale-access rules"):
        plan_revocations(Store.open(tmp_path / "state.db"), make_settings(), now=NOW, actor="tester")


def test_stale_access_needs_a_recorded_run_and_writes_no_plan(tmp_path):
    settings = make_settings(disable_inactive_users_after_days=90)
    out = tmp_path / "plan.json"
    with pytest.raises(Refused, match="no recorded run"):
        plan_revocations(
            Store.open(tmp_path / "state.db"), settings, rules=["idc-user-inactive"], now=NOW, actor="tester", out=out
        )
    assert not out.exists()
