"""Importing decisions: what is rejected (with file and physical line), what is a no-op, what replaces what."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from auditor.campaign import close_campaign, create_campaign, export_packets, import_decisions
from auditor.campaign.state import item_states
from auditor.store import Store, audit_log
from tests.campaign.estate import NOW, decide_csv, decide_xlsx, items_by_access, read_csv, spec, write_csv

LATER = NOW + timedelta(days=1)


@pytest.fixture
def store(store_url) -> Store:
    """The same tests on a SQLite file and on a fresh PostgreSQL database."""
    return Store.open(store_url)


@pytest.fixture
def campaign(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    packets = {p.reviewer: p for p in export_packets(store, cid, tmp_path / "packets", now=NOW)}
    return cid, packets, items_by_access(store, cid)


def current(store, cid) -> dict[str, tuple[str, str] | None]:
    return {
        s.item.item_id: (s.decision.decision, s.decision.justification) if s.decision else None
        for s in item_states(store, cid)
    }


def decision_entries(store, item_id: str) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.details, audit_log.c.actor)
            .where(audit_log.c.action == "campaign.decision", audit_log.c.subject.endswith(f"item {item_id}"))
            .order_by(audit_log.c.id)
        ).all()
    return [{**json.loads(r.details), "actor": r.actor} for r in rows]


def test_a_row_with_an_altered_protected_column_rejects_the_file(store, campaign, tmp_path):
    cid, packets, ids = campaign
    header, rows = read_csv(packets["boss@example.com"].csv)
    for row in rows:
        row["decision"] = "keep" if row["flagged"] == "no" else "revoke"
    rows[2]["access"] = "ReadOnly in dev (333333333333)"  # the reviewer softens what they keep
    edited = write_csv(tmp_path / "boss.csv", header, rows)

    result = import_decisions(store, cid, [edited], now=LATER)

    assert [str(r) for r in result.rejections] == [
        f"boss.csv line 4: item {rows[2]['item_id']}: protected columns were altered (access); "
        "only decision and justification may change"
    ]
    assert result.files[0].status == "rejected"
    assert set(current(store, cid).values()) == {None}  # nothing from the file was recorded


def test_a_row_from_another_reviewers_packet_is_rejected(store, campaign, tmp_path):
    cid, packets, ids = campaign
    ceo_header, ceo_rows = read_csv(packets["ceo@example.com"].csv)
    _, boss_rows = read_csv(packets["boss@example.com"].csv)
    stolen = next(r for r in boss_rows if r["item_id"] == ids[("ana", "AdministratorAccess")])
    stolen["decision"], stolen["justification"] = "keep", "she is fine"
    ceo_rows[0]["decision"] = "keep"
    mixed = write_csv(tmp_path / "ceo.csv", ceo_header, [ceo_rows[0], stolen])

    result = import_decisions(store, cid, [mixed], now=LATER)

    assert [str(r) for r in result.rejections] == [
        f"ceo.csv line 3: item {stolen['item_id']} belongs to boss@example.com's packet, not to ceo@example.com's"
    ]


def test_claiming_another_reviewers_row_by_editing_the_reviewer_is_tampering(store, campaign, tmp_path):
    cid, packets, ids = campaign
    header, rows = read_csv(packets["boss@example.com"].csv)
    rows[0]["reviewer"], rows[0]["decision"] = "ceo@example.com", "revoke"
    result = import_decisions(store, cid, [write_csv(tmp_path / "x.csv", header, rows[:1])], now=LATER)
    (rejection,) = result.rejections
    assert rejection.line == 2 and "protected columns were altered (reviewer)" in rejection.reason


def test_files_asserted_to_be_one_reviewers_reject_another_reviewers_rows(store, campaign, tmp_path):
    cid, packets, ids = campaign
    filled = decide_csv(
        packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("keep", "")}
    )
    result = import_decisions(store, cid, [filled], now=LATER, reviewer="boss@example.com")
    (rejection,) = result.rejections
    assert "belongs to ceo@example.com's packet, not to boss@example.com's" in rejection.reason


def test_an_unknown_item_is_rejected(store, campaign, tmp_path):
    cid, packets, _ = campaign
    header, rows = read_csv(packets["ceo@example.com"].csv)
    rows[0]["item_id"], rows[0]["decision"] = "C1-9999", "keep"
    result = import_decisions(store, cid, [write_csv(tmp_path / "ceo.csv", header, rows)], now=LATER)
    assert [str(r) for r in result.rejections] == ["ceo.csv line 2: unknown item 'C1-9999' (not in campaign 1)"]


def test_a_row_of_another_campaign_is_rejected(store, settings, run_dir, campaign, tmp_path):
    cid, packets, _ = campaign
    other = create_campaign(store, settings, spec(name="other"), now=NOW, run_dir=run_dir).campaign.id
    header, rows = read_csv(packets["ceo@example.com"].csv)
    rows[0]["decision"] = "keep"
    result = import_decisions(store, other, [write_csv(tmp_path / "ceo.csv", header, rows)], now=LATER)
    assert [str(r) for r in result.rejections] == [f"ceo.csv line 2: row of campaign '1', not campaign {other}"]


def test_reimporting_the_same_file_is_a_no_op(store, campaign, tmp_path):
    cid, packets, ids = campaign
    filled = decide_csv(
        packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("keep", "")}
    )
    first = import_decisions(store, cid, [filled], now=LATER)
    again = import_decisions(store, cid, [filled], now=LATER + timedelta(hours=1))
    assert (first.files[0].status, first.files[0].recorded) == ("applied", 1)
    assert again.ok and again.files[0].status == "duplicate"
    assert len(decision_entries(store, ids[("boss", "Developer")])) == 1
    # a new file repeating the same decision records nothing new either
    copy = tmp_path / "ceo-copy.csv"
    copy.write_bytes(filled.read_bytes() + b"\r\n")
    third = import_decisions(store, cid, [copy], now=LATER + timedelta(hours=2))
    assert (third.files[0].status, third.files[0].recorded, third.files[0].unchanged) == ("applied", 0, 1)
    assert len(decision_entries(store, ids[("boss", "Developer")])) == 1


def test_a_later_decision_replaces_an_earlier_one_and_both_stay_in_the_audit_log(store, campaign, tmp_path):
    cid, packets, ids = campaign
    item = ids[("boss", "Developer")]
    keep = decide_csv(packets["ceo@example.com"].csv, tmp_path / "keep.csv", {item: ("keep", "")})
    revoke = decide_csv(packets["ceo@example.com"].csv, tmp_path / "revoke.csv", {item: ("revoke", "moved to sales")})
    assert import_decisions(store, cid, [keep], now=LATER).ok
    assert import_decisions(store, cid, [revoke], now=LATER + timedelta(hours=1)).ok

    assert current(store, cid)[item] == ("revoke", "moved to sales")
    entries = decision_entries(store, item)
    assert [e["decision"] for e in entries] == ["keep", "revoke"]
    assert entries[1]["replaces"]["decision"] == "keep"
    # the file names the reviewer; whoever imported it is the actor (a packet is no proof of who filled it in)
    assert {e["actor"] for e in entries} == {"auditor"}
    assert {e["reviewer"] for e in entries} == {"ceo@example.com"}
    assert entries[0]["file"] == "keep.csv" and entries[0]["line"] == 2


def test_decisions_after_close_are_rejected(store, campaign, tmp_path):
    cid, packets, ids = campaign
    close_campaign(store, cid, now=LATER, out_dir=tmp_path / "evidence", undecided="keep_flagged")
    late = decide_csv(
        packets["ceo@example.com"].csv, tmp_path / "late.csv", {ids[("boss", "Developer")]: ("revoke", "")}
    )
    result = import_decisions(store, cid, [late], now=LATER + timedelta(hours=1))
    (rejection,) = result.rejections
    assert rejection.line == 2 and "was closed at 2026-11-29T08:00:00+00:00" in rejection.reason


def test_keeping_a_flagged_item_needs_a_justification_reported_on_its_physical_line(store, campaign, tmp_path):
    cid, packets, ids = campaign
    header, rows = read_csv(packets["boss@example.com"].csv)
    ana_dev, carl = ids[("ana", "Developer")], ids[("carl", "Developer")]
    for row in rows:
        if row["item_id"] == ana_dev:
            row["decision"], row["justification"] = "keep", "on call\nfor the platform"  # two physical lines
        if row["item_id"] == carl:
            row["decision"] = "keep"  # flagged: left the company
    order = [r["item_id"] for r in rows]
    assert order.index(ana_dev) < order.index(carl)
    result = import_decisions(store, cid, [write_csv(tmp_path / "boss.csv", header, rows)], now=LATER)
    (rejection,) = result.rejections
    assert rejection.line == order.index(carl) + 3  # header + one extra physical line before it
    assert rejection.reason == f"item {carl}: keeping a flagged item needs a justification (see related_findings)"

    rows[order.index(carl)]["justification"] = "rehired as a contractor"
    assert import_decisions(store, cid, [write_csv(tmp_path / "boss2.csv", header, rows)], now=LATER).ok
    assert current(store, cid)[carl] == ("keep", "rehired as a contractor")


def test_a_malformed_decision_is_rejected(store, campaign, tmp_path):
    cid, packets, ids = campaign
    bad = decide_csv(packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("maybe", "")})
    (rejection,) = import_decisions(store, cid, [bad], now=LATER).rejections
    assert "decision must be keep, revoke or reassign:EMAIL, got 'maybe'" in rejection.reason


def test_reassigning_to_the_person_under_review_is_refused(store, campaign, tmp_path):
    cid, packets, ids = campaign
    bad = decide_csv(
        packets["ceo@example.com"].csv,
        tmp_path / "ceo.csv",
        {ids[("boss", "Developer")]: ("reassign:boss@example.com", "")},
    )
    (rejection,) = import_decisions(store, cid, [bad], now=LATER).rejections
    assert "nobody reviews their own access" in rejection.reason


def test_a_reassigned_item_leaves_the_old_reviewers_packet(store, campaign, tmp_path):
    cid, packets, ids = campaign
    bot = ids[("deploy-bot", "iam_user")]
    moved = decide_csv(packets["boss@example.com"].csv, tmp_path / "a.csv", {bot: ("reassign:lead@example.com", "")})
    assert import_decisions(store, cid, [moved], now=LATER).ok
    stale = decide_csv(packets["boss@example.com"].csv, tmp_path / "b.csv", {bot: ("keep", "")})
    (rejection,) = import_decisions(store, cid, [stale], now=LATER).rejections
    assert rejection.reason.startswith(f"item {bot} is assigned to lead@example.com, not boss@example.com")
    assert bot not in {
        r["item_id"]
        for r in read_csv(export_packets(store, cid, tmp_path / "p2", now=LATER, reviewer="boss@example.com")[0].csv)[1]
    }


def test_workbook_decisions_import_and_a_tampered_workbook_row_names_its_row(store, campaign, tmp_path):
    cid, packets, ids = campaign
    item = ids[("boss", "Developer")]
    good = decide_xlsx(packets["ceo@example.com"].xlsx, tmp_path / "ceo.xlsx", {item: ("keep", "runs the team")})
    assert import_decisions(store, cid, [good], now=LATER).ok
    assert current(store, cid)[item] == ("keep", "runs the team")

    workbook = load_workbook(good)
    sheet = workbook["Review"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("last_used") + 1).value = "2026-11-27T06:00:00+00:00"
    workbook.save(tmp_path / "edited.xlsx")
    (rejection,) = import_decisions(store, cid, [tmp_path / "edited.xlsx"], now=LATER).rejections
    assert str(rejection).startswith(f"edited.xlsx line 2: item {item}: protected columns were altered (last_used)")


def test_a_file_that_is_not_a_packet_is_rejected_as_a_whole(store, campaign, tmp_path):
    cid, _, _ = campaign
    (tmp_path / "notes.csv").write_text("item,decision\nC1-0001,keep\n")
    (tmp_path / "notes.txt").write_text("keep all")
    result = import_decisions(store, cid, [tmp_path / "notes.csv", tmp_path / "notes.txt"], now=LATER)
    first, second = result.rejections
    assert first.line == 1 and "missing columns campaign, item_id" in first.reason
    assert str(second) == "notes.txt: not a packet: expected a .csv or .xlsx file"


def test_a_packet_saved_with_semicolons_by_a_spreadsheet_imports(store, campaign, tmp_path):
    cid, packets, ids = campaign
    header, rows = read_csv(packets["ceo@example.com"].csv)
    rows[0]["decision"] = "keep"
    path = tmp_path / "ceo.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    assert import_decisions(store, cid, [path], now=LATER).ok
    assert current(store, cid)[ids[("boss", "Developer")]] == ("keep", "")


def test_a_non_hex_signature_rejects_its_row_and_the_rest_of_the_batch_is_imported(store, campaign, tmp_path):
    cid, packets, ids = campaign
    header, rows = read_csv(packets["boss@example.com"].csv)
    for row in rows:
        row["decision"] = "keep" if row["flagged"] == "no" else "revoke"
        row["justification"] = "reviewed"
    rows[0]["signature"] = "é" * 64  # compare_digest raises TypeError on non-ASCII text
    forged = write_csv(tmp_path / "boss.csv", header, rows)
    genuine = decide_csv(
        packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("keep", "still needed")}
    )

    result = import_decisions(store, cid, [forged, genuine], now=LATER)

    assert [str(r) for r in result.rejections] == [
        f"boss.csv line 2: item {rows[0]['item_id']}: the signature is not 64 hexadecimal digits; the row cannot be checked"
    ]
    assert [f.status for f in result.files] == ["rejected", "applied"]
    assert current(store, cid)[ids[("boss", "Developer")]] == ("keep", "still needed")


def test_rightsize_is_accepted_for_permission_set_access_and_refused_for_an_iam_user(store, campaign, tmp_path):
    """Keep, but right-size: only access from a permission set has a policy to narrow; the row names what it is."""
    cid, packets, ids = campaign
    boss = packets["boss@example.com"]
    ana, ben, bot = ids[("ana", "Developer")], ids[("ben", "Developer")], ids[("deploy-bot", "iam_user")]
    workbook = load_workbook(boss.xlsx)
    (choices,) = workbook["Review"].data_validations.dataValidation
    assert choices.formula1 == '"keep,rightsize,revoke"'

    mixed = decide_xlsx(boss.xlsx, tmp_path / "mixed.xlsx", {ana: ("rightsize", ""), bot: ("rightsize", "")})
    result = import_decisions(store, cid, [mixed], now=LATER)
    (rejection,) = result.rejections
    order = [row["item_id"] for row in read_csv(boss.csv)[1]]
    assert rejection.line == order.index(bot) + 2
    assert rejection.reason == (
        f"item {bot}: rightsize applies only to access from a permission set (an Identity Center account "
        "assignment); this item is an IAM user's access: decide keep or revoke"
    )
    assert current(store, cid)[ana] is None  # a file is applied whole or not at all

    billing = ids[("dana", "Billing")]  # flagged: keeping it, right-sized or not, needs a why
    unjustified = decide_csv(boss.csv, tmp_path / "billing.csv", {billing: ("Right-Size", "")})
    (why,) = import_decisions(store, cid, [unjustified], now=LATER).rejections
    assert why.reason == f"item {billing}: keeping a flagged item needs a justification (see related_findings)"

    done = decide_xlsx(
        boss.xlsx, tmp_path / "boss.xlsx", {ana: ("rightsize", "uses a few EC2 reads"), ben: ("keep", "")}
    )
    result = import_decisions(store, cid, [done], now=LATER)
    assert result.ok and result.files[0].recorded == 2
    assert current(store, cid)[ana] == ("rightsize", "uses a few EC2 reads")
    (entry,) = decision_entries(store, ana)
    assert entry["decision"] == "rightsize" and entry["reviewer"] == "boss@example.com"

    again = export_packets(store, cid, tmp_path / "again", now=LATER, reviewer="boss@example.com")[0]
    prefilled = {row["item_id"]: row["decision"] for row in read_csv(again.csv)[1]}
    assert prefilled[ana] == "rightsize"  # signed with the rest of the row: re-importing it changes nothing
    assert import_decisions(store, cid, [again.csv], now=LATER).files[0].unchanged == 2
