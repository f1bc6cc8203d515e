"""``Population``: the building blocks every plant and the clean majority are made of.

People from the roster, their Identity Center users and sign-in sessions,
console users, and the record of what was planted, what sits just short of
a threshold, and who is clean.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from auditor.sandbox.estate import SizeSpec
from auditor.sandbox.people import AWS_DEPARTMENTS, DEPARTMENTS, EXECUTIVE, Person, Roster
from auditor.sandbox.plan import COVERAGE_DAYS, Clock, IamUserPlan, IdcUserPlan, KeyPlan, Plant, Session, World

DEPARTMENT_WEIGHTS = {
    "engineering": 30,
    "data": 10,
    "platform": 6,
    "security": 4,
    "finance": 6,
    "support": 10,
    "sales": 14,
    "people": 5,
}
SPARE_SERVICE_NAMES = (
    "svc-reporting-export",
    "svc-legacy-sync",
    "svc-partner-feed",
    "svc-backup-agent",
    "svc-cost-export",
    "svc-search-indexer",
    "svc-mail-relay",
    "svc-thumbnailer",
    "svc-audit-shipper",
    "svc-dns-updater",
    "svc-metrics-push",
    "svc-image-builder",
    "svc-ledger-import",
    "svc-crm-sync",
    "svc-geo-loader",
    "svc-invoice-render",
    "svc-scanner",
    "svc-status-page",
    "svc-queue-drain",
    "svc-report-mailer",
    "svc-cache-warmer",
    "svc-vendor-upload",
    "svc-db-snapshot",
    "svc-sitemap",
    "svc-webhook-relay",
    "svc-pdf-renderer",
    "svc-feature-flags",
    "svc-payroll-export",
    "svc-log-forwarder",
    "svc-cdn-purge",
)


def days_of(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def iso(moment: datetime | date | None) -> str | None:
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

    def idc_user(
        self,
        person: Person | None,
        *,
        groups: list[str] | None = None,
        created: datetime | None = None,
        user_name: str | None = None,
        email: str | None = None,
    ) -> IdcUserPlan:
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
            (a.account_key, a.permission_set)
            for a in self.world.assignments
            if (a.principal_type == "GROUP" and a.principal in user.groups)
            or (a.principal_type == "USER" and a.principal == user.user_name)
        }
        return sorted(pairs)

    def sessions(
        self,
        user: IdcUserPlan,
        times: list[datetime],
        prefer: tuple[str, str] | None = None,
        never: tuple[str, str] | None = None,
    ) -> None:
        """Sign-ins at ``times``; the last few days before the newest one use every assignment the user holds
        (except ``never``, an (account key, permission set) the user holds and never opens)."""
        pairs = [p for p in self.entitlements(user) if p[1] != "BreakGlassAdmin" and p != never]
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

    def active(
        self,
        user: IdcUserPlan,
        *,
        until: datetime | None = None,
        last_within: float = 7,
        never: tuple[str, str] | None = None,
    ) -> None:
        """Regular sign-ins from creation (or the trail's start) until ``until``."""
        start = max(user.created, self.world.trail_start)
        end = until or self.world.as_of
        if end > start:
            times = self.clock.schedule(start, end, self.rng.uniform(1.5, 4), last_within_days=last_within)
            self.sessions(user, times, never=never)

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

    def plant(
        self,
        problem: str,
        principal_type: str,
        name: str,
        account_key: str | None,
        detail: dict,
        key: KeyPlan | None = None,
        *,
        user_id_of: str | None = None,
    ) -> None:
        self.world.plants.append(Plant(problem, principal_type, name, account_key, detail, key, user_id_of))

    def boundary(
        self,
        problem: str,
        principal_type: str,
        name: str,
        account_key: str | None,
        detail: dict,
        key: KeyPlan | None = None,
    ) -> None:
        self.world.boundary.append(Plant(problem, principal_type, name, account_key, detail, key))

    def last_sign_in(self, user: IdcUserPlan) -> datetime | None:
        return max((s.start for s in user.sessions), default=None)

    def member_account(self, *environments: str) -> str:
        accounts = self.world.accounts_in(*environments) or self.world.accounts_in(
            "production", "staging", "development", "sandbox"
        )
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

    def console_user(
        self,
        account_key: str,
        person: Person,
        *,
        mfa: bool,
        group: str = "ReadOnly",
        logins: list[datetime] | None = None,
    ) -> IamUserPlan:
        """A person's IAM console user, by default signing in every few days."""
        created = self.clock.ago(self.rng.uniform(400, 900))
        if logins is None:
            logins = self.clock.schedule(self.world.trail_start, self.world.as_of, 5, last_within_days=7)
        user = IamUserPlan(
            account_key=account_key,
            name=person.user_name,
            created=created,
            calls="console",
            console=True,
            mfa=mfa,
            console_logins=logins,
            groups=[group],
            tags={"owner": person.email},
        )
        self.world.iam_users.append(user)
        return user

    def iam_owner(self) -> Person:
        """A clean engineer or platform person with no IAM user yet (IAM user names are unique in the world)."""
        taken = {u.name for u in self.world.iam_users}
        free = [
            u.person
            for u in self.clean_idc
            if u.person
            and u.person.user_name not in taken
            and u.person.department in ("platform", "engineering", "data")
        ]
        if free:
            return self.rng.choice(free)
        department = self.rng.choice([d for d in ("platform", "engineering") if d in self.spec.departments])
        return self.clean_person(department).person

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
