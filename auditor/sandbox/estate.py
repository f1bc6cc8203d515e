"""The estate's skeleton for each size: accounts, Identity Center groups, permission sets,
group assignments, and each account's IAM (customer policies, groups, service users,
application roles) with their everyday, clean activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditor.sandbox.people import DEPARTMENTS, EXECUTIVE, Roster
from auditor.sandbox.plan import (
    AccountPlan,
    AssignmentPlan,
    Clock,
    IamGroupPlan,
    IamUserPlan,
    KeyPlan,
    PermissionSetPlan,
    PolicyPlan,
    RolePlan,
    World,
)

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"
ATHENA = "arn:aws:iam::aws:policy/AmazonAthenaFullAccess"
CLOUDWATCH_READ_ONLY = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"


@dataclass(frozen=True)
class AccountSpec:
    key: str
    environment: str
    ou: str | None
    kind: str  # management | web | data | general | security | logs | shared | sandbox


@dataclass(frozen=True)
class SizeSpec:
    accounts: tuple[AccountSpec, ...]
    people: int
    departments: tuple[str, ...]
    copies: int  # how many of each planted problem
    extra_boundaries: bool  # the HR-side boundary cases (notice period, leave, clean mover, offboarded)


_MGMT = AccountSpec("management", "production", None, "management")
EVERY_DEPARTMENT = ("engineering", "platform", "data", "security", "finance", "support", "sales", "people")
SIZES = {
    "tiny": SizeSpec(
        (
            _MGMT,
            AccountSpec("prod", "production", "Workloads", "web"),
            AccountSpec("dev", "development", "Workloads", "general"),
        ),
        people=40,
        departments=("engineering", "platform", "data", "finance"),
        copies=1,
        extra_boundaries=False,
    ),
    "small": SizeSpec(
        (
            _MGMT,
            AccountSpec("prod", "production", "Workloads", "web"),
            AccountSpec("staging", "staging", "Workloads", "general"),
            AccountSpec("dev", "development", "Workloads", "general"),
            AccountSpec("sandbox", "sandbox", "Sandbox", "sandbox"),
        ),
        people=75,
        departments=EVERY_DEPARTMENT,
        copies=2,
        extra_boundaries=True,
    ),
    "medium": SizeSpec(
        (
            _MGMT,
            AccountSpec("log-archive", "production", "Security", "logs"),
            AccountSpec("security-tooling", "production", "Security", "security"),
            AccountSpec("shared-services", "production", "Infrastructure", "shared"),
            AccountSpec("prod-web", "production", "Workloads", "web"),
            AccountSpec("prod-data", "production", "Workloads", "data"),
            AccountSpec("staging-web", "staging", "Workloads", "web"),
            AccountSpec("staging-data", "staging", "Workloads", "data"),
            AccountSpec("dev-web", "development", "Workloads", "general"),
            AccountSpec("dev-data", "development", "Workloads", "data"),
            AccountSpec("sandbox-alpha", "sandbox", "Sandbox", "sandbox"),
            AccountSpec("sandbox-beta", "sandbox", "Sandbox", "sandbox"),
        ),
        people=300,
        departments=EVERY_DEPARTMENT,
        copies=5,
        extra_boundaries=True,
    ),
    # the benchmarks' estate (bench/scale.py): three times medium's people, twice its accounts
    "large": SizeSpec(
        (
            _MGMT,
            AccountSpec("log-archive", "production", "Security", "logs"),
            AccountSpec("security-tooling", "production", "Security", "security"),
            AccountSpec("audit", "production", "Security", "security"),
            AccountSpec("shared-services", "production", "Infrastructure", "shared"),
            AccountSpec("network", "production", "Infrastructure", "shared"),
            AccountSpec("backup", "production", "Infrastructure", "shared"),
            *(
                AccountSpec(f"{stage}-{workload}", environment, "Workloads", kind)
                for stage, environment in (("prod", "production"), ("staging", "staging"), ("dev", "development"))
                for workload, kind in (("web", "web"), ("data", "data"), ("api", "general"), ("ml", "data"))
            ),
            AccountSpec("perf-web", "staging", "Workloads", "web"),
            *(
                AccountSpec(f"sandbox-{name}", "sandbox", "Sandbox", "sandbox")
                for name in ("alpha", "beta", "gamma", "delta")
            ),
        ),
        people=900,
        departments=EVERY_DEPARTMENT,
        copies=8,
        extra_boundaries=True,
    ),
}

EMERGENCY_GROUP = "emergency-access"
GROUP_DESCRIPTIONS = {
    "engineering": "Product engineers",
    "platform-admins": "Platform team: administers every account",
    "data": "Data engineering and analytics",
    "security": "Security team: audit access everywhere",
    "finance": "Finance and FinOps: billing in the management account",
    "support": "Customer support engineers",
    EMERGENCY_GROUP: "Break-glass identities only; membership is reviewed monthly",
}


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: list[str], resource: str = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


BILLING_INLINE = _doc(
    _allow(
        [
            "ce:Get*",
            "ce:Describe*",
            "ce:List*",
            "budgets:View*",
            "budgets:Describe*",
            "aws-portal:ViewBilling",
            "aws-portal:ViewUsage",
            "cur:DescribeReportDefinitions",
        ]
    )
)
DATA_ANALYST_POLICY = _doc(
    _allow(
        [
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "glue:GetDatabase*",
            "glue:GetTable*",
            "glue:GetPartitions",
        ]
    ),
    _allow(["s3:GetObject", "s3:ListBucket"], "arn:aws:s3:::*-datalake-*"),
)
DEPLOY_POLICY = _doc(
    _allow(
        [
            "cloudformation:*",
            "ecs:UpdateService",
            "ecs:Describe*",
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "lambda:UpdateFunctionCode",
            "lambda:GetFunction",
        ]
    ),
    _allow(["s3:PutObject", "s3:GetObject"], "arn:aws:s3:::*-artifacts/*"),
)
ETL_POLICY = _doc(
    _allow(["glue:StartJobRun", "glue:GetJobRuns", "athena:StartQueryExecution", "athena:GetQueryExecution"])
)
MONITOR_POLICY = _doc(
    _allow(["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms", "ec2:DescribeInstances", "logs:DescribeLogGroups"])
)
RUNTIME_POLICY = _doc(_allow(["ssm:GetParameter", "ssm:GetParameters", "kms:Decrypt", "secretsmanager:GetSecretValue"]))


def plan_accounts(world: World, spec: SizeSpec, roster: Roster, clock: Clock) -> None:
    slug = world.company.split()[0].lower()
    management_joined = clock.ago(clock.rng.uniform(1500, 2200))
    owners = {
        "management": "platform",
        "logs": "security",
        "security": "security",
        "shared": "platform",
        "web": "engineering",
        "data": "data",
        "general": "engineering",
        "sandbox": "engineering",
    }
    for account in spec.accounts:
        head = roster.heads.get(owners[account.kind]) or roster.heads["platform"]
        management = account.kind == "management"
        joined = management_joined if management else clock.ago(clock.rng.uniform(200, 1400))
        world.accounts.append(
            AccountPlan(
                key=account.key,
                name=f"{slug}-{account.key}",
                email=f"aws+{account.key}@{world.domain}",
                environment=account.environment,
                owner=head.email,
                joined=max(joined, management_joined),
                ou=account.ou,
                management=management,
            )
        )


def plan_identity_center(world: World, spec: SizeSpec, clock: Clock) -> None:
    world.department_groups[EXECUTIVE] = []
    for department in spec.departments:
        group = DEPARTMENTS[department].group
        world.department_groups[department] = [group] if group else []  # no group: no AWS access by birthright
        if group:
            world.groups[group] = GROUP_DESCRIPTIONS[group]
    world.groups[EMERGENCY_GROUP] = GROUP_DESCRIPTIONS[EMERGENCY_GROUP]

    def created() -> datetime:
        return clock.between(world.idc_created, clock.ago(400))

    world.permission_sets = [
        PermissionSetPlan(
            "AdministratorAccess", "Full administrative access", "PT4H", created(), [ADMIN], calls="admin"
        ),
        PermissionSetPlan(
            "ReadOnlyAccess", "Read-only access to every service", "PT8H", created(), [READ_ONLY], calls="readonly"
        ),
        PermissionSetPlan(
            "DeveloperAccess",
            "Power user without IAM, for product engineers",
            "PT8H",
            created(),
            [POWER_USER],
            calls="developer",
        ),
        PermissionSetPlan(
            "DataAnalyst",
            "Query the data lake with Athena and Glue",
            "PT8H",
            created(),
            [ATHENA],
            customer_managed=[("/", "DataPlatformAnalyst")],
            calls="data",
        ),
        PermissionSetPlan(
            "FinanceBilling", "Billing and cost data", "PT4H", created(), inline=BILLING_INLINE, calls="finance"
        ),
        PermissionSetPlan(
            "SecurityAudit", "Security review of configuration", "PT8H", created(), [SECURITY_AUDIT], calls="security"
        ),
        PermissionSetPlan(
            "BreakGlassAdmin",
            "Emergency administrator access; every use is an incident",
            "PT1H",
            created(),
            [ADMIN],
            calls="admin",
            tags={"managed-by": "terraform", "purpose": "break-glass"},
        ),
    ]
    assign = world.assignments.append
    for account in world.accounts:
        if "platform-admins" in world.groups:  # no standing administrator access in production
            production = account.environment == "production"
            assign(
                AssignmentPlan(
                    account.key, "DeveloperAccess" if production else "AdministratorAccess", "GROUP", "platform-admins"
                )
            )
        assign(AssignmentPlan(account.key, "BreakGlassAdmin", "GROUP", EMERGENCY_GROUP))
        if "security" in world.groups:
            assign(AssignmentPlan(account.key, "SecurityAudit", "GROUP", "security"))
        if account.management:
            if "finance" in world.groups:
                assign(AssignmentPlan(account.key, "FinanceBilling", "GROUP", "finance"))
            continue
        if account.environment == "production":
            assign(AssignmentPlan(account.key, "ReadOnlyAccess", "GROUP", "engineering"))
            if "support" in world.groups:
                assign(AssignmentPlan(account.key, "ReadOnlyAccess", "GROUP", "support"))
        elif account.key not in ("log-archive", "security-tooling"):
            assign(AssignmentPlan(account.key, "DeveloperAccess", "GROUP", "engineering"))
    for account in data_accounts(world):
        assign(AssignmentPlan(account.key, "DataAnalyst", "GROUP", "data"))


def data_accounts(world: World) -> list[AccountPlan]:
    keyed = [a for a in world.accounts if "data" in a.key]
    return keyed or [a for a in world.accounts if a.environment in ("production", "development") and not a.management]


SERVICE_USER_NAMES = {
    "web": [("svc-web-deploy", "deploy"), ("svc-web-monitoring", "monitor")],
    "data": [("svc-etl-runner", "etl")],
    "general": [("svc-ci", "deploy")],
    "shared": [("svc-artifacts-publisher", "deploy")],
}
ROLE_NAMES = {
    "management": [("ops-automation", "lambda.amazonaws.com")],
    "logs": [("log-lifecycle", "lambda.amazonaws.com")],
    "security": [("security-automation", "lambda.amazonaws.com")],
    "shared": [("ci-deploy", None)],
    "web": [("web-api-runtime", "ecs-tasks.amazonaws.com"), ("ci-deploy", None)],
    "data": [("etl-glue-runtime", "glue.amazonaws.com")],
    "general": [("app-runtime", "ecs-tasks.amazonaws.com")],
    "sandbox": [("sandbox-experiments", "lambda.amazonaws.com")],
}
# A workload's IAM user gets its permissions from the group of its kind of work, never directly.
GROUP_FOR_CALLS = {"deploy": "Deployers", "monitor": "Monitoring", "etl": "DataPipelines"}


def plan_iam(world: World, spec: SizeSpec, roster: Roster, clock: Clock) -> None:
    """Customer policies, groups, service users with fresh keys, and roles used every day."""
    kinds = {a.key: a.kind for a in spec.accounts}
    for account in world.accounts:
        kind = kinds[account.key]
        created = clock.between(account.joined, clock.ago(300))
        if account in data_accounts(world):
            world.policies.append(PolicyPlan(account.key, "DataPlatformAnalyst", created, DATA_ANALYST_POLICY))
        if account.management:
            plan_roles(world, account, ROLE_NAMES[kind], clock)
            continue
        world.policies.append(PolicyPlan(account.key, "DeployPipeline", created, DEPLOY_POLICY))
        world.iam_groups += [
            IamGroupPlan(account.key, "Admins", created, [ADMIN]),
            IamGroupPlan(account.key, "Deployers", created, ["policy/DeployPipeline"]),
            IamGroupPlan(account.key, "Monitoring", created, [CLOUDWATCH_READ_ONLY]),
            IamGroupPlan(account.key, "ReadOnly", created, [READ_ONLY]),
        ]
        if kind == "data":
            world.policies.append(PolicyPlan(account.key, "EtlPipeline", created, ETL_POLICY))
            world.iam_groups.append(IamGroupPlan(account.key, "DataPipelines", created, ["policy/EtlPipeline"]))
        for name, calls in SERVICE_USER_NAMES.get(kind, []):
            world.iam_users.append(service_user(world, account.key, name, calls, clock, roster))
        plan_roles(world, account, ROLE_NAMES[kind], clock)


def service_user(
    world: World,
    account_key: str,
    name: str,
    calls: str,
    clock: Clock,
    roster: Roster,
    key: KeyPlan | None = None,
    *,
    tags: dict[str, str] | None = None,
    grouped: bool = True,
) -> IamUserPlan:
    """A workload's IAM user: access key only, in its kind of work's group, tagged with its owner (by default
    the platform head) and workload; by default a clean, rotated key."""
    if key is None:
        created = clock.ago(clock.rng.uniform(15, 80))
        key = KeyPlan(created, clock.schedule(created, world.as_of, 1.5, last_within_days=3, weekdays_only=False))
    if tags is None:
        tags = {"owner": roster.heads["platform"].email, "workload": name.removeprefix("svc-")}
    return IamUserPlan(
        account_key=account_key,
        name=name,
        created=min(key.created, clock.ago(clock.rng.uniform(200, 600))),
        calls=calls,
        groups=[GROUP_FOR_CALLS[calls]] if grouped else [],
        keys=[key],
        tags=tags,
    )


def plan_roles(world: World, account: AccountPlan, roles: list[tuple[str, str | None]], clock: Clock) -> None:
    for name, service in roles:
        created = clock.between(account.joined, clock.ago(150))
        start = max(created, world.trail_start)
        world.roles.append(
            RolePlan(
                account_key=account.key,
                name=name,
                created=created,
                trust_service=service,
                calls="deploy" if service is None else "runtime",
                inline={f"{name}-policy": DEPLOY_POLICY if service is None else RUNTIME_POLICY},
                sessions=clock.schedule(start, world.as_of, 1, last_within_days=1, weekdays_only=False),
                description=f"Workload role {name}",
            )
        )
