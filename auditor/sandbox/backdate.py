"""Set the times no API can set, in-process, relative to as-of.

moto stamps everything "now" when it is created and marks nothing as used,
while the product reads creation and last-use times. This module moves
them to the plan's times and derives every "last used" from the delivered
CloudTrail records, so the IAM view and the trail always agree. It also
names the management account (AWS takes its name and e-mail when the
account is opened; moto hard-codes "master").
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.cloudtrail.models import cloudtrail_backends
from moto.iam.models import AccessKeyLastUsed, iam_backends
from moto.organizations.models import organizations_backends
from moto.s3.models import s3_backends
from moto.ssoadmin.models import ssoadmin_backends

from auditor.sandbox.build import ACCESS_ROLE, TRAIL_NAME, Built
from auditor.sandbox.fills import iam as iam_fill
from auditor.sandbox.fills import identitystore
from auditor.sandbox.plan import RootPlan, World

_NOT_SERVICE_USE = ("signin.amazonaws.com", "sso.amazonaws.com")


def naive(moment: datetime) -> datetime:
    """moto keeps naive UTC datetimes."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def _time(record: dict) -> datetime:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class LastUse:
    """Last use of every credential, role and root login, read from the records."""

    def __init__(self, records: dict[str, list[dict]]) -> None:
        self.keys: dict[str, tuple[datetime, str, str]] = {}
        self.passwords: dict[tuple[str, str], datetime] = {}
        self.roles: dict[str, tuple[datetime, str]] = {}
        self.root: dict[str, datetime] = {}
        for account_id, account_records in records.items():
            for record in account_records:
                self._read(account_id, record)

    def _read(self, account_id: str, record: dict) -> None:
        identity = record.get("userIdentity") or {}
        moment, kind, source = _time(record), identity.get("type"), record["eventSource"]
        key = identity.get("accessKeyId") or ""
        if kind == "IAMUser" and key.startswith("AKIA") and source not in _NOT_SERVICE_USE:
            service = source.split(".", 1)[0]
            if key not in self.keys or moment > self.keys[key][0]:
                self.keys[key] = (moment, service, record["awsRegion"])
        login = (
            record["eventName"] == "ConsoleLogin"
            and (record.get("responseElements") or {}).get("ConsoleLogin") == "Success"
        )
        if login and kind == "IAMUser":
            slot = (account_id, identity["userName"])
            self.passwords[slot] = max(moment, self.passwords.get(slot, moment))
        if login and kind == "Root":
            self.root[account_id] = max(moment, self.root.get(account_id, moment))
        issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        if kind == "AssumedRole" and issuer and (issuer not in self.roles or moment > self.roles[issuer][0]):
            self.roles[issuer] = (moment, record["awsRegion"])


def backdate(world: World, built: Built, records: dict[str, list[dict]]) -> None:
    last = LastUse(records)
    _organizations(world, built)
    _identity_center(world, built)
    for account in world.accounts:
        _iam(world, built, account.key, last)
    bucket = s3_backends[built.management_id]["aws"].get_bucket(built.trail_bucket)
    bucket.creation_date = world.idc_created.astimezone(UTC)
    trail = cloudtrail_backends[built.management_id][world.region].get_trail(TRAIL_NAME)
    trail.status.started = naive(world.idc_created)


def _organizations(world: World, built: Built) -> None:
    backend = organizations_backends[built.management_id]["aws"]
    plans = {built.account_ids[a.key]: a for a in world.accounts}
    management = world.management()
    backend.org.master_account_email = management.email
    for account in backend.accounts:
        plan = plans[account.id]
        account.create_time = naive(plan.joined)
        if plan.management:
            account.name, account.email = plan.name, plan.email


def _identity_center(world: World, built: Built) -> None:
    backend = ssoadmin_backends[built.management_id][world.region]
    for instance in backend.instances:
        instance.created_date = epoch(world.idc_created)
    created = {p.name: p.created for p in world.permission_sets}
    for permission_set in backend.permission_sets:
        permission_set.created_date = epoch(created[permission_set.name])
    for assignment in backend.account_assignments:
        assignment.created_date = epoch(world.idc_created)
    for user in (u for u in world.idc_users if not u.deleted):
        identitystore.set_user_times(
            built.management_id,
            world.region,
            built.identity_store_id,
            built.user_ids[user.user_name],
            user.created,
            user.updated,
        )


def _iam(world: World, built: Built, account_key: str, last: LastUse) -> None:
    account_id = built.account_ids[account_key]
    account = world.account(account_key)
    backend = iam_backends[account_id]["aws"]
    users = {u.name: u for u in world.iam_users if u.account_key == account_key}
    for user in backend.users.values():
        plan = users[user.name]
        user.create_date = naive(plan.created)
        user.password_last_used = (
            naive(last.passwords[(account_id, user.name)]) if (account_id, user.name) in last.passwords else None
        )
        for device in user.mfa_devices.values():
            device.enable_date = naive(plan.created)
        for key, key_plan in zip(user.access_keys, plan.keys, strict=True):
            key.create_date = naive(key_plan.created)
            used = last.keys.get(key.access_key_id)
            key.last_used = AccessKeyLastUsed(naive(used[0]), used[1], used[2]) if used else None
    for device in backend.virtual_mfa_devices.values():
        if device.enable_date is not None and device.user is not None:
            device.enable_date = naive(users[device.user.name].created)
    groups = {g.name: g for g in world.iam_groups if g.account_key == account_key}
    for group in backend.groups.values():
        group.create_date = naive(groups[group.name].created)
    policies = {p.name: p for p in world.policies if p.account_key == account_key}
    for policy in backend.managed_policies.values():
        if policy.name in policies and f":{account_id}:" in policy.arn:
            moment = naive(policies[policy.name].created)
            policy.create_date = policy.update_date = moment
            for version in policy.versions:
                version.create_date = moment
    roles = {r.name: r for r in world.roles if r.account_key == account_key}
    provisioned = naive(max(world.idc_created, account.joined))
    for role in backend.roles.values():
        plan = roles.get(role.name)
        role.create_date = (
            naive(plan.created) if plan else naive(account.joined) if role.name == ACCESS_ROLE else provisioned
        )
        used = last.roles.get(role.arn)
        role.last_used, role.last_used_region = (naive(used[0]), used[1]) if used else (None, None)
    for provider in backend.saml_providers.values():
        provider.create_date = provisioned
    root = world.roots.get(account_key) or RootPlan()
    iam_fill.set_root_credentials(
        account_id,
        iam_fill.RootCredentials(
            created=account.joined,
            password_last_used=last.root.get(account_id),
            mfa_active=root.mfa,
            access_key_created=root.key_created,
            access_key_last_used=root.key_last_used,
            access_key_last_used_region=world.region if root.key_last_used else None,
            access_key_last_used_service=root.key_last_used_service,
        ),
    )
