"""Closing: the undecided policy, conflicts that withhold a revocation, extension, and the remediator's list."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import msgspec
import pytest

from auditor.campaign import (
    CampaignError,
    close_campaign,
    create_campaign,
    export_packets,
    import_decisions,
    verify_evidence,
)
from auditor.campaign import revocations as campaign_revocations
from auditor.campaign.state import get_campaign
from auditor.store import Store
from tests.builders import DEV, PROD
from tests.campaign.estate import DUE, NOW, build_world, decide_csv, items_by_access, save_run, spec


@pytest.fixture
def store(store_url) -> Store:
    """The same tests on a SQLite file and on a fresh PostgreSQL database."""
    return Store.open(store_url)


@pytest.fixture
def cid(store, settings, run_dir):
    return create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id


def test_undecided_items_need_a_policy(store, cid, tmp_path):
    with pytest.raises(CampaignError, match=r"9 item\(s\) of campaign 1 are undecided; choose --undecided"):
        close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev")
    assert get_campaign(store, cid).status == "open"
    with pytest.raises(CampaignError, match="expected revoke, keep_flagged or extend:DAYS"):
        close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="extend:0")


def test_keep_flagged_keeps_undecided_items_and_marks_them_for_follow_up(store, cid, tmp_path):
    result = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    assert result.revocations == [] and result.settled_by_policy == 9
    with (tmp_path / "ev" / "items.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["decision"], r["undecided_at_close"], r["outcome"]) for r in rows} == {
        ("keep", "yes", "kept while undecided: follow up")
    }
    assert rows[0]["justification"] == "undecided at close: kept and flagged for follow-up (policy keep_flagged)"
    with pytest.raises(CampaignError, match="already closed"):
        close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev2", undecided="revoke")


def test_extend_moves_the_due_date_instead_of_closing(store, cid, tmp_path):
    late = DUE + timedelta(days=3)
    result = close_campaign(store, cid, now=late, out_dir=tmp_path / "ev", undecided="extend:7")
    assert not result.closed and result.due_at == late + timedelta(days=7)
    assert get_campaign(store, cid).due_at == late + timedelta(days=7)
    assert not (tmp_path / "ev").exists()


def test_revocations_exist_only_once_a_campaign_is_closed(store, cid, tmp_path):
    with pytest.raises(CampaignError, match="still open"):
        campaign_revocations(store, cid)
    closed = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="revoke")
    planned = campaign_revocations(store, cid)
    assert planned == closed.revocations
    assert {r.reason["decision"] for r in planned} == {"revoke"}
    assert {r.reason["source"] for r in planned} == {"policy:revoke"}


def test_a_revocation_that_would_remove_kept_access_is_withheld(store, settings, tmp_path):
    """Revoking dana's Finance membership would also take Billing in dev, which her manager kept."""
    world = build_world()
    ps = next(p for p in world.tables["permission_sets"] if p.name == "ReadOnly")
    finance = next(g for g in world.tables["idc_groups"] if g.display_name == "Finance")
    world.assign(ps, finance, PROD)
    run = save_run(world, tmp_path / "run", settings)
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run).campaign.id
    ids = items_by_access(store, cid)
    (boss,) = export_packets(store, cid, tmp_path / "p", now=NOW, reviewer="boss@example.com")
    filled = decide_csv(
        boss.csv,
        tmp_path / "boss.csv",
        {
            ids[("dana", "Billing")]: ("revoke", "moved to engineering"),
            ids[("dana", "ReadOnly")]: ("keep", "still reads the finance reports"),
            ids[("carl", "Developer")]: ("revoke", ""),
        },
    )
    assert import_decisions(store, cid, [filled], now=NOW).ok

    result = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")

    (conflict,) = result.conflicts
    assert conflict.item_id == ids[("dana", "Billing")] and conflict.kept_items == [ids[("dana", "ReadOnly")]]
    assert [r.reason["item_ids"] for r in result.revocations] == [[ids[("carl", "Developer")]]]
    assert "Conflicts to resolve (1)" in (tmp_path / "ev" / "summary.html").read_text()


def test_two_revoked_paths_through_one_membership_make_one_revocation(store, settings, tmp_path):
    world = build_world()
    ps = next(p for p in world.tables["permission_sets"] if p.name == "ReadOnly")
    finance = next(g for g in world.tables["idc_groups"] if g.display_name == "Finance")
    world.assign(ps, finance, PROD)
    run = save_run(world, tmp_path / "run", settings)
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run).campaign.id
    ids = items_by_access(store, cid)
    (boss,) = export_packets(store, cid, tmp_path / "p", now=NOW, reviewer="boss@example.com")
    both = {ids[("dana", "Billing")]: ("revoke", ""), ids[("dana", "ReadOnly")]: ("revoke", "")}
    assert import_decisions(store, cid, [decide_csv(boss.csv, tmp_path / "b.csv", both)], now=NOW).ok
    result = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    (membership,) = result.revocations
    assert membership.kind == "idc_group_membership"
    assert sorted(membership.reason["item_ids"]) == sorted(both)
    decoded = msgspec.json.decode((tmp_path / "ev" / "revocations.json").read_bytes())
    assert decoded[0]["target"] == {
        "identity_store_id": "d-1111111111",
        "group_id": "gid-Finance",
        "user_id": "uid-dana",
    }


def test_a_decision_arriving_while_closing_stops_the_close(store, cid, tmp_path, monkeypatch):
    import auditor.campaign.close as closing

    (ceo,) = export_packets(store, cid, tmp_path / "p", now=NOW, reviewer="ceo@example.com")
    item = read_first_item(ceo.csv)
    late = decide_csv(ceo.csv, tmp_path / "late.csv", {item: ("revoke", "")})
    write = closing.write_evidence

    def import_meanwhile(*args, **kwargs):
        assert import_decisions(store, cid, [late], now=NOW).ok
        return write(*args, **kwargs)

    monkeypatch.setattr(closing, "write_evidence", import_meanwhile)
    with pytest.raises(CampaignError, match="arrived while it was closing"):
        close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    assert get_campaign(store, cid).status == "open"


def read_first_item(path) -> str:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.DictReader(handle))["item_id"]


def test_rightsized_access_is_kept_and_each_permission_set_to_narrow_is_listed_with_its_command(
    store, settings, tmp_path
):
    """ana's and ben's Developer in dev and dana's ReadOnly (via Finance) are kept to right-size; Billing revoked."""
    world = build_world()
    ps = next(p for p in world.tables["permission_sets"] if p.name == "ReadOnly")
    finance = next(g for g in world.tables["idc_groups"] if g.display_name == "Finance")
    world.assign(ps, finance, PROD)
    run = save_run(world, tmp_path / "run", settings)
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run).campaign.id
    ids = items_by_access(store, cid)
    ana, ben, readonly = ids[("ana", "Developer")], ids[("ben", "Developer")], ids[("dana", "ReadOnly")]
    (boss,) = export_packets(store, cid, tmp_path / "p", now=NOW, reviewer="boss@example.com")
    filled = decide_csv(
        boss.csv,
        tmp_path / "boss.csv",
        {
            ana: ("rightsize", "needs EC2 reads only"),
            ben: ("rightsize", ""),
            readonly: ("rightsize", "reads the finance reports"),
            ids[("dana", "Billing")]: ("revoke", "moved to engineering"),
        },
    )
    assert import_decisions(store, cid, [filled], now=NOW).ok

    result = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")

    assert result.counts["rightsize"] == 3 and result.counts["rightsizings"] == 2
    assert result.counts["keep"] == result.counts["items"] - 1  # everything but Billing is kept
    assert result.revocations == []  # a right-sizing is never a revocation, and it protects what it keeps
    assert [c.kept_items for c in result.conflicts] == [[readonly]]
    developer, read_only = result.rightsizings
    assert (developer.permission_set, developer.account_id, developer.item_ids) == ("Developer", DEV, [ana, ben])
    assert developer.requested_by == ["boss@example.com"]
    assert developer.command == "auditor remediate plan --rightsize Developer --out rightsize-Developer.json"
    assert (read_only.permission_set, read_only.account_id, read_only.item_ids) == ("ReadOnly", PROD, [readonly])

    pack = tmp_path / "ev"
    listed = json.loads((pack / "items.json").read_text())["rightsizing"]
    assert [(r["permission_set"], r["account_id"], r["item_ids"], r["command"]) for r in listed] == [
        ("Developer", DEV, [ana, ben], developer.command),
        ("ReadOnly", PROD, [readonly], read_only.command),
    ]
    assert listed[1]["requests"][0]["justification"] == "reads the finance reports"
    with (pack / "items.csv").open(encoding="utf-8-sig", newline="") as handle:
        outcomes = {row["item_id"]: (row["decision"], row["outcome"]) for row in csv.DictReader(handle)}
    assert outcomes[ana] == ("rightsize", "kept; right-sizing requested")
    summary = (pack / "summary.html").read_text()
    assert "Right-sizing requested (2)" in summary and developer.command in summary
    assert verify_evidence(pack, store) == []
