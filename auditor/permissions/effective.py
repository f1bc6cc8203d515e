"""Effective permissions: what each IAM user, group, role and permission set (per account) may do.

IAM's evaluation for one principal's identity policies: an explicit Deny
wins, then an Allow is needed, and a permissions boundary must allow the
action too. Every allow keeps the path it came by (group, policy,
statement), so a finding can say why. Each policy version is compiled once
per run however many principals hold it (a permission set's AWS managed
policy, a group's policy). What could not be read is named in ``unknown``
rather than treated as nothing granted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from auditor.model import IamGroup, IamPolicy, IamRole, IamUser, PermissionSet, inline_policy_key
from auditor.permissions.capabilities import capabilities
from auditor.permissions.catalog import Catalog, catalog
from auditor.permissions.policy import PolicyError, Statement, compile_document
from auditor.snapshot import Snapshot


@dataclass(frozen=True)
class Grant:
    """One statement and the path that brings it to the principal."""

    statement: Statement
    policy: str  # "managed policy DeployPipeline", "inline policy ops", ...
    via: tuple[str, ...] = ()  # steps before the policy: ("group Deployers",)
    policy_arn: str | None = None

    def path(self) -> str:
        return " → ".join((*self.via, self.policy))


@dataclass
class Effective:
    """What one principal is granted, denied and bounded by."""

    label: str  # "IAM user alice in 111122223333", "permission set Dev in 111122223333"
    account_id: str | None
    grants: list[Grant] = field(default_factory=list)
    denies: list[Grant] = field(default_factory=list)
    boundary: list[Grant] | None = None  # None: no permissions boundary
    unknown: list[str] = field(default_factory=list)  # policies whose documents could not be read
    variables: dict[str, str] = field(default_factory=dict)  # policy variables the principal fixes (aws:username)

    def allows(self, action: str, resource: str | None = None) -> list[Grant]:
        """The grants that allow ``action`` (on ``resource``; None: on some resource), after denies and boundary.

        A conditional grant is returned (marked by its statement); a deny
        only removes a grant when it applies to the same resource without a
        condition.
        """
        found = [g for g in self.grants if action in g.statement.actions and _on(g.statement, resource, self.variables)]
        if not found:
            return []
        for deny in self.denies:
            st = deny.statement
            if (
                action in st.actions
                and not st.conditional
                and (st.any_resource or (resource and _on(st, resource, self.variables)))
            ):
                return []
        if self.boundary is not None and not any(
            action in b.statement.actions and _on(b.statement, resource, self.variables) for b in self.boundary
        ):
            return []
        return found

    def unconditional(self, action: str, resource: str | None = None) -> list[Grant]:
        return [g for g in self.allows(action, resource) if not g.statement.conditional]

    @cached_property
    def statements(self) -> tuple:
        """The compiled statements that decide ``actions`` (shared by every principal holding the same policies)."""
        boundary = None if self.boundary is None else tuple(id(b.statement) for b in self.boundary)
        return (
            frozenset(id(g.statement) for g in self.grants),
            frozenset(id(d.statement) for d in self.denies),
            boundary,
        )

    @cached_property
    def actions(self) -> frozenset[str]:
        """Every action allowed on some resource (conditionally or not), after full denies and the boundary."""
        allowed: set[str] = set().union(*(g.statement.actions for g in self.grants)) if self.grants else set()
        for deny in self.denies:
            if not deny.statement.conditional and deny.statement.any_resource:
                allowed -= deny.statement.actions
        if self.boundary is not None:
            bounded: set[str] = set().union(*(b.statement.actions for b in self.boundary)) if self.boundary else set()
            allowed &= bounded
        return frozenset(allowed)

    @cached_property
    def is_admin(self) -> bool:
        """Every action on every resource, unconditionally, with nothing denied or bounded."""
        everything = any(
            g.statement.everything and g.statement.any_resource and not g.statement.conditional for g in self.grants
        )
        return everything and not self.denies and self.boundary is None

    def admin_path(self) -> str | None:
        grant = next((g for g in self.grants if g.statement.everything and g.statement.any_resource), None)
        return grant.path() if grant else None


def _on(statement: Statement, resource: str | None, variables: dict[str, str]) -> bool:
    if resource is None:
        return True
    return statement.matches_resource(resource, variables)


class PermissionModel:
    """Builds ``Effective`` for the snapshot's principals; compiled policies are shared across them."""

    def __init__(self, snapshot: Snapshot, actions: Catalog | None = None) -> None:
        self.catalog = actions or catalog()
        self.snapshot = snapshot
        self.policies: dict[str, IamPolicy] = {p.arn: p for p in snapshot.table("iam_policies")}
        self.groups: dict[tuple[str, str], IamGroup] = {
            (g.account_id, g.group_name): g for g in snapshot.table("iam_groups")
        }
        self._compiled: dict[tuple[str, str], tuple[Statement, ...] | PolicyError] = {}
        self._sensitive: dict[tuple, dict[str, list[str]]] = {}  # by Effective.statements
        self._principals: dict[str, Effective] = {}

    def _once(self, key: str, build) -> Effective:
        found = self._principals.get(key)
        if found is None:
            found = self._principals[key] = build()
        return found

    def sensitive(self, effective: Effective) -> dict[str, list[str]]:
        """Sensitive capability categories of ``effective`` (auditor.permissions.capabilities).

        Once per set of compiled statements, not per principal: a permission
        set holds the same policies in each of its accounts.
        """
        key = effective.statements
        found = self._sensitive.get(key)
        if found is None:
            found = self._sensitive[key] = capabilities(effective.actions, self.catalog)
        return found

    # --- policies, compiled once per version -------------------------------------------

    def compiled(self, key: str, version: str, document: str | dict | None) -> tuple[Statement, ...]:
        cache_key = (key, version)
        found = self._compiled.get(cache_key)
        if found is None:
            try:
                found = compile_document(document, self.catalog)
            except PolicyError as exc:
                found = exc
            self._compiled[cache_key] = found
        if isinstance(found, PolicyError):
            raise found
        return found

    def _add(self, effective: Effective, arn: str, label: str, via: tuple[str, ...], boundary: bool = False) -> None:
        policy = self.policies.get(arn)
        if policy is None:
            effective.unknown.append(f"{label} ({arn}): its document was not read")
            return
        version = policy.version_id or _digest(policy.document)
        self._add_document(effective, arn, version, policy.document, label, via, boundary)

    def _add_document(
        self, effective: Effective, key: str, version: str, document, label: str, via: tuple[str, ...], boundary: bool
    ) -> None:
        try:
            statements = self.compiled(key, version, document)
        except PolicyError as exc:
            effective.unknown.append(f"{label}: the document cannot be read ({exc})")
            return
        for statement in statements:
            grant = Grant(
                statement=statement, policy=label, via=via, policy_arn=key if key.startswith("arn:") else None
            )
            if boundary:
                if statement.effect == "Allow":
                    effective.boundary = [*(effective.boundary or []), grant]
                else:  # a Deny in a boundary denies like any other
                    effective.denies.append(grant)
            elif statement.effect == "Allow":
                effective.grants.append(grant)
            else:
                effective.denies.append(grant)

    def _attached(self, effective: Effective, arns: Iterable[str], via: tuple[str, ...]) -> None:
        for arn in arns:
            self._add(effective, arn, f"managed policy {arn.rsplit('/', 1)[-1]}", via)

    def _inline(self, effective: Effective, owner_arn: str, names: Iterable[str], via: tuple[str, ...]) -> None:
        for name in names:
            self._add(effective, inline_policy_key(owner_arn, name), f"inline policy {name}", via)

    def _boundary(self, effective: Effective, arn: str | None) -> None:
        if arn and arn not in self.policies:  # unread: bounded by something unknown, never by nothing
            effective.unknown.append(f"permissions boundary ({arn}): its document was not read")
        elif arn:
            effective.boundary = []
            self._add(effective, arn, f"permissions boundary {arn.rsplit('/', 1)[-1]}", (), boundary=True)

    # --- principals ---------------------------------------------------------------------

    def iam_user(self, user: IamUser) -> Effective:
        return self._once(user.arn, lambda: self._iam_user(user))

    def _iam_user(self, user: IamUser) -> Effective:
        effective = Effective(
            label=f"IAM user {user.user_name}",
            account_id=user.account_id,
            variables={"aws:username": user.user_name, "aws:userid": user.user_id},
        )
        self._attached(effective, user.attached_policies, ())
        self._inline(effective, user.arn, user.inline_policies, ())
        for name in user.groups:
            group = self.groups.get((user.account_id, name))
            if group is None:
                effective.unknown.append(f"group {name}: not listed")
                continue
            via = (f"group {name}",)
            self._attached(effective, group.attached_policies, via)
            self._inline(effective, group.arn, group.inline_policies, via)
        self._boundary(effective, user.permissions_boundary)
        return effective

    def iam_group(self, group: IamGroup) -> Effective:
        return self._once(group.arn, lambda: self._iam_group(group))

    def _iam_group(self, group: IamGroup) -> Effective:
        effective = Effective(label=f"IAM group {group.group_name}", account_id=group.account_id)
        self._attached(effective, group.attached_policies, ())
        self._inline(effective, group.arn, group.inline_policies, ())
        return effective

    def iam_role(self, role: IamRole) -> Effective:
        return self._once(role.arn, lambda: self._iam_role(role))

    def _iam_role(self, role: IamRole) -> Effective:
        effective = Effective(label=f"IAM role {role.role_name}", account_id=role.account_id)
        self._attached(effective, role.attached_policies, ())
        self._inline(effective, role.arn, role.inline_policies, ())
        self._boundary(effective, role.permissions_boundary)
        return effective

    def permission_set(self, ps: PermissionSet, account_id: str) -> Effective:
        """A permission set as provisioned in one account: customer managed references resolve there."""
        return self._once(f"{ps.arn}@{account_id}", lambda: self._permission_set(ps, account_id))

    def _permission_set(self, ps: PermissionSet, account_id: str) -> Effective:
        effective = Effective(label=f"permission set {ps.name} in {account_id}", account_id=account_id)
        self._attached(effective, ps.managed_policies, ())
        for reference in ps.customer_managed_policies:
            self._add(effective, customer_policy_arn(account_id, reference), f"customer managed policy {reference}", ())
        if ps.inline_policy:
            version = _digest(ps.inline_policy)
            self._add_document(effective, f"{ps.arn}#inline", version, ps.inline_policy, "inline policy", (), False)
        boundary = ps.permissions_boundary or {}
        if boundary.get("ManagedPolicyArn"):
            self._boundary(effective, boundary["ManagedPolicyArn"])
        elif boundary.get("CustomerManagedPolicyReference"):
            ref = boundary["CustomerManagedPolicyReference"]
            self._boundary(effective, customer_policy_arn(account_id, f"{ref.get('Path') or '/'}{ref['Name']}"))
        return effective


def customer_policy_arn(account_id: str, reference: str) -> str:
    """The ARN a permission set's customer managed reference ("/path/Name") resolves to in ``account_id``."""
    path, _, name = reference.rpartition("/")
    return f"arn:aws:iam::{account_id}:policy{path or ''}/{name}"


def _digest(document) -> str:
    text = document if isinstance(document, str) else json.dumps(document, sort_keys=True)
    return str(hash(text))
