"""Rules about Identity Center people and their access."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.access import Existence
from auditor.model import Category, Finding, IdcUser, Severity
from auditor.rules.context import RuleContext, days_between, is_enabled, iso
from auditor.rules.findings import cleared, exempt, insufficient_evidence, make_finding, observed_finding
from auditor.rules.people import (
    activity_missing,
    hr_absence_missing,
    listing_missing,
    match_person,
    sources_missing,
    undecided,
    without_access,
)
from auditor.rules.policies import admin_reasons
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

USERS = "identity_center.idc_users"
IDC_USER = "idc_user"


def _left(person, ctx: RuleContext) -> bool:
    """Terminated, or an employee whose end date has passed (contractors have their own rule)."""
    ended = person.end_date is not None and person.end_date < ctx.as_of.date()
    return person.status == "terminated" or (person.employment_type == "employee" and ended)


def _hr_says(person) -> str:
    """What HR says about a person that is still with the company, for a cleared verdict."""
    end = f", end date {person.end_date.isoformat()}" if person.end_date else ", no end date"
    return f"HR status {person.status} ({person.employment_type}{end})"


@rule(
    id="idc-leaver-with-access",
    trail_optional=("idc_user",),
    sources=("identity_center", "hr"),
    subjects=(IDC_USER,),
    needs=(USERS, "identity_center.idc_memberships", "identity_center.account_assignments", "hr.hr_people"),
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
def leaver_with_access(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    for user in ctx.snapshot.table("idc_users"):
        person, outcome = match_person(ctx, meta, user)
        if outcome is None and not _left(person, ctx):
            outcome = cleared(meta, ctx.idc_principal(user), _hr_says(person))
        outcome = outcome or without_access(ctx, meta, user)
        if outcome is not None:
            yield outcome
            continue
        groups = ctx.group_names(user)
        direct = ctx.direct_assignments(user)
        enabled = is_enabled(user)
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


def _exemption(ctx: RuleContext, user: IdcUser) -> str | None:
    """Why a user needs no HR row, or None."""
    if ctx.is_break_glass(user.user_name, user.display_name):
        return "break-glass identity ([rules] break_glass_patterns)"
    if ctx.is_service_account(user):
        return "service identity ([rules] service_accounts)"
    return None


@rule(
    id="idc-user-not-in-hr",
    trail_optional=("idc_user",),
    sources=("identity_center", "hr"),
    subjects=(IDC_USER,),
    needs=(USERS, "hr.hr_people"),
    category=Category.ORPHANED,
    severity=Severity.HIGH,
    title="Identity Center user not in HR",
    description=(
        "An Identity Center user matches no HR row by user name or email (case-insensitive). Break-glass and "
        "listed service identities are exempt. A user whose HR row exists but could not be read, or who is "
        "missing from an HR feed that was read only partly, is reported as insufficient evidence, never as orphaned."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.16", "NIST-800-53-AC-2"),
    thresholds=("service_accounts", "break_glass_patterns"),
    recommendation="Find the owner; disable the user if nobody claims it, or add it to [rules] service_accounts.",
)
def not_in_hr(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    hr_usable = ctx.usable("hr")
    for user in ctx.snapshot.table("idc_users"):
        principal = ctx.idc_principal(user)
        person = ctx.hr_person(user) if hr_usable else None
        if person is not None:
            yield cleared(meta, principal, f"HR row at line {person.line} (HR status {person.status})")
            continue
        why = _exemption(ctx, user)
        if why:
            yield exempt(meta, principal, why)
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
        missing = sources_missing(ctx, "hr") or hr_absence_missing(ctx, user)
        if missing:
            yield insufficient_evidence(
                meta, principal=principal, account_id=None, resource=None, title=title, missing=missing, evidence=facts
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            account_id=None,
            resource=None,
            title=title,
            evidence=facts,
            severity=None if is_enabled(user) else Severity.LOW,
        )


def _idle_gate(ctx: RuleContext, meta: Rule, user: IdcUser) -> Finding | Verdict | None:
    """The outcome for a user the idle rules do not measure: disabled, or break-glass."""
    if not is_enabled(user):
        return cleared(meta, ctx.idc_principal(user), "disabled: cannot sign in")
    if ctx.is_break_glass(user.user_name, user.display_name):
        # unused is a break-glass identity's normal state; its use is what gets reviewed
        return exempt(meta, ctx.idc_principal(user), "break-glass identity: the emergency-access rules review its use")
    return None


def _idle_facts(ctx: RuleContext, user: IdcUser, last, existence: Existence, threshold: int) -> dict:
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


def _recent(ctx: RuleContext, last, threshold: int) -> str:
    return f"last sign-in {int(days_between(last, ctx.as_of))} days ago (threshold {threshold})"


def _young(existence: Existence, age: float, threshold: int) -> str:
    if existence.exact:
        return f"created {int(age)} days ago (threshold {threshold})"
    return f"known to exist for {int(age)} days, from {existence.source.value} (threshold {threshold})"


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
    trail=("idc_user",),
    sources=("identity_center", "cloudtrail"),
    subjects=(IDC_USER,),
    needs=(USERS, "cloudtrail.activity", "hr.hr_people"),
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
def user_inactive(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["inactive_days"]
    for user in ctx.snapshot.table("idc_users"):
        outcome = _idle_gate(ctx, meta, user)
        if outcome is not None:
            yield outcome
            continue
        last = ctx.idc_last_activity(user)
        existence = ctx.access.idc_user_existence(user)
        age = existence.days(ctx.as_of)
        facts = _idle_facts(ctx, user, last, existence, days)
        if last is not None and days_between(last, ctx.as_of) < days:
            yield cleared(meta, ctx.idc_principal(user), _recent(ctx, last, days))
        elif age is None:
            yield _age_unknown(meta, ctx, user, existence, facts)
        elif age < days:
            yield cleared(meta, ctx.idc_principal(user), _young(existence, age, days))
        elif last is None and _whole_life_observed(ctx, age):
            reason = f"never signed in during {int(age)} days, all observed: idc-user-never-signed-in reports it"
            yield cleared(meta, ctx.idc_principal(user), reason)
        else:
            title = (
                f"{user.user_name} has not signed in for {facts['days_idle']} days"
                if last
                else f"{user.user_name} has not signed in during the {days} days observed"
            )
            yield observed_finding(
                meta,
                missing=activity_missing(ctx, days),
                window_days=days,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=None,
                title=title,
                evidence=facts,
            )


@rule(
    id="idc-user-never-signed-in",
    trail=("idc_user",),
    sources=("identity_center", "cloudtrail"),
    subjects=(IDC_USER,),
    needs=(USERS, "cloudtrail.activity", "hr.hr_people"),
    category=Category.INACTIVE,
    severity=Severity.LOW,
    title="Identity Center user never signed in",
    description=(
        "An enabled user created more than never_signed_in_days ago has never signed in during the observed "
        "window. A user older than the window (and than inactive_days) is left to idc-user-inactive."
    ),
    controls=("SOC2-CC6.2", "NIST-800-53-AC-2(3)", "PCI-DSS-8.2.6"),
    thresholds=("never_signed_in_days", "inactive_days", "break_glass_patterns"),
    recommendation="Ask whether the access is still needed; remove it if not.",
)
def user_never_signed_in(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["never_signed_in_days"]
    for user in ctx.snapshot.table("idc_users"):
        outcome = _idle_gate(ctx, meta, user)
        if outcome is not None:
            yield outcome
            continue
        last = ctx.idc_last_activity(user)
        if last is not None:
            yield cleared(
                meta, ctx.idc_principal(user), f"signed in, last {int(days_between(last, ctx.as_of))} days ago"
            )
            continue
        existence = ctx.access.idc_user_existence(user)
        age = existence.days(ctx.as_of)
        facts = _idle_facts(ctx, user, last, existence, days)
        if age is None:
            yield _age_unknown(meta, ctx, user, existence, facts)
            continue
        if age < days:
            yield cleared(meta, ctx.idc_principal(user), _young(existence, age, days))
            continue
        title = f"{user.user_name} has never signed in since creation {int(age)} days ago"
        if not existence.exact:
            title = f"{user.user_name} has never signed in; known to exist for {int(age)} days"
        missing = activity_missing(ctx, int(age) + 1)
        if missing is None:
            facts["evidence_window_days"] = int(age)
            yield make_finding(
                meta, principal=ctx.idc_principal(user), account_id=None, resource=None, title=title, evidence=facts
            )
        elif age < ctx.settings["inactive_days"]:
            # too young for the inactive rule, and "never" cannot be claimed: say what is missing
            yield insufficient_evidence(
                meta,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=None,
                title=title,
                missing=missing,
                evidence=facts,
            )
        else:
            reason = (
                f"exists for {int(age)} days, longer than CloudTrail observed: idc-user-inactive decides "
                f"over its {ctx.settings['inactive_days']}-day window"
            )
            yield cleared(meta, ctx.idc_principal(user), reason)


def _whole_life_observed(ctx: RuleContext, age: float) -> bool:
    """Whether CloudTrail observed the user's whole life (so 'never' is a fact)."""
    return activity_missing(ctx, int(age) + 1) is None


@rule(
    id="idc-admin-direct-assignment",
    subjects=(IDC_USER,),
    needs=(USERS, "identity_center.account_assignments", "identity_center.permission_sets", "organizations.accounts"),
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
def admin_direct_assignment(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    for user in ctx.snapshot.table("idc_users"):
        if ctx.is_break_glass(user.user_name, user.display_name):
            yield exempt(
                meta, ctx.idc_principal(user), "break-glass identity: the emergency-access rules review its use"
            )
            continue
        direct = ctx.direct_assignments(user)
        yield from (_direct_assignment(ctx, meta, user, assignment) for assignment in direct)
        missing = listing_missing(ctx, "account_assignments")
        if missing:  # other direct assignments may exist that were not listed
            yield undecided(ctx, meta, user, missing)
        elif not direct:
            yield cleared(meta, ctx.idc_principal(user), "no direct assignment")


def _direct_assignment(ctx: RuleContext, meta: Rule, user: IdcUser, assignment) -> Finding | Verdict:
    """The outcome for one (user, account, permission set) assigned directly."""
    principal = ctx.idc_principal(user)
    where = {"account_id": assignment.account_id, "resource": assignment.permission_set_arn}
    ps = ctx.permission_sets.get(assignment.permission_set_arn)
    if ps is None:
        return insufficient_evidence(
            meta,
            principal=principal,
            **where,
            title=f"{user.user_name} holds permission set {assignment.permission_set_arn} directly",
            missing=f"permission set {assignment.permission_set_arn} is not in the snapshot "
            "(whether it grants administrator power is unknown)",
        )
    if ctx.is_break_glass(ps.name):
        return exempt(meta, principal, f"break-glass permission set {ps.name}", **where)
    account = ctx.accounts.get(assignment.account_id)
    account_name = account.name if account else assignment.account_id
    reasons = admin_reasons(ps)
    if not reasons:
        missing = ctx.policies_missing(ps.arn)  # unread policies: maybe admin, cannot say which
        if missing:
            return insufficient_evidence(
                meta,
                principal=principal,
                **where,
                title=f"{user.user_name} holds {ps.name} directly; administrator power unknown",
                missing=missing,
                evidence={"permission_set": ps.name, "account_name": account.name if account else None},
            )
        return cleared(meta, principal, f"{ps.name} in {account_name} grants no administrator power", **where)
    production = ctx.is_production(assignment.account_id)
    return make_finding(
        meta,
        principal=principal,
        **where,
        title=f"{user.user_name} holds {ps.name} directly in {account_name}",
        evidence={
            "permission_set": ps.name,
            "admin_because": reasons,
            "account_name": account.name if account else None,
            "production": production,
            "user_status": user.status or "unknown",
        },
        severity=Severity.CRITICAL if production else None,
    )
