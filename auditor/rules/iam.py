"""Rules about IAM users and their long-term credentials."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import AccessKey, Category, Finding, IamUser, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between
from auditor.rules.findings import make_finding
from auditor.rules.registry import RULES, rule


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _user_principal(user: IamUser) -> Principal:
    return Principal(type=PrincipalType.IAM_USER.value, id=user.user_id, name=user.user_name, arn=user.arn)


def _key_principal(key: AccessKey, users: dict[tuple[str, str], IamUser]) -> Principal:
    owner = users.get((key.account_id, key.user_name))
    return Principal(
        type=PrincipalType.ACCESS_KEY.value,
        id=key.access_key_id,
        name=key.user_name,
        arn=owner.arn if owner else None,
    )


def _active_keys(ctx: RuleContext) -> Iterator[AccessKey]:
    for key in ctx.snapshot.table("access_keys"):
        if key.status == "Active" and key.created is not None and ctx.usable("iam", key.account_id):
            yield key


def _users_by_name(ctx: RuleContext) -> dict[tuple[str, str], IamUser]:
    return {(u.account_id, u.user_name): u for u in ctx.snapshot.table("iam_users")}


@rule(
    id="iam-access-key-unused",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key unused",
    description=(
        "An active access key created at least access_key_unused_days ago has not been used for "
        "access_key_unused_days, or never (a key that was never used is the same risk). Last use is the later "
        "of IAM's record and CloudTrail's."
    ),
    controls=("CIS-AWS-1.12", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6", "SOC2-CC6.2"),
    thresholds=("access_key_unused_days",),
    recommendation="Deactivate the key; delete it after a quiet period.",
)
def access_key_unused(ctx: RuleContext) -> Iterator[Finding]:
    meta = RULES["iam-access-key-unused"]
    days = ctx.settings["access_key_unused_days"]
    users = _users_by_name(ctx)
    for key in _active_keys(ctx):
        age = days_between(key.created, ctx.as_of)
        if age < days:
            continue
        last = ctx.key_last_used(key)
        idle = days_between(last, ctx.as_of) if last is not None else age
        if idle < days:
            continue
        what = f"unused for {int(idle)} days" if last else f"never used in {int(age)} days"
        yield make_finding(
            meta,
            principal=_key_principal(key, users),
            account_id=key.account_id,
            resource=key.access_key_id,
            title=f"Access key {key.access_key_id} of {key.user_name} {what}",
            evidence={
                "user_name": key.user_name,
                "created": _iso(key.created),
                "last_used": _iso(last) or "never",
                "last_used_service": key.last_used_service,
                "days_idle": int(idle),
                "threshold_days": days,
            },
        )


@rule(
    id="iam-access-key-old",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key not rotated",
    description="An active access key is older than access_key_max_age_days.",
    controls=("CIS-AWS-1.14", "PCI-DSS-8.3.9", "SOC2-CC6.1"),
    thresholds=("access_key_max_age_days",),
    recommendation="Create a new key, move its users to it, then deactivate and delete the old one.",
)
def access_key_old(ctx: RuleContext) -> Iterator[Finding]:
    meta = RULES["iam-access-key-old"]
    days = ctx.settings["access_key_max_age_days"]
    users = _users_by_name(ctx)
    for key in _active_keys(ctx):
        age = days_between(key.created, ctx.as_of)
        if age < days:
            continue
        yield make_finding(
            meta,
            principal=_key_principal(key, users),
            account_id=key.account_id,
            resource=key.access_key_id,
            title=f"Access key {key.access_key_id} of {key.user_name} is {int(age)} days old",
            evidence={
                "user_name": key.user_name,
                "created": _iso(key.created),
                "age_days": int(age),
                "threshold_days": days,
                "last_used": _iso(ctx.key_last_used(key)) or "never",
            },
        )


@rule(
    id="iam-console-user-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.HIGH,
    title="Console user without MFA",
    description="An IAM user with a console password has no MFA device.",
    controls=("CIS-AWS-1.10", "SOC2-CC6.1", "ISO27001-A.8.5", "PCI-DSS-8.4.2"),
    recommendation="Enforce an MFA device for the user, or remove the console password if unused.",
)
def console_without_mfa(ctx: RuleContext) -> Iterator[Finding]:
    meta = RULES["iam-console-user-without-mfa"]
    for user in ctx.snapshot.table("iam_users"):
        if not user.password_enabled or user.mfa_active or not ctx.usable("iam", user.account_id):
            continue
        yield make_finding(
            meta,
            principal=_user_principal(user),
            account_id=user.account_id,
            resource=None,
            title=f"IAM user {user.user_name} signs in to the console without MFA",
            evidence={
                "password_enabled": True,
                "mfa_active": False,
                "password_last_used": _iso(user.password_last_used) or "never",
                "created": _iso(user.created),
            },
        )
