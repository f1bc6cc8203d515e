"""pandas DataFrames for analysts: findings, access inventory, activity, run history, campaign decisions.

Each function takes a run directory (what ``auditor run --out`` wrote) or
a ``Store`` (the state store: its findings history, and the snapshot of
its latest recorded run). Frames hold what the run recorded, never
recomputed; times are timezone-aware UTC. ``auditor metrics`` and the
pivot sheets of findings.xlsx are built from these same frames::

    from auditor import frames
    findings = frames.findings("auditor-out")
    findings.pivot_table(index="account_id", columns="category", values="finding_id", aggfunc="count")
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pandas as pd
import sqlalchemy as sa

from auditor.access import AccessModel
from auditor.campaign.schema import campaign_decisions, campaign_items, campaigns
from auditor.model import Finding, LifecycleEvent
from auditor.snapshot import Snapshot, SnapshotError
from auditor.snapshot import load as load_snapshot
from auditor.store import Store
from auditor.store import findings as findings_table
from auditor.store import runs as runs_table

Source = str | Path | Store

FINDING_COLUMNS = [
    "finding_id",
    "rule_id",
    "category",
    "severity",
    "status",
    "principal_type",
    "principal_id",
    "principal_name",
    "account_id",
    "resource",
    "title",
    "first_seen",
    "resolved_at",
    "department",
    "manager_email",
]


def _snapshot(source: Source) -> Snapshot:
    if isinstance(source, Store):
        latest = source.latest_run()
        if latest is None or not latest.get("out_dir"):
            raise FileNotFoundError(f"state store {source.display_url}: no recorded run with an output directory")
        return load_snapshot(Path(latest["out_dir"]) / "snapshot")
    return load_snapshot(Path(source) / "snapshot")


def _people(snapshot: Snapshot) -> pd.DataFrame:
    """Each Identity Center user with the HR fields of the person matched to it (user name, then e-mail)."""
    model = AccessModel(snapshot)
    rows = []
    for user in snapshot.table("idc_users"):
        person = model.hr_person(user)
        rows.append(
            {
                "user_id": user.user_id,
                "user_name": user.user_name,
                "user_status": user.status,
                "employee_id": person.employee_id if person else None,
                "department": person.department if person else None,
                "title": person.title if person else None,
                "manager_email": person.manager_email if person else None,
                "hr_status": person.status if person else None,
                "employment_type": person.employment_type if person else None,
                "start_date": person.start_date if person else None,
                "end_date": person.end_date if person else None,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "user_name",
            "user_status",
            "employee_id",
            "department",
            "title",
            "manager_email",
            "hr_status",
            "employment_type",
            "start_date",
            "end_date",
        ],
    )


def _finding_rows(items: list[Finding]) -> list[dict]:
    return [
        {
            "finding_id": f.finding_id,
            "rule_id": f.rule_id,
            "category": f.category,
            "severity": f.severity,
            "status": f.status,
            "principal_type": f.principal.type,
            "principal_id": f.principal.id,
            "principal_name": f.principal.name,
            "account_id": f.account_id,
            "resource": f.resource,
            "title": f.title,
            "first_seen": f.first_seen,
            "resolved_at": f.resolved_at,
        }
        for f in items
    ]


def findings(source: Source) -> pd.DataFrame:
    """One row per finding, with the HR department and manager of an Identity Center user's person.

    From a run directory: its findings.json; from a store: every finding's latest state.
    """
    if isinstance(source, Store):
        items = stored_findings(source)
    else:
        items = msgspec.json.decode((Path(source) / "findings.json").read_bytes(), type=list[Finding])
    try:
        snapshot = _snapshot(source)
    except (FileNotFoundError, SnapshotError):  # no run on disk to take HR fields from: they stay empty
        snapshot = None
    return findings_frame(items, snapshot)


def stored_findings(store: Store) -> list[Finding]:
    """Every finding the store holds, in its latest state."""
    with store.engine.connect() as conn:
        bodies = conn.execute(sa.select(findings_table.c.body)).scalars().all()
    return [msgspec.json.decode(b, type=Finding) for b in bodies]


def findings_frame(items: list[Finding], snapshot: Snapshot | None = None) -> pd.DataFrame:
    """``findings`` from findings in memory (a run being written), joined to ``snapshot``'s HR rows."""
    frame = pd.DataFrame(_finding_rows(items), columns=FINDING_COLUMNS[:-2])
    if snapshot is not None:
        people = _people(snapshot)[["user_id", "department", "manager_email"]]
    else:
        people = pd.DataFrame(columns=["user_id", "department", "manager_email"])
    people = people.rename(columns={"user_id": "principal_id"}).drop_duplicates("principal_id")
    frame = frame.merge(people, on="principal_id", how="left")
    for column in ("first_seen", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame[FINDING_COLUMNS]


def pivots(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Unresolved findings counted three ways: account x category, department x severity, manager x severity.

    Row and column labels stay the strings they are (account ids keep their leading zeros); a finding
    without an account, department or manager is counted under "(none)".
    """
    live = frame[frame["status"] != "resolved"].fillna(
        {"account_id": "(none)", "department": "(none)", "manager_email": "(none)"}
    )
    severities = ["critical", "high", "medium", "low", "info"]

    def count(index: str, columns: str, order: list[str] | None = None) -> pd.DataFrame:
        table = live.pivot_table(index=index, columns=columns, values="finding_id", aggfunc="count", fill_value=0)
        if order is not None:
            table = table.reindex(columns=order, fill_value=0)
        return table.astype(int)

    return {
        "By account and category": count("account_id", "category"),
        "By department and severity": count("department", "severity", severities),
        "By manager": count("manager_email", "severity", severities),
    }


def inventory(source: Source) -> pd.DataFrame:
    """Who can reach what: one row per (user, account, permission set, path), with last use and HR fields."""
    snapshot = _snapshot(source)
    model = AccessModel(snapshot)
    users = model.idc_users
    rows = []
    for path in model.all_paths:
        user = users.get(path.user_id)
        name = model.permission_set_name(path.permission_set_arn)
        last = model.assignment_last_used(user, path.account_id, name) if user else None
        rows.append(
            {
                "user_id": path.user_id,
                "account_id": path.account_id,
                "account_name": model.account_name(path.account_id),
                "permission_set": name,
                "permission_set_arn": path.permission_set_arn,
                "path": path.via,
                "group_name": path.group_name,
                "last_used": last,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "account_id",
            "account_name",
            "permission_set",
            "permission_set_arn",
            "path",
            "group_name",
            "last_used",
        ],
    )
    frame = frame.merge(_people(snapshot), on="user_id", how="left")
    frame["last_used"] = pd.to_datetime(frame["last_used"], utc=True)
    return frame


def activity(source: Source) -> pd.DataFrame:
    """First and last time each principal was seen in CloudTrail, as the run reduced it."""
    table = _snapshot(source).table("activity")
    frame = pd.DataFrame(
        [msgspec.to_builtins(a) for a in table],
        columns=["kind", "key", "first_seen", "last_seen", "account_id", "detail", "events"],
    )
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def lifecycle_events(source: Source) -> pd.DataFrame:
    """Identity Center access granted and taken away, one CloudTrail event a row (who, what, to whom, when)."""
    table = _snapshot(source).table("lifecycle_events")
    columns = [f.name for f in msgspec.structs.fields(LifecycleEvent)]
    frame = pd.DataFrame([msgspec.to_builtins(e) for e in table], columns=columns)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame


def runs(store: Store) -> pd.DataFrame:
    """The recorded runs, oldest first, with their finding counts by status."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs_table).order_by(runs_table.c.id)).mappings().all()
    records = []
    for row in rows:
        counts = json.loads(row["counts"] or "{}")
        records.append(
            {
                "run_id": row["id"],
                "kind": row["kind"],
                "as_of": row["as_of"],
                "started_at": row["started_at"],
                "exit_code": row["exit_code"],
                "duration_seconds": row["duration_seconds"],
                "out_dir": row["out_dir"],
                **{f"findings_{k}": v for k, v in (counts.get("by_status") or {}).items()},
            }
        )
    frame = pd.DataFrame(records)
    for column in ("as_of", "started_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def decisions(store: Store) -> pd.DataFrame:
    """Every reviewer decision of every campaign, with the campaign's dates and the item's current reviewer."""
    query = (
        sa.select(
            campaign_decisions.c.campaign_id,
            campaigns.c.name.label("campaign"),
            campaigns.c.kind.label("campaign_kind"),
            campaigns.c.created_at,
            campaigns.c.due_at,
            campaign_decisions.c.item_id,
            campaign_decisions.c.decision,
            campaign_decisions.c.justification,
            campaign_decisions.c.reviewer,
            campaign_decisions.c.decided_at,
            campaign_decisions.c.source,
        )
        .join(campaigns, campaigns.c.id == campaign_decisions.c.campaign_id)
        .order_by(campaign_decisions.c.id)
    )
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all())
    if frame.empty:
        return pd.DataFrame(columns=[c.name for c in query.selected_columns])
    for column in ("created_at", "due_at", "decided_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def items(store: Store) -> pd.DataFrame:
    """Every campaign item with its reviewer and its campaign's due date (decided or not)."""
    query = sa.select(
        campaign_items.c.campaign_id, campaign_items.c.item_id, campaign_items.c.reviewer, campaigns.c.due_at
    ).join(campaigns, campaigns.c.id == campaign_items.c.campaign_id)
    with store.engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(query).mappings().all(), columns=["campaign_id", "item_id", "reviewer", "due_at"]
        )
    frame["due_at"] = pd.to_datetime(frame["due_at"], utc=True)
    return frame
