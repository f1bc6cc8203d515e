"""The schema's one history: a fresh store, and a state file of release 0.1.0 upgraded in place."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import auditor.campaign.schema  # noqa: F401 (its tables join the store's metadata)
import auditor.events.schema  # noqa: F401 (its tables join the store's metadata)
import auditor.store.activity  # noqa: F401 (its tables join the store's metadata)
from auditor.campaign.state import all_campaigns
from auditor.remediate.schema import remediation_actions
from auditor.schedule.schema import job_locks, job_runs
from auditor.store import GENESIS, Store, StoreError, audit_log, entry_hash, findings, metadata, migrate, runs

PREVIOUS = Path(__file__).with_name("previous_release.sql")
ADDED_SINCE = {  # tables that later revisions add
    "alembic_version",
    "remediation_plans",
    "cloudtrail_trails",
    "cloudtrail_accounts",
    "cloudtrail_regions",
    "cloudtrail_objects",
    "cloudtrail_activity",
    "cloudtrail_changes",
    "cloudtrail_usage",
    "rightsize_proposals",
    "lifecycle_events",
    "event_dead_letters",
    "campaign_links",
    "campaign_sessions",
}
FEATURE_TABLES = {
    "0002_campaigns": [
        "campaigns",
        "campaign_items",
        "campaign_decisions",
        "campaign_imports",
        "campaign_people",
        "campaign_messages",
    ],
    "0003_remediation": ["remediation_runs", "remediation_actions", "remediation_notices"],
    "0004_scheduler": ["job_locks", "job_runs"],
}


def _previous_release(path: Path, *, features: bool = True) -> Path:
    """A state.db as release 0.1.0 left it: every feature used, or only runs (features never created)."""
    db = sqlite3.connect(path)
    db.executescript(PREVIOUS.read_text())
    if not features:
        for name, tables in FEATURE_TABLES.items():
            for table in tables:
                db.execute(f"DROP TABLE {table}")
            db.execute("DELETE FROM schema_migrations WHERE name = ?", (name,))
    db.commit()
    db.close()
    return path


def _rows(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    db.close()
    return counts


def _schema_differences(store: Store) -> list:
    with store.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def test_a_fresh_store_is_at_the_head_and_matches_the_tables_in_code(store_url):
    store = Store.open(store_url)
    assert migrate.current(store.engine) == migrate.head()
    assert _schema_differences(store) == []
    assert Store.open(store_url).upgrade() == migrate.head()  # reopening applies nothing


def test_the_previous_release_upgrades_in_place_keeping_every_row(tmp_path):
    path = _previous_release(tmp_path / "state.db")
    before = _rows(path)
    assert before["schema_migrations"] == 4 and before["runs"] == 2 and before["audit_log"] == 4

    store = Store.open(path)

    assert migrate.current(store.engine) == migrate.head()
    after = _rows(path)
    del before["schema_migrations"]  # Alembic's version table takes over its job
    assert {t: n for t, n in after.items() if t not in ADDED_SINCE} == before
    assert after["remediation_plans"] == before["remediation_runs"]  # every plan that ran is recorded
    assert _schema_differences(store) == []
    assert store.verify_audit() == (4, None)  # hashes over the old text times still verify
    with store.engine.connect() as conn:
        assert [(r.id, r.as_of, r.started_at) for r in conn.execute(sa.select(runs).order_by(runs.c.id))] == [
            (1, datetime(2026, 10, 1, 6, 0, tzinfo=UTC), datetime(2026, 10, 1, 6, 0, tzinfo=UTC)),
            (2, datetime(2026, 10, 2, 6, 0, 30, tzinfo=UTC), datetime(2026, 10, 2, 6, 0, 30, tzinfo=UTC)),
        ]
        resolved = conn.execute(sa.select(findings).where(findings.c.finding_id == "k1")).one()
        first_at = conn.execute(sa.select(audit_log.c.at).where(audit_log.c.id == 1)).scalar_one()
        action = conn.execute(sa.select(remediation_actions)).one()
        lock = conn.execute(sa.select(job_locks)).one()
        job = conn.execute(sa.select(job_runs)).one()
    assert (resolved.first_seen, resolved.resolved_at) == (
        datetime(2026, 10, 1, 6, 0, tzinfo=UTC),
        datetime(2026, 10, 2, 6, 0, 30, tzinfo=UTC),
    )
    assert first_at.tzinfo is UTC
    assert (action.started_at, action.finished_at) == (
        datetime(2026, 10, 4, 9, 0, 1, tzinfo=UTC),
        datetime(2026, 10, 4, 9, 0, 4, tzinfo=UTC),
    )
    assert lock.expires_at == datetime(2026, 10, 5, 6, 10, 0, 123456, tzinfo=UTC)
    assert (job.scheduled_at, job.finished_at) == (
        datetime(2026, 10, 5, 6, 0, tzinfo=UTC),
        datetime(2026, 10, 5, 6, 1, 0, 500000, tzinfo=UTC),
    )
    (campaign,) = all_campaigns(store)
    assert (campaign.name, campaign.due_at) == ("Q4", datetime(2026, 10, 16, 17, 0, tzinfo=UTC))
    assert store.time_to_resolve()["medium"] == {"resolved": 1, "mean_days": 1.0, "max_days": 1.0}
    store.audit("after.upgrade", None, {})
    assert store.verify_audit() == (5, None)


def test_a_previous_release_that_never_used_the_features_gets_their_tables(tmp_path):
    path = _previous_release(tmp_path / "state.db", features=False)
    store = Store.open(path)
    assert _schema_differences(store) == []
    assert _rows(path)["runs"] == 2 and _rows(path)["campaigns"] == 0
    assert store.verify_audit() == (4, None)


def test_times_are_compared_as_times_not_as_text(store_url):
    """An hour east of UTC sorts after UTC as text; as times 06:30+01:00 is 05:30Z, before 06:00Z."""
    store = Store.open(store_url)
    with store.engine.begin() as conn:
        for as_of in ("2026-11-02T06:00:00+00:00", "2026-11-02T06:30:00+01:00"):
            moment = datetime.fromisoformat(as_of)
            conn.execute(runs.insert().values(kind="run", started_at=moment, as_of=moment))
        earlier = conn.execute(
            sa.select(runs.c.id).where(runs.c.as_of < datetime(2026, 11, 2, 6, 0, tzinfo=UTC))
        ).scalars()
        assert list(earlier) == [2]
        assert conn.execute(sa.select(runs.c.as_of).where(runs.c.id == 2)).scalar_one() == datetime(
            2026, 11, 2, 5, 30, tzinfo=UTC
        )


def test_a_naive_time_is_refused(store_url):
    store = Store.open(store_url)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), store.engine.begin() as conn:
        conn.execute(runs.insert().values(kind="run", started_at=datetime(2026, 11, 2), as_of=datetime(2026, 11, 2)))


def test_postgresql_upgrades_the_previous_schema_to_timestamps(postgresql_url):
    legacy = sa.create_engine(postgresql_url)
    migrate.upgrade(legacy, "0001")  # the previous release's tables, times as text
    at = "2026-10-01T06:00:00+00:00"
    with legacy.begin() as conn:
        conn.execute(sa.text("CREATE TABLE schema_migrations (name VARCHAR(100) PRIMARY KEY, applied_at VARCHAR(40))"))
        conn.execute(sa.text("INSERT INTO runs (kind, started_at, as_of) VALUES ('run', :at, :at)"), {"at": at})
        link = entry_hash(GENESIS, 1, datetime.fromisoformat(at), "auditor", "run.completed", None, "{}")
        conn.execute(
            sa.text("INSERT INTO audit_log VALUES (1, :at, 'auditor', 'run.completed', NULL, '{}', :prev, :hash)"),
            {"at": at, "prev": GENESIS, "hash": link},
        )
    legacy.dispose()

    store = Store.open(postgresql_url)

    assert migrate.current(store.engine) == migrate.head()
    assert _schema_differences(store) == []
    assert store.verify_audit() == (1, None)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(runs.c.as_of)).scalar_one() == datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    store.engine.dispose()


def test_the_head_the_store_compares_with_is_alembics_head():
    # a new revision file without a new HEAD would leave every store one revision behind, unnoticed
    assert migrate.head() == migrate.scripts_head()


@pytest.mark.parametrize("revisions", [[], ["0005"], [migrate.HEAD]])
def test_the_revision_read_without_alembic_is_alembics_reading(tmp_path, revisions):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        for revision in revisions:
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    with engine.connect() as conn:
        assert migrate.current_in(conn) == MigrationContext.configure(conn).get_current_revision()


def test_a_version_table_edited_to_two_revisions_is_refused_naming_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url)
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0005')"))
    with pytest.raises(StoreError, match=f"alembic_version holds several revisions: 0005, {migrate.HEAD}"):
        Store.open(url)
