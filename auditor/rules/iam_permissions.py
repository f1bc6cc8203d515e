"""Rules about what IAM users and roles are granted, and what they leave unused.

Every rule decides for each IAM user and role of the snapshot: a finding,
insufficient evidence naming what IAM or Access Advisor could not answer for
its account, the fact that cleared it, or why it is exempt (roles AWS
manages: service-linked roles and Identity Center's roles).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Category, Finding, IamRole, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iam_user_principal, iso
from auditor.rules.findings import cleared, exempt, insufficient_evidence, make_finding
from auditor.rules.iam_evidence import listed_for, since, source_unread, younger_than_threshold
from auditor.rules.policies import is_admin_policy_arn
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Outcome = Finding | Verdict
AWS_MANAGED_ROLES = {
    "/aws-service-role/": "service-linked role: AWS manages it for its service",
    "/aws-reserved/": "Identity Center role: reviewed through its permission set and assignments",
}


def _role_principal(role: IamRole) -> Principal:
    return Principal(type=PrincipalType.IAM_ROLE.value, id=role.role_id, name=role.role_name, arn=role.arn)


def _aws_managed(role: IamRole, *paths: str) -> str | None:
    """Why ``role`` is exempt when its path is one of ``paths`` (roles AWS manages), else None."""
    return next((AWS_MANAGED_ROLES[p] for p in paths if role.path.startswith(p)), None)


@rule(
    id="iam-user-direct-policy",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.LOW,
    title="Policy attached directly to an IAM user",
    description="Permissions attached or written inline on a user escape group-based review (CIS 1.15).",
    controls=("CIS-AWS-1.15", "SOC2-CC6.3", "ISO27001-A.5.15"),
    recommendation="Move the permissions to a group (or a role) and detach them from the user.",
    subjects=("iam_user",),
    needs=("iam.iam_users",),
)
def user_direct_policy(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    for user in ctx.snapshot.table("iam_users"):
        principal = iam_user_principal(user)
        title = f"IAM user {user.user_name} has policies attached directly"
        where = {"account_id": user.account_id, "resource": None}
        missing = source_unread(ctx, "iam", user.account_id)
        if missing:
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
        elif user.attached_policies or user.inline_policies:
            yield make_finding(
                meta,
                principal=principal,
                title=title,
                evidence={"attached_policies": user.attached_policies, "inline_policies": user.inline_policies},
                **where,
            )
        else:
            yield cleared(meta, principal, "no policy attached to the user or written inline on it", **where)


@rule(
    id="iam-admin-policy-attached",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.HIGH,
    title="Administrator policy attached to an IAM user or role",
    description=(
        "AWS AdministratorAccess is attached to an IAM user, directly or through an IAM group (high), or to a "
        "role (medium; low for a role whose name marks it break-glass). Identity Center's roles are exempt: "
        "their power is reviewed through their permission sets."
    ),
    controls=("CIS-AWS-1.16", "SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6"),
    thresholds=("break_glass_patterns",),
    recommendation="Replace it with a scoped policy; keep administrator power in reviewed break-glass roles.",
    subjects=("iam_user", "iam_role"),
    needs=("iam.iam_users", "iam.iam_groups", "iam.iam_roles"),
)
def admin_policy_attached(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    admin_groups = {
        (g.account_id, g.group_name): [a for a in g.attached_policies if is_admin_policy_arn(a)]
        for g in ctx.snapshot.table("iam_groups")
    }
    for user in ctx.snapshot.table("iam_users"):
        principal = iam_user_principal(user)
        title = f"IAM user {user.user_name} holds AdministratorAccess"
        where = {"account_id": user.account_id, "resource": None}
        missing = source_unread(ctx, "iam", user.account_id)
        paths = [f"attached {a}" for a in user.attached_policies if is_admin_policy_arn(a)]
        paths += [f"via group {g}: {a}" for g in user.groups for a in admin_groups.get((user.account_id, g), [])]
        unread = sorted(g for g in user.groups if (user.account_id, g) not in admin_groups)
        if missing:
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
        elif paths:
            yield make_finding(meta, principal=principal, title=title, evidence={"paths": paths}, **where)
        elif unread:
            missing = f"the policies of IAM group(s) {', '.join(unread)} of account {user.account_id} were not read"
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
        else:
            reason = "AdministratorAccess attached neither to the user nor to any of its groups"
            yield cleared(meta, principal, reason, **where)
    for role in ctx.snapshot.table("iam_roles"):
        principal = _role_principal(role)
        title = f"Role {role.role_name} holds AdministratorAccess"
        where = {"account_id": role.account_id, "resource": None}
        admin = [a for a in role.attached_policies if is_admin_policy_arn(a)]
        missing = source_unread(ctx, "iam", role.account_id)
        if reason := _aws_managed(role, "/aws-reserved/"):
            yield exempt(meta, principal, reason, **where)
        elif missing:
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
        elif admin:
            yield make_finding(
                meta,
                principal=principal,
                title=title,
                evidence={"policies": admin, "trusted": _trusted_principals(role.trust_policy)},
                severity=Severity.LOW if ctx.is_break_glass(role.role_name) else Severity.MEDIUM,
                **where,
            )
        else:
            yield cleared(meta, principal, "AdministratorAccess not attached", **where)


def _trusted_principals(trust_policy: dict | None) -> list[str]:
    trusted: list[str] = []
    for statement in (trust_policy or {}).get("Statement", []) or []:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal")
        values = principal.values() if isinstance(principal, dict) else [principal]
        for value in values:
            trusted.extend(value if isinstance(value, list) else [str(value)])
    return trusted


@rule(
    id="iam-role-unused",
    trail_optional=("iam_role",),
    sources=("iam", "cloudtrail"),
    category=Category.INACTIVE,
    severity=Severity.LOW,
    title="IAM role unused",
    description=(
        "A role older than role_unused_days has not been used for role_unused_days (RoleLastUsed, which IAM "
        "tracks for 400 days, and CloudTrail). Service-linked and Identity Center roles are exempt."
    ),
    controls=("SOC2-CC6.2", "NIST-800-53-AC-2(3)", "ISO27001-A.5.18"),
    thresholds=("role_unused_days",),
    recommendation="Delete the role if nothing needs it, after checking its trust policy's callers.",
    subjects=("iam_role",),
    needs=("iam.iam_roles", "cloudtrail.activity"),
)
def role_unused(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    days = ctx.settings["role_unused_days"]
    for role in ctx.snapshot.table("iam_roles"):
        principal = _role_principal(role)
        title = f"Role {role.role_name} unused for {days} days"
        where = {"account_id": role.account_id, "resource": None}
        if reason := _aws_managed(role, *AWS_MANAGED_ROLES):
            yield exempt(meta, principal, reason, **where)
            continue
        missing = source_unread(ctx, "iam", role.account_id)
        if missing:
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
            continue
        candidates = [role.last_used, ctx.last_seen("iam_role", role.arn, role.account_id)]
        last = max((c for c in candidates if c is not None), default=None)
        if last is not None and days_between(last, ctx.as_of) < days:
            yield cleared(meta, principal, f"last used {since(last, ctx.as_of)}, within {days} days", **where)
            continue
        existence = ctx.access.role_existence(role)
        age = existence.days(ctx.as_of)
        facts = {"last_used": iso(last) or "never", "created": iso(role.created), "threshold_days": days}
        facts |= existence.evidence()
        if age is None:  # never used and of unknown age: it may have been created yesterday
            yield insufficient_evidence(
                meta,
                principal=principal,
                title=f"Role {role.role_name} has no recorded use and an unknown age",
                missing=existence.missing,
                evidence=facts,
                **where,
            )
            continue
        if age < days:
            yield younger_than_threshold(
                meta, principal, existence, ctx.as_of, days, title=title, evidence=facts, **where
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            title=f"Role {role.role_name} unused since {last.date().isoformat()}"
            if last
            else f"Role {role.role_name} never used",
            evidence=facts,
            **where,
        )


@rule(
    id="iam-unused-services",
    sources=("access_advisor",),
    category=Category.OVER_PRIVILEGED,
    severity=Severity.LOW,
    title="Services granted but not used",
    description=(
        "An IAM user or role older than unused_service_days is granted services (by its permission policies) "
        "that it has not used for unused_service_days, per IAM Access Advisor: a right-sizing finding listing them. "
        "Service-linked and Identity Center roles are exempt."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6(7)", "PCI-DSS-7.2.4"),
    thresholds=("unused_service_days",),
    recommendation="Remove the unused services from the policies (generate a scoped policy from the used ones).",
    subjects=("iam_user", "iam_role"),
    needs=("access_advisor.service_access", "iam.iam_users", "iam.iam_roles"),
)
def unused_services(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    days = ctx.settings["unused_service_days"]
    by_entity: dict[str, list] = {}
    for service in ctx.snapshot.table("service_access"):
        by_entity.setdefault(service.entity_arn, []).append(service)
    entities = [
        (iam_user_principal(u), "iam_user", u.account_id, ctx.access.iam_user_existence(u), None)
        for u in ctx.snapshot.table("iam_users")
    ]
    entities += [
        (
            _role_principal(r),
            "iam_role",
            r.account_id,
            ctx.access.role_existence(r),
            _aws_managed(r, *AWS_MANAGED_ROLES),
        )
        for r in ctx.snapshot.table("iam_roles")
    ]
    for principal, kind, account_id, existence, aws_managed in entities:
        services = by_entity.get(principal.arn, [])
        name = principal.name
        title = f"{name} has granted services unused for {days} days"
        where = {"account_id": account_id, "resource": None}
        if aws_managed:
            yield exempt(meta, principal, aws_managed, **where)
            continue
        missing = source_unread(ctx, "iam", account_id) or source_unread(ctx, "access_advisor", account_id)
        if not missing and not services:
            error = listed_for(
                ctx, "access_advisor", "service_access", account_id, f"{kind}.service_access", principal.arn
            )
            missing = error and f"the services {name} is granted could not be read from Access Advisor ({error})"
        if missing:
            yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
            continue
        unused = sorted(
            s.service_namespace
            for s in services
            if s.last_authenticated is None or days_between(s.last_authenticated, ctx.as_of) >= days
        )
        if not unused:
            reason = f"every one of its {len(services)} granted services used within {days} days"
            yield cleared(meta, principal, reason if services else "granted no service (Access Advisor)", **where)
            continue
        age = existence.days(ctx.as_of)
        facts = {"unused_services": unused, "threshold_days": days}
        if age is None:  # a principal of unknown age may be too new to have used what it is granted
            yield insufficient_evidence(
                meta,
                principal=principal,
                title=f"{name} has {len(unused)} of {len(services)} granted services with no recorded use",
                missing=existence.missing,
                evidence=facts,
                **where,
            )
            continue
        if age < days:
            yield younger_than_threshold(
                meta, principal, existence, ctx.as_of, days, title=title, evidence=facts, **where
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            title=f"{name} has {len(unused)} of {len(services)} granted services unused for {days} days",
            evidence={
                "unused_services": unused,
                "used_services": sorted(s.service_namespace for s in services if s.service_namespace not in unused),
                "threshold_days": days,
                **existence.evidence(),
            },
            **where,
        )
