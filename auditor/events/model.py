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
    """The principal a CloudTrail management call affected, or ``Rejected`` (a call we do not follow, a failed one)."""
    if not isinstance(detail, dict):
        raise Rejected("a CloudTrail event's detail is a JSON object")
    event_id, source, name = detail.get("eventID"), detail.get("eventSource"), detail.get("eventName")
    if not isinstance(event_id, str) or not event_id:
        raise Rejected("$.detail.eventID: missing: a CloudTrail record always has one")
    if name not in CHANGES.get(source, ()):
        followed = ", ".join(f"{s} {n}" for s, names in CHANGES.items() for n in names)
        raise Rejected(f"$.detail.eventName: {source} {name} is not a call the auditor follows ({followed})", event_id)
    if detail.get("errorCode"):
        raise Rejected(f"$.detail.errorCode: the call failed ({detail['errorCode']}): it changed nothing", event_id)
    try:
        occurred = datetime.fromisoformat(str(detail["eventTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise Rejected("$.detail.eventTime: missing or not an ISO 8601 time", event_id) from exc
    account = detail.get("recipientAccountId")
    request = detail.get("requestParameters") or {}
    response = detail.get("responseElements") or {}
    who = _affected(source, name, request, response, detail.get("userIdentity") or {}, account)
    if who is None:
        raise Rejected(f"$.detail.requestParameters: {name} names no principal the auditor can check", event_id)
    actor = (detail.get("userIdentity") or {}).get("arn")
    return ChangeEvent(event_id, source, name, occurred, account, who, actor)


def _affected(source: str, name: str, request: dict, response: dict, caller: dict, account: str | None) -> Who | None:
    if source == "sso.amazonaws.com":
        if request.get("principalType") == "USER" and request.get("principalId"):
            return Who(user_id=request["principalId"])
        return None  # a group's assignment: its members are checked by the next run
    if source == "identitystore.amazonaws.com":
        member = (request.get("memberId") or {}).get("userId")
        user_id = member or request.get("userId") or response.get("userId")
        if isinstance(response.get("user"), dict):
            user_id = user_id or response["user"].get("userId")
        return Who(user_id=user_id) if user_id else None
    user_name = request.get("userName") or (caller.get("userName") if name == "CreateAccessKey" else None)
    if name == "UpdateUser" and request.get("newUserName"):
        user_name = request["newUserName"]
    if not user_name or not account:
        return None
    return Who(iam_users=((account, user_name),))
