"""Plans: the reviewed content, the AWS pre-state, the hash, and who can never be in one."""

from __future__ import annotations

import json

import pytest

from auditor.model import Principal, Revocation
from auditor.remediate import PlanError, Refused, load_plan, save_plan
from tests.remediate.conftest import MANAGEMENT, NOW, make_settings
from tests.remediate.helpers import apply, make_plan, mutations


def test_plan_records_reason_pre_state_time_and_hash(estate, settings, population, tmp_path):
    plan = make_plan(estate, settings, population, [estate.disable("carol"), estate.login("erin")])
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    data = json.loads(path.read_text())
    assert data["created_at"] == "2026-11-02T06:00:00Z"
    assert len(data["sha256"]) == 64
    disable, login = data["actions"]
    assert disable["kind"] == "idc_user" and disable["pre_state"] == {"exists": True, "user_status": "ENABLED"}
    assert disable["reasons"][0]["decision"] == "revoke"
    assert "carol" in disable["description"]
    assert login["pre_state"]["login_profile"] is True
    assert "random" in login["rollback_note"] and "PasswordResetRequired=true" in login["rollback_note"]
    assert any("cannot restore the old console password" in note for note in data["notes"])
    assert load_plan(path) == plan


def test_any_edit_to_a_plan_file_makes_it_unusable(estate, settings, population, tmp_path):
    path = tmp_path / "plan.json"
    save_plan(make_plan(estate, settings, population, [estate.disable("carol")]), path)
    data = json.loads(path.read_text())
    data["actions"][0]["target"]["user_id"] = estate.users["alice"]
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="SHA-256 does not match"):
        load_plan(path)


def test_break_glass_principals_are_never_in_a_plan(estate, settings, population):
    revocations = [
        estate.disable("breakglass-admin"),
        estate.assignment("breakglass-admin", "Admin"),
        estate.membership("breakglass-admin", "engineers"),
        estate.key("breakglass-iam"),
        estate.disable("carol"),
    ]
    plan = make_plan(estate, settings, population, revocations)
    assert [a.target.get("user_id") for a in plan.actions] == [estate.users["carol"]]
    assert len(plan.excluded) == 4
    assert all("break-glass" in e.why for e in plan.excluded)


def test_a_break_glass_name_read_live_from_aws_protects_too(estate, settings, population):
    """The revocation names the user innocently; the identity store says who it is."""
    user_id = estate.idc.create_user(
        IdentityStoreId=estate.store_id,
        UserName="ops-7",
        DisplayName="Emergency Access",
        Name={"GivenName": "Ops", "FamilyName": "Seven"},
    )["UserId"]
    innocent = Revocation(
        kind="idc_user",
        target={"identity_store_id": estate.store_id, "user_id": user_id},
        reason={"decision": "revoke"},
        principal=Principal(type="idc_user", id=user_id, name="u7"),
    )
    plan = make_plan(estate, settings, population, [innocent])
    assert plan.actions == []
    assert "'Emergency Access' is a break-glass name" in plan.excluded[0].why


def test_configured_protected_principals_are_excluded(estate, population):
    settings = make_settings(max_share=0.75, protected_principals=["dav*", "erin"])
    plan = make_plan(
        estate, settings, population, [estate.disable("dave"), estate.key("erin"), estate.key("frank", estate.member)]
    )
    assert [a.target["user_name"] for a in plan.actions] == ["frank"]
    assert sorted(e.why for e in plan.excluded) == [
        "protected: 'dave' is protected ([remediation] protected_principals: 'dav*')",
        "protected: 'erin' is protected ([remediation] protected_principals: 'erin')",
    ]


def test_a_principal_protected_after_planning_is_refused_at_apply(estate, settings, population, store):
    plan = make_plan(estate, settings, population, [estate.disable("carol"), estate.key("erin")])
    later = make_settings(max_share=0.75, protected_principals=["carol"])
    with pytest.raises(Refused, match="protected"):
        apply(estate, plan, store, later, population)
    assert mutations(estate) == []


def test_what_needs_no_change_is_excluded_and_duplicates_merge(estate, settings, population):
    estate.iam(MANAGEMENT).update_access_key(UserName="erin", AccessKeyId=estate.keys["erin"], Status="Inactive")
    second = estate.disable("carol")
    second = Revocation(
        kind=second.kind,
        target=second.target,
        principal=second.principal,
        reason={"campaign_id": 2, "decision": "revoke"},
    )
    plan = make_plan(estate, settings, population, [estate.key("erin"), estate.disable("carol"), second])
    assert [e.why for e in plan.excluded] == ["already in effect: nothing to change"]
    [action] = plan.actions
    assert [r["campaign_id"] for r in action.reasons] == [1, 2]


def test_unknown_kinds_and_incomplete_targets_are_excluded_with_the_reason(estate, settings, population):
    principal = Principal(type="iam_user", id="x", name="x")
    plan = make_plan(
        estate,
        settings,
        population,
        [
            Revocation(
                kind="iam_user_delete",
                target={"account_id": MANAGEMENT, "user_name": "erin"},
                reason={},
                principal=principal,
            ),
            Revocation(
                kind="iam_access_key",
                target={"account_id": MANAGEMENT, "user_name": "erin"},
                reason={},
                principal=principal,
            ),
        ],
    )
    assert plan.actions == []
    assert "no remediation action for kind 'iam_user_delete'" in plan.excluded[0].why
    assert plan.excluded[1].why == "the target does not name access_key_id"


def test_plan_time_must_be_timezone_aware(estate, settings, population):
    with pytest.raises(ValueError):
        make_plan(estate, settings, population, [], now=NOW.replace(tzinfo=None))
