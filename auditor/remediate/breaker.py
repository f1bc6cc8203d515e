"""The circuit breaker: a plan out of proportion is refused, whatever produced it.

A broken HR feed must not disable the company: a plan with more actions than
``max_actions``, or touching more than ``max_share`` of the population, is
refused unless someone overrides it deliberately, with a reason that goes
into the audit log. The limits roll across plans, so splitting a plan does
not get past them: the share counts the principals other runs changed in
the last 24 hours too, and ``max_actions_per_day`` caps the actions applied
in any 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from auditor.remediate.population import Population

OVERRIDE_HINT = (
    'If this is deliberate, re-run with --override-breaker "REASON" (the reason is recorded in the audit log), '
    "or change [remediation] max_actions / max_share / max_actions_per_day in config.toml."
)
WINDOW_HOURS = 24


@dataclass(frozen=True)
class Recent:
    """What other runs changed in the rolling window: actions sent to AWS and the principals they touched."""

    actions: int = 0
    subjects: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verdict:
    actions: int
    principals: int
    population: int | None
    share: float | None
    max_actions: int
    max_share: float
    reasons: tuple[str, ...]
    recent_actions: int = 0  # applied by other runs in the last WINDOW_HOURS
    max_actions_per_day: int | None = None

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
    actions: int,
    subjects: Iterable[tuple[str, str]],
    population: Population | None,
    max_actions: int,
    max_share: float,
    *,
    recent: Recent | None = None,
    max_actions_per_day: int | None = None,
) -> Verdict:
    """Count what a plan changes, with what other runs changed in the window, against the limits; pure."""
    recent = recent or Recent()
    subjects = [*subjects, *recent.subjects]
    touched = population.touched(subjects) if population is not None else set(subjects)
    reasons = []
    if actions > max_actions:
        reasons.append(f"{actions} actions exceed max_actions {max_actions}")
    if max_actions_per_day is not None and recent.actions + actions > max_actions_per_day:
        reasons.append(
            f"{recent.actions} actions applied in the last {WINDOW_HOURS} hours and {actions} in this plan exceed "
            f"max_actions_per_day {max_actions_per_day}"
        )
    share = None
    if population is None or population.size <= 0:
        reasons.append("the population is unknown (no snapshot to count it from: run `auditor run` first)")
    else:
        share = len(touched) / population.size
        if share > max_share:
            reasons.append(
                f"it touches {len(touched)} of {population.size} principals ({share:.1%}), more than "
                f"max_share {max_share:.1%}"
                + (f" (counting those changed in the last {WINDOW_HOURS} hours)" if recent.subjects else "")
            )
    return Verdict(
        actions=actions,
        principals=len(touched),
        population=population.size if population is not None else None,
        share=round(share, 4) if share is not None else None,
        max_actions=max_actions,
        max_share=max_share,
        reasons=tuple(reasons),
        recent_actions=recent.actions,
        max_actions_per_day=max_actions_per_day,
    )
