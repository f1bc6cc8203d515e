"""Findings as OCSF Detection Finding events (class 2004, OCSF 1.3.0), for security data lakes.

One event per finding, at the run's as-of: ``activity_id`` says whether the
run created (new), updated (open, suppressed) or closed (resolved) the
finding; ``finding_info.uid`` is the finding id, stable across runs, so a
consumer folds the events of successive runs into one finding. The
project's own fields (evidence, controls, status) travel in ``unmapped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from auditor.files import atomic_write
from auditor.model import Finding, sort_findings
from auditor.report.common import partition_of
from auditor.rules import RULES, Rule

OCSF_VERSION = "1.3.0"
CATEGORY_UID, CATEGORY_NAME = 2, "Findings"
CLASS_UID, CLASS_NAME = 2004, "Detection Finding"
ACTIVITIES = {1: "Create", 2: "Update", 3: "Close"}
SEVERITY_IDS = {
    "info": (1, "Informational"),
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}
# OCSF finding status: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved. An "open" finding (seen
# again, not yet reviewed) is New in the workflow sense; status_detail keeps the distinction.
STATUS_IDS = {"new": (1, "New"), "open": (1, "New"), "suppressed": (3, "Suppressed"), "resolved": (4, "Resolved")}
ACCOUNT_TYPE_ID, ACCOUNT_TYPE = 10, "AWS Account"


def epoch_ms(value: datetime) -> int:
    """OCSF timestamp_t: milliseconds since the Unix epoch."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    return int(value.timestamp() * 1000)


def activity_of(finding: Finding) -> int:
    if finding.status == "new":
        return 1
    return 3 if finding.status == "resolved" else 2


def _resources(finding: Finding, region: str | None) -> list[dict[str, Any]]:
    principal = finding.principal
    resources = [
        {
            "uid": principal.arn or principal.id,
            "name": principal.name or principal.id,
            "type": principal.type,  # as the source (this tool) defines it, which OCSF asks for
            "cloud_partition": partition_of(region),
            "region": region,
            "data": {"principal_type": principal.type, "principal_id": principal.id, "account_id": finding.account_id},
        }
    ]
    if finding.resource and finding.resource not in (principal.arn, principal.id):
        resources.append(
            {"uid": finding.resource, "cloud_partition": partition_of(region), "region": region, "type": "resource"}
        )
    return [{k: v for k, v in r.items() if v is not None} for r in resources]


def ocsf_finding(
    finding: Finding,
    *,
    as_of: datetime,
    tool_version: str,
    account_names: Mapping[str, str] | None = None,
    region: str | None = None,
    rule: Rule | None = None,
) -> dict[str, Any]:
    """One Detection Finding event for ``finding`` as observed at ``as_of``."""
    activity_id = activity_of(finding)
    severity_id, severity = SEVERITY_IDS.get(finding.severity, (99, finding.severity))
    status_id, status = STATUS_IDS.get(finding.status, (99, finding.status))
    first_seen = finding.first_seen or as_of
    modified = finding.resolved_at or as_of
    info: dict[str, Any] = {
        "uid": finding.finding_id,
        "title": finding.title,
        "types": [finding.category],
        "analytic": {
            "uid": finding.rule_id,
            "name": rule.title if rule else finding.rule_id,
            "type_id": 1,
            "type": "Rule",
        },
        "created_time": epoch_ms(first_seen),
        "first_seen_time": epoch_ms(first_seen),
        "modified_time": epoch_ms(modified),
    }
    if rule is not None:
        info["desc"] = rule.description
    if finding.status != "resolved":
        info["last_seen_time"] = epoch_ms(as_of)
    event: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": ACTIVITIES[activity_id],
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "class_uid": CLASS_UID,
        "class_name": CLASS_NAME,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"{CLASS_NAME}: {ACTIVITIES[activity_id]}",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_detail": finding.status,
        "time": epoch_ms(as_of),
        "message": finding.title,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "product": {"name": "auditor", "vendor_name": "auditor", "version": tool_version},
        },
        "finding_info": info,
        "resources": _resources(finding, region),
        "unmapped": {
            "controls": finding.controls,
            "evidence": msgspec.to_builtins(finding.evidence, order="deterministic"),
            "status": finding.status,
            "rule_id": finding.rule_id,
        },
    }
    cloud: dict[str, Any] = {"provider": "AWS"}
    if region:
        cloud["region"] = region
    if finding.account_id:
        account = {"uid": finding.account_id, "type_id": ACCOUNT_TYPE_ID, "type": ACCOUNT_TYPE}
        name = (account_names or {}).get(finding.account_id)
        if name:
            account["name"] = name
        cloud["account"] = account
    event["cloud"] = cloud
    if finding.recommendation:
        event["remediation"] = {"desc": finding.recommendation}
    return event


def ocsf_findings(
    findings: Iterable[Finding],
    *,
    as_of: datetime,
    tool_version: str,
    account_names: Mapping[str, str] | None = None,
    region: str | None = None,
    rules: Mapping[str, Rule] = RULES,
) -> list[dict[str, Any]]:
    return [
        ocsf_finding(
            f,
            as_of=as_of,
            tool_version=tool_version,
            account_names=account_names,
            region=region,
            rule=rules.get(f.rule_id),
        )
        for f in sort_findings(findings)
    ]


def write_ocsf(events: list[dict[str, Any]], path: Path) -> None:
    """A JSON array of events, one finding each."""
    atomic_write(Path(path), msgspec.json.format(msgspec.json.encode(events), indent=2) + b"\n")
