"""Shared steps of the remediation tests: plan, apply, count changes, collect afresh."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import msgspec

from auditor.clock import FixedClock
from auditor.collect.iam import collect_iam
from auditor.collect.identity_center import collect_identity_center
from auditor.collect.organizations import collect_organizations
from auditor.progress import Progress
from auditor.remediate import apply_plan, build_plan
from auditor.remediate.registry import record_plan
from tests.remediate.conftest import NOW

MUTATIONS = {
    "DeleteGroupMembership",
    "CreateGroupMembership",
    "DeleteAccountAssignment",
    "CreateAccountAssignment",
    "UpdateUser",
    "UpdateAccessKey",
    "DeleteLoginProfile",
    "CreateLoginProfile",
    "DetachUserPolicy",
    "AttachUserPolicy",
}
APPLY_AT = NOW + timedelta(hours=1)


def make_plan(estate, settings, population, revocations, now=NOW, store=None):
    """A plan recorded at ``now`` in ``store`` (the estate's unless given), its revocations decided by a campaign."""
    store = store or estate.store
    estate.workdir.mkdir(parents=True, exist_ok=True)
    decided = decide(store, revocations, now=now, out_dir=Path(tempfile.mkdtemp(dir=estate.workdir)))
    plan = build_plan(
        decided,
        clients=estate.clients(),
        settings=settings,
        now=now,
        population=population,
        source={"campaign_id": 1},
        created_by="tester",
    )
    record_plan(store, plan, actor="tester", clock=FixedClock(now))
    return plan


def apply(estate, plan, store, settings, population, *, yes=True, now=APPLY_AT, **options):
    """Apply with a clock stopped at ``now`` (unless the test passes its own ``clock``)."""
    options.setdefault("clock", FixedClock(now))
    return apply_plan(
        plan,
        clients=estate.clients(),
        store=store,
        settings=settings,
        population=population,
        yes=yes,
        **options,
    )


def mutations(estate) -> list[tuple[str, dict]]:
    return [(name, params) for _, name, params in estate.ctx.calls if name in MUTATIONS]


def statuses(result) -> dict[str, str]:
    return {o.description: o.status for o in result.outcomes}


def collect(estate) -> dict[str, list]:
    """A fresh collection through the product's own collectors."""
    progress = Progress()
    _, organization = collect_organizations(estate.ctx, progress)
    tables: dict[str, list] = {}
    for result in (
        collect_identity_center(estate.ctx, organization.accounts, progress),
        collect_iam(estate.ctx, organization.accounts, progress, sleep=lambda _: None),
    ):
        for name, records in result.tables.items():
            tables.setdefault(name, []).extend(records)
    return tables


def touched_view(tables, *, idc_users: set[str], idc_groups: set[str], iam_users: set[tuple[str, str]]) -> dict:
    """What a collection says about the touched principals, in a comparable form.

    A membership re-created by rollback has a new MembershipId, so memberships
    compare by (group, user); attached policies compare as a set.
    """
    principals = idc_users | idc_groups
    return {
        "idc_users": sorted(
            (msgspec.to_builtins(u) for u in tables["idc_users"] if u.user_id in idc_users), key=lambda u: u["user_id"]
        ),
        "memberships": sorted((m.group_id, m.user_id) for m in tables["idc_memberships"] if m.user_id in idc_users),
        "assignments": sorted(
            (a.account_id, a.permission_set_arn, a.principal_type, a.principal_id)
            for a in tables["account_assignments"]
            if a.principal_id in principals
        ),
        "iam_users": sorted(
            (
                {**msgspec.to_builtins(u), "attached_policies": sorted(u.attached_policies)}
                for u in tables["iam_users"]
                if (u.account_id, u.user_name) in iam_users
            ),
            key=lambda u: (u["account_id"], u["user_name"]),
        ),
        "access_keys": sorted(
            (msgspec.to_builtins(k) for k in tables["access_keys"] if (k.account_id, k.user_name) in iam_users),
            key=lambda k: k["access_key_id"],
        ),
    }


# --- revocations a closed campaign decided, recorded in the state store ------------------------


def decide(store, revocations, *, now=NOW, out_dir):
    """Record each revocation as an item of a closed campaign decided "revoke"; the campaign's own revocations.

    Revocations naming a finding (stale-access policies) are returned as they are; the others are grouped
    by the campaign id their reason names (1 when none), one campaign each, in order of first appearance.
    The result keeps the order of ``revocations``.
    """
    from auditor.campaign import CampaignSpec, close_campaign
    from auditor.campaign import revocations as decided_revocations
    from auditor.campaign.create import open_campaign
    from auditor.campaign.model import Item, RevokeSpec
    from auditor.config import defaults
    from auditor.snapshot import Manifest, Snapshot

    groups: dict = {}
    for revocation in revocations:
        if "finding_id" not in revocation.reason:
            groups.setdefault(revocation.reason.get("campaign_id", 1), []).append(revocation)
    decided: dict = {}
    snapshot = Snapshot(manifest=Manifest(as_of=now))
    for key, members in groups.items():
        items = [
            Item(
                item_id="",
                kind="iam_user" if r.kind.startswith("iam") else "idc_assignment",
                principal=r.principal,
                subject_email=None,
                subject_name=r.principal.name or r.principal.id,
                access=f"{r.kind} {sorted(r.target.items())}",
                account_id=r.account_id,
                revokes=[RevokeSpec(kind=r.kind, target=dict(r.target))],
            )
            for r in members
        ]
        spec = CampaignSpec(name=f"review {key}", due=now + timedelta(days=14), reviewer="fixed:manager@example.com")
        campaign = open_campaign(store, defaults(), snapshot, [], spec, now=now, run_dir=None, items=items).campaign
        close_campaign(store, campaign.id, now=now, out_dir=out_dir / f"evidence-{campaign.id}", undecided="revoke")
        for revocation in decided_revocations(store, campaign.id):
            decided[(key, revocation.kind, json.dumps(revocation.target, sort_keys=True))] = revocation
    return [
        r
        if "finding_id" in r.reason
        else decided[(r.reason.get("campaign_id", 1), r.kind, json.dumps(dict(r.target), sort_keys=True))]
        for r in revocations
    ]
