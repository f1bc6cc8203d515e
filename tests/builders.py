"""Builders for small, explicit worlds that rules and pipelines are tested on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    Activity,
    GroupMembership,
    HrPerson,
    IamUser,
    IdcGroup,
    IdcUser,
    PermissionSet,
    RootCredentials,
)
from auditor.snapshot import TABLES, Manifest, Snapshot, SourceStatus

AS_OF = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
MGMT = "111111111111"
PROD = "222222222222"
DEV = "333333333333"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
PS_PREFIX = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/"


def days_ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


@dataclass
class World:
    as_of: datetime = AS_OF
    tables: dict[str, list] = field(default_factory=lambda: {name: [] for name in TABLES})
    statuses: list[SourceStatus] = field(default_factory=list)
    coverage_days: float = 120
    root_users: bool = True  # every account's credential report has its root row (MFA on, no keys) unless given

    def __post_init__(self) -> None:
        self.tables["accounts"] += [
            Account(account_id=MGMT, name="management", is_management=True, tags={"environment": "management"}),
            Account(account_id=PROD, name="prod", tags={"environment": "production", "owner": "owner@example.com"}),
            Account(account_id=DEV, name="dev", tags={"environment": "development"}),
        ]

    # --- Identity Center --------------------------------------------------------

    def idc_user(
        self,
        name: str,
        *,
        created_days_ago: float = 400,
        status: str | None = "ENABLED",
        email: str | None = None,
        user_id: str | None = None,
    ) -> IdcUser:
        user = IdcUser(
            user_id=user_id or f"uid-{name}",
            user_name=name,
            display_name=name.title(),
            email=email or f"{name}@example.com",
            status=status,
            created_at=days_ago(created_days_ago),
        )
        self.tables["idc_users"].append(user)
        return user

    def group(self, name: str, *members: IdcUser) -> IdcGroup:
        group = IdcGroup(group_id=f"gid-{name}", display_name=name)
        self.tables["idc_groups"].append(group)
        for member in members:
            self.tables["idc_memberships"].append(GroupMembership(group_id=group.group_id, user_id=member.user_id))
        return group

    def permission_set(self, name: str, *, managed: list[str] = (), inline: str | None = None) -> PermissionSet:
        ps = PermissionSet(
            arn=PS_PREFIX + f"ps-{name.lower()}", name=name, managed_policies=list(managed), inline_policy=inline
        )
        self.tables["permission_sets"].append(ps)
        return ps

    def assign(self, ps: PermissionSet, principal: IdcUser | IdcGroup, account_id: str) -> None:
        if isinstance(principal, IdcUser):
            kind, pid = "USER", principal.user_id
        else:
            kind, pid = "GROUP", principal.group_id
        self.tables["account_assignments"].append(
            AccountAssignment(account_id=account_id, permission_set_arn=ps.arn, principal_type=kind, principal_id=pid)
        )

    def signed_in(self, user: IdcUser, days: float, *, by: str = "id") -> None:
        key = f"id:{user.user_id}" if by == "id" else f"name:{user.user_name.lower()}"
        self.tables["activity"].append(
            Activity(
                kind="idc_user",
                key=key,
                account_id=MGMT,
                first_seen=days_ago(days + 1),
                last_seen=days_ago(days),
                events=3,
            )
        )

    # --- HR -----------------------------------------------------------------------

    def person(
        self,
        user_name: str,
        *,
        status: str = "active",
        email: str | None = None,
        employment_type: str = "employee",
        end_date: date | None = None,
        department: str = "engineering",
        previous_department: str | None = None,
    ) -> HrPerson:
        person = HrPerson(
            line=len(self.tables["hr_people"]) + 2,
            employee_id=f"E{len(self.tables['hr_people']):04d}",
            email=email or f"{user_name}@example.com",
            user_name=user_name,
            display_name=user_name.title(),
            department=department,
            title="Engineer",
            manager_email="boss@example.com",
            status=status,
            employment_type=employment_type,
            end_date=end_date,
            previous_department=previous_department,
        )
        self.tables["hr_people"].append(person)
        return person

    # --- IAM -------------------------------------------------------------------------

    def iam_user(
        self,
        name: str,
        account_id: str = DEV,
        *,
        password: bool = False,
        mfa: bool = False,
        created_days_ago: float = 400,
    ) -> IamUser:
        user = IamUser(
            account_id=account_id,
            user_name=name,
            user_id=f"AIDA{name.upper():0<17}"[:21],
            arn=f"arn:aws:iam::{account_id}:user/{name}",
            created=days_ago(created_days_ago),
            password_enabled=password,
            mfa_active=mfa,
        )
        self.tables["iam_users"].append(user)
        return user

    def key(
        self,
        user: IamUser,
        key_id: str,
        *,
        created_days_ago: float,
        last_used_days_ago: float | None,
        status: str = "Active",
    ) -> AccessKey:
        key = AccessKey(
            account_id=user.account_id,
            user_name=user.user_name,
            access_key_id=key_id,
            status=status,
            created=days_ago(created_days_ago),
            last_used=None if last_used_days_ago is None else days_ago(last_used_days_ago),
        )
        self.tables["access_keys"].append(key)
        return key

    # --- manifest ---------------------------------------------------------------------

    def snapshot(self, *, overrides: list[SourceStatus] = ()) -> Snapshot:
        accounts = [a.account_id for a in self.tables["accounts"]]
        statuses = [
            SourceStatus(source="organizations"),
            SourceStatus(source="identity_center", detail={"home_account_id": MGMT}),
            SourceStatus(source="hr"),
            *[SourceStatus(source="iam", account_id=a) for a in accounts],
            *[SourceStatus(source="access_advisor", account_id=a) for a in accounts],
            *[
                SourceStatus(
                    source="cloudtrail",
                    account_id=a,
                    coverage_start=days_ago(self.coverage_days),
                    coverage_end=self.as_of,
                )
                for a in accounts
            ],
        ]
        replaced = {(o.source, o.account_id) for o in overrides}
        statuses = [s for s in statuses if (s.source, s.account_id) not in replaced] + list(overrides)
        manifest = Manifest(as_of=self.as_of, sources=statuses)
        tables = {k: list(v) for k, v in self.tables.items()}
        if self.root_users:
            given = {row.account_id for row in tables["root_credentials"]}
            tables["root_credentials"] += [
                RootCredentials(account_id=a, password_enabled=False, mfa_active=True)
                for a in accounts
                if a not in given
            ]
        return Snapshot(manifest=manifest, tables=tables)
