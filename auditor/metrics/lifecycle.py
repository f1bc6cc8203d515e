"""Leavers, movers and joiners over the recorded nights: how fast access followed HR."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pandas as pd

from auditor.metrics.nights import Night, first_grant, removal_time


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _days(start: date, end: datetime) -> int:
    return (end.date() - start).days


def summary(frame: pd.DataFrame, value: str, by: str = "department") -> list[dict]:
    """Per group: people counted, median, p90 and max of ``value``, and those still open."""
    out = []
    for key, rows in frame.groupby(by, dropna=False, sort=True):
        done = rows[rows[value].notna()][value].astype(float)
        out.append(
            {
                by: key if isinstance(key, str) else "(none)",
                "people": int(len(rows)),
                "done": int(len(done)),
                "median_days": round(float(done.median()), 1) if len(done) else None,
                "p90_days": round(float(done.quantile(0.9)), 1) if len(done) else None,
                "max_days": int(done.max()) if len(done) else None,
                "still_open": sorted(rows[rows[value].isna()]["user_name"].tolist()),
            }
        )
    return out


def deprovisioning(nights: list[Night]) -> pd.DataFrame:
    """One row per terminated person who had access in a recorded night: end, removal, days (NaN: still open)."""
    rows = []
    seen: set[str] = set()
    for index, night in enumerate(nights):
        for employee_id, person in night.people.items():
            if person.status != "terminated" or employee_id in seen:
                continue
            seen.add(employee_id)
            start = person.end_date or night.as_of.date()
            user = next((n.user_of(person) for n in nights[index:] if n.user_of(person)), None)
            if user is None:
                continue  # no identity in the observed history: nothing to remove
            gone = next((n for n in nights[index:] if not n.has_access(n.user_of(person))), None)
            removed = None
            if gone is not None:
                position = nights.index(gone)
                before = nights[position - 1].as_of if position > 0 else None
                removed = removal_time(user.user_id, before, gone.as_of, nights)
                if removed is None and before is None:
                    continue  # already without access at the first recorded night: nothing to measure
                removed = removed or gone.as_of  # no event recorded: the night it was seen gone
            rows.append(
                {
                    "employee_id": employee_id,
                    "user_name": user.user_name,
                    "department": person.department,
                    "end_date": start,
                    "removed_at": removed,
                    "days": _days(start, removed) if removed else None,
                    "open_days": None if removed else _days(start, nights[-1].as_of),
                }
            )
    return pd.DataFrame(
        rows, columns=["employee_id", "user_name", "department", "end_date", "removed_at", "days", "open_days"]
    )


def _old_groups(old: str, settings_groups: dict[str, list[str]]) -> set[str]:
    return set(settings_groups.get(old, [])) or {old}


def movers(nights: list[Night], department_groups: dict[str, list[str]]) -> pd.DataFrame:
    """People whose HR department changed between two nights: days until their old department's groups went."""
    rows = []
    for earlier, later in zip(nights, nights[1:], strict=False):
        for employee_id, person in later.people.items():
            before = earlier.people.get(employee_id)
            if before is None or before.department == person.department:
                continue
            user = later.user_of(person)
            if user is None:
                continue
            old = _old_groups(before.department, department_groups)
            after = nights[nights.index(later) :]
            cleared = next((n for n in after if not set(n.group_names(n.user_of(person))) & old), None)
            removed = None
            if cleared is not None:
                position = nights.index(cleared)
                since = nights[position - 1].as_of if position > 0 else None
                removed = removal_time(user.user_id, since, cleared.as_of, nights, groups=old) or cleared.as_of
            rows.append(
                {
                    "employee_id": employee_id,
                    "user_name": user.user_name,
                    "department": person.department,
                    "previous_department": before.department,
                    "moved_seen": later.as_of,
                    "removed_at": removed,
                    "days": max(0, _days(later.as_of.date(), removed)) if removed else None,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["employee_id", "user_name", "department", "previous_department", "moved_seen", "removed_at", "days"],
    )


def joiners(
    nights: list[Night], department_groups: dict[str, list[str]], shared: list[str], window_days: int = 120
) -> pd.DataFrame:
    """People who started within the history: days from start to first access, and access beyond birthright at 30."""
    if not nights:
        return pd.DataFrame()
    first, last = nights[0].as_of, nights[-1].as_of
    rows, seen = [], set()
    for night in nights:
        for employee_id, person in night.people.items():
            if employee_id in seen or person.start_date is None:
                continue
            if (first.date() - person.start_date).days > window_days or person.start_date > last.date():
                continue
            user = next((n.user_of(person) for n in nights if n.user_of(person)), None)
            if user is None:
                continue
            seen.add(employee_id)
            granted = first_grant(user.user_id, nights)
            at_30 = next((n for n in nights if (n.as_of.date() - person.start_date).days >= 30), None)
            beyond = None
            if at_30 is not None:
                allowed = set(department_groups.get(person.department, [])) | set(shared) | {person.department}
                beyond = sorted(set(at_30.group_names(at_30.user_of(person))) - allowed)
                beyond += [
                    f"direct {a.permission_set_arn.rsplit('/', 1)[-1]} in {a.account_id}"
                    for a in at_30.model.direct_assignments(user.user_id)
                ]
            rows.append(
                {
                    "employee_id": employee_id,
                    "user_name": user.user_name,
                    "department": person.department,
                    "start_date": person.start_date,
                    "first_access": granted,
                    "days_to_access": _days(person.start_date, granted) if granted else None,
                    "beyond_birthright_at_30": beyond,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "employee_id",
            "user_name",
            "department",
            "start_date",
            "first_access",
            "days_to_access",
            "beyond_birthright_at_30",
        ],
    )
