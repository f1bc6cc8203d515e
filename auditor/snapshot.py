"""The snapshot: every collected table plus a manifest of what happened.

A snapshot is a directory handed from ``collect`` to ``analyze``::

    snapshot/
      manifest.json        format version, as-of, per source/account status,
                           coverage windows and errors, per-table completeness,
                           optional attributes that could not be read,
                           unreadable inputs
      accounts.jsonl       one record per line, one file per table (TABLES)
      ...

It is self-contained so a run can be re-analysed offline, and versioned so
an older snapshot is refused with a clear message rather than misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import msgspec

from auditor.files import atomic_write
from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    ActionUse,
    Activity,
    GroupMembership,
    HrPerson,
    IamGroup,
    IamPolicy,
    IamRole,
    IamUser,
    IdcGroup,
    IdcUser,
    LifecycleEvent,
    PermissionSet,
    RootCredentials,
    ServiceLastAccessed,
)

FORMAT_VERSION = 1

TABLES: dict[str, type] = {
    "accounts": Account,
    "idc_users": IdcUser,
    "idc_groups": IdcGroup,
    "idc_memberships": GroupMembership,
    "permission_sets": PermissionSet,
    "account_assignments": AccountAssignment,
    "iam_users": IamUser,
    "access_keys": AccessKey,
    "iam_groups": IamGroup,
    "iam_roles": IamRole,
    "iam_policies": IamPolicy,
    "root_credentials": RootCredentials,
    "service_access": ServiceLastAccessed,
    "hr_people": HrPerson,
    "activity": Activity,
    "action_usage": ActionUse,
    "lifecycle_events": LifecycleEvent,
}

# Tables added after format 1 was first written: a snapshot from before them has no file for them. They
# read as empty, and since its manifest names no state for them (table_complete is False), no rule takes
# their absence as evidence of anything.
LATER_TABLES = frozenset({"iam_policies", "action_usage", "lifecycle_events"})

SOURCES = ("organizations", "identity_center", "iam", "access_advisor", "cloudtrail", "hr")

# How completely a collector listed one table (for one account).
COMPLETE, PARTIAL, FAILED = "complete", "partial", "failed"
TABLE_STATES = (COMPLETE, PARTIAL, FAILED)  # from best to worst


class AttributeGap(msgspec.Struct, frozen=True, kw_only=True):
    """An optional attribute that could not be read for some objects.

    The objects themselves were listed: their tables stay complete, and
    only what reads this attribute lacks evidence for them.
    """

    what: str  # "<record>.<field>", e.g. "permission_set.tags"
    error: str  # the error as the manifest words it: "Code: message (service, Operation)"
    objects: list[str] = []  # ids of the objects affected (ARNs where they have one)


class SourceStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What happened to one source for one account (account_id None = org-wide).

    ``status`` and ``error`` summarise the source; ``tables`` says how
    completely each table was listed and ``attributes`` which optional
    attributes of which objects could not be read, so that a rule can
    depend on exactly what it reads.
    """

    source: str
    account_id: str | None = None
    status: str = "ok"  # ok | partial | failed
    error: str | None = None
    coverage_start: datetime | None = None
    coverage_end: datetime | None = None
    detail: dict = {}
    tables: dict[str, str] = {}  # table -> complete | partial | failed
    attributes: list[AttributeGap] = []

    def table_complete(self, table: str) -> bool:
        """Whether ``table`` was listed completely here.

        A failed source vouches for nothing. A status without per-table
        states (an older manifest, or a source that keeps none) vouches for
        its tables only when the whole source is ``ok``.
        """
        if self.status == "failed":
            return False
        if self.tables:
            return self.tables.get(table) == COMPLETE
        return self.status == "ok"


class Unreadable(msgspec.Struct, frozen=True, kw_only=True):
    what: str  # "s3://bucket/key" or "hr.csv line 7"
    error: str


class Manifest(msgspec.Struct, kw_only=True):
    format_version: int = FORMAT_VERSION
    as_of: datetime
    collected_at: datetime | None = None
    tool_version: str | None = None
    sources: list[SourceStatus] = []
    unreadable: list[Unreadable] = []
    counts: dict[str, int] = {}


@dataclass
class SourceResult:
    """What one collector returns: records per table and how it went."""

    tables: dict[str, list] = field(default_factory=dict)
    statuses: list[SourceStatus] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    def add(self, table: str, records: list) -> None:
        self.tables.setdefault(table, []).extend(records)

    def merge(self, other: SourceResult) -> None:
        for table, records in other.tables.items():
            self.add(table, records)
        self.statuses.extend(other.statuses)
        self.unreadable.extend(other.unreadable)


@dataclass
class Snapshot:
    """All tables in memory, plus the manifest. Rules read only this."""

    manifest: Manifest
    tables: dict[str, list] = field(default_factory=dict)
    # (source, account) -> status, for the rules' per-account lookups over thousands of accounts
    _status_index: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def table(self, name: str) -> list:
        if name not in TABLES:
            raise KeyError(f"unknown snapshot table {name!r}")
        return self.tables.get(name, [])

    def status_of(self, source: str, account_id: str | None = None) -> SourceStatus | None:
        """The manifest entry for a source (and account), if any: the first one listed."""
        sources = self.manifest.sources
        index = self._status_index
        if index is None or index[0] is not sources or index[1] != len(sources):  # built, or sources changed
            entries: dict[tuple[str, str | None], SourceStatus] = {}
            for status in sources:
                entries.setdefault((status.source, status.account_id), status)
            index = self._status_index = (sources, len(sources), entries)
        return index[2].get((source, account_id))

    def table_complete(self, source: str, table: str, account_id: str | None = None) -> bool:
        """Whether ``source`` listed ``table`` completely (for ``account_id``; None: organisation-wide)."""
        status = self.status_of(source, account_id)
        return status is not None and status.table_complete(table)

    def attribute_gap(self, what: str, object_id: str) -> str | None:
        """The error that kept attribute ``what`` of ``object_id`` unread, or None when it was read."""
        return self._attribute_gaps.get((what, object_id))

    @cached_property
    def _attribute_gaps(self) -> dict[tuple[str, str], str]:
        gaps: dict[tuple[str, str], str] = {}
        for status in self.manifest.sources:
            for gap in status.attributes:
                for object_id in gap.objects:
                    gaps.setdefault((gap.what, object_id), gap.error)
        return gaps

    @property
    def complete(self) -> bool:
        """True when every source was read fully and nothing was unreadable."""
        return not self.manifest.unreadable and all(s.status == "ok" for s in self.manifest.sources)


class SnapshotError(Exception):
    """A snapshot directory that cannot be read; the message names the file."""


def build(results: list[SourceResult], as_of: datetime, collected_at: datetime, tool_version: str) -> Snapshot:
    merged = SourceResult()
    for result in results:
        merged.merge(result)
    unknown = set(merged.tables) - set(TABLES)
    if unknown:
        raise ValueError(f"collectors returned unknown tables: {sorted(unknown)}")
    manifest = Manifest(
        as_of=as_of,
        collected_at=collected_at,
        tool_version=tool_version,
        sources=merged.statuses,
        unreadable=merged.unreadable,
        counts={name: len(merged.tables.get(name, [])) for name in TABLES},
    )
    return Snapshot(manifest=manifest, tables={name: merged.tables.get(name, []) for name in TABLES})


def file_names() -> list[str]:
    """Every file ``save`` writes into a snapshot directory."""
    return [f"{name}.jsonl" for name in TABLES] + ["manifest.json", "config.toml"]  # config.toml: the settings used


def save(snapshot: Snapshot, directory: Path) -> None:
    """Write atomically per file: a crash never leaves a half-written table.

    The manifest counts the records of each table as written, which ``load`` checks.
    """
    directory.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    for name in TABLES:
        records = snapshot.tables.get(name, [])
        atomic_write(directory / f"{name}.jsonl", encoder.encode_lines(records))
    written = msgspec.structs.replace(
        snapshot.manifest, counts={name: len(snapshot.tables.get(name, [])) for name in TABLES}
    )
    manifest = msgspec.json.format(msgspec.json.encode(written), indent=2)
    atomic_write(directory / "manifest.json", manifest + b"\n")


def load(directory: Path, only: tuple[str, ...] | None = None) -> Snapshot:
    """The snapshot in ``directory``; ``only``: decode just these tables (the others are left empty).

    A table added to the format after a snapshot was written (``ADDED_TABLES``) reads as empty.
    """
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise SnapshotError(f"{manifest_path}: not found (is {directory} a snapshot directory?)")
    raw = manifest_path.read_bytes()
    try:
        version = msgspec.json.decode(raw).get("format_version")
    except (msgspec.DecodeError, AttributeError) as exc:
        raise SnapshotError(f"{manifest_path}: not a JSON object: {exc}") from exc
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"{manifest_path}: format_version {version!r} is not supported (this auditor reads {FORMAT_VERSION})"
        )
    try:
        manifest = msgspec.json.decode(raw, type=Manifest)
    except msgspec.ValidationError as exc:
        raise SnapshotError(f"{manifest_path}: {exc}") from exc
    tables: dict[str, list] = {}
    for name, record_type in TABLES.items():
        if only is not None and name not in only:
            continue
        path = directory / f"{name}.jsonl"
        if not path.exists() and name in LATER_TABLES:
            tables[name] = []  # written before the table existed: not collected, and its status says so
            continue
        if not path.exists():
            raise SnapshotError(f"{path}: missing table file")
        decoder = msgspec.json.Decoder(record_type)
        records = []
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(decoder.decode(line))
                except msgspec.DecodeError as exc:
                    raise SnapshotError(f"{path} line {number}: {exc}") from exc
        expected = manifest.counts.get(name)
        if expected is not None and len(records) != expected:  # lines lost or added: people missing from the review
            raise SnapshotError(
                f"{path}: {len(records)} records where the manifest counts {expected}: "
                "the table is incomplete or was edited; collect the snapshot again"
            )
        tables[name] = records
    return Snapshot(manifest=manifest, tables=tables)
