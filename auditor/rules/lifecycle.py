"""Joiner/mover/leaver rules beyond the leaver: contractors, leave, movers, birthright."""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.model import Category, Finding, HrPerson, IdcUser, Severity
from auditor.rules.context import RuleContext, days_between, is_enabled, iso
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.people import activity_missing, match_person, memberships_missing, undecided, without_access
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

IDC_USER = "idc_user"
PEOPLE = ("identity_center.idc_users", "hr.hr_people")
ACCESS = ("identity_center.idc_memberships", "identity_center.account_assignments")
GROUPS = ("identity_center.idc_memberships", "identity_center.idc_groups")


def _people(ctx: RuleContext, meta: Rule) -> Iterator[tuple[IdcUser, HrPerson | None, Finding | Verdict | None]]:
    """Every user with their HR row, or with the rule's outcome when there is no row to decide from."""
    for user in ctx.snapshot.table("idc_users"):
        person, outcome = match_person(ctx, meta, user)
        yield user, person, outcome


@rule(
    id="idc-contractor-past-end-date",
    trail_optional=("idc_user",),
    sources=("identity_center", "hr"),
    subjects=(IDC_USER,),
    needs=(*PEOPLE, *ACCESS),
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
def contractor_past_end_date(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    today = ctx.as_of.date()
    for user, person, outcome in _people(ctx, meta):
        if outcome is None:
            outcome = _engagement_running(ctx, meta, user, person) or without_access(ctx, meta, user)
        if outcome is not None:
            yield outcome
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


def _engagement_running(ctx: RuleContext, meta: Rule, user: IdcUser, person: HrPerson) -> Verdict | None:
    """The cleared verdict for anyone but a contractor or vendor whose end date has passed, else None."""
    if person.employment_type not in ("contractor", "vendor"):
        reason = f"not a contractor or vendor (HR: {person.employment_type})"
    elif person.end_date is None:
        reason = f"{person.employment_type} with no end date in HR"
    elif person.end_date >= ctx.as_of.date():
        reason = f"{person.employment_type} engagement ends {person.end_date.isoformat()}"
    else:
        return None
    return cleared(meta, ctx.idc_principal(user), reason)


@rule(
    id="idc-access-used-on-leave",
    trail=("idc_user",),
    sources=("identity_center", "hr", "cloudtrail"),
    subjects=(IDC_USER,),
    needs=(*PEOPLE, *ACCESS, "cloudtrail.activity"),
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
def access_used_on_leave(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    days = ctx.settings["leave_activity_days"]
    for user, person, outcome in _people(ctx, meta):
        if outcome is None and person.status != "leave":
            outcome = cleared(meta, ctx.idc_principal(user), f"not on leave (HR status {person.status})")
        outcome = outcome or without_access(ctx, meta, user)
        if outcome is not None:
            yield outcome
            continue
        last = ctx.idc_last_activity(user)
        if last is None or days_between(last, ctx.as_of) > days:
            yield _unused_on_leave(ctx, meta, user, last, days)
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


def _unused_on_leave(ctx: RuleContext, meta: Rule, user: IdcUser, last, days: int) -> Finding | Verdict:
    """No use within the window is a claim over the sign-ins: cleared only when CloudTrail observed them all."""
    missing = activity_missing(ctx, days)
    if missing:
        return undecided(ctx, meta, user, missing, {"last_activity": iso(last), "window_days": days})
    used = f"last use {last.date().isoformat()}" if last else "no use observed"
    return cleared(meta, ctx.idc_principal(user), f"on leave, no sign-in within {days} days ({used})")


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


def _settled(ctx: RuleContext, meta: Rule, user: IdcUser, person: HrPerson) -> Verdict | None:
    """The cleared verdict for a person HR shows no move for (or who left), else None."""
    previous = person.previous_department
    if person.status == "terminated":
        reason = "HR status terminated: idc-leaver-with-access reports what remains"
    elif not previous or _normalise(previous) == _normalise(person.department):
        reason = f"no department change in HR (department {person.department})"
    else:
        return None
    return cleared(meta, ctx.idc_principal(user), reason)


@rule(
    id="idc-mover-keeps-old-access",
    sources=("identity_center", "hr"),
    subjects=(IDC_USER,),
    needs=(*PEOPLE, *GROUPS),
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
def mover_keeps_old_access(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    for user, person, outcome in _people(ctx, meta):
        if outcome is None:
            outcome = _settled(ctx, meta, user, person)
        if outcome is not None:
            yield outcome
            continue
        kept = old_department_groups(ctx, user, person)
        if not kept:
            missing = memberships_missing(ctx, user)
            if missing:
                yield undecided(ctx, meta, user, missing, {"previous_department": person.previous_department})
            else:
                reason = f"moved from {person.previous_department} and keeps none of its groups"
                yield cleared(meta, ctx.idc_principal(user), reason)
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
    subjects=(IDC_USER,),
    needs=(*PEOPLE, *GROUPS),
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
def access_beyond_birthright(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    shared = {g.lower() for g in ctx.settings["shared_groups"]}
    for user, person, outcome in _people(ctx, meta):
        expected = None if outcome is not None else expected_groups(ctx, person.department)
        if outcome is None and person.status == "terminated":
            outcome = cleared(meta, ctx.idc_principal(user), "HR status terminated: idc-leaver-with-access applies")
        elif outcome is None and expected is None:
            reason = f"department {person.department} has no birthright groups in [rules] department_groups"
            if not ctx.settings["department_groups"]:
                reason = "no birthright groups configured ([rules] department_groups is empty)"
            outcome = cleared(meta, ctx.idc_principal(user), reason)
        if outcome is not None:
            yield outcome
            continue
        movers = set(old_department_groups(ctx, user, person))  # already reported as a mover
        beyond = [
            _beyond(ctx, meta, user, person, group_id, expected)
            for group_id in ctx.group_ids(user)
            if group_id not in ctx.groups
            or not _birthright(ctx, ctx.groups[group_id].display_name, expected | shared, movers)
        ]
        yield from beyond
        if not beyond:
            missing = memberships_missing(ctx, user)
            reason = (
                f"every group is {person.department}'s, shared, break-glass or a mover's old group"
                if ctx.group_ids(user)
                else "in no group"
            )
            yield undecided(ctx, meta, user, missing) if missing else cleared(meta, ctx.idc_principal(user), reason)


def _birthright(ctx: RuleContext, name: str, allowed: set[str], movers: set[str]) -> bool:
    """A membership that needs no reason: the department's or shared, a mover's old group, or break-glass."""
    return name.lower() in allowed or name in movers or ctx.is_break_glass(name)


def _beyond(ctx: RuleContext, meta: Rule, user: IdcUser, person: HrPerson, group_id: str, expected: set[str]):
    """The finding for a membership outside the birthright, or insufficient evidence when the group is unknown."""
    group = ctx.groups.get(group_id)
    if group is None:
        return insufficient_evidence(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=group_id,
            title=f"{user.user_name} ({person.department}) is in group {group_id}",
            missing=f"group {group_id} is not in the snapshot (its name is unknown)",
            evidence={"department": person.department, "expected_groups": sorted(expected)},
        )
    return make_finding(
        meta,
        principal=ctx.idc_principal(user),
        account_id=None,
        resource=group_id,
        title=f"{user.user_name} ({person.department}) is in {group.display_name}, outside the department's groups",
        evidence={"department": person.department, "group": group.display_name, "expected_groups": sorted(expected)},
    )
