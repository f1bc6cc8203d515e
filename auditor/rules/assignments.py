"""Rules about who can use which permission set where, and what those sets allow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from auditor.access import AgeSource, Existence
from auditor.model import AccountAssignment, Category, Finding, IdcUser, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, is_enabled, iso
from auditor.rules.findings import cleared, exempt, insufficient_evidence, make_finding, observed_finding
from auditor.rules.hygiene import IDC, incomplete, unusable
from auditor.rules.policies import admin_reasons, analyse_policy
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict


def _paths(ctx: RuleContext, user: IdcUser) -> dict[tuple[str, str], list[str]]:
    """(account, permission set ARN) -> how the user gets it: "direct" or "via group G"."""
    return {
        key: [paths[0].via] if len(paths) == 1 else list(dict.fromkeys(path.via for path in paths))
        for key, paths in ctx.access.grants_of(user.user_id).items()
    }


def _account_name(ctx: RuleContext, account_id: str) -> str:
    return ctx.access.account_name(account_id)


def _unknown_permission_set(meta, ctx: RuleContext, user: IdcUser, account_id: str, ps_arn: str, **facts) -> Finding:
    """An assignment whose permission set is not in the snapshot: what it grants, or its name, is unknown."""
    return insufficient_evidence(
        meta,
        principal=ctx.idc_principal(user),
        account_id=account_id,
        resource=ps_arn,
        title=f"{user.user_name} holds permission set {ps_arn} in {_account_name(ctx, account_id)}",
        missing=f"permission set {ps_arn} is not in the snapshot (its name and policies are unknown)",
        evidence={"account_name": _account_name(ctx, account_id), **facts},
    )


def _undecided(meta, ctx: RuleContext, user: IdcUser, title: str, missing: str) -> Finding:
    """Insufficient evidence about a user as a whole (no account or permission set to name)."""
    return insufficient_evidence(
        meta, principal=ctx.idc_principal(user), account_id=None, resource=None, title=title, missing=missing
    )


def _holds_nothing(meta, ctx: RuleContext, user: IdcUser) -> Finding | Verdict:
    """A user with no path: cleared only when every assignment and membership was listed."""
    missing = incomplete(ctx, IDC, "account_assignments", "idc_memberships")
    if missing:
        return _undecided(meta, ctx, user, f"permission sets {user.user_name} may hold", missing)
    return cleared(meta, ctx.idc_principal(user), "holds no permission set")


# Evidence that dates a user's start, so a recent one shows the user is young: its creation time, or the HR
# start date of the person it is for (used only when the store gives no creation time). A first sighting
# or a recorded use only shows the user is at least that old.
DATED_BY = {AgeSource.CREATED: "created", AgeSource.HR_START: "joined (HR start_date)"}


def _young(existence: Existence, as_of: datetime, days: int) -> str | None:
    """Why a user not dated young may still be younger than ``days`` (None: known to be at least that old)."""
    if existence.missing:
        return existence.missing
    age = existence.days(as_of)
    if age is not None and age < days:
        return (
            f"the principal's age: only known to be at least {age:.0f} days "
            f"({existence.source.value if existence.source else 'unknown source'}), {days} needed"
        )
    return None


@rule(
    id="idc-assignment-unused",
    trail=("idc_assignment",),
    sources=("identity_center", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.LOW,
    title="Permission set not used in an account",
    description=(
        "The user can use permission set P in account A (directly or through any group) and has not used it "
        "for unused_assignment_days, while CloudTrail observed that account for the whole window. One finding "
        "per (user, account, permission set) with every path. Medium when the permission set is "
        "administrator-capable. Break-glass permission sets are exempt (unused is their normal state); users "
        "created less than unused_assignment_days ago are cleared."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.5.18", "NIST-800-53-AC-2(3)", "PCI-DSS-7.2.4"),
    thresholds=("unused_assignment_days", "break_glass_patterns"),
    recommendation="Remove the assignment path (or the group membership) that grants it.",
    subjects=("idc_user",),
    needs=(
        "identity_center.idc_users",
        "identity_center.idc_groups",
        "identity_center.idc_memberships",
        "identity_center.permission_sets",
        "identity_center.account_assignments",
        "cloudtrail.activity",
        "hr.hr_people",
    ),
)
def assignment_unused(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["unused_assignment_days"]
    unread = unusable(ctx, IDC)
    for user in ctx.snapshot.table("idc_users"):
        if unread:
            yield _undecided(meta, ctx, user, f"unused permission sets of {user.user_name}", unread)
            continue
        if not is_enabled(user):
            yield cleared(meta, ctx.idc_principal(user), "disabled: cannot use any assignment")
            continue
        existence = ctx.access.idc_user_existence(user)
        age = existence.days(ctx.as_of)
        if existence.source in DATED_BY and age is not None and age < days:
            yield cleared(
                meta, ctx.idc_principal(user), f"{DATED_BY[existence.source]} {age:.0f} days ago (threshold {days})"
            )
            continue  # too young to have left anything unused for the whole window
        grants = sorted(_paths(ctx, user).items())
        if not grants:
            yield _holds_nothing(meta, ctx, user)
        for (account_id, ps_arn), paths in grants:
            yield _assignment_unused(meta, ctx, user, account_id, ps_arn, paths, existence, days)


def _assignment_unused(
    meta,
    ctx: RuleContext,
    user: IdcUser,
    account_id: str,
    ps_arn: str,
    paths: list[str],
    existence: Existence,
    days: int,
) -> Finding | Verdict:
    """The outcome for one (user, account, permission set)."""
    ps = ctx.permission_sets.get(ps_arn)
    if ps is None:
        return _unknown_permission_set(meta, ctx, user, account_id, ps_arn, paths=paths)
    account = _account_name(ctx, account_id)
    if ctx.is_break_glass(ps.name):
        return exempt(
            meta,
            ctx.idc_principal(user),
            f"break-glass permission set {ps.name} in {account}: unused is its normal state",
            account_id=account_id,
            resource=ps_arn,
        )
    last = ctx.assignment_last_used(user, account_id, ps.name)
    if last is not None and days_between(last, ctx.as_of) < days:
        return cleared(
            meta,
            ctx.idc_principal(user),
            f"used {ps.name} in {account} {days_between(last, ctx.as_of):.0f} days ago (threshold {days})",
            account_id=account_id,
            resource=ps_arn,
        )
    admin = bool(admin_reasons(ps))
    unknown = None if admin else ctx.policies_missing(ps_arn)  # then never called non-admin
    when = f"since {last.date().isoformat()}" if last else "in the observed window"
    facts = {
        "permission_set": ps.name,
        "account_name": account,
        "paths": paths,
        "last_used": iso(last) or "never",
        "days_unused": int(days_between(last, ctx.as_of)) if last else None,
        "threshold_days": days,
        "admin_capable": None if unknown else admin,
        **({"admin_capable_unknown": unknown} if unknown else {}),
        **existence.evidence(),
    }
    # never used and maybe younger than the window: the user may be new, so "unused" cannot be claimed
    young = _young(existence, ctx.as_of, days) if last is None else None
    return observed_finding(
        meta,
        missing=young or ctx.missing_assignment_window(account_id, days),
        window_days=days,
        principal=ctx.idc_principal(user),
        account_id=account_id,
        resource=ps_arn,
        title=f"{user.user_name} has not used {ps.name} in {account} {when}",
        evidence=facts,
        severity=Severity.MEDIUM if admin else None,
    )


@rule(
    id="idc-direct-user-assignment",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.LOW,
    title="Permission set assigned directly to a user",
    description=(
        "A permission set is assigned to a user instead of a group, so it escapes group-based review and "
        "lifecycle. Administrator-capable ones are reported by idc-admin-direct-assignment instead; "
        "break-glass users and permission sets are exempt."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.5.15", "CIS-AWS-1.15", "NIST-800-53-AC-2"),
    thresholds=("break_glass_patterns",),
    recommendation="Grant it through a group that matches the person's role.",
    subjects=("idc_user",),
    needs=("identity_center.idc_users", "identity_center.permission_sets", "identity_center.account_assignments"),
)
def direct_user_assignment(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread = unusable(ctx, IDC)
    for user in ctx.snapshot.table("idc_users"):
        principal = ctx.idc_principal(user)
        if unread:
            yield _undecided(meta, ctx, user, f"direct assignments of {user.user_name}", unread)
            continue
        direct = ctx.direct_assignments(user)
        if not direct:  # "no direct assignment" needs every assignment
            missing = incomplete(ctx, IDC, "account_assignments")
            yield (
                _undecided(meta, ctx, user, f"direct assignments of {user.user_name}", missing)
                if missing
                else cleared(meta, principal, "no direct assignment")
            )
            continue
        for assignment in direct:
            ps = ctx.permission_sets.get(assignment.permission_set_arn)
            name = ps.name if ps else assignment.permission_set_arn
            account = _account_name(ctx, assignment.account_id)
            where = {"account_id": assignment.account_id, "resource": assignment.permission_set_arn}
            if ps is not None and admin_reasons(ps):
                yield cleared(meta, principal, f"{name} is administrator-capable: idc-admin-direct-assignment", **where)
            elif ctx.is_break_glass(name, user.user_name):
                yield exempt(meta, principal, f"break-glass: {user.user_name} holds {name} in {account}", **where)
            else:  # a direct assignment is a fact even when its permission set is unknown
                yield make_finding(
                    meta,
                    principal=principal,
                    title=f"{user.user_name} holds {name} directly in {account}",
                    evidence={"permission_set": name, "account_name": account},
                    **where,
                )


@rule(
    id="idc-admin-access",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.INFO,
    title="Holds administrator power",
    description=(
        "Who can use an administrator-capable permission set (AWS AdministratorAccess, an inline policy "
        "allowing * on *, Allow+NotAction, or IAM write with privilege-escalation actions), resolved through "
        "groups, and in which accounts: the inventory a privileged-access review starts from. Low when it "
        "reaches a production account. Break-glass permission sets are reported by the emergency-access rules."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6(5)", "PCI-DSS-7.2.4"),
    thresholds=("production_environments", "break_glass_patterns"),
    recommendation="Confirm in the next privileged-access review that the person needs it, in these accounts.",
    subjects=("idc_user",),
    needs=(
        "identity_center.idc_users",
        "identity_center.idc_groups",
        "identity_center.idc_memberships",
        "identity_center.permission_sets",
        "identity_center.account_assignments",
        "organizations.accounts",
    ),
)
def admin_access(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread = unusable(ctx, IDC)
    for user in ctx.snapshot.table("idc_users"):
        if unread:
            yield _undecided(meta, ctx, user, f"administrator power of {user.user_name}", unread)
            continue
        if not is_enabled(user):
            yield cleared(meta, ctx.idc_principal(user), "disabled: cannot sign in")
            continue
        by_set: dict[str, dict[str, list[str]]] = defaultdict(dict)
        for (account_id, ps_arn), paths in _paths(ctx, user).items():
            by_set[ps_arn][account_id] = paths
        if not by_set:
            yield _holds_nothing(meta, ctx, user)
        for ps_arn, accounts in sorted(by_set.items()):
            yield from _admin_access(meta, ctx, user, ps_arn, accounts)


def _admin_access(
    meta, ctx: RuleContext, user: IdcUser, ps_arn: str, accounts: dict[str, list[str]]
) -> Iterator[Finding | Verdict]:
    """The outcome for one permission set the user holds (in every account it reaches)."""
    ps = ctx.permission_sets.get(ps_arn)
    if ps is None:
        for account_id, paths in sorted(accounts.items()):
            yield _unknown_permission_set(meta, ctx, user, account_id, ps_arn, paths=paths)
        return
    principal = ctx.idc_principal(user)
    if ctx.is_break_glass(ps.name):
        yield exempt(
            meta, principal, f"break-glass permission set {ps.name}: the emergency-access rules", resource=ps_arn
        )
        return
    reasons = admin_reasons(ps)
    if not reasons:
        missing = ctx.policies_missing(ps_arn)  # unread policies: maybe admin, cannot say which
        if missing:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=None,
                resource=ps_arn,
                title=f"{user.user_name} may hold administrator power through {ps.name}",
                missing=missing,
                evidence={"permission_set": ps.name, "accounts": sorted(accounts)},
            )
        else:
            yield cleared(meta, principal, f"{ps.name} is not administrator-capable", resource=ps_arn)
        return
    production = sorted(a for a in accounts if ctx.is_production(a))
    yield make_finding(
        meta,
        principal=principal,
        account_id=None,
        resource=ps_arn,
        title=f"{user.user_name} holds {ps.name} in {len(accounts)} account(s)",
        evidence={
            "permission_set": ps.name,
            "admin_because": reasons,
            "accounts": {a: {"name": _account_name(ctx, a), "paths": p} for a, p in sorted(accounts.items())},
            "production_accounts": production,
        },
        severity=Severity.LOW if production else None,
    )


def _permission_set_principal(ps) -> Principal:
    return Principal(type=PrincipalType.PERMISSION_SET.value, id=ps.arn, name=ps.name, arn=ps.arn)


@rule(
    id="idc-permission-set-risky-policy",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.MEDIUM,
    title="Permission set policy with wildcards or privilege escalation",
    description=(
        "A permission set's inline policy allows a whole service (svc:*) or everything on every resource, "
        "Allow with NotAction, iam:PassRole on *, or IAM actions that let a holder grant itself more "
        "(CreatePolicyVersion, Attach*/Put*Policy, CreateAccessKey ...). High when administrator-capable "
        "without being an intended administrator set (no AWS AdministratorAccess attached)."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6", "PCI-DSS-7.2.4", "CIS-AWS-1.16"),
    recommendation="Scope the statements to the actions and resources the job needs.",
    subjects=("permission_set",),
    needs=("identity_center.permission_sets", "identity_center.account_assignments"),
)
def permission_set_risky_policy(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread_source = unusable(ctx, IDC)
    for ps in ctx.snapshot.table("permission_sets"):
        principal = _permission_set_principal(ps)
        if unread_source:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=None,
                resource=ps.arn,
                title=f"Permission set {ps.name}: inline policy",
                missing=unread_source,
            )
            continue
        risks = analyse_policy(ps.inline_policy)
        unread = ctx.attribute_missing("permission_set.inline_policy", ps.arn)
        if unread and not risks.any:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=None,
                resource=ps.arn,
                title=f"Permission set {ps.name}: inline policy",
                missing=f"the inline policy of permission set {ps.name} could not be read ({unread})",
                evidence={"permission_set": ps.name},
            )
            continue
        if not risks.any:
            reason = "no inline policy" if ps.inline_policy is None else "inline policy has no wildcard or escalation"
            yield cleared(meta, principal, reason, resource=ps.arn)
            continue
        yield make_finding(
            meta,
            principal=principal,
            account_id=None,
            resource=ps.arn,
            title=f"Permission set {ps.name}: {risks.describe()[0]}",
            evidence={
                "permission_set": ps.name,
                "risks": risks.describe(),
                "admin_capable": risks.admin_capable,
                "assigned_accounts": sorted({a.account_id for a in _assignments(ctx, ps.arn)}),
            },
            severity=Severity.HIGH if risks.admin_capable else None,
        )


def _assignments(ctx: RuleContext, ps_arn: str) -> list[AccountAssignment]:
    return [a for a in ctx.snapshot.table("account_assignments") if a.permission_set_arn == ps_arn]
