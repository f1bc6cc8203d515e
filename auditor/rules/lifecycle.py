"""Joiner/mover/leaver rules beyond the leaver: contractors, leave, movers, birthright."""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.model import Category, Finding, HrPerson, IdcUser, Severity
from auditor.rules.context import RuleContext, days_between, is_enabled, iso
from auditor.rules.findings import make_finding
from auditor.rules.registry import Rule, rule


def _people_with_access(ctx: RuleContext) -> Iterator[tuple[IdcUser, HrPerson]]:
    if not (ctx.usable("hr") and ctx.usable("identity_center")):
        return
    for user in ctx.snapshot.table("idc_users"):
        person = ctx.hr_person(user)
        if person is not None and ctx.has_access(user):
            yield user, person


@rule(
    id="idc-contractor-past-end-date",
    sources=("identity_center", "hr"),
    category=Category.LIFECYCLE,
    severity=Severity.HIGH,
    title="Contractor or vendor past their end date still has access",
    description=(
        "A contractor or vendor whose HR end_date has passed is still enabled, in a group or assigned, "
        "whatever their HR status says (terminated ones are also leavers)."
    ),
    controls=("SOC2-CC6.2", "SOC2-CC6.3", "ISO27001-A.5.18", "NIST-800-53-AC-2(3)"),
    recommendation="Disable the user, or have HR extend the engagement's end date.",
)
def contractor_past_end_date(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    today = ctx.as_of.date()
    for user, person in _people_with_access(ctx):
        if person.employment_type not in ("contractor", "vendor") or person.end_date is None:
            continue
        if person.end_date >= today:
            continue
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=f"{person.employment_type.title()} {user.user_name} ended {person.end_date.isoformat()} "
            f"and still has access",
            evidence={
                "employment_type": person.employment_type,
                "end_date": person.end_date.isoformat(),
                "days_past_end_date": (today - person.end_date).days,
                "hr_status": person.status,
                "hr_line": person.line,
                "user_status": user.status or "unknown",
                "groups": ctx.group_names(user),
                "last_activity": iso(ctx.idc_last_activity(user)),
            },
            severity=None if is_enabled(user) else Severity.LOW,
        )


@rule(
    id="idc-access-used-on-leave",
    sources=("identity_center", "hr", "cloudtrail"),
    category=Category.LIFECYCLE,
    severity=Severity.HIGH,
    title="Person on leave used their access",
    description=(
        "HR says the person is on leave, yet they signed in or used a permission set within the last "
        "leave_activity_days (the HR feed gives no leave start date, so recent use is what is checked)."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2"),
    thresholds=("leave_activity_days",),
    recommendation="Confirm with the manager that the use was expected; suspend access for the leave if not.",
)
def access_used_on_leave(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["leave_activity_days"]
    for user, person in _people_with_access(ctx):
        if person.status != "leave":
            continue
        last = ctx.idc_last_activity(user)
        if last is None or days_between(last, ctx.as_of) > days:
            continue
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=f"{user.user_name} is on leave and used access on {last.date().isoformat()}",
            evidence={
                "hr_status": "leave",
                "hr_line": person.line,
                "last_activity": iso(last),
                "window_days": days,
                "manager_email": person.manager_email,
            },
        )


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def expected_groups(ctx: RuleContext, department: str) -> set[str] | None:
    """The configured birthright groups of a department (lower case), or None when unmapped."""
    mapping = {k.lower(): v for k, v in ctx.settings["department_groups"].items()}
    groups = mapping.get(department.lower())
    return None if groups is None else {g.lower() for g in groups}


def old_department_groups(ctx: RuleContext, user: IdcUser, person: HrPerson) -> list[str]:
    """Groups the user keeps that belong to their previous department and not the current one."""
    previous = person.previous_department
    if not previous or _normalise(previous) == _normalise(person.department):
        return []
    old = expected_groups(ctx, previous)
    new = expected_groups(ctx, person.department) or set()
    shared = {g.lower() for g in ctx.settings["shared_groups"]}
    kept = []
    for name in ctx.group_names(user):
        lowered = name.lower()
        belongs = lowered in old if old is not None else _normalise(previous) in _normalise(name)
        if belongs and lowered not in new and lowered not in shared:
            kept.append(name)
    return kept


@rule(
    id="idc-mover-keeps-old-access",
    sources=("identity_center", "hr"),
    category=Category.LIFECYCLE,
    severity=Severity.MEDIUM,
    title="Mover keeps their previous department's access",
    description=(
        "HR shows a department change (the feed's previous_department, or a change since an earlier run's feed "
        "remembered in the state store) and the user is still in groups of the old "
        "department: those in department_groups for it, or, when unmapped, groups whose name contains it."
    ),
    controls=("SOC2-CC6.2", "SOC2-CC6.3", "ISO27001-A.5.18", "NIST-800-53-AC-2", "PCI-DSS-7.2.4"),
    thresholds=("department_groups", "shared_groups"),
    recommendation="Remove the old department's groups, or record why they are still needed.",
)
def mover_keeps_old_access(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for user, person in _people_with_access(ctx):
        kept = old_department_groups(ctx, user, person)
        if not kept or person.status == "terminated":
            continue
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=f"{user.user_name} moved from {person.previous_department} to {person.department} "
            f"and keeps {', '.join(kept)}",
            evidence={
                "previous_department": person.previous_department,
                "department": person.department,
                "title": person.title,
                "previous_title": person.previous_title,
                "old_groups_kept": kept,
                "hr_line": person.line,
            },
        )


@rule(
    id="idc-access-beyond-birthright",
    sources=("identity_center", "hr"),
    category=Category.LIFECYCLE,
    severity=Severity.LOW,
    title="Group membership beyond the department's birthright",
    description=(
        "With department_groups configured, a membership outside the person's department's groups and the "
        "shared_groups needs a reason (an exception or a campaign decision). Break-glass groups are exempt."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.5.15", "ISO27001-A.5.18", "PCI-DSS-7.2.4"),
    thresholds=("department_groups", "shared_groups", "break_glass_patterns"),
    recommendation="Review the membership; remove it or record an exception with its justification.",
)
def access_beyond_birthright(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    shared = {g.lower() for g in ctx.settings["shared_groups"]}
    for user, person in _people_with_access(ctx):
        expected = expected_groups(ctx, person.department)
        if expected is None or person.status == "terminated":
            continue
        movers = set(old_department_groups(ctx, user, person))  # already reported as a mover
        for group_id in ctx.group_ids(user):
            group = ctx.groups.get(group_id)
            name = group.display_name if group else group_id
            if name.lower() in expected | shared or name in movers or ctx.is_break_glass(name):
                continue
            yield make_finding(
                meta,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=group_id,
                title=f"{user.user_name} ({person.department}) is in {name}, outside the department's groups",
                evidence={"department": person.department, "group": name, "expected_groups": sorted(expected)},
            )
