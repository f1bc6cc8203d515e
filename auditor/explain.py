"""Every rule's verdict for one principal, with the facts: what a reviewer asks first.

"Why is Susan not flagged?" is answered rule by rule: fired (the finding), insufficient
evidence (what is missing), cleared (the fact that cleared her), exempt (why), or not
applicable (the rule examines other kinds of principal). It re-evaluates a run's saved
snapshot as of the run's own time, so the answer is the one the run gave.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.analyze import evaluate
from auditor.config import Settings
from auditor.model import Finding, Principal
from auditor.rules import RULES
from auditor.rules.verdicts import SUBJECTS, Verdict, candidates
from auditor.snapshot import Snapshot


class NoSuchPrincipal(LookupError):
    """Nothing in the run matches the name, id, ARN or email asked for."""


@dataclass(frozen=True)
class RuleVerdict:
    rule_id: str
    title: str
    outcome: str  # fired | insufficient | suppressed | cleared | exempt | not_applicable | disabled | undecided
    detail: str
    finding_id: str | None = None
    severity: str | None = None
    status: str | None = None  # the finding's status in the run (new, open, resolved, suppressed)


@dataclass(frozen=True)
class Explanation:
    principal: Principal
    verdicts: list[RuleVerdict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "principal": {"type": self.principal.type, "id": self.principal.id, "name": self.principal.name},
            "verdicts": [asdict(v) for v in self.verdicts],
        }


def explain(
    snapshot: Snapshot,
    settings: Settings,
    as_of: datetime,
    query: str,
    statuses: dict[str, str] | None = None,
) -> list[Explanation]:
    """One explanation per principal matching ``query`` (id, name, ARN or email, case-insensitive)."""
    principals = _matching(snapshot, query)
    evaluation = evaluate(snapshot, settings, as_of)
    for result in [*evaluation.findings, *evaluation.verdicts]:
        if _names(result.principal, query) and (result.principal.type, result.principal.id) not in principals:
            principals[(result.principal.type, result.principal.id)] = result.principal
    if not principals:
        raise NoSuchPrincipal(f"nothing in the run is named {query!r} (by id, name, ARN or email)")
    by_principal: dict[str, list[Finding | Verdict]] = {}
    for result in [*evaluation.findings, *evaluation.verdicts]:
        for key in {result.principal.id, result.principal.arn} - {None}:  # rules name some principals by ARN
            by_principal.setdefault(key, []).append(result)
    return [
        Explanation(
            principal,
            [
                _verdict(rule, principal, _results_for(principal, by_principal), evaluation.disabled, statuses or {})
                for rule in sorted(RULES.values(), key=lambda r: (r.category.value, r.id))
            ],
        )
        for principal in principals.values()
    ]


def explain_run(run_dir: Path, settings: Settings, query: str) -> list[Explanation]:
    """Explain ``query`` in a finished run's directory (its snapshot/, as of the run's time)."""
    snapshot = snapshots.load(run_dir / "snapshot")
    statuses = {}
    findings_path = run_dir / "findings.json"
    if findings_path.is_file():
        statuses = {f["finding_id"]: f.get("status") for f in json.loads(findings_path.read_text(encoding="utf-8"))}
    return explain(snapshot, settings, snapshot.manifest.as_of, query, statuses)


def _results_for(principal: Principal, by_principal: dict[str, list]) -> list:
    seen, results = set(), []
    for key in (principal.id, principal.arn):
        for result in by_principal.get(key, []) if key else []:
            if id(result) not in seen:
                seen.add(id(result))
                results.append(result)
    return results


def _verdict(rule, principal: Principal, results: list, disabled: frozenset[str], statuses: dict) -> RuleVerdict:
    if rule.id in disabled:
        return RuleVerdict(rule.id, rule.title, "disabled", "disabled by [rules] disabled in the settings")
    mine = [r for r in results if r.rule_id == rule.id]
    findings = [r for r in mine if isinstance(r, Finding)]
    if findings:
        worst = findings[0]
        if worst.status == "suppressed":
            outcome, detail = "suppressed", f"{worst.title} (accepted by an exception in the settings)"
        elif worst.evidence.get("insufficient_evidence"):
            outcome, detail = "insufficient", f"cannot decide: {worst.evidence.get('missing')}"
        else:
            outcome, detail = "fired", worst.title
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        return RuleVerdict(
            rule.id,
            rule.title,
            outcome,
            detail + more,
            finding_id=worst.finding_id,
            severity=worst.severity,
            status=statuses.get(worst.finding_id, worst.status),
        )
    verdicts = [r for r in mine if isinstance(r, Verdict)]
    if verdicts:
        exempt = [v for v in verdicts if v.outcome == "exempt"]
        chosen = exempt or verdicts
        return RuleVerdict(rule.id, rule.title, chosen[0].outcome, "; ".join(sorted({v.reason for v in chosen})))
    if principal.type not in rule.subjects:
        examines = ", ".join(rule.subjects) or "no principal kind declared"
        return RuleVerdict(rule.id, rule.title, "not_applicable", f"examines {examines}")
    return RuleVerdict(rule.id, rule.title, "undecided", "the rule gave no verdict for this principal (a defect)")


def _matching(snapshot: Snapshot, query: str) -> dict[tuple[str, str], Principal]:
    emails = {u.user_id: (u.email or "") for u in snapshot.table("idc_users")}
    found: dict[tuple[str, str], Principal] = {}
    for subject in SUBJECTS:
        for principal in candidates(snapshot, subject):
            if _names(principal, query) or emails.get(principal.id, "").lower() == query.lower():
                found[(principal.type, principal.id)] = principal
    return found


def _names(principal: Principal, query: str) -> bool:
    wanted = query.lower()
    return any(value and value.lower() == wanted for value in (principal.id, principal.name, principal.arn))
