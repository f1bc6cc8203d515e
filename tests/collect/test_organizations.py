from datetime import UTC

from moto.organizations.responses import OrganizationsResponse

from auditor.collect.organizations import collect_organizations
from auditor.progress import Progress

MANAGEMENT = "123456789012"


def test_accounts_with_tags_and_the_management_account(ctx, make_organization):
    estate = make_organization(2, tags={0: {"owner": "ana@example.com", "environment": "prod"}})
    progress = Progress()

    result, organization = collect_organizations(ctx, progress)

    accounts = {a.account_id: a for a in result.tables["accounts"]}
    assert set(accounts) == set(estate.all)
    first = accounts[estate.members[0]]
    assert (first.name, first.email, first.status) == ("member-0", "member-0@example.com", "ACTIVE")
    assert first.tags == {"owner": "ana@example.com", "environment": "prod"}
    assert first.joined is not None and first.joined.tzinfo is not None
    assert first.joined.utcoffset() == UTC.utcoffset(None)
    assert accounts[estate.members[1]].tags == {}
    assert [a.account_id for a in accounts.values() if a.is_management] == [MANAGEMENT]
    assert organization.management_account_id == MANAGEMENT
    assert organization.organization_id and organization.organization_id.startswith("o-")
    assert organization.accounts == result.tables["accounts"]
    [status] = result.statuses
    assert (status.source, status.account_id, status.status, status.error) == ("organizations", None, "ok", None)
    assert progress.tasks["organizations"] == [3, 3]


def test_every_page_of_accounts_is_read(ctx, make_organization):
    make_organization(24)  # 25 accounts: ListAccounts answers at most 20 per page

    result, _ = collect_organizations(ctx, Progress())

    assert len(result.tables["accounts"]) == 25
    assert len({a.account_id for a in result.tables["accounts"]}) == 25
    assert ctx.count("ListAccounts") == 2
    assert ctx.count("ListTagsForResource") == 25


def test_not_in_an_organization_is_a_single_account_estate(ctx):
    result, organization = collect_organizations(ctx, Progress())

    assert organization.organization_id is None
    assert organization.management_account_id == MANAGEMENT
    [account] = result.tables["accounts"]
    assert account.account_id == MANAGEMENT
    assert not account.is_management
    [status] = result.statuses
    assert status.status == "ok" and status.error is None
    assert status.detail["single_account"] is True
    assert "not a member of an organization" in status.detail["note"]


def test_no_permission_to_describe_the_organization_is_failed_with_the_caller_account(
    ctx, make_organization, fail_call
):
    make_organization(2)
    fail_call(
        OrganizationsResponse,
        "describe_organization",
        lambda r: True,
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )

    result, organization = collect_organizations(ctx, Progress())

    [status] = result.statuses
    assert status.status == "failed"
    assert status.error == (
        "AccessDeniedException: You don't have permissions to access this resource. "
        "(organizations, DescribeOrganization)"
    )
    assert [a.account_id for a in result.tables["accounts"]] == [MANAGEMENT]
    assert organization.organization_id is None


def test_no_permission_to_list_accounts_keeps_what_describe_said(ctx, make_organization, fail_call):
    make_organization(2)
    fail_call(OrganizationsResponse, "list_accounts", lambda r: True, "AccessDeniedException", "denied")

    result, organization = collect_organizations(ctx, Progress())

    [status] = result.statuses
    assert status.status == "failed"
    assert status.error == "AccessDeniedException: denied (organizations, ListAccounts)"
    [account] = result.tables["accounts"]
    assert account.account_id == MANAGEMENT and account.is_management
    assert organization.organization_id.startswith("o-")


def test_tags_failing_for_one_account_is_partial_and_names_it(ctx, make_organization, fail_call):
    estate = make_organization(2, tags={1: {"owner": "bo@example.com"}})
    broken = estate.members[0]
    fail_call(
        OrganizationsResponse,
        "list_tags_for_resource",
        lambda r: r._get_param("ResourceId") == broken,
        "AccessDeniedException",
        "not authorized to list tags",
    )

    result, _ = collect_organizations(ctx, Progress())

    [status] = result.statuses
    assert status.status == "partial"
    assert f"account {broken}" in status.error
    assert "(organizations, ListTagsForResource)" in status.error
    accounts = {a.account_id: a for a in result.tables["accounts"]}
    assert set(accounts) == set(estate.all)  # the account is kept, only its tags are missing
    assert accounts[estate.members[1]].tags == {"owner": "bo@example.com"}


def test_ou_tree_gives_each_account_its_path_from_the_root():
    import boto3
    from moto import mock_aws

    from auditor.aws import AwsContext
    from auditor.collect.organizations import collect_organizations
    from auditor.progress import Progress

    with mock_aws():
        org = boto3.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        workloads = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
        prod = org.create_organizational_unit(ParentId=workloads, Name="Prod")["OrganizationalUnit"]["Id"]
        status = org.create_account(Email="p@example.com", AccountName="prod")["CreateAccountStatus"]
        account_id = status["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=prod)
        result, _ = collect_organizations(AwsContext.from_environment(region="us-east-1"), Progress())
    (status,) = result.statuses
    assert status.detail["account_ous"][account_id] == [root, workloads, prod]
    assert status.detail["ou_names"][prod] == "Prod"


def test_an_account_whose_tags_fail_is_listed_and_only_its_tags_are_a_gap(ctx, make_organization, fail_call):
    estate = make_organization(2)
    broken = estate.members[0]
    fail_call(
        OrganizationsResponse,
        "list_tags_for_resource",
        lambda r: r._get_param("ResourceId") == broken,
        "AccessDeniedException",
        "not authorized to list tags",
    )

    [status] = collect_organizations(ctx, Progress())[0].statuses

    assert status.tables == {"accounts": "complete"}
    [gap] = status.attributes
    assert (gap.what, gap.objects) == ("account.tags", [broken])
    assert gap.error == "AccessDeniedException: not authorized to list tags (organizations, ListTagsForResource)"


def test_the_accounts_table_is_failed_when_the_organisation_cannot_be_listed(ctx, make_organization, fail_call):
    make_organization(2)
    fail_call(OrganizationsResponse, "list_accounts", lambda r: True, "AccessDeniedException", "denied")

    [status] = collect_organizations(ctx, Progress())[0].statuses

    assert status.tables == {"accounts": "failed"}


def test_outside_an_organisation_the_one_account_is_the_complete_table(ctx):
    [status] = collect_organizations(ctx, Progress())[0].statuses

    assert status.tables == {"accounts": "complete"}
