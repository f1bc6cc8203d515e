"""Campaign signing keys live sealed under the key file, never in clear in the state database; decisions are chained."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.campaign import CampaignError, close_campaign, create_campaign, export_packets, import_decisions
from auditor.campaign.state import signing_key
from auditor.cli import main
from auditor.store import Store
from tests.campaign.estate import NOW, decide_csv, items_by_access, spec
from tests.store.test_migrations import _previous_release


@pytest.fixture
def store(tmp_path) -> Store:
    """These tests read SQLite's own files (the database and its log) or open the file again: SQLite only."""
    return Store.open(tmp_path / "state.db")


def _raw(path: Path) -> bytes:
    """Everything SQLite keeps for this store on disk: the file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_a_new_campaign_key_is_not_in_the_database_file(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    key = signing_key(store, cid)
    assert len(key) == 32
    raw = _raw(tmp_path / "state.db")
    assert key.hex().encode() not in raw and key not in raw

    # reading the database alone does not give the key: another key file cannot open it
    other = Store.open(tmp_path / "state.db", key_file=tmp_path / "other.key")
    with pytest.raises(CampaignError, match=f"campaign {cid}'s signing key cannot be opened"):
        signing_key(other, cid)


def test_an_older_store_s_clear_campaign_keys_are_sealed_and_gone_from_the_file(tmp_path):
    path = _previous_release(tmp_path / "state.db")
    clear = "ab" * 32
    assert clear.encode() in _raw(path)
    store = Store.open(path)
    assert signing_key(store, 1) == bytes.fromhex(clear)  # packets already sent still verify
    assert clear.encode() not in _raw(path) and bytes.fromhex(clear) not in _raw(path)


def test_a_rotated_key_reseals_campaign_keys_and_imports_still_verify(store, settings, run_dir, tmp_path, capsys):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    before = signing_key(store, cid)
    packets = {p.reviewer: p for p in export_packets(store, cid, tmp_path / "packets", now=NOW)}

    assert main(["audit", "rotate-key", "--state", str(tmp_path / "state.db")]) == 0
    assert "1 campaign key(s) resealed" in capsys.readouterr().out
    rotated = Store.open(tmp_path / "state.db")
    assert signing_key(rotated, cid) == before

    ids = items_by_access(rotated, cid)
    ceo = decide_csv(packets["ceo@example.com"].csv, tmp_path / "ceo.csv", {ids[("boss", "Developer")]: ("keep", "")})
    assert import_decisions(rotated, cid, [ceo], now=NOW + timedelta(days=1)).ok
    assert main(["audit", "verify", "--state", str(tmp_path / "state.db")]) == 0


def test_a_flipped_or_removed_decision_is_reported(store, settings, run_dir, tmp_path, capsys):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    manifest = close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged").evidence_dir
    state = str(tmp_path / "state.db")
    assert main(["audit", "verify", "--state", state, "--expect-head", str(manifest / "manifest.json")]) == 0
    assert "9 decisions" in capsys.readouterr().out

    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("UPDATE campaign_decisions SET decision = 'revoke' WHERE id = 3")
    db.commit()
    assert main(["audit", "verify", "--state", state]) == 1
    assert "decision 3 (campaign 1 item C1-" in (out := capsys.readouterr().out)
    assert "differs from its audit entry in decision" in out

    db.execute("UPDATE campaign_decisions SET decision = 'keep' WHERE id = 3")
    db.execute("DELETE FROM campaign_decisions WHERE id = 4")
    db.commit()
    assert main(["audit", "verify", "--state", state]) == 1
    assert "decision 4 (campaign 1 item C1-" in (out := capsys.readouterr().out)
    assert "is in the audit log but its row was removed" in out
