"""Plans: what will change, why, the pre-state read from AWS when planning, and a SHA-256.

A plan is a JSON file a person reviews and ``apply`` executes. It freezes
what was reviewed (Repokid's lesson): apply changes exactly these targets.
The SHA-256 is the plan's canonical hash; it detects an accidental edit but
proves nothing, since anyone can recompute it: what makes a plan
applicable is that the state store recorded that hash when the plan was
made (``registry``). Protected and break-glass principals and the tool's
own identities never become actions; revocations that cannot or need not be
acted on are listed under ``excluded`` with the reason. Descriptions in the
file are for the reviewer; apply rebuilds each from its target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import botocore.exceptions
import msgspec

from auditor.aws import error_code
from auditor.config import Settings
from auditor.files import atomic_write
from auditor.model import Principal, Revocation
from auditor.remediate.actions import ACTIONS, Action
from auditor.remediate.breaker import Recent, Verdict, evaluate
from auditor.remediate.clients import Clients
from auditor.remediate.errors import PlanError
from auditor.remediate.population import Population
from auditor.remediate.protection import Protection

FORMAT_VERSION = 1


class PlannedAction(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # stable for the same kind and target
    kind: str
    description: str
    target: dict[str, str]
    principal: Principal
    account_id: str | None = None
    reasons: list[dict]  # the decisions or findings asking for it, with their evidence
    pre_state: dict  # read from AWS when the plan was made
    rollback_note: str | None = None


class Excluded(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    target: dict[str, str]
    principal: Principal
    why: str
    reasons: list[dict] = []


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    format_version: int = FORMAT_VERSION
    created_at: datetime
    created_by: str
    source: dict  # {"campaign_id": ...} or {"findings": [...], "run_id": ...}
    actions: list[PlannedAction]
    excluded: list[Excluded] = []
    breaker: dict = {}
    notes: list[str] = []
    sha256: str = ""


def action_id(kind: str, target: dict[str, str]) -> str:
    material = json.dumps([kind, target], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _canonical(data: dict) -> bytes:
    body = {key: value for key, value in data.items() if key != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(plan: Plan) -> str:
    """SHA-256 over the plan's whole content except the hash itself."""
    return hashlib.sha256(_canonical(msgspec.to_builtins(plan))).hexdigest()


def sealed(plan: Plan) -> Plan:
    return msgspec.structs.replace(plan, sha256=digest(plan))


def describe(action: Action, target: dict[str, str], principal: Principal) -> str:
    """For the reviewer reading the plan file: the change, with the principal's name."""
    text = action.describe(target)
    return f"{text} ({principal.name})" if principal.name and principal.name not in text else text


def describe_target(kind: str, target: dict[str, str], name: str | None = None) -> str:
    """What an action changes, built from its kind and target only (never from a plan's free text)."""
    action = ACTIONS.get(kind)
    text = action.describe(target) if action is not None else f"{kind} {target}"
    return f"{text} ({name})" if name and name not in text else text


def build_plan(
    revocations: Iterable[Revocation],
    *,
    clients: Clients,
    settings: Settings,
    now: datetime,
    population: Population | None,
    source: dict,
    created_by: str,
    recent: Recent | None = None,
) -> Plan:
    """Turn revocations into a sealed plan, reading each target's pre-state (and who the tool is) from AWS now.

    ``recent`` is what other runs changed in the breaker's rolling window.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    protection = Protection.load(settings, clients)
    planned: dict[str, PlannedAction] = {}
    excluded: list[Excluded] = []
    for revocation in revocations:
        outcome = _plan_one(revocation, clients, protection)
        if isinstance(outcome, Excluded):
            excluded.append(outcome)
        elif outcome.id in planned:  # two decisions for the same change: one action, both reasons
            first = planned[outcome.id]
            planned[outcome.id] = msgspec.structs.replace(first, reasons=[*first.reasons, *outcome.reasons])
        else:
            planned[outcome.id] = outcome
    actions = list(planned.values())
    verdict = breaker_verdict(actions, population, settings, recent)
    notes = [f"pre-state read from AWS at {now.isoformat()}"]
    notes += sorted({f"{a.kind}: {a.rollback_note}" for a in actions if a.rollback_note})
    if verdict.tripped:
        notes.append(verdict.message())
    plan = Plan(
        created_at=now,
        created_by=created_by,
        source=source,
        actions=actions,
        excluded=excluded,
        breaker=verdict.to_dict(),
        notes=notes,
    )
    return sealed(plan)


def breaker_verdict(
    actions: list[PlannedAction], population: Population | None, settings: Settings, recent: Recent | None = None
) -> Verdict:
    section = settings.section("remediation")
    subjects = [ACTIONS[a.kind].subject(a.target) for a in actions if a.kind in ACTIONS]
    return evaluate(
        len(actions),
        subjects,
        population,
        section["max_actions"],
        section["max_share"],
        recent=recent or Recent(),
        max_actions_per_day=section["max_actions_per_day"],
    )


def _plan_one(revocation: Revocation, clients: Clients, protection: Protection) -> PlannedAction | Excluded:
    def exclude(why: str) -> Excluded:
        return Excluded(
            kind=revocation.kind,
            target=dict(revocation.target),
            principal=revocation.principal,
            why=why,
            reasons=[revocation.reason],
        )

    action = ACTIONS.get(revocation.kind)
    if action is None:
        return exclude(f"no remediation action for kind {revocation.kind!r} (known: {', '.join(ACTIONS)})")
    if action.grants:
        return exclude(
            f"{action.verb}: planned only with `auditor remediate plan --rightsize`, never from a revocation"
        )
    missing = action.missing_keys(revocation.target)
    if missing:
        return exclude(f"the target does not name {', '.join(missing)}")
    target = {key: str(revocation.target[key]) for key in action.target_keys}
    why = protection.why_static(revocation.principal, target)
    if why:
        return exclude(f"protected: {why}")
    try:
        why = protection.why(action.names(clients, target))
        if why:
            return exclude(f"protected: {why}")
        state = action.read(clients, target)
    except botocore.exceptions.ClientError as exc:
        return exclude(f"cannot read the target from AWS: {error_code(exc)} ({exc.operation_name})")
    if action.revoked(state):
        return exclude("already in effect: nothing to change")
    return PlannedAction(
        id=action_id(revocation.kind, target),
        kind=revocation.kind,
        description=describe(action, target, revocation.principal),
        target=target,
        principal=revocation.principal,
        account_id=revocation.account_id or target.get("account_id"),
        reasons=[revocation.reason],
        pre_state=state,
        rollback_note=action.rollback_note,
    )


# --- the file ---------------------------------------------------------------------------


def dumps(plan: Plan) -> bytes:
    return msgspec.json.format(msgspec.json.encode(plan), indent=2) + b"\n"


def save_plan(plan: Plan, path: Path) -> None:
    """Write atomically: a reviewer never reads half a plan."""
    atomic_write(path, dumps(plan))


def load_plan(path: Path) -> Plan:
    """Read a plan and verify its hash; any edit after planning makes it unusable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc}") from exc
    return parse_plan(raw, str(path))


def parse_plan(raw: bytes, where: str = "plan") -> Plan:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PlanError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PlanError(f"{where}: not a plan (a JSON object is expected)")
    if data.get("format_version") != FORMAT_VERSION:
        raise PlanError(f"{where}: format_version {data.get('format_version')!r} is not {FORMAT_VERSION}")
    expected = hashlib.sha256(_canonical(data)).hexdigest()
    if data.get("sha256") != expected:
        raise PlanError(
            f"{where}: the plan's SHA-256 does not match its content (it was changed after planning); "
            "make a new plan with `auditor remediate plan`"
        )
    try:
        plan = msgspec.json.decode(raw, type=Plan)
    except msgspec.ValidationError as exc:
        raise PlanError(f"{where}: {exc}") from exc
    if plan.created_at.tzinfo is None:
        raise PlanError(f"{where}: created_at has no time zone")
    return plan
