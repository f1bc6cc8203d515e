"""Send findings to AWS Security Hub: BatchImportFindings, then the workflow status of closed ones.

What Security Hub accepts shapes this module (Security Hub API reference
and user guide, "BatchImportFindings for finding providers"):

- at most 100 findings per BatchImportFindings call; a call can succeed
  for some findings and fail others (``FailedFindings``), which are
  reported, never dropped silently;
- findings under an account's default product must carry that account as
  ``AwsAccountId``, so every finding is filed in ``account`` and the
  account it is about is kept as an ``AwsAccount`` resource;
- re-importing the same ``Id`` updates the finding: a resolved finding is
  re-sent ARCHIVED with compliance PASSED, never duplicated;
- after a finding is created, BatchImportFindings ignores ``Workflow``:
  the workflow of resolved (RESOLVED) and suppressed (SUPPRESSED)
  findings is set with BatchUpdateFindings, at most 100 per call.

Required permissions: securityhub:BatchImportFindings and
securityhub:BatchUpdateFindings in ``account`` and ``region``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from auditor.model import Finding
from auditor.report.asff import asff_findings, product_arn

BATCH_SIZE = 100  # the API's limit for both operations


@dataclass
class ImportSummary:
    """What Security Hub accepted, and every finding it did not, with its error."""

    sent: int = 0
    imported: int = 0
    archived: int = 0  # resolved findings sent as ARCHIVED
    workflow_updated: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"Id", "ErrorCode", "ErrorMessage"}
    workflow_failed: list[dict[str, str]] = field(default_factory=list)
    import_calls: int = 0
    update_calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.workflow_failed


def _batches(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _client(session_or_client: Any, region: str) -> Any:
    if hasattr(session_or_client, "batch_import_findings"):
        return session_or_client
    return session_or_client.client("securityhub", region_name=region)


def _error(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return error.get("Code", "ClientError"), error.get("Message", str(exc))
    return type(exc).__name__, str(exc)


def _import(client: Any, records: list[dict[str, Any]], summary: ImportSummary) -> set[str]:
    """BatchImportFindings in batches; returns the ids Security Hub accepted."""
    accepted: set[str] = set()
    for batch in _batches(records):
        ids = [r["Id"] for r in batch]
        summary.import_calls += 1
        try:
            response = client.batch_import_findings(Findings=list(batch))
        except (ClientError, BotoCoreError) as exc:  # the whole batch was refused: each finding says why
            code, message = _error(exc)
            summary.failed.extend({"Id": i, "ErrorCode": code, "ErrorMessage": message} for i in ids)
            continue
        failed = response.get("FailedFindings", [])
        summary.failed.extend(failed)
        rejected = {f.get("Id") for f in failed}
        summary.imported += response.get("SuccessCount", len(ids) - len(failed))
        accepted.update(i for i in ids if i not in rejected)
    return accepted


def _set_workflow(client: Any, arn: str, ids: list[str], status: str, summary: ImportSummary) -> None:
    for batch in _batches(ids):
        summary.update_calls += 1
        identifiers = [{"Id": i, "ProductArn": arn} for i in batch]
        try:
            response = client.batch_update_findings(FindingIdentifiers=identifiers, Workflow={"Status": status})
        except (ClientError, BotoCoreError) as exc:
            code, message = _error(exc)
            summary.workflow_failed.extend({"Id": i, "ErrorCode": code, "ErrorMessage": message} for i in batch)
            continue
        unprocessed = response.get("UnprocessedFindings", [])
        summary.workflow_failed.extend(
            {
                "Id": u.get("FindingIdentifier", {}).get("Id", ""),
                "ErrorCode": u.get("ErrorCode", ""),
                "ErrorMessage": u.get("ErrorMessage", ""),
            }
            for u in unprocessed
        )
        summary.workflow_updated += len(response.get("ProcessedFindings", []))


def import_findings(
    session_or_client: Any,
    findings: Iterable[Finding],
    region: str,
    account: str,
    *,
    as_of: datetime | None = None,
) -> ImportSummary:
    """Import ``findings`` into Security Hub of ``account`` in ``region``; returns what happened.

    ``session_or_client`` is a boto3 Session (a securityhub client is made
    for ``region``) or a securityhub client. ``as_of`` (default now) stamps
    findings that carry no first-seen time.
    """
    client = _client(session_or_client, region)
    findings = list(findings)
    records = asff_findings(
        findings, region=region, product_account=account, aws_account=account, as_of=as_of or datetime.now(UTC)
    )
    summary = ImportSummary(sent=len(records))
    accepted = _import(client, records, summary)
    summary.archived = sum(1 for r in records if r["RecordState"] == "ARCHIVED" and r["Id"] in accepted)
    arn = product_arn(region, account)
    for status in ("RESOLVED", "SUPPRESSED"):
        ids = [r["Id"] for r in records if r["Workflow"]["Status"] == status and r["Id"] in accepted]
        _set_workflow(client, arn, ids, status, summary)
    return summary
