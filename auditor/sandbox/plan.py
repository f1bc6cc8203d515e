"""The sandbox's plan: what the organisation holds and what everyone did, before any API call.

A ``World`` is a pure function of (size, seed, as-of): the estate
(``estate.py``), the people and the problems planted among them and in
the estate (``plants.py``, ``access_plants.py``, ``iam_plants.py``, ``escalation_plants.py``), and
every principal's activity as a list of times. The
builder turns it into AWS resources; the activity module turns it into
CloudTrail records; both only read it. Accounts are named by a stable
``key`` until the build knows their ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from auditor.sandbox.people import Person

TRAIL_DAYS = 120  # CloudTrail log objects cover this many days before as-of
# The day Identity Center stopped putting userName in sign-in events (EVENT-SHAPES.md 1a).
IDC_IDENTITY_CHANGE = datetime(2025, 7, 14, tzinfo=UTC)

# Thresholds the plants and boundary cases are placed around (days).
KEY_UNUSED_DAYS = 45
KEY_MAX_AGE_DAYS = 90
IDC_INACTIVE_DAYS = 90
IDC_NEVER_SIGNED_IN_GRACE_DAYS = 30
BREAK_GLASS_RECENT_DAYS = 30
CLEAN_RECENT_DAYS = 30
ROLE_UNUSED_DAYS = 90
IAM_USER_INACTIVE_DAYS = 90
ROOT_USE_DAYS = 90
UNUSED_ASSIGNMENT_DAYS = 90
LEAVE_ACTIVITY_DAYS = 7  # use by a person on leave this recent is reported
COVERAGE_DAYS = 25  # every assignment a user holds is used within this many days of their last sign-in

PROBLEMS = (
    # people and their Identity Center users
    "leaver",
    "not_in_hr",
    "idc_inactive",
    "idc_never_signed_in",
    "expired_contractor",
    "mover",
    "on_leave_used_access",
    "beyond_birthright",
    # the shape of Identity Center access
    "direct_admin_assignment",
    "direct_user_assignment",
    "assignment_unused",
    "admin_access",
    "risky_permission_set",
    "empty_group_with_assignments",
    "unassigned_permission_set",
    "assignment_to_deleted_user",
    # IAM users, keys and roles
    "key_unused",
    "key_old",
    "console_no_mfa",
    "keys_on_console_no_mfa",
    "two_active_keys",
    "iam_user_no_owner",
    "iam_user_owner_left",
    "user_direct_policy",
    "iam_admin_user",
    "iam_user_inactive",
    "role_unused",
    "unused_services",
    # root users and break-glass
    "root_access_key",
    "root_without_mfa",
    "root_used",
    "break_glass_used",
    "break_glass_role_used",
    # privilege-escalation paths (escalation_plants)
    "escalation_policy_version",
    "escalation_attach_put_policy",
    "escalation_credentials",
    "escalation_pass_role",
    "escalation_assume_role",
    "escalation_identity_center",
    # unusual lifecycle activity in the trail (lifecycle_plants)
    "grant_by_person",
    "admin_granted_and_removed",
    "grant_burst",
    "grant_to_absent",
    "sign_in_after_termination",
)


@dataclass
class AccountPlan:
    key: str
    name: str
    email: str
    environment: str  # production | staging | development | sandbox
    owner: str  # an HR email
    joined: datetime
    ou: str | None = None  # organizational unit; None: the root (management account)
    management: bool = False


@dataclass
class PermissionSetPlan:
    name: str
    description: str
    session_duration: str
    created: datetime
    managed: list[str] = field(default_factory=list)
    customer_managed: list[tuple[str, str]] = field(default_factory=list)  # (path, name)
    inline: dict | None = None
    calls: str = "readonly"  # activity catalogue used by its sessions
    tags: dict[str, str] = field(default_factory=lambda: {"managed-by": "terraform"})


@dataclass
class AssignmentPlan:
    account_key: str
    permission_set: str
    principal_type: str  # GROUP | USER
    principal: str  # group display name or IdC user name


@dataclass
class Session:
    """One Identity Center sign-in and the (account key, permission set) pairs it opened (none: portal only)."""

    start: datetime
    targets: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class IdcUserPlan:
    user_name: str
    display_name: str
    given_name: str
    family_name: str
    email: str
    title: str
    created: datetime
    groups: list[str] = field(default_factory=list)
    status: str = "ENABLED"
    updated: datetime | None = None
    sessions: list[Session] = field(default_factory=list)
    person: Person | None = None
    breakglass: bool = False
    deleted: bool = False  # deleted from the identity store after its assignments were made


@dataclass
class KeyPlan:
    created: datetime
    uses: list[datetime] = field(default_factory=list)
    key_id: str | None = None  # written by the builder: the AKIA id AWS gave the key


@dataclass
class IamUserPlan:
    account_key: str
    name: str
    created: datetime
    calls: str  # activity catalogue for its key and console sessions
    console: bool = False
    mfa: bool = False
    console_logins: list[datetime] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    managed: list[str] = field(default_factory=list)
    inline: dict[str, dict] = field(default_factory=dict)
    keys: list[KeyPlan] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class IamGroupPlan:
    account_key: str
    name: str
    created: datetime
    managed: list[str] = field(default_factory=list)


@dataclass
class PolicyPlan:
    account_key: str
    name: str
    created: datetime
    document: dict
    path: str = "/"


@dataclass
class RolePlan:
    account_key: str
    name: str
    created: datetime
    trust_service: str | None  # e.g. "ecs-tasks.amazonaws.com"; None: trusts the management account
    calls: str
    managed: list[str] = field(default_factory=list)
    inline: dict[str, dict] = field(default_factory=dict)
    sessions: list[datetime] = field(default_factory=list)
    description: str = ""
    session_prefix: str = "ci"  # role session names of a caller in another account: <prefix>-00001, ...


@dataclass
class RootPlan:
    """An account's root user: console sign-ins, MFA, and an access key whose last use predates the trail."""

    logins: list[datetime] = field(default_factory=list)
    mfa: bool = True
    key_created: datetime | None = None
    key_last_used: datetime | None = None
    key_last_used_service: str | None = None


@dataclass
class Plant:
    problem: str
    principal_type: str
    name: str
    account_key: str | None
    detail: dict
    key: KeyPlan | None = field(default=None, repr=False)  # the access key concerned, for its id
    # The IdC user whose id names the principal once built (a deleted user leaves nothing else behind).
    user_id_of: str | None = field(default=None, repr=False)


@dataclass
class World:
    size: str
    seed: int
    as_of: datetime
    region: str
    company: str
    domain: str
    idc_created: datetime
    people: list[Person] = field(default_factory=list)
    accounts: list[AccountPlan] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # display name -> description
    permission_sets: list[PermissionSetPlan] = field(default_factory=list)
    assignments: list[AssignmentPlan] = field(default_factory=list)
    idc_users: list[IdcUserPlan] = field(default_factory=list)
    iam_users: list[IamUserPlan] = field(default_factory=list)
    iam_groups: list[IamGroupPlan] = field(default_factory=list)
    policies: list[PolicyPlan] = field(default_factory=list)
    roles: list[RolePlan] = field(default_factory=list)
    roots: dict[str, RootPlan] = field(default_factory=dict)  # account key -> root user (absent: defaults)
    department_groups: dict[str, list[str]] = field(default_factory=dict)  # birthright groups, for the config
    shared_groups: list[str] = field(default_factory=list)
    plants: list[Plant] = field(default_factory=list)
    boundary: list[Plant] = field(default_factory=list)
    clean: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def trail_start(self) -> datetime:
        return self.as_of - timedelta(days=TRAIL_DAYS)

    def account(self, key: str) -> AccountPlan:
        return next(a for a in self.accounts if a.key == key)

    def accounts_in(self, *environments: str) -> list[AccountPlan]:
        return [a for a in self.accounts if a.environment in environments and not a.management]

    def permission_set(self, name: str) -> PermissionSetPlan:
        return next(p for p in self.permission_sets if p.name == name)

    def management(self) -> AccountPlan:
        return next(a for a in self.accounts if a.management)

    def root(self, account_key: str) -> RootPlan:
        return self.roots.setdefault(account_key, RootPlan())


class Clock:
    """Times relative to as-of, drawn from the world's random stream."""

    def __init__(self, rng: random.Random, as_of: datetime) -> None:
        self.rng = rng
        self.as_of = as_of

    def ago(self, days: float, hours: float = 0.0) -> datetime:
        return (self.as_of - timedelta(days=days, hours=hours)).replace(microsecond=0)

    def day(self, days_ago: float) -> date:
        return (self.as_of - timedelta(days=days_ago)).date()

    def work_time(self, day: date) -> datetime:
        """A moment in working hours (06:00-19:00 UTC) of ``day``."""
        moment = datetime.combine(day, time(6), tzinfo=UTC) + timedelta(minutes=self.rng.randrange(13 * 60))
        return moment.replace(second=self.rng.randrange(60))

    def schedule(
        self,
        start: datetime,
        end: datetime,
        every_days: float,
        last_within_days: float | None = None,
        weekdays_only: bool = True,
    ) -> list[datetime]:
        """Activity roughly every ``every_days`` in [start, end], the last one within ``last_within_days`` of end."""
        times: list[datetime] = []
        day = start.date()
        while True:
            moment = self.work_time(day)
            if moment > end:
                break
            if moment >= start and (not weekdays_only or day.weekday() < 5) and self.rng.random() < 1 / every_days:
                times.append(moment)
            day += timedelta(days=1)
        if last_within_days is not None and (not times or end - times[-1] > timedelta(days=last_within_days)):
            floor = max(start, end - timedelta(days=last_within_days))
            times.append(self.between(floor, end))
        return sorted(times)

    def between(self, start: datetime, end: datetime) -> datetime:
        seconds = max(0, int((end - start).total_seconds()))
        return (start + timedelta(seconds=self.rng.randrange(seconds + 1))).replace(microsecond=0)
