"""Rules about IAM users and their long-term credentials."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.access import Existence, tag
from auditor.model import AccessKey, Category, Finding, IamUser, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iam_user_principal, iso
from auditor.rules.findings import insufficient_evidence, make_finding
from auditor.rules.registry import Rule, rule


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
        if key.status == "Active" and ctx.usable("iam", key.account_id):
            yield key


def _key_age_unknown(meta, ctx: RuleContext, key: AccessKey, users, existence: Existence, title: str) -> Finding:
    missing = existence.missing or (
        f"IAM reports no creation time for key {key.access_key_id}; the earliest evidence "
        f"({existence.source.value if existence.source else 'none'}, {iso(existence.since)}) shows only a lower bound "
        "of its age"
    )
    return insufficient_evidence(
        meta,
        principal=_key_principal(key, users),
        account_id=key.account_id,
        resource=key.access_key_id,
        title=title,
        missing=missing,
        evidence={"user_name": key.user_name, "created": iso(key.created), **existence.evidence()},
    )


def _users_by_name(ctx: RuleContext) -> dict[tuple[str, str], IamUser]:
    return {(u.account_id, u.user_name): u for u in ctx.snapshot.table("iam_users")}


def _console_mfa_unread(ctx: RuleContext, user: IamUser) -> str | None:
    """What keeps "console password without MFA" undecidable for ``user`` (None: decided either way)."""
    password = ctx.attribute_missing("iam_user.password_enabled", user.arn)
    mfa = ctx.attribute_missing("iam_user.mfa_active", user.arn)
    if user.mfa_active or (not user.password_enabled and not password):
        return None  # MFA on, or surely no console password
    unread = (("console password", password), ("MFA devices", mfa))
    return (
        "; ".join(f"the {what} of {user.user_name} could not be read ({error})" for what, error in unread if error)
        or None
    )


@rule(
    id="iam-access-key-unused",
    sources=("iam", "cloudtrail"),
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key unused",
    description=(
        "An active access key created at least access_key_unused_days ago has not been used for "
        "access_key_unused_days, or never (a key that was never used is the same risk). Last use is the later "
        "of IAM's record and CloudTrail's."
    ),
    controls=("CIS-AWS-1.12", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6", "SOC2-CC6.2", "ISO27001-A.5.17"),
    thresholds=("access_key_unused_days",),
    recommendation="Deactivate the key; delete it after a quiet period.",
)
def access_key_unused(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["access_key_unused_days"]
    users = _users_by_name(ctx)
    for key in _active_keys(ctx):
        last = ctx.key_last_used(key)
        if last is not None and days_between(last, ctx.as_of) < days:
            continue
        existence = ctx.access.key_existence(key)
        age = existence.days(ctx.as_of)
        if age is None:  # never used and of unknown age: it may have been created yesterday
            title = f"Access key {key.access_key_id} of {key.user_name} has no recorded use and an unknown age"
            yield _key_age_unknown(meta, ctx, key, users, existence, title)
            continue
        if age < days:
            continue
        idle = days_between(last, ctx.as_of) if last is not None else age
        what = f"unused for {int(idle)} days" if last else f"never used in {int(age)} days"
        yield make_finding(
            meta,
            principal=_key_principal(key, users),
            account_id=key.account_id,
            resource=key.access_key_id,
            title=f"Access key {key.access_key_id} of {key.user_name} {what}",
            evidence={
                "user_name": key.user_name,
                "created": iso(key.created),
                "last_used": iso(last) or "never",
                "last_used_service": key.last_used_service,
                "days_idle": int(idle),
                "threshold_days": days,
                **existence.evidence(),
            },
        )


@rule(
    id="iam-access-key-old",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key not rotated",
    description="An active access key is older than access_key_max_age_days.",
    controls=("CIS-AWS-1.14", "PCI-DSS-8.3.9", "SOC2-CC6.1", "ISO27001-A.5.17"),
    thresholds=("access_key_max_age_days",),
    recommendation="Create a new key, move its users to it, then deactivate and delete the old one.",
)
def access_key_old(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["access_key_max_age_days"]
    users = _users_by_name(ctx)
    for key in _active_keys(ctx):
        existence = ctx.access.key_existence(key)
        # IAM's CreateDate is what rotation counts from; other evidence only bounds the age from below
        exact = key.created is not None
        age = days_between(key.created, ctx.as_of) if exact else existence.days(ctx.as_of)
        if age is None or (age < days and not exact):
            # only the creation time can say a key is younger than the threshold; a later sighting cannot
            title = f"Access key {key.access_key_id} of {key.user_name} may be older than {days} days"
            yield _key_age_unknown(meta, ctx, key, users, existence, title)
            continue
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
                "created": iso(key.created),
                "age_days": int(age),
                "threshold_days": days,
                "last_used": iso(ctx.key_last_used(key)) or "never",
                **existence.evidence(),
            },
        )


@rule(
    id="iam-console-user-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.HIGH,
    title="Console user without MFA",
    description="An IAM user with a console password has no MFA device.",
    controls=("CIS-AWS-1.10", "SOC2-CC6.1", "ISO27001-A.8.5", "PCI-DSS-8.4.2", "ISO27001-A.5.17"),
    recommendation="Enforce an MFA device for the user, or remove the console password if unused.",
)
def console_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for user in ctx.snapshot.table("iam_users"):
        unread = _console_mfa_unread(ctx, user)
        if unread and ctx.usable("iam", user.account_id):
            yield insufficient_evidence(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} signs in to the console without MFA",
                missing=unread,
            )
            continue
        if not user.password_enabled or user.mfa_active or not ctx.usable("iam", user.account_id):
            continue
        yield make_finding(
            meta,
            principal=iam_user_principal(user),
            account_id=user.account_id,
            resource=None,
            title=f"IAM user {user.user_name} signs in to the console without MFA",
            evidence={
                "password_enabled": True,
                "mfa_active": False,
                "password_last_used": iso(user.password_last_used) or "never",
                "created": iso(user.created),
            },
        )


def _active_keys_of(ctx: RuleContext, user: IamUser) -> list[AccessKey]:
    return [k for k in ctx.access.keys_of(user) if k.status == "Active"]


@rule(
    id="iam-user-inactive",
    sources=("iam", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.MEDIUM,
    title="IAM user inactive",
    description=(
        "An IAM user with a console password or an active key, older than iam_user_inactive_days, used none "
        "of them for iam_user_inactive_days (IAM's own last-used records, and CloudTrail)."
    ),
    controls=("CIS-AWS-1.12", "SOC2-CC6.2", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6"),
    thresholds=("iam_user_inactive_days",),
    recommendation="Disable the console password and deactivate the keys; delete the user after a quiet period.",
)
def iam_user_inactive(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["iam_user_inactive_days"]
    for user in ctx.snapshot.table("iam_users"):
        keys = _active_keys_of(ctx, user)
        if not ctx.usable("iam", user.account_id) or not (user.password_enabled or keys):
            continue  # no console password and no active key: nothing left to use
        last = ctx.access.iam_user_last_used(user)
        if last is not None and days_between(last, ctx.as_of) < days:
            continue
        existence = ctx.access.iam_user_existence(user)
        age = existence.days(ctx.as_of)
        facts = {
            "last_used": iso(last) or "never",
            "created": iso(user.created),
            "password_enabled": user.password_enabled,
            "active_keys": [k.access_key_id for k in keys],
            "threshold_days": days,
            **existence.evidence(),
        }
        if age is None:  # never used and of unknown age
            yield insufficient_evidence(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} has no recorded use and an unknown age",
                missing=existence.missing,
                evidence=facts,
            )
            continue
        if age < days:
            continue
        idle = int(days_between(last, ctx.as_of)) if last else int(age)
        yield make_finding(
            meta,
            principal=iam_user_principal(user),
            account_id=user.account_id,
            resource=None,
            title=f"IAM user {user.user_name} unused for {idle} days"
            if last
            else f"IAM user {user.user_name} never used in {idle} days",
            evidence={"days_idle": idle, **facts},
        )


@rule(
    id="iam-user-two-active-keys",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.LOW,
    title="IAM user with two active access keys",
    description="Two active keys double the exposure; outside a rotation, one should be inactive.",
    controls=("CIS-AWS-1.13", "SOC2-CC6.1", "ISO27001-A.5.17"),
    recommendation="Finish the rotation: deactivate the older key.",
)
def two_active_keys(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for user in ctx.snapshot.table("iam_users"):
        keys = _active_keys_of(ctx, user)
        if len(keys) < 2 or not ctx.usable("iam", user.account_id):
            continue
        yield make_finding(
            meta,
            principal=iam_user_principal(user),
            account_id=user.account_id,
            resource=None,
            title=f"IAM user {user.user_name} has {len(keys)} active access keys",
            evidence={
                "keys": [
                    {
                        "id": k.access_key_id,
                        "created": iso(k.created),
                        "last_used": iso(ctx.key_last_used(k)) or "never",
                    }
                    for k in keys
                ]
            },
        )


@rule(
    id="iam-keys-on-console-user-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Access keys on a console user without MFA",
    description="A user with a console password and no MFA also holds active access keys: one phished password "
    "leads to long-term keys.",
    controls=("CIS-AWS-1.10", "SOC2-CC6.1", "PCI-DSS-8.4.2", "ISO27001-A.5.17"),
    recommendation="Enforce MFA, or separate the human (console) and the workload (keys).",
)
def keys_on_console_user_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for user in ctx.snapshot.table("iam_users"):
        unread = _console_mfa_unread(ctx, user)
        if not (user.password_enabled or unread) or user.mfa_active or not ctx.usable("iam", user.account_id):
            continue
        keys = _active_keys_of(ctx, user)
        if keys and unread:
            yield insufficient_evidence(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} has a console password without MFA and {len(keys)} active key(s)",
                missing=unread,
                evidence={"active_keys": [k.access_key_id for k in keys]},
            )
        elif keys:
            yield make_finding(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} has a console password without MFA and {len(keys)} active key(s)",
                evidence={"active_keys": [k.access_key_id for k in keys]},
            )


@rule(
    id="iam-user-without-owner",
    sources=("iam", "hr"),
    category=Category.ORPHANED,
    severity=Severity.MEDIUM,
    title="IAM user without an active owner",
    description=(
        "An IAM user whose `owner` tag, `email` tag and user name match nobody active in HR, and whose `owner` "
        "tag names no team (an account's `owner` tag, an Identity Center group's name, or an entry of [rules] "
        "owner_teams). High when the person named is a leaver."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.16", "NIST-800-53-AC-2"),
    thresholds=("owner_teams",),
    recommendation="Tag the user with an active owner (owner=email or a team address), or remove it.",
)
def iam_user_without_owner(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not ctx.usable("hr"):
        return
    for user in ctx.snapshot.table("iam_users"):
        if not ctx.usable("iam", user.account_id):
            continue
        owner = tag(user.tags, "owner")
        matched = ctx.access.iam_user_people(user)
        if any(p.status != "terminated" for p in matched):
            continue  # an active person answers for it
        team = None if ctx.access.hr_match(owner, owner) else ctx.owner_team(owner)
        if team is not None:
            continue  # the owner tag names a team, which answers for it
        owner_left = bool(matched)
        yield make_finding(
            meta,
            principal=iam_user_principal(user),
            account_id=user.account_id,
            resource=None,
            title=f"IAM user {user.user_name} is owned by a leaver"
            if owner_left
            else f"IAM user {user.user_name} has no owner in HR or among the teams",
            evidence={
                "owner_tag": owner,
                "matched_people": [p.email for p in matched],
                "owner_status": "terminated" if owner_left else "unknown",
            },
            severity=Severity.HIGH if owner_left else None,
        )
