"""Identity Center hygiene: empty groups with access, unused sets, dangling assignments.

Each is an absence claim ("no member", "no assignment", "no such principal"): it needs the
tables it names listed completely, and only those. Where one fell short, the candidates it
concerns get insufficient evidence naming it; an optional attribute that failed (a permission
set's tags, its boundary) touches none of these tables, so it changes nothing here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from auditor.model import Category, Finding, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

IDC = "identity_center"


def unusable(ctx: RuleContext, source: str, account_id: str | None = None) -> str | None:
    """What kept ``source`` from being read at all (for ``account_id``), or None when it was read."""
    if ctx.usable(source, account_id):
        return None
    status = ctx.snapshot.status_of(source, account_id)
    where = f" for account {account_id}" if account_id else ""
    if status is None:
        return f"{source} was not collected{where}"
    return f"{source} could not be read{where} ({status.error or status.status})"


def incomplete(ctx: RuleContext, source: str, *tables: str, account_id: str | None = None) -> str | None:
    """Which of ``tables`` ``source`` did not list completely (None: all were): what an absence claim lacks."""
    short = [table for table in tables if not ctx.table_complete(source, table, account_id)]
    if not short:
        return None
    status = ctx.snapshot.status_of(source, account_id)
    where = f" for account {account_id}" if account_id else ""
    if status is None:
        return f"{source} was not collected{where}"
    states = ", ".join(f"{table} ({_state(status, table)})" for table in short)
    cause = f": {status.error}" if status.error else ""
    return f"{source} did not list {states} completely{where}{cause}"


def _state(status, table: str) -> str:
    return "failed" if status.status == "failed" else status.tables.get(table, status.status)


def _group_principal(group) -> Principal:
    return Principal(type=PrincipalType.IDC_GROUP.value, id=group.group_id, name=group.display_name)


@rule(
    id="idc-group-empty-with-assignments",
    category=Category.ORPHANED,
    severity=Severity.LOW,
    title="Group with no members still assigned",
    description="A group with no members is assigned permission sets: the next person added inherits them unseen.",
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2"),
    recommendation="Remove the assignments, or delete the group if it is no longer used.",
    subjects=("idc_group",),
    needs=("identity_center.idc_groups", "identity_center.idc_memberships", "identity_center.account_assignments"),
)
def group_empty_with_assignments(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread = unusable(ctx, IDC)
    for group in ctx.snapshot.table("idc_groups"):
        principal = _group_principal(group)
        title = f"Group {group.display_name} has no members but assignments"
        if unread:
            yield insufficient_evidence(
                meta, principal=principal, account_id=None, resource=None, title=title, missing=unread
            )
            continue
        members = ctx.members_of.get(group.group_id)
        if members:
            yield cleared(meta, principal, f"has {len(members)} member(s)")
            continue
        assignments = ctx.assignments_of_group(group.group_id)
        if not assignments:  # "no assignment" is an absence claim too
            missing = incomplete(ctx, IDC, "account_assignments")
            yield (
                insufficient_evidence(
                    meta, principal=principal, account_id=None, resource=None, title=title, missing=missing
                )
                if missing
                else cleared(meta, principal, "no assignment")
            )
            continue
        facts = {
            "assignments": [
                {"account_id": a.account_id, "permission_set": ctx.permission_set_name(a.permission_set_arn)}
                for a in assignments
            ]
        }
        missing = incomplete(ctx, IDC, "idc_memberships")  # "no member"; the assignments it names were found
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
            title=f"Group {group.display_name} has no members but {len(assignments)} assignment(s)",
            evidence=facts,
        )


@rule(
    id="idc-permission-set-unassigned",
    category=Category.ORPHANED,
    severity=Severity.INFO,
    title="Permission set assigned to nobody",
    description="A permission set has no account assignment: dead configuration that is easy to misuse later.",
    controls=("SOC2-CC6.2", "ISO27001-A.5.15"),
    recommendation="Delete the permission set if it is not planned for use.",
    subjects=("permission_set",),
    needs=("identity_center.permission_sets", "identity_center.account_assignments", "organizations.accounts"),
)
def permission_set_unassigned(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread = unusable(ctx, IDC)
    accounts = Counter(a.permission_set_arn for a in ctx.snapshot.table("account_assignments"))
    # "no assignment": every assignment, in every account of the estate (the listing walks the accounts)
    missing = unread or incomplete(ctx, IDC, "account_assignments") or incomplete(ctx, "organizations", "accounts")
    for ps in ctx.snapshot.table("permission_sets"):
        principal = Principal(type=PrincipalType.PERMISSION_SET.value, id=ps.arn, name=ps.name, arn=ps.arn)
        if accounts[ps.arn] and not unread:
            yield cleared(meta, principal, f"{accounts[ps.arn]} assignment(s)", resource=ps.arn)
            continue
        title = f"Permission set {ps.name} is assigned to nobody"
        facts = {"permission_set": ps.name, "created_at": ps.created_at.isoformat() if ps.created_at else None}
        if missing:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=None,
                resource=ps.arn,
                title=title,
                missing=missing,
                evidence=facts,
            )
            continue
        yield make_finding(meta, principal=principal, account_id=None, resource=ps.arn, title=title, evidence=facts)


@rule(
    id="idc-assignment-to-missing-principal",
    category=Category.ORPHANED,
    severity=Severity.MEDIUM,
    title="Assignment to a user or group that no longer exists",
    description=(
        "An account assignment names a principal id the identity store no longer has (deleted, or replaced "
        "by a re-sync from the external identity provider): a dangling grant a re-created id could inherit. "
        "Every user and group the identity store lists is cleared as present."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2"),
    recommendation="Delete the assignment.",
    subjects=("idc_user", "idc_group"),
    needs=("identity_center.idc_users", "identity_center.idc_groups", "identity_center.account_assignments"),
)
def assignment_to_missing_principal(ctx: RuleContext, meta: Rule) -> Iterator[Finding | Verdict]:
    unread = unusable(ctx, IDC)
    users = {u.user_id: u for u in ctx.snapshot.table("idc_users")}
    groups = ctx.groups
    for user in users.values():
        if unread:
            yield insufficient_evidence(
                meta,
                principal=ctx.idc_principal(user),
                account_id=None,
                resource=None,
                title=f"assignments naming {user.user_name}",
                missing=unread,
            )
        else:
            yield cleared(meta, ctx.idc_principal(user), "present in the identity store")
    for group in groups.values():
        if unread:
            yield insufficient_evidence(
                meta,
                principal=_group_principal(group),
                account_id=None,
                resource=None,
                title=f"assignments naming {group.display_name}",
                missing=unread,
            )
        else:
            yield cleared(meta, _group_principal(group), "present in the identity store")
    # "no such user" needs every user, "no such group" every group
    missing = {
        "USER": unread or incomplete(ctx, IDC, "idc_users"),
        "GROUP": unread or incomplete(ctx, IDC, "idc_groups"),
    }
    for a in ctx.snapshot.table("account_assignments"):
        known = users if a.principal_type == "USER" else groups
        if a.principal_id in known:
            continue  # present: cleared above
        kind = PrincipalType.IDC_USER if a.principal_type == "USER" else PrincipalType.IDC_GROUP
        name = ctx.permission_set_name(a.permission_set_arn)
        title = f"{name} in {a.account_id} is assigned to missing {a.principal_type.lower()} {a.principal_id}"
        facts = {"principal_type": a.principal_type, "principal_id": a.principal_id, "permission_set": name}
        principal = Principal(type=kind.value, id=a.principal_id, name=None)
        gap = missing.get(a.principal_type, f"principal type {a.principal_type} is not one Identity Center lists")
        if gap:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=a.account_id,
                resource=a.permission_set_arn,
                title=title,
                missing=gap,
                evidence=facts,
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            account_id=a.account_id,
            resource=a.permission_set_arn,
            title=title,
            evidence=facts,
        )
