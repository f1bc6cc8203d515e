"""Rows that must be in the audit chain: each recorded run, review decision and remediation change.

A keyed chain proves its entries are genuine; it proves nothing about a
row changed beside it. So every row written after the store was keyed
must have its entry, and the entry must say what the row says: a flipped
decision, a deleted run or a remediation target changed in the journal
is reported by ``auditor audit verify``. Rows an older store held before
it was keyed (the key ring's ``legacy`` marks) are not checked.

The store owns every table's schema (its migrations create them), so the
tables are named here as plain table clauses; no feature module is imported.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor.store.types import UTCDateTime, canonical

_runs = sa.table("runs", sa.column("id"), sa.column("kind"), sa.column("exit_code"), sa.column("as_of", UTCDateTime))
_decisions = sa.table(
    "campaign_decisions",
    sa.column("id"),
    sa.column("campaign_id"),
    sa.column("item_id"),
    sa.column("decision"),
    sa.column("reassign_to"),
    sa.column("justification"),
    sa.column("reviewer"),
    sa.column("decided_at", UTCDateTime),
)
_remediation_runs = sa.table("remediation_runs", sa.column("id"), sa.column("plan_sha256"))
_actions = sa.table(
    "remediation_actions",
    sa.column("run_id"),
    sa.column("action_id"),
    sa.column("kind"),
    sa.column("target"),
    sa.column("status"),
    sa.column("rollback_status"),
)
LEGACY_TABLES = {"audit_log": "id", "runs": "id", "campaign_decisions": "id", "remediation_runs": "id"}
ACTION_FIELDS = ("kind", "target", "status", "rollback_status")
FIXED_FIELDS = ("kind", "target")
_REMEDIATION_SUBJECT = re.compile(r"remediation run (\d+)(?::|$)")


def legacy_marks(conn: Connection) -> dict[str, int]:
    """The last id of each covered table now: rows up to it predate the key (0 for a table not there).

    A store that was keyed before (its key file lost or not given) keeps its
    keyed part: only the entries before its first keyed entry count as legacy.
    """
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    marks = {}
    for table, column in LEGACY_TABLES.items():
        query = sa.text(f"SELECT max({column}) FROM {table}")  # names from the constant above
        marks[table] = (conn.execute(query).scalar() or 0) if table in present else 0
    if "audit_log" in present and "key_id" in {c["name"] for c in inspector.get_columns("audit_log")}:
        first_keyed = conn.execute(sa.text("SELECT min(id) FROM audit_log WHERE key_id IS NOT NULL")).scalar()
        if first_keyed is not None:
            marks["audit_log"] = first_keyed - 1
    return marks


def _entries(entries) -> dict[tuple[str, str], list[dict]]:
    by_subject: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for entry in entries:
        by_subject[(entry.action, entry.subject or "")].append(json.loads(entry.details))
    return by_subject


def check(conn: Connection, entries, legacy: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """(rows checked per kind, a line per row without an entry saying the same)."""
    present = set(sa.inspect(conn).get_table_names())
    index = _entries(entries)
    checked, problems = {}, []
    if "runs" in present:
        checked["runs"] = _check_runs(conn, index, legacy.get("runs", 0), problems)
    if "campaign_decisions" in present:
        checked["decisions"] = _check_decisions(conn, index, legacy.get("campaign_decisions", 0), problems)
    if "remediation_runs" in present:
        checked["remediation actions"] = _check_remediation(conn, entries, legacy.get("remediation_runs", 0), problems)
    return checked, problems


def _check_runs(conn, index, after: int, problems: list[str]) -> int:
    rows = conn.execute(sa.select(_runs).where(_runs.c.id > after).order_by(_runs.c.id)).all()
    recorded = {int(subject.removeprefix("run ")) for action, subject in index if _is_run_entry(action, subject)}
    for gone in sorted(recorded - {row.id for row in rows}):
        if gone > after:
            problems.append(f"run {gone} is in the audit log but its row was removed")
    for row in rows:
        said = index.get((f"{row.kind}.completed", f"run {row.id}"))
        if not said:
            problems.append(f"run {row.id} has no audit entry (a run recorded beside the log, or its entry removed)")
        elif (said[-1].get("exit_code"), said[-1].get("as_of")) != (row.exit_code, canonical(row.as_of)):
            problems.append(f"run {row.id} differs from its audit entry (exit status or as-of changed)")
    return len(rows)


def _is_run_entry(action: str, subject: str) -> bool:
    return action.endswith(".completed") and subject.startswith("run ") and subject[4:].isdigit()


def _check_decisions(conn, index, after: int, problems: list[str]) -> int:
    rows = conn.execute(sa.select(_decisions).where(_decisions.c.id > after).order_by(_decisions.c.id)).all()
    present = {row.id for row in rows}
    for (action, subject), said in index.items():
        for details in said if action == "campaign.decision" else []:
            number = details.get("decision_id")
            if isinstance(number, int) and number > after and number not in present:
                problems.append(f"decision {number} ({subject}) is in the audit log but its row was removed")
    for row in rows:
        said = [
            d
            for d in index.get(("campaign.decision", f"campaign {row.campaign_id} item {row.item_id}"), [])
            if d.get("decision_id") == row.id
        ]
        where = f"decision {row.id} (campaign {row.campaign_id} item {row.item_id})"
        if not said:
            problems.append(f"{where} has no audit entry")
            continue
        recorded = {k: said[-1].get(k) for k in ("decision", "reassign_to", "justification", "reviewer", "decided_at")}
        actual = {
            "decision": row.decision,
            "reassign_to": row.reassign_to,
            "justification": row.justification,
            "reviewer": row.reviewer,
            "decided_at": canonical(row.decided_at),
        }
        changed = sorted(k for k in recorded if recorded[k] != actual[k])
        if changed:
            problems.append(f"{where} differs from its audit entry in {', '.join(changed)}")
    return len(rows)


def _check_remediation(conn, entries, after: int, problems: list[str]) -> int:
    runs = conn.execute(sa.select(_remediation_runs).where(_remediation_runs.c.id > after)).all()
    states: dict[tuple[int, str], dict] = {}
    started: dict[int, str] = {}
    for entry in entries:
        matched = _REMEDIATION_SUBJECT.match(entry.subject or "")
        if not matched:
            continue
        run_id = int(matched.group(1))
        details = json.loads(entry.details)
        if entry.action == "remediate.apply.started":
            started[run_id] = details.get("plan_sha256")
            for planned in details.get("planned", []):
                states[(run_id, planned["action_id"])] = {**planned, "status": "pending", "rollback_status": None}
        elif "action_id" in details:
            where = f"remediation run {run_id} action {details['action_id']}"
            state = states.setdefault((run_id, details["action_id"]), {})
            for name in FIXED_FIELDS:  # what the action changes is fixed at plan time: entries never move it
                if name in details and state.setdefault(name, details[name]) != details[name]:
                    problems.append(f"{where}: entry {entry.id} names another {name} than planned")
            state.update({k: details[k] for k in ("status", "rollback_status") if k in details})
    for gone in sorted(set(started) - {run.id for run in runs}):
        if gone > after:
            problems.append(f"remediation run {gone} is in the audit log but its row was removed")
    count = 0
    for run in runs:
        if started.get(run.id) != run.plan_sha256:
            problems.append(f"remediation run {run.id} has no audit entry for its start with this plan's hash")
        rows = conn.execute(sa.select(_actions).where(_actions.c.run_id == run.id)).all()
        for gone in sorted({a for r, a in states if r == run.id} - {row.action_id for row in rows}):
            problems.append(f"remediation run {run.id} action {gone} is in the audit log but its row was removed")
        for row in rows:
            count += 1
            where = f"remediation run {run.id} action {row.action_id}"
            state = states.get((run.id, row.action_id))
            if state is None:
                problems.append(f"{where} has no audit entry")
                continue
            actual = {**row._asdict(), "target": json.loads(row.target)}
            changed = sorted(k for k in ACTION_FIELDS if k in state and state[k] != actual[k])
            if changed:
                problems.append(f"{where} differs from its audit entries in {', '.join(changed)}")
    return count
