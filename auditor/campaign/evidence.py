"""The evidence pack of a closed campaign, and its verification.

An auditor receives a directory: summary.html to read, items.csv and
items.json (every item with its final decision, reviewer, time and
justification), decisions.csv (every decision ever recorded, replaced ones
included), revocations.json (what the remediator is asked to remove), and
manifest.json with the SHA-256 of each file. Access kept on condition of
right-sizing is listed per (permission set, account), with the command that
plans it, in items.json ("rightsizing") and summary.html. The close entry of the
hash-chained audit log records the manifest's own SHA-256, so the pack can
be tied to the state store.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import msgspec
import sqlalchemy as sa

from auditor import __version__
from auditor.campaign.model import Campaign, Decision, ItemState, kept
from auditor.campaign.outcome import Outcome, final_decision
from auditor.campaign.render import render
from auditor.campaign.reviewers import needs_attention
from auditor.campaign.schema import iso
from auditor.campaign.signing import cell, clean
from auditor.files import atomic_write
from auditor.report.common import format_time
from auditor.store import Head, Store, audit_log

MANIFEST = "manifest.json"
ITEM_COLUMNS = (
    "item_id",
    "kind",
    "subject",
    "subject_email",
    "access",
    "account_id",
    "permission_set",
    "group",
    "admin",
    "flagged",
    "related_findings",
    "last_used",
    "recommendation",
    "assigned_reviewer",
    "reviewer_basis",
    "reviewer",
    "decision",
    "decided_at",
    "justification",
    "source",
    "undecided_at_close",
    "outcome",
)
DECISION_COLUMNS = ("item_id", "decision", "reassign_to", "reviewer", "decided_at", "justification", "source")


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([cell(clean(v)) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def _item_outcome(state: ItemState, outcome: Outcome, conflicts: dict[str, str]) -> str:
    item_id = state.item.item_id
    if item_id in conflicts:
        return f"conflict: {conflicts[item_id]}"
    if item_id in outcome.nothing_to_revoke:
        return "revoke: no active credential to remove"
    if item_id in outcome.revoked_items:
        return "revocation planned"
    if _by_policy(state) and final_decision(state) == "keep":
        return "kept while undecided: follow up"
    if final_decision(state) == Decision.RIGHTSIZE:
        return "kept; right-sizing requested"
    return final_decision(state) or "undecided"


def _by_policy(state: ItemState) -> bool:
    return state.decision is not None and state.decision.source.startswith("policy:")


def item_rows(states: list[ItemState], outcome: Outcome) -> list[dict]:
    conflicts = {c.item_id: c.reason for c in outcome.conflicts}
    rows = []
    for state in states:
        item, decision = state.item, state.decision if state.decided else None
        rows.append(
            {
                "item_id": item.item_id,
                "kind": item.kind,
                "subject": item.subject_name,
                "subject_email": item.subject_email or "",
                "access": item.access,
                "account_id": item.account_id or "",
                "permission_set": item.permission_set or "",
                "group": item.group or "",
                "admin": "yes" if item.admin else "no",
                "flagged": "yes" if item.flagged else "no",
                "related_findings": "; ".join(f"{f['rule_id']}: {f['title']}" for f in item.related_findings),
                "last_used": item.last_used,
                "recommendation": item.recommendation,
                "assigned_reviewer": item.reviewer,
                "reviewer_basis": item.reviewer_basis,
                "reviewer": state.reviewer,
                "decision": decision.decision if decision else "",
                "decided_at": iso(decision.decided_at) if decision else "",
                "justification": decision.justification if decision else "",
                "source": decision.source if decision else "",
                "undecided_at_close": "yes" if _by_policy(state) else "no",
                "outcome": _item_outcome(state, outcome, conflicts),
            }
        )
    return rows


def write_evidence(
    campaign: Campaign, states: list[ItemState], outcome: Outcome, out_dir: Path, *, now: datetime, audit_head: str
) -> Path:
    """Write every file, then the manifest of their digests; returns the manifest's path.

    ``audit_head`` (``id:hash``) anchors the audit chain outside the database:
    `auditor audit verify --expect-head manifest.json` tells a cut or a rewrite.
    """
    out_dir = Path(out_dir)
    rows = item_rows(states, outcome)
    decisions = [
        [h.item_id, h.decision, h.reassign_to or "", h.reviewer, iso(h.decided_at), h.justification, h.source]
        for s in states
        for h in s.history
    ]
    campaign_facts = {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "created_at": iso(campaign.created_at),
        "created_by": campaign.created_by,
        "due_at": iso(campaign.due_at),
        "closed_at": iso(campaign.closed_at or now),
        "undecided_policy": campaign.undecided_policy,
        "reviewer_mode": campaign.reviewer_mode,
        "scopes": campaign.scopes,
        "privileged_only": campaign.privileged_only,
        "snapshot_as_of": iso(campaign.snapshot_as_of),
        "run_dir": campaign.run_dir,
    }
    items_json = {
        "campaign": campaign_facts,
        "items": [
            {
                "item": msgspec.to_builtins(s.item),
                "reviewer": s.reviewer,
                "decision": _decision_json(s.decision) if s.decided else None,
                "history": [_decision_json(h) for h in s.history],
                "outcome": row["outcome"],
            }
            for s, row in zip(states, rows, strict=True)
        ],
        "conflicts": [c.__dict__ for c in outcome.conflicts],
        "rightsizing": [r.as_dict() for r in outcome.rightsizings],
    }
    files = {
        "items.csv": _csv(ITEM_COLUMNS, [[r[c] for c in ITEM_COLUMNS] for r in rows]),
        "decisions.csv": _csv(DECISION_COLUMNS, decisions),
        "items.json": json.dumps(items_json, indent=2, sort_keys=True).encode("utf-8") + b"\n",
        "revocations.json": msgspec.json.format(msgspec.json.encode(outcome.revocations), indent=2) + b"\n",
        "summary.html": _summary(campaign, campaign_facts, states, rows, outcome, now).encode("utf-8"),
    }
    for name, data in files.items():
        atomic_write(out_dir / name, data)
    manifest = {
        "campaign": campaign_facts,
        "generated_at": iso(now),
        "tool_version": __version__,
        "audit_log_head": audit_head,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
    }
    path = out_dir / MANIFEST
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n")
    return path


def _decision_json(record) -> dict:
    return {
        "decision": record.decision,
        "reassign_to": record.reassign_to,
        "reviewer": record.reviewer,
        "decided_at": iso(record.decided_at),
        "justification": record.justification,
        "source": record.source,
    }


def _summary(campaign, facts, states, rows, outcome: Outcome, now) -> str:
    reviewers: dict[str, Counter] = {}
    for state, row in zip(states, rows, strict=True):
        counts = reviewers.setdefault(state.reviewer, Counter())
        counts["items"] += 1
        counts[row["decision"] or "undecided"] += 1
        counts["kept"] += kept(row["decision"])
        counts["by policy"] += row["undecided_at_close"] == "yes"
    decisions = Counter(row["decision"] or "undecided" for row in rows)
    return render(
        "campaign_evidence.html.j2",
        campaign=campaign,
        facts=facts,
        generated=format_time(now),
        decisions=dict(sorted(decisions.items())),
        reviewers=sorted(reviewers.items()),
        fallback=[r for r in rows if needs_attention(r["reviewer_basis"])],
        rows=rows,
        outcome=outcome,
        revocations=[msgspec.to_builtins(r) for r in outcome.revocations],
    )


def manifest_digest(directory: Path) -> str:
    return hashlib.sha256((Path(directory) / MANIFEST).read_bytes()).hexdigest()


def verify_evidence(directory: Path, store: Store | None = None) -> list[str]:
    """Problems found ([] when the pack verifies): every listed file present and unchanged, nothing extra.

    With ``store``, the manifest must also be the one the campaign's close entry in the audit log names.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path}: unreadable manifest: {exc}"]
    problems = []
    for name, expected in sorted(files.items()):
        target = _inside(directory, name)
        if target is None:
            problems.append(f"{name}: not a file name inside the pack (absolute or outside it); not read")
            continue
        if not target.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        actual = hashlib.sha256(target.read_bytes()).hexdigest()
        if actual != expected.get("sha256"):
            problems.append(f"{name}: SHA-256 {actual} does not match the manifest's {expected.get('sha256')}")
    extra = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name not in files and p.name != MANIFEST)
    problems += [f"{name}: not listed in the manifest" for name in extra]
    if store is not None:
        problems += _check_audit_log(store, manifest, manifest_digest(directory))
    return problems


def _inside(directory: Path, name: object) -> Path | None:
    """The pack file a manifest entry names, or None when it would lead outside the pack.

    A manifest is input: an entry such as ``/etc/passwd`` or ``../../x`` must not make the
    verifier read (and so disclose the hash of) a file the pack does not hold.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        return None
    relative = Path(name)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        return None
    root = directory.resolve()
    target = (directory / relative).resolve()
    return target if target.is_relative_to(root) and target != root else None


def _check_audit_log(store: Store, manifest: dict, digest: str) -> list[str]:
    campaign_id = manifest.get("campaign", {}).get("id")
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.details).where(
                audit_log.c.action == "campaign.closed", audit_log.c.subject == f"campaign {campaign_id}"
            )
        ).all()
    recorded = [json.loads(row.details).get("manifest_sha256") for row in rows]
    if not recorded:
        return [f"the audit log has no close entry for campaign {campaign_id}"]
    if digest not in recorded:
        return [f"manifest.json SHA-256 {digest} is not the one the audit log recorded at close ({recorded[-1]})"]
    try:  # the head the pack recorded at close must still be in the chain (a pack of 0.1.0 has a bare hash)
        expected = Head.parse(str(manifest.get("audit_log_head", "")))
    except ValueError:
        expected = None
    report = store.audit_report(expected)
    return [f"audit log broken: {problem}" for problem in report.problems]
