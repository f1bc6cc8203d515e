"""The recorded nights: each run's snapshot, read back, and who held access in it.

Lifecycle metrics compare one night with the next (a leaver's access gone,
a mover's old groups removed, a joiner's first grant), then refine the
night a change was seen to the moment CloudTrail says it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa

from auditor.access import AccessModel
from auditor.model import HrPerson, IdcUser, LifecycleEvent
from auditor.snapshot import Snapshot, SnapshotError
from auditor.snapshot import load as load_snapshot
from auditor.store import Store, runs

# what the nightly comparisons read: who exists, who holds what, what HR says, and the access changes
# (the activity and IAM tables, the bulk of a large snapshot, are not decoded)
NEEDED = (
    "accounts",
    "idc_users",
    "idc_groups",
    "idc_memberships",
    "permission_sets",
    "account_assignments",
    "hr_people",
    "lifecycle_events",
)
REMOVALS = (
    "DeleteGroupMembership",
    "RemoveMemberFromGroup",
    "DeleteAccountAssignment",
    "DeleteUser",
    "UpdateUser",
    "DisableUser",
)


@dataclass
class Night:
    run_id: int
    as_of: datetime
    snapshot: Snapshot

    @cached_property
    def model(self) -> AccessModel:
        return AccessModel(self.snapshot)

    @cached_property
    def people(self) -> dict[str, HrPerson]:
        return {p.employee_id: p for p in self.snapshot.table("hr_people")}

    def user_of(self, person: HrPerson) -> IdcUser | None:
        by_name = {u.user_name.lower(): u for u in self.snapshot.table("idc_users")}
        by_mail = {(u.email or "").lower(): u for u in self.snapshot.table("idc_users")}
        return by_name.get(person.user_name.lower()) or by_mail.get(person.email.lower())

    def has_access(self, user: IdcUser | None) -> bool:
        return user is not None and self.model.has_access(user)

    def group_names(self, user: IdcUser | None) -> list[str]:
        return self.model.group_names(user.user_id) if user else []

    @cached_property
    def membership_owner(self) -> dict[str, str]:
        """membership id -> user id, so a DeleteGroupMembership (which names only the membership) finds its user."""
        return {m.membership_id: m.user_id for m in self.snapshot.table("idc_memberships") if m.membership_id}


def load_nights(store: Store, since: datetime | None = None, current: Night | None = None) -> list[Night]:
    """Every recorded run whose snapshot is still on disk, oldest first (``since``: as-of at or after).

    ``current`` is a run being written, whose snapshot is not in its place yet: it is taken from memory.
    """
    query = sa.select(runs.c.id, runs.c.as_of, runs.c.out_dir).where(runs.c.out_dir.is_not(None)).order_by(runs.c.as_of)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    nights = []
    for run_id, as_of, out_dir in rows:
        if (since is not None and as_of < since) or (current is not None and run_id == current.run_id):
            continue
        try:
            nights.append(Night(run_id, as_of, load_snapshot(Path(out_dir) / "snapshot", only=NEEDED)))
        except SnapshotError:
            continue  # a run directory removed or moved since: that night is not counted
    if current is not None:
        nights = sorted([*nights, current], key=lambda n: n.as_of)
    return nights


def removal_time(
    user_id: str,
    after: datetime | None,
    until: datetime,
    nights: list[Night],
    names: tuple[str, ...] = REMOVALS,
    groups: set[str] | None = None,
) -> datetime | None:
    """The last CloudTrail removal of ``user_id``'s access in ``(after, until]``, or None when none was recorded."""
    owners: dict[str, str] = {}
    for night in nights:
        owners.update(night.membership_owner)
    found: list[datetime] = []
    seen: set[tuple] = set()
    for night in nights:
        for event in night.snapshot.table("lifecycle_events"):
            key = (event.event_time, event.event_name, event.membership_id, event.user_id, event.principal_id)
            if key in seen or not _removes(event, user_id, owners, names, groups, nights):
                continue
            seen.add(key)
            if (after is None or event.event_time > after) and event.event_time <= until:
                found.append(event.event_time)
    return max(found, default=None)


def _removes(
    event: LifecycleEvent,
    user_id: str,
    owners: dict[str, str],
    names: tuple[str, ...],
    groups: set[str] | None,
    nights: list[Night],
) -> bool:
    if event.error_code is not None or event.event_name not in names:
        return False
    target = event.user_id or (owners.get(event.membership_id) if event.membership_id else None)
    if target != user_id:
        return False
    if groups is None:
        return True
    if not event.membership_id:
        return False
    group_ids = {
        m.group_id
        for n in nights
        for m in n.snapshot.table("idc_memberships")
        if m.membership_id == event.membership_id
    }
    names_of = {n.model.group_name(g) for n in nights for g in group_ids}
    return bool(names_of & groups)


def first_grant(user_id: str, nights: list[Night]) -> datetime | None:
    """The earliest CloudTrail grant to ``user_id`` (membership, assignment) or its creation."""
    times = [
        e.event_time
        for night in nights
        for e in night.snapshot.table("lifecycle_events")
        if e.error_code is None
        and e.user_id == user_id
        and e.event_name in ("CreateGroupMembership", "AddMemberToGroup", "CreateAccountAssignment")
    ]
    return min(times, default=None)
