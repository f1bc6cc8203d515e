"""Plants among IAM users, keys, roles and root users, and the boundary cases beside them.

Workload users come from ``estate.service_user`` and people's console users
from ``Population.console_user``, so each plant differs from its clean
neighbours in the one respect it plants.
"""

from __future__ import annotations

from datetime import timedelta

from auditor.sandbox.estate import ADMIN, MONITOR_POLICY, RUNTIME_POLICY, service_user
from auditor.sandbox.plan import (
    BREAK_GLASS_RECENT_DAYS,
    IAM_USER_INACTIVE_DAYS,
    ROLE_UNUSED_DAYS,
    ROOT_USE_DAYS,
    TRAIL_DAYS,
    KeyPlan,
    RolePlan,
)
from auditor.sandbox.population import Population, days_of, iso

PLANTED_ROLE_NAMES = (
    "legacy-report-builder",
    "migration-runner",
    "partner-sftp-sync",
    "old-batch-scheduler",
    "data-backfill",
    "search-reindex",
)
QUEUE_WORKER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        *RUNTIME_POLICY["Statement"],
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": "*",
        },
    ],
}


def _workload_account(pop: Population) -> str:
    return pop.member_account("production", "staging", "development")


def _fresh_key(pop: Population, low: float, high: float) -> KeyPlan:
    created = pop.clock.ago(pop.rng.uniform(low, high))
    return KeyPlan(created, pop.clock.schedule(created, pop.world.as_of, 1.5, last_within_days=3, weekdays_only=False))


def _role_name(pop: Population) -> str:
    taken = {r.name for r in pop.world.roles}
    return pop.rng.choice([n for n in PLANTED_ROLE_NAMES if n not in taken])


# --- IAM users -------------------------------------------------------------------------------


def plant_two_active_keys(pop: Population) -> None:
    """A deploy user halfway through a rotation: the new key is in use and so is the old one."""
    account = _workload_account(pop)
    old, new = _fresh_key(pop, 50, 80), _fresh_key(pop, 3, 12)
    user = service_user(pop.world, account, pop.service_name(), "deploy", pop.clock, pop.roster, old)
    user.keys.append(new)
    pop.world.iam_users.append(user)
    pop.plant(
        "two_active_keys",
        "iam_user",
        user.name,
        account,
        {"keys_created": [iso(old.created), iso(new.created)], "active_keys": 2},
    )


def plant_user_direct_policy(pop: Population) -> None:
    """A monitoring user whose permissions are written on the user instead of coming from its group."""
    account = _workload_account(pop)
    name = pop.service_name()
    user = service_user(pop.world, account, name, "monitor", pop.clock, pop.roster, grouped=False)
    user.inline = {f"{name}-access": MONITOR_POLICY}
    pop.world.iam_users.append(user)
    pop.plant("user_direct_policy", "iam_user", user.name, account, {"inline_policies": list(user.inline)})


def plant_iam_user_no_owner(pop: Population) -> None:
    """A workload user tagged with its team but no owner, and named after no one."""
    account = _workload_account(pop)
    name = pop.service_name()
    tags = {"workload": name.removeprefix("svc-"), "team": "data"}
    user = service_user(pop.world, account, name, "deploy", pop.clock, pop.roster, tags=tags)
    pop.world.iam_users.append(user)
    pop.plant("iam_user_no_owner", "iam_user", user.name, account, {"tags": tags})


def plant_iam_user_owner_left(pop: Population) -> None:
    """A workload user whose owner tag names someone HR says has left."""
    person = pop.person(joined_days_ago=pop.rng.uniform(600, 2000))
    person.status, person.end_date = "terminated", pop.clock.day(pop.rng.uniform(30, 200))
    account = _workload_account(pop)
    name = pop.service_name()
    tags = {"owner": person.email, "workload": name.removeprefix("svc-")}
    user = service_user(pop.world, account, name, "deploy", pop.clock, pop.roster, tags=tags)
    pop.world.iam_users.append(user)
    pop.plant(
        "iam_user_owner_left",
        "iam_user",
        user.name,
        account,
        {"owner": person.email, "owner_status": "terminated", "owner_end_date": iso(person.end_date)},
    )


def plant_keys_on_console_no_mfa(pop: Population) -> None:
    """A person's console user without MFA that also carries an access key in daily use."""
    account = _workload_account(pop)
    user = pop.console_user(account, pop.iam_owner(), mfa=False)
    key = _fresh_key(pop, 20, 70)
    user.keys.append(key)
    pop.plant(
        "keys_on_console_no_mfa",
        "iam_user",
        user.name,
        account,
        {"mfa_active": False, "key_created": iso(key.created)},
        key,
    )


def plant_iam_admin_user(pop: Population) -> None:
    """A person's console user (with MFA, in use) in the account's Admins group: AdministratorAccess."""
    account = _workload_account(pop)
    user = pop.console_user(account, pop.iam_owner(), mfa=True, group="Admins")
    pop.plant("iam_admin_user", "iam_user", user.name, account, {"group": "Admins", "policy": ADMIN})


def _console_user_idle_since(pop: Population, account: str, last: float):
    moment = pop.clock.ago(last)
    earlier = pop.clock.schedule(pop.world.trail_start, moment - timedelta(days=1), 6)
    return pop.console_user(account, pop.iam_owner(), mfa=True, logins=earlier + [moment]), moment


def plant_iam_user_inactive(pop: Population) -> None:
    """A person's console user (with MFA) last signed in to more than 90 days ago."""
    account = _workload_account(pop)
    user, last = _console_user_idle_since(pop, account, pop.rng.uniform(IAM_USER_INACTIVE_DAYS + 5, TRAIL_DAYS - 5))
    pop.plant(
        "iam_user_inactive",
        "iam_user",
        user.name,
        account,
        {"password_last_used": iso(last), "days_idle": days_of(pop.world.as_of - last)},
    )


# --- roles ------------------------------------------------------------------------------------


def _role(
    pop: Population,
    account: str,
    name: str,
    *,
    service: str | None,
    sessions: list,
    created_days: float,
    calls: str = "runtime",
    inline: dict | None = None,
    managed: list[str] | None = None,
    session_prefix: str = "ci",
) -> RolePlan:
    role = RolePlan(
        account_key=account,
        name=name,
        created=pop.clock.ago(created_days),
        trust_service=service,
        calls=calls,
        inline=inline if inline is not None else {f"{name}-policy": RUNTIME_POLICY},
        managed=managed or [],
        sessions=sessions,
        description=f"Workload role {name}",
        session_prefix=session_prefix,
    )
    pop.world.roles.append(role)
    return role


def plant_role_unused(pop: Population, index: int) -> None:
    """A workload role last assumed 100-115 days ago (even index) or never (odd)."""
    account = _workload_account(pop)
    sessions = []
    if index % 2 == 0:
        end = pop.clock.ago(pop.rng.uniform(ROLE_UNUSED_DAYS + 10, TRAIL_DAYS - 5))
        sessions = pop.clock.schedule(pop.world.trail_start, end, 3, last_within_days=1, weekdays_only=False)
    role = _role(
        pop,
        account,
        _role_name(pop),
        service="lambda.amazonaws.com",
        sessions=sessions,
        created_days=pop.rng.uniform(200, 600),
    )
    last = max(sessions, default=None)
    pop.plant(
        "role_unused",
        "iam_role",
        role.name,
        account,
        {
            "created": iso(role.created),
            "last_used": iso(last),
            "days_unused": days_of(pop.world.as_of - last) if last else None,
        },
    )


def plant_unused_services(pop: Population) -> None:
    """A queue worker allowed SQS and DynamoDB besides what it uses (SSM, KMS, Secrets Manager), every day."""
    account = _workload_account(pop)
    created_days = pop.rng.uniform(150, 500)
    start = max(pop.clock.ago(created_days), pop.world.trail_start)
    sessions = pop.clock.schedule(start, pop.world.as_of, 1, last_within_days=1, weekdays_only=False)
    role = _role(
        pop,
        account,
        "queue-worker",
        service="ecs-tasks.amazonaws.com",
        sessions=sessions,
        created_days=created_days,
        inline={"queue-worker-policy": QUEUE_WORKER_POLICY},
    )
    pop.plant("unused_services", "iam_role", role.name, account, {"unused_services": ["dynamodb", "sqs"]})


def plant_break_glass_role_used(pop: Population) -> None:
    """The production break-glass role, assumed from the management account during an incident."""
    account = pop.member_account("production")
    moment = pop.clock.between(pop.clock.ago(BREAK_GLASS_RECENT_DAYS - 8), pop.clock.ago(2))
    role = _role(
        pop,
        account,
        "break-glass-admin",
        service=None,
        sessions=[moment],
        created_days=pop.rng.uniform(300, 700),
        calls="admin",
        inline={},
        managed=[ADMIN],
        session_prefix="incident",
    )
    role.description = "Emergency administrator access; every use is an incident"
    pop.plant(
        "break_glass_role_used",
        "iam_role",
        role.name,
        account,
        {"last_used": iso(moment), "days_ago": days_of(pop.world.as_of - moment)},
    )


# --- root users -------------------------------------------------------------------------------


def plant_roots(pop: Population) -> None:
    """Root with an old access key in one member account, without MFA in another, used in the management one."""
    world, clock = pop.world, pop.clock
    with_key, without_mfa = pop.rng.sample([a.key for a in world.accounts if not a.management], 2)
    root = world.root(with_key)
    root.key_created = clock.between(world.account(with_key).joined, clock.ago(400))
    root.key_last_used = clock.between(max(root.key_created, clock.ago(400)), clock.ago(TRAIL_DAYS + 10))
    root.key_last_used_service = "s3"
    pop.plant(
        "root_access_key",
        "root",
        "root",
        with_key,
        {"access_key_1_active": True, "created": iso(root.key_created), "last_used": iso(root.key_last_used)},
    )
    world.root(without_mfa).mfa = False
    pop.plant("root_without_mfa", "root", "root", without_mfa, {"mfa_active": False})
    management = world.management().key
    moment = clock.work_time(clock.day(pop.rng.uniform(10, ROOT_USE_DAYS - 10)))
    world.root(management).logins.append(moment)
    pop.plant(
        "root_used",
        "root",
        "root",
        management,
        {"last_sign_in": iso(moment), "days_ago": days_of(world.as_of - moment)},
    )


# --- boundary cases --------------------------------------------------------------------------


def iam_boundaries(pop: Population) -> None:
    """Just inside the IAM thresholds: a console user and a role last used 89 days ago, root 91 days ago."""
    world, clock = pop.world, pop.clock
    account = _workload_account(pop)
    user, last = _console_user_idle_since(pop, account, IAM_USER_INACTIVE_DAYS - 1 - 2 / 24)
    pop.boundary(
        "iam_user_inactive",
        "iam_user",
        user.name,
        account,
        {"password_last_used": iso(last), "days_idle": IAM_USER_INACTIVE_DAYS - 1},
    )

    account = _workload_account(pop)
    last = clock.ago(ROLE_UNUSED_DAYS - 1, hours=-2)
    sessions = clock.schedule(world.trail_start, last - timedelta(days=1), 2, weekdays_only=False) + [last]
    role = _role(
        pop,
        account,
        _role_name(pop),
        service="lambda.amazonaws.com",
        sessions=sessions,
        created_days=pop.rng.uniform(200, 600),
    )
    pop.boundary(
        "role_unused", "iam_role", role.name, account, {"last_used": iso(last), "days_unused": ROLE_UNUSED_DAYS - 1}
    )

    planted = {p.account_key for p in world.plants if p.principal_type == "root"}
    spare = [a.key for a in world.accounts if a.key not in planted]
    if spare:  # the smallest organisation has no account left without a root plant
        account = pop.rng.choice(spare)
        moment = clock.ago(ROOT_USE_DAYS + 1, hours=2)
        world.root(account).logins.append(moment)
        pop.boundary("root_used", "root", "root", account, {"last_sign_in": iso(moment), "days_ago": ROOT_USE_DAYS + 1})
