"""Privilege-escalation paths planted in the estate, and a permission set to right-size.

One path goes through an IAM group (a group policy that rewrites managed
policies), one crosses accounts through a trust policy (a management
account user assuming an administrator role in production), one goes
through a permission set (Identity Center writes in the management
account). The administrator roles the paths end in are boundary cases of the
same problems: already administrators, they have no path to escalate by.

``PlatformOperations`` grants 400 actions, of which its team's sessions call
12 (the "platform_operations" calls): what right-sizing must find.
"""

from __future__ import annotations

from auditor.permissions import catalog
from auditor.sandbox.estate import ADMIN, service_user
from auditor.sandbox.plan import AssignmentPlan, IamGroupPlan, PermissionSetPlan, PolicyPlan, RolePlan
from auditor.sandbox.population import Population

POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
IDENTITY_GROUP = "identity-admins"
RIGHTSIZE_SET = "PlatformOperations"
RIGHTSIZE_GROUP = "platform-operations"
RIGHTSIZE_GRANTED = 400
RIGHTSIZE_USED = (
    "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "cloudwatch:GetMetricData",
    "cloudwatch:DescribeAlarms",
    "logs:DescribeLogGroups",
    "logs:FilterLogEvents",
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "lambda:ListFunctions",
    "ssm:GetParameter",
)
RIGHTSIZE_SERVICES = ("ec2", "cloudwatch", "logs", "ecs", "lambda", "ssm")


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: list[str], resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


POLICY_AUTHORING = _doc(
    _allow(
        ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:ListPolicyVersions"], "arn:aws:iam::*:policy/*"
    )
)
SELF_REMEDIATION = _doc(_allow(["iam:PutRolePolicy", "iam:GetRolePolicy"], "arn:aws:iam::*:role/ops-remediation"))
HELPDESK = _doc(_allow(["iam:CreateAccessKey", "iam:UpdateLoginProfile", "iam:ListUsers"], "arn:aws:iam::*:user/*"))
FUNCTION_DEPLOYER = _doc(
    _allow(["iam:PassRole"], "arn:aws:iam::*:role/lambda-admin-exec"),
    _allow(["lambda:CreateFunction", "lambda:InvokeFunction", "lambda:GetFunction"]),
)
RELEASE_BOT = _doc(_allow(["sts:AssumeRole"], "arn:aws:iam::*:role/release-admin"))
# Their clean neighbours: the same services, scoped so that none of them can raise its own power.
SCOPED = {
    "svc-fn-builder": _doc(
        _allow(["iam:PassRole"], "arn:aws:iam::*:role/app-runtime"),
        _allow(["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"]),
    ),
    "svc-task-runner": _doc(
        _allow(["iam:PassRole"], "arn:aws:iam::*:role/queue-worker"),
        _allow(["ecs:RegisterTaskDefinition", "ecs:RunTask", "ecs:Describe*"]),
    ),
    "svc-key-rotator": _doc(
        _allow(
            ["iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"], "arn:aws:iam::*:user/${aws:username}"
        )
    ),
    "svc-policy-reader": _doc(_allow(["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:List*"])),
    "svc-ci-reader": _doc(_allow(["sts:AssumeRole"], "arn:aws:iam::*:role/ci-deploy")),
    "svc-self-tagger": _doc(_allow(["iam:TagUser", "iam:ListUserTags"], "arn:aws:iam::*:user/${aws:username}")),
}
IDENTITY_AUDIT = _doc(
    _allow(["sso:Describe*", "sso:List*", "sso:Get*", "identitystore:Describe*", "identitystore:List*"])
)
IDENTITY_OPS = _doc(
    _allow(["sso:Describe*", "sso:List*", "sso:CreateAccountAssignment", "sso:ProvisionPermissionSet"]),
    _allow(["identitystore:Describe*", "identitystore:List*", "identitystore:CreateGroupMembership"]),
)


def plant_escalation(pop: Population) -> None:
    """Every escalation method once, each in the principal the rule names; then the right-sizing case."""
    plant_rightsizing(pop)
    world, clock = pop.world, pop.clock
    workload = pop.member_account("development", "staging")
    production = pop.member_account("production")
    management = world.management().key

    # through a group: a group policy that may write new versions of the account's managed policies
    world.policies.append(PolicyPlan(workload, "PolicyAuthoring", clock.ago(200), POLICY_AUTHORING))
    world.iam_groups.append(IamGroupPlan(workload, "PolicyAuthors", clock.ago(200), ["policy/PolicyAuthoring"]))
    author = _user(pop, workload, "svc-policy-author", groups=["PolicyAuthors"])
    pop.plant("escalation_policy_version", "iam_user", author.name, workload, {"via": "group PolicyAuthors"})

    # a role that may write its own inline policy
    role = RolePlan(
        workload, "ops-remediation", clock.ago(20), "lambda.amazonaws.com", "runtime", inline={"self": SELF_REMEDIATION}
    )
    world.roles.append(role)
    pop.plant("escalation_attach_put_policy", "iam_role", role.name, workload, {"action": "iam:PutRolePolicy"})

    helpdesk = _user(pop, workload, "svc-helpdesk", inline={"helpdesk": HELPDESK})
    pop.plant("escalation_credentials", "iam_user", helpdesk.name, workload, {"action": "iam:CreateAccessKey"})

    # PassRole on an administrator role that Lambda may assume, with lambda:CreateFunction
    world.roles.append(RolePlan(workload, "lambda-admin-exec", clock.ago(20), "lambda.amazonaws.com", "admin", [ADMIN]))
    pop.boundary("escalation_pass_role", "iam_role", "lambda-admin-exec", workload, {"reached_by": "svc-fn-deployer"})
    deployer = _user(pop, workload, "svc-fn-deployer", inline={"functions": FUNCTION_DEPLOYER})
    pop.plant("escalation_pass_role", "iam_user", deployer.name, workload, {"role": "lambda-admin-exec"})

    # across accounts: a management account user whose policy and the production role's trust policy
    # (the management account) let it become that administrator role
    world.roles.append(RolePlan(production, "release-admin", clock.ago(20), None, "admin", [ADMIN]))
    pop.boundary("escalation_assume_role", "iam_role", "release-admin", production, {"reached_by": "svc-release-bot"})
    bot = _user(pop, management, "svc-release-bot", inline={"release": RELEASE_BOT})
    pop.plant("escalation_assume_role", "iam_user", bot.name, management, {"role": "release-admin"})

    # through a permission set: Identity Center writes in the account that administers it
    world.permission_sets.append(
        PermissionSetPlan("IdentityOps", "Identity Center operations", "PT1H", clock.ago(100), inline=IDENTITY_OPS)
    )
    world.groups[IDENTITY_GROUP] = "Identity Center operators"
    world.assignments.append(AssignmentPlan(management, "IdentityOps", "GROUP", IDENTITY_GROUP))
    pop.plant("escalation_identity_center", "permission_set", "IdentityOps", None, {"group": IDENTITY_GROUP})

    # read-only and scoped neighbours, clean
    world.permission_sets.append(
        PermissionSetPlan("IdentityAuditor", "Identity Center review", "PT1H", clock.ago(100), inline=IDENTITY_AUDIT)
    )
    world.assignments.append(AssignmentPlan(management, "IdentityAuditor", "GROUP", IDENTITY_GROUP))
    for name, document in SCOPED.items():  # clean service users take their permissions from a group
        account = management if name == "svc-ci-reader" else workload
        policy = "".join(part.title() for part in name.removeprefix("svc-").split("-"))
        world.policies.append(PolicyPlan(account, policy, clock.ago(200), document))
        world.iam_groups.append(IamGroupPlan(account, f"{policy}Team", clock.ago(200), [f"policy/{policy}"]))
        _user(pop, account, name, groups=[f"{policy}Team"])

    # the estate's own: power users in the management account may administer Identity Center and assume
    # the organization's access role in every member account
    for name in sorted({a.permission_set for a in world.assignments if a.account_key == management}):
        if POWER_USER in world.permission_set(name).managed:
            pop.plant("escalation_assume_role", "permission_set", name, None, {"account": management})


def plant_rightsizing(pop: Population) -> None:
    """A team's permission set granting 400 actions (no wildcards, so the count is exact); they call 12."""
    world, clock = pop.world, pop.clock
    actions = catalog()
    pool = sorted(
        a
        for service in RIGHTSIZE_SERVICES
        for a in actions.services[service]
        if a not in actions.permissions_management and a not in RIGHTSIZE_USED
    )
    granted = sorted(RIGHTSIZE_USED + tuple(pool[: RIGHTSIZE_GRANTED - len(RIGHTSIZE_USED)]))
    document = _doc(_allow(granted))
    account = pop.member_account("production", "staging")
    world.permission_sets.append(
        PermissionSetPlan(
            RIGHTSIZE_SET, "Platform operations", "PT8H", clock.ago(300), inline=document, calls="platform_operations"
        )
    )
    world.groups[RIGHTSIZE_GROUP] = "Platform operations on-call"
    world.assignments.append(AssignmentPlan(account, RIGHTSIZE_SET, "GROUP", RIGHTSIZE_GROUP))
    for _ in range(3):
        user = pop.idc_user(pop.person(), groups=[RIGHTSIZE_GROUP])
        pop.active(user)
    # 400 named actions: over-granted, yet neither a wildcard nor an escalation (not a risky policy)
    pop.boundary("risky_permission_set", "permission_set", RIGHTSIZE_SET, None, {"granted": len(granted)})


def _user(pop: Population, account: str, name: str, *, groups=None, inline=None):
    user = service_user(pop.world, account, name, "monitor", pop.clock, pop.roster, grouped=False)
    user.groups = list(groups or [])
    user.inline = dict(inline or {})
    pop.world.iam_users.append(user)
    return user
