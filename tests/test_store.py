import subprocess
import sys
from datetime import timedelta

import sqlalchemy as sa

from auditor.cli import main
from auditor.clock import FixedClock
from auditor.history import classify
from auditor.model import Finding, Principal
from auditor.snapshot import Manifest, Snapshot, SourceStatus
from auditor.store import Store, audit_log, migrate, runs
from tests.builders import AS_OF, DEV


def _finding(fid: str, rule: str = "iam-access-key-old", account: str | None = DEV, status: str = "new") -> Finding:
    return Finding(
        finding_id=fid,
        rule_id=rule,
        category="credential_hygiene",
        severity="medium",
        principal=Principal(type="access_key", id=fid, name="svc"),
        account_id=account,
        resource=fid,
        title=f"key {fid}",
        evidence={},
        controls=["CIS-AWS-1.14"],
        status=status,
    )


def _snapshot(iam_status: str = "ok") -> Snapshot:
    return Snapshot(
        manifest=Manifest(as_of=AS_OF, sources=[SourceStatus(source="iam", account_id=DEV, status=iam_status)])
    )


def _record(store: Store, found: list[Finding], as_of=AS_OF, snapshot=None, hr_roles=None) -> list[Finding]:
    classified = classify(found, store.previous_unresolved(), snapshot or _snapshot(), as_of)
    store.record_run(
        kind="run",
        started_at=as_of,
        as_of=as_of,
        config_hash="h",
        tool_version="t",
        exit_code=0,
        duration=1.0,
        findings_now=classified,
        counts={},
        sources=[],
        hr_roles=hr_roles,
    )
    return classified


def test_status_new_open_resolved_across_runs(store_url):
    store = Store.open(store_url)
    first = _record(store, [_finding("a"), _finding("b")])
    assert {f.finding_id: f.status for f in first} == {"a": "new", "b": "new"}
    later = AS_OF + timedelta(days=1)
    second = _record(store, [_finding("b"), _finding("c")], as_of=later)
    assert {f.finding_id: f.status for f in second} == {"a": "resolved", "b": "open", "c": "new"}
    b = next(f for f in second if f.finding_id == "b")
    assert b.first_seen == AS_OF
    a = next(f for f in second if f.finding_id == "a")
    assert a.resolved_at == later
    third = _record(store, [_finding("b"), _finding("c")], as_of=later + timedelta(days=1))
    assert {f.finding_id: f.status for f in third} == {"b": "open", "c": "open"}  # "a" reported resolved once
    assert store.time_to_resolve()["medium"] == {"resolved": 1, "mean_days": 1.0, "max_days": 1.0}
    assert [r["by_severity"] for r in store.recent_runs()] == [{"medium": 2}, {"medium": 2}, {"medium": 2}]


def test_a_failed_source_never_resolves(store_url):
    store = Store.open(store_url)
    _record(store, [_finding("a")])
    second = _record(store, [], snapshot=_snapshot("failed"))
    (carried,) = second
    assert carried.status == "open"
    assert carried.evidence["not_re_evaluated"] == f"iam was failed for account {DEV}"


def test_migrations_are_recorded_and_applied_once(store_url):
    Store.open(store_url)
    store = Store.open(store_url)
    assert store.upgrade() == migrate.head()  # already at the head: nothing applied
    with store.engine.connect() as conn:
        names = conn.execute(sa.text("select version_num from alembic_version")).all()
    assert names == [(migrate.head(),)]


def test_audit_verify_names_an_edited_or_deleted_entry(store_url, capsys):
    path = store_url
    store = Store.open(path)
    for n in range(5):
        store.audit("exception.added", f"subject {n}", {"n": n})
    assert main(["audit", "verify", "--state", str(path)]) == 0
    assert "5 entries verified" in capsys.readouterr().out

    with store.engine.begin() as db:
        db.execute(sa.text("update audit_log set details = :d where id = 3"), {"d": '{"n":99}'})
    assert main(["audit", "verify", "--state", str(path)]) == 1
    assert "entry 3 (exception.added" in capsys.readouterr().out

    with store.engine.begin() as db:
        db.execute(sa.text("update audit_log set details = :d where id = 3"), {"d": '{"n":2}'})
        db.execute(sa.text("delete from audit_log where id = 2"))
    assert main(["audit", "verify", "--state", str(path)]) == 1
    assert "entry 2 is missing" in capsys.readouterr().out


def test_two_processes_appending_keep_one_unbroken_chain(store_url):
    path = store_url
    Store.open(path)
    script = (
        "import sys; from auditor.store import Store; s = Store.open(sys.argv[1])\n"
        "for n in range(40): s.audit('test', sys.argv[2], {'n': n})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), name]) for name in ("one", "two")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert Store.open(path).verify_audit() == (80, None)


def test_times_are_stamped_by_the_injected_clock(store_url):
    clock = FixedClock(AS_OF + timedelta(hours=2, microseconds=5))
    store = Store.open(store_url, clock=clock)
    _record(store, [_finding("a")])
    entry = store.audit("exception.added", "a", {})
    assert store.latest_run()["finished_at"] == clock.now() == entry.at
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(audit_log.c.at)).scalars().all() == [clock.now(), clock.now()]
    assert store.verify_audit() == (2, None)


def test_only_the_latest_hr_roles_are_kept_and_a_run_without_them_leaves_them(store_url):
    store = Store.open(store_url)

    def night(day: int, hr_roles):
        _record(store, [], as_of=AS_OF + timedelta(days=day), hr_roles=hr_roles)

    night(0, {"E1": ["eng", "Engineer", None, None, "ann", "ann@example.com"]})
    night(1, None)  # a feed cut short is not remembered
    assert store.previous_hr_roles() == {"E1": ["eng", "Engineer", None, None, "ann", "ann@example.com"]}
    night(2, {"E1": ["data", "Analyst", "eng", "Engineer", "ann", "ann@example.com"]})
    assert store.previous_hr_roles()["E1"][:2] == ["data", "Analyst"]
    with store.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).where(runs.c.hr_roles.is_not(None))).scalar_one()
    assert kept == 1  # megabytes for a large estate: not once per night


def test_a_night_of_many_findings_keeps_each_ones_first_and_last_sighting(store_url):
    # more findings than one lookup of known ids holds: each is recognised however many lookups it takes
    store = Store.open(store_url)
    many = [_finding(f"f{n:04d}") for n in range(1234)]
    _record(store, many)
    later = AS_OF + timedelta(days=1)
    second = _record(store, many[1:] + [_finding("late")], as_of=later)
    assert {f.status for f in second if f.finding_id not in ("f0000", "late")} == {"open"}
    with store.engine.connect() as conn:
        rows = {r.finding_id: r for r in conn.execute(sa.text("SELECT * FROM findings"))}
        counted = conn.execute(sa.text("SELECT run_id, count(*) FROM run_findings GROUP BY run_id")).all()
    assert len(rows) == 1235 and sorted(n for _, n in counted) == [1234, 1235]
    assert rows["f0000"].status == "resolved" and rows["f0000"].last_seen == rows["f0000"].first_seen
    assert rows["f1233"].status == "open" and rows["f1233"].last_seen != rows["f1233"].first_seen
    assert rows["late"].status == "new" and rows["late"].first_seen == rows["late"].last_seen
