"""Security Hub behaviour moto 5.2.5 lacks, filled to the API reference for the round-trip tests.

- BatchUpdateFindings (not implemented by moto): sets ``Workflow.Status``
  of findings named by ``{Id, ProductArn}``; unknown ones come back in
  ``UnprocessedFindings`` with ``FindingNotFound``.
- BatchImportFindings on an existing finding (moto overwrites every field):
  Security Hub keeps the customer-owned ``Note``, ``UserDefinedFields``,
  ``VerificationState`` and ``Workflow``, and resets the workflow to NEW
  when the record state goes from ARCHIVED back to ACTIVE.

``install(monkeypatch)`` patches moto for one test and is undone with it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.securityhub import urls
from moto.securityhub.models import SecurityHubBackend
from moto.securityhub.responses import SecurityHubResponse

CUSTOMER_FIELDS = ("Note", "UserDefinedFields", "VerificationState", "Workflow")


def _batch_update_findings(self: SecurityHubResponse) -> str:
    body = json.loads(self.body) if self.body else {}
    workflow = body.get("Workflow")
    processed, unprocessed = [], []
    stored = {(f.data.get("Id"), f.data.get("ProductArn")): f for f in self.securityhub_backend.findings}
    for identifier in body.get("FindingIdentifiers", []):
        finding = stored.get((identifier.get("Id"), identifier.get("ProductArn")))
        if finding is None:
            unprocessed.append(
                {"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}
            )
            continue
        if workflow:
            finding.data["Workflow"] = {"Status": workflow["Status"]}
        processed.append(identifier)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


def _keeping_customer_fields(original: Any) -> Any:
    def batch_import_findings(self: SecurityHubBackend, findings: list[dict[str, Any]]) -> Any:
        existing = {f.id: f for f in self.findings}
        kept = {}
        for finding in findings:
            before = existing.get(finding.get("Id"))
            if before is None:
                continue
            fields = {k: before.data[k] for k in CUSTOMER_FIELDS if k in before.data}
            if before.data.get("RecordState") == "ARCHIVED" and finding.get("RecordState", "ACTIVE") == "ACTIVE":
                fields["Workflow"] = {"Status": "NEW"}
            kept[finding["Id"]] = fields
        result = original(self, findings)
        for finding in self.findings:
            if finding.id in kept:
                for key in CUSTOMER_FIELDS:
                    finding.data.pop(key, None)
                finding.data.update(kept[finding.id])
        return result

    return batch_import_findings


def install(monkeypatch: Any) -> None:
    monkeypatch.setitem(urls.url_paths, "{0}/findings/batchupdate$", SecurityHubResponse.dispatch)
    monkeypatch.setattr(SecurityHubResponse, "batch_update_findings", _batch_update_findings, raising=False)
    monkeypatch.setattr(
        SecurityHubBackend, "batch_import_findings", _keeping_customer_fields(SecurityHubBackend.batch_import_findings)
    )
