"""What report.html shows about the findings: rows for the browser, the executive summary, risk.

The findings travel to the page as one JSON document of plain arrays (a
row per finding, columns named once), which the page's script renders a
page at a time: 50,000 findings stay a few tens of megabytes and open in
seconds, where as many server-rendered rows would not.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from auditor.model import SEVERITY_ORDER, Category, Finding, Principal
from auditor.report.common import (
    LIVE_STATUSES,
    RISK_WEIGHTS,
    STATUSES,
    format_time,
    is_insufficient,
)

FINDING_COLUMNS = (
    "id",
    "severity",
    "category",
    "rule",
    "status",
    "ptype",
    "pid",
    "pname",
    "parn",
    "account",
    "account_name",
    "resource",
    "title",
    "controls",
    "recommendation",
    "evidence",
    "first_seen",
    "resolved_at",
    "ie",
)
SEVERITIES = [s.value for s in reversed(SEVERITY_ORDER)]  # worst first
CATEGORIES = [c.value for c in Category]
LISTED = 10  # rows in each "top" and "new / resolved" list
TYPE_LABELS = {
    "idc_user": "Identity Center user",
    "idc_group": "Identity Center group",
    "permission_set": "permission set",
    "iam_user": "IAM user",
    "iam_role": "IAM role",
    "access_key": "access key",
    "root": "root user",
}
IDENTITY_CENTER_TYPES = frozenset({"idc_user", "idc_group", "permission_set"})
# Evidence keys whose plain reading ("admin because") would not say what they mean; the rest read as
# words (``evidence_label``), with the initialisms spelled as a reader expects them.
EVIDENCE_LABELS = {
    "admin_because": "Administrator because",
    "hr_line": "HR feed line",
    "evidence_window_days": "Evidence window (days)",
    "window_days": "Window observed (days)",
    "threshold_days": "Threshold (days)",
    "cloudtrail": "CloudTrail",
    "insufficient_evidence": "Insufficient evidence",
    "matched_people": "Matching people in HR",
    "old_groups_kept": "Old groups kept",
    "trusted": "Trusted principals",
    "production": "Production account",
}
_INITIALISMS = {
    "hr": "HR",
    "mfa": "MFA",
    "iam": "IAM",
    "idc": "Identity Center",
    "arn": "ARN",
    "id": "id",
    "sso": "SSO",
}
_KEY = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+|[a-z]+")


def evidence_label(key: str) -> str:
    """``days_since_termination`` -> "Days since termination"; ``mfa_active`` -> "MFA active"."""
    if key in EVIDENCE_LABELS:
        return EVIDENCE_LABELS[key]
    words = [_INITIALISMS.get(word, word) for word in key.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def evidence_labels(findings: Iterable[Finding]) -> dict[str, str]:
    """A label for every snake_case key in the findings' evidence (nested ones too), for the page's script."""
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _KEY.fullmatch(key):
                    keys.add(key)
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for finding in findings:
        walk(finding.evidence)
    return {key: evidence_label(key) for key in sorted(keys)}


def principal_label(principal: Principal, account_names: Mapping[str, str]) -> str:
    """How a principal is named on the page: a root user by its account, the rest by name (else id)."""
    if principal.type == "root":
        return f"root user of {account_names.get(principal.id) or principal.id}"
    return principal.name or principal.id


def scope_label(finding: Finding) -> str:
    """What a finding without an account is about: Identity Center as a whole, or the organisation."""
    return "Identity Center" if finding.principal.type in IDENTITY_CENTER_TYPES else "organisation-wide"


def script_json(value: Any) -> str:
    """JSON safe inside a <script type="application/json"> element.

    Escaping <, > and & inside strings means no text from the estate can
    close the element or open a comment; JSON.parse restores the characters.
    """
    text = msgspec.json.encode(value, order="deterministic").decode()
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def finding_row(finding: Finding, account_names: Mapping[str, str]) -> list[Any]:
    principal = finding.principal
    return [
        finding.finding_id,
        finding.severity,
        finding.category,
        finding.rule_id,
        finding.status,
        principal.type,
        principal.id,
        principal.name or "",
        principal.arn or "",
        finding.account_id or "",
        account_names.get(finding.account_id or "", ""),
        finding.resource or "",
        finding.title,
        finding.controls,
        finding.recommendation or "",
        finding.evidence,  # encoded by script_json, keys sorted as to_builtins would sort them
        format_time(finding.first_seen),
        format_time(finding.resolved_at),
        1 if is_insufficient(finding) else 0,
    ]


def _bars(counter: Counter, keys: Iterable[str]) -> list[dict[str, Any]]:
    ordered = list(keys)
    ordered += sorted(key for key in counter if key not in ordered)
    largest = max(counter.values(), default=0)
    return [
        {"key": key, "count": counter[key], "percent": round(100 * counter[key] / largest) if largest else 0}
        for key in ordered
    ]


def _brief(finding: Finding, account_names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "severity": finding.severity,
        "title": finding.title,
        "principal": principal_label(finding.principal, account_names),
        "account": finding.account_id or "",
        "scope": scope_label(finding),
        "account_name": account_names.get(finding.account_id or "", ""),
        "when": format_time(finding.resolved_at or finding.first_seen),
    }


def summary(ordered: list[Finding], account_names: Mapping[str, str]) -> dict[str, Any]:
    """Counts, and what changed since the previous run; ``ordered`` is worst first."""
    new = [f for f in ordered if f.status == "new"]
    resolved = [f for f in ordered if f.status == "resolved"]
    live = [f for f in ordered if f.status in LIVE_STATUSES]
    return {
        "total": len(ordered),
        "live": len(live),
        "insufficient": sum(1 for f in ordered if is_insufficient(f)),
        "by_severity": _bars(Counter(f.severity for f in live), SEVERITIES),
        "by_category": _bars(Counter(f.category for f in live), CATEGORIES),
        "by_status": _bars(Counter(f.status for f in ordered), STATUSES),
        "new_by_severity": Counter(f.severity for f in new),
        "resolved_by_severity": Counter(f.severity for f in resolved),
        "new": [_brief(f, account_names) for f in new[:LISTED]],
        "new_total": len(new),
        "resolved": [_brief(f, account_names) for f in resolved[:LISTED]],
        "resolved_total": len(resolved),
    }


def _ranked(groups: dict[Any, list[Finding]], label: Any) -> list[dict[str, Any]]:
    rows = []
    for key, items in groups.items():
        counts = Counter(f.severity for f in items)
        score = sum(RISK_WEIGHTS.get(s, 0) * n for s, n in counts.items())
        if score:
            rows.append({**label(key, items), "score": score, "counts": counts, "findings": len(items)})
    rows.sort(key=lambda r: (-r["score"], -r["findings"], r["sort"]))
    return rows[:LISTED]


def top_risk(ordered: list[Finding], account_names: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The accounts and identities carrying the most live risk (weights in RISK_WEIGHTS)."""
    live = [f for f in ordered if f.status in LIVE_STATUSES]
    by_account: dict[str, list[Finding]] = defaultdict(list)
    by_identity: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in live:
        by_account[finding.account_id or ""].append(finding)
        by_identity[(finding.principal.type, finding.principal.id)].append(finding)

    def account_label(key: str, _items: list[Finding]) -> dict[str, Any]:
        return {"id": key, "name": account_names.get(key, ""), "sort": key}

    def identity_label(key: tuple[str, str], items: list[Finding]) -> dict[str, Any]:
        named = next((f.principal for f in items if f.principal.name), items[0].principal)
        accounts = {f.account_id for f in items if f.account_id}
        return {
            "type": key[0],
            "id": key[1],
            "name": principal_label(named, account_names),
            "accounts": len(accounts),
            "sort": key,
        }

    return {"accounts": _ranked(by_account, account_label), "identities": _ranked(by_identity, identity_label)}
