"""The planted lifecycle problems, their boundary cases, and who is left clean.

Every planted or boundary principal is built so it shows one problem only:
its HR row, group memberships, credentials and activity agree with the
problem and are clean otherwise. People and their Identity Center users
are planted here; the shape of Identity Center access in ``access_plants``,
IAM and root in ``iam_plants``; ``populate`` runs them all in an order that
lets each user's sessions see every grant they hold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from auditor.sandbox import access_plants, escalation_plants, iam_plants, lifecycle_plants
from auditor.sandbox.estate import EMERGENCY_GROUP, service_user
from auditor.sandbox.people import AWS_DEPARTMENTS, DEPARTMENTS
from auditor.sandbox.plan import (
    BREAK_GLASS_RECENT_DAYS,
    IDC_INACTIVE_DAYS,
    IDC_NEVER_SIGNED_IN_GRACE_DAYS,
    KEY_MAX_AGE_DAYS,
    KEY_UNUSED_DAYS,
    LEAVE_ACTIVITY_DAYS,
    AssignmentPlan,
    IdcUserPlan,
    KeyPlan,
    Session,
    World,
)
from auditor.sandbox.population import Population, days_of, iso

# --- planted problems -------------------------------------------------------------------


def plant_leaver(pop: Population) -> None:
    person = pop.person()
    days = pop.rng.uniform(10, 60)
    person.status, person.end_date = "terminated", pop.clock.day(days)
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(days + 1), last_within=3)
    pop.plant(
        "leaver",
        "idc_user",
        user.user_name,
        None,
        {
            "hr_status": "terminated",
            "end_date": iso(person.end_date),
            "days_since_end": int(days),
            "user_status": "ENABLED",
            "groups": list(user.groups),
        },
    )


def plant_not_in_hr(pop: Population) -> None:
    given, family = pop.rng.choice(("dev", "ops", "qa")), pop.rng.choice(("vendor", "partner", "agency"))
    user_name = f"{given}.{family}{len([u for u in pop.world.idc_users if u.person is None]) + 1}"
    email = f"{user_name}@{family}-consulting.example"
    user = pop.idc_user(
        None, groups=["engineering"], created=pop.clock.ago(pop.rng.uniform(150, 400)), user_name=user_name, email=email
    )
    pop.active(user)
    pop.plant("not_in_hr", "idc_user", user.user_name, None, {"email": email})


def plant_idc_inactive(pop: Population, index: int) -> None:
    person = pop.person(joined_days_ago=pop.rng.uniform(400, 1500))
    user = pop.idc_user(person, created=pop.clock.ago(pop.rng.uniform(150, 500)))
    if index % 3 == 2:  # nothing at all in the observed window
        days = None
    else:
        days = pop.rng.uniform(IDC_INACTIVE_DAYS + 5, 115)
        times = pop.clock.schedule(pop.world.trail_start, pop.clock.ago(days), 3, last_within_days=1)
        pop.sessions(user, times)
    last = pop.last_sign_in(user)
    pop.plant(
        "idc_inactive",
        "idc_user",
        user.user_name,
        None,
        {
            "created": iso(user.created),
            "last_sign_in": iso(last),
            "days_inactive": days_of(pop.world.as_of - last) if last else None,
        },
    )


def plant_never_signed_in(pop: Population) -> None:
    days = pop.rng.uniform(IDC_NEVER_SIGNED_IN_GRACE_DAYS + 5, 100)
    person = pop.person(joined_days_ago=days)
    user = pop.idc_user(person, created=pop.clock.ago(days))
    pop.plant(
        "idc_never_signed_in",
        "idc_user",
        user.user_name,
        None,
        {"created": iso(user.created), "days_since_created": int(days)},
    )


def plant_expired_contractor(pop: Population) -> None:
    person = pop.person(joined_days_ago=pop.rng.uniform(120, 400))
    days = pop.rng.uniform(5, 40)
    person.employment_type, person.end_date = "contractor", pop.clock.day(days)
    person.title = f"Contract {person.title}"
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(days + 0.5), last_within=3)
    pop.plant(
        "expired_contractor",
        "idc_user",
        user.user_name,
        None,
        {
            "employment_type": "contractor",
            "end_date": iso(person.end_date),
            "hr_status": person.status,
            "days_since_end": int(days),
        },
    )


def _move(pop: Population) -> tuple[str, str]:
    present = [d for d in AWS_DEPARTMENTS if d in pop.spec.departments]
    old = "data" if "data" in present else pop.rng.choice(present)
    new = pop.rng.choice([d for d in present if d != old])
    return old, new


def plant_mover(pop: Population) -> None:
    old, new = _move(pop)
    person = pop.person(new)
    person.previous_department = old
    old_group, new_group = DEPARTMENTS[old].group, DEPARTMENTS[new].group
    user = pop.idc_user(person, groups=[new_group, old_group])
    pop.active(user)
    pop.plant(
        "mover",
        "idc_user",
        user.user_name,
        None,
        {"department": new, "previous_department": old, "stale_group": old_group},
    )


def plant_on_leave(pop: Population) -> None:
    person = pop.person()
    person.status = "leave"
    leave_days = pop.rng.uniform(14, 40)
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(leave_days + 1), last_within=3)
    during = pop.clock.schedule(
        pop.clock.ago(leave_days - 1), pop.world.as_of, 8, last_within_days=LEAVE_ACTIVITY_DAYS - 3
    )
    pop.sessions(user, during)
    pop.plant(
        "on_leave_used_access",
        "idc_user",
        user.user_name,
        None,
        {
            "hr_status": "leave",
            "leave_started": iso(pop.clock.day(leave_days)),
            "last_sign_in": iso(pop.last_sign_in(user)),
        },
    )


def plant_direct_admin(pop: Population) -> None:
    account = pop.member_account("production")
    person = pop.person(pop.rng.choice([d for d in ("engineering", "platform", "data") if d in pop.spec.departments]))
    user = pop.idc_user(person)
    pop.world.assignments.append(AssignmentPlan(account, "AdministratorAccess", "USER", user.user_name))
    start = max(user.created, pop.world.trail_start)
    times = pop.clock.schedule(start, pop.world.as_of, 2.5, last_within_days=7)
    pop.sessions(user, times, prefer=(account, "AdministratorAccess"))
    pop.plant(
        "direct_admin_assignment",
        "idc_user",
        user.user_name,
        account,
        {"permission_set": "AdministratorAccess", "principal_type": "USER"},
    )


def break_glass_users(pop: Population) -> IdcUserPlan:
    """Two emergency identities, in the emergency-access group only; the first is the one used."""
    users = []
    for number in (1, 2):
        user = pop.idc_user(
            None,
            groups=[EMERGENCY_GROUP],
            created=pop.clock.between(pop.world.idc_created, pop.world.idc_created + timedelta(days=30)),
            user_name=f"breakglass-admin-{number}",
            email=f"breakglass-admin-{number}@{pop.world.domain}",
        )
        user.breakglass, user.title, user.display_name = True, "Emergency access", f"Break Glass Admin {number}"
        user.given_name, user.family_name = "Break Glass", f"Admin {number}"
        users.append(user)
    pop.clean_idc.append(users[1])
    return users[0]


def plant_break_glass_used(pop: Population, user: IdcUserPlan, account: str) -> None:
    moment = pop.clock.between(pop.clock.ago(BREAK_GLASS_RECENT_DAYS - 8), pop.clock.ago(2))
    user.sessions.append(Session(moment, [(account, "BreakGlassAdmin")]))
    pop.plant(
        "break_glass_used",
        "permission_set",
        "BreakGlassAdmin",
        account,
        {"user_name": user.user_name, "last_used": iso(moment), "days_ago": days_of(pop.world.as_of - moment)},
    )


def plant_key_unused(pop: Population, index: int) -> None:
    account = pop.member_account("production", "staging", "development")
    created = pop.clock.ago(pop.rng.uniform(KEY_UNUSED_DAYS + 10, KEY_MAX_AGE_DAYS - 5))
    if index % 2:  # never used
        key = KeyPlan(created)
    else:
        last = pop.clock.ago(pop.rng.uniform(KEY_UNUSED_DAYS + 3, days_of(pop.world.as_of - created) - 1))
        key = KeyPlan(created, pop.clock.schedule(created, last, 1.5, last_within_days=0.5, weekdays_only=False))
    user = service_user(pop.world, account, pop.service_name(), "monitor", pop.clock, pop.roster, key)
    pop.world.iam_users.append(user)
    last_used = max(key.uses, default=None)
    pop.plant(
        "key_unused",
        "access_key",
        user.name,
        account,
        {
            "created": iso(created),
            "last_used": iso(last_used),
            "days_unused": days_of(pop.world.as_of - (last_used or created)),
        },
        key,
    )


def plant_key_old(pop: Population) -> None:
    account = pop.member_account("production", "staging", "development")
    created = pop.clock.ago(pop.rng.uniform(KEY_MAX_AGE_DAYS + 30, 500))
    key = KeyPlan(
        created,
        pop.clock.schedule(pop.world.trail_start, pop.world.as_of, 1.5, last_within_days=3, weekdays_only=False),
    )
    user = service_user(pop.world, account, pop.service_name(), "deploy", pop.clock, pop.roster, key)
    pop.world.iam_users.append(user)
    pop.plant(
        "key_old",
        "access_key",
        user.name,
        account,
        {"created": iso(created), "age_days": days_of(pop.world.as_of - created)},
        key,
    )


def plant_console_no_mfa(pop: Population) -> None:
    account = pop.member_account("production", "staging", "development")
    owner = pop.clean_person(pop.rng.choice([d for d in ("platform", "engineering") if d in pop.spec.departments]))
    user = pop.console_user(account, owner.person, mfa=False)
    pop.plant(
        "console_no_mfa",
        "iam_user",
        user.name,
        account,
        {"password_last_used": iso(max(user.console_logins)), "mfa_active": False},
    )


# --- boundary cases: just inside a threshold, not a problem ---------------------------------


def boundaries(pop: Population, glass: IdcUserPlan, glass_accounts: list[str]) -> None:
    world, clock, rng = pop.world, pop.clock, pop.rng
    account = pop.member_account("production", "staging", "development")
    created = clock.ago(rng.uniform(60, 85))
    last = clock.ago(KEY_UNUSED_DAYS - 1, hours=-2)
    key = KeyPlan(created, clock.schedule(created, last - timedelta(days=1), 2, weekdays_only=False) + [last])
    user = service_user(world, account, pop.service_name(), "monitor", clock, pop.roster, key)
    world.iam_users.append(user)
    pop.boundary(
        "key_unused",
        "access_key",
        user.name,
        account,
        {"last_used": iso(last), "days_unused": KEY_UNUSED_DAYS - 1},
        key,
    )

    account = pop.member_account("production", "staging", "development")
    created = clock.ago(KEY_MAX_AGE_DAYS - 1, hours=-3)
    key = KeyPlan(created, clock.schedule(created, world.as_of, 1.5, last_within_days=3, weekdays_only=False))
    user = service_user(world, account, pop.service_name(), "deploy", clock, pop.roster, key)
    world.iam_users.append(user)
    pop.boundary(
        "key_old", "access_key", user.name, account, {"created": iso(created), "age_days": KEY_MAX_AGE_DAYS - 1}, key
    )

    person = pop.person(joined_days_ago=rng.uniform(400, 1200))
    user = pop.idc_user(person, created=clock.ago(rng.uniform(180, 400)))
    last = clock.ago(IDC_INACTIVE_DAYS - 1, hours=-2)
    pop.sessions(user, clock.schedule(world.trail_start, last - timedelta(days=1), 3) + [last])
    pop.boundary(
        "idc_inactive",
        "idc_user",
        user.user_name,
        None,
        {"last_sign_in": iso(last), "days_inactive": IDC_INACTIVE_DAYS - 1},
    )

    days = IDC_NEVER_SIGNED_IN_GRACE_DAYS - 1
    person = pop.person(joined_days_ago=days)
    user = pop.idc_user(person, created=clock.ago(days, hours=-3))
    pop.boundary(
        "idc_never_signed_in",
        "idc_user",
        user.user_name,
        None,
        {"created": iso(user.created), "days_since_created": days},
    )

    person = pop.person(joined_days_ago=rng.uniform(100, 300))
    person.employment_type, person.end_date = "contractor", clock.day(-2)
    person.title = f"Contract {person.title}"
    user = pop.idc_user(person)
    pop.active(user)
    pop.boundary("expired_contractor", "idc_user", user.user_name, None, {"end_date": iso(person.end_date)})

    account = rng.choice([a.key for a in world.accounts if a.key not in glass_accounts])
    moment = clock.ago(BREAK_GLASS_RECENT_DAYS + 1, hours=2)
    glass.sessions.append(Session(moment, [(account, "BreakGlassAdmin")]))
    pop.boundary(
        "break_glass_used",
        "permission_set",
        "BreakGlassAdmin",
        account,
        {"user_name": glass.user_name, "last_used": iso(moment), "days_ago": BREAK_GLASS_RECENT_DAYS + 1},
    )
    if pop.spec.extra_boundaries:
        hr_boundaries(pop)


def hr_boundaries(pop: Population) -> None:
    """HR states that look like problems but are not: notice period, leave without use, clean mover, offboarded."""
    clock, rng = pop.clock, pop.rng
    person = pop.person()
    person.end_date = clock.day(-5)
    user = pop.idc_user(person)
    pop.active(user)
    pop.boundary("leaver", "idc_user", user.user_name, None, {"hr_status": "active", "end_date": iso(person.end_date)})

    person = pop.person()
    person.status = "leave"
    leave_days = rng.uniform(20, 30)
    user = pop.idc_user(person)
    pop.active(user, until=clock.ago(leave_days + 1), last_within=2)
    pop.boundary(
        "on_leave_used_access",
        "idc_user",
        user.user_name,
        None,
        {"leave_started": iso(clock.day(leave_days)), "last_sign_in": iso(pop.last_sign_in(user))},
    )

    old, new = _move(pop)
    person = pop.person(new)
    person.previous_department = old
    user = pop.idc_user(person)
    pop.active(user)
    pop.boundary("mover", "idc_user", user.user_name, None, {"department": new, "previous_department": old})

    person = pop.person()
    days = rng.uniform(10, 40)
    person.status, person.end_date = "terminated", clock.day(days)
    user = pop.idc_user(person, groups=[])
    pop.active(user, until=clock.ago(days + 1), last_within=3)
    user.status, user.updated = "DISABLED", clock.ago(days - 0.5)
    pop.boundary(
        "leaver",
        "idc_user",
        user.user_name,
        None,
        {"hr_status": "terminated", "end_date": iso(person.end_date), "user_status": "DISABLED"},
    )


PLANTERS: dict[str, Callable[[Population, int], None]] = {
    "leaver": lambda pop, i: plant_leaver(pop),
    "not_in_hr": lambda pop, i: plant_not_in_hr(pop),
    "idc_inactive": plant_idc_inactive,
    "idc_never_signed_in": lambda pop, i: plant_never_signed_in(pop),
    "expired_contractor": lambda pop, i: plant_expired_contractor(pop),
    "mover": lambda pop, i: plant_mover(pop),
    "on_leave_used_access": lambda pop, i: plant_on_leave(pop),
    "key_unused": plant_key_unused,
    "key_old": lambda pop, i: plant_key_old(pop),
    "console_no_mfa": lambda pop, i: plant_console_no_mfa(pop),
}


# Planted once per copy of the size; FEW_PLANTERS about half as often (at least once).
FEW_PLANTERS: dict[str, Callable[[Population, int], None]] = {
    "admin_access": lambda pop, i: access_plants.plant_admin_access(pop),
    "direct_user_assignment": lambda pop, i: access_plants.plant_direct_user_assignment(pop),
    "beyond_birthright": lambda pop, i: access_plants.plant_beyond_birthright(pop),
    "assignment_unused": lambda pop, i: access_plants.plant_assignment_unused(pop),
    "two_active_keys": lambda pop, i: iam_plants.plant_two_active_keys(pop),
    "user_direct_policy": lambda pop, i: iam_plants.plant_user_direct_policy(pop),
    "role_unused": iam_plants.plant_role_unused,
}
ONCE_PLANTERS: tuple[Callable[[Population], None], ...] = (
    access_plants.plant_assignment_to_deleted_user,
    iam_plants.plant_iam_user_no_owner,
    iam_plants.plant_iam_user_owner_left,
    iam_plants.plant_unused_services,
    iam_plants.plant_break_glass_role_used,
    iam_plants.plant_roots,
)
# People's IAM console users, planted once the clean majority exists so their owners are drawn from it.
OWNED_PLANTERS: tuple[Callable[[Population], None], ...] = (
    iam_plants.plant_keys_on_console_no_mfa,
    iam_plants.plant_iam_admin_user,
    iam_plants.plant_iam_user_inactive,
)


def populate(pop: Population) -> None:
    """Everyone after the estate's skeleton exists: heads, plants, boundary cases, the clean rest."""
    world, copies = pop.world, pop.spec.copies
    few = max(1, copies // 2)
    access_plants.shape_identity_center(pop, few)  # before any user: sessions use every grant a user holds
    pop.head_identities()
    pop.legacy_console_users()
    for planter in PLANTERS.values():
        for index in range(copies):
            planter(pop, index)
    for index in range(few):
        plant_direct_admin(pop)
        for few_planter in FEW_PLANTERS.values():
            few_planter(pop, index)
    for once in ONCE_PLANTERS:
        once(pop)
    glass = break_glass_users(pop)
    glass_accounts = [a.key for a in world.accounts_in("production")[:few]]
    for account in glass_accounts:
        plant_break_glass_used(pop, glass, account)
    boundaries(pop, glass, glass_accounts)
    pop.fill()
    for _ in range(few):
        for owned in OWNED_PLANTERS:
            owned(pop)
    iam_plants.iam_boundaries(pop)
    escalation_plants.plant_escalation(pop)
    lifecycle_plants.plant_anomalies(pop)  # last: the others' random draws stay as they were
    clean_list(world, pop)


def clean_list(world: World, pop: Population) -> None:
    """Principals with nothing planted: clean users, service users, roles, groups with members, assigned
    permission sets."""
    involved = {(p.principal_type, p.name, p.account_key) for p in world.plants + world.boundary}
    involved_names = {(p.name, p.account_key) for p in world.plants + world.boundary}
    clean = [("idc_user", u.user_name, None) for u in pop.clean_idc]
    services = [
        u for u in world.iam_users if u.name.startswith("svc-") and (u.name, u.account_key) not in involved_names
    ]
    for user in pop.clean_iam + services:
        clean.append(("iam_user", user.name, user.account_key))
        if user.keys:
            clean.append(("access_key", user.name, user.account_key))
    clean += [
        ("iam_role", r.name, r.account_key) for r in world.roles if ("iam_role", r.name, r.account_key) not in involved
    ]
    members = {group for user in world.idc_users if not user.deleted for group in user.groups}
    clean += [
        ("idc_group", name, None)
        for name in world.groups
        if name in members and ("idc_group", name, None) not in involved
    ]
    assigned = {a.permission_set for a in world.assignments}
    clean += [
        ("permission_set", p.name, None)
        for p in world.permission_sets
        if p.name in assigned
        and p.name not in ("AdministratorAccess", "BreakGlassAdmin")
        and ("permission_set", p.name, None) not in involved
    ]
    world.clean = sorted(set(clean), key=lambda item: (item[0], item[1], item[2] or ""))
