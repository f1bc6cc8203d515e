"""Lifecycle effectiveness: how fast access follows HR, how the backlog moves, whether reviews are real.

``compute(store, settings)`` reads the state store and the snapshots of
its recorded runs (through ``auditor.frames`` and ``nights``) and returns
a ``Metrics`` document: plain data that ``auditor metrics`` prints as a
table, JSON, CSV or HTML and the report's "Lifecycle effectiveness"
section renders. Times are the runs' as-of times and the CloudTrail events
that made each change, never the wall clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import pandas as pd

from auditor import frames
from auditor.metrics import backlog, lifecycle, reviews
from auditor.metrics.nights import Night, load_nights
from auditor.store import Store


@dataclass
class Metrics:
    as_of: datetime | None
    nights: int
    deprovisioning: list[dict] = field(default_factory=list)  # per department
    leavers: list[dict] = field(default_factory=list)  # per person
    movers: list[dict] = field(default_factory=list)
    joiners: list[dict] = field(default_factory=list)
    backlog_by_age: list[dict] = field(default_factory=list)
    weekly: list[dict] = field(default_factory=list)
    time_to_resolve: list[dict] = field(default_factory=list)
    campaigns: list[dict] = field(default_factory=list)
    remediation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN: not known
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_plain({k: (None if _missing(v) else v) for k, v in row.items()}) for row in frame.to_dict("records")]


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def compute(
    store: Store,
    *,
    department_groups: dict | None = None,
    shared_groups: list | None = None,
    since: datetime | None = None,
    current: Night | None = None,
) -> Metrics:
    """Every metric over the runs recorded in ``store`` (``since``: runs and weeks from then on).

    ``current``: the run being written, whose snapshot is still in memory.
    """
    nights = load_nights(store, since, current)
    groups = department_groups or {}
    as_of = nights[-1].as_of if nights else None
    leavers = lifecycle.deprovisioning(nights)
    found = frames.findings_frame(frames.stored_findings(store), nights[-1].snapshot) if nights else None
    metrics = Metrics(as_of=as_of, nights=len(nights))
    if len(leavers):
        metrics.deprovisioning = lifecycle.summary(leavers, "days")
        metrics.leavers = _records(leavers)
    metrics.movers = _records(lifecycle.movers(nights, groups))
    metrics.joiners = _records(lifecycle.joiners(nights, groups, shared_groups or []))
    if found is not None and len(found):
        metrics.backlog_by_age = backlog.open_by_age(found, as_of)
        metrics.weekly = backlog.weekly(found, since)
        metrics.time_to_resolve = backlog.time_to_resolve(found)
    metrics.campaigns = reviews.campaigns(frames.decisions(store), frames.items(store))
    metrics.remediation = reviews.remediation(store)
    return metrics
