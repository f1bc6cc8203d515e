"""IAM Identity Center: users, groups, memberships, permission sets, assignments.

Read from the management (or delegated administrator) account. The number
of calls is what AWS throttles, so account assignments are listed with the
strategy that needs the fewest calls for the estate's shape (see
``choose_strategy``), and independent calls run concurrently under the
clients' standard retries (jittered backoff). Every listing is
deduplicated: an API is never trusted to return no duplicates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from auditor.aws import AwsContext, error_code, pages, utc
from auditor.collect.completeness import Completeness, all_failed
from auditor.collect.concurrency import Problems, fan_out
from auditor.collect.registry import collector
from auditor.model import Account, AccountAssignment, GroupMembership, IdcGroup, IdcUser, PermissionSet
from auditor.progress import Progress
from auditor.snapshot import FAILED, PARTIAL, SourceResult, SourceStatus

T = TypeVar("T")

SOURCE = "identity_center"
PAGE_SIZE = 100  # the largest MaxResults of every listing used here
TABLES = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")

PER_ACCOUNT = "per_account"
PER_PERMISSION_SET = "per_permission_set"
PER_PRINCIPAL = "per_principal"
STRATEGIES = (PER_ACCOUNT, PER_PERMISSION_SET, PER_PRINCIPAL)  # also the preference on equal cost

PERMISSIONS = (
    "sso:ListInstances",
    "sso:ListPermissionSets",
    "sso:DescribePermissionSet",
    "sso:ListManagedPoliciesInPermissionSet",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
    "sso:GetInlinePolicyForPermissionSet",
    "sso:GetPermissionsBoundaryForPermissionSet",
    "sso:ListTagsForResource",
    "sso:ListPermissionSetsProvisionedToAccount",
    "sso:ListAccountsForProvisionedPermissionSet",
    "sso:ListAccountAssignments",
    "sso:ListAccountAssignmentsForPrincipal",
    "identitystore:ListUsers",
    "identitystore:ListGroups",
    "identitystore:ListGroupMemberships",
)


def choose_strategy(n_accounts: int, n_permission_sets: int | None, n_principals: int | None = None) -> str:
    """The assignment strategy with the fewest calls, chosen before anything is listed.

    Per account costs A calls (ListPermissionSetsProvisionedToAccount) and
    per permission set P calls (ListAccountsForProvisionedPermissionSet);
    both then make one ListAccountAssignments call per provisioned
    (account, permission set) pair, the same N pairs either way, so the
    smaller base wins. Per principal costs one
    ListAccountAssignmentsForPrincipal call per user and group (U + G) and
    nothing else, so it wins outright when U + G is below even that base.
    ``None`` means the count is unknown (its listing failed): that strategy
    is not available.
    """
    costs = {PER_ACCOUNT: n_accounts}
    if n_permission_sets is not None:
        costs[PER_PERMISSION_SET] = n_permission_sets
    if n_principals is not None:
        costs[PER_PRINCIPAL] = n_principals
    return min(costs, key=lambda strategy: (costs[strategy], STRATEGIES.index(strategy)))


def switch_to_principals(n_pairs: int, n_principals: int | None) -> bool:
    """After the base listing: whether U + G calls are fewer than the N pair calls still to make."""
    return n_principals is not None and n_principals < n_pairs


@collector(SOURCE, PERMISSIONS)
def collect_identity_center(
    ctx: AwsContext,
    accounts: list[Account],
    progress: Progress,
    *,
    instance_arn: str | None = None,
    identity_store_id: str | None = None,
    max_workers: int = 8,
    page_size: int = PAGE_SIZE,
    strategy: str | None = None,
) -> SourceResult:
    """Every Identity Center table; ``strategy`` forces an assignment strategy (None: by cost).

    Per principal needs the organisation instance and the management
    account (AWS's rule for ListAccountAssignmentsForPrincipal); it cannot
    see assignments of principals missing from the identity store.
    """
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"unknown assignment strategy {strategy!r}; expected one of {STRATEGIES}")
    sso = ctx.client("sso-admin", shared=False)  # clients of the reader's own: it counts their calls
    store = ctx.client("identitystore", shared=False)
    if instance_arn is None or identity_store_id is None:
        try:
            instance = _find_instance(sso, instance_arn, identity_store_id)
        except Exception as exc:
            problems = Problems()
            problems.add(exc, "sso-admin", "ListInstances")
            return _only(problems.status(SOURCE, None, failed=True, detail={}))
        if instance is None:
            error = "NoInstance: no IAM Identity Center instance is visible to this account (sso-admin, ListInstances)"
            return _only(SourceStatus(source=SOURCE, status="failed", error=error))
        instance_arn, identity_store_id = instance["InstanceArn"], instance["IdentityStoreId"]

    reader = _Reader(sso, store, instance_arn, identity_store_id, page_size, max_workers, progress)
    users = reader.users()
    groups = reader.groups()
    if groups is None:  # no groups, no memberships to list
        reader.book.mark("idc_memberships", FAILED)
    memberships = reader.memberships(groups or [])
    permission_set_arns = reader.permission_set_arns()
    permission_sets = reader.permission_sets(permission_set_arns or [])
    principals = None
    if users is not None and groups is not None and _from_management(ctx, accounts):
        principals = [("USER", user.user_id) for user in users] + [("GROUP", group.group_id) for group in groups]
    assignments, used = reader.assignments([a.account_id for a in accounts], permission_set_arns, principals, strategy)

    result = SourceResult()
    for table, records in (
        ("idc_users", users),
        ("idc_groups", groups),
        ("idc_memberships", memberships),
        ("permission_sets", permission_sets),
        ("account_assignments", assignments),
    ):
        result.add(table, records or [])
    detail = {
        "instance_arn": instance_arn,
        "identity_store_id": identity_store_id,
        "assignment_strategy": used,
        "calls": dict(sorted(reader.calls.items())),
    }
    failed = users is None and groups is None and permission_set_arns is None and not assignments
    result.statuses.append(reader.book.status(SOURCE, None, failed=failed, detail=detail))
    return result


def read_permission_sets(
    ctx: AwsContext, instance_arn: str, identity_store_id: str, arns: list[str], *, max_workers: int = 4
) -> tuple[list[PermissionSet], Completeness]:
    """The permission sets ``arns`` with their policies and tags (what a check of one person reads), and the
    books of what could not be read."""
    reader = _Reader(
        ctx.client("sso-admin", shared=False),  # clients of the reader's own: it counts their calls
        ctx.client("identitystore", shared=False),
        instance_arn,
        identity_store_id,
        PAGE_SIZE,
        max_workers,
        Progress(),
    )
    return reader.permission_sets(list(dict.fromkeys(arns))), reader.book


def _only(status: SourceStatus) -> SourceResult:
    result = SourceResult()
    result.statuses.append(all_failed(status, TABLES))
    return result


def _find_instance(sso: Any, instance_arn: str | None, identity_store_id: str | None) -> dict | None:
    """The first active instance matching what is known of it."""
    for page in pages(sso, "list_instances", PAGE_SIZE):
        for instance in page.get("Instances", []):
            if instance.get("Status", "ACTIVE") != "ACTIVE":
                continue
            if instance_arn and instance["InstanceArn"] != instance_arn:
                continue
            if identity_store_id and instance["IdentityStoreId"] != identity_store_id:
                continue
            return instance
    return None


def _from_management(ctx: AwsContext, accounts: list[Account]) -> bool:
    """AWS answers ListAccountAssignmentsForPrincipal only in the management account."""
    try:
        own = ctx.own_account_id()
    except Exception:  # the caller is unknown: per principal is simply not offered
        return False
    return any(account.is_management and account.account_id == own for account in accounts)


class _Reader:
    """The calls against one instance, with their errors and a count of calls per operation."""

    def __init__(
        self,
        sso: Any,
        store: Any,
        instance_arn: str,
        identity_store_id: str,
        page_size: int,
        max_workers: int,
        progress: Progress,
    ) -> None:
        self.sso, self.store = sso, store
        self.instance_arn, self.identity_store_id = instance_arn, identity_store_id
        self.page_size, self.max_workers, self.progress = page_size, max_workers, progress
        self.book = Completeness(TABLES)
        self.calls: dict[str, int] = {}
        self._calls_lock = threading.Lock()
        for aws_client in (sso, store):
            aws_client.meta.events.register("before-call", self._count)

    def _count(self, model, **_) -> None:
        with self._calls_lock:
            self.calls[model.name] = self.calls.get(model.name, 0) + 1

    # --- identity store -------------------------------------------------------

    def users(self) -> list[IdcUser] | None:
        try:
            raw = self._list(self.store, "list_users", "Users", IdentityStoreId=self.identity_store_id)
        except Exception as exc:
            self.book.table_error("idc_users", FAILED, exc, "identitystore", "ListUsers")
            return None
        return list({user.user_id: user for user in map(user_record, raw)}.values())

    def groups(self) -> list[IdcGroup] | None:
        try:
            raw = self._list(self.store, "list_groups", "Groups", IdentityStoreId=self.identity_store_id)
        except Exception as exc:
            self.book.table_error("idc_groups", FAILED, exc, "identitystore", "ListGroups")
            return None
        groups = (
            IdcGroup(
                group_id=g["GroupId"],
                display_name=g.get("DisplayName") or g["GroupId"],
                description=g.get("Description"),
            )
            for g in raw
        )
        return list({group.group_id: group for group in groups}.values())

    def memberships(self, groups: list[IdcGroup]) -> list[GroupMembership] | None:
        def members(group: IdcGroup) -> list[GroupMembership]:
            raw = self._list(
                self.store,
                "list_group_memberships",
                "GroupMemberships",
                IdentityStoreId=self.identity_store_id,
                GroupId=group.group_id,
            )
            return [
                GroupMembership(
                    group_id=group.group_id, user_id=m["MemberId"]["UserId"], membership_id=m.get("MembershipId")
                )
                for m in raw
                if m.get("MemberId", {}).get("UserId")
            ]

        found = self._each(
            "idc memberships",
            "idc_memberships",
            groups,
            members,
            "identitystore",
            "ListGroupMemberships",
            lambda group: f"group {group.group_id}",
        )
        return _unique(found, lambda m: (m.group_id, m.user_id))

    # --- permission sets -------------------------------------------------------

    def permission_set_arns(self) -> list[str] | None:
        try:
            arns = self._list(self.sso, "list_permission_sets", "PermissionSets", InstanceArn=self.instance_arn)
        except Exception as exc:
            self.book.table_error("permission_sets", FAILED, exc, "sso-admin", "ListPermissionSets")
            return None
        return list(dict.fromkeys(arns))

    def permission_sets(self, arns: list[str]) -> list[PermissionSet]:
        self.progress.start("idc permission sets", len(arns))
        outcomes = fan_out(
            self._permission_set, arns, self.max_workers, on_done=lambda: self.progress.advance("idc permission sets")
        )
        self.progress.finish("idc permission sets")
        found = []
        state = FAILED if all(outcome.error is not None for outcome in outcomes) else PARTIAL
        for outcome in outcomes:
            if outcome.error is not None:
                where = f"permission set {outcome.item}"
                self.book.table_error(
                    "permission_sets", state, outcome.error, "sso-admin", "DescribePermissionSet", where
                )
            else:
                found.append(outcome.value)
        return found

    def _permission_set(self, arn: str) -> PermissionSet:
        """DescribePermissionSet must work; the other five calls fill what they can.

        Those five are optional attributes: a failure is booked against the
        attribute and this permission set, never against the table.
        """
        where = f"permission set {arn}"

        def unread(what: str, exc: Exception, operation: str) -> None:
            self.book.attribute_error(f"permission_set.{what}", [arn], exc, "sso-admin", operation, where)

        ids = {"InstanceArn": self.instance_arn, "PermissionSetArn": arn}
        described = self.sso.describe_permission_set(**ids)["PermissionSet"]
        fields: dict = {}
        try:
            fields["managed_policies"] = list(
                dict.fromkeys(
                    p["Arn"]
                    for p in self._list(
                        self.sso, "list_managed_policies_in_permission_set", "AttachedManagedPolicies", **ids
                    )
                )
            )
        except Exception as exc:
            unread("managed_policies", exc, "ListManagedPoliciesInPermissionSet")
        try:
            fields["customer_managed_policies"] = list(
                dict.fromkeys(
                    f"{p.get('Path') or '/'}{p['Name']}"
                    for p in self._list(
                        self.sso,
                        "list_customer_managed_policy_references_in_permission_set",
                        "CustomerManagedPolicyReferences",
                        **ids,
                    )
                )
            )
        except Exception as exc:
            unread("customer_managed_policies", exc, "ListCustomerManagedPolicyReferencesInPermissionSet")
        try:
            fields["inline_policy"] = self.sso.get_inline_policy_for_permission_set(**ids).get("InlinePolicy") or None
        except Exception as exc:
            unread("inline_policy", exc, "GetInlinePolicyForPermissionSet")
        try:
            boundary = self.sso.get_permissions_boundary_for_permission_set(**ids).get("PermissionsBoundary")
            fields["permissions_boundary"] = boundary or None
        except Exception as exc:
            if error_code(exc) != "ResourceNotFoundException":  # AWS's answer for "no boundary"
                unread("permissions_boundary", exc, "GetPermissionsBoundaryForPermissionSet")
        try:
            tags = [
                t
                for page in pages(self.sso, "list_tags_for_resource", InstanceArn=self.instance_arn, ResourceArn=arn)
                for t in page.get("Tags", [])
            ]
            fields["tags"] = {t["Key"]: t.get("Value", "") for t in tags}
        except Exception as exc:
            unread("tags", exc, "ListTagsForResource")
        duration = described.get("SessionDuration")
        return PermissionSet(
            arn=arn,
            name=described.get("Name") or arn,
            description=described.get("Description"),
            created_at=utc(described.get("CreatedDate")),
            session_duration=str(duration) if duration is not None else None,
            **fields,
        )

    # --- assignments -------------------------------------------------------------

    def assignments(
        self,
        account_ids: list[str],
        permission_set_arns: list[str] | None,
        principals: list[tuple[str, str]] | None,
        forced: str | None,
    ) -> tuple[list[AccountAssignment], str]:
        n_permission_sets = None if permission_set_arns is None else len(permission_set_arns)
        n_principals = None if principals is None else len(principals)
        strategy = forced or choose_strategy(len(account_ids), n_permission_sets, n_principals)
        if strategy == PER_PERMISSION_SET and permission_set_arns is None:
            strategy = PER_ACCOUNT  # forced, but its base listing failed
        if strategy == PER_PRINCIPAL and principals is None:
            strategy = PER_ACCOUNT
        if strategy == PER_PRINCIPAL:
            return self._for_principals(principals or []), strategy
        pairs = (
            self._pairs_by_account(account_ids)
            if strategy == PER_ACCOUNT
            else self._pairs_by_permission_set(permission_set_arns or [])
        )
        if forced is None and switch_to_principals(len(pairs), n_principals):
            return self._for_principals(principals or []), f"{strategy} then {PER_PRINCIPAL}"
        return self._for_pairs(pairs), strategy

    def _pairs_by_account(self, account_ids: list[str]) -> list[tuple[str, str]]:
        def provisioned(account_id: str) -> list[tuple[str, str]]:
            arns = self._list(
                self.sso,
                "list_permission_sets_provisioned_to_account",
                "PermissionSets",
                InstanceArn=self.instance_arn,
                AccountId=account_id,
            )
            return [(account_id, arn) for arn in arns]

        found = self._each(
            "idc accounts",
            "account_assignments",
            account_ids,
            provisioned,
            "sso-admin",
            "ListPermissionSetsProvisionedToAccount",
            lambda account_id: f"account {account_id}",
        )
        return sorted(set(found))

    def _pairs_by_permission_set(self, arns: list[str]) -> list[tuple[str, str]]:
        def provisioned(arn: str) -> list[tuple[str, str]]:
            account_ids = self._list(
                self.sso,
                "list_accounts_for_provisioned_permission_set",
                "AccountIds",
                InstanceArn=self.instance_arn,
                PermissionSetArn=arn,
            )
            return [(account_id, arn) for account_id in account_ids]

        found = self._each(
            "idc permission sets provisioned",
            "account_assignments",
            arns,
            provisioned,
            "sso-admin",
            "ListAccountsForProvisionedPermissionSet",
            lambda arn: f"permission set {arn}",
        )
        return sorted(set(found))

    def _for_pairs(self, pairs: list[tuple[str, str]]) -> list[AccountAssignment]:
        def assigned(pair: tuple[str, str]) -> list[AccountAssignment]:
            account_id, arn = pair
            raw = self._list(
                self.sso,
                "list_account_assignments",
                "AccountAssignments",
                InstanceArn=self.instance_arn,
                AccountId=account_id,
                PermissionSetArn=arn,
            )
            return [_assignment(a, account_id, arn) for a in raw]

        found = self._each(
            "idc assignments",
            "account_assignments",
            pairs,
            assigned,
            "sso-admin",
            "ListAccountAssignments",
            lambda pair: f"account {pair[0]} and permission set {pair[1]}",
        )
        return _unique(found, _assignment_key)

    def _for_principals(self, principals: list[tuple[str, str]]) -> list[AccountAssignment]:
        def assigned(principal: tuple[str, str]) -> list[AccountAssignment]:
            kind, principal_id = principal
            raw = self._list(
                self.sso,
                "list_account_assignments_for_principal",
                "AccountAssignments",
                InstanceArn=self.instance_arn,
                PrincipalId=principal_id,
                PrincipalType=kind,
            )
            return [_assignment({"PrincipalType": kind, "PrincipalId": principal_id, **a}) for a in raw]

        found = self._each(
            "idc assignments",
            "account_assignments",
            principals,
            assigned,
            "sso-admin",
            "ListAccountAssignmentsForPrincipal",
            lambda p: f"{p[0].lower()} {p[1]}",
        )
        return _unique(found, _assignment_key)

    # --- helpers -------------------------------------------------------------------

    def _list(self, aws_client: Any, operation: str, key: str, **params: Any) -> list:
        return [item for page in pages(aws_client, operation, self.page_size, **params) for item in page.get(key, [])]

    def _each(
        self,
        task: str,
        table: str,
        items: Iterable[T],
        work: Callable[[T], list],
        service: str,
        operation: str,
        where: Callable[[T], str],
    ) -> list:
        """``work`` on every item concurrently for ``table``; a failing item is recorded and the rest go on."""
        items = list(items)
        self.progress.start(task, len(items))
        outcomes = fan_out(work, items, self.max_workers, on_done=lambda: self.progress.advance(task))
        self.progress.finish(task)
        found: list = []
        state = FAILED if all(outcome.error is not None for outcome in outcomes) else PARTIAL
        for outcome in outcomes:
            if outcome.error is not None:
                self.book.table_error(table, state, outcome.error, service, operation, where(outcome.item))
            else:
                found.extend(outcome.value or [])
        return found


def user_record(raw: dict) -> IdcUser:
    """An identity store user (ListUsers' or DescribeUser's shape) as the snapshot keeps it."""
    emails = [e for e in raw.get("Emails") or [] if e.get("Value")]
    primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else None)
    return IdcUser(
        user_id=raw["UserId"],
        user_name=raw.get("UserName") or raw["UserId"],
        display_name=raw.get("DisplayName"),
        email=primary["Value"] if primary else None,
        title=raw.get("Title"),
        status=raw.get("UserStatus"),
        created_at=utc(raw.get("CreatedAt")),
        external_ids=[f"{x.get('Issuer')}:{x.get('Id')}" for x in raw.get("ExternalIds") or [] if x],
    )


def _assignment(raw: dict, account_id: str | None = None, arn: str | None = None) -> AccountAssignment:
    return AccountAssignment(
        account_id=raw.get("AccountId") or account_id,
        permission_set_arn=raw.get("PermissionSetArn") or arn,
        principal_type=raw["PrincipalType"],
        principal_id=raw["PrincipalId"],
    )


def _assignment_key(a: AccountAssignment) -> tuple[str, str, str, str]:
    return (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id)


def _unique(records: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    return list({key(record): record for record in records}.values())
