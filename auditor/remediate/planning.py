"""A reviewed plan from what decided the revocations (a closed campaign, stale-access findings), and its apply.

The functions `auditor remediate plan|apply`, a scheduled job or a web page
call. ``plan_revocations`` gathers the revocations, sends the notices a
stale-access policy owes, reads each target's pre-state from AWS, seals the
plan and records it in the state store (nothing is changed in AWS);
``apply_plan_file`` applies the recorded plan a file names, under the
circuit breaker counted from the latest run and the last 24 hours' changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditor.aws import remediation_context, rightsize_context, rollback_context
from auditor.campaign import revocations as campaign_revocations
from auditor.config import Settings
from auditor.model import Revocation
from auditor.remediate.actions import ACTIONS
from auditor.remediate.clients import Clients
from auditor.remediate.errors import PlanError, Refused
from auditor.remediate.executor import RunResult, apply_plan
from auditor.remediate.journal import Journal
from auditor.remediate.notices import Notices
from auditor.remediate.plan import Plan, build_plan, load_plan, save_plan
from auditor.remediate.population import population_from_store
from auditor.remediate.registry import record_plan
from auditor.remediate.stale import StaleOutcome, stale_revocations
from auditor.store import Store


@dataclass
class Planned:
    plan: Plan
    stale: list[StaleOutcome] = field(default_factory=list)  # what each stale-access finding came to

    @property
    def refused(self) -> bool:
        """The circuit breaker refuses this plan (apply needs an override with a reason)."""
        return bool(self.plan.breaker.get("tripped"))


def clients_from_settings(settings: Settings) -> Clients:
    """AWS clients for remediation, with the configured profile, region, remediation role and retry budget."""
    return Clients(remediation_context(settings))


def granting(kinds: Iterable[str]) -> bool:
    """Whether actions of ``kinds`` write policies (right-sizing): they run through the right-sizing role only.

    ``Refused`` when they mix with revocations: no one role may do both, so such a plan or run is never ours.
    """
    flags = {ACTIONS[kind].grants for kind in kinds if kind in ACTIONS}
    if len(flags) > 1:
        raise Refused("right-sizing and revocations are never in one plan: each runs through its own role")
    return flags == {True}


def clients_for(kinds: Iterable[str], settings: Settings, *, rollback: bool = False) -> Clients:
    """The role a plan's (or run's) actions act through: right-sizing's own, else the apply or rollback role."""
    if granting(kinds):
        return Clients(rightsize_context(settings))
    return Clients(rollback_context(settings)) if rollback else clients_from_settings(settings)


def plan_revocations(
    store: Store,
    settings: Settings,
    *,
    campaign_id: int | None = None,
    rules: list[str] | None = None,
    now: datetime,
    actor: str,
    out: Path | None = None,
    clients: Clients | None = None,
) -> Planned:
    """Plan what campaign ``campaign_id``'s reviewers revoked and what the stale-access policies for ``rules`` allow.

    Stale-access findings get their notice now when one is due; they enter
    the plan only once the notice is old enough. Raises ``Refused`` when a
    rule has no policy switched on, ``PlanError`` when there is nothing to
    plan from. The sealed plan is recorded in the store (apply runs only a
    recorded plan) and written to ``out`` when given.
    """
    if campaign_id is None and not rules:
        raise PlanError("a plan needs a closed campaign or stale-access rules to plan from")
    revocations: list[Revocation] = []
    source: dict = {}
    stale: list[StaleOutcome] = []
    if campaign_id is not None:
        revocations += campaign_revocations(store, campaign_id)
        source["campaign_id"] = campaign_id
    if rules:
        outbox = Path(settings.get("campaigns", "outbox_dir"))
        sender = settings.get("campaigns", "ses_sender") or "auditor"
        selection = stale_revocations(store, settings, rules, now, Notices(store, outbox, sender, actor))
        revocations += selection.revocations
        stale = selection.outcomes
        source.update({"findings": rules, "run_id": selection.run_id})
    plan = build_plan(
        revocations,
        clients=clients or clients_from_settings(settings),
        settings=settings,
        now=now,
        population=population_from_store(store),
        source=source,
        created_by=actor,
        recent=Journal(store, actor).recent(),
    )
    record_plan(store, plan, actor=actor)
    if out is not None:
        save_plan(plan, out)
    return Planned(plan=plan, stale=stale)


def apply_plan_file(
    path: Path,
    store: Store,
    settings: Settings,
    *,
    yes: bool,
    override_reason: str | None,
    actor: str,
    clients: Clients | None = None,
) -> RunResult:
    """Apply the recorded plan ``path`` names (refused when the store never recorded it): a dry run unless ``yes``.

    A right-sizing plan acts through the right-sizing role, any other through the apply role.
    """
    plan = load_plan(path)
    return apply_plan(
        plan,
        clients=clients or clients_for([a.kind for a in plan.actions], settings),
        store=store,
        settings=settings,
        population=population_from_store(store),
        yes=yes,
        override_reason=override_reason,
        actor=actor,
    )
