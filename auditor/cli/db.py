"""`auditor db upgrade|current|export|import`: the state store's schema, and a copy of it an auditor can keep."""

from __future__ import annotations

import argparse
from pathlib import Path

import sqlalchemy as sa

from auditor.cli import common
from auditor.exit_codes import EXIT_ATTENTION, EXIT_OK
from auditor.store import Store, StoreError, backup, migrate, to_url
from auditor.store.urls import display_url, redact

EXAMPLES = {"db": "auditor db current --state postgresql+psycopg://auditor@db.internal/auditor"}
MORE = """\
  auditor db upgrade                      # apply this release's schema revisions ([state] auto_upgrade = false)
  auditor db export backups/2026-12-02    # every table as JSON lines, a manifest with SHA-256s and the audit head
  auditor db import backups/2026-12-02 --state postgresql+psycopg://auditor@new-db/auditor   # into an empty database
"""


def register(commands: common.Commands) -> None:
    db = common.add_command(
        commands, "db", "The state store's schema revision, its upgrade, and a verifiable copy.", EXAMPLES["db"], MORE
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply every schema revision after the database's")
    current = actions.add_parser("current", help="print the database's schema revision and whether it is the newest")
    export = actions.add_parser("export", help="write every table, read in one snapshot, to a new directory")
    export.add_argument("out", type=Path, metavar="OUT", help="a new (or empty) directory")
    restore = actions.add_parser("import", help="load a copy written by `db export` into an empty database")
    restore.add_argument("copy", type=Path, metavar="DIR", help="the directory `db export` wrote")
    for parser in (upgrade, current, export, restore):
        common.add_config(parser)
        common.add_state(parser)


def handle(args: argparse.Namespace) -> int:
    settings = common.settings(args)
    url = to_url(args.state or settings.get("state", "url") or None)
    if args.db_command == "current":
        return _current(url)
    if args.db_command == "upgrade":
        was = _revision(url)
        store = Store.open(url, key_file=settings.key_file())
        print(f"state store: {store.display_url}")
        now = migrate.current(store.engine)
        print(f"upgraded from {was or 'an empty database'} to {now}" if was != now else f"already at {now} (head)")
        return EXIT_OK
    store = common.open_store(args, settings)
    print(f"state store: {store.display_url}")
    if args.db_command == "export":
        done = backup.export(store, args.out)
        print(f"exported {sum(done.rows.values())} rows of {len(done.rows)} tables to {done.directory}")
        print(
            f"schema revision {done.revision}; audit head {done.head} (keep it: `auditor audit verify --expect-head`)"
        )
        return EXIT_OK
    report = backup.restore(store, args.copy)
    print(f"restored {args.copy}: {report.chain.checked} audit entries, head {report.chain.head}")
    for problem in report.problems:
        print(f"  does not hold: {problem}")
    return EXIT_OK if report.intact else EXIT_ATTENTION


def _revision(url: str) -> str | None:
    """The database's revision without opening (or creating) the store; None for none or an empty one."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    try:
        engine = sa.create_engine(url)
        try:
            return migrate.current(engine)
        finally:
            engine.dispose()
    except (sa.exc.ArgumentError, ImportError, sa.exc.OperationalError) as exc:
        raise StoreError(f"state store {display_url(url)}: {redact(str(exc))}") from exc


def _current(url: str) -> int:
    print(f"state store: {display_url(url)}")
    revision, head = _revision(url), migrate.head()
    if revision == head:
        print(f"revision {revision} (head)")
        return EXIT_OK
    print(f"revision {revision or 'none (an empty database, or one of release 0.1.0)'}; this release's head is {head}")
    print("run `auditor db upgrade` to apply the rest")
    return EXIT_ATTENTION
