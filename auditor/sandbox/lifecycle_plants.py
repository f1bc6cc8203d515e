"""Lifecycle activity in the trail: who granted what, the anomalies planted among it, and later nights.

The estate's Identity Center access was provisioned by an automation role
(``idc-provisioning``, the Terraform pipeline): for every user created
inside the trail's window its CreateUser and CreateGroupMembership events
sit in the management account's log objects, the estate's baseline. Five
anomalies are planted among them, one principal each (``plant_anomalies``
at plan time, ``add_records`` once built). ``Nights`` changes a running
sandbox between nightly runs the way HR and the automation would (a leaver
disabled, a mover's old group removed, a joiner provisioned), moving the
sandbox's clock and writing each change's CloudTrail event, so lifecycle
metrics can be checked against what was done and when.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import string
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.sandbox.events import Events, RoleRef
from auditor.sandbox.people import AWS_DEPARTMENTS, HR_COLUMNS
from auditor.sandbox.plan import IdcUserPlan, World
from auditor.sandbox.population import Population, iso

if TYPE_CHECKING:
    from auditor.sandbox.build import Built, Clients
    from auditor.sandbox.server import Sandbox

AUTOMATION_ROLE = "idc-provisioning"
AUTOMATION_SESSION = "terraform"
SSO = "sso.amazonaws.com"
IDENTITY_STORE = "identitystore.amazonaws.com"
BURST_GRANTS = 30  # far above the automation's daily baseline in every size (at most a few a day)
ANOMALIES = (
    "grant_by_person",
    "admin_granted_and_removed",
    "grant_burst",
    "grant_to_absent",
    "sign_in_after_termination",
)


def _rng(world: World) -> random.Random:
    return random.Random(f"auditor-sandbox-anomalies:{world.size}:{world.seed}")


def _grouped_person(pop: Population, rng: random.Random, days: float) -> IdcUserPlan:
    person = pop.person(rng.choice(AWS_DEPARTMENTS[:3]), joined_days_ago=days)
    return pop.idc_user(person)


def plant_anomalies(pop: Population) -> None:
    """One principal per anomaly; times are days before as-of, inside the rules' 30-day window."""
    rng, clock = _rng(pop.world), pop.clock
    for _ in ANOMALIES:  # a clean colleague for each: the clean majority stays a majority
        pop.clean_person(rng.choice(AWS_DEPARTMENTS[:3]))
    manual = _grouped_person(pop, rng, 12)
    pop.active(manual)
    pop.plant("grant_by_person", "idc_user", manual.user_name, None, {"days_ago": 12, "groups": manual.groups})

    briefly = _grouped_person(pop, rng, rng.uniform(300, 900))
    pop.active(briefly)
    account = pop.member_account("production")
    pop.plant(
        "admin_granted_and_removed",
        "idc_user",
        briefly.user_name,
        account,
        {"permission_set": "AdministratorAccess", "days_ago": 6, "hours_held": 3},
    )

    burst_day = clock.day(9)
    targets = [u.user_name for u in pop.clean_idc if u.groups][:BURST_GRANTS]
    pop.plant(
        "grant_burst",
        "iam_role",
        AUTOMATION_ROLE,
        pop.world.management().key,
        {"day": iso(burst_day), "grants": len(targets), "users": targets},
    )

    absent = _grouped_person(pop, rng, rng.uniform(300, 900))
    absent.person.status = "leave"
    pop.active(absent, until=clock.ago(25), last_within=3)
    pop.plant("grant_to_absent", "idc_user", absent.user_name, None, {"hr_status": "leave", "days_ago": 4})

    gone = _grouped_person(pop, rng, rng.uniform(300, 900))
    gone.person.status, gone.person.end_date = "terminated", clock.day(8)
    pop.active(gone, until=clock.ago(9), last_within=3)
    pop.sessions(gone, [clock.ago(2, 3)])
    pop.plant(
        "sign_in_after_termination",
        "idc_user",
        gone.user_name,
        None,
        {"end_date": iso(gone.person.end_date), "last_sign_in": iso(clock.ago(2, 3))},
    )


class Trail:
    """Management events of the Identity Center home account, in the organisation trail's shapes."""

    def __init__(self, world: World, built: Built, clients: Clients, rng: random.Random) -> None:
        self.world, self.built, self.clients, self.rng = world, built, clients, rng
        self.events = Events(rng, built.management_id, world.region, built.identity_store_id)
        role_id = "AROA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(17))
        arn = f"arn:aws:iam::{built.management_id}:role/{AUTOMATION_ROLE}"
        self.automation = RoleRef(built.management_id, AUTOMATION_ROLE, role_id, arn)
        self._memberships: dict[str, dict[str, str]] = {}

    def _identity(self, when: datetime, person: str | None) -> tuple[dict, str, str]:
        """(userIdentity, user agent, source IP) of the automation, or of ``person`` in the console."""
        if person is None:
            key = self.events.temporary_key()
            identity = self.events.role_identity(self.automation, AUTOMATION_SESSION, key, when - timedelta(minutes=2))
            return identity, "APN/1.0 HashiCorp/1.0 Terraform/1.9.2", "198.51.100.20"
        name = "AWSReservedSSO_AdministratorAccess_5a4e0c1d2b3f4a59"
        role = RoleRef(
            self.built.management_id,
            name,
            "AROA" + "".join(self.rng.choice(string.ascii_uppercase + "234567") for _ in range(17)),
            f"arn:aws:iam::{self.built.management_id}:role/aws-reserved/sso.amazonaws.com/{name}",
        )
        identity = self.events.role_identity(role, person, self.events.temporary_key(), when - timedelta(minutes=5))
        return identity, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "203.0.113.77"

    def call(self, when: datetime, source: str, name: str, request: dict, response: dict | None, person=None) -> dict:
        identity, agent, ip = self._identity(when, person)
        return self.events.record(
            when,
            source,
            name,
            self.built.management_id,
            identity,
            read_only=False,
            request=request,
            response=response,
            agent=agent,
            ip=ip,
        )

    def membership_id(self, group: str, user_name: str) -> str | None:
        group_id, user_id = self.built.group_ids[group], self.built.user_ids[user_name]
        if group_id not in self._memberships:
            store = self.clients.client("identitystore")
            listed = store.list_group_memberships(IdentityStoreId=self.built.identity_store_id, GroupId=group_id)
            self._memberships[group_id] = {
                m["MemberId"]["UserId"]: m["MembershipId"] for m in listed["GroupMemberships"]
            }
        return self._memberships[group_id].get(user_id)

    def create_user(self, when: datetime, user_name: str) -> dict:
        store = self.built.identity_store_id
        return self.call(
            when,
            IDENTITY_STORE,
            "CreateUser",
            {"identityStoreId": store, "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            {"identityStoreId": store, "userId": self.built.user_ids[user_name]},
        )

    def add_membership(self, when: datetime, group: str, user_name: str, person: str | None = None) -> dict:
        store = self.built.identity_store_id
        return self.call(
            when,
            IDENTITY_STORE,
            "CreateGroupMembership",
            {
                "identityStoreId": store,
                "groupId": self.built.group_ids[group],
                "memberId": {"userId": self.built.user_ids[user_name]},
            },
            {"identityStoreId": store, "membershipId": self.membership_id(group, user_name)},
            person,
        )

    def remove_membership(self, when: datetime, membership_id: str) -> dict:
        store = self.built.identity_store_id
        return self.call(
            when, IDENTITY_STORE, "DeleteGroupMembership", {"identityStoreId": store, "membershipId": membership_id}, {}
        )

    def disable_user(self, when: datetime, user_id: str) -> dict:
        request = {"identityStoreId": self.built.identity_store_id, "userId": user_id, "operations": "HIDDEN"}
        return self.call(when, IDENTITY_STORE, "UpdateUser", request, {})

    def assignment(self, when: datetime, name: str, account_id: str, permission_set: str, user_name: str) -> dict:
        request = {
            "instanceArn": self.built.instance_arn,
            "targetId": account_id,
            "targetType": "AWS_ACCOUNT",
            "permissionSetArn": self.built.permission_set_arns[permission_set],
            "principalType": "USER",
            "principalId": self.built.user_ids[user_name],
        }
        key = "accountAssignmentCreationStatus" if name.startswith("Create") else "accountAssignmentDeletionStatus"
        response = {key: {"status": "IN_PROGRESS", "requestId": self.events.uuid(), **request}}
        return self.call(when, SSO, name, request, response)


def _at(world: World, days_ago: float, hour: int) -> datetime:
    day = (world.as_of - timedelta(days=days_ago)).date()
    return datetime.combine(day, time(hour), tzinfo=UTC)


def add_records(world: World, built: Built, clients: Clients, records: dict[str, list[dict]]) -> None:
    """The automation's baseline and the planted anomalies, into the management account's records."""
    rng = _rng(world)
    trail = Trail(world, built, clients, rng)
    plants = {p.problem: p for p in world.plants if p.problem in ANOMALIES}
    manual = plants["grant_by_person"].name
    out = records.setdefault(built.management_id, [])
    for user in world.idc_users:
        if user.deleted or user.created < world.trail_start or user.user_name == manual:
            continue
        out.append(trail.create_user(user.created, user.user_name))
        out += [trail.add_membership(user.created + timedelta(minutes=1), g, user.user_name) for g in user.groups]
    head = next(p.user_name for p in world.people if p.department in AWS_DEPARTMENTS)
    user = next(u for u in world.idc_users if u.user_name == manual)
    created = max(user.created, _at(world, 12, 9))
    out.append(trail.create_user(created, manual))
    out += [trail.add_membership(created + timedelta(minutes=4), g, manual, person=head) for g in user.groups]

    briefly = plants["admin_granted_and_removed"]
    account_id = built.account_ids[briefly.account_key]
    granted = _at(world, 6, 14)
    out.append(trail.assignment(granted, "CreateAccountAssignment", account_id, "AdministratorAccess", briefly.name))
    removed = granted + timedelta(hours=3)
    out.append(trail.assignment(removed, "DeleteAccountAssignment", account_id, "AdministratorAccess", briefly.name))

    burst = plants["grant_burst"]
    start = _at(world, 9, 10)
    for number, user_name in enumerate(burst.detail["users"]):
        group = next(u for u in world.idc_users if u.user_name == user_name).groups[0]
        out.append(trail.add_membership(start + timedelta(minutes=3 * number), group, user_name))

    absent = next(u for u in world.idc_users if u.user_name == plants["grant_to_absent"].name)
    out.append(trail.add_membership(_at(world, 4, 11), absent.groups[0], absent.user_name))


def deliver_records(sandbox: Sandbox, records: list[dict], delivered: datetime) -> str:
    """Put one log object of the management account into the trail bucket, as CloudTrail delivers it."""
    from moto.s3.models import s3_backends

    from auditor.sandbox.trail import object_key

    account = sandbox.management_account_id
    unique = "".join(random.Random(delivered.isoformat()).choice(string.ascii_letters) for _ in range(16))
    key = object_key(sandbox.organization_id, account, sandbox.region, delivered, unique)
    body = gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode(), mtime=0)
    stored = s3_backends[account]["aws"].put_object(sandbox.trail_bucket, key, body)
    stored.last_modified = delivered.replace(tzinfo=None)
    return key


class Nights:
    """Change a running sandbox between nightly runs: HR edits, the automation's changes, the clock.

    Works in the process that holds the sandbox (moto's state is in-process).
    Each change is made through the AWS APIs and written to the trail as the
    automation's event at the change's time; ``advance`` moves the
    sandbox's clock to the next night.
    """

    def __init__(self, sandbox: Sandbox, clients: Clients | None = None) -> None:
        from auditor.sandbox.build import Built, Clients

        self.sandbox = sandbox
        self.clients = clients or Clients(sandbox.endpoint_url, sandbox.region)
        self.store = self.clients.client("identitystore")
        self.sso = self.clients.client("sso-admin")
        built = Built(
            management_id=sandbox.management_account_id,
            instance_arn=sandbox.instance_arn,
            identity_store_id=sandbox.identity_store_id,
        )
        world = World("", 0, sandbox.as_of, sandbox.region, "", "", sandbox.as_of)
        self.trail = Trail(world, built, self.clients, random.Random(f"nights:{sandbox.seed}"))
        self._pending: list[dict] = []

    # --- HR feed ----------------------------------------------------------------------

    def _rows(self) -> list[dict[str, str]]:
        with Path(self.sandbox.hr_feed).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def _write(self, rows: list[dict[str, str]]) -> None:
        with Path(self.sandbox.hr_feed).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HR_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    def hr(self, user_name: str, **changes: str) -> None:
        rows = self._rows()
        row = next(r for r in rows if r["user_name"] == user_name)
        row.update(changes)
        self._write(rows)

    def hr_add(self, row: dict[str, str]) -> None:
        self._write([*self._rows(), {column: row.get(column, "") for column in HR_COLUMNS}])

    def people(self, **match: str) -> list[dict[str, str]]:
        return [r for r in self._rows() if all(r.get(k) == v for k, v in match.items())]

    # --- identity store ----------------------------------------------------------------------

    def user_id(self, user_name: str) -> str:
        return self.store.get_user_id(
            IdentityStoreId=self.sandbox.identity_store_id,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": user_name}},
        )["UserId"]

    def group_id(self, name: str) -> str:
        return self.store.get_group_id(
            IdentityStoreId=self.sandbox.identity_store_id,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}},
        )["GroupId"]

    def memberships(self, user_name: str) -> list[dict[str, Any]]:
        return self.store.list_group_memberships_for_member(
            IdentityStoreId=self.sandbox.identity_store_id, MemberId={"UserId": self.user_id(user_name)}
        )["GroupMemberships"]

    def remove_membership(self, user_name: str, group: str, at: datetime) -> None:
        group_id = self.group_id(group)
        for membership in self.memberships(user_name):
            if membership["GroupId"] == group_id:
                self.store.delete_group_membership(
                    IdentityStoreId=self.sandbox.identity_store_id, MembershipId=membership["MembershipId"]
                )
                self._pending.append(self.trail.remove_membership(at, membership["MembershipId"]))

    def deprovision(self, user_name: str, at: datetime) -> None:
        """A leaver offboarded: every membership removed, then the user disabled."""
        user_id = self.user_id(user_name)
        for membership in self.memberships(user_name):
            self.store.delete_group_membership(
                IdentityStoreId=self.sandbox.identity_store_id, MembershipId=membership["MembershipId"]
            )
            self._pending.append(self.trail.remove_membership(at, membership["MembershipId"]))
        self.store.update_user(
            IdentityStoreId=self.sandbox.identity_store_id,
            UserId=user_id,
            Operations=[{"AttributePath": "userStatus", "AttributeValue": "DISABLED"}],
        )
        self._pending.append(self.trail.disable_user(at + timedelta(minutes=1), user_id))

    def grant(self, user_name: str, group: str, at: datetime) -> None:
        """The automation adds ``user_name`` to ``group`` at ``at``."""
        user_id, group_id = self.user_id(user_name), self.group_id(group)
        created = self.store.create_group_membership(
            IdentityStoreId=self.sandbox.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
        )
        store = self.sandbox.identity_store_id
        self._pending.append(
            self.trail.call(
                at,
                IDENTITY_STORE,
                "CreateGroupMembership",
                {"identityStoreId": store, "groupId": group_id, "memberId": {"userId": user_id}},
                {"identityStoreId": store, "membershipId": created["MembershipId"]},
            )
        )

    def join(self, row: dict[str, str], group: str, at: datetime) -> str:
        """A joiner: their HR row, their Identity Center user and birthright group, provisioned at ``at``."""
        self.hr_add(row)
        user_id = self.store.create_user(
            IdentityStoreId=self.sandbox.identity_store_id,
            UserName=row["user_name"],
            DisplayName=row["display_name"],
            Name={"GivenName": row["display_name"].split()[0], "FamilyName": row["display_name"].split()[-1]},
            Emails=[{"Value": row["email"], "Type": "work", "Primary": True}],
        )["UserId"]
        self.grant(row["user_name"], group, at)
        return user_id

    def advance(self, to: datetime) -> None:
        """Deliver the changes' events and move the sandbox's clock to ``to`` (the next night)."""
        from auditor.sandbox import moto_setup

        if self._pending:
            last = max(datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ") for r in self._pending)
            deliver_records(self.sandbox, self._pending, last.replace(tzinfo=UTC) + timedelta(minutes=5))
            self._pending = []
        moto_setup.install(to)
        self.sandbox.as_of = to
