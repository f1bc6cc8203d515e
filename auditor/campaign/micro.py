"""Micro-certification: a small campaign for a person's manager when a nightly run sees a mover or a new admin grant.

A mover keeping old access, or a person newly able to administer, should
not wait for the quarter: the manager confirms or revokes it now. One
campaign per person per run, never twice for the same finding; off with
[campaigns] micro_certification = false. The first run of an estate is a
baseline (every finding is "new"), so nothing is opened until a run
earlier than the snapshot's as-of is on record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.campaign.create import micro_exists, open_campaign
from auditor.campaign.items import build_items
from auditor.campaign.model import CampaignError, CampaignSpec, Item
from auditor.campaign.scope import Scope
from auditor.config import Settings
from auditor.model import Finding, PrincipalType
from auditor.snapshot import Snapshot
from auditor.store import Store, runs

TRIGGERS = {
    "idc-mover-keeps-old-access": "moved department",
    "idc-admin-access": "holds administrator access",
}


@dataclass(frozen=True)
class MicroResult:
    user_name: str
    finding_ids: list[str]
    campaign_id: int | None  # None: not opened (see ``skipped``)
    reviewer: str | None = None
    skipped: str | None = None


def open_micro_campaigns(
    store: Store,
    snapshot: Snapshot,
    findings: list[Finding],
    settings: Settings,
    now: datetime,
    *,
    run_dir: Path | None = None,
    actor: str = "auditor",
) -> list[MicroResult]:
    """For new mover and admin findings, one campaign per person, reviewed by their manager."""
    section = settings.section("campaigns")
    if not section["micro_certification"]:
        return []
    triggered: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.rule_id in TRIGGERS and finding.status == "new" and finding.principal.type == PrincipalType.IDC_USER:
            triggered[finding.principal.id].append(finding)
    if not triggered or not _has_earlier_run(store, snapshot.manifest.as_of):
        return []
    done = micro_exists(store, {f.finding_id for fs in triggered.values() for f in fs})
    users = {u.user_id: u for u in snapshot.table("idc_users")}
    every = build_items(
        snapshot,
        findings,
        Scope(),
        privileged_only=False,
        rules_settings=settings.section("rules"),
        as_of=snapshot.manifest.as_of,
    )
    results = []
    for user_id, user_findings in sorted(triggered.items()):
        fresh = sorted((f for f in user_findings if f.finding_id not in done), key=lambda f: f.finding_id)
        user = users.get(user_id)
        name = user.user_name if user else user_findings[0].principal.name or user_id
        if not fresh:
            continue
        items = _items_for(every, user_id, fresh)
        ids = [f.finding_id for f in fresh]
        if not items:
            results.append(MicroResult(name, ids, None, skipped="no current access to review"))
            continue
        why = " and ".join(sorted({TRIGGERS[f.rule_id] for f in fresh}))
        spec = CampaignSpec(
            name=f"Micro-certification: {name} {why}",
            due=now + timedelta(days=section["default_duration_days"]),
            reviewer="manager",
            kind="micro",
            origin=ids,
        )
        try:
            created = open_campaign(
                store, settings, snapshot, findings, spec, now=now, run_dir=run_dir, actor=actor, items=items
            )
        except CampaignError as exc:
            results.append(MicroResult(name, ids, None, skipped=str(exc)))
            continue
        reviewers = sorted(created.by_reviewer)
        results.append(MicroResult(name, ids, created.campaign.id, reviewer=", ".join(reviewers)))
    return results


def _has_earlier_run(store: Store, as_of: datetime) -> bool:
    with store.engine.connect() as conn:
        earlier = conn.execute(sa.select(sa.func.count()).select_from(runs).where(runs.c.as_of < as_of)).scalar()
    return bool(earlier)


def _items_for(every: list[Item], user_id: str, findings: list[Finding]) -> list[Item]:
    """A mover: all their Identity Center access; a new admin: their paths to the admin permission sets."""
    mine = [i for i in every if i.principal.type == PrincipalType.IDC_USER and i.principal.id == user_id]
    if any(f.rule_id == "idc-mover-keeps-old-access" for f in findings):
        return mine
    admin_sets = {f.resource for f in findings if f.rule_id == "idc-admin-access"}
    return [i for i in mine if i.permission_set_arn in admin_sets]
