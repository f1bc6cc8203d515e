"""Finding status relative to the previous run: new, open, resolved, suppressed.

Pure: the store supplies the previous run's unresolved findings. A finding
missing from this run is resolved only when every source its rule reads
was complete for its account; otherwise nothing proves it fixed, so it is
carried forward as open and says why (a failed source never resolves).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from auditor.model import Finding
from auditor.rules import RULES
from auditor.snapshot import Snapshot


def why_not_resolvable(finding: Finding, snapshot: Snapshot) -> str | None:
    """None when this run's evidence could have found the finding again; else what was missing."""
    rule = RULES.get(finding.rule_id)
    if rule is None:
        return None  # the rule no longer exists: nothing will ever re-find it
    for source in rule.sources:
        statuses = [
            s
            for s in snapshot.manifest.sources
            if s.source == source and (finding.account_id is None or s.account_id in (None, finding.account_id))
        ]
        if not statuses:
            return f"{source} was not collected"
        bad = next((s for s in statuses if s.status != "ok"), None)
        if bad is not None:
            where = f" for account {bad.account_id}" if bad.account_id else ""
            return f"{source} was {bad.status}{where}"
    return None


def classify(
    current: list[Finding], previous: dict[str, Finding], snapshot: Snapshot, as_of: datetime
) -> list[Finding]:
    """This run's findings with their status, plus the previous ones now resolved or carried forward."""
    result = []
    for finding in current:
        before = previous.get(finding.finding_id)
        status = finding.status if finding.status == "suppressed" else ("open" if before else "new")
        first_seen = before.first_seen if before and before.first_seen else as_of
        result.append(msgspec.structs.replace(finding, status=status, first_seen=first_seen))
    seen = {f.finding_id for f in current}
    for finding_id, before in previous.items():
        if finding_id in seen:
            continue
        reason = why_not_resolvable(before, snapshot)
        if reason is None:
            result.append(msgspec.structs.replace(before, status="resolved", resolved_at=as_of))
        else:
            evidence = {**before.evidence, "not_re_evaluated": reason}
            result.append(msgspec.structs.replace(before, status="open", evidence=evidence))
    return result
