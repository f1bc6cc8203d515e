"""Rules about Identity Center people and their access."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from auditor.access import Existence
from auditor.model import Category, Finding, IdcUser, Severity
from auditor.rules.context import RuleContext, days_between, is_enabled, iso
from auditor.rules.findings import insufficient_evidence, make_finding, observed_finding
from auditor.rules.policies import admin_reasons
from auditor.rules.registry import Rule, rule


def _left(person, ctx: RuleContext) -> bool:
    """Terminated, or an employee whose end date has passed (contractors have their own rule)."""
    ended = person.end_date is not None and person.end_date < ctx.as_of.date()
    return person.status == "terminated" or (person.employment_type == "employee" and ended)


@rule(
    id="idc-leaver-with-access",
    sources=("identity_center", "hr"),
    category=Category.LIFECYCLE,
    severity=Severity.CRITICAL,
    title="Leaver still has access",
    description=(
        "HR says the person is terminated (or, for an employee, their end date has passed), yet their Identity Center user is still enabled, in a group, or "
        "assigned to an account. A disabled user whose memberships or assignments remain is reported as low."
    ),
    controls=("SOC2-CC6.2", "SOC2-CC6.3", "ISO27001-A.5.18", "NIST-800-53-AC-2", "PCI-DSS-8.2.6"),
    recommendation="Disable the user in Identity Center and remove their group memberships and assignments.",
)
def leaver_with_access(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not (ctx.usable("hr") and ctx.usable("identity_center")):
        return
    for user in ctx.snapshot.table("idc_users"):
        person = ctx.hr_person(user)
        if person is None or not _left(person, ctx):
            continue
        groups = ctx.group_names(user)
        direct = ctx.direct_assignments(user)
        enabled = is_enabled(user)
        if not (enabled or groups or direct):
            continue
        days = None
        if person.end_date is not None:
            days = (ctx.as_of.date() - person.end_date).days
        evidence = {
            "hr_status": person.status,
            "hr_line": person.line,
            "employee_id": person.employee_id,
            "end_date": iso(person.end_date),
            "days_since_termination": days,
            "user_status": user.status or "unknown",
            "groups": groups,
            "direct_assignments": [
                {"account_id": a.account_id, "permission_set": ctx.permission_set_name(a.permission_set_arn)}
                for a in direct
            ],
            "last_activity": iso(ctx.idc_last_activity(user)),
        }
        title = f"Terminated {person.display_name or user.user_name} still has Identity Center access"
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=title if enabled else f"Disabled leaver {user.user_name} keeps memberships or assignments",
            evidence=evidence,
            severity=None if enabled else Severity.LOW,
        )


@rule(
    id="idc-user-not-in-hr",
    sources=("identity_center", "hr"),
    category=Category.ORPHANED,
    severity=Severity.HIGH,
    title="Identity Center user not in HR",
    description=(
        "An Identity Center user matches no HR row by user name or email (case-insensitive). Break-glass and "
        "listed service identities are exempt. A user whose HR row exists but could not be read is reported "
        "as insufficient evidence, never as orphaned."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.16", "NIST-800-53-AC-2"),
    thresholds=("service_accounts", "break_glass_patterns"),
    recommendation="Find the owner; disable the user if nobody claims it, or add it to [rules] service_accounts.",
)
def not_in_hr(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not (ctx.usable("hr") and ctx.usable("identity_center")):
        return
    for user in ctx.snapshot.table("idc_users"):
        if ctx.hr_person(user) is not None:
            continue
        if ctx.is_break_glass(user.user_name, user.display_name) or ctx.is_service_account(user):
            continue
        title = f"Identity Center user {user.user_name} matches nobody in HR"
        facts = {
            "user_name": user.user_name,
            "email": user.email,
            "user_status": user.status or "unknown",
            "groups": ctx.group_names(user),
            "created_at": iso(user.created_at),
            "last_activity": iso(ctx.idc_last_activity(user)),
        }
        row = ctx.unusable_hr_row(user)
        if row is not None:
            yield insufficient_evidence(
                meta,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=None,
                title=title,
                missing=f"HR row at line {row['line']} could not be read",
                evidence=facts,
            )
            continue
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=title,
            evidence=facts,
            severity=None if is_enabled(user) else Severity.LOW,
        )


def _idle_candidates(ctx: RuleContext, min_age_days: int) -> Iterator[tuple[IdcUser, datetime | None, Existence]]:
    """Enabled users older than ``min_age_days`` or of unknown age, with their last activity and existence."""
    for user in ctx.snapshot.table("idc_users"):
        if not is_enabled(user):
            continue  # a disabled user cannot sign in: nothing to be idle with
        if ctx.is_break_glass(user.user_name, user.display_name):
            continue  # unused is a break-glass identity's normal state; its use is what gets reviewed
        existence = ctx.access.idc_user_existence(user)
        age = existence.days(ctx.as_of)
        if age is None or age >= min_age_days:
            yield user, ctx.idc_last_activity(user), existence


def _idle_facts(ctx: RuleContext, user: IdcUser, last: datetime | None, existence: Existence, threshold: int) -> dict:
    age = existence.days(ctx.as_of)
    idle = days_between(last, ctx.as_of) if last is not None else age
    return {
        "last_activity": iso(last) or "never",
        "days_idle": None if idle is None else int(idle),
        "created_at": iso(user.created_at),
        "days_since_creation": None if age is None else int(age),
        **existence.evidence(),
        "threshold_days": threshold,
        "groups": ctx.group_names(user),
    }


def _age_unknown(meta, ctx: RuleContext, user: IdcUser, existence: Existence, facts: dict) -> Finding:
    """Never seen and of unknown age: it may have been created yesterday, so neither idle nor new can be claimed."""
    return insufficient_evidence(
        meta,
        principal=ctx.idc_principal(user),
        account_id=None,
        resource=None,
        title=f"{user.user_name} has no recorded sign-in and an unknown age",
        missing=existence.missing,
        evidence=facts,
    )


@rule(
    id="idc-user-inactive",
    sources=("identity_center", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.MEDIUM,
    title="Identity Center user inactive",
    description=(
        "An enabled user who has existed longer than inactive_days has not signed in nor used any permission "
        "set for inactive_days, and CloudTrail observed that whole window. Break-glass users are exempt."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6"),
    thresholds=("inactive_days", "break_glass_patterns"),
    recommendation="Confirm with the manager; disable the user if the access is no longer needed.",
)
def user_inactive(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not ctx.usable("identity_center"):
        return
    days = ctx.settings["inactive_days"]
    for user, last, existence in _idle_candidates(ctx, days):
        age = existence.days(ctx.as_of)
        facts = _idle_facts(ctx, user, last, existence, days)
        if age is None:
            yield _age_unknown(meta, ctx, user, existence, facts)
            continue
        if last is None and _never_signed_in_decidable(ctx, age):
            continue  # the never-signed-in rule reports it, with the stronger statement
        if last is not None and days_between(last, ctx.as_of) < days:
            continue
        title = (
            f"{user.user_name} has not signed in for {facts['days_idle']} days"
            if last
            else f"{user.user_name} has not signed in during the {days} days observed"
        )
        yield observed_finding(
            meta,
            missing=ctx.missing_window(ctx.idc_home_account, days),
            window_days=days,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=title,
            evidence=facts,
        )


@rule(
    id="idc-user-never-signed-in",
    sources=("identity_center", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.LOW,
    title="Identity Center user never signed in",
    description=(
        "An enabled user created more than never_signed_in_days ago has never signed in during the observed window."
    ),
    controls=("SOC2-CC6.2", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6"),
    thresholds=("never_signed_in_days", "inactive_days", "break_glass_patterns"),
    recommendation="Ask whether the access is still needed; remove it if not.",
)
def user_never_signed_in(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not ctx.usable("identity_center"):
        return
    days = ctx.settings["never_signed_in_days"]
    for user, last, existence in _idle_candidates(ctx, days):
        if last is not None:
            continue
        age = existence.days(ctx.as_of)
        facts = _idle_facts(ctx, user, last, existence, days)
        if age is None:
            yield _age_unknown(meta, ctx, user, existence, facts)
            continue
        title = f"{user.user_name} has never signed in since creation {int(age)} days ago"
        if not existence.exact:
            title = f"{user.user_name} has never signed in; known to exist for {int(age)} days"
        if _never_signed_in_decidable(ctx, age):
            facts["evidence_window_days"] = int(age)
            yield make_finding(
                meta, principal=ctx.idc_principal(user), account_id=None, resource=None, title=title, evidence=facts
            )
        elif age < ctx.settings["inactive_days"]:
            # too young for the inactive rule, and "never" cannot be claimed: say what is missing
            missing = ctx.missing_window(ctx.idc_home_account, int(age) + 1) or "sign-in history since creation"
            yield insufficient_evidence(
                meta,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=None,
                title=title,
                missing=missing,
                evidence=facts,
            )


def _never_signed_in_decidable(ctx: RuleContext, age: float) -> bool:
    """Whether CloudTrail observed the user's whole life (so 'never' is a fact)."""
    return ctx.missing_window(ctx.idc_home_account, int(age) + 1) is None


@rule(
    id="idc-admin-direct-assignment",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.HIGH,
    title="Administrator permission set assigned directly to a user",
    description=(
        "A permission set with administrator power is assigned to a user rather than to a group, so it escapes "
        "group-based review. Critical in production accounts. Break-glass permission sets and users are exempt "
        "(their use is reviewed by the emergency-access rules)."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.5.15", "ISO27001-A.8.2", "NIST-800-53-AC-2", "PCI-DSS-7.2.4"),
    thresholds=("production_environments", "break_glass_patterns"),
    recommendation="Replace the direct assignment with membership of a reviewed group.",
)
def admin_direct_assignment(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not ctx.usable("identity_center"):
        return
    for user in ctx.snapshot.table("idc_users"):
        if ctx.is_break_glass(user.user_name, user.display_name):
            continue
        for assignment in ctx.direct_assignments(user):
            ps = ctx.permission_sets.get(assignment.permission_set_arn)
            if ps is None:
                yield insufficient_evidence(
                    meta,
                    principal=ctx.idc_principal(user),
                    account_id=assignment.account_id,
                    resource=assignment.permission_set_arn,
                    title=f"{user.user_name} holds permission set {assignment.permission_set_arn} directly",
                    missing=f"permission set {assignment.permission_set_arn} is not in the snapshot "
                    "(whether it grants administrator power is unknown)",
                )
                continue
            if ctx.is_break_glass(ps.name):
                continue
            reasons = admin_reasons(ps)
            production = ctx.is_production(assignment.account_id)
            account = ctx.accounts.get(assignment.account_id)
            if not reasons:
                missing = ctx.policies_missing(ps.arn)  # unread policies: maybe admin, cannot say which
                if missing:
                    yield insufficient_evidence(
                        meta,
                        principal=ctx.idc_principal(user),
                        account_id=assignment.account_id,
                        resource=ps.arn,
                        title=f"{user.user_name} holds {ps.name} directly; administrator power unknown",
                        missing=missing,
                        evidence={"permission_set": ps.name, "account_name": account.name if account else None},
                    )
                continue
            yield make_finding(
                meta,
                principal=ctx.idc_principal(user),
                account_id=assignment.account_id,
                resource=ps.arn,
                title=f"{user.user_name} holds {ps.name} directly in {account.name if account else assignment.account_id}",
                evidence={
                    "permission_set": ps.name,
                    "admin_because": reasons,
                    "account_name": account.name if account else None,
                    "production": production,
                    "user_status": user.status or "unknown",
                },
                severity=Severity.CRITICAL if production else None,
            )
