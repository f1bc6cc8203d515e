"""Times become timezone-aware timestamps; Alembic replaces ``schema_migrations``.

Release 0.1.0 kept times as ISO 8601 text in three formats (seconds,
microseconds, with or without the separator of the day) and compared them
as text. Every value is parsed and rewritten as a UTC timestamp in place:
PostgreSQL converts with a cast, SQLite (which has no time type) gets the
one fixed-width UTC text SQLAlchemy reads back as a time, and its tables
are copied to declare the new type. Rows are rewritten, never dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"

TIMES = {
    "runs": ["started_at", "finished_at", "as_of"],
    "findings": ["first_seen", "last_seen", "resolved_at"],
    "audit_log": ["at"],
    "campaigns": ["created_at", "due_at", "snapshot_as_of", "closed_at"],
    "campaign_decisions": ["decided_at"],
    "campaign_imports": ["imported_at"],
    "campaign_messages": ["sent_at"],
    "remediation_runs": ["plan_created_at", "started_at", "finished_at", "rolled_back_at"],
    "remediation_actions": ["started_at", "finished_at", "rolled_back_at"],
    "remediation_notices": ["notified_at"],
    "job_locks": ["acquired_at", "expires_at"],
    "job_runs": ["scheduled_at", "started_at", "finished_at"],
}


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rewrite_sqlite_values(conn: sa.Connection, table: str, columns: list[str]) -> None:
    """Each stored text as the UTC timestamp text SQLAlchemy's SQLite DateTime reads (keyed by rowid)."""
    rows = conn.execute(sa.text(f"SELECT rowid, {', '.join(columns)} FROM {table}")).all()
    target = sa.table(table, sa.column("rowid"), *(sa.column(c, UTCDateTime()) for c in columns))
    for rowid, *texts in rows:
        values = {c: _parse(t) for c, t in zip(columns, texts, strict=True) if t is not None}
        if values:
            conn.execute(target.update().where(target.c.rowid == rowid).values(**values))


def _copy_as_timestamps(conn: sa.Connection, table: str, columns: list[str]) -> None:
    """SQLite: copy the table under a definition declaring the times as timestamps (values as they are).

    Changing the column with ``alter_column`` would copy each value through
    ``CAST(... AS DATETIME)``, which SQLite turns into the number 2026.
    """
    definition = sa.Table(table, sa.MetaData(), autoload_with=conn)
    for column in columns:
        definition.c[column].type = sa.DateTime(timezone=True)
    with op.batch_alter_table(table, copy_from=definition, recreate="always"):
        pass


def upgrade() -> None:
    conn = op.get_bind()
    for table, columns in TIMES.items():
        if conn.dialect.name == "sqlite":
            _rewrite_sqlite_values(conn, table, columns)
            _copy_as_timestamps(conn, table, columns)
            continue
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(timezone=True),
                existing_type=sa.String(40),
                postgresql_using=f"{column}::timestamptz",
            )
    if "schema_migrations" in sa.inspect(conn).get_table_names():
        op.drop_table("schema_migrations")
