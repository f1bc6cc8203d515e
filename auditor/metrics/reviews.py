"""Certification campaigns and remediation: are reviewers reviewing, and were revocations carried out."""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from auditor.campaign.model import KEPT
from auditor.remediate.schema import remediation_actions
from auditor.store import Store, audit_log

RUBBER_STAMP_MIN = 10  # decisions below this say little about a reviewer's habits
FAST_PER_MINUTE = 6.0  # faster than one decision every 10 seconds is not reading the evidence


def campaigns(decisions: pd.DataFrame, items: pd.DataFrame) -> list[dict]:
    """Per reviewer: items, decided on time, revoke rate, decisions per minute, and rubber-stamp signals.

    "rightsize" (keep, but right-size) is a decision to keep: it counts as decided and as not revoked.
    """
    latest = decisions.drop_duplicates(["campaign_id", "item_id"], keep="last") if len(decisions) else decisions
    out = []
    for reviewer in sorted(set(items["reviewer"]) | set(latest.get("reviewer", pd.Series(dtype=str)))):
        assigned = items[items["reviewer"] == reviewer]
        mine = latest[latest["reviewer"] == reviewer] if len(latest) else latest
        decided = mine[mine["decision"].isin([*KEPT, "revoke"])] if len(mine) else mine
        on_time = int((decided["decided_at"] <= decided["due_at"]).sum()) if len(decided) else 0
        revokes = int((decided["decision"] == "revoke").sum()) if len(decided) else 0
        span = (decided["decided_at"].max() - decided["decided_at"].min()).total_seconds() / 60 if len(decided) else 0
        per_minute = round(len(decided) / span, 2) if span > 0 else None
        signals = []
        if len(decided) >= RUBBER_STAMP_MIN and revokes == 0:
            signals.append("kept everything")
        if len(decided) >= RUBBER_STAMP_MIN and decided["justification"].nunique() == 1:
            signals.append("one justification for every item")
        if per_minute is not None and per_minute > FAST_PER_MINUTE:
            signals.append(f"over {FAST_PER_MINUTE:g} decisions a minute")
        out.append(
            {
                "reviewer": reviewer,
                "items": int(len(assigned)),
                "decided": int(len(decided)),
                "on_time": on_time,
                "on_time_share": round(on_time / len(assigned), 3) if len(assigned) else None,
                "revoke_rate": round(revokes / len(decided), 3) if len(decided) else None,
                "decisions_per_minute": per_minute,
                "rubber_stamp": signals,
            }
        )
    return out


def remediation(store: Store) -> dict[str, int]:
    """Actions applied (done or already in effect), verified (a verification held), rolled back, failed."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(remediation_actions.c.status, remediation_actions.c.rollback_status, remediation_actions.c.run_id)
        ).all()
        verified_runs = _verified_runs(store, conn)
    applied = [r for r in rows if r.status in ("done", "already_in_effect")]
    return {
        "actions": len(rows),
        "applied": len(applied),
        "verified": sum(1 for r in applied if r.run_id in verified_runs),
        "rolled_back": sum(1 for r in rows if r.rollback_status in ("restored", "already_restored")),
        "failed": sum(1 for r in rows if r.status in ("failed", "drifted")),
    }


def _verified_runs(store: Store, conn) -> set[int]:
    """Remediation runs whose verification held (the audit log's remediate.verified entries)."""
    found = set()
    for subject, details in conn.execute(
        sa.select(audit_log.c.subject, audit_log.c.details).where(audit_log.c.action == "remediate.verified")
    ).all():
        if json.loads(details).get("ok") and subject and subject.split()[-1].isdigit():
            found.add(int(subject.split()[-1]))
    return found
