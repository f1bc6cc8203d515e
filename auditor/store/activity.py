"""The CloudTrail ledger: what each trail's nightly reads have read, and the activity they found.

A nightly run reads only the log objects it has not read before and merges
what they show into what earlier runs found, so its cost follows one day of
new logs rather than the whole lookback window. Seven tables, per trail
(``s3://bucket/<prefix>/AWSLogs/``):

- ``cloudtrail_trails``: a generation counter (a run commits only if no other
  run committed since it loaded, so two runs never count an object twice)
  and the as-of time read up to;
- ``cloudtrail_accounts``: per account, the start of the window its evidence
  covers without a break (the union of every read), and the folded summary of
  the objects no listing can return again (``Folded``);
- ``cloudtrail_regions``: per region folder, the delivery time the listing
  resumes from (less the overlap for late delivery); it never passes an
  object that could not be fetched;
- ``cloudtrail_objects``: the log objects a listing can still return (the
  last overlap's), with what they held (size, records), and every damaged
  object with why, so a night's coverage and gaps are computed exactly as a
  full read computes them while the ledger stays the size of a few days;
- ``cloudtrail_activity``: first and last seen and events per principal key;
- ``cloudtrail_usage``: last use and calls per (principal key, IAM action,
  resource), what right-sizing proposes a policy from (the whole window, not
  one night's).

Rows are added and updated; only a full re-read (``--full``) replaces a
trail's rows, in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor.model import ActionUse, Activity, LifecycleEvent
from auditor.store import metadata
from auditor.store.types import UTCDateTime

NONE = ""  # stands for a missing account or detail in a key column
_BATCH = 500  # keys per IN list: well inside every database's limit on bound parameters

# One row per trail: the generation that guards commits, and how far its reads reached.
cloudtrail_trails = sa.Table(
    "cloudtrail_trails",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("as_of", UTCDateTime, nullable=False),  # the as-of time of the last committed read
    sa.Column("full_at", UTCDateTime),  # the as-of time of the last full read
)
# Since when each account's evidence runs without a break.
cloudtrail_accounts = sa.Table(
    "cloudtrail_accounts",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("folded", sa.Text),  # JSON Folded: the objects folded away; NULL: none yet
)
# Where each region folder's listing resumes: every object delivered before it was read (or is damaged).
cloudtrail_regions = sa.Table(
    "cloudtrail_regions",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("prefix", sa.String(500), primary_key=True),  # .../<acct>/CloudTrail/<region>/
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("resume", UTCDateTime, nullable=False),
)
# The ledger of log objects read: never fetched twice, and the source of each night's coverage.
cloudtrail_objects = sa.Table(
    "cloudtrail_objects",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("delivered", UTCDateTime, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("counted", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),  # why the object is damaged (its bytes will not change); NULL: read whole
    sa.Column("read_as_of", UTCDateTime, nullable=False),
    # a damaged object whose counts are in its account's Folded; kept for its line and its gap
    sa.Column("folded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("previous", UTCDateTime),  # folded: when the object before it in its region was delivered
)
# First and last seen per principal key, merged over every read.
cloudtrail_activity = sa.Table(
    "cloudtrail_activity",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("account_id", sa.String(12), primary_key=True),  # "" when organisation-wide
    sa.Column("detail", sa.String(200), primary_key=True),  # "" when none
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
)
# The access changes (Identity Center management events) each object held, whole: lifecycle metrics and
# the anomaly rules need who did what to whom and when, and an incremental night reads only new objects.
cloudtrail_changes = sa.Table(
    "cloudtrail_changes",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),  # the log object that held them
    sa.Column("events", sa.Text, nullable=False),  # JSON list of LifecycleEvent records
)
# Last use and calls per (principal key, IAM action, resource), merged over every read: right-sizing proposes
# from the whole observed window, and an incremental night reads one day of it.
cloudtrail_usage = sa.Table(
    "cloudtrail_usage",
    metadata,
    sa.Column("trail", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("account_id", sa.String(12), primary_key=True),  # "" when none
    sa.Column("detail", sa.String(200), primary_key=True),  # "" when none
    sa.Column("action", sa.String(200), primary_key=True),
    sa.Column("resource", sa.String(1000), primary_key=True),  # "" when the call named none
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
)
TABLES = (
    cloudtrail_trails,
    cloudtrail_accounts,
    cloudtrail_regions,
    cloudtrail_objects,
    cloudtrail_activity,
    cloudtrail_changes,
    cloudtrail_usage,
)
_CHANGES = msgspec.json.Decoder(list[LifecycleEvent])


class FoldedRegion(msgspec.Struct, frozen=True):
    """One region's part of a fold."""

    before: datetime  # every object delivered before it is folded, and its listing never starts earlier
    last: datetime | None = None  # the latest delivery folded (damaged objects too): a later gap's start


class Folded(msgspec.Struct, frozen=True):
    """An account's log objects that no listing can return again, summed as a full read counts them.

    A real trail writes an object per account, region and five minutes, so a
    ledger keeping every object would grow by about 115,000 rows a day for
    100 accounts in four regions. Objects older than every listing's start
    are folded into this one summary; only damaged ones keep their rows.
    """

    objects: int = 0  # listed (damaged ones too)
    read: int = 0  # read whole, or with some records skipped
    size: int = 0
    records: int = 0
    counted: int = 0
    skipped: int = 0
    first: datetime | None = None  # the earliest and latest delivery read
    last: datetime | None = None
    spacing: float = 0.0  # seconds: the largest spacing between consecutive deliveries read
    regions: dict[str, FoldedRegion] = {}


_FOLDED = msgspec.json.Decoder(Folded)


@dataclass(frozen=True)
class ReadObject:
    """One log object in the ledger."""

    key: str
    account_id: str
    region: str
    delivered: datetime
    size: int = 0
    records: int = 0
    counted: int = 0
    skipped: int = 0
    error: str | None = None  # damaged: decoding failed or some records could not be decoded
    folded: bool = False  # damaged and folded: its counts are in the account's Folded
    previous: datetime | None = None  # folded: the delivery before it in its region (None: none)


ActivityKey = tuple[str, str, str | None, str | None]  # kind, key, account, detail


def activity_key(activity: Activity) -> ActivityKey:
    return (activity.kind, activity.key, activity.account_id, activity.detail)


UsageKey = tuple[str, str, str | None, str | None, str, str | None]  # kind, key, account, detail, action, resource


def usage_key(use: ActionUse) -> UsageKey:
    return (use.kind, use.key, use.account_id, use.detail, use.action, use.resource)


@dataclass
class TrailMemory:
    """What the store holds for one trail."""

    trail: str
    generation: int = 0  # 0: never read
    as_of: datetime | None = None
    since: dict[str, datetime] = field(default_factory=dict)  # account -> start of its unbroken evidence
    resume: dict[str, datetime] = field(default_factory=dict)  # region prefix -> resume point
    objects: dict[str, list[ReadObject]] = field(default_factory=lambda: defaultdict(list))  # by account
    folded: dict[str, Folded] = field(default_factory=dict)  # by account
    activity: dict[ActivityKey, Activity] = field(default_factory=dict)
    changes: list[LifecycleEvent] = field(default_factory=list)
    usage: dict[UsageKey, ActionUse] = field(default_factory=dict)


def load_ledger(conn: Connection, trail: str) -> TrailMemory:
    """The trail's ledger alone: how far it was read, each account's window, resume points, the objects held.

    What a night's listing needs, and a small part of the memory; the rest is ``load_evidence``'s.
    """
    memory = TrailMemory(trail=trail)
    head = conn.execute(sa.select(cloudtrail_trails).where(cloudtrail_trails.c.trail == trail)).first()
    if head is None:
        return memory
    memory.generation, memory.as_of = head.generation, head.as_of
    for row in conn.execute(sa.select(cloudtrail_accounts).where(cloudtrail_accounts.c.trail == trail)):
        memory.since[row.account_id] = row.since
        if row.folded is not None:
            memory.folded[row.account_id] = _FOLDED.decode(row.folded)
    for row in conn.execute(sa.select(cloudtrail_regions).where(cloudtrail_regions.c.trail == trail)):
        memory.resume[row.prefix] = row.resume
    query = sa.select(cloudtrail_objects).where(cloudtrail_objects.c.trail == trail)
    for row in conn.execute(query.order_by(cloudtrail_objects.c.key)):
        memory.objects[row.account_id].append(
            ReadObject(
                key=row.key,
                account_id=row.account_id,
                region=row.region,
                delivered=row.delivered,
                size=row.size,
                records=row.records,
                counted=row.counted,
                skipped=row.skipped,
                error=row.error,
                folded=row.folded,
                previous=row.previous,
            )
        )
    return memory


def load_evidence(conn: Connection, memory: TrailMemory) -> None:
    """Fill ``memory`` (``load_ledger``'s, on the same connection) with the activity, access changes and usage."""
    trail = memory.trail
    if not memory.generation:
        return
    for row in conn.execute(sa.select(cloudtrail_activity).where(cloudtrail_activity.c.trail == trail)):
        activity = Activity(
            kind=row.kind,
            key=row.key,
            account_id=row.account_id or None,
            detail=row.detail or None,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            events=row.events,
        )
        memory.activity[activity_key(activity)] = activity
    for row in conn.execute(sa.select(cloudtrail_changes).where(cloudtrail_changes.c.trail == trail)):
        memory.changes.extend(_CHANGES.decode(row.events))
    used = cloudtrail_usage.c  # the largest table (principal x action x resource): rows unpacked, not named
    query = sa.select(
        used.kind, used.key, used.account_id, used.detail, used.action, used.resource, used.last_seen, used.events
    ).where(used.trail == trail)
    for kind, key, account, detail, action, resource, last_seen, events in conn.execute(query):
        account, detail, resource = account or None, detail or None, resource or None
        memory.usage[(kind, key, account, detail, action, resource)] = ActionUse(
            kind=kind,
            key=key,
            account_id=account,
            detail=detail,
            action=action,
            resource=resource,
            last_seen=last_seen,
            events=events,
        )


@dataclass
class Commit:
    """What one read adds to a trail's memory."""

    as_of: datetime
    since: dict[str, datetime]  # accounts whose start is new
    resume: dict[str, tuple[str, datetime]]  # region prefix -> (account, resume point)
    objects: list[ReadObject]  # to add
    activity: dict[ActivityKey, Activity]  # the merged activity (every key, changed or not)
    changes: dict[str, list[LifecycleEvent]] = field(default_factory=dict)  # object key -> its access changes
    full: bool = False  # replace the trail's rows instead of adding to them
    usage: dict[UsageKey, ActionUse] | None = None  # the merged usage (every key); None: leave it as it is
    folded: dict[str, Folded] = field(default_factory=dict)  # account -> its new fold
    forget: list[str] = field(default_factory=list)  # keys of stored objects now folded away
    settle: list[ReadObject] = field(default_factory=list)  # stored damaged objects now folded


def save(engine: Engine, memory: TrailMemory, commit: Commit) -> bool:
    """Write ``commit`` in one transaction; False (nothing written) when another run committed since ``memory``."""
    trail = memory.trail
    with engine.begin() as conn:
        if not _advance(conn, memory, commit):
            return False
        if commit.full:
            for table in TABLES[1:]:
                conn.execute(table.delete().where(table.c.trail == trail))
            stored: dict[ActivityKey, Activity] = {}
            known_prefixes: set[str] = set()
            known_accounts: set[str] = set()
            used: dict[UsageKey, ActionUse] = {}
        else:
            stored, known_prefixes, known_accounts = memory.activity, set(memory.resume), set(memory.since)
            used = memory.usage
        _upsert(conn, cloudtrail_accounts, {"trail": trail}, _account_rows(commit, known_accounts))
        _upsert(
            conn,
            cloudtrail_regions,
            {"trail": trail},
            [
                ({"prefix": prefix}, {"account_id": account, "resume": resume}, prefix in known_prefixes)
                for prefix, (account, resume) in commit.resume.items()
            ],
        )
        if commit.objects:
            conn.execute(
                cloudtrail_objects.insert(),
                [
                    {
                        "trail": trail,
                        "key": o.key,
                        "account_id": o.account_id,
                        "region": o.region,
                        "delivered": o.delivered,
                        "size": o.size,
                        "records": o.records,
                        "counted": o.counted,
                        "skipped": o.skipped,
                        "error": o.error,
                        "read_as_of": commit.as_of,
                        "folded": o.folded,
                        "previous": o.previous,
                    }
                    for o in commit.objects
                ],
            )
        _forget(conn, trail, commit)
        if commit.changes:
            conn.execute(
                cloudtrail_changes.insert(),
                [
                    {"trail": trail, "key": key, "events": msgspec.json.encode(events).decode()}
                    for key, events in commit.changes.items()
                ],
            )
        changed = [(k, a) for k, a in commit.activity.items() if stored.get(k) != a]
        _upsert(
            conn,
            cloudtrail_activity,
            {"trail": trail},
            [
                (
                    {"kind": k[0], "key": k[1], "account_id": k[2] or NONE, "detail": k[3] or NONE},
                    {"first_seen": a.first_seen, "last_seen": a.last_seen, "events": a.events},
                    k in stored,
                )
                for k, a in changed
            ],
        )
        if commit.usage is not None:
            _save_usage(conn, trail, used, commit.usage)
    return True


def _account_rows(commit: Commit, known: set[str]) -> list[tuple[dict, dict, bool]]:
    """An account's row: its start when new, its fold when it changed."""
    rows = []
    for account in sorted(set(commit.since) | set(commit.folded)):
        values: dict = {}
        if account in commit.since:
            values["since"] = commit.since[account]
        if account in commit.folded:
            values["folded"] = msgspec.json.encode(commit.folded[account]).decode()
        rows.append(({"account_id": account}, values, account in known))
    return rows


def _forget(conn: Connection, trail: str, commit: Commit) -> None:
    """Delete the objects folded away, and mark the damaged ones folded."""
    keys = cloudtrail_objects.c.key
    for start in range(0, len(commit.forget), _BATCH):
        batch = commit.forget[start : start + _BATCH]
        conn.execute(cloudtrail_objects.delete().where(cloudtrail_objects.c.trail == trail, keys.in_(batch)))
    if commit.settle:
        conn.execute(
            cloudtrail_objects.update()
            .where(cloudtrail_objects.c.trail == trail, keys == sa.bindparam("object_key"))
            .values(folded=True, previous=sa.bindparam("object_previous")),
            [{"object_key": o.key, "object_previous": o.previous} for o in commit.settle],
        )


def _save_usage(
    conn: Connection, trail: str, stored: dict[UsageKey, ActionUse], usage: dict[UsageKey, ActionUse]
) -> None:
    """Write the keys whose last use or count changed (merged usage only grows, so nothing is deleted)."""
    _upsert(
        conn,
        cloudtrail_usage,
        {"trail": trail},
        [
            (
                {
                    "kind": k[0],
                    "key": k[1],
                    "account_id": k[2] or NONE,
                    "detail": k[3] or NONE,
                    "action": k[4],
                    "resource": k[5] or NONE,
                },
                {"last_seen": u.last_seen, "events": u.events},
                k in stored,
            )
            for k, u in usage.items()
            if stored.get(k) != u
        ],
    )


def _advance(conn: Connection, memory: TrailMemory, commit: Commit) -> bool:
    """Take the next generation of the trail, unless another run took it first."""
    values = {"generation": memory.generation + 1, "as_of": commit.as_of}
    if commit.full:
        values["full_at"] = commit.as_of
    if memory.generation == 0:
        exists = conn.execute(
            sa.select(cloudtrail_trails.c.trail).where(cloudtrail_trails.c.trail == memory.trail)
        ).first()
        if exists is not None:
            return False
        conn.execute(cloudtrail_trails.insert().values(trail=memory.trail, **values))
        return True
    updated = conn.execute(
        cloudtrail_trails.update()
        .where(cloudtrail_trails.c.trail == memory.trail, cloudtrail_trails.c.generation == memory.generation)
        .values(**values)
    ).rowcount
    return updated == 1


def _upsert(conn: Connection, table: sa.Table, fixed: dict, rows: list[tuple[dict, dict, bool]]) -> None:
    """Insert the new rows and update the known ones (both dialects, no vendor upsert).

    Rows with the same columns go as one statement executed for many rows:
    a night changes thousands of activity rows, and a statement built per
    row costs more than the database's work. Rows differ in their columns
    (a new account whose trail has no log folder yet has no fold), and one
    statement takes one set of columns.
    """
    inserts: dict[tuple[str, ...], list[dict]] = {}
    for key, values, known in rows:
        if not known:
            row = {**fixed, **key, **values}
            inserts.setdefault(tuple(row), []).append(row)
    for batch in inserts.values():
        conn.execute(table.insert(), batch)
    updates: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict]] = {}
    for key, values, known in rows:
        if known:
            where = {**fixed, **key}
            params = {**{f"k_{k}": v for k, v in where.items()}, **{f"v_{k}": v for k, v in values.items()}}
            updates.setdefault((tuple(where), tuple(values)), []).append(params)
    for (where, values), params in updates.items():
        statement = (
            table.update()
            .where(*[table.c[name] == sa.bindparam(f"k_{name}") for name in where])
            .values({name: sa.bindparam(f"v_{name}") for name in values})
        )
        conn.execute(statement, params)
