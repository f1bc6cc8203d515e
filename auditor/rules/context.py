"""What every rule reads: the snapshot indexed for lookups, the as-of time, thresholds.

Building the joins once (HR match, memberships, assignments, last activity,
evidence windows) keeps each rule a short, pure function.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    ActivityKind,
    HrPerson,
    IdcGroup,
    IdcUser,
    PermissionSet,
    Principal,
    PrincipalType,
)
from auditor.rules.policies import is_admin_permission_set
from auditor.snapshot import Snapshot, SourceStatus

DAY = timedelta(days=1)
# CloudTrail delivers log files about every five minutes; a window that ends
# within this slack of the as-of time is taken as reaching it.
DELIVERY_SLACK = timedelta(hours=24)


def days_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier) / DAY


def is_enabled(user: IdcUser) -> bool:
    """Unknown status counts as enabled: only an explicit DISABLED removes sign-in."""
    return (user.status or "ENABLED").upper() != "DISABLED"


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class RuleContext:
    snapshot: Snapshot
    as_of: datetime
    settings: dict[str, Any]  # the [rules] section
    idc_home_account: str | None = None  # where Identity Center sign-in events are recorded
    _cache: dict = field(default_factory=dict, repr=False)

    # --- sources ------------------------------------------------------------

    def usable(self, source: str, account_id: str | None = None) -> bool:
        """A source that was read (fully or partly) for this account."""
        status = self.snapshot.status_of(source, account_id)
        return status is not None and status.status in ("ok", "partial")

    def missing_window(self, account_id: str | None, days: int) -> str | None:
        """None when CloudTrail observed ``account_id`` for the last ``days`` days; else what is missing."""
        if account_id is None:
            return "the account where Identity Center records sign-ins is unknown"
        status: SourceStatus | None = self.snapshot.status_of("cloudtrail", account_id)
        if status is None:
            return f"CloudTrail was not collected for account {account_id}"
        if status.status == "failed" or status.coverage_start is None or status.coverage_end is None:
            return f"CloudTrail for account {account_id} could not be read ({status.error or 'no log objects'})"
        needed_start = self.as_of - days * DAY
        if status.coverage_start > needed_start:
            observed = days_between(status.coverage_start, min(status.coverage_end, self.as_of))
            return (
                f"CloudTrail for account {account_id} covers {observed:.0f} days "
                f"from {status.coverage_start.isoformat()}, {days} needed"
            )
        if status.coverage_end < self.as_of - DELIVERY_SLACK:
            return (
                f"CloudTrail for account {account_id} ends at {status.coverage_end.isoformat()}, before the as-of time"
            )
        return None

    # --- names ----------------------------------------------------------------

    def is_break_glass(self, *names: str | None) -> bool:
        patterns = [p.lower() for p in self.settings["break_glass_patterns"]]
        return any(name and any(p in name.lower() for p in patterns) for name in names)

    def is_service_account(self, user: IdcUser) -> bool:
        listed = {name.lower() for name in self.settings["service_accounts"]}
        return user.user_name.lower() in listed or (user.email or "").lower() in listed

    # --- organisations -------------------------------------------------------

    @cached_property
    def accounts(self) -> dict[str, Account]:
        return {a.account_id: a for a in self.snapshot.table("accounts")}

    def is_production(self, account_id: str | None) -> bool:
        account = self.accounts.get(account_id or "")
        if account is None:
            return False
        environment = (account.tags.get("environment") or account.tags.get("Environment") or "").lower()
        return environment in {e.lower() for e in self.settings["production_environments"]}

    # --- HR --------------------------------------------------------------------

    @cached_property
    def _hr_by_user_name(self) -> dict[str, HrPerson]:
        return {p.user_name.lower(): p for p in self.snapshot.table("hr_people")}

    @cached_property
    def _hr_by_email(self) -> dict[str, HrPerson]:
        return {p.email.lower(): p for p in self.snapshot.table("hr_people")}

    def hr_person(self, user: IdcUser) -> HrPerson | None:
        """Match by user name, then by email, case-insensitive (CONTRACT.md)."""
        person = self._hr_by_user_name.get(user.user_name.lower())
        if person is None and user.email:
            person = self._hr_by_email.get(user.email.lower())
        return person

    def unusable_hr_row(self, user: IdcUser) -> dict | None:
        """The HR row that names this user but could not be read, if any."""
        status = self.snapshot.status_of("hr")
        keys = {user.user_name.lower(), (user.email or "").lower()} - {""}
        for row in status.detail.get("unusable_rows", []) if status else []:
            if {(row.get("user_name") or "").lower(), (row.get("email") or "").lower()} & keys:
                return row
        return None

    # --- Identity Center ---------------------------------------------------------

    @cached_property
    def groups(self) -> dict[str, IdcGroup]:
        return {g.group_id: g for g in self.snapshot.table("idc_groups")}

    @cached_property
    def permission_sets(self) -> dict[str, PermissionSet]:
        return {p.arn: p for p in self.snapshot.table("permission_sets")}

    @cached_property
    def _groups_of_user(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for membership in self.snapshot.table("idc_memberships"):
            groups[membership.user_id].append(membership.group_id)
        return groups

    @cached_property
    def _assignments_of(self) -> dict[tuple[str, str], list[AccountAssignment]]:
        assignments: dict[tuple[str, str], list[AccountAssignment]] = defaultdict(list)
        for assignment in self.snapshot.table("account_assignments"):
            assignments[(assignment.principal_type, assignment.principal_id)].append(assignment)
        return assignments

    def group_names(self, user: IdcUser) -> list[str]:
        return sorted(
            self.groups[g].display_name if g in self.groups else g for g in self._groups_of_user[user.user_id]
        )

    def direct_assignments(self, user: IdcUser) -> list[AccountAssignment]:
        return self._assignments_of[("USER", user.user_id)]

    def all_assignments(self, user: IdcUser) -> list[tuple[AccountAssignment, str | None]]:
        """Every assignment the user can use, with the group it comes through (None = direct)."""
        paths: list[tuple[AccountAssignment, str | None]] = [(a, None) for a in self.direct_assignments(user)]
        for group_id in self._groups_of_user[user.user_id]:
            name = self.groups[group_id].display_name if group_id in self.groups else group_id
            paths.extend((a, name) for a in self._assignments_of[("GROUP", group_id)])
        return paths

    def has_access(self, user: IdcUser) -> bool:
        """Enabled, or still in a group, or still assigned somewhere."""
        return is_enabled(user) or bool(self._groups_of_user[user.user_id]) or bool(self.direct_assignments(user))

    def group_ids(self, user: IdcUser) -> list[str]:
        return list(self._groups_of_user[user.user_id])

    @cached_property
    def members_of(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = defaultdict(list)
        for membership in self.snapshot.table("idc_memberships"):
            members[membership.group_id].append(membership.user_id)
        return members

    def assignments_of_group(self, group_id: str) -> list[AccountAssignment]:
        return self._assignments_of[("GROUP", group_id)]

    def permission_set_name(self, arn: str) -> str:
        ps = self.permission_sets.get(arn)
        return ps.name if ps else arn

    def is_admin(self, arn: str) -> bool:
        ps = self.permission_sets.get(arn)
        return ps is not None and is_admin_permission_set(ps)

    # --- activity ---------------------------------------------------------------

    @cached_property
    def _last_seen(self) -> dict[tuple[str, str | None, str], datetime]:
        """(kind, account or None, key) -> last seen. Identity Center kinds are organisation-wide."""
        idc_kinds = {ActivityKind.IDC_USER.value, ActivityKind.IDC_ASSIGNMENT.value}
        last: dict[tuple[str, str | None, str], datetime] = {}
        for activity in self.snapshot.table("activity"):
            if activity.kind in idc_kinds:
                # using a permission set means the person signed in
                key = (ActivityKind.IDC_USER.value, None, activity.key)
            else:
                key = (activity.kind, activity.account_id, activity.key)
            if key not in last or activity.last_seen > last[key]:
                last[key] = activity.last_seen
        return last

    @cached_property
    def _assignment_last_used(self) -> dict[tuple[str, str | None, str | None], datetime]:
        last: dict[tuple[str, str | None, str | None], datetime] = {}
        for activity in self.snapshot.table("activity"):
            if activity.kind != ActivityKind.IDC_ASSIGNMENT.value:
                continue
            key = (activity.key, activity.account_id, (activity.detail or "").lower())
            if key not in last or activity.last_seen > last[key]:
                last[key] = activity.last_seen
        return last

    def user_keys(self, user: IdcUser) -> list[str]:
        """The activity keys that may name this user (new events by id, older by name or email)."""
        keys = [f"id:{user.user_id}", f"name:{user.user_name.lower()}"]
        if user.email:
            keys.append(f"name:{user.email.lower()}")
        return keys

    def assignment_last_used(self, user: IdcUser, account_id: str, permission_set: str) -> datetime | None:
        seen = [self._assignment_last_used.get((k, account_id, permission_set.lower())) for k in self.user_keys(user)]
        return max((s for s in seen if s is not None), default=None)

    @cached_property
    def _users_by_key(self) -> dict[str, IdcUser]:
        keyed: dict[str, IdcUser] = {}
        for user in self.snapshot.table("idc_users"):
            for key in self.user_keys(user):
                keyed.setdefault(key, user)
        return keyed

    def idc_user_for_key(self, key: str) -> IdcUser | None:
        """The user an activity key names (``id:...`` or ``name:...``), if still in the directory."""
        return self._users_by_key.get(key)

    def last_seen(self, kind: str, key: str, account_id: str | None = None) -> datetime | None:
        return self._last_seen.get((kind, account_id, key))

    def idc_last_activity(self, user: IdcUser) -> datetime | None:
        """Last sign-in or use of access, keyed by user id (new events) or name/email (older)."""
        seen = [self._last_seen.get((ActivityKind.IDC_USER.value, None, k)) for k in self.user_keys(user)]
        return max((s for s in seen if s is not None), default=None)

    def key_last_used(self, key: AccessKey) -> datetime | None:
        """The later of IAM's own record and CloudTrail's."""
        from_trail = self._last_seen.get((ActivityKind.ACCESS_KEY.value, key.account_id, key.access_key_id))
        candidates = [t for t in (key.last_used, from_trail) if t is not None]
        return max(candidates, default=None)

    # --- principals -----------------------------------------------------------------

    def idc_principal(self, user: IdcUser) -> Principal:
        return Principal(type=PrincipalType.IDC_USER.value, id=user.user_id, name=user.user_name, arn=None)

    # --- completeness -----------------------------------------------------------------

    def table_complete(self, source: str, table: str, account_id: str | None = None) -> bool:
        """Whether ``source`` listed ``table`` completely: what an absence claim over it needs."""
        return self.snapshot.table_complete(source, table, account_id)

    def attribute_missing(self, what: str, object_id: str) -> str | None:
        """The error that kept attribute ``what`` (e.g. ``permission_set.tags``) of an object unread, or None."""
        return self.snapshot.attribute_gap(what, object_id)

    def policies_missing(self, permission_set_arn: str) -> str | None:
        """What is unknown about a permission set's policies (None: all read), so none is called non-admin.

        Its power comes from its managed, customer-managed and inline
        policies; a boundary only narrows it and tags say nothing about it.
        """
        gaps = [
            f"{field.replace('_', ' ')}: {error}"
            for field in ("managed_policies", "customer_managed_policies", "inline_policy")
            if (error := self.attribute_missing(f"permission_set.{field}", permission_set_arn))
        ]
        if not gaps:
            return None
        name = self.permission_set_name(permission_set_arn)
        return f"the policies of permission set {name} could not be read ({'; '.join(gaps)})"


def iam_user_principal(user) -> Principal:
    return Principal(type=PrincipalType.IAM_USER.value, id=user.user_id, name=user.user_name, arn=user.arn)


def root_principal(account_id: str) -> Principal:
    return Principal(type=PrincipalType.ROOT.value, id=account_id, name="root", arn=f"arn:aws:iam::{account_id}:root")
