"""What a reviewer needs beside the access itself: related findings and a recommendation.

Only live findings (new, open) count. A finding flags an item when it is
about the person or credential and says something is wrong (not info, not
the admin inventory that a privileged review exists to confirm); a flagged
item is recommended for revocation, and keeping it needs a justification.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from auditor.model import Finding, PrincipalType
from auditor.rules.context import days_between

LIVE = frozenset({"new", "open"})
# Inventory rules: they list who holds power so a review can confirm it; they do not say it is wrong.
INVENTORY_RULES = frozenset({"idc-admin-access"})
MOVER_RULE = "idc-mover-keeps-old-access"
# About the direct assignment itself: they say nothing about the same access held through a group.
DIRECT_ONLY_RULES = frozenset({"idc-admin-direct-assignment", "idc-direct-user-assignment"})
PERSONAL_TYPES = frozenset({PrincipalType.IDC_USER, PrincipalType.IAM_USER, PrincipalType.ACCESS_KEY})


class FindingIndex:
    """Live findings by the principal they are about."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.by_principal: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        self.keys_by_owner: dict[str, list[Finding]] = defaultdict(list)  # IAM user ARN -> key findings
        for finding in findings:
            if finding.status not in LIVE:
                continue
            principal = finding.principal
            self.by_principal[(principal.type, principal.id)].append(finding)
            if principal.type == PrincipalType.ACCESS_KEY and principal.arn:
                self.keys_by_owner[principal.arn].append(finding)

    def for_assignment(self, user_id: str, account_id: str, ps_arn: str, group_name: str | None) -> list[Finding]:
        related = []
        for finding in self.by_principal[(PrincipalType.IDC_USER.value, user_id)]:
            if finding.rule_id == MOVER_RULE:
                if group_name is not None and group_name in finding.evidence.get("old_groups_kept", []):
                    related.append(finding)
                continue
            if finding.rule_id in DIRECT_ONLY_RULES and group_name is not None:
                continue
            if finding.account_id in (None, account_id) and finding.resource in (None, ps_arn):
                related.append(finding)
        related += self.by_principal[(PrincipalType.PERMISSION_SET.value, ps_arn)]
        return related

    def for_iam_user(self, user_id: str, arn: str) -> list[Finding]:
        return self.by_principal[(PrincipalType.IAM_USER.value, user_id)] + self.keys_by_owner[arn]

    def for_group(self, group_id: str, ps_arns: Iterable[str]) -> list[Finding]:
        related = list(self.by_principal[(PrincipalType.IDC_GROUP.value, group_id)])
        for arn in sorted(set(ps_arns)):
            related += self.by_principal[(PrincipalType.PERMISSION_SET.value, arn)]
        return related


def flags(finding: Finding) -> bool:
    return (
        finding.severity != "info"
        and finding.rule_id not in INVENTORY_RULES
        and (finding.principal.type in PERSONAL_TYPES or finding.principal.type == PrincipalType.IDC_GROUP)
    )


def summarise(findings: list[Finding]) -> list[dict]:
    unique = {f.finding_id: f for f in findings}
    return [
        {"finding_id": f.finding_id, "rule_id": f.rule_id, "severity": f.severity, "title": f.title}
        for f in sorted(unique.values(), key=lambda f: (f.rule_id, f.finding_id))
    ]


def recommend(
    related: list[Finding],
    last_used: datetime | None,
    unknown_use: str | None,
    *,
    as_of: datetime,
    unused_days: int,
    too_new: bool,
    break_glass: bool,
) -> tuple[bool, str, str]:
    """(flagged, recommendation, why): revoke when flagged or unused, keep otherwise."""
    flagging = sorted({f.rule_id for f in related if flags(f)})
    if flagging:
        return True, "revoke", f"flagged by {', '.join(flagging)}"
    if unknown_use:
        return False, "keep", f"use unknown ({unknown_use}); decide on need"
    if break_glass:
        return False, "keep", "break-glass access: unused is its normal state"
    if last_used is None:
        if too_new:
            return False, "keep", "granted recently; not used yet"
        return False, "revoke", f"never used in the observed window ({unused_days}+ days)"
    idle = days_between(last_used, as_of)
    if idle >= unused_days:
        return False, "revoke", f"not used for {int(idle)} days (threshold {unused_days})"
    return False, "keep", f"used {last_used.date().isoformat()}"
