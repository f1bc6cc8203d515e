"""A right-sizing plan: replace a permission set's inline policy with what its users called, on whole evidence only.

A permission set's inline policy is one document for every account it is
provisioned to, so the proposal covers the union of what was used in every
account it is assigned in. It is made from the latest recorded run's
snapshot (its ``action_usage`` table and its CloudTrail coverage) and only
on whole evidence: every one of those accounts must have been read for
``[remediation] rightsize_observation_days`` without a gap, with its action
usage complete; otherwise the plan is refused, since an action missing from
the evidence would be taken away from people who need it.

Only the inline policy is replaced. A managed or customer managed policy
attached to the permission set keeps granting what it grants, so when one
grants more than the proposal would leave, the plan is refused naming it
(detach or narrow it first). The proposal is recorded in the store (what
the action traces to), the pre-state is read through the right-sizing role,
and the plan is sealed and recorded like every other plan: ``remediate
apply`` journals, checks and verifies it, and ``remediate rollback`` writes
the original text back.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.aws import rightsize_context
from auditor.config import Settings
from auditor.model import ActivityKind, PermissionSet, Principal
from auditor.permissions import PermissionModel
from auditor.permissions.effective import Effective
from auditor.permissions.rightsize import Proposal, propose_within, uses_of_permission_set
from auditor.remediate.clients import Clients
from auditor.remediate.errors import NotFound, PlanError, Refused
from auditor.remediate.journal import Journal
from auditor.remediate.plan import Plan, PlannedAction, action_id, breaker_verdict, describe, save_plan, sealed
from auditor.remediate.population import population_from_store
from auditor.remediate.protection import Protection
from auditor.remediate.registry import record_plan
from auditor.remediate.rightsize_actions import RIGHTSIZE, same_policy
from auditor.remediate.schema import rightsize_proposals
from auditor.rules.context import RuleContext
from auditor.snapshot import Snapshot
from auditor.store import Store

INLINE = "inline policy"  # how effective permissions label a permission set's inline policy
SHOWN = 10  # actions named in a refusal before "and N more"


@dataclass
class RightsizePlanned:
    plan: Plan
    proposal: Proposal
    accounts: list[str]  # where the permission set is assigned: the proposal covers what was used in all of them
    removed: list[str]  # actions the inline policy grants now and the proposal does not
    kept: list[str]  # attached policies the plan leaves as they are


def rightsize_clients(settings: Settings) -> Clients:
    """AWS clients acting as ``[aws] rightsize_role_name``: the only role that writes a permission set's policy."""
    return Clients(rightsize_context(settings))


def plan_rightsize(
    store: Store,
    settings: Settings,
    *,
    permission_set: str,
    now: datetime,
    actor: str,
    out: Path | None = None,
    clients: Clients | None = None,
) -> RightsizePlanned:
    """Plan replacing ``permission_set``'s (name or ARN) inline policy with the proposal from the latest run.

    Raises ``NotFound`` for an unknown permission set, ``PlanError`` when no
    run's snapshot can be read, ``Refused`` on partial evidence, on attached
    policies granting more than the proposal, or when AWS no longer holds
    the policy the run read. The sealed plan is recorded and written to ``out``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run_id, snapshot = _latest_snapshot(store)
    ps = _permission_set(snapshot, permission_set, run_id)
    accounts = sorted({a.account_id for a in snapshot.table("account_assignments") if a.permission_set_arn == ps.arn})
    if not accounts:
        raise Refused(f"permission set {ps.name} is assigned in no account in run {run_id}: no use to propose from")
    days = settings.get("remediation", "rightsize_observation_days")
    missing = missing_evidence(snapshot, settings, accounts, days)
    if missing:
        raise Refused(
            f"right-sizing permission set {ps.name} needs {days} days of whole evidence in every account it is "
            f"assigned in ({', '.join(accounts)}); run {run_id} lacks it: " + "; ".join(missing)
        )
    model = PermissionModel(snapshot)
    effective = {account: model.permission_set(ps, account) for account in accounts}
    unread = sorted({u for e in effective.values() for u in e.unknown})
    if unread:
        raise Refused(f"what permission set {ps.name} grants is not known in full: " + "; ".join(unread))
    uses = [u for a in accounts for u in uses_of_permission_set(snapshot.table("action_usage"), ps.name, a)]
    granted = frozenset().union(*(e.actions for e in effective.values()))
    label = f"permission set {ps.name} in {len(accounts)} account(s)"
    proposal = propose_within(label, granted, uses, model.catalog)
    _check_proposal(ps, proposal, days)
    allowed = {a for actions in proposal.used.values() for a in actions}
    kept = _attached_beyond(ps, effective, allowed)
    removed = sorted(_granted_by(effective, inline=True) - allowed)

    clients = clients or rightsize_clients(settings)
    target = {"instance_arn": instance_arn(ps.arn), "permission_set_arn": ps.arn, "policy": proposal.text()}
    protection = Protection.load(settings, clients)
    principal = Principal(type="permission_set", id=ps.arn, name=ps.name, arn=ps.arn)
    why = protection.why_static(principal, target) or protection.why(RIGHTSIZE.names(clients, target))
    if why:
        raise Refused(f"permission set {ps.name} is protected: {why}")
    state = RIGHTSIZE.read(clients, target)
    if RIGHTSIZE.revoked(state):
        raise Refused(f"permission set {ps.name}'s inline policy is already the proposal: nothing to change")
    if not same_policy(state["inline_policy"], ps.inline_policy):
        raise Refused(
            f"permission set {ps.name}'s inline policy changed since run {run_id} read it: the usage was measured "
            "against another policy; run again, then plan"
        )
    evidence = {
        "run_id": run_id,
        "permission_set": ps.name,
        "accounts": accounts,
        "observation_days": days,
        **proposal.evidence(),
        "removed_actions": removed,
        "resources": proposal.resources,
        "used_not_granted": proposal.used_not_granted,
        "attached_policies_kept": kept,
    }
    proposal_id = _record_proposal(store, run_id, ps.arn, proposal.text(), evidence, now, actor)
    planned = PlannedAction(
        id=action_id(RIGHTSIZE.kind, target),
        kind=RIGHTSIZE.kind,
        description=describe(RIGHTSIZE, target, principal),
        target=target,
        principal=principal,
        reasons=[{"rightsize_proposal_id": proposal_id, **evidence}],
        pre_state=state,
        rollback_note=RIGHTSIZE.rollback_note,
    )
    verdict = breaker_verdict([planned], population_from_store(store), settings, Journal(store, actor).recent())
    notes = [
        f"pre-state read from AWS at {now.isoformat()}",
        f"proposal from run {run_id}: {proposal.used_count} of {proposal.granted} granted actions used in {days} "
        f"days across {', '.join(accounts)}; {len(removed)} actions of the inline policy removed",
        f"policy size {proposal.size} of {proposal.limit} characters (IAM's limit for a permission set's inline "
        "policy, whitespace not counted)",
        "only the inline policy is replaced: "
        + ("attached policies stay as they are (" + ", ".join(kept) + ")" if kept else "no policy is attached"),
        f"{RIGHTSIZE.kind}: {RIGHTSIZE.rollback_note}",
    ]
    if verdict.tripped:
        notes.append(verdict.message())
    plan = sealed(
        Plan(
            created_at=now,
            created_by=actor,
            source={"rightsize": ps.name, "run_id": run_id},
            actions=[planned],
            breaker=verdict.to_dict(),
            notes=notes,
        )
    )
    record_plan(store, plan, actor=actor)
    if out is not None:
        save_plan(plan, out)
    return RightsizePlanned(plan=plan, proposal=proposal, accounts=accounts, removed=removed, kept=kept)


def instance_arn(permission_set_arn: str) -> str:
    """The Identity Center instance a permission set belongs to: its ARN names the instance id."""
    head, _, rest = permission_set_arn.partition(":permissionSet/")
    return f"{head}:instance/{rest.split('/', 1)[0]}"


def missing_evidence(snapshot: Snapshot, settings: Settings, accounts: list[str], days: int) -> list[str]:
    """Per account, what keeps its usage from being the whole of ``days`` days (empty: nothing)."""
    context = RuleContext(snapshot=snapshot, as_of=snapshot.manifest.as_of, settings=settings.section("rules"))
    missing = []
    for account in accounts:
        window = context.missing_window(account, days, ActivityKind.IDC_ASSIGNMENT.value)
        if window:
            missing.append(window)
        elif (status := snapshot.status_of("cloudtrail", account)) is None or (
            status.tables.get("action_usage") != snapshots.COMPLETE
        ):  # never vouched for by a status that keeps no table states: usage is newer than those
            missing.append(f"the actions called in account {account} were not recorded in full (action_usage)")
    return missing


def _latest_snapshot(store: Store) -> tuple[int, Snapshot]:
    latest = store.latest_run()
    if latest is None or not latest.get("out_dir"):
        raise PlanError("no run is recorded in the state store: run `auditor run` first")
    try:
        return latest["id"], snapshots.load(Path(latest["out_dir"]) / "snapshot")
    except (snapshots.SnapshotError, OSError) as exc:
        raise PlanError(f"the snapshot of run {latest['id']} cannot be read: {exc}") from exc


def _permission_set(snapshot: Snapshot, wanted: str, run_id: int) -> PermissionSet:
    found = [p for p in snapshot.table("permission_sets") if wanted in (p.name, p.arn)]
    if not found:
        raise NotFound(f"no permission set named {wanted!r} in run {run_id}'s snapshot")
    if len(found) > 1:
        raise NotFound(f"{len(found)} permission sets are named {wanted!r}: give its ARN")
    return found[0]


def _check_proposal(ps: PermissionSet, proposal: Proposal, days: int) -> None:
    if not proposal.used:
        raise Refused(
            f"permission set {ps.name}'s users called none of its actions in {days} days: an empty policy is no "
            "right-sizing; review its assignments (a campaign) instead"
        )
    if not proposal.fits:
        raise Refused(
            f"the proposal for permission set {ps.name} is {proposal.size} characters, over IAM's limit of "
            f"{proposal.limit} for its inline policy"
        )


def _granted_by(effective: dict[str, Effective], *, inline: bool) -> set[str]:
    """Actions the inline policy (or the attached ones) grants, in any account, after denies and the boundary."""
    found: set[str] = set()
    for e in effective.values():
        for grant in e.grants:
            if (grant.policy == INLINE) == inline:
                found |= grant.statement.actions & e.actions
    return found


def _attached_beyond(ps: PermissionSet, effective: dict[str, Effective], allowed: set[str]) -> list[str]:
    """The attached policies (labels); ``Refused`` naming those that grant actions the proposal would not leave."""
    beyond: dict[str, set[str]] = defaultdict(set)
    attached: set[str] = set()
    for e in effective.values():
        for grant in e.grants:
            if grant.policy != INLINE:
                attached.add(grant.policy)
                beyond[grant.policy] |= (grant.statement.actions & e.actions) - allowed
    over = {policy: actions for policy, actions in beyond.items() if actions}
    if over:
        parts = []
        for policy, actions in sorted(over.items()):
            shown = ", ".join(sorted(actions)[:SHOWN])
            more = f" and {len(actions) - SHOWN} more" if len(actions) > SHOWN else ""
            parts.append(f"{policy} grants {len(actions)} actions the proposal would not leave ({shown}{more})")
        raise Refused(
            f"right-sizing replaces permission set {ps.name}'s inline policy only, and its attached policies would "
            "keep granting more than the proposal: " + "; ".join(parts) + "; detach or narrow them first"
        )
    return sorted(attached)


def _record_proposal(
    store: Store, run_id: int, arn: str, policy: str, evidence: dict, now: datetime, actor: str
) -> int:
    with store.engine.begin() as conn:
        inserted = conn.execute(
            rightsize_proposals.insert().values(
                run_id=run_id,
                permission_set_arn=arn,
                policy=policy,
                evidence=json.dumps(evidence, sort_keys=True, default=str),
                proposed_at=now,
                proposed_by=actor,
            )
        )
        proposal_id = inserted.inserted_primary_key[0]
        store.audit_in(
            conn,
            "remediate.rightsize.proposed",
            f"permission set {arn}",
            {"proposal_id": proposal_id, "run_id": run_id, "used_actions": evidence["used_actions"]},
            actor=actor,
        )
    return proposal_id
