"""Rules declare the CloudTrail facts they use; a read planned for fewer facts is never a silent miss."""

from __future__ import annotations

import pytest

from auditor.analyze import evaluate
from auditor.config import defaults
from auditor.model import Category, Severity
from auditor.pipeline import read_plan
from auditor.rules import RULES, rule
from auditor.rules.registry import trail_facts_needed
from auditor.snapshot import AttributeGap, SourceStatus
from tests.builders import DEV, MGMT, PROD, World, days_ago

HOME_ONLY = {"mode": "needed", "facts": ["idc_assignment", "idc_user"]}


def _home_only(world: World) -> list[SourceStatus]:
    """The trail as a "needed" read for Identity Center facts leaves it: the home account only."""
    home = SourceStatus(
        source="cloudtrail",
        account_id=MGMT,
        coverage_start=days_ago(world.coverage_days),
        coverage_end=world.as_of,
        detail={"read": HOME_ONLY},
    )
    return [home]


def _outcomes(world: World, rule_id: str, statuses: list[SourceStatus]) -> list:
    snapshot = world.snapshot()
    snapshot.manifest.sources = [s for s in snapshot.manifest.sources if s.source != "cloudtrail"] + statuses
    evaluation = evaluate(snapshot, defaults(), world.as_of)
    return [f for f in evaluation.findings if f.rule_id == rule_id]


def test_the_enabled_rules_decide_which_accounts_and_regions_are_read():
    every = read_plan(defaults(), MGMT, "us-east-1")
    assert every.every_account  # emergency-access-used needs break-glass roles' and IAM users' own logs
    assert every.regions(PROD) is None and every.vouches(PROD)

    idc_only = [r for r, meta in RULES.items() if set(meta.trail) - {"idc_user", "idc_assignment"}]
    settings = defaults().overridden("rules", disabled=idc_only)
    plan = read_plan(settings, MGMT, "us-east-1")
    assert plan.facts == {"idc_user", "idc_assignment"}
    assert (plan.reads(MGMT), plan.reads(PROD)) == (True, False)
    assert plan.regions(MGMT) == {"us-east-1"}

    assert read_plan(settings.overridden("cloudtrail", read="all"), MGMT, "us-east-1").every_account
    assert read_plan(settings, None, "us-east-1").every_account  # home account unknown: read everything


def test_every_rule_that_reads_cloudtrail_declares_its_facts():
    readers = [r for r in RULES.values() if "cloudtrail" in r.sources or "cloudtrail.activity" in r.needs]
    assert readers and all(r.trail or r.trail_optional for r in readers)
    assert trail_facts_needed(RULES.values()) >= {"idc_user", "idc_assignment"}
    with pytest.raises(ValueError, match="declares no CloudTrail facts"):
        rule(
            id="idc-example-trail",
            category=Category.INACTIVE,
            severity=Severity.LOW,
            title="Example",
            description="An example.",
            controls=("SOC2-CC6.2",),
            sources=("cloudtrail",),
        )(lambda ctx, meta: [])
    with pytest.raises(ValueError, match="'logins' is not an activity kind"):
        rule(
            id="idc-example-trail",
            category=Category.INACTIVE,
            severity=Severity.LOW,
            title="Example",
            description="An example.",
            controls=("SOC2-CC6.2",),
            trail=("logins",),
        )(lambda ctx, meta: [])


def test_assignment_use_is_decided_from_the_home_accounts_portal_events():
    world = World()
    ps = world.permission_set("ReadOnly")
    world.assign(ps, world.idc_user("dan", created_days_ago=400), PROD)
    (finding,) = _outcomes(world, "idc-assignment-unused", _home_only(world))
    assert finding.severity != "info" and "insufficient_evidence" not in finding.evidence


def test_a_fact_that_was_not_read_is_insufficient_evidence_not_unused():
    world = World()
    user = world.iam_user("ci", DEV)
    world.key(user, "AKIAEXAMPLEKEY000001", created_days_ago=300, last_used_days_ago=None)
    gap = AttributeGap(what="access_key.last_used", error="AccessDenied (iam, GetAccessKeyLastUsed)")
    gap = AttributeGap(what=gap.what, error=gap.error, objects=["AKIAEXAMPLEKEY000001"])
    iam = SourceStatus(source="iam", account_id=DEV, attributes=[gap])
    (finding,) = _outcomes(world, "iam-access-key-unused", [*_home_only(world), iam])
    assert finding.evidence["insufficient_evidence"] is True
    assert f"CloudTrail was not collected for account {DEV}" in finding.evidence["missing"]

    glass = world.iam_user("breakglass-admin", MGMT, password=True)
    assert glass.account_id == MGMT  # its account's logs were read, but for Identity Center facts only
    found = [
        f for f in _outcomes(world, "emergency-access-used", _home_only(world)) if f.principal.name == glass.user_name
    ]
    assert [f.evidence["insufficient_evidence"] for f in found] == [True]
    assert "not for every kind of activity" in found[0].evidence["missing"]
