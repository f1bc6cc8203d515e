"""Accept one event, from wherever it came (EventBridge, HTTP, a file), exactly once and in order per person.

``accept(payload, ...)`` is the one entry point: the Lambda handler, the
`auditor event FILE` command and the web endpoint are thin wrappers around
it. It unwraps an EventBridge envelope, validates (a malformed event is
kept in the dead-letter store with the reason, and rejected), drops a
duplicate by event id, marks an event older than one already applied for
the same person as superseded, and otherwise acts:

- leaver: check the person (HR says terminated from now), then offboard them
  (``offboard``): a plan, a retention copy, the change when immediate
  suspension is configured (else the plan awaits approval), the manager told;
- joiner: check, and say whether their groups match the department's birthright;
- mover: check, and open a micro-review of the old department's access for the manager;
- leave start/end, contract extension: check with the new HR facts;
- a CloudTrail call that granted access or credentials: check the principal it affected.

New findings at or above [notifications] min_severity go to the configured
channels. Every step is in the audit log (``event.*`` entries).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from auditor.aws import context_from_settings
from auditor.campaign.micro import open_micro_campaigns
from auditor.config import Settings
from auditor.events import workflow
from auditor.events.check import CheckResult, NoSuchPerson, check_person, latest_hr
from auditor.events.model import CLOUDTRAIL_DETAIL_TYPE, ChangeEvent, HrEvent, Rejected, parse_cloudtrail, parse_hr
from auditor.events.notify import notify_findings
from auditor.events.person import find_person
from auditor.events.schema import event_dead_letters, lifecycle_events
from auditor.events.workflow import Services
from auditor.model import HrPerson
from auditor.remediate.population import latest_snapshot
from auditor.store import Store

FINAL = (
    "done",
    "superseded",
    "awaiting_approval",
    "refused",
    "planned",
    "denied",
)  # a redelivery of these changes nothing


# where an offboarding ended -> the event's status
FINISHED = {"applied": "done", "nothing_to_do": "done"}


@dataclass
class EventOutcome:
    """What became of one event. ``status``: done | awaiting_approval | refused | duplicate | superseded | rejected."""

    status: str
    event_id: str | None = None
    kind: str | None = None
    reason: str | None = None
    findings: list[dict] = field(default_factory=list)  # the check's live findings (id, rule, severity, title)
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def accepted(self) -> bool:
        return self.status not in ("rejected",)

    @property
    def http_status(self) -> int:
        """For the web endpoint: 400 refused (kept as a dead letter), 202 waiting for a person, else 200."""
        return {"rejected": 400, "awaiting_approval": 202, "planned": 202}.get(self.status, 200)


def accept(
    payload: Any,
    *,
    store: Store,
    settings: Settings,
    origin: str,
    now: datetime,
    services: Services | None = None,
    plan_only: bool = False,
) -> EventOutcome:
    """Validate, de-duplicate, order and act on one event (see the module's docstring); never raises on bad input.

    ``plan_only``: a leaver's offboarding stops once planned (status ``planned``); the state machine runs the
    rest of the steps (``workflow``) and closes the event with ``complete``.
    """
    services = services or Services()
    try:
        event = parse(payload)
    except Rejected as rejected:
        return dead_letter(store, payload, rejected, origin=origin, now=now, actor=services.actor)
    kind = f"cloudtrail:{event.event_name}" if isinstance(event, ChangeEvent) else event.type
    earlier = _claim(
        store, event, kind, origin, now, payload, services.actor, _person_key(event, store, settings, services)
    )
    if earlier is not None:
        return earlier
    try:
        outcome = _act(event, store=store, settings=settings, now=now, services=services, plan_only=plan_only)
    except Exception as exc:  # recorded, then raised: EventBridge (or the caller) delivers it again
        _finish(store, event.event_id, "failed", {"error": f"{type(exc).__name__}: {exc}"}, services.actor)
        raise
    outcome.event_id, outcome.kind = event.event_id, kind
    _finish(
        store, event.event_id, "done" if outcome.status == "done" else outcome.status, outcome.to_json(), services.actor
    )
    return outcome


def parse(payload: Any) -> HrEvent | ChangeEvent:
    """An EventBridge envelope's detail, or a bare HR event; ``Rejected`` when it is neither."""
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise Rejected(f"not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Rejected(f"an event is a JSON object, not {type(payload).__name__}")
    if "detail-type" in payload:
        detail = payload.get("detail")
        if payload["detail-type"] == CLOUDTRAIL_DETAIL_TYPE:
            return parse_cloudtrail(detail)
        return parse_hr(detail)
    return parse_hr(payload)


def dead_letter(
    store: Store, payload: Any, rejected: Rejected, *, origin: str, now: datetime, actor: str
) -> EventOutcome:
    """Keep the rejected event as it came, with the reason, and say so in the audit log."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    text = text if isinstance(text, str) else json.dumps(text, default=str, sort_keys=True)
    with store.engine.begin() as conn:
        letter = conn.execute(
            event_dead_letters.insert().values(
                received_at=now, origin=origin, event_id=rejected.event_id, reason=rejected.reason, payload=text
            )
        ).inserted_primary_key[0]
        store.audit_in(
            conn,
            "event.rejected",
            f"dead letter {letter}",
            {"event_id": rejected.event_id, "origin": origin, "reason": rejected.reason},
            actor=actor,
        )
    return EventOutcome("rejected", rejected.event_id, reason=rejected.reason, detail={"dead_letter": letter})


def _claim(
    store: Store,
    event: HrEvent | ChangeEvent,
    kind: str,
    origin: str,
    now: datetime,
    payload: Any,
    actor: str,
    person_key: str,
) -> EventOutcome | None:
    """Record the event as processing; or the outcome that ends it here (duplicate, superseded)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str, sort_keys=True)
    table = lifecycle_events
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(table).where(table.c.event_id == event.event_id)).first()
        if row is not None and row.status in FINAL:
            store.audit_in(conn, "event.duplicate", f"event {event.event_id}", {"status": row.status}, actor=actor)
            previous = json.loads(row.outcome) if row.outcome else {}
            return EventOutcome(
                "duplicate",
                event.event_id,
                kind,
                reason=f"already received ({row.status}); nothing changed",
                detail={"first": previous.get("status", row.status)},
            )
        later = conn.execute(
            sa.select(table.c.event_id, table.c.occurred_at)
            .where(
                table.c.person_key == person_key,
                table.c.occurred_at > event.occurred_at,
                table.c.status.in_(("done", "awaiting_approval", "refused")),
            )
            .limit(1)
        ).first()
        values = dict(
            origin=origin,
            kind=kind,
            person_key=person_key,
            occurred_at=event.occurred_at,
            received_at=now,
            payload=text,
        )
        status = "superseded" if later is not None else "processing"
        if row is None:
            conn.execute(table.insert().values(event_id=event.event_id, status=status, **values))
        else:  # an earlier delivery failed half-way: this one retries it
            conn.execute(table.update().where(table.c.event_id == event.event_id).values(status=status, **values))
        details = {"kind": kind, "origin": origin, "person": person_key, "occurred_at": event.occurred_at}
        store.audit_in(conn, "event.received", f"event {event.event_id}", details, actor=actor)
        if later is None:
            return None
        reason = f"event {later.event_id} for the same person happened later ({later.occurred_at.isoformat()})"
        conn.execute(
            table.update()
            .where(table.c.event_id == event.event_id)
            .values(outcome=json.dumps({"status": "superseded", "reason": reason}))
        )
        store.audit_in(conn, "event.superseded", f"event {event.event_id}", {"reason": reason}, actor=actor)
    return EventOutcome("superseded", event.event_id, kind, reason=reason)


def complete(store: Store, event_id: str, *, actor: str) -> str:
    """Close an event whose offboarding the state machine ran: its status from where the offboarding ended."""
    offboarding = workflow.state(store, event_id)
    status = FINISHED.get(offboarding["status"], offboarding["status"])
    _finish(store, event_id, status, {"status": status}, actor)
    return status


def _person_key(event: HrEvent | ChangeEvent, store: Store, settings: Settings, services: Services) -> str:
    """One key per person however an event names them: the HR employee id when HR knows them."""
    if isinstance(event, ChangeEvent):
        return event.person_key
    found = latest_snapshot(store)
    people, _ = latest_hr(settings, services.hr_feed, found[0] if found else None)
    for key in ("employee_id", "user_name", "email"):
        person = find_person(people, event.person.get(key))
        if person is not None:
            return f"employee:{person.employee_id.lower()}"
    return event.person_key


def _finish(store: Store, event_id: str, status: str, outcome: dict, actor: str) -> None:
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(lifecycle_events.c.outcome).where(lifecycle_events.c.event_id == event_id)).one()
        kept = json.loads(row.outcome) if row.outcome else {}
        merged = {**outcome, **({"offboarding": kept["offboarding"]} if "offboarding" in kept else {})}
        conn.execute(
            lifecycle_events.update()
            .where(lifecycle_events.c.event_id == event_id)
            .values(status=status, outcome=json.dumps(merged, default=str))
        )
        summary = {k: outcome.get(k) for k in ("status", "reason", "error") if outcome.get(k) is not None}
        store.audit_in(conn, f"event.{status}", f"event {event_id}", summary, actor=actor)


# --- acting ------------------------------------------------------------------------------


def _act(
    event, *, store: Store, settings: Settings, now: datetime, services: Services, plan_only: bool = False
) -> EventOutcome:
    context = services.context or context_from_settings(settings)
    out = services.out_dir / _safe(event.event_id) if services.out_dir else None
    news = _news(event, store, settings, services) if isinstance(event, HrEvent) else None
    try:
        check = check_person(
            event.who,
            settings=settings,
            store=store,
            as_of=now,
            hr_feed=services.hr_feed,
            news=news,
            context=context,
            out_dir=out,
        )
    except NoSuchPerson as exc:  # e.g. a CloudTrail call about a user deleted since
        return EventOutcome("done", reason=str(exc))
    store.audit(
        "event.checked", f"event {event.event_id}", {"check_run": check.run_id, **check.summary()}, actor=services.actor
    )
    outcome = EventOutcome("done", findings=[_brief(f) for f in check.live()], detail={"check": check.summary()})
    if isinstance(event, HrEvent) and event.type == "leaver":
        steps = workflow.begin if plan_only else workflow.run_all
        offboarding = steps(
            event.event_id,
            check,
            manager_hint=event.fields.get("manager_email"),
            store=store,
            settings=settings,
            services=services,
            now=now,
            out=out,
        )
        outcome.status = FINISHED.get(offboarding["status"], offboarding["status"])
        outcome.detail["offboarding"] = {k: v for k, v in offboarding.items() if k != "retention_record"}
    elif isinstance(event, HrEvent) and event.type == "joiner":
        outcome.detail["birthright"] = _birthright(check, settings)
    elif isinstance(event, HrEvent) and event.type == "mover":
        opened = open_micro_campaigns(
            store, check.snapshot, check.findings, settings, now, run_dir=out, actor=services.actor
        )
        outcome.detail["micro_reviews"] = [asdict(m) for m in opened]
    sent = notify_findings(check, settings, now=now, what=_what(event), only_new=not isinstance(event, ChangeEvent))
    outcome.detail["notified"] = sent
    return outcome


def _news(event: HrEvent, store: Store, settings: Settings, services: Services) -> HrPerson:
    """The person's HR row as the event leaves it (their row from the latest HR data, with the event's facts)."""
    found = latest_snapshot(store)
    people, _ = latest_hr(settings, services.hr_feed, found[0] if found else None)
    p = event.person
    current = next(
        (person for key in ("employee_id", "user_name", "email") if (person := find_person(people, p.get(key)))),
        None,
    )
    fields = event.fields
    base = (
        msgspec.to_builtins(current)
        if current
        else {
            "line": 0,
            "employee_id": "",
            "email": "",
            "user_name": "",
            "display_name": "",
            "department": "",
            "title": "",
            "manager_email": "",
            "status": "active",
            "employment_type": "employee",
        }
    )
    base.update({k: v for k, v in p.items() if v})
    base["display_name"] = base.get("display_name") or base.get("user_name") or base.get("email")
    for key in ("title", "manager_email", "employment_type"):
        if fields.get(key):
            base[key] = fields[key]
    if event.type == "leaver":
        base.update(status="terminated", end_date=event.effective_date.isoformat())
    elif event.type == "joiner":
        base.update(status="active", department=fields["department"], start_date=event.effective_date.isoformat())
    elif event.type == "mover":
        base.update(
            previous_department=fields.get("previous_department") or base.get("department"),
            department=fields["department"],
        )
    elif event.type == "leave_start":
        base["status"] = "leave"
    elif event.type == "leave_end":
        base["status"] = "active"
    elif event.type == "contract_extension":
        base["end_date"] = fields["end_date"].isoformat()
    return msgspec.convert(base, HrPerson)


def _birthright(check: CheckResult, settings: Settings) -> dict:
    """A joiner's groups against their department's birthright ([rules] department_groups)."""
    department = check.person.department if check.person else ""
    mapping = {k.lower(): v for k, v in settings.get("rules", "department_groups").items()}
    expected = mapping.get(department.lower())
    groups = {g.group_id: g.display_name for g in check.snapshot.table("idc_groups")}
    held = sorted(groups.get(m.group_id, m.group_id) for m in check.snapshot.table("idc_memberships"))
    beyond = [f.title for f in check.live() if f.rule_id == "idc-access-beyond-birthright"]
    missing = sorted(set(expected or []) - {h.lower() for h in held} - {h for h in held})
    return {
        "department": department,
        "expected": sorted(expected) if expected is not None else None,
        "held": held,
        "missing": missing,
        "beyond": beyond,
        "matches": expected is not None and not missing and not beyond,
    }


def _brief(finding) -> dict:
    return {
        "finding_id": finding.finding_id,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "status": finding.status,
        "title": finding.title,
    }


def _what(event) -> str:
    if isinstance(event, ChangeEvent):
        return f"{event.event_name} ({event.event_source}) by {event.actor or 'unknown'}"
    return f"HR {event.type.replace('_', ' ')} event {event.event_id}"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def decide(
    event_id: str,
    *,
    approve: bool,
    by: str,
    store: Store,
    settings: Settings,
    services: Services,
    now: datetime,
    reason: str | None = None,
    sfn_client: Any = None,
) -> dict:
    """A person approves or denies an offboarding that awaits approval.

    Under Step Functions the decision resumes the execution through its task
    token (SendTaskSuccess, or SendTaskFailure with error ``Denied``), which
    then runs the remaining steps; otherwise they run here: apply and verify
    (or deny), tell the manager, close the event.
    """
    offboarding = workflow.state(store, event_id)
    if offboarding["status"] != "awaiting_approval":
        raise workflow.WorkflowError(
            f"event {event_id!r}: the offboarding is {offboarding['status']}, not awaiting approval"
        )
    verdict = "approved" if approve else "denied"
    details = {"by": by, "reason": reason, "plan_sha256": offboarding["plan_sha256"]}
    store.audit(f"event.offboarding.{verdict}_by", f"event {event_id}", details, actor=by)
    token = offboarding.get("task_token")
    if token:
        sfn = sfn_client or (services.context or context_from_settings(settings)).client("stepfunctions")
        if approve:
            sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": by}))
        else:
            sfn.send_task_failure(taskToken=token, error="Denied", cause=(reason or f"denied by {by}")[:256])
        return {**offboarding, "resumed": True}
    if approve:
        workflow.apply(event_id, store=store, settings=settings, services=services, approved_by=by)
    else:
        workflow.deny(event_id, store=store, services=services, reason=reason)
    done = workflow.notify(event_id, store=store, settings=settings, services=services, now=now)
    complete(store, event_id, actor=services.actor)
    return done
