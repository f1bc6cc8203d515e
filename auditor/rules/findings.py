"""Building findings: deterministic ids, insufficient-evidence variants."""

from __future__ import annotations

import hashlib

from auditor.model import Finding, Principal, Severity
from auditor.rules.registry import Rule
from auditor.rules.verdicts import Outcome, Verdict

_OUTCOMES = {outcome: outcome.value for outcome in Outcome}  # an enum member's value costs a descriptor call


def finding_id(rule_id: str, principal: Principal, account_id: str | None, resource: str | None) -> str:
    """Stable across runs for the same rule + principal + account + resource."""
    material = "\x1f".join([rule_id, principal.type, principal.id, account_id or "", resource or ""])
    return hashlib.sha256(material.encode()).hexdigest()[:24]


def make_finding(
    rule: Rule,
    *,
    principal: Principal,
    account_id: str | None,
    resource: str | None,
    title: str,
    evidence: dict,
    severity: Severity | None = None,
    recommendation: str | None = None,
) -> Finding:
    return Finding(
        finding_id=finding_id(rule.id, principal, account_id, resource),
        rule_id=rule.id,
        category=rule.category.value,
        severity=(severity or rule.severity).value,
        principal=principal,
        account_id=account_id,
        resource=resource,
        title=title,
        evidence=evidence,
        controls=list(rule.controls),
        recommendation=recommendation if recommendation is not None else rule.recommendation,
    )


def insufficient_evidence(
    rule: Rule,
    *,
    principal: Principal,
    account_id: str | None,
    resource: str | None,
    title: str,
    missing: str,
    evidence: dict | None = None,
) -> Finding:
    """The finding a time-based rule emits when it could not observe its window.

    It keeps the same finding id as the real finding would have, so history
    follows the principal, but it is info and never remediated.
    """
    facts = dict(evidence or {})
    facts.update({"insufficient_evidence": True, "missing": missing})
    return make_finding(
        rule,
        principal=principal,
        account_id=account_id,
        resource=resource,
        title=f"Cannot decide: {title}",
        evidence=facts,
        severity=Severity.INFO,
        recommendation="Restore the missing evidence (see 'missing') and re-run; do not act on this finding.",
    )


def observed_finding(
    rule: Rule,
    *,
    missing: str | None,
    window_days: int,
    principal: Principal,
    account_id: str | None,
    resource: str | None,
    title: str,
    evidence: dict,
    severity: Severity | None = None,
) -> Finding:
    """The finding of a time-based rule: the real one when its window was observed, else insufficient evidence."""
    if missing:
        return insufficient_evidence(
            rule,
            principal=principal,
            account_id=account_id,
            resource=resource,
            title=title,
            missing=missing,
            evidence=evidence,
        )
    return make_finding(
        rule,
        principal=principal,
        account_id=account_id,
        resource=resource,
        title=title,
        evidence={**evidence, "evidence_window_days": window_days},
        severity=severity,
    )


def cleared(
    rule: Rule, principal: Principal, reason: str, *, account_id: str | None = None, resource: str | None = None
) -> Verdict:
    """The rule examined ``principal`` and it does not apply; ``reason`` is the fact that cleared it."""
    return _verdict(rule, Outcome.CLEARED, principal, reason, account_id, resource)


def exempt(
    rule: Rule, principal: Principal, reason: str, *, account_id: str | None = None, resource: str | None = None
) -> Verdict:
    """The rule deliberately leaves ``principal`` out (break-glass, a listed service identity, ...)."""
    return _verdict(rule, Outcome.EXEMPT, principal, reason, account_id, resource)


def _verdict(
    rule: Rule, outcome: Outcome, principal: Principal, reason: str, account_id: str | None, resource: str | None
) -> Verdict:
    return Verdict(
        rule_id=rule.id,
        outcome=_OUTCOMES[outcome],
        principal=principal,
        reason=reason,
        account_id=account_id,
        resource=resource,
    )
