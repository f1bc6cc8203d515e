"""Attacks on the audit log by someone who can write the database but not read the key file."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.cli import main
from auditor.clock import FixedClock
from auditor.model import Principal
from auditor.pipeline import write_audit_head
from auditor.remediate.journal import Journal
from auditor.remediate.plan import Plan, PlannedAction, sealed
from auditor.store import GENESIS, Store, audit_log, entry_hash
from auditor.store.keys import load
from tests.builders import AS_OF
from tests.store.test_migrations import _previous_release


def _record_runs(store: Store, count: int) -> None:
    for n in range(count):
        at = AS_OF + timedelta(days=n)
        store.record_run(
            kind="run",
            started_at=at,
            as_of=at,
            config_hash="h",
            tool_version="t",
            exit_code=0,
            duration=1.0,
            findings_now=[],
            counts={},
            sources=[],
        )


def _verify(path: Path | str, capsys, *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--state", str(path), *extra])
    return code, capsys.readouterr().out


def _sql(store: Store, statement: str, **params) -> None:
    """What someone who can write the database (not the key file) does, on SQLite or PostgreSQL alike."""
    with store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _recompute_unkeyed(store: Store) -> None:
    """What an attacker without the key does: renumber and re-link every entry as a plain SHA-256 chain."""
    with store.engine.begin() as conn:
        rows = conn.execute(
            sa.select(
                audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.details
            ).order_by(audit_log.c.id)
        ).all()
        conn.execute(audit_log.delete())
        prev = GENESIS
        for new_id, (at, actor, action, subject, details) in enumerate(rows, start=1):
            link = entry_hash(prev, new_id, at, actor, action, subject, details)
            conn.execute(
                audit_log.insert().values(
                    id=new_id,
                    at=at,
                    actor=actor,
                    action=action,
                    subject=subject,
                    details=details,
                    prev_hash=prev,
                    hash=link,
                    key_id=None,
                )
            )
            prev = link


def test_a_cut_tail_is_caught_by_its_rows_and_by_the_head_a_run_wrote(store_url, tmp_path, capsys):
    path = store_url
    store = Store.open(path)
    _record_runs(store, 15)
    head_file = write_audit_head(tmp_path / "out", store)
    assert json.loads(head_file.read_text())["head"] == f"15:{store.head().hash}"

    _sql(store, "DELETE FROM audit_log WHERE id > 10")
    code, out = _verify(path, capsys)
    assert code == 1
    assert "run 11 has no audit entry" in out  # the runs it recorded are still there

    _sql(store, "DELETE FROM runs WHERE id > 10")  # the careful attacker removes those too
    assert _verify(path, capsys)[0] == 0  # nothing in the database can tell any more...
    code, out = _verify(path, capsys, "--expect-head", str(head_file))
    assert code == 1  # ...but the head kept outside it does
    assert "the chain ends at entry 10, but the expected head is entry 15: entries 11..15 were removed" in out


def test_a_chain_rewritten_without_the_key_does_not_verify(store_url, capsys):
    path = store_url
    store = Store.open(path)
    _record_runs(store, 12)
    expected = store.audit_head()

    _sql(store, "DELETE FROM audit_log WHERE id = 5")
    _sql(store, "DELETE FROM runs WHERE id = 5")
    _sql(store, "UPDATE runs SET exit_code = 1 WHERE id = 7")
    _sql(
        store,
        "UPDATE audit_log SET details = replace(details, :was, :now) WHERE id = 7",
        was='"exit_code":0',
        now='"exit_code":1',
    )
    _recompute_unkeyed(store)

    code, out = _verify(path, capsys)
    assert code == 1
    assert "entry 1 (run.completed at" in out and "is not keyed, but the chain is keyed after entry 0" in out

    # the same rewrite keeping the key's name: the links are not the key's HMAC
    _sql(store, "UPDATE audit_log SET key_id = :key", key=load(store.key_file).current.id)
    code, out = _verify(path, capsys)
    assert code == 1 and "entry 1 (run.completed at" in out and "was altered" in out
    assert _verify(path, capsys, "--expect-head", expected)[0] == 1


def test_the_expected_head_names_a_rewrite_at_the_same_length(store_url, capsys):
    path = store_url
    store = Store.open(path)
    _record_runs(store, 3)
    head = store.head()
    code, out = _verify(path, capsys, "--expect-head", str(head))
    assert code == 0 and f"head: {head} (holds the expected head 3)" in out
    other = f"{head.id}:{'ab' * 32}"
    code, out = _verify(path, capsys, "--expect-head", other)
    assert code == 1 and f"entry {head.id} is not the expected head (abababababababab..." in out
    assert main(["audit", "verify", "--state", str(path), "--expect-head", "nonsense"]) == 2


def test_every_row_needs_its_entry_and_the_entry_must_say_the_same(store_url, capsys):
    """A remediation journal row retargeted after the fact (e.g. to make rollback touch another key)."""
    path = store_url
    store = Store.open(path, clock=FixedClock(AS_OF))
    target = {"account_id": "111111111111", "user_name": "frank", "access_key_id": "AKIAFRANK"}
    action = PlannedAction(
        id="a1",
        kind="iam_access_key_deactivate",
        description="deactivate frank's key",
        target=target,
        principal=Principal(type="access_key", id="AKIAFRANK", name="frank"),
        reasons=[],
        pre_state={"status": "Active"},
    )
    plan = sealed(Plan(created_at=AS_OF, created_by="t", source={}, actions=[action]))
    journal = Journal(store)
    run = journal.open_run(plan, None)
    (record,) = journal.actions(run.id)
    journal.record(record, "remediate.action.done", status="done")
    assert _verify(path, capsys)[0] == 0

    retarget = json.dumps({**target, "access_key_id": "AKIAOTHER"}, sort_keys=True)
    _sql(store, "UPDATE remediation_actions SET target = :target", target=retarget)
    code, out = _verify(path, capsys)
    assert code == 1 and f"remediation run {run.id} action a1 differs from its audit entries in target" in out

    _sql(store, "DELETE FROM remediation_actions")
    code, out = _verify(path, capsys)
    assert code == 1 and f"remediation run {run.id} action a1 is in the audit log but its row was removed" in out


def test_rotation_keeps_older_entries_verifiable_and_refuses_a_retired_key_afterwards(store_url, capsys):
    path = store_url
    store = Store.open(path)
    _record_runs(store, 2)
    old = load(store.key_file).current.id
    assert main(["audit", "rotate-key", "--state", str(path)]) == 0
    assert "(was " + old + ")" in capsys.readouterr().out
    later = Store.open(path)
    _record_runs(later, 2)
    ring = load(later.key_file)
    assert [k.id for k in ring.keys][0] == old and len(ring.keys) == 2
    assert later.key_file.stat().st_mode & 0o777 == 0o600
    code, out = _verify(path, capsys)
    assert code == 0 and "5 entries verified (5 keyed, 0 legacy unkeyed)" in out

    # a process still holding the old key signs after the rotation: refused
    stale = Store(later.engine, ring.__class__(ring.path, ring.keys[:1], ring.legacy))
    stale._ring_stamp = later._ring_stamp
    stale.audit("late", None, {})
    code, out = _verify(path, capsys)
    assert code == 1 and "entry 6 (late at" in out and f"retired key {old} after a newer key took over" in out


def test_a_store_opened_with_another_key_file_cannot_vouch_for_the_entries(store_url, tmp_path, capsys, monkeypatch):
    path = store_url
    _record_runs(Store.open(path), 1)
    monkeypatch.setenv("AUDITOR_AUDIT_KEY_FILE", str(tmp_path / "elsewhere.key"))
    code, out = _verify(path, capsys)
    assert code == 1 and "elsewhere.key does not hold key" in out


def test_an_older_store_verifies_its_unkeyed_entries_as_legacy_and_keys_the_new_ones(tmp_path, capsys):
    path = _previous_release(tmp_path / "state.db")
    store = Store.open(path)
    assert load(store.key_file).legacy == {
        "audit_log": 4,
        "runs": 2,
        "campaign_decisions": 1,
        "remediation_runs": 1,
    }
    store.audit("after.upgrade", None, {})
    code, out = _verify(path, capsys)
    assert code == 0 and "5 entries verified (1 keyed, 4 legacy unkeyed)" in out
    _sql(store, "UPDATE audit_log SET key_id = NULL WHERE id = 5")
    code, out = _verify(path, capsys)
    assert code == 1 and "entry 5 (after.upgrade at" in out and "is not keyed" in out


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_the_state_directory_database_and_key_file_are_private(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = tmp_path / "data" / "auditor" / "state.db"
        store = Store.open(path)
        _record_runs(store, 1)
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert path.parent.parent.stat().st_mode & 0o777 == 0o700
        for name in ("state.db", "state.db-wal", "state.key"):
            assert (path.parent / name).stat().st_mode & 0o777 == 0o600, name

        loose = tmp_path / "old.db"  # a store an earlier release left readable by everyone
        sqlite3.connect(loose).close()
        os.chmod(loose, 0o644)
        Store.open(loose)
        assert loose.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)
