"""The schema's one ordered history: Alembic revisions shipped in ``auditor/store/migrations``.

Configured in code (no alembic.ini at run time), so an installed wheel
migrates the same way as a checkout. The history is linear and forward-only:
a released revision is never edited; a change is a new revision file whose
``down_revision`` is the current head, and ``HEAD`` names it. A state
file of release 0.1.0 (``schema_migrations``, no ``alembic_version``)
upgrades from the baseline.

Alembic is loaded only to migrate: every command opens the store, and
Alembic with its templates takes a tenth of a second to import, so the
revision a database is at is read with SQLAlchemy and compared with ``HEAD``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor.store.keys import Keyring

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0008"  # the newest revision in MIGRATIONS; a test holds it to Alembic's own reading of the history
VERSION_TABLE = "alembic_version"


class SchemaVersionError(Exception):
    """The version table says something a linear history cannot."""


def config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    return HEAD


def scripts_head() -> str:
    """The head as Alembic reads it from the revision files (what ``HEAD`` must say)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database or one of release 0.1.0."""
    with engine.connect() as conn:
        return current_in(conn)


def current_in(conn: Connection) -> str | None:
    """The revision, read inside the caller's transaction (an export's snapshot)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    revisions = [row[0] for row in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    if len(revisions) > 1:  # the history is linear: two heads are a database edited by hand
        raise SchemaVersionError(f"{VERSION_TABLE} holds several revisions: {', '.join(sorted(revisions))}")
    return revisions[0] if revisions else None


def upgrade(engine: Engine, revision: str = "head", *, keyring: Keyring | None = None) -> None:
    """Apply every revision after the database's, in order, in one transaction.

    ``keyring`` is the store's key ring: the revision that takes campaign
    signing keys out of the database seals them with it.
    """
    from alembic import command

    cfg = config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["keyring"] = keyring
        command.upgrade(cfg, revision)
