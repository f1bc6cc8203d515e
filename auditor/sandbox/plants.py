"""People, their Identity Center users and IAM users: a clean majority, the planted
lifecycle problems, and boundary cases placed just inside each threshold.

Every planted or boundary principal is built so it shows one problem only:
its HR row, group memberships, credentials and activity agree with the
problem and are clean otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from auditor.sandbox.estate import EMERGENCY_GROUP, SizeSpec, service_user
from auditor.sandbox.people import AWS_DEPARTMENTS, DEPARTMENTS, EXECUTIVE, Person, Roster
from auditor.sandbox.plan import (
    BREAK_GLASS_RECENT_DAYS,
    COVERAGE_DAYS,
    IDC_INACTIVE_DAYS,
    IDC_NEVER_SIGNED_IN_GRACE_DAYS,
    KEY_MAX_AGE_DAYS,
    KEY_UNUSED_DAYS,
    AssignmentPlan,
    Clock,
    IamUserPlan,
    IdcUserPlan,
    KeyPlan,
    Plant,
    Session,
    World,
)

DEPARTMENT_WEIGHTS = {"engineering": 30, "data": 10, "platform": 6, "security": 4, "finance": 6, "support": 10,
                      "sales": 14, "people": 5}
SPARE_SERVICE_NAMES = (
    "svc-reporting-export", "svc-legacy-sync", "svc-partner-feed", "svc-backup-agent", "svc-cost-export",
    "svc-search-indexer", "svc-mail-relay", "svc-thumbnailer", "svc-audit-shipper", "svc-dns-updater",
    "svc-metrics-push", "svc-image-builder", "svc-ledger-import", "svc-crm-sync", "svc-geo-loader",
    "svc-invoice-render", "svc-scanner", "svc-status-page", "svc-queue-drain", "svc-report-mailer",
    "svc-cache-warmer", "svc-vendor-upload", "svc-db-snapshot", "svc-sitemap", "svc-webhook-relay",
)


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment else None


class Population:
    """Fills a world with people and identities; remembers which are clean."""

    def __init__(self, world: World, spec: SizeSpec, roster: Roster, clock: Clock) -> None:
        self.world, self.spec, self.roster, self.clock = world, spec, roster, clock
        self.rng = clock.rng
        self.clean_idc: list[IdcUserPlan] = []
        self.clean_iam: list[IamUserPlan] = []
        self._service_names = list(SPARE_SERVICE_NAMES)
        self.rng.shuffle(self._service_names)

    # --- building blocks -----------------------------------------------------------

    def aws_department(self) -> str:
        present = [d for d in AWS_DEPARTMENTS if d in self.spec.departments]
        return self.rng.choices(present, [DEPARTMENT_WEIGHTS[d] for d in present])[0]

    def person(self, department: str | None = None, *, joined_days_ago: float | None = None) -> Person:
        department = department or self.aws_department()
        days = joined_days_ago if joined_days_ago is not None else self.rng.uniform(180, 2400)
        return self.roster.add(department, self.clock.day(days))

    def idc_user(self, person: Person | None, *, groups: list[str] | None = None, created: datetime | None = None,
                 user_name: str | None = None, email: str | None = None) -> IdcUserPlan:
        assert person is not None or (user_name and email)
        if created is None:
            joined = datetime.combine(person.start_date, time(8), tzinfo=UTC) if person else self.world.idc_created
            created = max(joined, self.world.idc_created) + timedelta(minutes=self.rng.randrange(600))
        group = DEPARTMENTS[person.department].group if person and person.department in DEPARTMENTS else None
        user = IdcUserPlan(
            user_name=user_name or person.user_name,
            display_name=person.display_name if person else user_name,
            given_name=person.given_name if person else user_name.split(".")[0].title(),
            family_name=person.family_name if person else user_name.split(".")[-1].title(),
            email=email or person.email,
            title=person.title if person else "Contractor",
            created=created,
            groups=groups if groups is not None else [group] if group else [],
            person=person,
        )
        self.world.idc_users.append(user)
        return user

    def entitlements(self, user: IdcUserPlan) -> list[tuple[str, str]]:
        pairs = {
            (a.account_key, a.permission_set) for a in self.world.assignments
            if (a.principal_type == "GROUP" and a.principal in user.groups)
            or (a.principal_type == "USER" and a.principal == user.user_name)
        }
        return sorted(pairs)

    def sessions(self, user: IdcUserPlan, times: list[datetime], prefer: tuple[str, str] | None = None) -> None:
        """Sign-ins at ``times``; the last few days before the newest one use every assignment the user holds."""
        pairs = [p for p in self.entitlements(user) if p[1] != "BreakGlassAdmin"]
        new = []
        for moment in sorted(times):
            if prefer and self.rng.random() < 0.5:
                targets = [prefer]
            elif pairs and self.rng.random() > 0.15:
                targets = [self.rng.choice(pairs)]
            else:
                targets = []
            new.append(Session(moment, targets))
        if new and pairs:
            recent = [s for s in new if new[-1].start - s.start <= timedelta(days=COVERAGE_DAYS)]
            for index, pair in enumerate(pairs):
                session = recent[-1 - index % len(recent)]
                if pair not in session.targets:
                    session.targets.append(pair)
        user.sessions.extend(new)

    def active(self, user: IdcUserPlan, *, until: datetime | None = None, last_within: float = 7) -> None:
        """Regular sign-ins from creation (or the trail's start) until ``until``."""
        start = max(user.created, self.world.trail_start)
        end = until or self.world.as_of
        if end > start:
            times = self.clock.schedule(start, end, self.rng.uniform(1.5, 4), last_within_days=last_within)
            self.sessions(user, times)

    def clean_person(self, department: str | None = None, *, by_email: bool = False) -> IdcUserPlan | None:
        person = self.person(department)
        if not DEPARTMENTS[person.department].group:
            return None
        return self.clean_identity(person, by_email=by_email)

    def clean_identity(self, person: Person, *, by_email: bool = False) -> IdcUserPlan:
        """An active, grouped, recently signed-in user; ``by_email``: matched to HR by e-mail only."""
        user_name = email = None
        if by_email:  # the IdC user name differs from HR; the e-mail matches in another case
            taken = {u.user_name for u in self.world.idc_users}
            user_name = base = f"{person.given_name[0]}{person.family_name}".lower()
            suffix = 2
            while user_name in taken:
                user_name, suffix = f"{base}{suffix}", suffix + 1
            local, _, domain = person.email.partition("@")
            email = f"{local.title()}@{domain.upper()}"
        user = self.idc_user(person, user_name=user_name, email=email)
        self.active(user)
        self.clean_idc.append(user)
        return user

    def plant(self, problem: str, principal_type: str, name: str, account_key: str | None, detail: dict,
              key: KeyPlan | None = None) -> None:
        self.world.plants.append(Plant(problem, principal_type, name, account_key, detail, key))

    def boundary(self, problem: str, principal_type: str, name: str, account_key: str | None, detail: dict,
                 key: KeyPlan | None = None) -> None:
        self.world.boundary.append(Plant(problem, principal_type, name, account_key, detail, key))

    def last_sign_in(self, user: IdcUserPlan) -> datetime | None:
        return max((s.start for s in user.sessions), default=None)

    def member_account(self, *environments: str) -> str:
        accounts = self.world.accounts_in(*environments) or self.world.accounts_in(
            "production", "staging", "development", "sandbox")
        return self.rng.choice(accounts).key

    def service_name(self) -> str:
        return self._service_names.pop()

    # --- the roster's spine ---------------------------------------------------------

    def heads(self) -> None:
        """The chief executive and one head per department (account owners come from them)."""
        self.roster.add(EXECUTIVE, self.clock.day(self.rng.uniform(2000, 3000)), head=True)
        for department in self.spec.departments:
            self.roster.add(department, self.clock.day(self.rng.uniform(900, 2600)), head=True)

    def head_identities(self) -> None:
        """Heads of departments with AWS access are clean users; the finance head is matched by e-mail."""
        for department, person in self.roster.heads.items():
            if department != EXECUTIVE and DEPARTMENTS[department].group:
                self.clean_identity(person, by_email=department == "finance")

    def legacy_console_users(self) -> None:
        """Heads who kept an IAM console user from before Identity Center: MFA, read-only, in use."""
        accounts = self.world.accounts_in("production")[:1] + self.world.accounts_in("development")[:1]
        for account, head in zip(accounts, ("platform", "engineering"), strict=False):
            person = self.roster.heads[head]
            self.clean_iam.append(self.console_user(account.key, person, mfa=True))

    def console_user(self, account_key: str, person: Person, *, mfa: bool) -> IamUserPlan:
        created = self.clock.ago(self.rng.uniform(400, 900))
        logins = self.clock.schedule(self.world.trail_start, self.world.as_of, 5, last_within_days=7)
        user = IamUserPlan(account_key=account_key, name=person.user_name, created=created, calls="console",
                           console=True, mfa=mfa, console_logins=logins, groups=["ReadOnly"],
                           tags={"owner": person.email})
        self.world.iam_users.append(user)
        return user

    def fill(self) -> None:
        """Clean people up to the size's head count, a few matched to HR by e-mail only, plus past leavers."""
        by_email = {"tiny": 0, "small": 1}.get(self.world.size, 4)
        while len(self.roster.people) < self.spec.people:
            present = list(self.spec.departments)
            department = self.rng.choices(present, [DEPARTMENT_WEIGHTS[d] for d in present])[0]
            user = self.clean_person(department, by_email=by_email > 0 and department in AWS_DEPARTMENTS)
            if user is not None and user.user_name != user.person.user_name:
                by_email -= 1
        for _ in range({"tiny": 0, "small": 2}.get(self.world.size, 8)):
            person = self.person(self.rng.choice(self.spec.departments), joined_days_ago=self.rng.uniform(500, 1500))
            person.status, person.end_date = "terminated", self.clock.day(self.rng.uniform(150, 400))


# --- planted problems -------------------------------------------------------------------


def plant_leaver(pop: Population) -> None:
    person = pop.person()
    days = pop.rng.uniform(10, 60)
    person.status, person.end_date = "terminated", pop.clock.day(days)
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(days + 1), last_within=3)
    pop.plant("leaver", "idc_user", user.user_name, None,
              {"hr_status": "terminated", "end_date": _iso(person.end_date), "days_since_end": int(days),
               "user_status": "ENABLED", "groups": list(user.groups)})


def plant_not_in_hr(pop: Population) -> None:
    given, family = pop.rng.choice(("dev", "ops", "qa")), pop.rng.choice(("vendor", "partner", "agency"))
    user_name = f"{given}.{family}{len([u for u in pop.world.idc_users if u.person is None]) + 1}"
    email = f"{user_name}@{family}-consulting.example"
    user = pop.idc_user(None, groups=["engineering"], created=pop.clock.ago(pop.rng.uniform(150, 400)),
                        user_name=user_name, email=email)
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
    pop.plant("idc_inactive", "idc_user", user.user_name, None,
              {"created": _iso(user.created), "last_sign_in": _iso(last),
               "days_inactive": _days(pop.world.as_of - last) if last else None})


def plant_never_signed_in(pop: Population) -> None:
    days = pop.rng.uniform(IDC_NEVER_SIGNED_IN_GRACE_DAYS + 5, 100)
    person = pop.person(joined_days_ago=days)
    user = pop.idc_user(person, created=pop.clock.ago(days))
    pop.plant("idc_never_signed_in", "idc_user", user.user_name, None,
              {"created": _iso(user.created), "days_since_created": int(days)})


def plant_expired_contractor(pop: Population) -> None:
    person = pop.person(joined_days_ago=pop.rng.uniform(120, 400))
    days = pop.rng.uniform(5, 40)
    person.employment_type, person.end_date = "contractor", pop.clock.day(days)
    person.title = f"Contract {person.title}"
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(days + 0.5), last_within=3)
    pop.plant("expired_contractor", "idc_user", user.user_name, None,
              {"employment_type": "contractor", "end_date": _iso(person.end_date), "hr_status": person.status,
               "days_since_end": int(days)})


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
    pop.plant("mover", "idc_user", user.user_name, None,
              {"department": new, "previous_department": old, "stale_group": old_group})


def plant_on_leave(pop: Population) -> None:
    person = pop.person()
    person.status = "leave"
    leave_days = pop.rng.uniform(14, 40)
    user = pop.idc_user(person)
    pop.active(user, until=pop.clock.ago(leave_days + 1), last_within=3)
    during = pop.clock.schedule(pop.clock.ago(leave_days - 1), pop.world.as_of, 8, last_within_days=8)
    pop.sessions(user, during)
    pop.plant("on_leave_used_access", "idc_user", user.user_name, None,
              {"hr_status": "leave", "leave_started": _iso(pop.clock.day(leave_days)),
               "last_sign_in": _iso(pop.last_sign_in(user))})


def plant_direct_admin(pop: Population) -> None:
    account = pop.member_account("production")
    person = pop.person(pop.rng.choice([d for d in ("engineering", "platform", "data") if d in pop.spec.departments]))
    user = pop.idc_user(person)
    pop.world.assignments.append(AssignmentPlan(account, "AdministratorAccess", "USER", user.user_name))
    start = max(user.created, pop.world.trail_start)
    times = pop.clock.schedule(start, pop.world.as_of, 2.5, last_within_days=7)
    pop.sessions(user, times, prefer=(account, "AdministratorAccess"))
    pop.plant("direct_admin_assignment", "idc_user", user.user_name, account,
              {"permission_set": "AdministratorAccess", "principal_type": "USER"})


def break_glass_users(pop: Population) -> IdcUserPlan:
    """Two emergency identities, in the emergency-access group only; the first is the one used."""
    users = []
    for number in (1, 2):
        user = pop.idc_user(None, groups=[EMERGENCY_GROUP],
                            created=pop.clock.between(pop.world.idc_created, pop.world.idc_created + timedelta(days=30)),
                            user_name=f"breakglass-admin-{number}", email=f"breakglass-admin-{number}@{pop.world.domain}")
        user.breakglass, user.title, user.display_name = True, "Emergency access", f"Break Glass Admin {number}"
        user.given_name, user.family_name = "Break Glass", f"Admin {number}"
        users.append(user)
    pop.clean_idc.append(users[1])
    return users[0]


def plant_break_glass_used(pop: Population, user: IdcUserPlan, account: str) -> None:
    moment = pop.clock.between(pop.clock.ago(BREAK_GLASS_RECENT_DAYS - 8), pop.clock.ago(2))
    user.sessions.append(Session(moment, [(account, "BreakGlassAdmin")]))
    pop.plant("break_glass_used", "permission_set", "BreakGlassAdmin", account,
              {"user_name": user.user_name, "last_used": _iso(moment), "days_ago": _days(pop.world.as_of - moment)})


def plant_key_unused(pop: Population, index: int) -> None:
    account = pop.member_account("production", "staging", "development")
    created = pop.clock.ago(pop.rng.uniform(KEY_UNUSED_DAYS + 10, KEY_MAX_AGE_DAYS - 5))
    if index % 2:  # never used
        key = KeyPlan(created)
    else:
        last = pop.clock.ago(pop.rng.uniform(KEY_UNUSED_DAYS + 3, _days(pop.world.as_of - created) - 1))
        key = KeyPlan(created, pop.clock.schedule(created, last, 1.5, last_within_days=0.5, weekdays_only=False))
    user = service_user(pop.world, account, pop.service_name(), "monitor", pop.clock, pop.roster, key)
    pop.world.iam_users.append(user)
    last_used = max(key.uses, default=None)
    pop.plant("key_unused", "access_key", user.name, account,
              {"created": _iso(created), "last_used": _iso(last_used),
               "days_unused": _days(pop.world.as_of - (last_used or created))}, key)


def plant_key_old(pop: Population) -> None:
    account = pop.member_account("production", "staging", "development")
    created = pop.clock.ago(pop.rng.uniform(KEY_MAX_AGE_DAYS + 30, 500))
    key = KeyPlan(created, pop.clock.schedule(pop.world.trail_start, pop.world.as_of, 1.5, last_within_days=3,
                                              weekdays_only=False))
    user = service_user(pop.world, account, pop.service_name(), "deploy", pop.clock, pop.roster, key)
    pop.world.iam_users.append(user)
    pop.plant("key_old", "access_key", user.name, account,
              {"created": _iso(created), "age_days": _days(pop.world.as_of - created)}, key)


def plant_console_no_mfa(pop: Population) -> None:
    account = pop.member_account("production", "staging", "development")
    owner = pop.clean_person(pop.rng.choice([d for d in ("platform", "engineering") if d in pop.spec.departments]))
    user = pop.console_user(account, owner.person, mfa=False)
    pop.plant("console_no_mfa", "iam_user", user.name, account,
              {"password_last_used": _iso(max(user.console_logins)), "mfa_active": False})


# --- boundary cases: just inside a threshold, not a problem ---------------------------------


def boundaries(pop: Population, glass: IdcUserPlan, glass_accounts: list[str]) -> None:
    world, clock, rng = pop.world, pop.clock, pop.rng
    account = pop.member_account("production", "staging", "development")
    created = clock.ago(rng.uniform(60, 85))
    last = clock.ago(KEY_UNUSED_DAYS - 1, hours=-2)
    key = KeyPlan(created, clock.schedule(created, last - timedelta(days=1), 2, weekdays_only=False) + [last])
    user = service_user(world, account, pop.service_name(), "monitor", clock, pop.roster, key)
    world.iam_users.append(user)
    pop.boundary("key_unused", "access_key", user.name, account,
                 {"last_used": _iso(last), "days_unused": KEY_UNUSED_DAYS - 1}, key)

    account = pop.member_account("production", "staging", "development")
    created = clock.ago(KEY_MAX_AGE_DAYS - 1, hours=-3)
    key = KeyPlan(created, clock.schedule(created, world.as_of, 1.5, last_within_days=3, weekdays_only=False))
    user = service_user(world, account, pop.service_name(), "deploy", clock, pop.roster, key)
    world.iam_users.append(user)
    pop.boundary("key_old", "access_key", user.name, account,
                 {"created": _iso(created), "age_days": KEY_MAX_AGE_DAYS - 1}, key)

    person = pop.person(joined_days_ago=rng.uniform(400, 1200))
    user = pop.idc_user(person, created=clock.ago(rng.uniform(180, 400)))
    last = clock.ago(IDC_INACTIVE_DAYS - 1, hours=-2)
    pop.sessions(user, clock.schedule(world.trail_start, last - timedelta(days=1), 3) + [last])
    pop.boundary("idc_inactive", "idc_user", user.user_name, None,
                 {"last_sign_in": _iso(last), "days_inactive": IDC_INACTIVE_DAYS - 1})

    days = IDC_NEVER_SIGNED_IN_GRACE_DAYS - 1
    person = pop.person(joined_days_ago=days)
    user = pop.idc_user(person, created=clock.ago(days, hours=-3))
    pop.boundary("idc_never_signed_in", "idc_user", user.user_name, None,
                 {"created": _iso(user.created), "days_since_created": days})

    person = pop.person(joined_days_ago=rng.uniform(100, 300))
    person.employment_type, person.end_date = "contractor", clock.day(-2)
    person.title = f"Contract {person.title}"
    user = pop.idc_user(person)
    pop.active(user)
    pop.boundary("expired_contractor", "idc_user", user.user_name, None, {"end_date": _iso(person.end_date)})

    account = rng.choice([a.key for a in world.accounts if a.key not in glass_accounts])
    moment = clock.ago(BREAK_GLASS_RECENT_DAYS + 1, hours=2)
    glass.sessions.append(Session(moment, [(account, "BreakGlassAdmin")]))
    pop.boundary("break_glass_used", "permission_set", "BreakGlassAdmin", account,
                 {"user_name": glass.user_name, "last_used": _iso(moment), "days_ago": BREAK_GLASS_RECENT_DAYS + 1})
    if pop.spec.extra_boundaries:
        hr_boundaries(pop)


def hr_boundaries(pop: Population) -> None:
    """HR states that look like problems but are not: notice period, leave without use, clean mover, offboarded."""
    clock, rng = pop.clock, pop.rng
    person = pop.person()
    person.end_date = clock.day(-5)
    user = pop.idc_user(person)
    pop.active(user)
    pop.boundary("leaver", "idc_user", user.user_name, None, {"hr_status": "active", "end_date": _iso(person.end_date)})

    person = pop.person()
    person.status = "leave"
    leave_days = rng.uniform(20, 30)
    user = pop.idc_user(person)
    pop.active(user, until=clock.ago(leave_days + 1), last_within=2)
    pop.boundary("on_leave_used_access", "idc_user", user.user_name, None,
                 {"leave_started": _iso(clock.day(leave_days)), "last_sign_in": _iso(pop.last_sign_in(user))})

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
    pop.boundary("leaver", "idc_user", user.user_name, None,
                 {"hr_status": "terminated", "end_date": _iso(person.end_date), "user_status": "DISABLED"})


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


def populate(pop: Population) -> None:
    """Everyone after the estate's skeleton exists: heads, plants, boundary cases, the clean rest."""
    world, copies = pop.world, pop.spec.copies
    pop.head_identities()
    pop.legacy_console_users()
    for planter in PLANTERS.values():
        for index in range(copies):
            planter(pop, index)
    for _ in range(max(1, copies // 2)):
        plant_direct_admin(pop)
    glass = break_glass_users(pop)
    glass_accounts = [a.key for a in world.accounts_in("production")[: max(1, copies // 2)]]
    for account in glass_accounts:
        plant_break_glass_used(pop, glass, account)
    boundaries(pop, glass, glass_accounts)
    pop.fill()
    clean_list(world, pop)


def clean_list(world: World, pop: Population) -> None:
    clean = [("idc_user", u.user_name, None) for u in pop.clean_idc]
    for user in pop.clean_iam + [u for u in world.iam_users if u.name.startswith("svc-") and _clean_service(world, u)]:
        clean.append(("iam_user", user.name, user.account_key))
        if user.keys:
            clean.append(("access_key", user.name, user.account_key))
    clean += [("iam_role", r.name, r.account_key) for r in world.roles]
    clean += [("permission_set", p.name, None) for p in world.permission_sets
              if p.name not in ("AdministratorAccess", "BreakGlassAdmin")]
    world.clean = sorted(set(clean), key=lambda item: (item[0], item[1], item[2] or ""))


def _clean_service(world: World, user: IamUserPlan) -> bool:
    involved = {(p.name, p.account_key) for p in world.plants + world.boundary}
    return (user.name, user.account_key) not in involved
