"""apply -> verify -> rollback on a moto estate: exactly the planned changes, journaled, reversible."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa

from auditor.clock import FixedClock
from auditor.remediate import ACTIONS, Refused, rollback_run, verify_run
from auditor.remediate.journal import Journal
from auditor.remediate.schema import remediation_actions, remediation_runs
from auditor.store import Store, audit_log
from tests.remediate.conftest import MANAGEMENT, NOW, make_settings
from tests.remediate.helpers import APPLY_AT, apply, collect, make_plan, mutations, statuses, touched_view


def _audit(store, prefix: str) -> list:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).where(audit_log.c.action.like(f"{prefix}%"))).all()
    return rows


def _campaign_revocations(estate):
    return [
        estate.membership("alice", "engineers"),
        estate.assignment("alice", "Admin"),
        estate.disable("bob"),
        estate.group_assignment("auditors", "ReadOnly"),
        estate.key("frank", estate.member),
        estate.login("erin"),
        estate.policy("erin"),
    ]


@pytest.fixture
def store(store_url) -> Store:
    """The same tests on a SQLite file and on a fresh PostgreSQL database."""
    return Store.open(store_url)


def test_plan_apply_verify_rollback_restores_every_touched_principal(estate, settings, population, store):
    touched = {
        "idc_users": {estate.users["alice"], estate.users["bob"]},
        "idc_groups": {estate.groups["auditors"]},
        "iam_users": {(MANAGEMENT, "erin"), (estate.member, "frank")},
    }
    before = touched_view(collect(estate), **touched)

    plan = make_plan(estate, settings, population, _campaign_revocations(estate))
    assert len(plan.actions) == 7 and plan.excluded == []
    applied = apply(estate, plan, store, settings, population)
    assert set(statuses(applied).values()) == {"done"}
    assert len(mutations(estate)) == 7

    verification = verify_run(applied.run_id, clients=estate.clients(), store=store)
    assert verification.ok and [c.expected for c in verification.checks] == ["revoked"] * 7
    revoked = touched_view(collect(estate), **touched)
    assert revoked != before
    assert [u["status"] for u in revoked["idc_users"] if u["user_name"] == "bob"] == ["DISABLED"]

    estate.ctx.calls.clear()
    rolled_back = rollback_run(applied.run_id, clients=estate.clients(), store=store, yes=True)
    assert set(statuses(rolled_back).values()) == {"restored"}
    assert len(mutations(estate)) == 7
    assert touched_view(collect(estate), **touched) == before

    after_rollback = verify_run(applied.run_id, clients=estate.clients(), store=store)
    assert after_rollback.ok and [c.expected for c in after_rollback.checks] == ["restored"] * 7


def test_every_action_is_journaled_before_and_after_in_store_and_audit_log(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.key("erin"), estate.disable("carol")])
    result = apply(estate, plan, store, settings, population)
    records = Journal(store).actions(result.run_id)
    assert [r.status for r in records] == ["done", "done"]
    assert records[0].pre_state == {"exists": True, "status": "Active"}
    assert records[0].after_state == {"exists": True, "status": "Inactive"}
    assert records[1].pre_state == {"exists": True, "user_status": "ENABLED"}
    started = [r.subject for r in _audit(store, "remediate.action.started")]
    done = [r.subject for r in _audit(store, "remediate.action.done")]
    assert len(started) == len(done) == 2
    ids = [r.id for r in _audit(store, "remediate.action.")]
    assert ids == sorted(ids)  # started before done, action by action
    assert store.verify_audit()[1] is None


def test_without_yes_nothing_changes_and_nothing_is_recorded(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.disable("carol"), estate.login("erin")])
    estate.ctx.calls.clear()
    result = apply(estate, plan, store, settings, population, yes=False)
    assert result.dry_run and set(statuses(result).values()) == {"would_apply"}
    assert mutations(estate) == []
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(remediation_runs)).scalar() == 0


@pytest.mark.parametrize("crash", ["before_the_call", "after_the_call"])
def test_interrupted_apply_resumes_and_does_each_action_exactly_once(
    estate, settings, population, store, monkeypatch, crash
):
    revocations = [
        estate.key("erin"),
        estate.login("erin"),
        estate.disable("carol"),
        estate.membership("bob", "engineers"),
        estate.assignment("bob", "Admin"),
    ]
    plan = make_plan(estate, settings, population, revocations)
    k = 2
    calls = {"n": 0}
    for kind, action in list(ACTIONS.items()):

        def interrupting(clients, target, pre, _apply=action.apply):
            calls["n"] += 1
            if calls["n"] == k + 1 and crash == "before_the_call":
                raise RuntimeError("power cut")
            result = _apply(clients, target, pre)
            if calls["n"] == k + 1:
                raise RuntimeError("power cut")
            return result

        monkeypatch.setitem(ACTIONS, kind, dataclasses.replace(action, apply=interrupting))
    estate.ctx.calls.clear()
    with pytest.raises(RuntimeError, match="power cut"):
        apply(estate, plan, store, settings, population)
    [run] = [Journal(store).run_for_plan(plan.sha256)]
    assert [r.status for r in Journal(store).actions(run.id)] == ["done", "done", "started", "pending", "pending"]

    result = apply(estate, plan, store, settings, population)
    assert result.run_id == run.id
    assert set(statuses(result).values()) == {"done"}
    changed = [
        (name, tuple(sorted((k, str(v)) for k, v in params.items() if k != "Password")))
        for name, params in mutations(estate)
    ]
    assert len(changed) == len(set(changed)) == 5  # each change request reached AWS exactly once
    assert all(r.status == "done" for r in Journal(store).actions(run.id))
    assert len(_audit(store, "remediate.action.done")) == 5

    again = apply(estate, plan, store, settings, population)  # a third run changes nothing
    assert set(statuses(again).values()) == {"done"}
    assert len(mutations(estate)) == len(changed)


def test_a_drifted_target_is_skipped_and_reported(estate, settings, population, store):
    plan = make_plan(
        estate,
        settings,
        population,
        [estate.membership("carol", "engineers"), estate.login("erin"), estate.key("erin")],
    )
    # after the review, carol was removed and added back (a new decision), and erin got a new console password
    store_id, group, carol = estate.store_id, estate.groups["engineers"], estate.users["carol"]
    membership = estate.idc.get_group_membership_id(
        IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": carol}
    )["MembershipId"]
    estate.idc.delete_group_membership(IdentityStoreId=store_id, MembershipId=membership)
    estate.idc.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": carol})
    estate.iam(MANAGEMENT).delete_login_profile(UserName="erin")
    estate.iam(MANAGEMENT).create_login_profile(UserName="erin", Password="Another-Passw0rd!")
    estate.ctx.calls.clear()

    dry = apply(estate, plan, store, settings, population, yes=False)
    assert [o.status for o in dry.outcomes] == ["drifted", "drifted", "would_apply"]

    result = apply(estate, plan, store, settings, population)
    assert [o.status for o in result.outcomes] == ["drifted", "drifted", "done"]
    assert "drifted since planning" in result.outcomes[0].detail and "skipped" in result.outcomes[0].detail
    assert [name for name, _ in mutations(estate)] == ["UpdateAccessKey"]
    assert result.needs_attention() == result.outcomes[:2]
    assert len(_audit(store, "remediate.action.drifted")) == 2


def test_a_target_already_revoked_is_reported_not_changed(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.key("erin"), estate.policy("erin")])
    estate.iam(MANAGEMENT).detach_user_policy(UserName="erin", PolicyArn=estate.policy_arn)
    estate.ctx.calls.clear()
    result = apply(estate, plan, store, settings, population)
    assert [o.status for o in result.outcomes] == ["done", "already_in_effect"]
    assert [name for name, _ in mutations(estate)] == ["UpdateAccessKey"]
    rolled_back = rollback_run(result.run_id, clients=estate.clients(), store=store, yes=True)
    assert [o.status for o in rolled_back.outcomes] == ["not_changed", "restored"]
    assert not any(
        p["PolicyArn"] == estate.policy_arn
        for p in estate.iam(MANAGEMENT).list_attached_user_policies(UserName="erin")["AttachedPolicies"]
    )


def test_a_plan_older_than_the_configured_age_is_refused(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.disable("carol")])
    with pytest.raises(Refused, match="plan_max_age_hours"):
        apply(estate, plan, store, settings, population, now=NOW + timedelta(hours=73))
    short = make_settings(max_share=0.75, plan_max_age_hours=1)
    with pytest.raises(Refused, match="stale"):
        apply(estate, plan, store, short, population, now=NOW + timedelta(hours=2))
    assert mutations(estate) == []


def test_an_edited_plan_is_refused(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.disable("carol")])
    edited = msgspec.structs.replace(
        plan,
        actions=[
            msgspec.structs.replace(plan.actions[0], target={**plan.actions[0].target, "user_id": estate.users["dave"]})
        ],
    )
    with pytest.raises(Refused, match="SHA-256"):
        apply(estate, edited, store, settings, population)
    assert mutations(estate) == []


def test_verify_reports_an_action_no_longer_in_effect(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.disable("carol"), estate.key("erin")])
    result = apply(estate, plan, store, settings, population)
    estate.iam(MANAGEMENT).update_access_key(UserName="erin", AccessKeyId=estate.keys["erin"], Status="Active")
    verification = verify_run(result.run_id, clients=estate.clients(), store=store)
    assert not verification.ok
    assert [c.holds for c in verification.checks] == [True, False]


def test_interrupted_rollback_resumes_without_repeating(estate, settings, population, store, monkeypatch):
    plan = make_plan(estate, settings, population, [estate.disable("carol"), estate.key("erin"), estate.login("erin")])
    result = apply(estate, plan, store, settings, population)
    action = ACTIONS["iam_access_key"]

    def interrupting(clients, target, pre, _inverse=action.inverse):
        _inverse(clients, target, pre)
        raise RuntimeError("power cut")

    monkeypatch.setitem(ACTIONS, "iam_access_key", dataclasses.replace(action, inverse=interrupting))
    estate.ctx.calls.clear()
    with pytest.raises(RuntimeError):
        rollback_run(result.run_id, clients=estate.clients(), store=store, yes=True)
    monkeypatch.setitem(ACTIONS, "iam_access_key", action)
    again = rollback_run(result.run_id, clients=estate.clients(), store=store, yes=True)
    assert [o.status for o in again.outcomes] == ["restored", "restored", "restored"]
    assert sorted(name for name, _ in mutations(estate)) == ["CreateLoginProfile", "UpdateAccessKey", "UpdateUser"]
    with pytest.raises(Refused, match="rolled back"):
        apply(estate, plan, store, settings, population)


def test_rollback_without_yes_is_a_dry_run(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.login("erin")])
    result = apply(estate, plan, store, settings, population)
    estate.ctx.calls.clear()
    dry = rollback_run(result.run_id, clients=estate.clients(), store=store)
    assert dry.dry_run and [o.status for o in dry.outcomes] == ["would_restore"]
    assert "random password" in dry.outcomes[0].detail
    assert mutations(estate) == []


def test_apply_time_is_the_injected_now(estate, settings, population, tmp_path):
    applied_at = APPLY_AT - timedelta(hours=1)
    clock = FixedClock(applied_at)
    store = Store.open(tmp_path / "clocked.db", clock=clock)
    plan = make_plan(
        estate, settings, population, [estate.disable("carol")], now=NOW - timedelta(hours=71), store=store
    )
    run_id = apply(estate, plan, store, settings, population, clock=clock).run_id  # 71 h old: within the 72 h
    run = Journal(store).run(run_id)
    assert (run.started_at, run.finished_at) == (applied_at, applied_at)
    with store.engine.connect() as conn:
        action = conn.execute(sa.select(remediation_actions).where(remediation_actions.c.run_id == run_id)).one()
    assert (action.status, action.started_at, action.finished_at) == ("done", applied_at, applied_at)
    assert {row.at for row in _audit(store, "remediate.")} == {applied_at}

    clock.advance(timedelta(hours=2))  # 73 h after planning: stale by the injected clock, not the wall clock
    again = make_plan(
        estate, settings, population, [estate.disable("dave")], now=NOW - timedelta(hours=71), store=store
    )
    with pytest.raises(Refused, match="hours ago"):
        apply(estate, again, store, settings, population, clock=clock)
