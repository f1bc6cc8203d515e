"""Two writers at once on PostgreSQL: audit appends, decision imports, the remediation journal, the run lock.

Each writer is a thread with its own store (its own engine and connections),
released together by a barrier, so their transactions really interleave on
the server. What must hold afterwards: nothing lost, nothing twice, one
unbroken audit chain whose every row has its entry.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from auditor.campaign import create_campaign, export_packets, import_decisions
from auditor.campaign.schema import campaign_decisions, campaign_imports
from auditor.campaign.state import item_states
from auditor.model import Principal
from auditor.remediate.errors import Refused
from auditor.remediate.journal import Journal
from auditor.remediate.plan import Plan, PlannedAction, sealed
from auditor.remediate.schema import remediation_actions, remediation_runs
from auditor.schedule.locks import LockHeld, acquire
from auditor.store import Store, audit_log
from tests.campaign.estate import NOW, build_world, make_settings, read_csv, save_run, spec, write_csv

WRITERS = ("one", "two")
APPENDS = 25


def _together(work: Callable[[str, threading.Barrier], object]) -> dict[str, object]:
    """Run ``work(name, barrier)`` in one thread per writer; re-raise the first failure."""
    barrier = threading.Barrier(len(WRITERS))
    results: dict[str, object] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = work(name, barrier)
        except BaseException as exc:  # noqa: BLE001 (handed to the test's thread below)
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(name,)) for name in WRITERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if failures:
        raise failures[0]
    assert not any(t.is_alive() for t in threads)
    return results


def _plan(label: str) -> Plan:
    actions = [
        PlannedAction(
            id=f"{label}-{n}",
            kind="iam_access_key_deactivate",
            description=f"deactivate {label}'s key {n}",
            target={"account_id": "111111111111", "user_name": label, "access_key_id": f"AKIA{label.upper()}{n}"},
            principal=Principal(type="access_key", id=f"AKIA{label.upper()}{n}", name=label),
            reasons=[],
            pre_state={"status": "Active"},
        )
        for n in range(3)
    ]
    return sealed(Plan(created_at=NOW, created_by=label, source={}, actions=actions))


def test_two_writers_lose_nothing_duplicate_nothing_and_keep_one_chain(postgresql_url, tmp_path):
    settings = make_settings()
    setup = Store.open(postgresql_url)
    run_dir = save_run(build_world(), tmp_path / "run", settings)
    cid = create_campaign(setup, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    files = []
    for packet in export_packets(setup, cid, tmp_path / "packets", now=NOW):
        header, rows = read_csv(packet.csv)
        for row in rows:
            row["decision"], row["justification"] = "keep", "still needed"
        files.append(write_csv(tmp_path / f"{packet.reviewer}.csv", header, rows))
    items = len(item_states(setup, cid))
    shared = _plan("shared")

    def work(name: str, barrier: threading.Barrier) -> dict:
        store = Store.open(postgresql_url)
        journal = Journal(store, actor=name)
        barrier.wait(timeout=60)
        for n in range(APPENDS):
            store.audit("test.append", name, {"n": n}, actor=name)
        order = files if name == "one" else list(reversed(files))  # the same files, met in the other order
        imported = import_decisions(store, cid, order, now=NOW + timedelta(hours=1), actor=name)
        run = journal.open_run(_plan(name), None)
        for record in journal.actions(run.id):
            journal.record(record, "remediate.action.done", status="done")
        try:
            journal.open_run(shared, None)
            opened_shared = True
        except Refused:
            opened_shared = False
        return {"imports": {f.file.name: f.status for f in imported.files}, "shared": opened_shared}

    results = _together(work)

    for path in files:  # each file applied once; the writer that came second was told it is a duplicate
        assert sorted(results[name]["imports"][path.name] for name in WRITERS) == ["applied", "duplicate"]
    assert sorted(results[name]["shared"] for name in WRITERS) == [False, True]
    store = Store.open(postgresql_url)
    with store.engine.connect() as conn:
        appended = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details).where(audit_log.c.action == "test.append")
        ).all()
        decisions = conn.execute(sa.select(campaign_decisions.c.item_id)).scalars().all()
        decision_entries = conn.execute(
            sa.select(sa.func.count()).where(audit_log.c.action == "campaign.decision")
        ).scalar_one()
        imports = conn.execute(sa.select(sa.func.count()).select_from(campaign_imports)).scalar_one()
        runs = conn.execute(sa.select(sa.func.count()).select_from(remediation_runs)).scalar_one()
        done = Counter(conn.execute(sa.select(remediation_actions.c.status)).scalars())
    assert Counter((actor, json.loads(details)["n"]) for actor, details in appended) == Counter(
        (name, n) for name in WRITERS for n in range(APPENDS)
    )
    assert sorted(decisions) == sorted(set(decisions)) and len(decisions) == items == decision_entries
    assert imports == len(files)
    assert runs == 3 and done == {"done": 6, "pending": 3}  # the shared plan's run was opened once, not applied
    report = store.audit_report()
    assert report.problems == []
    assert report.chain.head == store.head()


def test_the_run_lock_admits_one_holder_at_a_time(postgresql_url):
    Store.open(postgresql_url)
    rounds = 15

    def work(name: str, barrier: threading.Barrier) -> list[bool]:
        store = Store.open(postgresql_url)
        won = []
        for _ in range(rounds):
            barrier.wait(timeout=60)
            try:
                lease = acquire(store, "run", owner=name, wait_seconds=0, clock=lambda: NOW)
            except LockHeld as refused:
                assert refused.holder.owner in WRITERS and refused.holder.owner != name
                won.append(False)
                barrier.wait(timeout=60)
                barrier.wait(timeout=60)
                continue
            won.append(True)
            barrier.wait(timeout=60)  # the other writer has tried while this one holds it
            lease.release()
            barrier.wait(timeout=60)
        return won

    held = _together(work)
    assert [sorted([held["one"][n], held["two"][n]]) for n in range(rounds)] == [[False, True]] * rounds
