import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from moto.identitystore.responses import IdentityStoreResponse
from moto.ssoadmin.responses import SSOAdminResponse

from auditor import snapshot as snapshots
from auditor.analyze import analyze
from auditor.aws import AwsContext
from auditor.collect.identity_center import (
    PER_ACCOUNT,
    PER_PERMISSION_SET,
    PER_PRINCIPAL,
    STRATEGIES,
    TABLES,
    choose_strategy,
    collect_identity_center,
    switch_to_principals,
)
from auditor.collect.organizations import collect_organizations
from auditor.config import defaults
from auditor.progress import Progress
from auditor.snapshot import AttributeGap

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
AS_OF = datetime(2030, 1, 1, tzinfo=UTC)  # after every creation time moto stamps
INLINE = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})


@dataclass
class World:
    accounts: list
    members: list[str]
    users: dict[str, str]
    groups: dict[str, str]
    permission_sets: dict[str, str]


@pytest.fixture
def world(ctx, make_organization, idc) -> World:
    """Two members; alice and bob in admins, carol in readers; Admin and ReadOnly permission sets."""
    estate = make_organization(2)
    _, organization = collect_organizations(ctx, Progress())
    alice = idc.user(
        "alice",
        emails=[
            {"Value": "alice.home@example.net", "Type": "home"},
            {"Value": "alice@example.com", "Type": "work", "Primary": True},
        ],
        Title="Engineer",
    )
    bob = idc.user("bob", emails=[{"Value": "bob@example.com", "Type": "work"}])
    carol = idc.user("carol")
    admins = idc.group("admins", [alice, bob])
    readers = idc.group("readers", [carol])
    admin = idc.permission_set(
        "Admin", [ADMIN_POLICY], Description="Full access", SessionDuration="PT8H", Tags=[{"Key": "tier", "Value": "0"}]
    )
    ids = {"InstanceArn": idc.instance_arn, "PermissionSetArn": admin}
    idc.sso.attach_customer_managed_policy_reference_to_permission_set(
        **ids, CustomerManagedPolicyReference={"Name": "Deploy", "Path": "/ops/"}
    )
    idc.sso.put_inline_policy_to_permission_set(**ids, InlinePolicy=INLINE)
    idc.sso.put_permissions_boundary_to_permission_set(
        **ids, PermissionsBoundary={"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/"}}
    )
    read_only = idc.permission_set("ReadOnly", [READ_ONLY_POLICY])
    idc.assign(estate.members[0], admin, "GROUP", admins)
    idc.assign(estate.members[0], read_only, "GROUP", readers)
    idc.assign(estate.members[1], read_only, "GROUP", readers)
    idc.assign(estate.members[1], read_only, "USER", carol)
    return World(
        accounts=organization.accounts,
        members=estate.members,
        users={"alice": alice, "bob": bob, "carol": carol},
        groups={"admins": admins, "readers": readers},
        permission_sets={"Admin": admin, "ReadOnly": read_only},
    )


def expected_assignments(w: World) -> set[tuple]:
    m0, m1 = w.members
    return {
        (m0, w.permission_sets["Admin"], "GROUP", w.groups["admins"]),
        (m0, w.permission_sets["ReadOnly"], "GROUP", w.groups["readers"]),
        (m1, w.permission_sets["ReadOnly"], "GROUP", w.groups["readers"]),
        (m1, w.permission_sets["ReadOnly"], "USER", w.users["carol"]),
    }


def assignment_set(result) -> set[tuple]:
    return {
        (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id)
        for a in result.tables["account_assignments"]
    }


def test_every_table_from_the_default_instance(ctx, world):
    progress = Progress()
    result = collect_identity_center(ctx, world.accounts, progress)

    users = {u.user_name: u for u in result.tables["idc_users"]}
    assert set(users) == {"alice", "bob", "carol"}
    alice = users["alice"]
    assert (alice.user_id, alice.display_name, alice.title) == (world.users["alice"], "Alice", "Engineer")
    assert alice.email == "alice@example.com"  # the primary one, though listed second
    assert users["bob"].email == "bob@example.com"  # no primary: the first one

    assert {(g.display_name, g.description) for g in result.tables["idc_groups"]} == {
        ("admins", "admins group"),
        ("readers", "readers group"),
    }
    assert {(m.group_id, m.user_id) for m in result.tables["idc_memberships"]} == {
        (world.groups["admins"], world.users["alice"]),
        (world.groups["admins"], world.users["bob"]),
        (world.groups["readers"], world.users["carol"]),
    }
    assert all(m.membership_id for m in result.tables["idc_memberships"])

    sets = {p.name: p for p in result.tables["permission_sets"]}
    admin = sets["Admin"]
    assert admin.arn == world.permission_sets["Admin"]
    assert admin.description == "Full access"
    assert admin.session_duration == "PT8H"
    assert admin.created_at is not None and admin.created_at.tzinfo is not None
    assert admin.managed_policies == [ADMIN_POLICY]
    assert admin.customer_managed_policies == ["/ops/Deploy"]
    assert json.loads(admin.inline_policy) == json.loads(INLINE)
    assert admin.permissions_boundary == {"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/"}}
    assert admin.tags == {"tier": "0"}
    read_only = sets["ReadOnly"]
    assert read_only.managed_policies == [READ_ONLY_POLICY]
    assert (
        read_only.customer_managed_policies,
        read_only.inline_policy,
        read_only.permissions_boundary,
        read_only.tags,
    ) == ([], None, None, {})

    assert assignment_set(result) == expected_assignments(world)
    assert len(result.tables["account_assignments"]) == 4
    [status] = result.statuses
    assert (status.source, status.account_id, status.status, status.error) == ("identity_center", None, "ok", None)
    assert status.detail["instance_arn"].startswith("arn:aws:sso:::instance/")
    assert progress.tasks["idc permission sets"] == [2, 2]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_finds_the_same_assignments(ctx, world, strategy):
    result = collect_identity_center(ctx, world.accounts, Progress(), strategy=strategy)

    assert assignment_set(result) == expected_assignments(world)
    assert result.statuses[0].detail["assignment_strategy"] == strategy
    assert result.statuses[0].status == "ok"


def test_user_status_and_creation_time_only_when_the_store_returns_them(ctx, world, identity_store_users_with):
    created = datetime(2023, 4, 5, 6, 7, 8, tzinfo=UTC)
    identity_store_users_with(
        {
            "alice": {"UserStatus": "ENABLED", "CreatedAt": created.timestamp()},
            "bob": {"UserStatus": "DISABLED", "CreatedAt": None},
            "carol": {"UserStatus": None, "CreatedAt": None},
        }
    )

    result = collect_identity_center(ctx, world.accounts, Progress())

    users = {u.user_name: u for u in result.tables["idc_users"]}
    assert (users["alice"].status, users["alice"].created_at) == ("ENABLED", created)
    assert users["alice"].created_at.tzinfo is not None
    assert (users["bob"].status, users["bob"].created_at) == ("DISABLED", None)
    assert (users["carol"].status, users["carol"].created_at) == (None, None)  # the store did not say


def test_every_page_of_users_groups_and_memberships(ctx, make_organization, idc):
    make_organization(1)
    _, organization = collect_organizations(ctx, Progress())
    user_ids = [idc.user(f"user{n:02d}") for n in range(55)]
    everyone = idc.group("everyone", user_ids)
    also = idc.group("also-everyone", user_ids)
    groups = [everyone, also] + [idc.group(f"empty{n}") for n in range(11)]

    result = collect_identity_center(ctx, organization.accounts, Progress(), page_size=10)

    assert sorted(u.user_id for u in result.tables["idc_users"]) == sorted(user_ids)
    assert sorted(g.group_id for g in result.tables["idc_groups"]) == sorted(groups)
    memberships = {(m.group_id, m.user_id) for m in result.tables["idc_memberships"]}
    assert len(result.tables["idc_memberships"]) == 110
    assert memberships == {(g, u) for g in (everyone, also) for u in user_ids}
    assert ctx.count("ListUsers") == 6  # 10 per page
    assert ctx.count("ListGroups") == 2
    assert ctx.count("ListGroupMemberships") >= 2 * 6 + 11
    assert result.statuses[0].status == "ok"


def test_no_instance_is_failed_with_no_tables(ctx, rewrite_response):
    rewrite_response(SSOAdminResponse, "list_instances", lambda body, _: {"Instances": []})

    result = collect_identity_center(ctx, [], Progress())

    assert result.tables == {}
    [status] = result.statuses
    assert status.status == "failed"
    assert status.error.startswith("NoInstance: ")
    assert status.error.endswith("(sso-admin, ListInstances)")


def test_denied_listing_instances_is_failed(ctx, fail_call):
    fail_call(SSOAdminResponse, "list_instances", lambda r: True, "AccessDeniedException", "not authorized")

    result = collect_identity_center(ctx, [], Progress())

    assert result.tables == {}
    assert result.statuses[0].status == "failed"
    assert result.statuses[0].error == "AccessDeniedException: not authorized (sso-admin, ListInstances)"


@pytest.mark.parametrize(
    ("accounts", "permission_sets", "principals", "expected"),
    [
        (200, 30, 1500, PER_PERMISSION_SET),  # many accounts, few permission sets
        (3, 40, 1500, PER_ACCOUNT),  # few accounts, many permission sets
        (500, 50, 15, PER_PRINCIPAL),  # a small identity store in a large organisation
        (5, 5, None, PER_ACCOUNT),  # equal base cost: per account; principals unknown
        (5, None, 2, PER_PRINCIPAL),
        (9, None, None, PER_ACCOUNT),  # the permission set listing failed
    ],
)
def test_the_strategy_with_the_fewest_calls(accounts, permission_sets, principals, expected):
    assert choose_strategy(accounts, permission_sets, principals) == expected


def test_switching_to_principals_once_the_pairs_are_known():
    assert switch_to_principals(n_pairs=40, n_principals=12)
    assert not switch_to_principals(n_pairs=12, n_principals=12)
    assert not switch_to_principals(n_pairs=40, n_principals=None)


def build(idc, members, n_permission_sets, n_users, grants):
    """Permission sets ps0.., users u0..; ``grants`` = (member index, ps index, user index)."""
    arns = [idc.permission_set(f"ps{n}") for n in range(n_permission_sets)]
    users = [idc.user(f"u{n}") for n in range(n_users)]
    for member, ps, user in grants:
        idc.assign(members[member], arns[ps], "USER", users[user])
    return len(grants)


@pytest.fixture
def six_accounts(ctx, make_organization):
    estate = make_organization(5)
    _, organization = collect_organizations(ctx, Progress())
    return estate.members, organization.accounts


def test_few_permission_sets_are_walked_per_permission_set(ctx, idc, six_accounts):
    members, accounts = six_accounts  # A = 6
    n = build(idc, members, 2, 9, [(0, 0, 0), (1, 0, 1), (2, 1, 2)])  # P = 2, U = 9, N = 3

    result = collect_identity_center(ctx, accounts, Progress())

    assert result.statuses[0].detail["assignment_strategy"] == PER_PERMISSION_SET
    assert len(result.tables["account_assignments"]) == n
    assert ctx.count("ListAccountsForProvisionedPermissionSet") == 2
    assert ctx.count("ListAccountAssignments") == 3
    assert ctx.count("ListPermissionSetsProvisionedToAccount") == 0
    assert ctx.count("ListAccountAssignmentsForPrincipal") == 0


def test_few_accounts_are_walked_per_account(ctx, make_organization, idc):
    estate = make_organization(1)  # A = 2
    _, organization = collect_organizations(ctx, Progress())
    n = build(idc, estate.members, 4, 9, [(0, 0, 0), (0, 1, 1), (0, 3, 2)])  # P = 4, U = 9, N = 3

    result = collect_identity_center(ctx, organization.accounts, Progress())

    assert result.statuses[0].detail["assignment_strategy"] == PER_ACCOUNT
    assert len(result.tables["account_assignments"]) == n
    assert ctx.count("ListPermissionSetsProvisionedToAccount") == 2
    assert ctx.count("ListAccountAssignments") == 3
    assert ctx.count("ListAccountsForProvisionedPermissionSet") == 0


def test_few_principals_are_walked_per_principal(ctx, idc, six_accounts):
    members, accounts = six_accounts  # A = 6
    n = build(idc, members, 6, 2, [(m, p, m % 2) for m in range(5) for p in range(6)])  # P = 6, U = 2, N = 30

    result = collect_identity_center(ctx, accounts, Progress())

    assert result.statuses[0].detail["assignment_strategy"] == PER_PRINCIPAL
    assert len(result.tables["account_assignments"]) == n
    assert ctx.count("ListAccountAssignmentsForPrincipal") == 2
    assert ctx.count("ListAccountAssignments") == 0
    assert ctx.count("ListPermissionSetsProvisionedToAccount") == 0


def test_many_pairs_switch_to_principals_after_the_base_listing(ctx, idc, six_accounts):
    members, accounts = six_accounts  # A = 6
    n = build(idc, members, 8, 7, [(m, p, (m + p) % 7) for m in range(5) for p in range(8)])  # P = 8, U = 7, N = 40

    result = collect_identity_center(ctx, accounts, Progress())

    assert result.statuses[0].detail["assignment_strategy"] == f"{PER_ACCOUNT} then {PER_PRINCIPAL}"
    assert len(result.tables["account_assignments"]) == n
    assert ctx.count("ListPermissionSetsProvisionedToAccount") == 6
    assert ctx.count("ListAccountAssignmentsForPrincipal") == 7
    assert ctx.count("ListAccountAssignments") == 0


def test_principals_are_not_walked_outside_the_management_account(ctx, idc, six_accounts):
    members, accounts = six_accounts
    build(idc, members, 6, 2, [(0, 0, 0)])
    delegated = [
        a.__class__(**{**{f: getattr(a, f) for f in a.__struct_fields__}, "is_management": False}) for a in accounts
    ]  # the caller is then a delegated administrator

    result = collect_identity_center(ctx, delegated, Progress())

    assert result.statuses[0].detail["assignment_strategy"] != PER_PRINCIPAL
    assert ctx.count("ListAccountAssignmentsForPrincipal") == 0
    assert len(result.tables["account_assignments"]) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_duplicates_from_the_api_are_dropped(ctx, world, rewrite_response, strategy):
    def doubled(key):
        return lambda body, _: {**body, key: body.get(key, []) * 2}

    rewrite_response(SSOAdminResponse, "list_account_assignments", doubled("AccountAssignments"))
    rewrite_response(SSOAdminResponse, "list_account_assignments_for_principal", doubled("AccountAssignments"))
    rewrite_response(SSOAdminResponse, "list_permission_sets_provisioned_to_account", doubled("PermissionSets"))
    rewrite_response(SSOAdminResponse, "list_accounts_for_provisioned_permission_set", doubled("AccountIds"))

    result = collect_identity_center(ctx, world.accounts, Progress(), strategy=strategy)

    assert len(result.tables["account_assignments"]) == 4
    assert assignment_set(result) == expected_assignments(world)


def test_one_account_failing_is_partial_and_the_rest_goes_on(ctx, world, fail_call):
    broken = world.members[0]
    fail_call(
        SSOAdminResponse,
        "list_permission_sets_provisioned_to_account",
        lambda r: r._get_param("AccountId") == broken,
        "AccessDeniedException",
        "not authorized",
    )

    result = collect_identity_center(ctx, world.accounts, Progress(), strategy=PER_ACCOUNT)

    [status] = result.statuses
    assert status.status == "partial"
    assert status.error == (
        f"AccessDeniedException: not authorized (sso-admin, ListPermissionSetsProvisionedToAccount)"
        f" for account {broken}"
    )
    assert assignment_set(result) == {a for a in expected_assignments(world) if a[0] != broken}
    assert len(result.tables["idc_users"]) == 3  # the other tables are whole


def test_one_pair_failing_names_account_and_permission_set(ctx, world, fail_call):
    broken = world.members[1]
    fail_call(
        SSOAdminResponse,
        "list_account_assignments",
        lambda r: r._get_param("AccountId") == broken,
        "AccessDeniedException",
        "not authorized",
    )

    result = collect_identity_center(ctx, world.accounts, Progress(), strategy=PER_PERMISSION_SET)

    [status] = result.statuses
    assert status.status == "partial"
    assert f"for account {broken} and permission set {world.permission_sets['ReadOnly']}" in status.error
    assert assignment_set(result) == {a for a in expected_assignments(world) if a[0] != broken}


def test_a_permission_set_detail_failing_keeps_the_permission_set(ctx, world, fail_call):
    admin = world.permission_sets["Admin"]
    fail_call(
        SSOAdminResponse,
        "list_tags_for_resource",
        lambda r: r._get_param("ResourceArn") == admin,
        "AccessDeniedException",
        "not authorized",
    )

    result = collect_identity_center(ctx, world.accounts, Progress())

    [status] = result.statuses
    assert status.status == "partial"
    assert status.error == (
        f"AccessDeniedException: not authorized (sso-admin, ListTagsForResource) for permission set {admin}"
    )
    sets = {p.name: p for p in result.tables["permission_sets"]}
    assert sets["Admin"].managed_policies == [ADMIN_POLICY] and sets["Admin"].tags == {}
    assert assignment_set(result) == expected_assignments(world)


def test_nothing_readable_is_failed(ctx, world, fail_call):
    for response_cls, method in (
        (IdentityStoreResponse, "list_users"),
        (IdentityStoreResponse, "list_groups"),
        (SSOAdminResponse, "list_permission_sets"),
        (SSOAdminResponse, "list_permission_sets_provisioned_to_account"),
    ):
        fail_call(response_cls, method, lambda r: True, "AccessDeniedException", "not authorized")

    result = collect_identity_center(ctx, world.accounts, Progress())

    [status] = result.statuses
    assert status.status == "failed"
    assert "(identitystore, ListUsers)" in status.error and "(sso-admin, ListPermissionSets)" in status.error
    assert len(status.detail["errors"]) == 2 + 1 + len(world.accounts)
    assert all(records == [] for records in result.tables.values())


# --- completeness per table and per optional attribute ---------------------------------------

OPTIONAL_FAILURES = [("AccessDeniedException", 400), ("InternalServerException", 500)]


def _fail_tags_and_boundary(fail_call, code: str, http_status: int, arns: set[str]) -> str:
    """ListTagsForResource and GetPermissionsBoundaryForPermissionSet fail for ``arns``; returns the message."""
    message = "the caller may not read this"
    for method, parameter in (
        ("list_tags_for_resource", "ResourceArn"),
        ("get_permissions_boundary_for_permission_set", "PermissionSetArn"),
    ):
        fail_call(SSOAdminResponse, method, lambda r, p=parameter: r._get_param(p) in arns, code, message, http_status)
    return message


def _single_attempt(ctx: AwsContext) -> AwsContext:
    """One attempt per call: a retried HTTP 500 would wait out botocore's backoff on the wall clock."""
    return AwsContext(session=ctx.session, region=ctx.region, total_attempts=1)


@pytest.mark.parametrize(("code", "http_status"), OPTIONAL_FAILURES, ids=["access-denied", "http-500"])
def test_failed_tags_and_boundary_are_attribute_gaps_and_every_table_stays_complete(
    ctx, world, fail_call, code, http_status
):
    admin = world.permission_sets["Admin"]
    message = _fail_tags_and_boundary(fail_call, code, http_status, {admin})

    result = collect_identity_center(_single_attempt(ctx), world.accounts, Progress())

    [status] = result.statuses
    assert status.status == "partial"  # something could not be read; the detail says what
    assert status.tables == dict.fromkeys(TABLES, "complete")
    assert status.attributes == [
        AttributeGap(
            what="permission_set.permissions_boundary",
            error=f"{code}: {message} (sso-admin, GetPermissionsBoundaryForPermissionSet)",
            objects=[admin],
        ),
        AttributeGap(
            what="permission_set.tags", error=f"{code}: {message} (sso-admin, ListTagsForResource)", objects=[admin]
        ),
    ]
    assert len(status.detail["errors"]) == 2
    sets = {p.name: p for p in result.tables["permission_sets"]}
    assert sets["Admin"].managed_policies == [ADMIN_POLICY] and sets["Admin"].inline_policy == INLINE
    assert assignment_set(result) == expected_assignments(world)


def test_a_failed_listing_marks_its_table_and_the_tables_that_hang_on_it(ctx, world, fail_call):
    broken = world.members[0]
    fail_call(IdentityStoreResponse, "list_groups", lambda r: True, "AccessDeniedException", "not authorized")
    fail_call(
        SSOAdminResponse,
        "list_permission_sets_provisioned_to_account",
        lambda r: r._get_param("AccountId") == broken,
        "AccessDeniedException",
        "not authorized",
    )

    result = collect_identity_center(ctx, world.accounts, Progress(), strategy=PER_ACCOUNT)

    [status] = result.statuses
    assert status.tables == {
        "idc_users": "complete",
        "idc_groups": "failed",
        "idc_memberships": "failed",  # no groups, no memberships
        "permission_sets": "complete",
        "account_assignments": "partial",  # one account's listing failed
    }
    assert status.attributes == []


def test_every_describe_failing_is_a_failed_permission_set_table(ctx, world, fail_call):
    fail_call(SSOAdminResponse, "describe_permission_set", lambda r: True, "AccessDeniedException", "no")

    [status] = collect_identity_center(ctx, world.accounts, Progress()).statuses

    assert status.tables["permission_sets"] == "failed"
    assert status.tables["account_assignments"] == "complete"


def test_no_instance_fails_every_table(ctx, rewrite_response):
    rewrite_response(SSOAdminResponse, "list_instances", lambda body, _: {"Instances": []})

    [status] = collect_identity_center(ctx, [], Progress()).statuses

    assert status.tables == dict.fromkeys(TABLES, "failed")


@pytest.mark.parametrize(("code", "http_status"), OPTIONAL_FAILURES, ids=["access-denied", "http-500"])
def test_hygiene_rules_still_fire_when_every_tag_and_boundary_read_fails(ctx, world, idc, fail_call, code, http_status):
    """The issue's case: one optional API failing must not silence the absence claims over whole tables."""
    read_only = world.permission_sets["ReadOnly"]
    forgotten = idc.permission_set("Forgotten")
    ghost = idc.group("ghost-team")
    idc.assign(world.members[0], read_only, "GROUP", ghost)
    dave = idc.user("dave")
    idc.assign(world.members[1], read_only, "USER", dave)
    idc.store.delete_user(IdentityStoreId=idc.store_id, UserId=dave)  # the assignment stays behind
    every_set = {*world.permission_sets.values(), forgotten}
    _fail_tags_and_boundary(fail_call, code, http_status, every_set)
    single = _single_attempt(ctx)

    organizations, _ = collect_organizations(single, Progress())
    identity_center = collect_identity_center(single, world.accounts, Progress())
    snapshot = snapshots.build([organizations, identity_center], AS_OF, AS_OF, "test")
    found = analyze(snapshot, defaults(), AS_OF)

    def fired(rule_id: str) -> list[str]:
        return sorted(f.principal.id for f in found if f.rule_id == rule_id)

    assert fired("idc-permission-set-unassigned") == [forgotten]
    assert fired("idc-group-empty-with-assignments") == [ghost]
    assert fired("idc-assignment-to-missing-principal") == [dave]
    status = snapshot.status_of("identity_center")
    assert status.status == "partial"
    assert {(gap.what, gap.error.split(":")[0], tuple(sorted(gap.objects))) for gap in status.attributes} == {
        ("permission_set.tags", code, tuple(sorted(every_set))),
        ("permission_set.permissions_boundary", code, tuple(sorted(every_set))),
    }
