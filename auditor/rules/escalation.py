"""Privilege-escalation paths, one rule per method, each finding with the whole path in its evidence.

Every IAM user, IAM role and permission set (in each account it is
assigned to) that is not already an administrator is searched
(auditor.permissions.escalation). An administrator is cleared (its power is
reported by the administrator rules); a path that ends only in a break-glass
role is low (using it raises emergency-access-used); a path every step of
which is conditional is medium; any other path is high.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Category, Finding, IamRole, Principal, PrincipalType, Severity
from auditor.permissions.escalation import (
    ASSUME_ROLE,
    ATTACH_PUT,
    CREDENTIALS,
    IDENTITY_CENTER,
    PASS_ROLE,
    POLICY_VERSION,
    Estate,
    Path,
    Subject,
)
from auditor.rules.context import RuleContext, iam_user_principal
from auditor.rules.findings import cleared, exempt, insufficient_evidence, make_finding
from auditor.rules.iam_evidence import source_unread
from auditor.rules.iam_permissions import AWS_MANAGED_ROLES
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Outcome = Finding | Verdict
CONTROLS = ("SOC2-CC6.3", "ISO27001-A.8.2", "NIST-800-53-AC-6", "PCI-DSS-7.2.4")
SUBJECTS = ("iam_user", "iam_role", "permission_set")
NEEDS = ("iam.iam_policies", "iam.iam_users", "iam.iam_roles", "identity_center.permission_sets")
SOURCES = ("iam", "identity_center")
RHINO = "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"
MAX_PATHS = 10  # paths listed in a finding's evidence (the count says how many there are)


def estate(ctx: RuleContext) -> Estate:
    """The path search, built once per run and shared by the escalation rules."""
    found = ctx.shared.get("escalation")
    if found is None:
        home = {s.detail.get("home_account_id") for s in ctx.snapshot.manifest.sources if s.source == "identity_center"}
        home |= {a.account_id for a in ctx.accounts.values() if a.is_management}
        found = Estate(
            model=ctx.permissions,
            break_glass=tuple(p.lower() for p in ctx.settings["break_glass_patterns"]),
            home_accounts=frozenset(h for h in home if h),
            account_names={a.account_id: a.name for a in ctx.accounts.values()},
        )
        ctx.shared["escalation"] = found
    return found


def _paths(search: Estate, key: str, subject: Subject) -> dict[str, list[Path]]:
    if key not in search.cache:
        search.cache[key] = search.paths(subject)
    return search.cache[key]


def _severity(paths: list[Path]) -> Severity:
    if all(p.break_glass for p in paths):
        return Severity.LOW
    if all(p.conditional for p in paths):
        return Severity.MEDIUM
    return Severity.HIGH


def _role_principal(role: IamRole) -> Principal:
    return Principal(type=PrincipalType.IAM_ROLE.value, id=role.role_id, name=role.role_name, arn=role.arn)


def _decide(ctx: RuleContext, meta: Rule, method: str, what: str) -> Iterator[Outcome]:
    """One finding or verdict for every IAM user, IAM role and permission set."""
    search = estate(ctx)
    for user in ctx.snapshot.table("iam_users"):
        principal = iam_user_principal(user)
        subject = search.user_subject(user)
        yield from _outcome(ctx, meta, method, what, principal, subject, user.arn, user.account_id, None)
    for role in ctx.snapshot.table("iam_roles"):
        principal = _role_principal(role)
        reason = next((why for path, why in AWS_MANAGED_ROLES.items() if role.path.startswith(path)), None)
        if reason:
            yield exempt(meta, principal, reason, account_id=role.account_id)
            continue
        subject = search.role_subject(role)
        yield from _outcome(ctx, meta, method, what, principal, subject, role.arn, role.account_id, None)
    assignments: dict[str, dict[str, list[str]]] = {}
    for a in ctx.snapshot.table("account_assignments"):
        if a.principal_type == "GROUP":
            label = f"group {ctx.access.group_name(a.principal_id)}"
        else:
            user = ctx.access.idc_users.get(a.principal_id)
            label = f"user {user.user_name if user else a.principal_id}"
        assignments.setdefault(a.permission_set_arn, {}).setdefault(a.account_id, []).append(label)
    for ps in ctx.snapshot.table("permission_sets"):
        principal = Principal(type=PrincipalType.PERMISSION_SET.value, id=ps.arn, name=ps.name, arn=ps.arn)
        accounts = assignments.get(ps.arn, {})
        if not accounts:
            yield cleared(meta, principal, "not assigned in any account", resource=ps.arn)
            continue
        for account_id, holders in sorted(accounts.items()):
            via = f"{holders[0]} → " if len(holders) == 1 else ""
            subject = search.permission_set_subject(ps, account_id, via)
            key = f"{ps.arn}@{account_id}"
            yield from _outcome(
                ctx, meta, method, what, principal, subject, key, account_id, ps.arn, holders=sorted(set(holders))
            )


def _outcome(
    ctx: RuleContext,
    meta: Rule,
    method: str,
    what: str,
    principal: Principal,
    subject: Subject,
    key: str,
    account_id: str,
    resource: str | None,
    holders: list[str] | None = None,
) -> Iterator[Outcome]:
    where = {"account_id": account_id, "resource": resource}
    title = f"{subject.name.split(' → ')[-1]} can {what}"
    missing = source_unread(ctx, "iam", account_id)
    if missing and resource is None:
        yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
        return
    if subject.effective.is_admin:
        yield cleared(meta, principal, f"already an administrator ({subject.effective.admin_path()})", **where)
        return
    paths = _paths(estate(ctx), key, subject)[method]
    if paths:
        evidence = {
            "method": what,
            "paths": [p.text() for p in paths[:MAX_PATHS]],
            "path_count": len(paths),
            "conditional": all(p.conditional for p in paths),
        }
        if any(p.break_glass for p in paths):
            evidence["break_glass_targets"] = sorted({p.target for p in paths if p.break_glass and p.target})
        if holders:
            evidence["held_by"] = holders
        if subject.effective.unknown:
            evidence["policies_unread"] = subject.effective.unknown
        yield make_finding(
            meta, principal=principal, title=title, evidence=evidence, severity=_severity(paths), **where
        )
    elif subject.effective.unknown:
        missing = "; ".join(subject.effective.unknown)
        yield insufficient_evidence(meta, principal=principal, title=title, missing=missing, **where)
    else:
        yield cleared(meta, principal, f"no path: it cannot {what}", **where)


def _escalation_rule(rule_id: str, method: str, title: str, what: str, description: str, fix: str):
    @rule(
        id=rule_id,
        category=Category.OVER_PRIVILEGED,
        severity=Severity.HIGH,
        title=title,
        description=description,
        controls=CONTROLS,
        thresholds=("break_glass_patterns",),
        recommendation=fix,
        sources=SOURCES,
        subjects=SUBJECTS,
        needs=NEEDS,
    )
    def decide(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
        return _decide(ctx, meta, method, what)

    decide.__name__ = rule_id.replace("-", "_")
    return decide


escalation_policy_version = _escalation_rule(
    "iam-escalation-policy-version",
    POLICY_VERSION,
    "Can rewrite a managed policy (new default version)",
    "rewrite a managed policy it or others hold",
    "iam:CreatePolicyVersion (with --set-as-default) or iam:SetDefaultPolicyVersion on a customer managed policy "
    "lets the holder make that policy say anything, administrator included, for everyone it is attached to. "
    f"Reference: {RHINO} (methods 1 and 2).",
    "Remove iam:CreatePolicyVersion and iam:SetDefaultPolicyVersion, or scope them to policies nobody "
    "privileged holds and require a condition (e.g. a permissions boundary on the policies).",
)
escalation_attach_put = _escalation_rule(
    "iam-escalation-attach-put-policy",
    ATTACH_PUT,
    "Can attach or write a policy on itself or another principal",
    "attach or write policies on IAM principals",
    "iam:Attach{User,Group,Role}Policy or iam:Put{User,Group,Role}Policy lets the holder grant AdministratorAccess "
    f"to itself, its group or a role it can use. Reference: {RHINO} (methods 6 to 11).",
    "Remove the Attach*/Put* policy actions, or scope them to named principals and enforce a permissions boundary "
    "(iam:PermissionsBoundary condition) on what they may grant.",
)
escalation_credentials = _escalation_rule(
    "iam-escalation-credentials",
    CREDENTIALS,
    "Can create or reset another user's credentials",
    "sign in as another IAM user",
    "iam:CreateAccessKey, iam:CreateLoginProfile or iam:UpdateLoginProfile on other users lets the holder make "
    f"an access key or a console password for them and act with their power. Reference: {RHINO} (methods 4 and 5).",
    'Scope these actions to the caller itself (Resource "arn:aws:iam::*:user/${aws:username}").',
)
escalation_pass_role = _escalation_rule(
    "iam-escalation-pass-role",
    PASS_ROLE,
    "Can pass an administrator role to compute it creates",
    "run code as an administrator role (iam:PassRole + a compute service)",
    "iam:PassRole on an administrator role plus the action that creates or updates what runs as that role "
    "(lambda:CreateFunction, ec2:RunInstances, ecs:RunTask, glue:CreateDevEndpoint, cloudformation:CreateStack, "
    f"...) lets the holder run its own code with the role's power. Reference: {RHINO} (methods 15 to 21).",
    "Scope iam:PassRole to the roles the job deploys (never administrator roles), with an iam:PassedToService "
    "condition.",
)
escalation_assume_role = _escalation_rule(
    "iam-escalation-assume-role",
    ASSUME_ROLE,
    "Can assume an administrator role (through trust policies, across accounts)",
    "become an administrator role by sts:AssumeRole",
    "sts:AssumeRole allowed by the holder's policies and by a role's trust policy (which may name the holder's "
    "whole account), followed role after role and across accounts, reaches a role with administrator power. "
    "A chain ending only in a break-glass role is low: its use is alerted by emergency-access-used. "
    "Reference: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html",
    "Name the exact principals in the role's trust policy (not the account root) and scope sts:AssumeRole in the "
    "holder's policies to the roles it needs.",
)
escalation_identity_center = _escalation_rule(
    "idc-escalation-grants-access",
    IDENTITY_CENTER,
    "Can grant itself access through Identity Center",
    "grant access through Identity Center (sso-admin, identity store writes)",
    "In the account that administers Identity Center, sso:CreateAccountAssignment, writes to a permission set's "
    "policies, or identitystore:CreateGroupMembership let the holder give itself any permission set in any "
    "account. Reference: https://docs.aws.amazon.com/singlesignon/latest/userguide/iam-auth-access-using-id-policies.html",
    "Keep Identity Center administration to a reviewed administrator permission set; scope sso and identitystore "
    "writes with conditions (sso:AccountId, the target permission set).",
)
