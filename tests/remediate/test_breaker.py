"""The circuit breaker: a plan out of proportion is refused, and only a recorded reason overrides it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from auditor.remediate import Refused
from auditor.remediate.breaker import evaluate
from auditor.remediate.population import Population
from auditor.store import audit_log
from tests.remediate.conftest import make_settings
from tests.remediate.helpers import apply, make_plan, mutations

COMPANY = Population(size=8)


def test_within_limits():
    verdict = evaluate(2, [("idc_user", "a"), ("idc_user", "b")], Population(size=40), max_actions=50, max_share=0.05)
    assert not verdict.tripped and verdict.share == 0.05


def test_too_many_actions_or_too_large_a_share_trips():
    subjects = [("idc_user", str(n)) for n in range(3)]
    verdict = evaluate(3, subjects, Population(size=40), max_actions=2, max_share=0.05)
    assert verdict.tripped
    assert "3 actions exceed max_actions 2" in verdict.message()
    assert "3 of 40 principals (7.5%)" in verdict.message()
    assert "--override-breaker" in verdict.message()


def test_a_group_counts_as_its_members_and_actions_on_one_person_count_once():
    population = Population(size=10, group_members={"g": frozenset({"a", "b", "c", "d"})})
    verdict = evaluate(3, [("idc_group", "g"), ("idc_user", "a"), ("idc_user", "a")], population, 50, 0.3)
    assert verdict.principals == 4 and verdict.tripped


def test_an_unknown_population_trips():
    verdict = evaluate(1, [("idc_user", "a")], None, 50, 0.05)
    assert verdict.tripped and "population is unknown" in verdict.message()


def test_a_plan_disabling_half_the_company_is_refused(estate, store):
    """What a broken HR feed marking half the company terminated would ask for."""
    settings = make_settings()  # the defaults: 50 actions, 5% of the population
    revocations = [estate.disable(name) for name in ("alice", "bob", "carol", "dave")]
    plan = make_plan(estate, settings, COMPANY, revocations)
    assert plan.breaker["tripped"] and plan.breaker["share"] == 0.5
    with pytest.raises(Refused) as refused:
        apply(estate, plan, store, settings, COMPANY)
    assert "4 of 8 principals (50.0%)" in str(refused.value)
    assert '--override-breaker "REASON"' in str(refused.value)
    with pytest.raises(Refused):
        apply(estate, plan, store, settings, COMPANY, yes=False)  # a dry run says so too
    assert mutations(estate) == []


def test_a_deliberate_override_is_recorded_in_the_audit_log(estate, store):
    settings = make_settings()
    plan = make_plan(estate, settings, COMPANY, [estate.disable("alice"), estate.disable("bob")])
    with pytest.raises(Refused):
        apply(estate, plan, store, settings, COMPANY, override_reason="   ")
    result = apply(estate, plan, store, settings, COMPANY, override_reason="offboarding the acquired team, CHG-42")
    assert {o.status for o in result.outcomes} == {"done"}
    with store.engine.connect() as conn:
        [row] = conn.execute(sa.select(audit_log).where(audit_log.c.action == "remediate.breaker.overridden")).all()
    assert "CHG-42" in row.details and row.subject == f"remediation run {result.run_id}"
