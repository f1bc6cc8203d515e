"""Importing reviewers' decisions from returned packets (CSV or XLSX).

A file is applied whole or not at all: every problem is reported with the
file and its physical line (the header is line 1) so the reviewer can fix
them in one pass. Rejected: rows whose signed columns were edited, rows of
another reviewer's items, unknown items, decisions after close, a flagged
item kept without a justification, "rightsize" on access that is not from
a permission set, and malformed decisions. Importing a
file already imported changes nothing; a later decision replaces an
earlier one, and each is kept (decisions table and audit log).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from auditor.campaign.model import Decision, ItemState, kept, parse_decision, rightsize_refusal
from auditor.campaign.schema import campaign_decisions, campaign_imports, campaign_items, campaigns, iso
from auditor.campaign.signing import (
    PROTECTED,
    REQUIRED,
    canonical,
    clean,
    decision_as_exported,
    row_values,
    signature_problem,
    verify,
)
from auditor.campaign.state import get_campaign, item_states, signing_key
from auditor.store import Store
from auditor.store.types import canonical as canonical_time


@dataclass(frozen=True)
class Rejection:
    file: str
    line: int | None  # None: the file as a whole
    reason: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.reason}" if self.line else f"{self.file}: {self.reason}"


@dataclass
class FileResult:
    file: Path
    sha256: str
    status: str  # applied | duplicate | rejected
    reviewer: str | None = None
    recorded: int = 0  # new decisions (including reassignments)
    unchanged: int = 0  # rows repeating the item's current decision
    undecided: int = 0  # rows left empty
    rejections: list[Rejection] = field(default_factory=list)


@dataclass
class ImportResult:
    files: list[FileResult]

    @property
    def rejections(self) -> list[Rejection]:
        return [r for f in self.files for r in f.rejections]

    @property
    def ok(self) -> bool:
        return not self.rejections


@dataclass(frozen=True)
class _Accepted:
    line: int
    state: ItemState
    decision: str
    reassign_to: str | None
    justification: str


def import_decisions(
    store: Store,
    campaign_id: int,
    files: list[Path],
    *,
    now: datetime,
    reviewer: str | None = None,
    actor: str = "auditor",
) -> ImportResult:
    """Validate and apply each file on its own; ``reviewer`` asserts whose files they are."""
    get_campaign(store, campaign_id)
    key = signing_key(store, campaign_id)
    results = [_import_one(store, campaign_id, key, Path(f), now, reviewer, actor) for f in files]
    return ImportResult(results)


def _import_one(store, campaign_id, key, path, now, reviewer, actor) -> FileResult:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(path, "", "rejected", rejections=[Rejection(str(path), None, f"cannot read: {exc}")])
    digest = hashlib.sha256(data).hexdigest()
    result = FileResult(path, digest, "rejected")
    try:
        header, rows = _read(path, data)
    except ValueError as exc:
        result.rejections.append(Rejection(name, None, str(exc)))
        return result
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        result.rejections.append(Rejection(name, 1, f"not a packet of this tool: missing columns {', '.join(missing)}"))
        return result
    with store.engine.begin() as conn:
        # imports into one campaign queue here (PostgreSQL; SQLite's BEGIN IMMEDIATE already does), so a file
        # imported twice at once is the second time a duplicate, not a failed insert
        conn.execute(sa.select(campaigns.c.id).where(campaigns.c.id == campaign_id).with_for_update())
        if conn.execute(
            sa.select(campaign_imports.c.id).where(
                campaign_imports.c.campaign_id == campaign_id, campaign_imports.c.file_sha256 == digest
            )
        ).first():
            result.status = "duplicate"
            return result
        closed_at = conn.execute(sa.select(campaigns.c.closed_at).where(campaigns.c.id == campaign_id)).scalar_one()
        states = {s.item.item_id: s for s in item_states(store, campaign_id, conn)}
        records = [(line, dict(zip(header, values, strict=False))) for line, values in rows]
        owner = _file_reviewer(key, records, reviewer)
        result.reviewer = owner
        accepted = _validate(campaign_id, key, name, records, states, owner, closed_at, result)
        if result.rejections:
            return result
        recorded = _apply(conn, campaign_id, accepted, name, digest, now, result)
        conn.execute(
            campaign_imports.insert().values(
                campaign_id=campaign_id,
                file_sha256=digest,
                file_name=name,
                imported_at=now,
                imported_by=actor,
                decisions=len(recorded),
            )
        )
        # each decision and its audit entry commit together: a crash cannot leave one without the other
        for accepted_row, previous, decision_id in recorded:
            _audit_decision(store, conn, campaign_id, accepted_row, previous, name, digest, actor, decision_id, now)
    result.status = "applied"
    store.audit(
        "campaign.imported",
        f"campaign {campaign_id}",
        {
            "file": name,
            "sha256": digest,
            "reviewer": owner,
            "recorded": result.recorded,
            "unchanged": result.unchanged,
            "undecided": result.undecided,
        },
        actor=actor,
    )
    return result


def _validate(campaign_id, key, name, records, states, owner, closed_at, result) -> list[_Accepted]:
    accepted: list[_Accepted] = []
    seen: dict[str, int] = {}

    def reject(line: int, reason: str) -> None:
        result.rejections.append(Rejection(name, line, reason))

    for line, values in records:
        item_id = canonical(values.get("item_id", ""))
        if canonical(values.get("campaign", "")) != str(campaign_id):
            reject(line, f"row of campaign {canonical(values.get('campaign', ''))!r}, not campaign {campaign_id}")
            continue
        state = states.get(item_id)
        if state is None:
            reject(line, f"unknown item {item_id!r} (not in campaign {campaign_id})")
            continue
        if item_id in seen:
            reject(line, f"item {item_id} appears twice (also line {seen[item_id]})")
            continue
        seen[item_id] = line
        malformed = signature_problem(values)
        if malformed is not None:
            reject(line, f"item {item_id}: {malformed}; the row cannot be checked")
            continue
        if not verify(key, values):
            reject(
                line,
                f"item {item_id}: protected columns were altered ({_altered(campaign_id, state, values)}); "
                "only decision and justification may change",
            )
            continue
        row_reviewer = canonical(values["reviewer"])
        if row_reviewer != state.reviewer:
            reject(
                line,
                f"item {item_id} is assigned to {state.reviewer}, not {row_reviewer} "
                "(a row of another reviewer's packet, or of a packet older than a reassignment)",
            )
            continue
        if row_reviewer != owner:
            reject(line, f"item {item_id} belongs to {row_reviewer}'s packet, not to {owner}'s")
            continue
        text = canonical(values.get("decision", ""))
        justification = clean(values.get("justification", ""))
        if not text:
            result.undecided += 1
            continue
        if decision_as_exported(key, values):  # prefilled with a decision already recorded: nothing new
            result.unchanged += 1
            continue
        if closed_at:
            reject(line, f"campaign {campaign_id} was closed at {iso(closed_at)}; decisions are no longer accepted")
            continue
        try:
            decision, target = parse_decision(text)
        except ValueError as exc:
            reject(line, f"item {item_id}: {exc}")
            continue
        problem = decision_problem(state, decision, target, justification)
        if problem:
            reject(line, f"item {item_id}: {problem}")
            continue
        accepted.append(_Accepted(line, state, decision, target, justification))
    return accepted


def decision_problem(state: ItemState, decision: str, target: str | None, justification: str) -> str | None:
    item = state.item
    if decision == Decision.RIGHTSIZE:
        refusal = rightsize_refusal(item)
        if refusal:
            return refusal
    if kept(decision) and item.flagged and not justification:
        return "keeping a flagged item needs a justification (see related_findings)"
    if decision == Decision.REASSIGN:
        subjects = {item.subject_email} | {m.lower() for m in item.context.get("members", [])}
        if target in subjects:
            return f"cannot reassign to {target}: nobody reviews their own access"
        if target == state.reviewer:
            return f"the item is already assigned to {target}"
    return None


def _altered(campaign_id: int, state: ItemState, values: dict[str, str]) -> str:
    """Which signed columns differ from the item as exported to this reviewer."""
    expected = row_values(campaign_id, state)
    changed = [c for c in PROTECTED if canonical(values.get(c, "")) != canonical(expected.get(c, ""))]
    return ", ".join(changed) if changed else "signature"


def _file_reviewer(key: bytes, records: list[tuple[int, dict]], asserted: str | None) -> str | None:
    """Whose packet the file is: as asserted, else the reviewer most of its genuine rows name."""
    if asserted:
        return asserted.strip().lower()
    named = Counter(canonical(values.get("reviewer", "")) for _, values in records if verify(key, values))
    return named.most_common(1)[0][0] if named else None


def _apply(conn, campaign_id, accepted, name, digest, now, result) -> list[tuple[_Accepted, object, int]]:
    recorded = []
    for row in accepted:
        current = row.state.decision
        if (
            current is not None
            and current.decision == row.decision
            and current.reassign_to == row.reassign_to
            and current.justification == row.justification
            and current.reviewer == row.state.reviewer
        ):
            result.unchanged += 1
            continue
        decision_id = conn.execute(
            campaign_decisions.insert().values(
                campaign_id=campaign_id,
                item_id=row.state.item.item_id,
                decision=row.decision,
                reassign_to=row.reassign_to,
                justification=row.justification,
                reviewer=row.state.reviewer,
                decided_at=now,
                source=f"{name} line {row.line}",
                file_sha256=digest,
            )
        ).inserted_primary_key[0]
        if row.decision == Decision.REASSIGN:
            conn.execute(
                campaign_items.update()
                .where(campaign_items.c.campaign_id == campaign_id, campaign_items.c.item_id == row.state.item.item_id)
                .values(reviewer=row.reassign_to)
            )
        result.recorded += 1
        recorded.append((row, current, decision_id))
    return recorded


def _audit_decision(store, conn, campaign_id, row: _Accepted, previous, name, digest, actor, decision_id, now) -> None:
    store.audit_in(
        conn,
        "campaign.decision",
        f"campaign {campaign_id} item {row.state.item.item_id}",
        {
            "decision_id": decision_id,  # the row it records: `audit verify` checks the two agree
            "decided_at": canonical_time(now),
            "decision": row.decision,
            "reassign_to": row.reassign_to,
            "justification": row.justification,
            "reviewer": row.state.reviewer,
            "access": row.state.item.access,
            "file": name,
            "line": row.line,
            "sha256": digest,
            "imported_by": actor,
            "replaces": None
            if previous is None
            else {
                "decision": previous.decision,
                "reassign_to": previous.reassign_to,
                "justification": previous.justification,
                "decided_at": iso(previous.decided_at),
            },
        },
        actor=actor,  # whoever ran the import supplied the file: a packet is not the reviewer's signature
    )


# --- reading packets -------------------------------------------------------------


def _read(path: Path, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(data)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data)
    raise ValueError("not a packet: expected a .csv or .xlsx file")


def _header(values: list[str]) -> list[str]:
    return [clean(v).lower() for v in values]


def _read_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the packet as CSV UTF-8") from exc
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # spreadsheets in some locales save with ;
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for values in reader:
            if values and any(v.strip() for v in values):
                rows.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num}: not valid CSV: {exc}") from exc
    if not rows or rows[0][0] != 1:
        raise ValueError("empty file or no header on line 1")
    return _header(rows[0][1]), rows[1:]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook  # here: only an imported workbook needs it (a tenth of a second to load)

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and XML errors for a damaged workbook
        raise ValueError(f"not a readable workbook: {type(exc).__name__}: {exc}") from exc
    try:
        sheet = workbook["Review"] if "Review" in workbook.sheetnames else workbook.active
        rows = [
            (number, [_text(v) for v in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            if any(v not in (None, "") for v in values)
        ]
    finally:
        workbook.close()
    if not rows or rows[0][0] != 1:
        raise ValueError("empty workbook or no header on row 1")
    return _header(rows[0][1]), rows[1:]
