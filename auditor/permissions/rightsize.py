"""Right-sizing from use: the least-privilege policy a principal's observed calls ask for.

Granted is what the effective permissions allow; used is what CloudTrail
saw the principal call successfully in the observed window
(auditor.collect.action_usage). The proposal allows exactly the used
actions that were granted, one statement per service, scoped to the
resources the events named when every call of that service named one, and
sized as IAM counts a policy (characters without whitespace) against the
limit of where it will be written.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.model import ActionUse
from auditor.permissions.catalog import Catalog
from auditor.permissions.effective import Effective

# IAM's size limits (characters, whitespace not counted), by where the policy is written
PERMISSION_SET_INLINE_LIMIT = 32_768
ROLE_INLINE_LIMIT = 10_240
MANAGED_POLICY_LIMIT = 6_144


@dataclass
class Proposal:
    """The least-privilege policy for one principal, and the evidence behind it."""

    principal: str  # "permission set Dev in 111122223333", "IAM role ci-deploy"
    granted: int  # actions the principal is allowed
    used: dict[str, list[str]]  # service prefix -> actions used (and granted), sorted
    document: dict
    size: int
    limit: int
    resources: dict[str, list[str]] = field(default_factory=dict)  # action -> the ARNs its calls named
    used_not_granted: list[str] = field(default_factory=list)  # seen, yet not allowed now (since removed?)

    @property
    def used_count(self) -> int:
        return sum(len(actions) for actions in self.used.values())

    @property
    def fits(self) -> bool:
        return self.size <= self.limit

    def text(self) -> str:
        """The document as it would be written: compact JSON, keys in a stable order."""
        return policy_text(self.document)

    def evidence(self) -> dict:
        return {
            "granted_actions": self.granted,
            "used_actions": self.used_count,
            "used_by_service": self.used,
            "proposed_policy_size": self.size,
            "size_limit": self.limit,
        }


def policy_text(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))


def uses_of_permission_set(uses: Iterable[ActionUse], name: str, account_id: str) -> list[ActionUse]:
    """Every person's calls through permission set ``name`` in ``account_id``."""
    return [u for u in uses if u.kind == "idc_assignment" and u.detail == name and u.account_id == account_id]


def uses_of_role(uses: Iterable[ActionUse], role_arn: str) -> list[ActionUse]:
    return [u for u in uses if u.kind == "iam_role" and u.key == role_arn]


def propose(
    effective: Effective, uses: Iterable[ActionUse], catalog: Catalog, *, limit: int = PERMISSION_SET_INLINE_LIMIT
) -> Proposal:
    """The policy allowing what ``uses`` show was needed, within what ``effective`` allows."""
    return propose_within(effective.label, effective.actions, uses, catalog, limit=limit)


def propose_within(
    principal: str,
    granted: frozenset[str],
    uses: Iterable[ActionUse],
    catalog: Catalog,
    *,
    limit: int = PERMISSION_SET_INLINE_LIMIT,
) -> Proposal:
    """The policy allowing what ``uses`` show was needed, within ``granted`` (e.g. a permission set in every account)."""
    named: dict[str, set[str | None]] = defaultdict(set)
    seen_not_granted = set()
    for use in uses:
        action = catalog.canonical(use.action)
        if action in granted:
            named[action].add(use.resource)
        else:
            seen_not_granted.add(action)
    by_service: dict[str, list[str]] = defaultdict(list)
    for action in sorted(named):
        by_service[action.split(":", 1)[0]].append(action)
    scoped = {a: sorted(r for r in resources if r) for a, resources in named.items() if None not in resources}
    document = _document(by_service, scoped)
    size = len(policy_text(document))
    if size > limit:  # the resource lists make it too long: keep the actions, drop the scoping
        document = _document(by_service, {})
        size = len(policy_text(document))
    return Proposal(
        principal=principal,
        granted=len(granted),
        used=dict(by_service),
        document=document,
        size=size,
        limit=limit,
        resources=scoped,
        used_not_granted=sorted(seen_not_granted),
    )


def _document(by_service: dict[str, list[str]], scoped: dict[str, list[str]]) -> dict:
    statements = []
    for service, actions in sorted(by_service.items()):
        sid = _sid(service)
        anywhere = [a for a in actions if a not in scoped]
        if anywhere:
            statements.append({"Sid": sid, "Effect": "Allow", "Action": anywhere, "Resource": "*"})
        resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for action in actions:
            if action in scoped:
                resources[tuple(scoped[action])].append(action)
        for number, (arns, grouped) in enumerate(sorted(resources.items())):
            statements.append(
                {"Sid": f"{sid}Scoped{number + 1}", "Effect": "Allow", "Action": grouped, "Resource": list(arns)}
            )
    return {"Version": "2012-10-17", "Statement": statements}


def _sid(service: str) -> str:
    """A statement id from a service prefix (IAM allows only letters and digits): "rds-db" -> "RdsDb"."""
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", service) if part) or "Service"
