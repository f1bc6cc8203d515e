"""Emergency access: any use of break-glass identities or the root user needs a review."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import ActivityKind, Category, Finding, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iso, root_principal
from auditor.rules.findings import make_finding
from auditor.rules.registry import Rule, rule


@rule(
    id="emergency-access-used",
    category=Category.EMERGENCY_ACCESS,
    severity=Severity.CRITICAL,
    title="Break-glass access was used",
    description=(
        "A break-glass permission set, Identity Center user, IAM role or IAM user was used within the last "
        "emergency_review_days. Every use needs a post-hoc review: who, why, what was done. Break-glass names "
        "contain one of break_glass_patterns."
    ),
    controls=("SOC2-CC6.2", "SOC2-CC7.2", "ISO27001-A.5.18", "ISO27001-A.8.2", "NIST-800-53-AC-2(2)"),
    thresholds=("emergency_review_days", "break_glass_patterns"),
    recommendation="Review the session's CloudTrail events with the person who used it and record the outcome.",
)
def emergency_access_used(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["emergency_review_days"]
    for activity in ctx.snapshot.table("activity"):
        if days_between(activity.last_seen, ctx.as_of) > days:
            continue
        found = _break_glass_use(ctx, activity)
        if found is None:
            continue
        principal, what = found
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


def _break_glass_use(ctx: RuleContext, activity) -> tuple[Principal, str] | None:
    kind = activity.kind
    if kind in (ActivityKind.IDC_ASSIGNMENT.value, ActivityKind.IDC_USER.value):
        user = ctx.idc_user_for_key(activity.key)
        name = user.user_name if user else activity.key.split(":", 1)[1]
        principal = Principal(type=PrincipalType.IDC_USER.value, id=user.user_id if user else activity.key, name=name)
        if kind == ActivityKind.IDC_ASSIGNMENT.value and ctx.is_break_glass(activity.detail):
            return principal, f"{name} used permission set {activity.detail} in {activity.account_id}"
        if kind == ActivityKind.IDC_USER.value and ctx.is_break_glass(name, user.display_name if user else None):
            return principal, f"break-glass user {name} signed in"
        return None
    if kind == ActivityKind.IAM_ROLE.value:
        role_name = activity.key.rsplit("/", 1)[-1]
        if ctx.is_break_glass(role_name):
            return Principal(
                type=PrincipalType.IAM_ROLE.value, id=activity.key, name=role_name, arn=activity.key
            ), f"role {role_name} was assumed"
        return None
    if kind == ActivityKind.IAM_USER.value and ctx.is_break_glass(activity.key):
        return Principal(type=PrincipalType.IAM_USER.value, id=activity.key, name=activity.key), (
            f"IAM user {activity.key} was used"
        )
    return None


@rule(
    id="iam-root-used",
    sources=("iam", "cloudtrail"),
    category=Category.EMERGENCY_ACCESS,
    severity=Severity.HIGH,
    title="Root user was used",
    description=(
        "The root user of an account signed in or made calls within root_use_days (CloudTrail, or the "
        "credential report's password and key last-used dates). Root is for the few tasks only it can do."
    ),
    controls=("CIS-AWS-1.7", "SOC2-CC6.1", "ISO27001-A.8.2", "NIST-800-53-AC-6(9)"),
    thresholds=("root_use_days",),
    recommendation="Confirm the use was one of the root-only tasks; otherwise investigate.",
)
def root_used(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["root_use_days"]
    root_rows = {r.account_id: r for r in ctx.snapshot.table("root_credentials")}
    accounts = set(root_rows) | {a.account_id for a in ctx.snapshot.table("activity") if a.kind == "root"}
    for account_id in sorted(a for a in accounts if a):
        row = root_rows.get(account_id)
        candidates = {
            "cloudtrail": ctx.last_seen(ActivityKind.ROOT.value, account_id, account_id),
            "password_last_used": row.password_last_used if row else None,
            "access_key_1_last_used": row.access_key_1_last_used if row else None,
            "access_key_2_last_used": row.access_key_2_last_used if row else None,
        }
        seen = {k: v for k, v in candidates.items() if v is not None}
        if not seen:
            continue
        last = max(seen.values())
        if days_between(last, ctx.as_of) > days:
            continue
        yield make_finding(
            meta,
            principal=root_principal(account_id),
            account_id=account_id,
            resource=None,
            title=f"Root user of {ctx.accounts[account_id].name if account_id in ctx.accounts else account_id} "
            f"used on {last.date().isoformat()}",
            evidence={"last_used": iso(last), **{k: iso(v) for k, v in seen.items()}, "window_days": days},
        )
