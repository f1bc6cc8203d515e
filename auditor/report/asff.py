"""Findings in the AWS Security Finding Format (ASFF 2018-10-08), as Security Hub imports them.

Field limits follow the Security Hub API reference (AwsSecurityFinding):
Title at most 256 characters, Description 1,024, Remediation text 512,
at most 32 Resources and RelatedRequirements, 50 Types and ProductFields.
A resolved finding keeps its Id and becomes ARCHIVED with workflow
RESOLVED and compliance PASSED, so an importer updates it rather than
adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from auditor.controls import framework_of
from auditor.files import atomic_write
from auditor.model import Finding, sort_findings
from auditor.report.common import is_insufficient, partition_of
from auditor.rules import RULES, Rule

SCHEMA_VERSION = "2018-10-08"
SEVERITY_LABELS = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFORMATIONAL"}
WORKFLOW = {"new": "NEW", "open": "NEW", "suppressed": "SUPPRESSED", "resolved": "RESOLVED"}
TITLE_MAX, DESCRIPTION_MAX, RECOMMENDATION_MAX, PRODUCT_FIELD_MAX = 256, 1024, 512, 2048
LIST_MAX = 32
BEST_PRACTICES = "Software and Configuration Checks/AWS Security Best Practices"
STANDARDS = "Software and Configuration Checks/Industry and Regulatory Standards"


def product_arn(region: str, account: str) -> str:
    """The default (custom integration) product of ``account``: what its own findings import under."""
    return f"arn:{partition_of(region)}:securityhub:{region}:{account}:product/{account}/default"


def asff_id(finding: Finding) -> str:
    return f"auditor/{finding.finding_id}"


def timestamp(value: datetime) -> str:
    """ASFF timestamps: ISO 8601 UTC with milliseconds and a Z."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _types(finding: Finding) -> list[str]:
    types = [f"{BEST_PRACTICES}/{finding.category.replace('_', ' ').title()}"]
    for control in finding.controls:
        framework = framework_of(control)
        if framework is not None and f"{STANDARDS}/{framework.asff_type}" not in types:
            types.append(f"{STANDARDS}/{framework.asff_type}")
    return types[:50]


def _principal_resource(finding: Finding, region: str, partition: str) -> dict[str, Any]:
    principal = finding.principal
    account = finding.account_id
    if principal.type == "iam_user":
        kind, uid = (
            "AwsIamUser",
            principal.arn or f"arn:{partition}:iam::{account}:user/{principal.name or principal.id}",
        )
    elif principal.type == "iam_role":
        kind, uid = (
            "AwsIamRole",
            principal.arn or f"arn:{partition}:iam::{account}:role/{principal.name or principal.id}",
        )
    elif principal.type == "access_key":
        kind, uid = "AwsIamAccessKey", f"AWS::IAM::AccessKey:{principal.id}"
    elif principal.type == "root":
        kind, uid = "AwsAccount", f"AWS::::Account:{account or principal.id}"
    elif principal.type in ("idc_user", "idc_group"):
        noun = "user" if principal.type == "idc_user" else "group"
        kind, uid = "Other", principal.arn or f"arn:{partition}:identitystore:::{noun}/{principal.id}"
    else:
        kind, uid = "Other", principal.arn or principal.id
    details = {"principal_type": principal.type, "principal_id": principal.id}
    if principal.name:
        details["principal_name"] = principal.name
    return {
        "Type": kind,
        "Id": uid,
        "Partition": partition,
        "Region": region,
        "Details": {"Other": {k: _clip(v, 1024) for k, v in details.items()}},
    }


def _resources(finding: Finding, region: str, aws_account: str) -> list[dict[str, Any]]:
    partition = partition_of(region)
    resources = [_principal_resource(finding, region, partition)]
    ids = {resources[0]["Id"], finding.principal.arn, finding.principal.id}
    if finding.resource and finding.resource not in ids:
        kind = "AwsIamPolicy" if ":policy/" in finding.resource and finding.resource.startswith("arn:") else "Other"
        resources.append({"Type": kind, "Id": finding.resource, "Partition": partition, "Region": region})
    if finding.account_id and finding.account_id != aws_account:
        # imported centrally: the account the finding is about stays visible as a resource
        account_id = f"AWS::::Account:{finding.account_id}"
        if account_id not in {r["Id"] for r in resources}:
            resources.append({"Type": "AwsAccount", "Id": account_id, "Partition": partition, "Region": region})
    return resources[:LIST_MAX]


def _description(finding: Finding, rule: Rule | None) -> str:
    evidence = msgspec.json.encode(finding.evidence, order="deterministic").decode()
    lead = f"{rule.description} " if rule is not None else ""
    return _clip(f"{lead}Evidence: {evidence}", DESCRIPTION_MAX)


def asff_finding(
    finding: Finding,
    *,
    region: str,
    product_account: str,
    as_of: datetime,
    aws_account: str | None = None,
    rule: Rule | None = None,
) -> dict[str, Any]:
    """One AwsSecurityFinding; AwsAccountId is ``aws_account``, else the finding's account, else the product's."""
    account = aws_account or finding.account_id or product_account
    created = finding.first_seen or as_of
    updated = max(created, finding.resolved_at or as_of)
    label = SEVERITY_LABELS.get(finding.severity, "INFORMATIONAL")
    types = _types(finding)
    if finding.status == "resolved":
        compliance = "PASSED"
    elif is_insufficient(finding):
        compliance = "NOT_AVAILABLE"
    else:
        compliance = "FAILED"
    fields = {
        "auditor/finding_id": finding.finding_id,
        "auditor/rule_id": finding.rule_id,
        "auditor/category": finding.category,
        "auditor/status": finding.status,
        "auditor/principal_type": finding.principal.type,
        "auditor/principal_id": finding.principal.id,
        "auditor/principal_name": finding.principal.name or "",
        "auditor/account_id": finding.account_id or "",
        "auditor/resource": finding.resource or "",
    }
    record: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": asff_id(finding),
        "ProductArn": product_arn(region, product_account),
        "ProductName": "auditor",
        "GeneratorId": finding.rule_id,
        "AwsAccountId": account,
        "Types": types,
        "FirstObservedAt": timestamp(created),
        "CreatedAt": timestamp(created),
        "UpdatedAt": timestamp(updated),
        "Severity": {"Label": label, "Original": finding.severity},
        "Title": _clip(finding.title, TITLE_MAX),
        "Description": _description(finding, rule),
        "ProductFields": {k: _clip(v, PRODUCT_FIELD_MAX) for k, v in fields.items() if v},
        "Resources": _resources(finding, region, account),
        "Compliance": {"Status": compliance, "RelatedRequirements": finding.controls[:LIST_MAX]},
        "Workflow": {"Status": WORKFLOW.get(finding.status, "NEW")},
        "RecordState": "ARCHIVED" if finding.status == "resolved" else "ACTIVE",
        "FindingProviderFields": {"Severity": {"Label": label, "Original": finding.severity}, "Types": types},
    }
    if finding.status != "resolved":
        record["LastObservedAt"] = timestamp(as_of)
    if not finding.controls:
        del record["Compliance"]["RelatedRequirements"]
    if finding.recommendation:
        record["Remediation"] = {"Recommendation": {"Text": _clip(finding.recommendation, RECOMMENDATION_MAX)}}
    return record


def asff_findings(
    findings: Iterable[Finding],
    *,
    region: str,
    product_account: str,
    as_of: datetime,
    aws_account: str | None = None,
    rules: Mapping[str, Rule] = RULES,
) -> list[dict[str, Any]]:
    return [
        asff_finding(
            f,
            region=region,
            product_account=product_account,
            as_of=as_of,
            aws_account=aws_account,
            rule=rules.get(f.rule_id),
        )
        for f in sort_findings(findings)
    ]


def write_asff(records: list[dict[str, Any]], path: Path) -> None:
    """A JSON array of AwsSecurityFinding objects: the Findings of BatchImportFindings."""
    atomic_write(Path(path), msgspec.json.format(msgspec.json.encode(records), indent=2) + b"\n")
