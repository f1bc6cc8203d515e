"""The state store: runs, findings history and the audit log, chained with a key kept outside the database.

SQLAlchemy Core over a SQLite file by default (any SQLAlchemy URL, e.g.
PostgreSQL, works). The schema is owned by one ordered Alembic history
(``auditor.store.migrate``), brought to its head when the store opens; the
tables here and in the feature modules (campaign, remediate, schedule
``schema``) describe that head. Times are timezone-aware UTC timestamps
stamped by the injected clock. Writes are transactional, and SQLite transactions take the
write lock up front (BEGIN IMMEDIATE) so a nightly run and a manual command
never interleave half-written state. Nothing here deletes rows.

The store is private to the account that runs the tool (a SQLite file 0600
in a 0700 directory) and holds no secret in clear: its key ring
(``keys``) signs the audit chain (``chain``) and seals campaign keys, and
``coverage`` checks that the rows that matter each have their entry.
``backup`` writes and restores a verifiable copy (``auditor db export|import``).
"""

from __future__ import annotations

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
from auditor.store import chain, coverage, keys, migrate
from auditor.store.chain import GENESIS, ChainResult, Head, entry_hash, entry_mac
from auditor.store.keys import Keyring
from auditor.store.types import UTCDateTime, canonical
from auditor.store.urls import display_url, redact

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditReport",
    "Head",
    "Store",
    "StoreError",
    "entry_hash",
    "metadata",
    "runs",
    "findings",
    "audit_log",
]

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
    # {employee_id: [department, title, ..., user name, email]} of the last whole HR feed (hr_history.roles),
    # on its run's row only: tomorrow's run sees movers, and a feed cut short
    sa.Column("hr_roles", sa.Text),
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
    sa.Column("key_id", sa.String(16)),  # the key ring's key that signed it; NULL: an older store's unkeyed entry
)


FINDINGS_PER_LOOKUP = 500  # ids in one IN (...): well under SQLite's and PostgreSQL's bound-parameter limits


def _record_findings(conn: Connection, run_id: int, as_of: datetime, findings_now: list[Finding]) -> None:
    """Every finding's latest state and its row of this run, a few statements for the whole run.

    A statement per finding cost a nightly run at estate scale about a minute
    (135,000 findings, three statements each); grouped, the same rows are
    written by one executemany per kind of change. A finding seen again keeps
    its first_seen; a resolved one keeps the last_seen of its last sighting.
    """
    ids = [f.finding_id for f in findings_now]
    known: set[str] = set()
    for at in range(0, len(ids), FINDINGS_PER_LOOKUP):
        chunk = ids[at : at + FINDINGS_PER_LOOKUP]
        known.update(conn.execute(sa.select(findings.c.finding_id).where(findings.c.finding_id.in_(chunk))).scalars())
    seen, resolved, new = [], [], []
    for finding in findings_now:
        values = {
            "rule_id": finding.rule_id,
            "severity": finding.severity,
            "category": finding.category,
            "status": finding.status,
            "account_id": finding.account_id,
            "last_run": run_id,
            "body": msgspec.json.encode(finding).decode(),
            "resolved_at": finding.resolved_at,
        }
        if finding.finding_id not in known:
            first_seen = finding.first_seen or as_of
            new.append({**values, "finding_id": finding.finding_id, "first_seen": first_seen, "last_seen": as_of})
            continue
        params = {"k_id": finding.finding_id, **{f"v_{k}": v for k, v in values.items()}}
        if finding.status == "resolved":
            resolved.append(params)
        else:
            seen.append({**params, "v_last_seen": as_of})
    for rows in (seen, resolved):  # one statement each: the columns set are those the rows carry
        if rows:
            statement = (
                findings.update()
                .where(findings.c.finding_id == sa.bindparam("k_id"))
                .values({key[2:]: sa.bindparam(key) for key in rows[0] if key.startswith("v_")})
            )
            conn.execute(statement, rows)
    if new:
        conn.execute(findings.insert(), new)
    if findings_now:
        conn.execute(
            run_findings.insert(),
            [
                {
                    "run_id": run_id,
                    "finding_id": f.finding_id,
                    "status": f.status,
                    "severity": f.severity,
                    "category": f.category,
                }
                for f in findings_now
            ],
        )


class StoreError(Exception):
    """The state store cannot be opened or is inconsistent."""


def data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")) / "auditor"


def default_url() -> str:
    return f"sqlite:///{data_dir() / 'state.db'}"


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


@dataclass
class AuditReport:
    """What ``auditor audit verify`` found: the chain, then the rows that must be in it."""

    chain: ChainResult
    rows: dict[str, int]  # rows checked against their entries, per kind
    problems: list[str]  # the chain's first break (if any), then every row without a matching entry
    key_file: Path

    @property
    def intact(self) -> bool:
        return not self.problems


class Store:
    def __init__(self, engine: Engine, keyring: Keyring, clock: Clock | None = None, url: str = "") -> None:
        self.engine = engine
        self.keyring = keyring
        self.clock = clock or SystemClock()
        self.url = url or str(engine.url)
        self._ring_stamp = _stamp(keyring.path)

    @property
    def display_url(self) -> str:
        """The store's URL as it may be shown: its password masked."""
        return display_url(self.url)

    @classmethod
    def open(
        cls,
        path_or_url: str | Path | None = None,
        *,
        clock: Clock | None = None,
        key_file: str | Path | None = None,
        auto_upgrade: bool = True,
    ) -> Store:
        """Open (creating if need be) the store and bring its schema to the newest revision.

        With ``auto_upgrade`` false (``[state] auto_upgrade = false``: a shared
        database upgraded by its operator) a database behind this release is
        refused, naming ``auditor db upgrade``; an empty one is still created.

        A SQLite file is created 0600 in a directory created 0700 (an existing
        file readable by others is tightened). The key file is ``key_file``
        (``[state] audit_key_file``), else ``$AUDITOR_AUDIT_KEY_FILE``, else
        the default beside the database; it is created when missing.
        """
        url = to_url(path_or_url)
        shown = display_url(url)
        clock = clock or SystemClock()
        if url.startswith("sqlite:///"):
            _private_sqlite_file(Path(url.removeprefix("sqlite:///")))
        try:
            engine = sa.create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"state store {shown}: {redact(str(exc))}") from exc
        if engine.dialect.name == "sqlite":
            _sqlite_write_locks(engine)
        path = Path(key_file or os.environ.get(keys.ENV_KEY_FILE) or keys.default_key_file(url, data_dir()))
        try:
            with engine.connect() as conn:
                ring, _ = keys.open_or_create(path.expanduser(), lambda: coverage.legacy_marks(conn), clock.now())
            store = cls(engine, ring, clock, url)
            was = migrate.current(engine)
            if auto_upgrade or was is None and not _has_tables(engine):
                store.upgrade()
            elif was != migrate.head():
                raise StoreError(
                    f"state store {shown} is at schema revision {was or 'of release 0.1.0'}, this release needs "
                    f"{migrate.head()}: run `auditor db upgrade` ([state] auto_upgrade is false)"
                )
        except sa.exc.OperationalError as exc:
            raise StoreError(f"state store {shown}: cannot use it: {redact(str(exc.orig))}") from exc
        except (keys.KeyFileError, migrate.SchemaVersionError) as exc:
            raise StoreError(f"state store {shown}: {exc}") from exc
        return store

    @property
    def key_file(self) -> Path:
        return self.keyring.path

    def upgrade(self) -> str | None:
        """Bring the schema to the newest revision; returns the revision it was at (None: empty or 0.1.0)."""
        was = migrate.current(self.engine)
        if was != migrate.head():
            migrate.upgrade(self.engine, keyring=self.keyring)
            if self.engine.dialect.name == "sqlite":  # no page of the old file (a campaign key) lingers in the WAL
                raw = self.engine.raw_connection()  # outside a transaction, as a checkpoint must be
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    raw.close()
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
            if hr_roles:  # only the latest is read: an estate's roles are megabytes, kept once, not every night
                conn.execute(
                    runs.update().where(runs.c.id != run_id, runs.c.hr_roles.is_not(None)).values(hr_roles=None)
                )
            _record_findings(conn, run_id, as_of, findings_now)
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
        """The last runs, oldest first, with counts by severity of their unresolved findings.

        A check of one person (kind ``check``) counts one person's findings: it is no point of the trend.
        """
        with self.engine.connect() as conn:
            recent = sa.select(runs).where(runs.c.kind != "check").order_by(runs.c.id.desc()).limit(limit)
            rows = conn.execute(recent).mappings().all()
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
        self._reload_keyring()
        last = conn.execute(
            sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        entry_id, prev = (last.id + 1, last.hash) if last else (1, GENESIS)
        at = self.clock.now()
        text = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        key = self.keyring.current
        digest = entry_mac(key, prev, entry_id, at, actor, action, subject, text)
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
                key_id=key.id,
            )
        )
        return AuditEntry(entry_id, at, actor, action, subject, details, prev, digest)

    def _reload_keyring(self) -> None:
        """A rotation by another process replaced the ring file: sign with its new current key from now on."""
        stamp = _stamp(self.keyring.path)
        if stamp != self._ring_stamp:
            self.keyring, self._ring_stamp = keys.load(self.keyring.path), stamp

    def audit_report(self, expect_head: Head | None = None) -> AuditReport:
        """Verify the chain (and that it still holds ``expect_head``), then every row that must be in it."""
        self._reload_keyring()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
            checked, missing = coverage.check(conn, rows, self.keyring.legacy)
        result = chain.verify(rows, self.keyring, expect_head)
        problems = ([result.problem] if result.problem else []) + missing
        return AuditReport(result, checked, problems, self.keyring.path)

    def verify_audit(self) -> tuple[int, str | None]:
        """(entries checked, None) when the chain and its rows are intact; else the first problem, described."""
        report = self.audit_report()
        return report.chain.checked, report.problems[0] if report.problems else None

    def head(self) -> Head:
        """The chain's last entry: written outside the database so a cut tail or a rewrite can be told."""
        with self.engine.connect() as conn:
            last = conn.execute(
                sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
            ).first()
        return Head(last.id, last.hash) if last else Head(0, GENESIS)

    def audit_head(self) -> str:
        """The head as ``id:hash`` text (what ``auditor audit verify --expect-head`` takes)."""
        return str(self.head())

    def rotate_key(self, actor: str = "auditor") -> tuple[str, str, int]:
        """Make a new key current; reseal every campaign signing key under it. (old id, new id, resealed)."""
        with self.engine.begin() as conn:  # the write lock: no entry is appended under the old key meanwhile
            self._reload_keyring()
            old = self.keyring
            new = keys.rotate(old, self.clock.now())
            sealed = conn.execute(sa.select(_campaign_keys).where(_campaign_keys.c.signing_key.is_not(None))).all()
            for row in sealed:
                context = campaign_key_context(row.id)
                conn.execute(
                    _campaign_keys.update()
                    .where(_campaign_keys.c.id == row.id)
                    .values(signing_key=new.seal(old.unseal(row.signing_key, context), context))
                )
            self.keyring, self._ring_stamp = new, _stamp(new.path)
            self._append(
                conn,
                actor,
                "audit.key_rotated",
                None,
                {"from": old.current.id, "to": new.current.id, "resealed_campaign_keys": len(sealed)},
            )
        return old.current.id, new.current.id, len(sealed)


def campaign_key_context(campaign_id: int) -> str:
    """What a campaign's sealed signing key is bound to: moved to another campaign, it does not open."""
    return f"campaign {campaign_id} signing key"


_campaign_keys = sa.table("campaigns", sa.column("id"), sa.column("signing_key"))


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _private_sqlite_file(path: Path) -> None:
    """The database file 0600 (and its directory 0700 when created here): it holds who can access what."""
    keys.private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            try:
                if candidate.stat().st_mode & 0o077:
                    os.chmod(candidate, 0o600)
            except (FileNotFoundError, PermissionError):
                continue


def _has_tables(engine: Engine) -> bool:
    return bool(sa.inspect(engine).get_table_names())


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
        cursor.execute("PRAGMA secure_delete=ON")  # a removed value (a campaign key) is overwritten, not left
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
