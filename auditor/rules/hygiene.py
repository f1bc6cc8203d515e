"""Identity Center hygiene: empty groups with access, unused sets, dangling assignments."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Category, Finding, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext
from auditor.rules.findings import make_finding
from auditor.rules.registry import Rule, rule


def _complete(ctx: RuleContext, *tables: str) -> bool:
    """An absence claim needs the tables it names listed completely, and only those.

    A partial read could miss the member, the assignment or the user; an
    optional attribute that failed (a permission set's tags, its boundary)
    does not touch these tables, so it does not silence the rules.
    """
    return all(ctx.table_complete("identity_center", table) for table in tables)


@rule(
    id="idc-group-empty-with-assignments",
    category=Category.ORPHANED,
    severity=Severity.LOW,
    title="Group with no members still assigned",
    description="A group with no members is assigned permission sets: the next person added inherits them unseen.",
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2"),
    recommendation="Remove the assignments, or delete the group if it is no longer used.",
)
def group_empty_with_assignments(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    if not _complete(ctx, "idc_memberships"):  # "no member"; the assignments it names were found
        return
    for group in ctx.snapshot.table("idc_groups"):
        assignments = ctx.assignments_of_group(group.group_id)
        if ctx.members_of.get(group.group_id) or not assignments:
            continue
        yield make_finding(
            meta,
            principal=Principal(type=PrincipalType.IDC_GROUP.value, id=group.group_id, name=group.display_name),
            account_id=None,
            resource=None,
            title=f"Group {group.display_name} has no members but {len(assignments)} assignment(s)",
            evidence={
                "assignments": [
                    {"account_id": a.account_id, "permission_set": ctx.permission_set_name(a.permission_set_arn)}
                    for a in assignments
                ]
            },
        )


@rule(
    id="idc-permission-set-unassigned",
    category=Category.ORPHANED,
    severity=Severity.INFO,
    title="Permission set assigned to nobody",
    description="A permission set has no account assignment: dead configuration that is easy to misuse later.",
    controls=("SOC2-CC6.2", "ISO27001-A.5.15"),
    recommendation="Delete the permission set if it is not planned for use.",
)
def permission_set_unassigned(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    # "no assignment": every assignment, in every account of the estate (the listing walks the accounts)
    if not _complete(ctx, "account_assignments") or not ctx.table_complete("organizations", "accounts"):
        return
    used = {a.permission_set_arn for a in ctx.snapshot.table("account_assignments")}
    for ps in ctx.snapshot.table("permission_sets"):
        if ps.arn in used:
            continue
        yield make_finding(
            meta,
            principal=Principal(type=PrincipalType.PERMISSION_SET.value, id=ps.arn, name=ps.name, arn=ps.arn),
            account_id=None,
            resource=ps.arn,
            title=f"Permission set {ps.name} is assigned to nobody",
            evidence={"permission_set": ps.name, "created_at": ps.created_at.isoformat() if ps.created_at else None},
        )


@rule(
    id="idc-assignment-to-missing-principal",
    category=Category.ORPHANED,
    severity=Severity.MEDIUM,
    title="Assignment to a user or group that no longer exists",
    description=(
        "An account assignment names a principal id the identity store no longer has (deleted, or replaced "
        "by a re-sync from the external identity provider): a dangling grant a re-created id could inherit."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2"),
    recommendation="Delete the assignment.",
)
def assignment_to_missing_principal(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    users = {u.user_id for u in ctx.snapshot.table("idc_users")}
    groups = set(ctx.groups)
    # "no such user" needs every user, "no such group" every group
    decidable = {"USER": _complete(ctx, "idc_users"), "GROUP": _complete(ctx, "idc_groups")}
    for a in ctx.snapshot.table("account_assignments"):
        known = users if a.principal_type == "USER" else groups
        if a.principal_id in known or not decidable.get(a.principal_type, False):
            continue
        kind = PrincipalType.IDC_USER if a.principal_type == "USER" else PrincipalType.IDC_GROUP
        yield make_finding(
            meta,
            principal=Principal(type=kind.value, id=a.principal_id, name=None),
            account_id=a.account_id,
            resource=a.permission_set_arn,
            title=f"{ctx.permission_set_name(a.permission_set_arn)} in {a.account_id} is assigned to missing "
            f"{a.principal_type.lower()} {a.principal_id}",
            evidence={
                "principal_type": a.principal_type,
                "principal_id": a.principal_id,
                "permission_set": ctx.permission_set_name(a.permission_set_arn),
            },
        )
