"""The findings backlog: what is open and for how long, what was opened and resolved each week, time to resolve."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

AGE_BUCKETS = ((7, "0-7 days"), (30, "8-30 days"), (90, "31-90 days"), (None, "over 90 days"))
SEVERITIES = ("critical", "high", "medium", "low", "info")


def _bucket(days: float) -> str:
    for limit, label in AGE_BUCKETS:
        if limit is None or days <= limit:
            return label
    return AGE_BUCKETS[-1][1]


def open_by_age(findings: pd.DataFrame, as_of: datetime) -> list[dict]:
    """Open (new, open) findings per category and age bucket; suppressed ones are accepted risks, not backlog."""
    live = findings[findings["status"].isin(["new", "open"])].copy()
    live["age"] = [_bucket((as_of - t).total_seconds() / 86400) for t in live["first_seen"]]
    table = live.pivot_table(index="category", columns="age", values="finding_id", aggfunc="count", fill_value=0)
    labels = [label for _, label in AGE_BUCKETS]
    table = table.reindex(columns=labels, fill_value=0)
    return [{"category": category, **{k: int(v) for k, v in row.items()}} for category, row in table.iterrows()]


def weekly(findings: pd.DataFrame, since: datetime | None = None) -> list[dict]:
    """Per ISO week (its Monday): findings first seen, and findings resolved."""
    opened = (
        findings["first_seen"].dropna().dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    )
    resolved = (
        findings["resolved_at"].dropna().dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    )
    weeks = pd.DataFrame({"opened": opened.value_counts(), "resolved": resolved.value_counts()}).fillna(0).sort_index()
    rows = [
        {"week": week.date().isoformat(), "opened": int(row["opened"]), "resolved": int(row["resolved"])}
        for week, row in weeks.iterrows()
    ]
    return [r for r in rows if since is None or r["week"] >= since.date().isoformat()]


def time_to_resolve(findings: pd.DataFrame) -> list[dict]:
    """Per severity: findings resolved, and their mean, median and max days from first seen to resolved."""
    done = findings[findings["resolved_at"].notna()].copy()
    done["days"] = (done["resolved_at"] - done["first_seen"]).dt.total_seconds() / 86400
    out = []
    for severity in SEVERITIES:
        rows = done[done["severity"] == severity]["days"]
        if len(rows):
            out.append(
                {
                    "severity": severity,
                    "resolved": int(len(rows)),
                    "mean_days": round(float(rows.mean()), 1),
                    "median_days": round(float(rows.median()), 1),
                    "max_days": round(float(rows.max()), 1),
                }
            )
    return out
