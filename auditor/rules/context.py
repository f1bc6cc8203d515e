"""What every rule reads: the access model, the as-of time, thresholds, evidence windows.

The joins (HR match, memberships, paths, last activity, age) live in the
one access model (auditor.access), built once per run; the context adds
what depends on settings and the as-of time, so each rule stays a short,
pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from auditor.access import AccessModel, tag
from auditor.collect.cloudtrail_plan import vouched
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
from auditor.permissions import PermissionModel
from auditor.rules.policies import is_admin_permission_set
from auditor.snapshot import Snapshot, SourceStatus

DAY = timedelta(days=1)
_IDC_USER = PrincipalType.IDC_USER.value  # read once: an enum member's value costs a descriptor call
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
    access: AccessModel = field(default=None, repr=False)  # type: ignore[assignment]  # built from snapshot if None
    shared: dict[str, Any] = field(default_factory=dict, repr=False)  # what several rules compute once per run

    _windows: dict[tuple[str | None, int, str | None], str | None] = field(default_factory=dict, init=False, repr=False)
    _break_glass: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.access is None:
            self.access = AccessModel(self.snapshot)

    @cached_property
    def permissions(self) -> PermissionModel:
        """Effective permissions of every IAM principal and permission set, each policy version compiled once."""
        return PermissionModel(self.snapshot)

    # --- sources ------------------------------------------------------------

    def usable(self, source: str, account_id: str | None = None) -> bool:
        """A source that was read (fully or partly) for this account."""
        status = self.snapshot.status_of(source, account_id)
        return status is not None and status.status in ("ok", "partial")

    def missing_window(self, account_id: str | None, days: int, fact: str | None = None) -> str | None:
        """None when CloudTrail observed ``account_id`` for the last ``days`` days; else what is missing.

        ``fact`` is the activity kind the caller's claim rests on (None: any
        the account records): a read planned for other facts does not vouch
        for it (``[cloudtrail] read = "needed"``). Asked once per (user,
        account, permission set) path: answered once per (account, days, fact).
        """
        key = (account_id, days, fact)
        if key not in self._windows:
            self._windows[key] = self._missing_window(account_id, days, fact)
        return self._windows[key]

    def _missing_window(self, account_id: str | None, days: int, fact: str | None) -> str | None:
        if account_id is None:
            return "the account where Identity Center records sign-ins is unknown"
        status: SourceStatus | None = self.snapshot.status_of("cloudtrail", account_id)
        if status is None:
            return f"CloudTrail was not collected for account {account_id}"
        if not vouched(status.detail, fact):
            what = f"{fact} activity" if fact else "every kind of activity"
            return (
                f"CloudTrail for account {account_id} was read for {', '.join(status.detail['read']['facts'])} "
                f"only, not for {what} (no rule enabled when it was collected needed it)"
            )
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
        gap = unread_since(status, needed_start)
        if gap is not None:
            return f"CloudTrail for account {account_id} was not read in full in the last {days} days: {gap}"
        return None

    def missing_assignment_window(self, account_id: str, days: int) -> str | None:
        """What keeps "permission set unused in ``account_id`` for ``days`` days" undecided (None: nothing).

        The account's own logs record the sessions; where they were not read,
        the Identity Center home account's portal events (GetRoleCredentials
        names the account and permission set of every use) stand in.
        """
        fact = ActivityKind.IDC_ASSIGNMENT.value
        status = self.snapshot.status_of("cloudtrail", account_id)
        if status is not None and vouched(status.detail, fact):
            return self.missing_window(account_id, days, fact)
        return self.missing_window(self.idc_home_account, days, fact)

    # --- names ----------------------------------------------------------------

    @cached_property
    def _break_glass_patterns(self) -> tuple[str, ...]:
        return tuple(p.lower() for p in self.settings["break_glass_patterns"])

    def is_break_glass(self, *names: str | None) -> bool:
        """Asked for every path and every activity record (a million at estate scale): answered once per name."""
        known = self._break_glass
        for name in names:
            if name:
                answer = known.get(name)
                if answer is None:
                    lowered = name.lower()
                    answer = known[name] = any(p in lowered for p in self._break_glass_patterns)
                if answer:
                    return True
        return False

    def is_service_account(self, user: IdcUser) -> bool:
        listed = {name.lower() for name in self.settings["service_accounts"]}
        return user.user_name.lower() in listed or (user.email or "").lower() in listed

    # --- the access model: every join, built once ----------------------------------

    @property
    def accounts(self) -> dict[str, Account]:
        return self.access.accounts

    @property
    def groups(self) -> dict[str, IdcGroup]:
        return self.access.groups

    @property
    def permission_sets(self) -> dict[str, PermissionSet]:
        return self.access.permission_sets

    def is_production(self, account_id: str | None) -> bool:
        account = self.accounts.get(account_id or "")
        if account is None:
            return False
        environment = (tag(account.tags, "environment") or "").lower()
        return environment in {e.lower() for e in self.settings["production_environments"]}

    def hr_person(self, user: IdcUser) -> HrPerson | None:
        """Match by user name, then by email, case-insensitive (CONTRACT.md; see auditor.access)."""
        return self.access.hr_person(user)

    def unusable_hr_row(self, user: IdcUser) -> dict | None:
        """The HR row that names this user but could not be read, if any."""
        status = self.snapshot.status_of("hr")
        keys = {user.user_name.lower(), (user.email or "").lower()} - {""}
        for row in status.detail.get("unusable_rows", []) if status else []:
            if {(row.get("user_name") or "").lower(), (row.get("email") or "").lower()} & keys:
                return row
        return None

    def owner_team(self, value: str | None) -> str | None:
        """Why ``value`` names an accountable team (account owner, group, [rules] owner_teams), or None."""
        return self.access.owner_team(value, self.settings["owner_teams"])

    def group_names(self, user: IdcUser) -> list[str]:
        return self.access.group_names(user.user_id)

    def group_ids(self, user: IdcUser) -> list[str]:
        return self.access.group_ids(user.user_id)

    def direct_assignments(self, user: IdcUser) -> list[AccountAssignment]:
        return self.access.direct_assignments(user.user_id)

    def assignments_of_group(self, group_id: str) -> list[AccountAssignment]:
        return self.access.assignments_of_group(group_id)

    @property
    def members_of(self) -> dict[str, list[str]]:
        """Group id -> member user ids."""
        return self.access.members_by_group

    def has_access(self, user: IdcUser) -> bool:
        return self.access.has_access(user)

    def permission_set_name(self, arn: str) -> str:
        return self.access.permission_set_name(arn)

    def is_admin(self, arn: str) -> bool:
        ps = self.permission_sets.get(arn)
        return ps is not None and is_admin_permission_set(ps)

    def last_seen(self, kind: str, key: str, account_id: str | None = None) -> datetime | None:
        return self.access.last_seen(kind, key, account_id)

    def idc_last_activity(self, user: IdcUser) -> datetime | None:
        return self.access.idc_last_activity(user)

    def assignment_last_used(self, user: IdcUser, account_id: str, permission_set: str) -> datetime | None:
        return self.access.assignment_last_used(user, account_id, permission_set)

    def key_last_used(self, key: AccessKey) -> datetime | None:
        return self.access.key_last_used(key)

    def idc_user_for_key(self, key: str) -> IdcUser | None:
        return self.access.idc_user_for_key(key)

    # --- principals -----------------------------------------------------------------

    def idc_principal(self, user: IdcUser) -> Principal:
        return Principal(type=_IDC_USER, id=user.user_id, name=user.user_name, arn=None)

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


def unread_since(status: SourceStatus, since: datetime) -> str | None:
    """The first stretch after ``since`` whose events CloudTrail could not read (damaged objects, unlisted regions).

    Any event of the principal may have been in it, so no absence of
    activity is claimed across it.
    """
    for gap in status.detail.get("gaps", []):
        end = datetime.fromisoformat(gap["end"])
        if end >= since:
            objects = gap.get("objects") or 0
            what = f"{objects} log object(s) could not be read" if objects else "a region could not be listed"
            return f"{what} between {gap['start']} and {gap['end']} ({gap.get('error')})"
    return None


def iam_user_principal(user) -> Principal:
    return Principal(type=PrincipalType.IAM_USER.value, id=user.user_id, name=user.user_name, arn=user.arn)


def root_principal(account_id: str) -> Principal:
    return Principal(type=PrincipalType.ROOT.value, id=account_id, name="root", arn=f"arn:aws:iam::{account_id}:root")
