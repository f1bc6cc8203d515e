"""The schema's one ordered history: Alembic revisions shipped in ``auditor/store/migrations``.

Configured in code (no alembic.ini at run time), so an installed wheel
migrates the same way as a checkout. The history is linear and forward-only:
a released revision is never edited; a change is a new revision file whose
``down_revision`` is the current head. A state file of release 0.1.0
(``schema_migrations``, no ``alembic_version``) upgrades from the baseline.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from auditor.store.keys import Keyring

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database or one of release 0.1.0."""
    with engine.connect() as conn:
        return current_in(conn)


def current_in(conn: Connection) -> str | None:
    """The revision, read inside the caller's transaction (an export's snapshot)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", *, keyring: Keyring | None = None) -> None:
    """Apply every revision after the database's, in order, in one transaction.

    ``keyring`` is the store's key ring: the revision that takes campaign
    signing keys out of the database seals them with it.
    """
    cfg = config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["keyring"] = keyring
        command.upgrade(cfg, revision)
