"""Emergency access: any use of break-glass identities or the root user needs a review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from auditor.model import ActivityKind, Category, Finding, IamRole, IdcUser, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iam_user_principal, iso, root_principal
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.hygiene import IDC, incomplete, unusable
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Use = tuple[str, str | None, str | None]  # (principal id, account, resource) of a use found


def _role_principal(role: IamRole) -> Principal:
    """Named by its ARN, which CloudTrail gives whether or not IAM could be read: the finding id stays stable."""
    return Principal(type=PrincipalType.IAM_ROLE.value, id=role.arn, name=role.role_name, arn=role.arn)


@rule(
    id="emergency-access-used",
    trail=("idc_user", "idc_assignment", "iam_user", "iam_role"),
    category=Category.EMERGENCY_ACCESS,
    severity=Severity.CRITICAL,
    title="Break-glass access was used",
    description=(
        "A break-glass permission set, Identity Center user, IAM role or IAM user was used within the last "
        "emergency_review_days (CloudTrail, or IAM's own last-used record for IAM users and roles). Every use "
        "needs a post-hoc review: who, why, what was done. Break-glass names contain one of "
        "break_glass_patterns. Saying one was not used needs CloudTrail for the whole window where it could be "
        "used; other identities are cleared as not break-glass (a user, when it holds no break-glass "
        "permission set)."
    ),
    controls=("SOC2-CC6.2", "SOC2-CC7.2", "ISO27001-A.5.18", "ISO27001-A.8.2", "NIST-800-53-AC-2(2)"),
    thresholds=("emergency_review_days", "break_glass_patterns"),
    recommendation="Review the session's CloudTrail events with the person who used it and record the outcome.",
    subjects=("idc_user", "iam_user", "iam_role"),
    needs=(
        "cloudtrail.activity",
        "identity_center.idc_users",
        "identity_center.idc_groups",
        "identity_center.idc_memberships",
        "identity_center.permission_sets",
        "identity_center.account_assignments",
        "iam.iam_users",
        "iam.access_keys",
        "iam.iam_roles",
    ),
)
def emergency_access_used(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["emergency_review_days"]
    used: set[Use] = set()
    for activity in ctx.snapshot.table("activity"):
        if days_between(activity.last_seen, ctx.as_of) > days:
            continue  # an activity row is evidence, not a candidate: old ones are weighed per principal below
        found = _break_glass_use(ctx, activity)
        if found is None:
            continue
        principal, what = found
        used.add((principal.id, activity.account_id, (activity.detail or "").lower() or None))
        yield make_finding(
            meta,
            principal=principal,
            account_id=activity.account_id,
            resource=activity.detail,
            title=f"Break-glass use: {what} on {activity.last_seen.date().isoformat()}",
            evidence={
                "used": what,
                "first_seen": iso(activity.first_seen),
                "last_seen": iso(activity.last_seen),
                "events": activity.events,
                "window_days": days,
            },
        )
    fired = {principal_id for principal_id, _, _ in used}
    for user in ctx.snapshot.table("idc_users"):
        yield from _idc_user(ctx, meta, user, days, used, fired)
    for user in ctx.snapshot.table("iam_users"):
        if user.user_id not in fired:
            last = ctx.access.iam_user_last_used(user)
            yield _iam_identity(ctx, meta, iam_user_principal(user), user.account_id, last, days, "IAM user")
    for role in ctx.snapshot.table("iam_roles"):
        if role.arn not in fired:
            last = max((t for t in (role.last_used, _role_seen(ctx, role)) if t is not None), default=None)
            yield _iam_identity(ctx, meta, _role_principal(role), role.account_id, last, days, "role")


def _role_seen(ctx: RuleContext, role: IamRole) -> datetime | None:
    return ctx.last_seen(ActivityKind.IAM_ROLE.value, role.arn, role.account_id)


def _idc_principal(user: IdcUser | None, key: str) -> Principal:
    """The Identity Center user an activity key names (``id:`` or ``name:``), known to the snapshot or not."""
    name = user.user_name if user else key.split(":", 1)[1]
    return Principal(type=PrincipalType.IDC_USER.value, id=user.user_id if user else key, name=name)


def _break_glass_use(ctx: RuleContext, activity) -> tuple[Principal, str] | None:
    kind = activity.kind
    if kind == ActivityKind.IDC_ASSIGNMENT.value:
        if not ctx.is_break_glass(activity.detail):  # first: most of a large estate's activity is assignment use
            return None
        principal = _idc_principal(ctx.idc_user_for_key(activity.key), activity.key)
        return principal, f"{principal.name} used permission set {activity.detail} in {activity.account_id}"
    if kind == ActivityKind.IDC_USER.value:
        user = ctx.idc_user_for_key(activity.key)
        principal = _idc_principal(user, activity.key)
        if not ctx.is_break_glass(principal.name, user.display_name if user else None):
            return None
        return principal, f"break-glass user {principal.name} signed in"
    if kind == ActivityKind.IAM_ROLE.value:
        role_name = activity.key.rsplit("/", 1)[-1]
        if not ctx.is_break_glass(role_name):
            return None
        role = next((r for r in ctx.snapshot.table("iam_roles") if r.arn == activity.key), None)
        principal = (
            _role_principal(role)
            if role
            else Principal(type=PrincipalType.IAM_ROLE.value, id=activity.key, name=role_name, arn=activity.key)
        )
        return principal, f"role {role_name} was assumed"
    if kind == ActivityKind.IAM_USER.value and ctx.is_break_glass(activity.key):
        user = next(
            (
                u
                for u in ctx.snapshot.table("iam_users")
                if u.user_name == activity.key and u.account_id == activity.account_id
            ),
            None,
        )
        principal = (
            iam_user_principal(user)
            if user
            else Principal(type=PrincipalType.IAM_USER.value, id=activity.key, name=activity.key)
        )
        return principal, f"IAM user {activity.key} was used"
    return None


def _idc_user(
    ctx: RuleContext, meta: Rule, user: IdcUser, days: int, used: set[Use], fired: set[str]
) -> Iterator[Finding | Verdict]:
    """A break-glass user: was it signed in to? Anyone else: each break-glass permission set it holds."""
    principal = ctx.idc_principal(user)
    if ctx.is_break_glass(user.user_name, user.display_name):
        if user.user_id in fired:
            return
        yield _unused(
            ctx,
            meta,
            principal,
            ctx.idc_home_account,
            None,
            days,
            f"break-glass user {user.user_name}",
            ctx.idc_last_activity(user),
        )
        return
    held = []
    for (account_id, ps_arn), _paths in sorted(ctx.access.grants_of(user.user_id).items()):
        ps = ctx.permission_sets.get(ps_arn)
        if ps is None:
            held.append(ps_arn)
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=account_id,
                resource=ps_arn,
                title=f"{user.user_name} may hold a break-glass permission set in {account_id}",
                missing=f"permission set {ps_arn} is not in the snapshot (its name is unknown)",
            )
        elif ctx.is_break_glass(ps.name):
            held.append(ps_arn)
            if (user.user_id, account_id, ps.name.lower()) not in used:
                last = ctx.assignment_last_used(user, account_id, ps.name)
                what = f"{user.user_name}'s break-glass permission set {ps.name} in {account_id}"
                yield _unused(ctx, meta, principal, account_id, ps.name, days, what, last)
    if held or user.user_id in fired:
        return
    missing = unusable(ctx, IDC) or incomplete(ctx, IDC, "account_assignments", "idc_memberships")
    if missing:
        yield insufficient_evidence(
            meta,
            principal=principal,
            account_id=None,
            resource=None,
            title=f"{user.user_name} may hold a break-glass permission set",
            missing=missing,
        )
    else:
        yield cleared(meta, principal, "not a break-glass user and holds no break-glass permission set")


def _iam_identity(
    ctx: RuleContext,
    meta: Rule,
    principal: Principal,
    account_id: str,
    last: datetime | None,
    days: int,
    kind: str,
) -> Finding | Verdict:
    """An IAM user or role without a CloudTrail finding: a break-glass one is decided on its last use."""
    if not ctx.is_break_glass(principal.name):
        return cleared(meta, principal, f"not a break-glass {kind}")
    return _unused(ctx, meta, principal, account_id, None, days, f"break-glass {kind} {principal.name}", last)


def _unused(
    ctx: RuleContext,
    meta: Rule,
    principal: Principal,
    account_id: str | None,
    resource: str | None,
    days: int,
    what: str,
    last: datetime | None,
) -> Finding | Verdict:
    """A break-glass identity no use of which was reported from CloudTrail's activity rows.

    A last use inside the window (IAM's own record, or activity not reported above) is a use;
    "not used" needs CloudTrail to have observed the whole window where a use would show.
    """
    if last is not None and days_between(last, ctx.as_of) <= days:
        return make_finding(
            meta,
            principal=principal,
            account_id=account_id,
            resource=resource,
            title=f"Break-glass use: {what} was used on {last.date().isoformat()}",
            evidence={"used": f"{what} was used", "last_seen": iso(last), "window_days": days},
        )
    missing = ctx.missing_window(account_id, days)
    if missing:
        return insufficient_evidence(
            meta,
            principal=principal,
            account_id=account_id,
            resource=resource,
            title=f"Break-glass use: {what}",
            missing=missing,
            evidence={"last_seen": iso(last), "window_days": days},
        )
    since = f"last used on {last.date().isoformat()}" if last else "no use in the observed window"
    return cleared(
        meta, principal, f"{what} not used in the last {days} days ({since})", account_id=account_id, resource=resource
    )


@rule(
    id="iam-root-used",
    trail_optional=("root",),
    sources=("iam", "cloudtrail"),
    category=Category.EMERGENCY_ACCESS,
    severity=Severity.HIGH,
    title="Root user was used",
    description=(
        "The root user of an account signed in or made calls within root_use_days (CloudTrail, or the "
        "credential report's password and key last-used dates). Root is for the few tasks only it can do. "
        "Saying root was not used needs the account's credential report or CloudTrail for the whole window."
    ),
    controls=("CIS-AWS-1.7", "SOC2-CC6.1", "ISO27001-A.8.2", "NIST-800-53-AC-6(9)"),
    thresholds=("root_use_days",),
    recommendation="Confirm the use was one of the root-only tasks; otherwise investigate.",
    subjects=("root",),
    needs=("organizations.accounts", "iam.root_credentials", "cloudtrail.activity"),
)
def root_used(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["root_use_days"]
    root_rows = {r.account_id: r for r in ctx.snapshot.table("root_credentials")}
    accounts = set(ctx.accounts) | set(root_rows)
    accounts |= {a.account_id for a in ctx.snapshot.table("activity") if a.kind == ActivityKind.ROOT.value}
    for account_id in sorted(a for a in accounts if a):
        row = root_rows.get(account_id)
        candidates = {
            "cloudtrail": ctx.last_seen(ActivityKind.ROOT.value, account_id, account_id),
            "password_last_used": row.password_last_used if row else None,
            "access_key_1_last_used": row.access_key_1_last_used if row else None,
            "access_key_2_last_used": row.access_key_2_last_used if row else None,
        }
        seen = {k: v for k, v in candidates.items() if v is not None}
        last = max(seen.values(), default=None)
        name = ctx.accounts[account_id].name if account_id in ctx.accounts else account_id
        title = f"Root user of {name} used"
        if last is not None and days_between(last, ctx.as_of) <= days:
            yield make_finding(
                meta,
                principal=root_principal(account_id),
                account_id=account_id,
                resource=None,
                title=f"{title} on {last.date().isoformat()}",
                evidence={"last_used": iso(last), **{k: iso(v) for k, v in seen.items()}, "window_days": days},
            )
            continue
        # "not used": the credential report records every password and key use; CloudTrail every call
        report = row is not None and ctx.usable("iam", account_id)
        window = ctx.missing_window(account_id, days, "root")
        since = f"last used on {last.date().isoformat()}" if last else "no use recorded"
        if report or not window:
            evidence = "credential report" if report else "CloudTrail"
            if report and not window:
                evidence = "credential report and CloudTrail"
            yield cleared(
                meta,
                root_principal(account_id),
                f"not used in the last {days} days ({since}; {evidence})",
                account_id=account_id,
            )
            continue
        yield insufficient_evidence(
            meta,
            principal=root_principal(account_id),
            account_id=account_id,
            resource=None,
            title=title,
            missing=f"the root credential report for account {account_id} was not read, and {window}",
            evidence={"last_used": iso(last), "window_days": days},
        )
