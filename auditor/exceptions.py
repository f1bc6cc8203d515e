"""Accepted risks: findings matched by a live exception are kept, marked suppressed.

A suppressed finding is never dropped (an auditor sees what was accepted,
by whom and until when); an expired exception stops suppressing and its
finding says so.
"""

from __future__ import annotations

from datetime import date, datetime
from fnmatch import fnmatchcase
from typing import Any

import msgspec

from auditor.model import Finding


def matches(exception: dict[str, Any], finding: Finding) -> bool:
    if exception["rule"] not in ("*", finding.rule_id):
        return False
    if exception.get("account_id") and exception["account_id"] != finding.account_id:
        return False
    pattern = exception["principal"].lower()
    names = [finding.principal.name, finding.principal.id, finding.principal.arn, finding.resource]
    return any(name and fnmatchcase(name.lower(), pattern) for name in names)


def describe(exception: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in exception.items()}


def apply_exceptions(findings: list[Finding], exceptions: list[dict[str, Any]], as_of: datetime) -> list[Finding]:
    """Mark findings covered by a live exception as suppressed; note expired ones."""
    if not exceptions:
        return findings
    today = as_of.date()
    result = []
    for finding in findings:
        matching = [e for e in exceptions if matches(e, finding)]
        live = [e for e in matching if e["expires"] >= today]
        if live:
            evidence = {**finding.evidence, "exception": describe(live[0])}
            finding = msgspec.structs.replace(finding, status="suppressed", evidence=evidence)
        elif matching:
            expired = max(matching, key=lambda e: e["expires"])
            finding = msgspec.structs.replace(
                finding, evidence={**finding.evidence, "expired_exception": describe(expired)}
            )
        result.append(finding)
    return result
