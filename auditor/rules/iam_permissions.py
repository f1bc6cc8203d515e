"""Rules about what IAM users and roles are granted, and what they leave unused."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Category, Finding, Principal, PrincipalType, Severity
from auditor.rules.context import RuleContext, days_between, iam_user_principal, iso
from auditor.rules.findings import insufficient_evidence, make_finding
from auditor.rules.policies import is_admin_policy_arn
from auditor.rules.registry import Rule, rule


@rule(
    id="iam-user-direct-policy",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.LOW,
    title="Policy attached directly to an IAM user",
    description="Permissions attached or written inline on a user escape group-based review (CIS 1.15).",
    controls=("CIS-AWS-1.15", "SOC2-CC6.3", "ISO27001-A.5.15"),
    recommendation="Move the permissions to a group (or a role) and detach them from the user.",
)
def user_direct_policy(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for user in ctx.snapshot.table("iam_users"):
        if (user.attached_policies or user.inline_policies) and ctx.usable("iam", user.account_id):
            yield make_finding(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} has policies attached directly",
                evidence={"attached_policies": user.attached_policies, "inline_policies": user.inline_policies},
            )


@rule(
    id="iam-admin-policy-attached",
    category=Category.OVER_PRIVILEGED,
    severity=Severity.HIGH,
    title="Administrator policy attached to an IAM user or role",
    description=(
        "AWS AdministratorAccess is attached to an IAM user, directly or through an IAM group (high), or to a "
        "role (medium; low for a role whose name marks it break-glass)."
    ),
    controls=("CIS-AWS-1.16", "SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6"),
    thresholds=("break_glass_patterns",),
    recommendation="Replace it with a scoped policy; keep administrator power in reviewed break-glass roles.",
)
def admin_policy_attached(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    admin_groups = {
        (g.account_id, g.group_name): [a for a in g.attached_policies if is_admin_policy_arn(a)]
        for g in ctx.snapshot.table("iam_groups")
    }
    for user in ctx.snapshot.table("iam_users"):
        if not ctx.usable("iam", user.account_id):
            continue
        paths = [f"attached {a}" for a in user.attached_policies if is_admin_policy_arn(a)]
        paths += [f"via group {g}: {a}" for g in user.groups for a in admin_groups.get((user.account_id, g), [])]
        if paths:
            yield make_finding(
                meta,
                principal=iam_user_principal(user),
                account_id=user.account_id,
                resource=None,
                title=f"IAM user {user.user_name} holds AdministratorAccess",
                evidence={"paths": paths},
            )
    for role in ctx.snapshot.table("iam_roles"):
        admin = [a for a in role.attached_policies if is_admin_policy_arn(a)]
        if not admin or not ctx.usable("iam", role.account_id) or role.path.startswith("/aws-reserved/"):
            continue
        yield make_finding(
            meta,
            principal=Principal(type=PrincipalType.IAM_ROLE.value, id=role.role_id, name=role.role_name, arn=role.arn),
            account_id=role.account_id,
            resource=None,
            title=f"Role {role.role_name} holds AdministratorAccess",
            evidence={"policies": admin, "trusted": _trusted_principals(role.trust_policy)},
            severity=Severity.LOW if ctx.is_break_glass(role.role_name) else Severity.MEDIUM,
        )


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
)
def role_unused(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["role_unused_days"]
    for role in ctx.snapshot.table("iam_roles"):
        if role.path.startswith(("/aws-service-role/", "/aws-reserved/")) or not ctx.usable("iam", role.account_id):
            continue
        candidates = [role.last_used, ctx.last_seen("iam_role", role.arn, role.account_id)]
        last = max((c for c in candidates if c is not None), default=None)
        if last is not None and days_between(last, ctx.as_of) < days:
            continue
        existence = ctx.access.role_existence(role)
        age = existence.days(ctx.as_of)
        if age is not None and age < days:
            continue
        principal = Principal(type=PrincipalType.IAM_ROLE.value, id=role.role_id, name=role.role_name, arn=role.arn)
        facts = {"last_used": iso(last) or "never", "created": iso(role.created), "threshold_days": days}
        facts |= existence.evidence()
        if age is None:  # never used and of unknown age: it may have been created yesterday
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=role.account_id,
                resource=None,
                title=f"Role {role.role_name} has no recorded use and an unknown age",
                missing=existence.missing,
                evidence=facts,
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            account_id=role.account_id,
            resource=None,
            title=f"Role {role.role_name} unused since {last.date().isoformat()}"
            if last
            else f"Role {role.role_name} never used",
            evidence=facts,
        )


@rule(
    id="iam-unused-services",
    sources=("access_advisor",),
    category=Category.OVER_PRIVILEGED,
    severity=Severity.LOW,
    title="Services granted but not used",
    description=(
        "An IAM user or role older than unused_service_days is granted services (by its permission policies) "
        "that it has not used for unused_service_days, per IAM Access Advisor: a right-sizing finding listing them."
    ),
    controls=("SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6(7)", "PCI-DSS-7.2.4"),
    thresholds=("unused_service_days",),
    recommendation="Remove the unused services from the policies (generate a scoped policy from the used ones).",
)
def unused_services(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    days = ctx.settings["unused_service_days"]
    entities = {
        u.arn: (ctx.access.iam_user_existence(u), PrincipalType.IAM_USER, u.user_name, u.user_id)
        for u in ctx.snapshot.table("iam_users")
    }
    entities |= {
        r.arn: (ctx.access.role_existence(r), PrincipalType.IAM_ROLE, r.role_name, r.role_id)
        for r in ctx.snapshot.table("iam_roles")
    }
    by_entity: dict[str, list] = {}
    for service in ctx.snapshot.table("service_access"):
        by_entity.setdefault(service.entity_arn, []).append(service)
    for arn, services in sorted(by_entity.items()):
        entity = entities.get(arn)
        if entity is None or not ctx.usable("access_advisor", services[0].account_id):
            continue
        existence, kind, name, pid = entity
        age = existence.days(ctx.as_of)
        if age is not None and age < days:
            continue
        unused = sorted(
            s.service_namespace
            for s in services
            if s.last_authenticated is None or days_between(s.last_authenticated, ctx.as_of) >= days
        )
        if not unused:
            continue
        principal = Principal(type=kind.value, id=pid, name=name, arn=arn)
        if age is None:  # a principal of unknown age may be too new to have used what it is granted
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=services[0].account_id,
                resource=None,
                title=f"{name} has {len(unused)} of {len(services)} granted services with no recorded use",
                missing=existence.missing,
                evidence={"unused_services": unused, "threshold_days": days},
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            account_id=services[0].account_id,
            resource=None,
            title=f"{name} has {len(unused)} of {len(services)} granted services unused for {days} days",
            evidence={
                "unused_services": unused,
                "used_services": sorted(s.service_namespace for s in services if s.service_namespace not in unused),
                "threshold_days": days,
                **existence.evidence(),
            },
        )
