"""A whole quarterly campaign: create, export, import (keep, revoke, reassign), remind, close, verify."""

from __future__ import annotations

import email
import hashlib
import json
from datetime import timedelta

import msgspec

from auditor.campaign import (
    OutboxDelivery,
    close_campaign,
    create_campaign,
    export_packets,
    import_decisions,
    remind,
    revocations,
    verify_evidence,
)
from auditor.campaign.state import item_states
from auditor.model import Revocation
from tests.builders import DEV, PROD
from tests.campaign.estate import DUE, IDENTITY_STORE, INSTANCE_ARN, NOW, decide_csv, decide_xlsx, items_by_access, spec


def test_full_campaign_yields_verified_evidence_and_exactly_the_revocations(store, settings, run_dir, tmp_path):
    created = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir, actor="cli:owner")
    cid = created.campaign.id
    assert created.by_reviewer == {"boss@example.com": 7, "ceo@example.com": 1, "security@example.com": 1}
    ids = items_by_access(store, cid)

    packets = {p.reviewer: p for p in export_packets(store, cid, tmp_path / "packets", now=NOW)}
    assert set(packets) == {"boss@example.com", "ceo@example.com", "security@example.com"}
    assert all(p.html.is_file() and p.csv.is_file() and p.xlsx.is_file() for p in packets.values())

    # boss decides in the workbook: some keep, some revoke, one reassign
    boss = decide_xlsx(
        packets["boss@example.com"].xlsx,
        tmp_path / "boss.xlsx",
        {
            ids[("ana", "AdministratorAccess")]: ("revoke", ""),
            ids[("ana", "Developer")]: ("keep", ""),
            ids[("ben", "Developer")]: ("keep", ""),
            ids[("carl", "Developer")]: ("revoke", "left the company"),
            ids[("dana", "Billing")]: ("keep", "covers the finance close until January"),
            ids[("dana", "Developer")]: ("keep", ""),
            ids[("deploy-bot", "iam_user")]: ("reassign:platform-lead@example.com", ""),
        },
    )
    ceo = decide_csv(packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("keep", "")})
    result = import_decisions(store, cid, [boss, ceo], now=NOW + timedelta(days=2))
    assert result.ok, [str(r) for r in result.rejections]
    assert [f.recorded for f in result.files] == [7, 1]

    # the reassigned item is now the platform lead's; their packet holds only it
    (lead,) = export_packets(store, cid, tmp_path / "packets2", now=NOW, reviewer="platform-lead@example.com")
    assert lead.items == 1
    lead_file = decide_csv(lead.csv, tmp_path / "lead.csv", {ids[("deploy-bot", "iam_user")]: ("revoke", "unused")})
    assert import_decisions(store, cid, [lead_file], now=NOW + timedelta(days=3)).ok

    # three days before the due date only the security team (eve's item) is still pending
    reminded = remind(
        store,
        settings,
        cid,
        now=DUE - timedelta(days=3),
        delivery=OutboxDelivery(tmp_path / "outbox", DUE - timedelta(days=3)),
    )
    assert [(s.reviewer, s.step.kind, s.step.days) for s in reminded.sent] == [("security@example.com", "reminder", 3)]
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes())
    assert message["To"] == "security@example.com" and ids[("eve", "ReadOnly")] in message.get_payload()

    closed = close_campaign(
        store, cid, now=DUE + timedelta(hours=1), out_dir=tmp_path / "evidence", undecided="revoke", actor="cli:owner"
    )
    assert closed.closed and closed.settled_by_policy == 1 and closed.conflicts == []

    # exactly the items decided revoke (eve's by the undecided policy), each with a real AWS target
    revoked = {s.item.item_id for s in item_states(store, cid) if s.decision.decision == "revoke"}
    assert revoked == {
        ids[("ana", "AdministratorAccess")],
        ids[("carl", "Developer")],
        ids[("deploy-bot", "iam_user")],
        ids[("eve", "ReadOnly")],
    }
    planned = revocations(store, cid)
    assert {i for r in planned for i in r.reason["item_ids"]} == revoked
    by_kind = {r.kind: r for r in planned}
    assert by_kind["idc_group_membership"].target == {
        "identity_store_id": IDENTITY_STORE,
        "group_id": "gid-Engineers",
        "user_id": "uid-carl",
    }
    assert by_kind["iam_access_key"].target == {
        "account_id": DEV,
        "user_name": "deploy-bot",
        "access_key_id": "AKIAEXAMPLEDEPLOY001",
    }
    ana_admin = next(r for r in planned if r.target.get("principal_id") == "uid-ana")
    assert ana_admin.target["instance_arn"] == INSTANCE_ARN and ana_admin.account_id == PROD
    assert ana_admin.reason["reviewer"] == "boss@example.com"

    evidence = tmp_path / "evidence"
    assert {p.name for p in evidence.iterdir()} == {
        "summary.html",
        "items.csv",
        "items.json",
        "decisions.csv",
        "revocations.json",
        "manifest.json",
    }
    assert verify_evidence(evidence, store) == []
    on_disk = msgspec.json.decode((evidence / "revocations.json").read_bytes(), type=list[Revocation])
    assert on_disk == planned
    items = json.loads((evidence / "items.json").read_text())["items"]
    dana_billing = next(i for i in items if i["item"]["item_id"] == ids[("dana", "Billing")])
    assert dana_billing["decision"]["justification"] == "covers the finance close until January"
    assert dana_billing["decision"]["reviewer"] == "boss@example.com"
    bot = next(i for i in items if i["item"]["item_id"] == ids[("deploy-bot", "iam_user")])
    assert [h["decision"] for h in bot["history"]] == ["reassign", "revoke"]
    assert bot["reviewer"] == "platform-lead@example.com"
    assert store.verify_audit()[1] is None


def test_a_changed_evidence_file_fails_verification(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    assert verify_evidence(tmp_path / "ev", store) == []

    csv_file = tmp_path / "ev" / "items.csv"
    csv_file.write_bytes(csv_file.read_bytes().replace(b"keep", b"revoke", 1))
    problems = verify_evidence(tmp_path / "ev")
    assert len(problems) == 1 and problems[0].startswith("items.csv: SHA-256")


def test_a_rewritten_manifest_is_caught_by_the_audit_log(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    manifest = tmp_path / "ev" / "manifest.json"
    data = json.loads(manifest.read_text())
    (tmp_path / "ev" / "items.csv").write_text("item_id\n")
    data["files"]["items.csv"]["sha256"] = hashlib.sha256(b"item_id\n").hexdigest()
    manifest.write_text(json.dumps(data))
    assert verify_evidence(tmp_path / "ev") == []  # consistent on its own...
    (problem,) = verify_evidence(tmp_path / "ev", store)  # ...but not the manifest the close recorded
    assert "is not the one the audit log recorded" in problem
