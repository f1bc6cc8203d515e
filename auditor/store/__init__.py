"""The state store: runs, findings history and the hash-chained audit log.

SQLAlchemy Core over a SQLite file by default (any SQLAlchemy URL, e.g.
PostgreSQL, works). The schema is owned by one ordered Alembic history
(``auditor.store.migrate``), brought to its head when the store opens; the
tables here and in the feature modules (campaign, remediate, schedule
``schema``) describe that head. Times are timezone-aware UTC timestamps
stamped by the injected clock. Writes are transactional, and SQLite transactions take the
write lock up front (BEGIN IMMEDIATE) so a nightly run and a manual command
never interleave half-written state. Nothing here deletes rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor.clock import Clock, SystemClock
from auditor.model import Finding
from auditor.store import migrate
from auditor.store.types import UTCDateTime, canonical

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("as_of", UTCDateTime, nullable=False),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("tool_version", sa.String(40)),
    sa.Column("exit_code", sa.Integer),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("counts", sa.Text),
    sa.Column("sources", sa.Text),
    sa.Column("out_dir", sa.String(1000)),  # where its snapshot/ and findings.json were written
    sa.Column("hr_roles", sa.Text),  # {employee_id: [department, title]}: tomorrow's run sees movers
)
findings = sa.Table(
    "findings",
    metadata,
    sa.Column("finding_id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("account_id", sa.String(12)),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("last_run", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
run_findings = sa.Table(
    "run_findings",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("finding_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(500)),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

GENESIS = "0" * 64


class StoreError(Exception):
    """The state store cannot be opened or is inconsistent."""


def default_url() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'auditor' / 'state.db'}"


def to_url(path_or_url: str | Path | None) -> str:
    if path_or_url is None or str(path_or_url) == "":
        return default_url()
    text = str(path_or_url)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str | None
    details: dict
    prev_hash: str
    hash: str


def entry_hash(
    prev_hash: str, entry_id: int, at: datetime, actor: str, action: str, subject: str | None, details: str
) -> str:
    """The chain's link: covers the time as canonical ISO text, so the hash does not depend on the database."""
    material = json.dumps([prev_hash, entry_id, canonical(at), actor, action, subject, details], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


class Store:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    @classmethod
    def open(cls, path_or_url: str | Path | None = None, *, clock: Clock | None = None) -> Store:
        """Open (creating if need be) the store and bring its schema to the newest revision."""
        url = to_url(path_or_url)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sa.create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"state store {url!r}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            _sqlite_write_locks(engine)
        store = cls(engine, clock)
        store.upgrade()
        return store

    def upgrade(self) -> str | None:
        """Bring the schema to the newest revision; returns the revision it was at (None: empty or 0.1.0)."""
        was = migrate.current(self.engine)
        if was != migrate.head():
            migrate.upgrade(self.engine)
        return was

    # --- runs and findings -------------------------------------------------------

    def previous_unresolved(self) -> dict[str, Finding]:
        """Findings not resolved as of the last recorded run, as they were last seen."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(findings.c.body).where(findings.c.status != "resolved")).all()
        return {f.finding_id: f for f in (msgspec.json.decode(r.body, type=Finding) for r in rows)}

    def record_run(
        self,
        *,
        kind: str,
        started_at: datetime,
        as_of: datetime,
        config_hash: str | None,
        tool_version: str,
        exit_code: int,
        duration: float,
        findings_now: list[Finding],
        counts: dict,
        sources: list,
        out_dir: str | None = None,
        hr_roles: dict[str, list[str]] | None = None,
    ) -> int:
        """Persist one run and every finding's latest state, in one transaction; returns the run id."""
        with self.engine.begin() as conn:
            run_id = conn.execute(
                runs.insert().values(
                    kind=kind,
                    started_at=started_at,
                    finished_at=self.clock.now(),
                    as_of=as_of,
                    config_hash=config_hash,
                    tool_version=tool_version,
                    exit_code=exit_code,
                    duration_seconds=round(duration, 3),
                    counts=json.dumps(counts),
                    sources=json.dumps(sources),
                    out_dir=out_dir,
                    hr_roles=json.dumps(hr_roles) if hr_roles else None,
                )
            ).inserted_primary_key[0]
            for finding in findings_now:
                body = msgspec.json.encode(finding).decode()
                values = dict(
                    rule_id=finding.rule_id,
                    severity=finding.severity,
                    category=finding.category,
                    status=finding.status,
                    account_id=finding.account_id,
                    last_run=run_id,
                    body=body,
                    resolved_at=finding.resolved_at,
                )
                if finding.status != "resolved":
                    values["last_seen"] = as_of
                updated = conn.execute(
                    findings.update().where(findings.c.finding_id == finding.finding_id).values(**values)
                ).rowcount
                if not updated:
                    conn.execute(
                        findings.insert().values(
                            finding_id=finding.finding_id,
                            first_seen=finding.first_seen or as_of,
                            last_seen=as_of,
                            **{k: v for k, v in values.items() if k != "last_seen"},
                        )
                    )
                conn.execute(
                    run_findings.insert().values(
                        run_id=run_id,
                        finding_id=finding.finding_id,
                        status=finding.status,
                        severity=finding.severity,
                        category=finding.category,
                    )
                )
            self._append(
                conn,
                "auditor",
                f"{kind}.completed",
                f"run {run_id}",
                {
                    "as_of": canonical(as_of),
                    "exit_code": exit_code,
                    "findings": len(findings_now),
                    "by_status": _count(findings_now, "status"),
                    "config_hash": config_hash,
                },
            )
        return run_id

    def previous_hr_roles(self) -> dict[str, list[str]]:
        """The HR department and title of each employee at the last run that read an HR feed."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(runs.c.hr_roles).where(runs.c.hr_roles.is_not(None)).order_by(runs.c.id.desc()).limit(1)
            ).first()
        return json.loads(row.hr_roles) if row else {}

    def latest_run(self, kind: str = "run") -> dict[str, Any] | None:
        """The most recent recorded run of a kind (its out_dir holds its snapshot and findings)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.kind == kind).order_by(runs.c.id.desc()).limit(1))
            found = row.mappings().first()
        return dict(found) if found else None

    def recent_runs(self, limit: int = 12) -> list[dict[str, Any]]:
        """The last runs, oldest first, with counts by severity of their unresolved findings."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings().all()
            out = []
            for row in reversed(rows):
                counts = conn.execute(
                    sa.select(run_findings.c.severity, sa.func.count())
                    .where(run_findings.c.run_id == row["id"], run_findings.c.status != "resolved")
                    .group_by(run_findings.c.severity)
                ).all()
                out.append(
                    {
                        "id": row["id"],
                        "as_of": row["as_of"],
                        "kind": row["kind"],
                        "exit_code": row["exit_code"],
                        "by_severity": dict(counts),
                    }
                )
        return out

    def time_to_resolve(self) -> dict[str, dict[str, float]]:
        """Per severity: how many findings were resolved and their mean and max days open."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(findings.c.severity, findings.c.first_seen, findings.c.resolved_at).where(
                    findings.c.resolved_at.is_not(None)
                )
            ).all()
        spans: dict[str, list[float]] = {}
        for severity, first, resolved in rows:
            days = (resolved - first).total_seconds() / 86400
            spans.setdefault(severity, []).append(days)
        return {
            s: {"resolved": len(v), "mean_days": round(sum(v) / len(v), 1), "max_days": round(max(v), 1)}
            for s, v in spans.items()
        }

    # --- audit log ------------------------------------------------------------------

    def audit(self, action: str, subject: str | None, details: dict, actor: str = "auditor") -> AuditEntry:
        with self.engine.begin() as conn:
            return self._append(conn, actor, action, subject, details)

    def audit_in(
        self, conn: Connection, action: str, subject: str | None, details: dict, actor: str = "auditor"
    ) -> AuditEntry:
        """Append to the audit log inside the caller's transaction, so the change and its entry commit together."""
        return self._append(conn, actor, action, subject, details)

    def _append(self, conn: Connection, actor: str, action: str, subject: str | None, details: dict) -> AuditEntry:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
        last = conn.execute(
            sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        entry_id, prev = (last.id + 1, last.hash) if last else (1, GENESIS)
        at = self.clock.now()
        text = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        digest = entry_hash(prev, entry_id, at, actor, action, subject, text)
        conn.execute(
            audit_log.insert().values(
                id=entry_id,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                details=text,
                prev_hash=prev,
                hash=digest,
            )
        )
        return AuditEntry(entry_id, at, actor, action, subject, details, prev, digest)

    def verify_audit(self) -> tuple[int, str | None]:
        """(entries checked, None) when the chain is intact; else the first broken entry, described."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
        prev, expected_id = GENESIS, 1
        for row in rows:
            if row.id != expected_id:
                return expected_id - 1, f"entry {expected_id} is missing (next is {row.id})"
            if row.prev_hash != prev:
                return (
                    expected_id - 1,
                    f"entry {row.id} does not follow entry {row.id - 1} (a row was changed or removed)",
                )
            if entry_hash(row.prev_hash, row.id, row.at, row.actor, row.action, row.subject, row.details) != row.hash:
                return expected_id - 1, f"entry {row.id} ({row.action} at {canonical(row.at)}) was altered"
            prev, expected_id = row.hash, expected_id + 1
        return len(rows), None

    def audit_head(self) -> str:
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
        return last.hash if last else GENESIS


def _count(items: list[Finding], field: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        key = getattr(item, field)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _sqlite_write_locks(engine: Engine) -> None:
    """SQLite: WAL for readers beside a writer, and BEGIN IMMEDIATE so writers queue instead of failing."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
