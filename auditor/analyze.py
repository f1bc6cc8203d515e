"""Run the rule catalogue over a snapshot: findings, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditor.access import AccessModel
from auditor.config import Settings
from auditor.exceptions import apply_exceptions
from auditor.model import Finding, Severity, severity_rank, sort_findings
from auditor.rules import RULES, RuleContext
from auditor.rules.verdicts import Verdict
from auditor.snapshot import Snapshot


def idc_home_account(snapshot: Snapshot) -> str | None:
    """The account whose CloudTrail records Identity Center sign-ins.

    The identity_center source records it when collected; otherwise the
    management account (where an organisation instance lives by default).
    """
    status = snapshot.status_of("identity_center")
    if status is not None and status.detail.get("home_account_id"):
        return status.detail["home_account_id"]
    return next((a.account_id for a in snapshot.table("accounts") if a.is_management), None)


@dataclass(frozen=True)
class Evaluation:
    """Every enabled rule's outcome: the findings, and the verdicts for candidates that raised none."""

    findings: list[Finding]
    verdicts: list[Verdict]
    disabled: frozenset[str]


def evaluate(
    snapshot: Snapshot,
    settings: Settings,
    as_of: datetime,
    access: AccessModel | None = None,
    *,
    keep_verdicts: bool = True,
) -> Evaluation:
    """Run every enabled rule; findings one per finding id (the most severe kept), most severe first.

    ``access``: the run's access model when the caller built it (the report reads it too); else built here.
    ``keep_verdicts`` False drops the verdicts as they come: a large estate has one per path that passed.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    rules_settings = settings.section("rules")
    context = RuleContext(
        snapshot=snapshot,
        as_of=as_of,
        settings=rules_settings,
        idc_home_account=idc_home_account(snapshot),
        access=access or AccessModel(snapshot),
    )
    disabled = frozenset(rules_settings["disabled"])
    by_id: dict[str, Finding] = {}
    verdicts: list[Verdict] = []
    for rule_id, rule in RULES.items():
        if rule_id in disabled:
            continue
        for result in rule.evaluate(context):
            if isinstance(result, Verdict):
                if keep_verdicts:
                    verdicts.append(result)
                continue
            kept = by_id.get(result.finding_id)
            if kept is None or severity_rank(result.severity) > severity_rank(kept.severity):
                by_id[result.finding_id] = result
    findings = apply_exceptions(list(by_id.values()), settings.exceptions, as_of)
    return Evaluation(findings=sort_findings(findings), verdicts=verdicts, disabled=disabled)


def analyze(
    snapshot: Snapshot, settings: Settings, as_of: datetime, access: AccessModel | None = None
) -> list[Finding]:
    """Every enabled rule's findings, one per finding id, most severe first."""
    return evaluate(snapshot, settings, as_of, access, keep_verdicts=False).findings


def at_or_above(findings: list[Finding], severity: str) -> list[Finding]:
    threshold = Severity(severity).rank
    return [f for f in findings if severity_rank(f.severity) >= threshold]


def exempt_identities(
    snapshot: Snapshot, settings: Settings, as_of: datetime, access: AccessModel | None = None
) -> dict[str, str]:
    """Identity Center users the HR check leaves out, and why (shown in the report's inventory)."""
    context = RuleContext(
        snapshot=snapshot, as_of=as_of, settings=settings.section("rules"), access=access or AccessModel(snapshot)
    )
    exempt = {}
    for user in snapshot.table("idc_users"):
        if context.hr_person(user) is not None:
            continue
        if context.is_break_glass(user.user_name, user.display_name):
            exempt[user.user_id] = "break-glass identity"
        elif context.is_service_account(user):
            exempt[user.user_id] = "service identity ([rules] service_accounts)"
    return exempt
