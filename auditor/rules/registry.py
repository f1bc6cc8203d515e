"""The rule registry: each rule declares its metadata and registers by name.

Rules are pure functions of a ``RuleContext`` (the snapshot, the as-of time
and the settings) that yield findings; they never call AWS. Metadata is data
checked when the rule is built: a rule with an unknown category, a control
missing from the control catalogue or a threshold missing from the config
schema fails at import, with a message that says what to add where. The
decorator hands each function its own ``Rule``, so id, metadata and function
agree by construction, and a rule reads only the thresholds it declares.

Adding a rule: write the decorated function in its family's module and its
test in that family's test module; the tests then name anything else due
(regenerating docs/RULES.md, a new setting for the config schema, a planted
problem for the demo estate, and a verdict for every candidate the rule examines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.config import SCHEMA
from auditor.controls import CONTROL_TITLES
from auditor.model import ActivityKind, Category, Finding, Severity
from auditor.rules.verdicts import SUBJECTS, Verdict
from auditor.snapshot import SOURCES, TABLES

if TYPE_CHECKING:
    from auditor.rules.context import RuleContext

RuleFunction = Callable[["RuleContext", "Rule"], Iterable["Finding | Verdict"]]

TRAIL_FACTS = tuple(
    kind.value for kind in ActivityKind
)  # what CloudTrail tells a rule (auditor.collect.cloudtrail_plan)
CLOUDTRAIL_ACTIVITY = "cloudtrail.activity"
GENERAL_SETTINGS = frozenset({"disabled"})  # [rules] keys that steer the run rather than any one rule


class UndeclaredThreshold(LookupError):
    """A rule read a [rules] setting its decorator does not declare: a defect in the rule."""


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
    subjects: tuple[str, ...] = ()  # kinds of principal the rule decides for, each one (auditor.rules.verdicts)
    needs: tuple[str, ...] = ()  # "source.table" the rule reads; an absence claim needs them complete
    # CloudTrail facts (activity kinds) the rule cannot decide without: the reader reads their source
    trail: tuple[str, ...] = ()
    # CloudTrail facts the rule weighs when they were read, deciding from IAM's own records otherwise
    trail_optional: tuple[str, ...] = ()
    function: RuleFunction = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        problems = metadata_problems(self)
        if problems:
            raise ValueError(f"rule {self.id!r}: " + "; ".join(problems))

    def evaluate(self, ctx: RuleContext) -> list[Finding | Verdict]:
        """The rule's findings and verdicts, computed while the context's settings show only the declared thresholds.

        The context's indexes are built once per run and shared by every rule,
        so the restricted view is swapped in for the call rather than copied.
        """
        shared = ctx.settings
        ctx.settings = RuleSettings(self, shared)
        try:
            return list(self.function(ctx, self))
        finally:
            ctx.settings = shared


class RuleSettings(Mapping[str, Any]):
    """The [rules] settings one rule may read: the thresholds it declares, and nothing else."""

    def __init__(self, rule: Rule, values: Mapping[str, Any]) -> None:
        self._rule = rule
        self._values = values

    def __getitem__(self, key: str) -> Any:
        if key not in self._rule.thresholds:
            raise UndeclaredThreshold(
                f"rule {self._rule.id!r} reads [rules] {key} without declaring it: "
                f"add {key!r} to thresholds=(...) in its @rule(...) decorator"
            )
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rule.thresholds)

    def __len__(self) -> int:
        return len(self._rule.thresholds)


def metadata_problems(rule: Rule) -> list[str]:
    """What is wrong with a rule's metadata, each problem saying what to add where."""
    problems = []
    if not rule.controls:
        problems.append("declares no controls")
    problems.extend(
        f"control {control!r} is not in the control catalogue: add it with its title to CONTROL_TITLES "
        "in auditor/controls.py"
        for control in rule.controls
        if control not in CONTROL_TITLES
    )
    problems.extend(
        f"threshold {key!r} is not a [rules] setting: add it to SCHEMA['rules'] in auditor/config.py "
        "and document it under [rules] in config.toml"
        for key in rule.thresholds
        if key not in SCHEMA["rules"] or key in GENERAL_SETTINGS
    )
    if not rule.sources:
        problems.append("names no snapshot source it reads: add sources=(...) to its @rule(...) decorator")
    problems.extend(
        f"subject {subject!r} is not a kind of principal a rule can decide for (one of: {', '.join(SUBJECTS)})"
        for subject in rule.subjects
        if subject not in SUBJECTS
    )
    problems.extend(
        f"needs {need!r} is not 'source.table' with a source and a table of the snapshot "
        f"(sources: {', '.join(SOURCES)}; tables: {', '.join(TABLES)})"
        for need in rule.needs
        if need.partition(".")[0] not in SOURCES or need.partition(".")[2] not in TABLES
    )
    problems.extend(
        f"CloudTrail fact {fact!r} is not an activity kind (one of: {', '.join(TRAIL_FACTS)})"
        for fact in (*rule.trail, *rule.trail_optional)
        if fact not in TRAIL_FACTS
    )
    if ("cloudtrail" in rule.sources or CLOUDTRAIL_ACTIVITY in rule.needs) and not (rule.trail or rule.trail_optional):
        problems.append(
            "reads CloudTrail but declares no CloudTrail facts: add trail=(...) (facts it cannot decide without) "
            "or trail_optional=(...) to its @rule(...) decorator, so the reader reads their source"
        )
    return problems


def trail_facts_needed(rules: Iterable[Rule]) -> set[str]:
    """The CloudTrail facts ``rules`` cannot decide without: what ``[cloudtrail] read = "needed"`` reads."""
    return {fact for r in rules for fact in r.trail}


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
    subjects: Iterable[str] = (),
    needs: Iterable[str] = (),
    trail: Iterable[str] = (),
    trail_optional: Iterable[str] = (),
) -> Callable[[RuleFunction], RuleFunction]:
    """Register the decorated function as rule ``id``; it is called as ``function(ctx, rule)``."""

    def register(function: RuleFunction) -> RuleFunction:
        if id in RULES:
            raise ValueError(f"rule {id!r} registered twice")
        RULES[id] = Rule(
            id=id,
            category=Category(category),
            severity=Severity(severity),
            title=title,
            description=description,
            controls=tuple(controls),
            thresholds=tuple(thresholds),
            recommendation=recommendation,
            sources=tuple(sources) or _default_sources(id),
            subjects=tuple(subjects),
            needs=tuple(needs),
            trail=tuple(trail),
            trail_optional=tuple(trail_optional),
            function=function,
        )
        return function

    return register


def _default_sources(rule_id: str) -> tuple[str, ...]:
    """What most rules read, by family; rules that read more declare ``sources``."""
    for prefix, sources in (("iam-", ("iam",)), ("emergency-", ("cloudtrail",)), ("idc-", ("identity_center",))):
        if rule_id.startswith(prefix):
            return sources
    return ()
