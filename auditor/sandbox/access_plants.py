"""Plants in the shape of Identity Center access: what is granted, to whom, where, and how.

``shape_identity_center`` adds the permission sets, groups and assignments
the plants need before any user exists, because a user's sign-in sessions
are drawn from what they hold. The other planters add one person each.
"""

from __future__ import annotations

from auditor.sandbox.people import AWS_DEPARTMENTS, DEPARTMENTS
from auditor.sandbox.plan import UNUSED_ASSIGNMENT_DAYS, AssignmentPlan, PermissionSetPlan
from auditor.sandbox.population import Population, iso

ONCALL_GROUP = "platform-oncall"
EMPTY_GROUP = "qa-automation"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# Inline policies a reviewer should see: a whole service and PassRole on everything (medium), and IAM write
# with PassRole on everything, which lets a holder make itself administrator (high).
DATA_PIPELINE_OPS = _doc(
    {"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:*"], "Resource": "*"},
    {
        "Sid": "Jobs",
        "Effect": "Allow",
        "Action": ["glue:StartJobRun", "glue:GetJobRuns", "athena:StartQueryExecution", "athena:GetQueryExecution"],
        "Resource": "*",
    },
    {"Sid": "JobRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"},
)
SERVERLESS_DEPLOYER = _doc(
    {"Sid": "Functions", "Effect": "Allow", "Action": ["lambda:*"], "Resource": "*"},
    {
        "Sid": "FunctionRoles",
        "Effect": "Allow",
        "Action": ["iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole", "iam:GetRole"],
        "Resource": "*",
    },
)


def _production(pop: Population) -> list[str]:
    return [a.key for a in pop.world.accounts_in("production")]


def _non_production(pop: Population, *environments: str) -> list[str]:
    keys = [a.key for a in pop.world.accounts_in(*environments)]
    return keys or [a.key for a in pop.world.accounts_in("development", "staging", "sandbox")]


def _names(pop: Population, keys: list[str]) -> list[str]:
    """Account names, as the organisation lists them (plans know accounts by key until they are built)."""
    return [pop.world.account(key).name for key in keys]


def shape_identity_center(pop: Population, few: int) -> None:
    """Risky and unassigned permission sets, an empty group that keeps its grants, the on-call group."""
    world, clock = pop.world, pop.clock
    risky = [
        (
            PermissionSetPlan(
                "DataPipelineOps",
                "Run and repair the data pipelines",
                "PT8H",
                clock.between(world.idc_created, clock.ago(200)),
                inline=DATA_PIPELINE_OPS,
                calls="data",
            ),
            "data",
            [a.key for a in world.accounts if "data" in a.key] or _non_production(pop, "development"),
        ),
        (
            PermissionSetPlan(
                "ServerlessDeployer",
                "Deploy Lambda functions and create their execution roles",
                "PT8H",
                clock.between(world.idc_created, clock.ago(200)),
                inline=SERVERLESS_DEPLOYER,
                calls="developer",
            ),
            DEPARTMENTS["platform"].group,
            _non_production(pop, "development"),
        ),
    ]
    for permission_set, group, accounts in risky[:few]:
        world.permission_sets.append(permission_set)
        world.assignments += [AssignmentPlan(key, permission_set.name, "GROUP", group) for key in accounts]
        pop.plant(
            "risky_permission_set",
            "permission_set",
            permission_set.name,
            None,
            {"group": group, "accounts": _names(pop, accounts), "inline_policy": permission_set.inline},
        )

    world.groups[EMPTY_GROUP] = "QA automation engineers (the team merged into engineering)"
    accounts = _non_production(pop, "staging", "development")
    world.assignments += [AssignmentPlan(key, "DeveloperAccess", "GROUP", EMPTY_GROUP) for key in accounts]
    pop.plant(
        "empty_group_with_assignments",
        "idc_group",
        EMPTY_GROUP,
        None,
        {"permission_set": "DeveloperAccess", "accounts": _names(pop, accounts), "members": 0},
    )

    world.permission_sets.append(
        PermissionSetPlan(
            "LegacyDataExport",
            "Read the exported data during the 2023 migration",
            "PT4H",
            clock.between(world.idc_created, clock.ago(500)),
            [S3_READ_ONLY],
            calls="readonly",
        )
    )
    pop.plant(
        "unassigned_permission_set",
        "permission_set",
        "LegacyDataExport",
        None,
        {"managed_policies": [S3_READ_ONLY], "assignments": 0},
    )

    world.groups[ONCALL_GROUP] = "Platform on-call: administrator in production during incidents"
    world.department_groups.setdefault("platform", []).append(ONCALL_GROUP)
    world.assignments += [AssignmentPlan(key, "AdministratorAccess", "GROUP", ONCALL_GROUP) for key in _production(pop)]


def plant_admin_access(pop: Population) -> None:
    """A platform engineer on the on-call rota: administrator in production, the inventory's subject."""
    person = pop.person("platform")
    user = pop.idc_user(person, groups=[DEPARTMENTS["platform"].group, ONCALL_GROUP])
    pop.active(user)
    pop.plant(
        "admin_access",
        "idc_user",
        user.user_name,
        None,
        {
            "permission_set": "AdministratorAccess",
            "via_group": ONCALL_GROUP,
            "production_accounts": _names(pop, _production(pop)),
        },
    )


def _grouped_departments(pop: Population, *excluded: str) -> list[str]:
    return [d for d in AWS_DEPARTMENTS if d in pop.spec.departments and d not in excluded]


def plant_direct_user_assignment(pop: Population) -> None:
    """Read-only access in production granted directly to one person whose group does not grant it."""
    person = pop.person(pop.rng.choice(_grouped_departments(pop, "platform", "engineering", "support")))
    user = pop.idc_user(person)
    held = pop.entitlements(user)
    account = pop.rng.choice([k for k in _production(pop) if (k, "ReadOnlyAccess") not in held])
    pop.world.assignments.append(AssignmentPlan(account, "ReadOnlyAccess", "USER", user.user_name))
    pop.active(user)
    pop.plant(
        "direct_user_assignment",
        "idc_user",
        user.user_name,
        account,
        {"permission_set": "ReadOnlyAccess", "principal_type": "USER"},
    )


def plant_beyond_birthright(pop: Population) -> None:
    """A member of another department's group, without having moved (no previous department)."""
    department = pop.rng.choice(_grouped_departments(pop, "platform"))
    own = DEPARTMENTS[department].group
    others = [DEPARTMENTS[d].group for d in _grouped_departments(pop, "platform", department)]
    extra = pop.rng.choice([g for g in others if g and g != own])
    person = pop.person(department)
    user = pop.idc_user(person, groups=[own, extra])
    pop.active(user)
    pop.plant(
        "beyond_birthright",
        "idc_user",
        user.user_name,
        None,
        {"department": department, "group": extra, "expected_groups": [own]},
    )


def plant_assignment_unused(pop: Population) -> None:
    """An engineer who works in the development accounts and never opens production read-only."""
    person = pop.person("engineering", joined_days_ago=pop.rng.uniform(300, 1500))
    user = pop.idc_user(person, created=pop.clock.ago(pop.rng.uniform(UNUSED_ASSIGNMENT_DAYS + 60, 290)))
    never = pop.rng.choice([p for p in pop.entitlements(user) if p[1] == "ReadOnlyAccess"])
    pop.active(user, never=never)
    pop.plant(
        "assignment_unused",
        "idc_user",
        user.user_name,
        never[0],
        {"permission_set": never[1], "via_group": DEPARTMENTS["engineering"].group, "last_used": None},
    )


def plant_assignment_to_deleted_user(pop: Population) -> None:
    """A leaver whose user was deleted from the identity store while a direct assignment stayed behind.

    Identity Center keeps such an assignment and lists it with the deleted
    user's id, which nothing in the directory resolves any more.
    """
    person = pop.person(pop.rng.choice(_grouped_departments(pop, "platform")))
    days = pop.rng.uniform(20, 90)
    person.status, person.end_date = "terminated", pop.clock.day(days)
    user = pop.idc_user(person, groups=[])
    account = pop.rng.choice(_non_production(pop, "staging", "development"))
    pop.world.assignments.append(AssignmentPlan(account, "DeveloperAccess", "USER", user.user_name))
    pop.active(user, until=pop.clock.ago(days + 1), last_within=3)
    user.deleted = True
    pop.plant(
        "assignment_to_deleted_user",
        "idc_user",
        user.user_name,
        account,
        {
            "user_name": user.user_name,
            "permission_set": "DeveloperAccess",
            "principal_type": "USER",
            "end_date": iso(person.end_date),
        },
        user_id_of=user.user_name,
    )
