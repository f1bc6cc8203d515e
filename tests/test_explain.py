"""`auditor explain`: every rule's verdict for one principal, with the fact behind it."""

from __future__ import annotations

import json

import msgspec
import pytest

from auditor import snapshot as snapshots
from auditor.cli import main
from auditor.config import defaults
from auditor.explain import NoSuchPrincipal, explain
from auditor.model import Activity
from auditor.snapshot import SourceStatus
from tests.builders import DEV, World, days_ago


@pytest.fixture
def world() -> World:
    world = World()
    ana = world.idc_user("ana")  # clean: in HR, signed in recently, uses her group's access
    ben = world.idc_user("ben")  # a leaver still enabled: flagged
    world.idc_user("breakglass-admin")  # exempt from the HR check
    world.idc_user("zed")  # in HR, but the CloudTrail window is too short to call him inactive
    world.person("ana")
    world.person("ben", status="terminated")
    world.person("zed")
    group = world.group("engineering", ana, ben)
    readonly = world.permission_set("ReadOnly", managed=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    world.assign(readonly, group, DEV)
    world.signed_in(ana, 2)
    world.tables["activity"].append(  # and used the access her group gives her
        Activity(
            kind="idc_assignment",
            key=f"id:{ana.user_id}",
            account_id=DEV,
            detail="ReadOnly",
            first_seen=days_ago(40),
            last_seen=days_ago(2),
            events=9,
        )
    )
    return world


def verdicts_of(world: World, who: str, **snapshot_kwargs) -> dict[str, str]:
    (explanation,) = explain(world.snapshot(**snapshot_kwargs), defaults(), world.as_of, who)
    return {v.rule_id: v for v in explanation.verdicts}


def test_a_flagged_principal_shows_the_finding(world):
    verdict = verdicts_of(world, "ben")["idc-leaver-with-access"]
    assert verdict.outcome == "fired" and verdict.severity == "critical" and verdict.finding_id


def test_a_clean_principal_shows_the_fact_that_cleared_each_rule(world):
    verdicts = verdicts_of(world, "ana@example.com")  # by email
    assert verdicts["idc-leaver-with-access"].outcome == "cleared"
    assert verdicts["idc-user-inactive"].outcome == "cleared"
    assert "2 days" in verdicts["idc-user-inactive"].detail or "2026-11-2" in verdicts["idc-user-inactive"].detail
    assert not [v for v in verdicts.values() if v.outcome in ("fired", "undecided")]


def test_an_exempt_principal_says_why(world):
    verdict = verdicts_of(world, "breakglass-admin")["idc-user-not-in-hr"]
    assert verdict.outcome == "exempt" and "break-glass" in verdict.detail


def test_an_undecidable_principal_names_what_is_missing(world):
    short = SourceStatus(source="cloudtrail", account_id=world.tables["accounts"][0].account_id)
    verdict = verdicts_of(
        world, "zed", overrides=[msgspec.structs.replace(short, status="failed", error="AccessDenied")]
    )
    assert verdict["idc-user-inactive"].outcome == "insufficient"
    assert "CloudTrail" in verdict["idc-user-inactive"].detail


def test_rules_for_other_kinds_of_principal_are_not_applicable(world):
    verdicts = verdicts_of(world, "ana")
    assert verdicts["iam-access-key-old"].outcome == "not_applicable"
    assert "access_key" in verdicts["iam-access-key-old"].detail


def test_an_unknown_name_is_a_clear_error(world):
    with pytest.raises(NoSuchPrincipal, match="nobody-here"):
        explain(world.snapshot(), defaults(), world.as_of, "nobody-here")


def test_the_command_explains_a_saved_run(world, tmp_path, capsys):
    snapshots.save(world.snapshot(), tmp_path / "snapshot")
    assert main(["explain", "ben", "--run-dir", str(tmp_path), "--config", str(tmp_path / "none.toml")]) == 2
    capsys.readouterr()
    (tmp_path / "config.toml").write_text("")
    assert main(["explain", "ben", "--run-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("idc_user ben (uid-ben)") and "idc-leaver-with-access" in out and "FIRED" in out
    assert main(["explain", "ben", "--run-dir", str(tmp_path), "--format", "json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    assert document["principal"]["name"] == "ben"
    assert {v["outcome"] for v in document["verdicts"]} >= {"fired"}
    assert main(["explain", "nobody-here", "--run-dir", str(tmp_path)]) == 2
