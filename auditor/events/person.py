"""Collect what concerns one person, and nothing organisation-wide: a check that takes seconds on any estate.

Identity Center: the user (GetUserId by user name or email, DescribeUser),
their groups (ListGroupMembershipsForMember), the assignments reaching them
(ListAccountAssignmentsForPrincipal for the user and for each group) and
those permission sets. IAM: the users they own, read by name in their
accounts. Everything an account-wide listing would give (account names and
tags, group names, CloudTrail activity and its coverage) comes from the
latest run's snapshot, the stored evidence; without one, the rules that
need it say "insufficient evidence". Tables are marked complete because
they are complete *for this person*: the findings are filtered to the
person's principals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from auditor.access import tag
from auditor.aws import AwsContext, error_code, pages
from auditor.collect.completeness import Completeness
from auditor.collect.iam import read_user
from auditor.collect.identity_center import read_permission_sets, user_record
from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    GroupMembership,
    HrPerson,
    IamUser,
    IdcGroup,
    IdcUser,
)
from auditor.snapshot import Manifest, Snapshot, SourceStatus

IDC_TABLES = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
PERMISSIONS = (  # what a check calls (deploy/offboarding.yaml grants them; tests/deploy checks it)
    "identitystore:GetUserId",
    "identitystore:DescribeUser",
    "identitystore:DescribeGroup",
    "identitystore:ListGroupMembershipsForMember",
    "sso:ListInstances",
    "sso:ListAccountAssignmentsForPrincipal",
    "sso:DescribePermissionSet",
    "sso:ListManagedPoliciesInPermissionSet",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
    "sso:GetInlinePolicyForPermissionSet",
    "sso:GetPermissionsBoundaryForPermissionSet",
    "sso:ListTagsForResource",
    "iam:GetUser",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:ListGroupsForUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListMFADevices",
    "iam:GetLoginProfile",
    "organizations:DescribeAccount",
    "sts:GetCallerIdentity",
)


@dataclass(frozen=True)
class Who:
    """Whom to check: what a command or an event names."""

    query: str | None = None  # user name, email or employee id
    user_id: str | None = None  # an identity store UserId (a CloudTrail event names the user so)
    iam_users: tuple[tuple[str, str], ...] = ()  # (account id, user name) an event names

    def describe(self) -> str:
        named = [self.query, self.user_id, *(f"{a}/{n}" for a, n in self.iam_users)]
        return ", ".join(n for n in named if n) or "nobody"


@dataclass
class Collected:
    snapshot: Snapshot
    person: HrPerson | None
    user: IdcUser | None
    iam_users: list[IamUser]
    calls: Counter = field(default_factory=Counter)  # API calls by operation

    @property
    def principal_ids(self) -> set[str]:
        """The ids and ARNs that name this person's principals: findings about them are the check's."""
        ids = {self.user.user_id} if self.user else set()
        ids |= {u.user_id for u in self.iam_users} | {u.arn for u in self.iam_users}
        ids |= {k.access_key_id for k in self.snapshot.table("access_keys")}
        return ids

    @property
    def api_calls(self) -> int:
        return sum(self.calls.values())


class _Counting:
    """The context's clients, each counting its calls (what `auditor check` promises to keep small)."""

    def __init__(self, context: AwsContext) -> None:
        self.context = context
        self.calls: Counter = Counter()

    def client(self, service: str, account_id: str | None = None, **kwargs: Any):
        made = self.context.client(service, account_id, **{**kwargs, "shared": False})  # its own: hooked here
        made.meta.events.register("before-call", self._count)
        return made

    def _count(self, model, **_: Any) -> None:
        self.calls[model.name] += 1


def find_person(people: list[HrPerson], query: str | None) -> HrPerson | None:
    """The HR row ``query`` names: employee id, then user name, then email (case-insensitive)."""
    wanted = (query or "").strip().lower()
    if not wanted:
        return None
    for key in ("employee_id", "user_name", "email"):
        for person in people:
            if (getattr(person, key) or "").lower() == wanted:
                return person
    return None


def collect_person(
    context: AwsContext,
    who: Who,
    *,
    people: list[HrPerson],
    hr_status: SourceStatus,
    base: Snapshot | None,
    instance: tuple[str, str] | None,
    as_of: datetime,
) -> Collected:
    """One person's access as a snapshot the rules read (see the module's docstring)."""
    counting = _Counting(context)
    person = find_person(people, who.query)
    book = Completeness(IDC_TABLES)
    instance = instance or _instance(counting, base)
    identity_store = counting.client("identitystore")
    user = _user(identity_store, instance[1], who, person, book) if instance else None
    if person is None and user is not None:
        person = find_person(people, user.user_name) or find_person(people, user.email)

    memberships: list[GroupMembership] = []
    groups: dict[str, IdcGroup] = {g.group_id: g for g in base.table("idc_groups")} if base else {}
    assignments: list[AccountAssignment] = []
    permission_sets = []
    if user is not None:
        memberships = _memberships(identity_store, instance[1], user.user_id, book)
        for membership in memberships:
            if membership.group_id not in groups:
                groups[membership.group_id] = _group(identity_store, instance[1], membership.group_id, book)
        sso = counting.client("sso-admin")
        principals = [("USER", user.user_id)] + [("GROUP", m.group_id) for m in memberships]
        assignments = _assignments(sso, instance[0], principals, book)
        arns = [a.permission_set_arn for a in assignments]
        permission_sets, ps_book = read_permission_sets(counting, instance[0], instance[1], arns)
        book.mark("permission_sets", ps_book.tables["permission_sets"])  # a set not described: not complete
        for message in ps_book.problems.messages:
            book.problems.note(message)
        book_attributes = ps_book.attributes
    else:
        book_attributes = []

    accounts = _accounts(counting, base, {a.account_id for a in assignments} | {a for a, _ in who.iam_users})
    owned = _owned(base, person, user, who)
    iam_users, keys, iam_statuses = _iam(counting, owned)
    tables = {
        "accounts": list(accounts.values()),
        "idc_users": [user] if user else [],
        "idc_groups": list(groups.values()),
        "idc_memberships": memberships,
        "permission_sets": permission_sets,
        "account_assignments": assignments,
        "iam_users": iam_users,
        "access_keys": keys,
        "hr_people": people,
        "activity": _activity(base, user, iam_users, keys),
        "service_access": [
            s for s in (base.table("service_access") if base else []) if s.entity_arn in {u.arn for u in iam_users}
        ],
    }
    idc_detail = {
        "instance_arn": instance[0] if instance else None,
        "identity_store_id": instance[1] if instance else None,
        "home_account_id": _home_account(counting, base),
        "targeted": who.describe(),
    }
    idc = book.status("identity_center", None, failed=instance is None, detail=idc_detail)
    if book_attributes:
        idc = SourceStatus(**{**_fields(idc), "attributes": [*idc.attributes, *book_attributes]})
    statuses = [_organizations(base), idc, *iam_statuses, hr_status, *_from_base(base, "cloudtrail")]
    statuses += [s for s in _from_base(base, "access_advisor") if s.account_id in {u.account_id for u in iam_users}]
    manifest = Manifest(as_of=as_of, sources=statuses, counts={name: len(rows) for name, rows in tables.items()})
    snapshot = Snapshot(manifest=manifest, tables=tables)
    return Collected(snapshot, person, user, iam_users, counting.calls)


def _fields(status: SourceStatus) -> dict:
    return {name: getattr(status, name) for name in status.__struct_fields__}


def _instance(counting: _Counting, base: Snapshot | None) -> tuple[str, str] | None:
    """The instance the latest run read, else the first active one ListInstances shows."""
    status = base.status_of("identity_center") if base else None
    if status is not None and status.detail.get("instance_arn") and status.detail.get("identity_store_id"):
        return status.detail["instance_arn"], status.detail["identity_store_id"]
    for page in pages(counting.client("sso-admin"), "list_instances"):
        for found in page.get("Instances", []):
            if found.get("Status", "ACTIVE") == "ACTIVE":
                return found["InstanceArn"], found["IdentityStoreId"]
    return None


def _user(store: Any, store_id: str, who: Who, person: HrPerson | None, book: Completeness) -> IdcUser | None:
    user_id = who.user_id
    attempts = [("userName", person.user_name if person else who.query)]
    attempts.append(("emails.value", person.email if person else who.query))
    for path, value in attempts if user_id is None else []:
        if not value:
            continue
        try:
            answer = store.get_user_id(
                IdentityStoreId=store_id,
                AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}},
            )
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue
            book.table_error("idc_users", "failed", exc, "identitystore", "GetUserId")
            return None
        user_id = answer["UserId"]
        break
    if user_id is None:
        return None
    try:
        raw = store.describe_user(IdentityStoreId=store_id, UserId=user_id)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            book.table_error("idc_users", "failed", exc, "identitystore", "DescribeUser")
        return None
    return user_record(raw)


def _memberships(store: Any, store_id: str, user_id: str, book: Completeness) -> list[GroupMembership]:
    try:
        raw = [
            m
            for page in pages(
                store, "list_group_memberships_for_member", IdentityStoreId=store_id, MemberId={"UserId": user_id}
            )
            for m in page.get("GroupMemberships", [])
        ]
    except Exception as exc:
        book.table_error("idc_memberships", "failed", exc, "identitystore", "ListGroupMembershipsForMember")
        return []
    found = {
        m["GroupId"]: GroupMembership(group_id=m["GroupId"], user_id=user_id, membership_id=m.get("MembershipId"))
        for m in raw
    }
    return list(found.values())


def _group(store: Any, store_id: str, group_id: str, book: Completeness) -> IdcGroup:
    try:
        raw = store.describe_group(IdentityStoreId=store_id, GroupId=group_id)
    except Exception as exc:
        book.table_error("idc_groups", "partial", exc, "identitystore", "DescribeGroup", f"group {group_id}")
        return IdcGroup(group_id=group_id, display_name=group_id)
    return IdcGroup(
        group_id=group_id, display_name=raw.get("DisplayName") or group_id, description=raw.get("Description")
    )


def _assignments(
    sso: Any, instance_arn: str, principals: list[tuple[str, str]], book: Completeness
) -> list[AccountAssignment]:
    found: dict[tuple, AccountAssignment] = {}
    for kind, principal_id in principals:
        try:
            for page in pages(
                sso,
                "list_account_assignments_for_principal",
                InstanceArn=instance_arn,
                PrincipalId=principal_id,
                PrincipalType=kind,
            ):
                for raw in page.get("AccountAssignments", []):
                    assignment = AccountAssignment(
                        account_id=raw["AccountId"],
                        permission_set_arn=raw["PermissionSetArn"],
                        principal_type=raw.get("PrincipalType") or kind,
                        principal_id=raw.get("PrincipalId") or principal_id,
                    )
                    key = (assignment.account_id, assignment.permission_set_arn, assignment.principal_id)
                    found[key] = assignment
        except Exception as exc:
            where = f"{kind.lower()} {principal_id}"
            book.table_error(
                "account_assignments", "partial", exc, "sso-admin", "ListAccountAssignmentsForPrincipal", where
            )
    return list(found.values())


def _accounts(counting: _Counting, base: Snapshot | None, needed: set[str]) -> dict[str, Account]:
    """The latest run's accounts; an account it did not list is described now."""
    known = {a.account_id: a for a in base.table("accounts")} if base else {}
    for account_id in sorted(needed - set(known)):
        try:
            raw = counting.client("organizations").describe_account(AccountId=account_id)["Account"]
        except Exception:  # named by its id only; the rules say what they cannot tell
            known[account_id] = Account(account_id=account_id, name=account_id)
            continue
        known[account_id] = Account(
            account_id=account_id,
            name=raw.get("Name") or account_id,
            email=raw.get("Email"),
            status=raw.get("Status", "ACTIVE"),
        )
    return known


def _owned(base: Snapshot | None, person: HrPerson | None, user: IdcUser | None, who: Who) -> list[tuple[str, str]]:
    """(account, user name) of the IAM users the person owns (owner or email tag, or their user name) or an event names."""
    names = {
        v.lower()
        for v in (person and person.user_name, person and person.email, user and user.user_name, user and user.email)
        if v
    }
    owned = list(dict.fromkeys(who.iam_users))
    for iam_user in base.table("iam_users") if base and names else []:
        values = (tag(iam_user.tags, "owner"), tag(iam_user.tags, "email"), iam_user.user_name)
        if any(v and v.lower() in names for v in values) and (iam_user.account_id, iam_user.user_name) not in owned:
            owned.append((iam_user.account_id, iam_user.user_name))
    return owned


def _iam(
    counting: _Counting, owned: list[tuple[str, str]]
) -> tuple[list[IamUser], list[AccessKey], list[SourceStatus]]:
    users, keys, statuses = [], [], []
    for account_id in dict.fromkeys(a for a, _ in owned):
        book = Completeness(("iam_users", "access_keys"))
        try:
            iam = counting.client("iam", account_id)
        except Exception as exc:
            book.table_error("iam_users", "failed", exc, "sts", "AssumeRole")
            book.mark("access_keys", "failed")
            statuses.append(book.status("iam", account_id, failed=True, detail={}))
            continue
        for acct, name in owned:
            if acct != account_id:
                continue
            try:
                user, user_keys = read_user(iam, account_id, name, book)
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":  # deleted since: nothing left to own
                    book.table_error("iam_users", "partial", exc, "iam", "GetUser", f"user {name}")
                continue
            users.append(user)
            keys.extend(user_keys)
        statuses.append(book.status("iam", account_id, failed=False, detail={"targeted": True}))
    return users, keys, statuses


def _activity(base: Snapshot | None, user: IdcUser | None, iam_users: list[IamUser], keys: list[AccessKey]) -> list:
    if base is None:
        return []
    wanted = set()
    if user is not None:
        for key in (f"id:{user.user_id}", f"name:{user.user_name.lower()}"):
            wanted |= {("idc_user", key), ("idc_assignment", key)}
    wanted |= {("iam_user", u.user_name) for u in iam_users} | {("access_key", k.access_key_id) for k in keys}
    return [a for a in base.table("activity") if (a.kind, a.key) in wanted]


def _home_account(counting: _Counting, base: Snapshot | None) -> str | None:
    status = base.status_of("identity_center") if base else None
    if status is not None and status.detail.get("home_account_id"):
        return status.detail["home_account_id"]
    try:
        return counting.context.own_account_id()
    except Exception:
        return None


def _organizations(base: Snapshot | None) -> SourceStatus:
    found = base.status_of("organizations") if base else None
    if found is not None:
        return found
    error = "no earlier run to take the accounts from: accounts were described one by one"
    return SourceStatus(source="organizations", status="partial", error=error, tables={"accounts": "partial"})


def _from_base(base: Snapshot | None, source: str) -> list[SourceStatus]:
    return [s for s in base.manifest.sources if s.source == source] if base else []
