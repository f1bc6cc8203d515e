"""Remediation output names groups, users and permission sets as people know them, not by id or ARN."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.model import IdcGroup, IdcUser, PermissionSet
from auditor.pipeline import conclude
from auditor.remediate import save_plan
from auditor.snapshot import SourceResult
from auditor.snapshot import build as build_snapshot
from tests.remediate.helpers import make_plan
from tests.remediate.test_cli import run

AS_OF = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path, store):
    path = tmp_path / "config.toml"
    path.write_text("[remediation]\nmax_share = 0.75\n")
    return ["--config", str(path), "--state", store.url]  # the tests' store, on either database


@pytest.fixture
def recorded_run(estate, settings, tmp_path):
    """A run recorded in the state store whose snapshot knows the estate's users, groups and permission sets."""
    tables = {
        "idc_users": [IdcUser(user_id=user_id, user_name=name) for name, user_id in estate.users.items()],
        "idc_groups": [IdcGroup(group_id=group_id, display_name=name) for name, group_id in estate.groups.items()],
        "permission_sets": [PermissionSet(arn=arn, name=name) for name, arn in estate.permission_sets.items()],
    }
    snapshot = build_snapshot([SourceResult(tables=tables)], AS_OF, AS_OF, "test")
    conclude(
        snapshot,
        settings,
        out_dir=tmp_path / "run",
        as_of=AS_OF,
        store=estate.store,
        began=0.0,
        record_started=AS_OF,
        save_snapshot=True,
    )


def test_a_dry_run_names_the_group_and_the_permission_set(estate, settings, recorded_run, capsys, config, tmp_path):
    permission_set = "Admin"  # alice holds it directly
    revocations = [estate.membership("carol", "engineers"), estate.assignment("alice", permission_set)]
    plan = make_plan(estate, settings, None, revocations, now=datetime.now(UTC))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    run("apply", str(path), "--override-breaker", "names test", *config)
    out = capsys.readouterr().out
    assert "remove user carol from group engineers" in out
    assert f"to {permission_set} in account {estate.member}" in out
    for hidden in (estate.users["carol"], estate.groups["engineers"], estate.permission_sets[permission_set]):
        assert hidden not in out
