"""AWS Organizations: the accounts of the estate, with their tags.

Everything else is collected per account from this list, so the collector
always returns an estate: when the caller is not in an organisation, or may
not read it, the estate is the caller's own account and the status says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.aws import AwsContext, describe_error, error_code, pages, utc
from auditor.collect.completeness import Completeness
from auditor.collect.concurrency import fan_out
from auditor.collect.registry import collector
from auditor.model import Account
from auditor.progress import Progress
from auditor.snapshot import COMPLETE, FAILED, SourceResult, SourceStatus

SOURCE = "organizations"
ACCOUNTS_PAGE = 20  # ListAccounts' largest MaxResults: fewest calls
PERMISSIONS = (
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "organizations:ListTagsForResource",
    "organizations:ListRoots",
    "organizations:ListOrganizationalUnitsForParent",
    "organizations:ListAccountsForParent",
    "sts:GetCallerIdentity",
)


@dataclass(frozen=True)
class Organization:
    """The estate: ``organization_id`` is None when the caller is in no organisation.

    ``management_account_id`` is the organisation's management account, or
    the caller's own account when the organisation could not be read.
    """

    organization_id: str | None
    management_account_id: str
    accounts: list[Account]


@collector(SOURCE, PERMISSIONS)
def collect_organizations(
    ctx: AwsContext, progress: Progress, *, max_workers: int = 8
) -> tuple[SourceResult, Organization]:
    """DescribeOrganization, ListAccounts, then every account's tags concurrently."""
    org = ctx.client("organizations")
    try:
        described = org.describe_organization()["Organization"]
    except Exception as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            note = {"note": "the caller's account is not a member of an organization: a single-account estate"}
            return _caller_only(ctx, None, None, SourceStatus(source=SOURCE, detail=note))
        error = describe_error(exc, "organizations", "DescribeOrganization")
        return _caller_only(ctx, None, None, SourceStatus(source=SOURCE, status="failed", error=error))

    organization_id = described.get("Id")
    management_id = described.get("MasterAccountId")
    try:
        listed = [raw for page in pages(org, "list_accounts", ACCOUNTS_PAGE) for raw in page.get("Accounts", [])]
    except Exception as exc:
        error = describe_error(exc, "organizations", "ListAccounts")
        status = SourceStatus(source=SOURCE, status="failed", error=error)
        return _caller_only(ctx, organization_id, management_id, status)

    unique = list({raw["Id"]: raw for raw in listed}.values())  # never trust a listing to hold no duplicates
    book = Completeness(("accounts",))
    progress.start(SOURCE, len(unique))
    outcomes = fan_out(lambda raw: _tags(org, raw["Id"]), unique, max_workers, on_done=lambda: progress.advance(SOURCE))
    accounts = []
    for outcome in outcomes:
        if outcome.error is not None:  # the account stands; only its tags (owner, environment) are unknown
            account_id = outcome.item["Id"]
            where = f"account {account_id}"
            book.attribute_error(
                "account.tags", [account_id], outcome.error, "organizations", "ListTagsForResource", where
            )
        accounts.append(_account(outcome.item, outcome.value or {}, management_id))
    progress.finish(SOURCE)

    detail = {"organization_id": organization_id, "accounts": len(accounts)}
    try:
        detail["account_ous"], detail["ou_names"] = _ou_tree(org)
    except Exception as exc:  # the OU tree only serves scoping; the accounts stand without it
        ids = [account.account_id for account in accounts]
        book.attribute_error(
            "account.organizational_unit", ids, exc, "organizations", "ListOrganizationalUnitsForParent"
        )
    result = SourceResult()
    result.add("accounts", accounts)
    result.statuses.append(book.status(SOURCE, None, failed=False, detail=detail))
    management = management_id or ctx.own_account_id()
    return result, Organization(organization_id=organization_id, management_account_id=management, accounts=accounts)


def _ou_tree(org: Any) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each account's path from the root (``[root id, ou id, ...]``) and every OU's name.

    Walking the tree costs two listings per OU, far fewer than ListParents
    per account and level on a large organisation.
    """
    account_ous: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    queue = [(root["Id"], [root["Id"]]) for page in pages(org, "list_roots") for root in page.get("Roots", [])]
    for root_id, _ in queue:
        names[root_id] = "Root"
    while queue:
        parent, path = queue.pop(0)
        for page in pages(org, "list_accounts_for_parent", ParentId=parent):
            for account in page.get("Accounts", []):
                account_ous[account["Id"]] = path
        for page in pages(org, "list_organizational_units_for_parent", ParentId=parent):
            for unit in page.get("OrganizationalUnits", []):
                names[unit["Id"]] = unit.get("Name", unit["Id"])
                queue.append((unit["Id"], [*path, unit["Id"]]))
    return account_ous, names


def _tags(org: Any, account_id: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for page in pages(org, "list_tags_for_resource", ResourceId=account_id):
        for tag in page.get("Tags", []):
            tags[tag["Key"]] = tag["Value"]
    return tags


def _account(raw: dict, tags: dict[str, str], management_id: str | None) -> Account:
    # ``Status`` is retired in favour of ``State`` (botocore's model says so); read both.
    return Account(
        account_id=raw["Id"],
        name=raw.get("Name") or raw["Id"],
        email=raw.get("Email"),
        status=raw.get("State") or raw.get("Status") or "ACTIVE",
        joined=utc(raw.get("JoinedTimestamp")),
        tags=tags,
        is_management=raw["Id"] == management_id,
    )


def _caller_only(
    ctx: AwsContext, organization_id: str | None, management_id: str | None, status: SourceStatus
) -> tuple[SourceResult, Organization]:
    """The caller's account as the whole estate (its name is unknown: the id stands in).

    Outside an organisation that is the whole truth (the table is complete);
    when the organisation could not be read, the other accounts are missing.
    """
    own = ctx.own_account_id()
    account = Account(account_id=own, name=own, is_management=own == management_id)
    status = SourceStatus(
        source=status.source,
        status=status.status,
        error=status.error,
        detail={**status.detail, "organization_id": organization_id, "accounts": 1, "single_account": True},
        tables={"accounts": FAILED if status.status == "failed" else COMPLETE},
    )
    result = SourceResult()
    result.add("accounts", [account])
    result.statuses.append(status)
    organization = Organization(
        organization_id=organization_id, management_account_id=management_id or own, accounts=[account]
    )
    return result, organization
