"""Estates shaped as real ones drift: every analysis output holds on a seeded variety of irregular shapes.

Each seed builds a small estate from the shapes real directories and
organisations accumulate and the sandbox's tidy world seldom has: a grant
held both directly and through a group, assignments to principals,
permission sets and accounts no longer known, assignments in a suspended
account, members of groups who left the directory, users without email or
status, a break-glass user, HR rows that match nobody, match by email in
another case or repeat a rehired person, activity keyed by id or by name,
roles never used or open to anyone, failed and partial sources. `auditor
analyze` must finish on each and keep the output contract, a campaign must
open on its run, export its packets, close with an evidence pack that
verifies, and the analyst frames must read the run: a crash there is an
access review that never arrives.
"""

from __future__ import annotations

import json
import random
from datetime import date

import pytest

from auditor import frames
from auditor import snapshot as snapshots
from auditor.cli import main
from auditor.model import AccessKey, Account, AccountAssignment, Activity, GroupMembership, IamRole, IdcUser
from auditor.snapshot import SourceStatus

from .builders import ADMIN_ARN, DEV, MGMT, PROD, PS_PREFIX, World, days_ago
from .contract import contract_problems

GONE_ACCOUNT = "444444444444"
SUSPENDED = "555555555555"
SEEDS = range(8)


def irregular_world(seed: int) -> World:
    rng = random.Random(seed)
    world = World()
    accounts = [MGMT, PROD, DEV]
    sets = [world.permission_set("Admin", managed=[ADMIN_ARN]), world.permission_set("ReadOnly")]
    if rng.random() < 0.5:
        sets.append(world.permission_set("NotActionAll", inline=json.dumps(_not_action_policy())))
    users = []
    names = [f"user{n}" for n in range(rng.randint(3, 9))] + (["breakglass-1"] if rng.random() < 0.3 else [])
    for name in names:
        user = world.idc_user(
            name,
            status=rng.choice(["ENABLED", "ENABLED", "DISABLED", None]),
            created_days_ago=rng.choice([2, 40, 400]),
        )
        if rng.random() < 0.2:  # no primary email; created time not returned
            world.tables["idc_users"][-1] = user = IdcUser(user_id=user.user_id, user_name=user.user_name)
        users.append(user)
    groups = [world.group(f"team{n}", *rng.sample(users, rng.randint(0, len(users)))) for n in range(rng.randint(1, 3))]
    if rng.random() < 0.5:  # a member the directory no longer knows
        world.tables["idc_memberships"].append(GroupMembership(group_id=groups[0].group_id, user_id="uid-departed"))
    for _ in range(rng.randint(4, 14)):
        _assign_once(world, rng.choice(sets), rng.choice([*users, *groups]), rng.choice(accounts))
    both = rng.choice(users)  # one grant held directly and through a group
    group = groups[0]
    if both.user_id not in {m.user_id for m in world.tables["idc_memberships"] if m.group_id == group.group_id}:
        world.tables["idc_memberships"].append(GroupMembership(group_id=group.group_id, user_id=both.user_id))
    _assign_once(world, sets[0], group, PROD)
    _assign_once(world, sets[0], both, PROD)
    for account_id, ps_arn, kind, principal_id in (
        (GONE_ACCOUNT, sets[1].arn, "USER", both.user_id),  # an account no longer in the organisation
        (DEV, PS_PREFIX + "ps-deleted", "USER", users[0].user_id),
        (DEV, sets[1].arn, "USER", "uid-deleted"),
        (DEV, sets[1].arn, "GROUP", "gid-deleted"),
    ):
        world.tables["account_assignments"].append(
            AccountAssignment(
                account_id=account_id, permission_set_arn=ps_arn, principal_type=kind, principal_id=principal_id
            )
        )
    if rng.random() < 0.5:  # a suspended account still holding an assignment
        world.tables["accounts"].append(Account(account_id=SUSPENDED, name="closing", status="SUSPENDED"))
        _assign_once(world, sets[1], rng.choice(users), SUSPENDED)
    _hr(world, rng, users)
    _activity(world, rng, users, sets)
    _iam(world, rng)
    return world


def _assign_once(world: World, ps, principal, account_id: str) -> None:
    """AWS lists each (account, permission set, principal) once."""
    before = list(world.tables["account_assignments"])
    world.assign(ps, principal, account_id)
    if world.tables["account_assignments"][-1] in before:
        world.tables["account_assignments"].pop()


def _not_action_policy() -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}


def _hr(world: World, rng: random.Random, users: list[IdcUser]) -> None:
    for user in users:
        if rng.random() < 0.25:
            continue  # not in HR
        status = rng.choice(["active", "active", "terminated", "leave"])
        ended = date(2026, 10, 1) if status == "terminated" else None
        email = (user.email or f"{user.user_name}@example.com").upper() if rng.random() < 0.3 else user.email
        world.person(user.user_name, status=status, end_date=ended, email=email)
    world.person("nobody-in-the-directory")
    if rng.random() < 0.3:  # rehired: a second HR row with the same email, the old one terminated
        world.person(users[0].user_name, status="terminated", end_date=date(2024, 3, 1), email=users[0].email)


def _activity(world: World, rng: random.Random, users: list[IdcUser], sets: list) -> None:
    for user in rng.sample(users, rng.randint(0, len(users))):
        world.signed_in(user, rng.choice([1, 30, 100, 200]), by=rng.choice(["id", "name"]))
        if rng.random() < 0.5:
            world.tables["activity"].append(
                Activity(
                    kind="idc_assignment",
                    key=f"id:{user.user_id}",
                    account_id=rng.choice([PROD, DEV]),
                    first_seen=days_ago(50),
                    last_seen=days_ago(rng.choice([3, 80])),
                    events=2,
                    detail=rng.choice(sets).name,
                )
            )


def _iam(world: World, rng: random.Random) -> None:
    for number in range(rng.randint(0, 3)):
        user = world.iam_user(f"svc{number}", rng.choice([PROD, DEV]), password=rng.random() < 0.5)
        for index in range(rng.randint(0, 2)):
            world.key(
                user,
                f"AKIA{number:08d}{index:08d}",
                created_days_ago=rng.choice([10, 200, 500]),
                last_used_days_ago=rng.choice([None, 5, 150]),
                status=rng.choice(["Active", "Inactive"]),
            )
    for number in range(rng.randint(0, 3)):
        account_id = rng.choice([PROD, DEV])
        world.tables["iam_roles"].append(
            IamRole(
                account_id=account_id,
                role_name=f"app{number}",
                role_id=f"AROA{number:017d}",
                arn=f"arn:aws:iam::{account_id}:role/app{number}",
                created=rng.choice([None, days_ago(300)]),
                last_used=rng.choice([None, days_ago(2), days_ago(200)]),
                trust_policy=rng.choice([None, {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}}]}]),
                attached_policies=rng.choice([[], [ADMIN_ARN]]),
            )
        )
    if rng.random() < 0.3:  # a key whose owner the IAM listing missed
        orphan = AccessKey(account_id=DEV, user_name="unlisted", access_key_id="AKIAORPHAN", status="Active")
        world.tables["access_keys"].append(orphan)


IDENTITY_CENTER = SourceStatus(
    source="identity_center",
    detail={
        "home_account_id": MGMT,
        "instance_arn": "arn:aws:sso:::instance/ssoins-1111111111111111",
        "identity_store_id": "d-1111111111",
    },
)


def _degraded(rng: random.Random) -> list[SourceStatus]:
    """Sources real estates fail or half-read: the rules say "insufficient evidence", never crash."""
    choices = [
        SourceStatus(source="access_advisor", account_id=PROD, status="failed", error="AccessDenied"),
        SourceStatus(source="cloudtrail", account_id=DEV, coverage_start=days_ago(20), coverage_end=days_ago(0)),
        SourceStatus(
            source="iam", account_id=DEV, status="partial", error="Throttling", tables={"access_keys": "partial"}
        ),
        SourceStatus(source="hr", status="failed", error="feed unreadable"),
    ]
    return rng.sample(choices, rng.randint(0, 2))


@pytest.mark.parametrize("seed", SEEDS)
def test_analysis_keeps_its_contract_on_irregular_estates(seed, tmp_path):
    world = irregular_world(seed)
    snapshot = world.snapshot(overrides=[IDENTITY_CENTER, *_degraded(random.Random(seed))])
    snapshots.save(snapshot, tmp_path / "snapshot")
    out = tmp_path / "out"

    code = main(
        ["analyze", "--snapshot", str(tmp_path / "snapshot"), "--out", str(out), "--state", str(tmp_path / "s.db")]
    )

    assert code in (0, 1, 3)
    assert contract_problems(out) == []
    findings = json.loads((out / "findings.json").read_text())
    direct_admin = {(f["rule_id"], f["account_id"]) for f in findings}
    assert ("idc-admin-direct-assignment", PROD) in direct_admin  # the grant also held through a group
    state = ["--state", str(tmp_path / "s.db")]
    create = ["campaign", "create", "--name", "Q4", "--run-dir", str(out), "--due", "2026-12-31", *state]
    assert main([*create, "--fallback-reviewer", "iam-team@example.com"]) == 0
    assert main(["campaign", "export", "1", "--out", str(tmp_path / "packets"), *state]) == 0
    evidence = str(tmp_path / "evidence")
    assert main(["campaign", "close", "1", "--undecided", "revoke", "--out", evidence, *state]) == 0
    assert main(["campaign", "verify", evidence, *state]) == 0
    inventory = frames.inventory(out)
    held_both_ways = inventory[(inventory["account_id"] == PROD) & (inventory["permission_set"] == "Admin")]
    assert {"direct", "via group team0"} <= set(held_both_ways["path"])
