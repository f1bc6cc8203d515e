"""Rules about IAM users and their long-term credentials.

Every rule decides for each IAM user (or access key) of the snapshot: a
finding, insufficient evidence naming what IAM could not answer for its
account, or the fact that cleared it.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.access import Existence
from auditor.model import AccessKey, Category, Finding, IamUser, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iam_user_principal, iso
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.iam_evidence import (
    key_use_unread,
    keys_unlisted,
    since,
    source_unread,
    user_use_unread,
    younger_than_threshold,
)
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Outcome = Finding | Verdict


def _key_principal(key: AccessKey, users: dict[tuple[str, str], IamUser]) -> Principal:
    owner = users.get((key.account_id, key.user_name))
    return Principal(
        type=PrincipalType.ACCESS_KEY.value,
        id=key.access_key_id,
        name=key.user_name,
        arn=owner.arn if owner else None,
    )


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


def _key_outcomes(ctx: RuleContext, meta: Rule, title) -> Iterator[tuple[AccessKey, Principal, Outcome | None]]:
    """Each access key with its principal, and its outcome when IAM's answers already decide it.

    Keys of an account whose IAM could not be read are undecidable; inactive
    keys are cleared. ``title(key)`` is the finding's title.
    """
    users = _users_by_name(ctx)
    for key in ctx.snapshot.table("access_keys"):
        principal = _key_principal(key, users)
        where = {"account_id": key.account_id, "resource": key.access_key_id}
        missing = source_unread(ctx, "iam", key.account_id)
        if missing:
            yield (
                key,
                principal,
                insufficient_evidence(meta, principal=principal, title=title(key), missing=missing, **where),
            )
        elif key.status != "Active":
            yield key, principal, cleared(meta, principal, f"key is {key.status}", **where)
        else:
            yield key, principal, None


@rule(
    id="iam-access-key-unused",
    trail_optional=("access_key",),
    sources=("iam", "cloudtrail"),
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key unused",
    description=(
        "An active access key created at least access_key_unused_days ago has not been used for "
        "access_key_unused_days, or never (a key that was never used is the same risk). Last use is the later "
        "of IAM's record and CloudTrail's; where IAM's record could not be read, CloudTrail must cover the days."
    ),
    controls=("CIS-AWS-1.12", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6", "SOC2-CC6.2", "ISO27001-A.5.17"),
    thresholds=("access_key_unused_days",),
    recommendation="Deactivate the key; delete it after a quiet period.",
    subjects=("access_key",),
    needs=("iam.access_keys", "cloudtrail.activity"),
)
def access_key_unused(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    days = ctx.settings["access_key_unused_days"]
    users = _users_by_name(ctx)

    def title(key: AccessKey) -> str:
        return f"Access key {key.access_key_id} of {key.user_name} unused for {days} days"

    for key, principal, decided in _key_outcomes(ctx, meta, title):
        where = {"account_id": key.account_id, "resource": key.access_key_id}
        if decided is not None:
            yield decided
            continue
        last = ctx.key_last_used(key)
        if last is not None and days_between(last, ctx.as_of) < days:
            yield cleared(meta, principal, f"last used {since(last, ctx.as_of)}, within {days} days", **where)
            continue
        unread = key_use_unread(ctx, key, days)
        if unread:
            yield insufficient_evidence(meta, principal=principal, title=title(key), missing=unread, **where)
            continue
        existence = ctx.access.key_existence(key)
        age = existence.days(ctx.as_of)
        if age is None:  # never used and of unknown age: it may have been created yesterday
            title_unknown = f"Access key {key.access_key_id} of {key.user_name} has no recorded use and an unknown age"
            yield _key_age_unknown(meta, ctx, key, users, existence, title_unknown)
            continue
        facts = {"user_name": key.user_name, "last_used": iso(last) or "never", "threshold_days": days}
        if age < days:
            yield younger_than_threshold(
                meta, principal, existence, ctx.as_of, days, title=title(key), evidence=facts, **where
            )
            continue
        idle = days_between(last, ctx.as_of) if last is not None else age
        what = f"unused for {int(idle)} days" if last else f"never used in {int(age)} days"
        yield make_finding(
            meta,
            principal=principal,
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
            **where,
        )


@rule(
    id="iam-access-key-old",
    trail_optional=("access_key",),
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.MEDIUM,
    title="Active access key not rotated",
    description="An active access key is older than access_key_max_age_days.",
    controls=("CIS-AWS-1.14", "PCI-DSS-8.3.9", "SOC2-CC6.1", "ISO27001-A.5.17"),
    thresholds=("access_key_max_age_days",),
    recommendation="Create a new key, move its users to it, then deactivate and delete the old one.",
    subjects=("access_key",),
    needs=("iam.access_keys",),
)
def access_key_old(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    days = ctx.settings["access_key_max_age_days"]
    users = _users_by_name(ctx)

    def title(key: AccessKey) -> str:
        return f"Access key {key.access_key_id} of {key.user_name} may be older than {days} days"

    for key, principal, decided in _key_outcomes(ctx, meta, title):
        if decided is not None:
            yield decided
            continue
        existence = ctx.access.key_existence(key)
        # IAM's CreateDate is what rotation counts from; other evidence only bounds the age from below
        exact = key.created is not None
        age = days_between(key.created, ctx.as_of) if exact else existence.days(ctx.as_of)
        if age is None or (age < days and not exact):
            # only the creation time can say a key is younger than the threshold; a later sighting cannot
            yield _key_age_unknown(meta, ctx, key, users, existence, title(key))
            continue
        if age < days:
            reason = f"created {since(key.created, ctx.as_of)}, within {days} days"
            yield cleared(meta, principal, reason, account_id=key.account_id, resource=key.access_key_id)
            continue
        yield make_finding(
            meta,
            principal=principal,
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


def _user_outcomes(ctx: RuleContext, meta: Rule, title) -> Iterator[tuple[IamUser, Principal, Outcome | None]]:
    """Each IAM user with its principal, and insufficient evidence when its account's IAM could not be read."""
    for user in ctx.snapshot.table("iam_users"):
        principal = iam_user_principal(user)
        missing = source_unread(ctx, "iam", user.account_id)
        undecided = (
            insufficient_evidence(
                meta, principal=principal, account_id=user.account_id, resource=None, title=title(user), missing=missing
            )
            if missing
            else None
        )
        yield user, principal, undecided


@rule(
    id="iam-console-user-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.HIGH,
    title="Console user without MFA",
    description="An IAM user with a console password has no MFA device.",
    controls=("CIS-AWS-1.10", "SOC2-CC6.1", "ISO27001-A.8.5", "PCI-DSS-8.4.2", "ISO27001-A.5.17"),
    recommendation="Enforce an MFA device for the user, or remove the console password if unused.",
    subjects=("iam_user",),
    needs=("iam.iam_users",),
)
def console_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    def title(user: IamUser) -> str:
        return f"IAM user {user.user_name} signs in to the console without MFA"

    for user, principal, undecided in _user_outcomes(ctx, meta, title):
        unread = _console_mfa_unread(ctx, user)
        if undecided is not None or unread:
            yield undecided or insufficient_evidence(
                meta, principal=principal, account_id=user.account_id, resource=None, title=title(user), missing=unread
            )
        elif user.mfa_active:
            yield cleared(meta, principal, "MFA device active", account_id=user.account_id)
        elif not user.password_enabled:
            yield cleared(meta, principal, "no console password", account_id=user.account_id)
        else:
            yield make_finding(
                meta,
                principal=principal,
                account_id=user.account_id,
                resource=None,
                title=title(user),
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
    trail_optional=("iam_user", "access_key"),
    sources=("iam", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.MEDIUM,
    title="IAM user inactive",
    description=(
        "An IAM user with a console password or an active key, older than iam_user_inactive_days, used none "
        "of them for iam_user_inactive_days (IAM's own last-used records, and CloudTrail; where IAM's records "
        "could not be read, CloudTrail must cover the days)."
    ),
    controls=("CIS-AWS-1.12", "SOC2-CC6.2", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6"),
    thresholds=("iam_user_inactive_days",),
    recommendation="Disable the console password and deactivate the keys; delete the user after a quiet period.",
    subjects=("iam_user",),
    needs=("iam.iam_users", "iam.access_keys", "cloudtrail.activity"),
)
def iam_user_inactive(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    days = ctx.settings["iam_user_inactive_days"]

    def title(user: IamUser) -> str:
        return f"IAM user {user.user_name} unused for {days} days"

    for user, principal, undecided in _user_outcomes(ctx, meta, title):
        where = {"account_id": user.account_id, "resource": None}
        if undecided is not None:
            yield undecided
            continue
        keys = _active_keys_of(ctx, user)
        if not keys and not user.password_enabled:
            # nothing left to use, if both absences are known
            password = ctx.attribute_missing("iam_user.password_enabled", user.arn)
            unread = [
                keys_unlisted(ctx, user),
                password and f"the console password of {user.user_name} could not be read ({password})",
            ]
            missing = "; ".join(u for u in unread if u)
            if missing:
                yield insufficient_evidence(meta, principal=principal, title=title(user), missing=missing, **where)
            else:
                yield cleared(meta, principal, "no console password and no active access key", **where)
            continue
        last = ctx.access.iam_user_last_used(user)
        if last is not None and days_between(last, ctx.as_of) < days:
            yield cleared(meta, principal, f"last used {since(last, ctx.as_of)}, within {days} days", **where)
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
        unread = user_use_unread(ctx, user, keys, days)
        if unread:
            yield insufficient_evidence(
                meta, principal=principal, title=title(user), missing=unread, evidence=facts, **where
            )
            continue
        if age is None:  # never used and of unknown age
            yield insufficient_evidence(
                meta,
                principal=principal,
                title=f"IAM user {user.user_name} has no recorded use and an unknown age",
                missing=existence.missing,
                evidence=facts,
                **where,
            )
            continue
        if age < days:
            yield younger_than_threshold(
                meta, principal, existence, ctx.as_of, days, title=title(user), evidence=facts, **where
            )
            continue
        idle = int(days_between(last, ctx.as_of)) if last else int(age)
        yield make_finding(
            meta,
            principal=principal,
            title=f"IAM user {user.user_name} unused for {idle} days"
            if last
            else f"IAM user {user.user_name} never used in {idle} days",
            evidence={"days_idle": idle, **facts},
            **where,
        )


@rule(
    id="iam-user-two-active-keys",
    trail_optional=("access_key",),
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.LOW,
    title="IAM user with two active access keys",
    description="Two active keys double the exposure; outside a rotation, one should be inactive.",
    controls=("CIS-AWS-1.13", "SOC2-CC6.1", "ISO27001-A.5.17"),
    recommendation="Finish the rotation: deactivate the older key.",
    subjects=("iam_user",),
    needs=("iam.access_keys",),
)
def two_active_keys(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    def title(user: IamUser) -> str:
        return f"IAM user {user.user_name} has 2 active access keys"

    for user, principal, undecided in _user_outcomes(ctx, meta, title):
        keys = _active_keys_of(ctx, user)
        unlisted = keys_unlisted(ctx, user) if len(keys) < 2 else None
        if undecided is not None or unlisted:
            yield undecided or insufficient_evidence(
                meta,
                principal=principal,
                account_id=user.account_id,
                resource=None,
                title=title(user),
                missing=unlisted,
                evidence={"active_keys": [k.access_key_id for k in keys]},
            )
        elif len(keys) < 2:
            reason = f"{len(keys)} active access key" + ("" if len(keys) == 1 else "s")
            yield cleared(meta, principal, reason, account_id=user.account_id)
        else:
            yield make_finding(
                meta,
                principal=principal,
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
    subjects=("iam_user",),
    needs=("iam.iam_users", "iam.access_keys"),
)
def keys_on_console_user_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    def title(user: IamUser, keys: int = 1) -> str:
        return f"IAM user {user.user_name} has a console password without MFA and {keys} active key(s)"

    for user, principal, undecided in _user_outcomes(ctx, meta, title):
        where = {"account_id": user.account_id, "resource": None}
        if undecided is not None:
            yield undecided
            continue
        unread = _console_mfa_unread(ctx, user)
        if user.mfa_active:
            yield cleared(meta, principal, "MFA device active", **where)
            continue
        if not (user.password_enabled or unread):
            yield cleared(meta, principal, "no console password", **where)
            continue
        keys = _active_keys_of(ctx, user)
        unlisted = None if keys else keys_unlisted(ctx, user)
        evidence = {"active_keys": [k.access_key_id for k in keys]}
        if unlisted or (keys and unread):
            missing = unlisted or unread
            yield insufficient_evidence(
                meta, principal=principal, title=title(user, len(keys)), missing=missing, evidence=evidence, **where
            )
        elif keys:
            yield make_finding(meta, principal=principal, title=title(user, len(keys)), evidence=evidence, **where)
        else:
            yield cleared(meta, principal, "no active access key", **where)
