"""The one access model: who is who, who reaches what by which path, and when each was last used.

Built once from a snapshot (pure, no I/O) and read by the rules (through the
rule context), the report's inventory, campaign items and remediation, so
every consumer answers "which HR person is this", "how does this user reach
that account" and "how old is this principal" the same way.

**HR matching**, one precedence for every identity: a name is looked up among
the HR rows' ``user_name`` values, then among their ``email`` values, both
case-insensitively. An Identity Center user is matched by its user name,
then by its email (CONTRACT.md). An IAM user has no email of its own: its
``owner`` tag, its ``email`` tag and its user name are each looked up that
way, in that order. When two HR rows share a key, the later row wins.

**Access paths**: a user reaches (account, permission set) directly, or
through each group it is a member of that is assigned there, the way
Identity Center grants access. Every path is kept: removing one path does
not remove the access while another remains.

**Existence** (a principal's age, ``evidence.age_source`` says from what):
the earliest of the API's creation time, the first CloudTrail sighting and
any use IAM itself recorded. A principal seen 104 days ago existed 104 days
ago; an API time later than a sighting is wrong (e.g. a store that stamps
"now"). For an Identity Center user whose store gives no creation time, the
HR start date counts too; it never moves a known creation time earlier,
because a user created last week for a long-serving employee has existed a
week. Anything but the creation time is a lower bound (``Existence.exact``
is False): enough to say a principal is at least that old, not that it is
younger. The snapshot records no creation events, so they are not among
the evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple

from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    ActivityKind,
    HrPerson,
    IamRole,
    IamUser,
    IdcGroup,
    IdcUser,
    PermissionSet,
)
from auditor.snapshot import Snapshot

# the kinds' values, read once: an enum member's value costs a descriptor call, and these are read per row
_IDC_USER, _IDC_ASSIGNMENT = ActivityKind.IDC_USER.value, ActivityKind.IDC_ASSIGNMENT.value
_IDC_KINDS = (_IDC_USER, _IDC_ASSIGNMENT)


# --- tags ----------------------------------------------------------------------------


def tag(tags: dict[str, str], key: str) -> str | None:
    """A tag's value whatever the case of its key (``owner``, ``Owner``), or None when empty."""
    return next((v for k, v in tags.items() if k.lower() == key and v), None)


# --- paths ---------------------------------------------------------------------------


class AccessPath(NamedTuple):
    """One way a user reaches a permission set in an account.

    A named tuple, not a dataclass: a large estate holds millions of paths,
    and a tuple is built several times faster (ordered and hashed the same way).
    """

    user_id: str
    account_id: str
    permission_set_arn: str
    group_id: str | None = None  # None: assigned to the user directly
    group_name: str | None = None

    @property
    def direct(self) -> bool:
        return self.group_id is None

    @property
    def via(self) -> str:
        return "direct" if self.group_id is None else f"via group {self.group_name}"


def _path_order(path: AccessPath) -> tuple[str, str, str, str]:
    """A user's paths by account, permission set, then direct before each group: a grant held both
    ways puts None beside a group id, which tuples cannot compare."""
    return (path.account_id, path.permission_set_arn, path.group_id or "", path.group_name or "")


# --- existence -----------------------------------------------------------------------


class AgeSource(StrEnum):
    """Which evidence gave a principal's existence start (``evidence.age_source``)."""

    CREATED = "api_creation_time"
    CLOUDTRAIL = "cloudtrail_first_seen"
    IAM_LAST_USED = "iam_last_used"  # IAM's own record of a use (credential report, GetAccessKeyLastUsed)
    HR_START = "hr_start_date"
    KEY_CREATED = "access_key_creation_time"


@dataclass(frozen=True)
class Existence:
    """Since when a principal is known to exist, and which evidence says so."""

    since: datetime | None
    source: AgeSource | None
    looked_at: tuple[str, ...] = ()  # what was consulted, for the "missing" text when nothing was found

    @property
    def exact(self) -> bool:
        """Whether the start is the creation time itself, not a later sighting or an HR date."""
        return self.source is AgeSource.CREATED

    def days(self, as_of: datetime) -> float | None:
        return None if self.since is None else (as_of - self.since).total_seconds() / 86400

    @property
    def missing(self) -> str | None:
        """What is missing to know the age, or None when it is known."""
        if self.since is not None:
            return None
        return "the principal's age: no " + ", no ".join(self.looked_at)

    def evidence(self) -> dict:
        return {
            "existed_since": self.since.isoformat() if self.since else None,
            "age_source": self.source.value if self.source else None,
        }


def _earliest(candidates: Iterable[tuple[datetime | None, AgeSource]], looked_at: tuple[str, ...]) -> Existence:
    """The earliest of the known times, with its source (the first listed wins a tie)."""
    known = [(when, source) for when, source in candidates if when is not None]
    if not known:
        return Existence(None, None, looked_at)
    when, source = min(known, key=lambda pair: pair[0])
    return Existence(when, source, looked_at)


def _day_start(day) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- the model -----------------------------------------------------------------------


class AccessModel:
    """Every join the rules, inventory, campaigns and remediation need, over one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._used_for: tuple[str | None, dict] = (None, {})  # the last user's assignment use (``_used_by``)

    # --- directories -------------------------------------------------------------

    @cached_property
    def accounts(self) -> dict[str, Account]:
        return {a.account_id: a for a in self.snapshot.table("accounts")}

    @cached_property
    def idc_users(self) -> dict[str, IdcUser]:
        return {u.user_id: u for u in self.snapshot.table("idc_users")}

    @cached_property
    def groups(self) -> dict[str, IdcGroup]:
        return {g.group_id: g for g in self.snapshot.table("idc_groups")}

    @cached_property
    def permission_sets(self) -> dict[str, PermissionSet]:
        return {p.arn: p for p in self.snapshot.table("permission_sets")}

    def group_name(self, group_id: str) -> str:
        group = self.groups.get(group_id)
        return group.display_name if group else group_id

    def permission_set_name(self, arn: str) -> str:
        ps = self.permission_sets.get(arn)
        return ps.name if ps else arn

    def account_name(self, account_id: str) -> str:
        account = self.accounts.get(account_id)
        return account.name if account else account_id

    # --- person <-> HR --------------------------------------------------------------

    @cached_property
    def _hr_by_user_name(self) -> dict[str, HrPerson]:
        return {p.user_name.lower(): p for p in self.snapshot.table("hr_people") if p.user_name}

    @cached_property
    def _hr_by_email(self) -> dict[str, HrPerson]:
        return {p.email.lower(): p for p in self.snapshot.table("hr_people") if p.email}

    def hr_match(self, name: str | None, email: str | None = None) -> HrPerson | None:
        """The HR row whose user_name is ``name``, else whose email is ``email`` (case-insensitive)."""
        person = self._hr_by_user_name.get(name.lower()) if name else None
        if person is None and email:
            person = self._hr_by_email.get(email.lower())
        return person

    def hr_person(self, user: IdcUser) -> HrPerson | None:
        """An Identity Center user's HR row: by user name, then by email."""
        return self.hr_match(user.user_name, user.email)

    def iam_user_people(self, user: IamUser) -> list[HrPerson]:
        """The HR rows an IAM user names: its owner tag, email tag and user name, in that order, each matched
        by user name then email; distinct, in that order."""
        found: list[HrPerson] = []
        for value in (tag(user.tags, "owner"), tag(user.tags, "email"), user.user_name):
            person = self.hr_match(value, value)
            if person is not None and person not in found:
                found.append(person)
        return found

    def iam_user_person(self, user: IamUser) -> HrPerson | None:
        people = self.iam_user_people(user)
        return people[0] if people else None

    # --- teams ----------------------------------------------------------------------

    @cached_property
    def _teams(self) -> dict[str, str]:
        """Lower-case team name -> why it is a team (an account's owner tag, a group's name)."""
        teams: dict[str, str] = {}
        for group in sorted(self.groups.values(), key=lambda g: g.display_name, reverse=True):
            teams[group.display_name.strip().lower()] = f"Identity Center group {group.display_name}"
        for account in sorted(self.accounts.values(), key=lambda a: a.account_id, reverse=True):
            owner = tag(account.tags, "owner")
            if owner and owner.strip():
                teams[owner.strip().lower()] = f"owner of account {account.name} ({account.account_id})"
        return teams

    def owner_team(self, value: str | None, owner_teams: Iterable[str] = ()) -> str | None:
        """Why ``value`` names an accountable team, or None.

        A team is an address equal to an account's ``owner`` tag, an Identity
        Center group's name, or an entry of ``owner_teams`` (an exact address
        or ``*@domain``); all case-insensitive.
        """
        wanted = (value or "").strip().lower()
        if not wanted:
            return None
        if wanted in self._teams:
            return self._teams[wanted]
        for entry in owner_teams:
            pattern = entry.strip().lower()
            domain = pattern[2:] if pattern.startswith("*@") else None
            if pattern == wanted or (domain and "@" in wanted and wanted.rsplit("@", 1)[1] == domain):
                return f"[rules] owner_teams {entry}"
        return None

    # --- user <-> groups --------------------------------------------------------------

    @cached_property
    def _groups_of_user(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for membership in self.snapshot.table("idc_memberships"):
            groups[membership.user_id].append(membership.group_id)
        return dict(groups)

    @cached_property
    def members_by_group(self) -> dict[str, list[str]]:
        """Group id -> member user ids, in membership order."""
        members: dict[str, list[str]] = defaultdict(list)
        for membership in self.snapshot.table("idc_memberships"):
            members[membership.group_id].append(membership.user_id)
        return dict(members)

    def group_ids(self, user_id: str) -> list[str]:
        """The groups a user is a member of, in membership order."""
        return list(self._groups_of_user.get(user_id, ()))

    def group_names(self, user_id: str) -> list[str]:
        return sorted(self.group_name(g) for g in self.group_ids(user_id))

    def members_of(self, group_id: str) -> list[str]:
        return list(self.members_by_group.get(group_id, ()))

    # --- (principal, account, permission set) <-> paths -----------------------------------

    @cached_property
    def _assignments_of(self) -> dict[tuple[str, str], list[AccountAssignment]]:
        assignments: dict[tuple[str, str], list[AccountAssignment]] = defaultdict(list)
        for assignment in self.snapshot.table("account_assignments"):
            assignments[(assignment.principal_type, assignment.principal_id)].append(assignment)
        return assignments

    def direct_assignments(self, user_id: str) -> list[AccountAssignment]:
        return list(self._assignments_of.get(("USER", user_id), ()))

    def assignments_of_group(self, group_id: str) -> list[AccountAssignment]:
        return list(self._assignments_of.get(("GROUP", group_id), ()))

    def paths_of(self, user_id: str) -> list[AccessPath]:
        """Every path of a user: direct assignments first, then each group's, in membership order."""
        return list(self._paths_of(user_id))

    def _paths_of(self, user_id: str) -> tuple[AccessPath, ...]:
        paths = self._paths.get(user_id)
        if paths is None:
            new = tuple.__new__  # AccessPath's own __new__ is Python; a million paths are built in C this way
            found = [
                new(AccessPath, (user_id, a.account_id, a.permission_set_arn, None, None))
                for a in self._assignments_of.get(("USER", user_id), ())
            ]
            for group_id in self._groups_of_user.get(user_id, ()):
                name = self.group_name(group_id)
                found.extend(
                    new(AccessPath, (user_id, a.account_id, a.permission_set_arn, group_id, name))
                    for a in self._assignments_of.get(("GROUP", group_id), ())
                )
            paths = self._paths[user_id] = tuple(found)
        return paths

    @cached_property
    def _paths(self) -> dict[str, tuple[AccessPath, ...]]:
        """User id -> paths, filled as users are asked for: several rules and the inventory ask for each."""
        return {}

    def grants_of(self, user_id: str) -> dict[tuple[str, str], list[AccessPath]]:
        """(account, permission set ARN) -> every path by which the user holds it."""
        grants: dict[tuple[str, str], list[AccessPath]] = {}
        for path in self._paths_of(user_id):
            held = grants.setdefault((path.account_id, path.permission_set_arn), [])
            if path not in held:
                held.append(path)
        return grants

    @cached_property
    def all_paths(self) -> list[AccessPath]:
        """Every path of every user named by an assignment or a membership (known to the directory or not):
        by user id, and each user's by account, permission set, direct first."""
        user_ids = {a.principal_id for a in self.snapshot.table("account_assignments") if a.principal_type == "USER"}
        user_ids |= set(self._groups_of_user)
        ordered: list[AccessPath] = []
        for user_id in sorted(user_ids):  # each user's few paths sorted apart: far cheaper than a million at once
            ordered.extend(sorted(set(self._paths_of(user_id)), key=_path_order))
        return ordered

    def has_access(self, user: IdcUser) -> bool:
        """Enabled, or still in a group, or still assigned somewhere (unknown status counts as enabled)."""
        enabled = (user.status or "ENABLED").upper() != "DISABLED"
        return enabled or bool(self.group_ids(user.user_id)) or bool(self.direct_assignments(user.user_id))

    # --- activity: first and last seen per key ---------------------------------------------

    @cached_property
    def _seen(self) -> dict[tuple[str, str | None, str], tuple[datetime, datetime]]:
        """(kind, account or None, key) -> (first, last) seen. Identity Center kinds are organisation-wide:
        using a permission set means the person signed in."""
        seen: dict[tuple[str, str | None, str], tuple[datetime, datetime]] = {}
        for activity in self.snapshot.table("activity"):
            if activity.kind in _IDC_KINDS:
                key = (_IDC_USER, None, activity.key)
            else:
                key = (activity.kind, activity.account_id, activity.key)
            first, last = seen.get(key, (activity.first_seen, activity.last_seen))
            seen[key] = (min(first, activity.first_seen), max(last, activity.last_seen))
        return seen

    @cached_property
    def _assignment_last_used(self) -> dict[str, dict[tuple[str | None, str], datetime]]:
        """Activity key -> (account, permission set name lower-cased) -> last use."""
        last: dict[str, dict[tuple[str | None, str], datetime]] = {}
        for activity in self.snapshot.table("activity"):
            if activity.kind != _IDC_ASSIGNMENT:
                continue
            used = last.setdefault(activity.key, {})
            key = (activity.account_id, (activity.detail or "").lower())
            if key not in used or activity.last_seen > used[key]:
                used[key] = activity.last_seen
        return last

    def last_seen(self, kind: str, key: str, account_id: str | None = None) -> datetime | None:
        seen = self._seen.get((kind, account_id, key))
        return seen[1] if seen else None

    def first_seen(self, kind: str, key: str, account_id: str | None = None) -> datetime | None:
        seen = self._seen.get((kind, account_id, key))
        return seen[0] if seen else None

    @staticmethod
    def user_keys(user: IdcUser) -> list[str]:
        """The activity keys that may name this user (new events by id, older by name or email)."""
        keys = [f"id:{user.user_id}", f"name:{user.user_name.lower()}"]
        if user.email:
            keys.append(f"name:{user.email.lower()}")
        return keys

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

    def idc_last_activity(self, user: IdcUser) -> datetime | None:
        """Last sign-in or use of access."""
        seen = [self.last_seen(_IDC_USER, k) for k in self._user_keys(user)]
        return max((s for s in seen if s is not None), default=None)

    def idc_first_seen(self, user: IdcUser) -> datetime | None:
        seen = [self.first_seen(_IDC_USER, k) for k in self.user_keys(user)]
        return min((s for s in seen if s is not None), default=None)

    def assignment_last_used(self, user: IdcUser, account_id: str, permission_set: str) -> datetime | None:
        """Last use of permission set ``permission_set`` (its name) in ``account_id`` by the user."""
        return self._used_by(user).get((account_id, permission_set.lower()))

    def _used_by(self, user: IdcUser) -> dict[tuple[str | None, str], datetime]:
        """Last use per (account, permission set) over every key that may name ``user``.

        Rules and the report go user by user, asking for each of the user's
        paths in turn, so the last user's answer is kept (one, not a million).
        """
        asked, answer = self._used_for  # one read: another thread may replace it
        if asked == user.user_id:
            return answer
        merged: dict[tuple[str | None, str], datetime] = {}
        by_key = self._assignment_last_used
        for key in self._user_keys(user):
            for where, when in by_key.get(key, {}).items():
                prior = merged.get(where)
                if prior is None or when > prior:
                    merged[where] = when
        self._used_for = (user.user_id, merged)
        return merged

    def _user_keys(self, user: IdcUser) -> list[str]:
        """``user_keys``, made once per user: asked again for each of the user's paths."""
        keys = self._keys_by_user.get(user.user_id)
        if keys is None:
            keys = self._keys_by_user[user.user_id] = self.user_keys(user)
        return keys

    @cached_property
    def _keys_by_user(self) -> dict[str, list[str]]:
        return {}

    def key_last_used(self, key: AccessKey) -> datetime | None:
        """The later of IAM's own record and CloudTrail's."""
        from_trail = self.last_seen(ActivityKind.ACCESS_KEY.value, key.access_key_id, key.account_id)
        return max((t for t in (key.last_used, from_trail) if t is not None), default=None)

    @cached_property
    def _keys_of(self) -> dict[tuple[str, str], list[AccessKey]]:
        keys: dict[tuple[str, str], list[AccessKey]] = defaultdict(list)
        for key in self.snapshot.table("access_keys"):
            keys[(key.account_id, key.user_name)].append(key)
        return keys

    def keys_of(self, user: IamUser) -> list[AccessKey]:
        return list(self._keys_of.get((user.account_id, user.user_name), ()))

    def iam_user_last_used(self, user: IamUser) -> datetime | None:
        """The latest use of any of the user's credentials: console password, any key, CloudTrail."""
        used = [user.password_last_used, self.last_seen(ActivityKind.IAM_USER.value, user.user_name, user.account_id)]
        used += [self.key_last_used(k) for k in self.keys_of(user)]
        return max((t for t in used if t is not None), default=None)

    # --- existence ---------------------------------------------------------------------------

    def idc_user_existence(self, user: IdcUser) -> Existence:
        person = self.hr_person(user)
        start = person.start_date if person and user.created_at is None else None
        return _earliest(
            [
                (user.created_at, AgeSource.CREATED),
                (self.idc_first_seen(user), AgeSource.CLOUDTRAIL),
                (_day_start(start) if start else None, AgeSource.HR_START),
            ],
            ("creation time from the identity store", "HR start_date", "CloudTrail sighting"),
        )

    def iam_user_existence(self, user: IamUser) -> Existence:
        keys = self.keys_of(user)
        sightings = [self.first_seen(ActivityKind.IAM_USER.value, user.user_name, user.account_id)]
        sightings += [self.first_seen(ActivityKind.ACCESS_KEY.value, k.access_key_id, k.account_id) for k in keys]
        used = [user.password_last_used, *(k.last_used for k in keys)]
        return _earliest(
            [
                (user.created, AgeSource.CREATED),
                (min((s for s in sightings if s), default=None), AgeSource.CLOUDTRAIL),
                (min((k.created for k in keys if k.created), default=None), AgeSource.KEY_CREATED),
                (min((t for t in used if t), default=None), AgeSource.IAM_LAST_USED),
            ],
            ("creation time from IAM", "access key creation time", "CloudTrail sighting", "recorded use"),
        )

    def key_existence(self, key: AccessKey) -> Existence:
        return _earliest(
            [
                (key.created, AgeSource.CREATED),
                (
                    self.first_seen(ActivityKind.ACCESS_KEY.value, key.access_key_id, key.account_id),
                    AgeSource.CLOUDTRAIL,
                ),
                (key.last_used, AgeSource.IAM_LAST_USED),
            ],
            ("key creation time from IAM", "CloudTrail sighting", "recorded use"),
        )

    def role_existence(self, role: IamRole) -> Existence:
        return _earliest(
            [
                (role.created, AgeSource.CREATED),
                (self.first_seen(ActivityKind.IAM_ROLE.value, role.arn, role.account_id), AgeSource.CLOUDTRAIL),
                (role.last_used, AgeSource.IAM_LAST_USED),
            ],
            ("role creation time from IAM", "CloudTrail sighting", "RoleLastUsed"),
        )
