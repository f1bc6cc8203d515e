"""The events the auditor accepts, parsed and validated: HR lifecycle events and CloudTrail management events.

An HR event is validated against its JSON Schema (``hr_event.schema.json``,
published as docs/hr-event.schema.json); the first problem is reported with
the path of the field at fault. A CloudTrail event arrives as EventBridge's
"AWS API Call via CloudTrail" detail; only the calls that grant access or
credentials are taken (``CHANGES``), each naming the principal affected.
Anything else is ``Rejected`` with a reason a person can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from auditor.events.person import Who

SCHEMA: dict = json.loads(resources.files("auditor.events").joinpath("hr_event.schema.json").read_text("utf-8"))
_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
HR_TYPES = tuple(SCHEMA["properties"]["type"]["enum"])
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"

# The management calls that grant access or credentials, by event source: a targeted check follows each.
CHANGES: dict[str, tuple[str, ...]] = {
    "sso.amazonaws.com": ("CreateAccountAssignment",),
    "identitystore.amazonaws.com": ("CreateGroupMembership", "CreateUser", "UpdateUser"),
    "iam.amazonaws.com": (
        "CreateUser",
        "UpdateUser",
        "AttachUserPolicy",
        "PutUserPolicy",
        "CreateAccessKey",
        "CreateLoginProfile",
    ),
}


class Rejected(ValueError):
    """A malformed or unsupported event: kept in the dead-letter store with this reason."""

    def __init__(self, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


@dataclass(frozen=True)
class HrEvent:
    event_id: str
    type: str
    occurred_at: datetime
    person: dict[str, str]
    effective_date: date
    fields: dict[str, Any] = field(default_factory=dict)  # department, title, manager_email, end_date, ...

    @property
    def person_key(self) -> str:
        """Who, for ordering: the employee id, else the user name, else the email (lower case)."""
        p = self.person
        return (p.get("employee_id") or p.get("user_name") or p.get("email") or "").strip().lower()

    @property
    def who(self) -> Who:
        p = self.person
        return Who(query=p.get("employee_id") or p.get("user_name") or p.get("email"))


@dataclass(frozen=True)
class ChangeEvent:
    """A CloudTrail management call that changed access; ``who`` is the principal it affected."""

    event_id: str
    event_source: str
    event_name: str
    occurred_at: datetime
    account_id: str | None
    who: Who
    actor: str | None  # the caller's ARN, as CloudTrail recorded it

    @property
    def person_key(self) -> str:
        return (self.who.user_id or self.who.query or ";".join(f"{a}/{n}" for a, n in self.who.iam_users)).lower()


def parse_hr(detail: Any) -> HrEvent:
    """An HR event, or ``Rejected`` naming the first field at fault (by its JSON path) and why."""
    if not isinstance(detail, dict):
        raise Rejected(f"an HR event is a JSON object, not {type(detail).__name__}")
    event_id = detail.get("event_id") if isinstance(detail.get("event_id"), str) else None
    errors = list(_VALIDATOR.iter_errors(detail))
    if errors:
        first = best_match(errors)
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise Rejected(f"{where}: {first.message}{more}", event_id)
    try:
        occurred = datetime.fromisoformat(detail["occurred_at"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise Rejected(f"$.occurred_at: {detail['occurred_at']!r} is not an RFC 3339 time", event_id) from exc
    if occurred.tzinfo is None:
        raise Rejected("$.occurred_at: needs a time zone (e.g. 2026-11-02T09:00:00Z)", event_id)
    dates = {}
    for key in ("effective_date", "end_date"):
        try:
            dates[key] = date.fromisoformat(detail[key]) if key in detail else None
        except ValueError as exc:
            raise Rejected(f"$.{key}: {detail[key]!r} is not an ISO 8601 date", event_id) from exc
    effective = dates["effective_date"] or occurred.date()
    fields = {
        k: v for k, v in detail.items() if k not in ("schema_version", "event_id", "type", "occurred_at", "person")
    }
    if dates["end_date"] is not None:
        fields["end_date"] = dates["end_date"]
    return HrEvent(detail["event_id"], detail["type"], occurred, dict(detail["person"]), effective, fields)


def parse_cloudtrail(detail: Any) -> ChangeEvent:
    """The principal a CloudTrail management call affected, or ``Rejected`` (a call we do not follow, a failed one).

    Every field read is checked for the JSON type CloudTrail gives it, so an
    edited or forged record is refused naming the field, never half-read.
    """
    if not isinstance(detail, dict):
        raise Rejected("a CloudTrail event's detail is a JSON object")
    event_id = detail.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        raise Rejected("$.detail.eventID: missing: a CloudTrail record always has one")
    record = _Fields(event_id)
    source, name = record.text(detail, "$.detail", "eventSource"), record.text(detail, "$.detail", "eventName")
    if name not in CHANGES.get(source or "", ()):
        followed = ", ".join(f"{s} {n}" for s, names in CHANGES.items() for n in names)
        raise Rejected(f"$.detail.eventName: {source} {name} is not a call the auditor follows ({followed})", event_id)
    if detail.get("errorCode"):
        raise Rejected(f"$.detail.errorCode: the call failed ({detail['errorCode']}): it changed nothing", event_id)
    try:
        occurred = datetime.fromisoformat(str(detail["eventTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise Rejected("$.detail.eventTime: missing or not an ISO 8601 time", event_id) from exc
    if occurred.tzinfo is None:  # CloudTrail writes UTC with a Z
        raise Rejected(f"$.detail.eventTime: {detail['eventTime']!r} has no time zone", event_id)
    account = record.text(detail, "$.detail", "recipientAccountId")
    request = record.object(detail, "$.detail", "requestParameters")
    response = record.object(detail, "$.detail", "responseElements")
    caller = record.object(detail, "$.detail", "userIdentity")
    who = _affected(record, source, name, request, response, caller, account)
    if who is None:
        raise Rejected(f"$.detail.requestParameters: {name} names no principal the auditor can check", event_id)
    actor = record.text(caller, "$.detail.userIdentity", "arn")
    return ChangeEvent(event_id, source, name, occurred, account, who, actor)


# what CloudTrail writes in place of a value it withholds (a parameter, or a whole object of them)
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


@dataclass(frozen=True)
class _Fields:
    """Reads a record's fields as the JSON types CloudTrail writes; anything else is ``Rejected``, named.

    A value CloudTrail withheld reads as absent: the call then names no principal, which says so.
    """

    event_id: str

    def text(self, container: dict, where: str, key: str) -> str | None:
        value = container.get(key)
        if value is None or isinstance(value, str):
            return None if value in ("", HIDDEN) else value
        raise Rejected(f"{where}.{key}: {type(value).__name__} where CloudTrail writes a string", self.event_id)

    def object(self, container: dict, where: str, key: str) -> dict:
        value = container.get(key)
        if value is None or value == HIDDEN or isinstance(value, dict):
            return value if isinstance(value, dict) else {}
        raise Rejected(f"{where}.{key}: {type(value).__name__} where CloudTrail writes an object", self.event_id)


def _affected(
    record: _Fields,
    source: str,
    name: str,
    request: dict,
    response: dict,
    caller: dict,
    account: str | None,
) -> Who | None:
    request_at, response_at = "$.detail.requestParameters", "$.detail.responseElements"
    if source == "sso.amazonaws.com":
        principal = record.text(request, request_at, "principalId")
        if record.text(request, request_at, "principalType") == "USER" and principal:
            return Who(user_id=principal)
        return None  # a group's assignment: its members are checked by the next run
    if source == "identitystore.amazonaws.com":
        member = record.text(record.object(request, request_at, "memberId"), f"{request_at}.memberId", "userId")
        user_id = member or record.text(request, request_at, "userId") or record.text(response, response_at, "userId")
        created = record.object(response, response_at, "user")
        user_id = user_id or record.text(created, f"{response_at}.user", "userId")
        return Who(user_id=user_id) if user_id else None
    user_name = record.text(request, request_at, "userName")
    if name == "CreateAccessKey":  # without a userName, the caller's own key
        user_name = user_name or record.text(caller, "$.detail.userIdentity", "userName")
    if name == "UpdateUser":
        user_name = record.text(request, request_at, "newUserName") or user_name
    if not user_name or not account:
        return None
    return Who(iam_users=((account, user_name),))
