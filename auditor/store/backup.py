"""A copy of the state store an auditor can keep: every table as JSON lines, read in one snapshot, with a manifest.

``export`` reads every table inside one transaction (PostgreSQL: a
REPEATABLE READ snapshot; SQLite: the store's write lock), so the copy is
one moment of the store: the audit chain's head in the manifest is the last
entry of the copied ``audit_log``. The manifest names each file with its
row count and SHA-256, so a copy that was edited or cut short is told
before it is used. ``restore`` loads a copy into an empty database at the
same schema revision, keeps every row as it was (ids included), and
verifies the audit chain against the manifest's head (which needs the
store's key file: the copy holds no key).

Tables are read as the database has them (reflected), so every feature's
table is copied without this module naming it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import __version__
from auditor.store import AuditReport, Head, Store, StoreError, migrate

MANIFEST = "manifest.json"
FORMAT = 1
VERSION_TABLE = "alembic_version"  # the revision is in the manifest; the target database has its own


@dataclass(frozen=True)
class Exported:
    directory: Path
    revision: str | None
    head: Head
    rows: dict[str, int]  # per table


def export(store: Store, out: Path) -> Exported:
    """Write every table of ``store`` to ``out`` (a new or empty directory, made 0700; files 0600)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise StoreError(f"{out} is not empty: export into a new directory")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    connection = store.engine.connect()
    if store.engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    files: dict[str, dict[str, Any]] = {}
    with connection as conn, conn.begin():
        revision = migrate.current_in(conn)
        for table in _tables(conn):
            if table.name == VERSION_TABLE:
                continue
            path = out / f"{table.name}.jsonl"
            count = _write_rows(conn, table, path)
            files[table.name] = {"file": path.name, "rows": count, "sha256": _sha256(path)}
        last = conn.execute(sa.text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")).first()
    head = Head(last.id, last.hash) if last else Head(0, "0" * 64)
    manifest = {
        "format": FORMAT,
        "tool_version": __version__,
        "exported_at": store.clock.now().isoformat(),
        "source": store.display_url,
        "revision": revision,
        "audit_head": str(head),
        "tables": files,
    }
    _private_write(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return Exported(out, revision, head, {name: f["rows"] for name, f in files.items()})


def check(directory: Path) -> dict[str, Any]:
    """The manifest of a copy whose every file is present and unchanged; else ``StoreError`` naming the file."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{directory}: no readable {MANIFEST} ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise StoreError(f"{directory / MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT}")
    for name, entry in manifest["tables"].items():
        path = directory / entry["file"]
        if not path.is_file():
            raise StoreError(f"{directory}: {entry['file']} (table {name}) is missing")
        if _sha256(path) != entry["sha256"]:
            raise StoreError(f"{directory}: {entry['file']} does not match its SHA-256 in the manifest (changed)")
    return manifest


def restore(store: Store, directory: Path) -> AuditReport:
    """Load a checked copy into ``store`` (empty, at the copy's revision); returns the chain verified to its head."""
    manifest = check(directory)
    if manifest["revision"] != migrate.current(store.engine):
        raise StoreError(
            f"the copy is at schema revision {manifest['revision']}, the database at "
            f"{migrate.current(store.engine)}: restore with the release that exported it, then upgrade"
        )
    with store.engine.begin() as conn:
        tables = {t.name: t for t in _tables(conn)}
        occupied = [
            name
            for name in tables
            if name != VERSION_TABLE and conn.execute(sa.select(sa.func.count()).select_from(tables[name])).scalar_one()
        ]
        if occupied:
            raise StoreError(
                f"{store.display_url} is not empty ({', '.join(sorted(occupied))} hold rows): restore into an empty database"
            )
        unknown = sorted(set(manifest["tables"]) - set(tables))
        if unknown:
            raise StoreError(f"the copy has tables this database lacks: {', '.join(unknown)}")
        for table in tables.values():  # in foreign-key order
            entry = manifest["tables"].get(table.name)
            if entry is None:
                continue
            with (Path(directory) / entry["file"]).open(encoding="utf-8") as lines:
                rows = [_decode(table, json.loads(line)) for line in lines]
            if len(rows) != entry["rows"]:
                raise StoreError(f"{entry['file']}: {len(rows)} rows, the manifest says {entry['rows']}")
            for start in range(0, len(rows), 500):
                conn.execute(table.insert(), rows[start : start + 500])
            if conn.dialect.name == "postgresql":
                _advance_sequences(conn, table)
    return store.audit_report(Head.parse(manifest["audit_head"]))


def _tables(conn: Connection) -> list[sa.Table]:
    reflected = sa.MetaData()
    reflected.reflect(conn)
    return list(reflected.sorted_tables)


def _write_rows(conn: Connection, table: sa.Table, path: Path) -> int:
    order = list(table.primary_key.columns) or list(table.columns)
    count = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for row in conn.execute(sa.select(table).order_by(*order)).mappings():
            out.write(json.dumps({k: _encode(v) for k, v in row.items()}, sort_keys=True, separators=(",", ":")) + "\n")
            count += 1
    return count


def _encode(value: Any) -> Any:
    """JSON for a column value: a time as UTC ISO 8601 text, bytes as base64."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _decode(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        column = table.c[name]
        if value is not None and isinstance(column.type, sa.DateTime):
            moment = datetime.fromisoformat(value)
            # SQLite keeps naive UTC text (auditor.store.types); PostgreSQL a timestamp with time zone
            value = moment.replace(tzinfo=None) if not column.type.timezone else moment
        elif value is not None and isinstance(column.type, sa.LargeBinary):
            value = base64.b64decode(value)
        out[name] = value
    return out


def _advance_sequences(conn: Connection, table: sa.Table) -> None:
    """Explicit ids do not move a serial column's sequence: the next insert would reuse a restored id."""
    for column in table.primary_key.columns:
        sequence = conn.execute(
            sa.text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
        ).scalar()
        if sequence:
            conn.execute(
                sa.text(f"SELECT setval(:seq, COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"),
                {"seq": sequence},
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _private_write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
