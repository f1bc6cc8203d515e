"""Write a large estate's snapshot directly in the snapshot format (docs/SNAPSHOT.md), no emulator.

The analysis benchmark needs an estate far beyond what the sandbox builds:
by default 100,000 Identity Center users in 1,000 accounts with 1,000,000
(user, account, permission set) paths. Everyone belongs to one team group
(200 people) that holds a permission set in 10 accounts; a tenth of them
hold 2 direct assignments more; HR has leavers, expired contractors and movers;
CloudTrail saw most sign-ins and part of the paths; each account has IAM
users, keys and roles. Seeded, so a figure can be reproduced.

    python bench/analysis_snapshot.py OUT_DIR [--users N] [--accounts N] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.collect.cloudtrail import TABLES as TRAIL_TABLES
from auditor.collect.iam import TABLES as IAM_TABLES
from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    Activity,
    GroupMembership,
    HrPerson,
    IamPolicy,
    IamRole,
    IamUser,
    IdcGroup,
    IdcUser,
    PermissionSet,
    RootCredentials,
)
from auditor.snapshot import SourceResult, SourceStatus

AS_OF = datetime(2026, 6, 30, 6, tzinfo=UTC)
LOOKBACK = timedelta(days=120)
TEAM_SIZE = 200
TEAM_ACCOUNTS = 10  # accounts each team group is assigned to
DIRECT_SHARE, DIRECT_PER_USER = 0.1, 2  # a tenth of the people hold two direct assignments each
USED = 0.95  # share of paths used in the last 80 days (the rest never)
DEPARTMENTS = ("engineering", "platform", "data", "security", "finance", "support", "sales", "people")
INSTANCE = "arn:aws:sso:::instance/ssoins-1111111111111111"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# The AWS managed policies' documents, as the collector reads them (GetPolicyVersion); ReadOnlyAccess is
# abridged to a few services' read actions (the real one lists every service's).
MANAGED_DOCUMENTS = {
    ADMIN: [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    READ_ONLY: [
        {
            "Effect": "Allow",
            "Action": ["ec2:Describe*", "s3:Get*", "s3:List*", "iam:Get*", "iam:List*", "logs:Get*", "lambda:List*"],
            "Resource": "*",
        }
    ],
}


def _ago(rng: random.Random, low: float, high: float) -> datetime:
    return AS_OF - timedelta(days=rng.uniform(low, high))


def _use(rng: random.Random, activity: list, user: IdcUser, account_id: str, permission_set: PermissionSet) -> None:
    """Most paths were used inside the window."""
    if rng.random() < USED:
        seen = _ago(rng, 0, 80)
        activity.append(
            Activity(
                kind="idc_assignment",
                key=f"id:{user.user_id}",
                account_id=account_id,
                detail=permission_set.name,
                first_seen=seen,
                last_seen=seen,
                events=2,
            )
        )


def build(users: int, accounts: int, seed: int) -> snapshots.Snapshot:
    rng = random.Random(seed)
    account_ids = [f"{100000000000 + n * 7919:012d}" for n in range(accounts)]
    account_rows = [
        Account(
            account_id=account_id,
            name=f"account-{n:04d}",
            email=f"aws+{n}@example.com",
            joined=_ago(rng, 200, 2000),
            tags={"owner": f"owner{n % 50}@example.com", "environment": rng.choice(["production", "development"])},
            is_management=n == 0,
        )
        for n, account_id in enumerate(account_ids)
    ]
    permission_sets = [
        PermissionSet(
            arn=f"{INSTANCE.replace('instance', 'permissionSet')}/ps-{n:016x}",
            name=f"Role{n:02d}" if n else "AdministratorAccess",
            managed_policies=[ADMIN if n % 10 == 0 else READ_ONLY],
            created_at=_ago(rng, 400, 1500),
        )
        for n in range(40)
    ]
    people, idc_users, groups, memberships, assignments, activity = [], [], [], [], [], []
    for n in range(users):
        name = f"user{n:06d}@example.com"
        department = DEPARTMENTS[(n // TEAM_SIZE) % len(DEPARTMENTS)]
        roll = rng.random()
        status, end = (
            ("terminated", (AS_OF - timedelta(days=rng.uniform(5, 60))).date()) if roll < 0.02 else ("active", None)
        )
        kind = "contractor" if rng.random() < 0.1 else "employee"
        if kind == "contractor" and end is None:
            end = (AS_OF + timedelta(days=rng.uniform(-30, 300))).date()
        people.append(
            HrPerson(
                line=n + 2,
                employee_id=f"E{n:06d}",
                email=name,
                user_name=name,
                display_name=f"User {n}",
                department=department,
                title="Engineer",
                manager_email=f"user{(n // TEAM_SIZE) * TEAM_SIZE:06d}@example.com",
                status=status,
                employment_type=kind,
                start_date=date(2020, 1, 1),
                end_date=end,
                previous_department=rng.choice(DEPARTMENTS) if rng.random() < 0.01 else None,
            )
        )
        user_id = f"9067{n:08d}-{n % 9973:04x}-4a00-8000-{n:012x}"
        idc_users.append(
            IdcUser(
                user_id=user_id,
                user_name=name,
                display_name=f"User {n}",
                email=name,
                status="ENABLED",
                created_at=_ago(rng, 150, 1500),
            )
        )
        if rng.random() < 0.9:  # signed in inside the window
            seen = _ago(rng, 0, 119)
            activity.append(Activity(kind="idc_user", key=f"id:{user_id}", first_seen=seen, last_seen=seen, events=3))
    for team in range((users + TEAM_SIZE - 1) // TEAM_SIZE):
        group_id = f"group-{team:06d}"
        groups.append(IdcGroup(group_id=group_id, display_name=f"team-{team:04d}"))
        members = idc_users[team * TEAM_SIZE : (team + 1) * TEAM_SIZE]
        memberships.extend(GroupMembership(group_id=group_id, user_id=user.user_id) for user in members)
        targets = rng.sample(account_ids, min(TEAM_ACCOUNTS, accounts))
        permission_set = rng.choice(permission_sets)
        for account_id in targets:
            assignments.append(
                AccountAssignment(
                    account_id=account_id,
                    permission_set_arn=permission_set.arn,
                    principal_type="GROUP",
                    principal_id=group_id,
                )
            )
            for user in members:
                _use(rng, activity, user, account_id, permission_set)
        for user in members:
            if rng.random() >= DIRECT_SHARE:
                continue
            for account_id in rng.sample([a for a in account_ids if a not in targets], DIRECT_PER_USER):
                permission_set = rng.choice(permission_sets)
                assignments.append(
                    AccountAssignment(
                        account_id=account_id,
                        permission_set_arn=permission_set.arn,
                        principal_type="USER",
                        principal_id=user.user_id,
                    )
                )
                _use(rng, activity, user, account_id, permission_set)
    iam_users, keys, roles, roots = [], [], [], []
    for account_id in account_ids:
        roots.append(RootCredentials(account_id=account_id, password_enabled=False, mfa_active=True))
        for n in range(5):
            user_name = f"svc-{n}"
            iam_users.append(
                IamUser(
                    account_id=account_id,
                    user_name=user_name,
                    user_id=f"AIDA{account_id}{n:04d}",
                    arn=f"arn:aws:iam::{account_id}:user/{user_name}",
                    created=_ago(rng, 100, 1500),
                    attached_policies=[READ_ONLY],
                )
            )
            keys.append(
                AccessKey(
                    account_id=account_id,
                    user_name=user_name,
                    access_key_id=f"AKIA{account_id}{n:04d}",
                    status="Active",
                    created=_ago(rng, 100, 1500),
                    last_used=_ago(rng, 0, 300) if rng.random() < 0.8 else None,
                )
            )
        for n in range(10):
            role_name = f"app-role-{n}"
            roles.append(
                IamRole(
                    account_id=account_id,
                    role_name=role_name,
                    role_id=f"AROA{account_id}{n:04d}",
                    arn=f"arn:aws:iam::{account_id}:role/{role_name}",
                    created=_ago(rng, 100, 1500),
                    last_used=_ago(rng, 0, 300) if rng.random() < 0.8 else None,
                    trust_policy={"Version": "2012-10-17", "Statement": []},
                )
            )
    coverage = {"coverage_start": AS_OF - LOOKBACK, "coverage_end": AS_OF}
    statuses = [
        SourceStatus(source="organizations", tables={"accounts": "complete"}),
        SourceStatus(
            source="identity_center",
            detail={"home_account_id": account_ids[0]},
            tables={
                name: "complete"
                for name in ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
            },
        ),
        SourceStatus(source="hr"),
        SourceStatus(source="iam", tables={"iam_policies": "complete"}),  # the AWS managed policies' documents
    ]
    # every table read in full, as the S3 reader and the IAM collector mark them (no access changed in the window)
    for account_id in account_ids:
        statuses.append(SourceStatus(source="iam", account_id=account_id, tables=dict.fromkeys(IAM_TABLES, "complete")))
        statuses.append(
            SourceStatus(
                source="cloudtrail", account_id=account_id, tables=dict.fromkeys(TRAIL_TABLES, "complete"), **coverage
            )
        )
    result = SourceResult(statuses=statuses)
    for name, rows in {
        "accounts": account_rows,
        "idc_users": idc_users,
        "idc_groups": groups,
        "idc_memberships": memberships,
        "permission_sets": permission_sets,
        "account_assignments": assignments,
        "iam_users": iam_users,
        "access_keys": keys,
        "iam_roles": roles,
        "root_credentials": roots,
        "hr_people": people,
        "activity": activity,
        "iam_policies": [
            IamPolicy(
                account_id=None,
                arn=arn,
                name=arn.rsplit("/", 1)[1],
                kind="managed",
                document={"Version": "2012-10-17", "Statement": statements},
                version_id="v1",
            )
            for arn, statements in MANAGED_DOCUMENTS.items()
        ],
    }.items():
        result.add(name, rows)
    return snapshots.build([result], as_of=AS_OF, collected_at=AS_OF, tool_version="bench")


def write(directory: Path, users: int = 100_000, accounts: int = 1_000, seed: int = 1) -> dict[str, int]:
    """Build and save the snapshot into ``directory``; the row counts by table."""
    snapshot = build(users, accounts, seed)
    snapshots.save(snapshot, directory)
    return {name: len(rows) for name, rows in snapshot.tables.items() if rows}


def paths(users: int, accounts: int) -> int:
    """About how many (user, account, permission set) paths the estate holds: team groups' plus direct ones."""
    return round(users * (min(TEAM_ACCOUNTS, accounts) + DIRECT_SHARE * DIRECT_PER_USER))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.perf_counter()
    counts = write(args.out, args.users, args.accounts, args.seed)
    print(f"{paths(args.users, args.accounts):,} paths; {counts} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
