"""Creating campaigns: what is in scope, who reviews it, and what is frozen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import sqlalchemy as sa

from auditor.campaign import CampaignError, campaign_status, create_campaign, list_campaigns
from auditor.campaign.state import item_states
from auditor.snapshot import SourceStatus
from auditor.store import audit_log, runs
from tests.builders import DEV, PROD
from tests.campaign.estate import FALLBACK, NOW, build_world, make_settings, save_run, spec


def states(store, cid):
    return {
        (s.item.context.get("user_name") or s.item.principal.name, s.item.permission_set or s.item.kind): s
        for s in item_states(store, cid)
    }


def test_items_carry_what_a_reviewer_needs(store, settings, run_dir):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    found = states(store, cid)
    carl = found[("carl", "Developer")].item
    assert (carl.hr_status, carl.department, carl.title, carl.manager) == (
        "terminated",
        "engineering",
        "Engineer",
        "boss@example.com",
    )
    assert carl.last_used == "never" and carl.flagged and carl.recommendation == "revoke"
    assert "idc-leaver-with-access" in {f["rule_id"] for f in carl.related_findings}
    ben = found[("ben", "Developer")].item
    assert (ben.last_used, ben.flagged, ben.recommendation) == ("2026-11-25T06:00:00+00:00", False, "keep")
    dana_dev, dana_billing = found[("dana", "Developer")].item, found[("dana", "Billing")].item
    # the mover finding is about the old department's group only
    assert dana_billing.flagged and not dana_dev.flagged
    assert dana_billing.context["membership_also_grants"] == []
    bot = found[("deploy-bot", "iam_user")].item
    assert bot.subject_email == "ben@example.com" and bot.context["active_keys"] == ["AKIAEXAMPLEDEPLOY001"]


def test_nobody_reviews_their_own_access(store, settings, run_dir):
    created = create_campaign(store, settings, spec(reviewer="fixed:boss@example.com"), now=NOW, run_dir=run_dir)
    found = states(store, created.campaign.id)
    own = found[("boss", "Developer")]
    assert own.reviewer == "ceo@example.com"
    assert own.item.reviewer_basis == "self-review avoided: fixed reviewer is the subject; their manager"
    assert found[("ana", "Developer")].reviewer == "boss@example.com"
    assert created.by_reviewer == {"boss@example.com": 8, "ceo@example.com": 1}


def test_an_unresolvable_reviewer_goes_to_the_fallback_and_is_listed(store, settings, run_dir):
    created = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir)
    (listed,) = created.fallback
    assert (listed.subject, listed.reason) == ("eve@example.com", "fallback: no HR manager for eve@example.com")
    assert states(store, created.campaign.id)[("eve", "ReadOnly")].reviewer == FALLBACK
    with store.engine.connect() as conn:
        details = conn.execute(sa.select(audit_log.c.details).where(audit_log.c.action == "campaign.created")).scalar()
    assert listed.item_id in details


def test_without_a_fallback_an_unroutable_item_waits_unassigned_and_never_blocks(store, run_dir):
    created = create_campaign(store, make_settings(fallback_reviewer=""), spec(), now=NOW, run_dir=run_dir)
    (listed,) = created.fallback
    assert listed.subject == "eve@example.com" and listed.reason.startswith("unrouted: no HR manager for eve")
    assert states(store, created.campaign.id)[("eve", "ReadOnly")].reviewer == ""
    assert "" not in created.by_reviewer and sum(created.by_reviewer.values()) == created.items - 1
    status = campaign_status(store, created.campaign.id, now=NOW)
    assert [(i, w.split(":")[0]) for i, _, w in status.fallback] == [(listed.item_id, "unrouted")]
    assert status.unassigned == 1


def test_the_campaign_owner_is_the_last_step_of_routing(store, run_dir):
    owner_spec = msgspec.structs.replace(spec(), owner="Owner@Example.com")
    created = create_campaign(store, make_settings(fallback_reviewer=""), owner_spec, now=NOW, run_dir=run_dir)
    assert states(store, created.campaign.id)[("eve", "ReadOnly")].reviewer == "owner@example.com"
    assert created.campaign.owner == "owner@example.com"
    (listed,) = created.fallback
    assert listed.reason == "campaign owner: no HR manager for eve@example.com"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("account_owner", {("ana", "AdministratorAccess"): "owner@example.com", ("ana", "Developer"): FALLBACK}),
        (
            "permission_set_owner",
            {
                ("ana", "AdministratorAccess"): "admins@example.com",
                ("ana", "Developer"): FALLBACK,
                ("deploy-bot", "iam_user"): FALLBACK,
            },
        ),
    ],
)
def test_owner_tags_choose_reviewers(store, settings, tmp_path, mode, expected):
    world = build_world()
    world.tables["permission_sets"] = [
        msgspec.structs.replace(p, tags={"Owner": "admins@example.com"}) if p.name == "AdministratorAccess" else p
        for p in world.tables["permission_sets"]
    ]
    run = save_run(world, tmp_path / "run", settings)
    found = states(store, create_campaign(store, settings, spec(reviewer=mode), now=NOW, run_dir=run).campaign.id)
    assert {key: found[key].reviewer for key in expected} == expected


def test_scopes_select_where_and_what(store, settings, run_dir):
    def keys(**kwargs):
        return set(
            states(store, create_campaign(store, settings, spec(**kwargs), now=NOW, run_dir=run_dir).campaign.id)
        )

    assert keys(scopes=[f"account:{PROD}"]) == {("ana", "AdministratorAccess"), ("dana", "Billing")}
    assert keys(scopes=["iam"]) == {("deploy-bot", "iam_user")}
    assert keys(scopes=[f"account:{DEV}", "permission-set:readonly"]) == {("eve", "ReadOnly")}
    assert keys(privileged_only=True) == {("ana", "AdministratorAccess")}
    assert ("Finance", "idc_group") in keys(scopes=["group:Finance"])


def test_a_group_scope_adds_the_group_as_one_entitlement_for_its_owner(store, settings, tmp_path):
    world = build_world()
    world.tables["idc_groups"] = [
        msgspec.structs.replace(g, description="Finance tools. Owner: cfo@example.com")
        if g.display_name == "Finance"
        else g
        for g in world.tables["idc_groups"]
    ]
    run = save_run(world, tmp_path / "run", settings)
    cid = create_campaign(store, settings, spec(scopes=["group:Finance"]), now=NOW, run_dir=run).campaign.id
    found = states(store, cid)
    group = found[("Finance", "idc_group")]
    assert group.reviewer == "cfo@example.com"
    assert group.item.context["members"] == ["dana@example.com"]
    assert group.item.revokes[0].target["principal_type"] == "GROUP"
    assert found[("dana", "Billing")].reviewer == "boss@example.com"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": ["team:x"]}, "expected account:ID, ou:ID"),
        ({"scopes": ["account:12"]}, "an account id has 12 digits"),
        ({"scopes": ["account:999999999999"]}, "not in the snapshot's organisation"),
        ({"scopes": ["group:Nope"]}, "no group named nope"),
        ({"scopes": ["ou:ou-ab12-cd34ef56"]}, "does not record which OU"),
        ({"reviewer": "fixed:nobody"}, "fixed needs an email address"),
        ({"reviewer": "owner"}, "expected one of manager, account_owner"),
        ({"due": NOW - timedelta(days=1)}, "is not in the future"),
        ({"scopes": ["permission-set:Billing"], "privileged_only": True}, "nothing to review"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_stored(store, settings, run_dir, kwargs, message):
    with pytest.raises(CampaignError, match=message):
        create_campaign(store, settings, spec(**kwargs), now=NOW, run_dir=run_dir)
    assert list_campaigns(store, now=NOW) == []


def test_ou_scopes_use_the_recorded_ou_of_each_account(store, settings, tmp_path):
    world = build_world()
    snapshot_status = SourceStatus(
        source="organizations",
        detail={"account_ous": {PROD: ["r-ab12", "ou-ab12-prod0001"], DEV: ["r-ab12", "ou-ab12-dev00001"]}},
    )
    run = tmp_path / "run"
    from auditor import snapshot as snapshots
    from tests.campaign.estate import idc_status

    snap = world.snapshot(overrides=[idc_status(), snapshot_status])
    snapshots.save(snap, run / "snapshot")
    (run / "findings.json").write_bytes(b"[]")
    cid = create_campaign(store, settings, spec(scopes=["ou:ou-ab12-prod0001"]), now=NOW, run_dir=run).campaign.id
    assert set(states(store, cid)) == {("ana", "AdministratorAccess"), ("dana", "Billing")}


def test_a_snapshot_without_identity_center_ids_cannot_make_revocable_items(store, settings, tmp_path):
    world = build_world()
    run = tmp_path / "run"
    from auditor import snapshot as snapshots

    snapshots.save(world.snapshot(), run / "snapshot")
    (run / "findings.json").write_bytes(b"[]")
    with pytest.raises(CampaignError, match="instance_arn and identity_store_id"):
        create_campaign(store, settings, spec(), now=NOW, run_dir=run)


def test_the_latest_recorded_run_is_the_default_and_items_are_frozen(store, settings, run_dir, tmp_path):
    with store.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                kind="run",
                started_at=datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
                as_of=datetime(2026, 11, 28, 6, 0, tzinfo=UTC),
                out_dir=str(run_dir),
            )
        )
    cid = create_campaign(store, settings, spec(), now=NOW).campaign.id
    before = [s.item for s in item_states(store, cid)]
    # a later run sees carl gone: the campaign still reviews what it was created with
    (run_dir / "snapshot" / "idc_users.jsonl").write_text("")
    assert [s.item for s in item_states(store, cid)] == before


def test_without_a_recorded_run_creation_says_what_to_do(store, settings):
    with pytest.raises(CampaignError, match="run `auditor run` first or pass --run-dir"):
        create_campaign(store, settings, spec(), now=NOW)


def test_a_finding_about_a_direct_assignment_does_not_relate_to_the_same_access_through_a_group(
    store, settings, tmp_path
):
    world = build_world()
    ana = next(u for u in world.tables["idc_users"] if u.user_name == "ana")
    admin = next(p for p in world.tables["permission_sets"] if p.name == "AdministratorAccess")
    world.assign(admin, world.group("Admins", ana), PROD)
    run = save_run(world, tmp_path / "run", settings)
    cid = create_campaign(store, settings, spec(scopes=[f"account:{PROD}"]), now=NOW, run_dir=run).campaign.id
    rules = {
        s.item.group: {f["rule_id"] for f in s.item.related_findings}
        for s in item_states(store, cid)
        if s.item.permission_set == "AdministratorAccess"
    }
    assert "idc-admin-direct-assignment" in rules[None]
    assert "idc-admin-direct-assignment" not in rules["Admins"]
    assert "idc-assignment-unused" in rules["Admins"]  # unused is about the access, whatever the path
