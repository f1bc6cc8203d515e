"""The circuit breaker: a plan out of proportion is refused, whatever produced it.

A broken HR feed must not disable the company: a plan with more actions than
``max_actions``, or touching more than ``max_share`` of the population, is
refused unless someone overrides it deliberately, with a reason that goes
into the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from auditor.remediate.population import Population

OVERRIDE_HINT = (
    'If this is deliberate, re-run with --override-breaker "REASON" (the reason is recorded in the audit log), '
    "or change [remediation] max_actions / max_share in config.toml."
)


@dataclass(frozen=True)
class Verdict:
    actions: int
    principals: int
    population: int | None
    share: float | None
    max_actions: int
    max_share: float
    reasons: tuple[str, ...]

    @property
    def tripped(self) -> bool:
        return bool(self.reasons)

    def message(self) -> str:
        if not self.tripped:
            return "circuit breaker: within limits"
        return "circuit breaker refused the plan: " + "; ".join(self.reasons) + ". " + OVERRIDE_HINT

    def to_dict(self) -> dict:
        return {**asdict(self), "reasons": list(self.reasons), "tripped": self.tripped}


def evaluate(
    actions: int, subjects: Iterable[tuple[str, str]], population: Population | None, max_actions: int, max_share: float
) -> Verdict:
    """Count what a plan changes against the limits; pure."""
    touched = population.touched(subjects) if population is not None else set(subjects)
    reasons = []
    if actions > max_actions:
        reasons.append(f"{actions} actions exceed max_actions {max_actions}")
    share = None
    if population is None or population.size <= 0:
        reasons.append("the population is unknown (no snapshot to count it from: run `auditor run` first)")
    else:
        share = len(touched) / population.size
        if share > max_share:
            reasons.append(
                f"it touches {len(touched)} of {population.size} principals ({share:.1%}), more than "
                f"max_share {max_share:.1%}"
            )
    return Verdict(
        actions=actions,
        principals=len(touched),
        population=population.size if population is not None else None,
        share=round(share, 4) if share is not None else None,
        max_actions=max_actions,
        max_share=max_share,
        reasons=tuple(reasons),
    )
