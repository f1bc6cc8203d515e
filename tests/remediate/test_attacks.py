"""Attacks on remediation, each performed as an attacker would: forged plans, a rewritten journal,
split plans and the tool's own identity. Every one must leave AWS unchanged."""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import sqlalchemy as sa

from auditor.cli.remediate import handle, register
from auditor.clock import FixedClock
from auditor.model import Principal
from auditor.remediate import Clients, Refused, Waiter, load_plan, rollback_run
from auditor.remediate.plan import action_id
from auditor.remediate.planning import apply_plan_file, plan_revocations
from auditor.remediate.population import Population
from auditor.remediate.schema import remediation_actions
from tests.remediate.conftest import MANAGEMENT, NOW, REGION, RecordingContext, make_settings
from tests.remediate.helpers import decide, mutations

HOUR = timedelta(hours=1)


def _canonical(data: dict) -> bytes:
    """The project's canonical form of a plan, as anyone can read it in the source."""
    body = {key: value for key, value in data.items() if key != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _reseal(path, data: dict) -> None:
    data["sha256"] = hashlib.sha256(_canonical(data)).hexdigest()
    path.write_text(json.dumps(data, indent=2))


def _status(estate, user: str) -> str:
    return estate.idc.describe_user(IdentityStoreId=estate.store_id, UserId=estate.users[user])["UserStatus"]


def _key_status(estate, user: str, key_id: str, account_id: str = MANAGEMENT) -> str:
    keys = estate.iam(account_id).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return next(k["Status"] for k in keys if k["AccessKeyId"] == key_id)


def _plan(estate, store, settings, revocations, tmp_path, *, now=NOW, name="plan.json", clients=None):
    """A genuine plan, the way `auditor remediate plan --campaign ID` makes it, from a closed campaign."""
    decided = decide(store, revocations, now=now, out_dir=tmp_path / f"{name}-campaign")
    path = tmp_path / name
    plan_revocations(
        store,
        settings,
        campaign_id=decided[0].reason["campaign_id"],
        now=now,
        actor="planner",
        out=path,
        clients=clients or estate.clients(),
    )
    return path


def _apply(estate, path, store, settings, *, clients=None, override="tiny test estate", population=None):
    from auditor.remediate import apply_plan

    return apply_plan(
        load_plan(path),
        clients=clients or estate.clients(),
        store=store,
        settings=settings,
        population=population,
        yes=True,
        override_reason=override,
        actor="operator",
    )


# --- 1. a forged plan is applied ---------------------------------------------------------------


def test_a_forged_action_rehashed_in_the_canonical_form_is_not_applied(estate, store, settings, tmp_path, capsys):
    """The attacker adds "disable dave" (nobody revoked dave) to a genuine plan and re-hashes it."""
    now = datetime.now(UTC)  # the command line applies on the wall clock
    path = _plan(estate, store, settings, [estate.disable("carol")], tmp_path, now=now)
    data = json.loads(path.read_text())
    forged = copy.deepcopy(data["actions"][0])
    target = {**forged["target"], "user_id": estate.users["dave"]}
    forged.update(
        id=action_id("idc_user", target),
        target=target,
        description="disable Identity Center user carol (duplicate check)",
        principal={**forged["principal"], "id": estate.users["dave"]},
    )
    data["actions"].append(forged)
    _reseal(path, data)
    config = tmp_path / "config.toml"
    config.write_text("[remediation]\nmax_share = 0.75\n")
    parser = argparse.ArgumentParser(prog="auditor")
    register(parser.add_subparsers(dest="command", required=True))
    argv = ["remediate", "apply", str(path), "--yes", "--override-breaker", "x"]
    argv += ["--config", str(config), "--state", str(tmp_path / "state.db")]

    assert handle(parser.parse_args(argv)) == 1
    assert "was not recorded" in capsys.readouterr().err
    assert (_status(estate, "dave"), _status(estate, "carol")) == ("ENABLED", "ENABLED")
    assert mutations(estate) == []


def test_a_rewritten_plan_time_does_not_make_an_old_plan_fresh(estate, store, settings, tmp_path):
    store.clock = FixedClock(NOW - 100 * HOUR)
    path = _plan(estate, store, settings, [estate.disable("carol")], tmp_path, now=NOW - 100 * HOUR)
    store.clock = FixedClock(NOW)
    with pytest.raises(Refused, match="hours ago"):
        apply_plan_file(
            path, store, settings, yes=True, override_reason="x", actor="operator", clients=estate.clients()
        )
    data = json.loads(path.read_text())
    data["created_at"] = NOW.isoformat().replace("+00:00", "Z")
    _reseal(path, data)
    with pytest.raises(Refused):
        apply_plan_file(
            path, store, settings, yes=True, override_reason="x", actor="operator", clients=estate.clients()
        )
    assert _status(estate, "carol") == "ENABLED"


def test_a_plan_recorded_without_a_decision_behind_an_action_is_refused(estate, store, settings, tmp_path):
    """Someone who can write the store's plan table still needs a recorded decision for every action."""
    from auditor.remediate.registry import record_plan, recorded_plan
    from auditor.remediate.schema import remediation_plans

    store.clock = FixedClock(NOW)
    path = _plan(estate, store, settings, [estate.disable("carol")], tmp_path)
    genuine = load_plan(path)
    forged_path = tmp_path / "forged.json"
    data = json.loads(path.read_text())
    extra = copy.deepcopy(data["actions"][0])
    target = {**extra["target"], "user_id": estate.users["dave"]}
    extra.update(id=action_id("idc_user", target), target=target)
    extra["reasons"][0]["item_id"] = genuine.actions[0].reasons[0]["item_id"]  # cites carol's decision
    data["actions"].append(extra)
    _reseal(forged_path, data)
    forged = load_plan(forged_path)
    with pytest.raises(Refused, match="no recorded campaign decision or finding"):
        record_plan(store, forged, actor="attacker")
    assert recorded_plan(store, forged.sha256) is None
    with store.engine.begin() as conn:  # written behind the tool's back
        conn.execute(
            remediation_plans.insert().values(
                sha256=forged.sha256, recorded_at=NOW, recorded_by="attacker", plan=forged_path.read_text()
            )
        )
    with pytest.raises(Refused, match=rf"no recorded campaign decision or finding: action {extra['id']} "):
        _apply(estate, forged_path, store, settings)
    assert (_status(estate, "dave"), _status(estate, "carol")) == ("ENABLED", "ENABLED")


def test_descriptions_shown_at_apply_are_rebuilt_from_the_target(estate, store, settings, tmp_path):
    store.clock = FixedClock(NOW)
    path = _plan(estate, store, settings, [estate.disable("carol")], tmp_path)
    result = _apply(estate, path, store, settings)
    [outcome] = result.outcomes
    assert outcome.description == f"disable Identity Center user {estate.users['carol']} (carol)"
    with store.engine.connect() as conn:
        [description] = conn.execute(sa.select(remediation_actions.c.description)).scalars()
    assert description == f"disable Identity Center user {estate.users['carol']}"


# --- 2. rollback trusts the journal's target ----------------------------------------------------


def test_rollback_refuses_a_journal_whose_target_was_changed(estate, store, settings, tmp_path):
    """erin's second key was switched off on purpose; a rewritten journal row must not switch it back on."""
    store.clock = FixedClock(NOW)
    iam = estate.iam(MANAGEMENT)
    spare = iam.create_access_key(UserName="erin")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="erin", AccessKeyId=spare, Status="Inactive")  # compromised, disabled by hand
    path = _plan(estate, store, settings, [estate.key("erin"), estate.disable("carol")], tmp_path)
    run_id = _apply(estate, path, store, settings).run_id
    assert _key_status(estate, "erin", estate.keys["erin"]) == "Inactive"
    with store.engine.begin() as conn:
        [(action, text)] = conn.execute(
            sa.select(remediation_actions.c.action_id, remediation_actions.c.target).where(
                remediation_actions.c.kind == "iam_access_key"
            )
        ).all()
        target = {**json.loads(text), "access_key_id": spare}
        conn.execute(
            remediation_actions.update()
            .where(remediation_actions.c.action_id == action)
            .values(target=json.dumps(target, sort_keys=True))
        )
    estate.ctx.calls.clear()
    with pytest.raises(Refused, match=rf"action {action}.*disagrees with the recorded plan"):
        rollback_run(run_id, clients=estate.clients(), store=store, yes=True)
    assert _key_status(estate, "erin", spare) == "Inactive"
    assert _key_status(estate, "erin", estate.keys["erin"]) == "Inactive"
    assert _status(estate, "carol") == "DISABLED"  # nothing was rolled back
    assert mutations(estate) == []


# --- 4. safety rails with gaps ----------------------------------------------------------------------


def _as_erin(estate) -> Clients:
    key = estate.iam(MANAGEMENT).create_access_key(UserName="erin")["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    return Clients(RecordingContext(session=session, region=REGION), Waiter(sleep=estate.clock.sleep))


def test_the_callers_own_identity_is_never_planned(estate, store, settings, tmp_path):
    store.clock = FixedClock(NOW)
    path = _plan(
        estate, store, settings, [estate.key("erin"), estate.disable("carol")], tmp_path, clients=_as_erin(estate)
    )
    plan = load_plan(path)
    assert [a.kind for a in plan.actions] == ["idc_user"]
    [excluded] = plan.excluded
    assert "the identity the tool runs as" in excluded.why and "GetCallerIdentity" in excluded.why


def test_the_callers_own_identity_is_refused_at_apply(estate, store, settings, tmp_path):
    """A plan made by another identity reaches the apply run's own credentials."""
    store.clock = FixedClock(NOW)
    path = _plan(estate, store, settings, [estate.key("erin"), estate.disable("carol")], tmp_path)
    assert len(load_plan(path).actions) == 2
    estate.ctx.calls.clear()
    with pytest.raises(Refused, match="the identity the tool runs as"):
        _apply(estate, path, store, settings, clients=_as_erin(estate))
    assert _key_status(estate, "erin", estate.keys["erin"]) == "Active"
    assert _status(estate, "carol") == "ENABLED"


def test_the_member_role_and_the_callers_role_are_protected_without_configuration(estate):
    from auditor.remediate.protection import Protection

    session = boto3.Session(region_name=REGION)
    session.client("iam").create_role(RoleName="auditor-nightly", AssumeRolePolicyDocument="{}")
    credentials = session.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MANAGEMENT}:role/auditor-nightly", RoleSessionName="night"
    )["Credentials"]
    assumed = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    clients = Clients(RecordingContext(session=assumed, region=REGION))
    protection = Protection.load(make_settings(), clients)  # protected_principals is empty by default

    def role(account: str, name: str) -> Principal:
        return Principal(type="iam_role", id=name, name=name, arn=f"arn:aws:iam::{account}:role/{name}")

    member_role = make_settings().get("aws", "member_role_name")  # the shipped collector role by default
    assert "member_role_name" in protection.why_static(role("222222222222", member_role), {})
    for setting in ("remediation_role_name", "rollback_role_name"):
        name = make_settings().get("aws", setting)
        assert setting in protection.why_static(role("222222222222", name), {})
    assert "GetCallerIdentity" in protection.why_static(role(MANAGEMENT, "auditor-nightly"), {})
    assert protection.why_static(role("222222222222", "auditor-nightly"), {}) is None
    assert protection.why_static(role(MANAGEMENT, "deploy"), {}) is None


COMPANY = Population(size=8)


def test_splitting_a_plan_does_not_get_past_the_breaker(estate, store, tmp_path):
    """Four of eight people (50%) in two plans of two: each half is within a 30% share, the whole is not."""
    store.clock = FixedClock(NOW)
    settings = make_settings(max_share=0.3)
    first = _plan(estate, store, settings, [estate.disable("alice"), estate.disable("bob")], tmp_path, name="a.json")
    second = _plan(estate, store, settings, [estate.disable("carol"), estate.disable("dave")], tmp_path, name="b.json")
    _apply(estate, first, store, settings, population=COMPANY, override=None)
    with pytest.raises(Refused, match=r"4 of 8 principals \(50.0%\).*last 24 hours"):
        _apply(estate, second, store, settings, population=COMPANY, override=None)
    assert (_status(estate, "carol"), _status(estate, "dave")) == ("ENABLED", "ENABLED")
    store.clock = FixedClock(NOW + 25 * HOUR)  # a day later the first plan no longer counts
    result = _apply(estate, second, store, make_settings(max_share=0.3, plan_max_age_hours=48), population=COMPANY)
    assert {o.status for o in result.outcomes} == {"done"}


def test_actions_per_day_are_limited_across_plans_unless_overridden_with_a_reason(estate, store, tmp_path):
    store.clock = FixedClock(NOW)
    settings = make_settings(max_share=1.0, max_actions_per_day=3)
    first = _plan(estate, store, settings, [estate.disable("alice"), estate.disable("bob")], tmp_path, name="a.json")
    second = _plan(estate, store, settings, [estate.disable("carol"), estate.key("erin")], tmp_path, name="b.json")
    _apply(estate, first, store, settings, population=COMPANY, override=None)
    with pytest.raises(
        Refused, match="2 actions applied in the last 24 hours and 2 in this plan exceed max_actions_per_day 3"
    ):
        _apply(estate, second, store, settings, population=COMPANY, override=None)
    assert _status(estate, "carol") == "ENABLED"
    result = _apply(estate, second, store, settings, population=COMPANY, override="leavers batch, CHG-7")
    assert {o.status for o in result.outcomes} == {"done"}
