"""The one time type of the state store: timezone-aware UTC timestamps on every database.

PostgreSQL stores ``timestamp with time zone``. SQLite has no time type:
SQLAlchemy keeps a DateTime as fixed-width text (``YYYY-MM-DD HH:MM:SS.ffffff``),
so every value is converted to UTC before it is written, and read back as an
aware UTC datetime. One zone and one width make SQLite's text comparison a
comparison of times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from auditor.clock import utc


class UTCDateTime(sa.types.TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def canonical(value: datetime) -> str:
    """The ISO 8601 text of a stored time that the audit log's hashes cover (microseconds only when set)."""
    return utc(value).isoformat()
