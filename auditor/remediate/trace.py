"""Every planned action must trace to something the store recorded: a campaign's "revoke", a finding, a proposal.

A reason in a plan only says where to look (a campaign and item, or a
finding id); what counts is what the store holds there. A campaign action
must be one of the revocations the closed campaign decided, recomputed from
its recorded items and decisions; a stale-access action must name the
target of a recorded, unresolved finding of a rule whose policy acts with
this kind of change, for which a notice was recorded; a right-sizing action
must write the very policy a recorded right-sizing proposal made for that
permission set. Checked when a plan is
recorded and again before it is applied.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import sqlalchemy as sa

from auditor.campaign import CampaignError
from auditor.campaign import revocations as campaign_revocations
from auditor.model import Finding, Revocation
from auditor.remediate.actions import ACTIONS
from auditor.remediate.notices import Notices
from auditor.remediate.plan import Plan, PlannedAction, describe_target
from auditor.remediate.rightsize_actions import RIGHTSIZE
from auditor.remediate.schema import rightsize_proposals
from auditor.remediate.stale import POLICIES
from auditor.store import Store, findings


def untraced(store: Store, plan: Plan) -> list[str]:
    """The actions (id and description) that trace to no recorded decision or finding; empty when all do."""
    decided: dict[int, list[Revocation]] = {}
    return [
        f"action {planned.id} ({describe_target(planned.kind, planned.target)})"
        for planned in plan.actions
        if not any(_traces(store, planned, reason, decided) for reason in planned.reasons)
    ]


def _key(kind: str, target: dict) -> dict[str, str]:
    keys = ACTIONS[kind].target_keys if kind in ACTIONS else tuple(target)
    return {key: str(target.get(key)) for key in keys}


def _traces(store: Store, planned: PlannedAction, reason: object, decided: dict[int, list[Revocation]]) -> bool:
    if not isinstance(reason, dict):
        return False
    if "rightsize_proposal_id" in reason:
        return _proposal_traces(store, planned, reason["rightsize_proposal_id"])
    if isinstance(reason.get("finding_id"), str):
        return _finding_traces(store, planned, reason["finding_id"])
    campaign_id, item_id = reason.get("campaign_id"), reason.get("item_id")
    if type(campaign_id) is not int or not isinstance(item_id, str):
        return False
    if campaign_id not in decided:
        try:
            decided[campaign_id] = campaign_revocations(store, campaign_id)
        except CampaignError:  # unknown, or still open: nothing was decided
            decided[campaign_id] = []
    wanted = _key(planned.kind, planned.target)
    return any(
        r.kind == planned.kind
        and _key(r.kind, r.target) == wanted
        and item_id in r.reason.get("item_ids", [r.reason.get("item_id")])
        for r in decided[campaign_id]
    )


def _finding_traces(store: Store, planned: PlannedAction, finding_id: str) -> bool:
    with store.engine.connect() as conn:
        body = conn.execute(sa.select(findings.c.body).where(findings.c.finding_id == finding_id)).scalar()
    if body is None:
        return False
    finding = msgspec.json.decode(body, type=Finding)
    if finding.status in ("resolved", "suppressed") or finding.evidence.get("insufficient_evidence"):
        return False
    if finding.rule_id in OFFBOARDING:
        return _offboarding_traces(planned, finding)
    policy = POLICIES.get(finding.rule_id)
    if policy is None or policy.kind.value != planned.kind:
        return False
    if Notices(store, Path()).latest(finding_id) is None:
        return False
    target = planned.target
    if planned.kind == "idc_user":
        return target.get("user_id") == finding.principal.id
    return target.get("account_id") == finding.account_id and target.get("access_key_id") == (
        finding.resource or finding.principal.id
    )


def _proposal_traces(store: Store, planned: PlannedAction, proposal_id: object) -> bool:
    """A right-sizing action writes exactly the policy a recorded proposal made, to that permission set."""
    if type(proposal_id) is not int or planned.kind != RIGHTSIZE.kind:
        return False
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(rightsize_proposals).where(rightsize_proposals.c.id == proposal_id)).first()
    return (
        row is not None
        and planned.target.get("permission_set_arn") == row.permission_set_arn
        and planned.target.get("policy") == row.policy
    )


# A leaver's finding asks for all of their access to go (an HR event's offboarding): no notice, the HR record is it.
OFFBOARDING = {"idc-leaver-with-access", "iam-user-without-owner"}


def _offboarding_traces(planned: PlannedAction, finding: Finding) -> bool:
    """The target is the leaver's own: their user, membership or direct assignment; a key of an IAM user they owned."""
    target, principal = planned.target, finding.principal
    if finding.rule_id == "iam-user-without-owner":
        return (
            finding.evidence.get("owner_status") == "terminated"
            and planned.kind == "iam_access_key"
            and target.get("account_id") == finding.account_id
            and target.get("user_name") == principal.name
        )
    if planned.kind in ("idc_user", "idc_group_membership"):
        return target.get("user_id") == principal.id
    if planned.kind == "idc_account_assignment":
        return target.get("principal_type") == "USER" and target.get("principal_id") == principal.id
    return False
