"""The rule registry: each rule declares its metadata and registers by name.

Rules are pure functions of a ``RuleContext`` (the snapshot, the as-of time
and the settings) that yield findings; they never call AWS. Metadata is data
validated at registration, so a rule with an unknown category or no
controls fails at import, not in a report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from auditor.model import Category, Finding, Severity

RuleFunction = Callable[["RuleContext"], Iterable[Finding]]  # noqa: F821 - see auditor.rules.context


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: Severity  # the default; a rule may raise or lower it with context (production, disabled user)
    title: str
    description: str
    controls: tuple[str, ...]
    thresholds: tuple[str, ...] = ()  # keys of [rules] in config.toml this rule reads
    recommendation: str = ""
    sources: tuple[str, ...] = ()  # snapshot sources whose completeness lets a previous finding be resolved
    function: RuleFunction = field(default=None, repr=False, compare=False)  # type: ignore[assignment]


RULES: dict[str, Rule] = {}


def rule(
    *,
    id: str,
    category: Category,
    severity: Severity,
    title: str,
    description: str,
    controls: Iterable[str],
    thresholds: Iterable[str] = (),
    recommendation: str = "",
    sources: Iterable[str] = (),
) -> Callable[[RuleFunction], RuleFunction]:
    """Register the decorated function as rule ``id``."""

    def register(function: RuleFunction) -> RuleFunction:
        if id in RULES:
            raise ValueError(f"rule {id!r} registered twice")
        declared = tuple(controls)
        if not declared:
            raise ValueError(f"rule {id!r} declares no controls")
        RULES[id] = Rule(
            id=id,
            category=Category(category),
            severity=Severity(severity),
            title=title,
            description=description,
            controls=declared,
            thresholds=tuple(thresholds),
            recommendation=recommendation,
            sources=tuple(sources) or _default_sources(id),
            function=function,
        )
        return function

    return register


def _default_sources(rule_id: str) -> tuple[str, ...]:
    """What most rules read, by family; rules that read more declare ``sources``."""
    for prefix, sources in (("iam-", ("iam",)), ("idc-", ("identity_center",)), ("emergency-", ("cloudtrail",))):
        if rule_id.startswith(prefix):
            return sources
    raise ValueError(f"rule {rule_id!r} must declare the sources it reads")
