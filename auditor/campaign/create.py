"""Opening a campaign: freeze the items of a run, route them to reviewers, record it all.

The items come from one recorded run (its snapshot and findings) and are
stored with the campaign, so later runs never move what is under review.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec
import sqlalchemy as sa

from auditor import snapshot as snapshots
from auditor.campaign.items import build_items
from auditor.campaign.model import Campaign, CampaignError, CampaignSpec, Item
from auditor.campaign.reviewers import UNASSIGNED, ReviewerResolver, Unresolved, needs_attention, parse_mode
from auditor.campaign.schema import campaign_items, campaign_people, campaigns, iso
from auditor.campaign.scope import parse_scopes
from auditor.campaign.state import get_campaign, seal_signing_key
from auditor.config import Settings
from auditor.model import Finding
from auditor.snapshot import Snapshot
from auditor.store import Store

KIND_ORDER = {"idc_group": 0, "idc_assignment": 1, "iam_user": 2}


@dataclass
class CreateResult:
    campaign: Campaign
    items: int
    by_reviewer: dict[str, int]
    fallback: list[Unresolved] = field(default_factory=list)  # items routed to the fallback reviewer


def load_run(store: Store, run_dir: Path | None) -> tuple[Snapshot, list[Finding], Path]:
    """The snapshot and findings of ``run_dir``, else of the latest recorded run."""
    if run_dir is None:
        latest = store.latest_run()
        if latest is None or not latest.get("out_dir"):
            raise CampaignError("no recorded run with an output directory; run `auditor run` first or pass --run-dir")
        run_dir = Path(latest["out_dir"])
    snapshot = snapshots.load(run_dir / "snapshot")
    findings_path = run_dir / "findings.json"
    if not findings_path.is_file():
        raise CampaignError(f"{findings_path}: not found (a run directory holds snapshot/ and findings.json)")
    try:
        findings = msgspec.json.decode(findings_path.read_bytes(), type=list[Finding])
    except msgspec.DecodeError as exc:
        raise CampaignError(f"{findings_path}: {exc}") from exc
    return snapshot, findings, run_dir


def create_campaign(
    store: Store,
    settings: Settings,
    spec: CampaignSpec,
    *,
    now: datetime,
    run_dir: Path | None = None,
    actor: str = "auditor",
) -> CreateResult:
    """``auditor campaign create``: a campaign over the latest run (or ``run_dir``)."""
    snapshot, findings, run_dir = load_run(store, run_dir)
    return open_campaign(store, settings, snapshot, findings, spec, now=now, run_dir=run_dir, actor=actor)


def open_campaign(
    store: Store,
    settings: Settings,
    snapshot: Snapshot,
    findings: list[Finding],
    spec: CampaignSpec,
    *,
    now: datetime,
    run_dir: Path | None,
    actor: str = "auditor",
    items: list[Item] | None = None,
) -> CreateResult:
    """Build (unless given), route and store the items; audit-log the creation."""
    if now.tzinfo is None or spec.due.tzinfo is None:
        raise ValueError("now and due must be timezone-aware")
    if not spec.name.strip():
        raise CampaignError("--name must not be empty")
    if spec.due <= now:
        raise CampaignError(f"--due {spec.due.isoformat()} is not in the future")
    parse_mode(spec.reviewer)
    scope = parse_scopes(spec.scopes)
    if items is None:
        items = build_items(
            snapshot,
            findings,
            scope,
            privileged_only=spec.privileged_only,
            rules_settings=settings.section("rules"),
            as_of=snapshot.manifest.as_of,
        )
    if not items:
        raise CampaignError(
            f"nothing to review in {scope.describe()}" + (" (privileged only)" if spec.privileged_only else "")
        )
    fallback_reviewer = spec.fallback_reviewer or settings.get("campaigns", "fallback_reviewer")
    resolver = ReviewerResolver(snapshot, spec.reviewer, fallback_reviewer, spec.owner)
    routed = []
    for item in items:
        reviewer, basis = resolver.resolve(item)
        if reviewer is None:  # no route at all: stored unassigned, listed, assigned later by the owner
            reviewer, basis = UNASSIGNED, f"unrouted: {basis}"
        routed.append(msgspec.structs.replace(item, reviewer=reviewer, reviewer_basis=basis))
    routed.sort(key=_packet_order)
    campaign_id, routed = _insert(store, spec, snapshot, routed, now=now, run_dir=run_dir, actor=actor)
    fallback = [_unresolved(i, i.reviewer_basis) for i in routed if needs_attention(i.reviewer_basis)]
    by_reviewer = dict(sorted(Counter(i.reviewer for i in routed if i.reviewer != UNASSIGNED).items()))
    store.audit(
        "campaign.created",
        f"campaign {campaign_id}",
        {
            "name": spec.name,
            "kind": spec.kind,
            "scopes": list(spec.scopes),
            "reviewer_mode": spec.reviewer,
            "privileged_only": spec.privileged_only,
            "due_at": iso(spec.due),
            "items": len(routed),
            "by_reviewer": by_reviewer,
            "fallback_items": [u.item_id for u in fallback],
            "unrouted_items": [i.item_id for i in routed if i.reviewer == UNASSIGNED],
            "owner": spec.owner or None,
            "run_dir": str(run_dir) if run_dir else None,
            "snapshot_as_of": iso(snapshot.manifest.as_of),
            "origin": list(spec.origin),
        },
        actor=actor,
    )
    return CreateResult(get_campaign(store, campaign_id), len(routed), by_reviewer, fallback)


def _unresolved(item: Item, reason: str) -> Unresolved:
    return Unresolved(item.item_id, item.subject_email or item.subject_name, item.access, reason)


def _packet_order(item: Item) -> tuple:
    return (
        item.reviewer,
        KIND_ORDER.get(item.kind, 9),
        item.subject_name.lower(),
        item.account_id or "",
        item.permission_set or "",
        item.group or "",
        item.principal.id,
    )


def _insert(
    store: Store, spec: CampaignSpec, snapshot: Snapshot, items: list[Item], *, now, run_dir, actor
) -> tuple[int, list[Item]]:
    encoder = msgspec.json.Encoder(order="deterministic")
    people = {}
    for person in snapshot.table("hr_people"):
        people.setdefault(
            person.email.lower(),
            {
                "email": person.email.lower(),
                "display_name": person.display_name,
                "manager_email": person.manager_email.lower() or None,
                "status": person.status,
            },
        )
    with store.engine.begin() as conn:
        campaign_id = conn.execute(
            campaigns.insert().values(
                name=spec.name.strip(),
                kind=spec.kind,
                status="open",
                created_at=now,
                created_by=actor,
                due_at=spec.due,
                reviewer_mode=spec.reviewer,
                scopes=json.dumps(list(spec.scopes)),
                privileged_only=spec.privileged_only,
                run_dir=str(run_dir) if run_dir else None,
                snapshot_as_of=snapshot.manifest.as_of,
                origin=json.dumps(list(spec.origin)),
                owner=spec.owner.strip().lower() or None,
            )
        ).inserted_primary_key[0]
        seal_signing_key(store, conn, campaign_id, secrets.token_bytes(32))
        width = max(4, len(str(len(items))))
        numbered = [
            msgspec.structs.replace(item, item_id=f"C{campaign_id}-{n:0{width}d}")
            for n, item in enumerate(items, start=1)
        ]
        conn.execute(
            campaign_items.insert(),
            [
                {
                    "campaign_id": campaign_id,
                    "item_id": item.item_id,
                    "position": n,
                    "reviewer": item.reviewer,
                    "flagged": item.flagged,
                    "body": encoder.encode(item).decode(),
                }
                for n, item in enumerate(numbered, start=1)
            ],
        )
        if people:
            conn.execute(campaign_people.insert(), [{"campaign_id": campaign_id, **p} for p in people.values()])
    return campaign_id, numbered


def micro_exists(store: Store, finding_ids: set[str]) -> set[str]:
    """The finding ids some campaign was already opened for."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(campaigns.c.origin).where(campaigns.c.kind == "micro")).all()
    seen = {fid for row in rows for fid in json.loads(row.origin)}
    return finding_ids & seen
