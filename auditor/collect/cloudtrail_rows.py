"""Grouped CloudTrail rows (from a query engine) to activity, through the S3 reader's attribution.

A query engine returns one row per distinct combination of the record
fields attribution reads, with the first and last event time in the window
and how many records it stands for (``sql/cloudtrail_activity.sql``). Each
row becomes the decoded record those fields make (what the query left out
is None, which attribution treats as absent), is attributed once, and its
first, last and count are folded as ``ActivityReducer`` folds single
records, so the ``activity`` table is the one the S3 reader produces. The
same rows carry a successful call's action and resources (folded into
``action_usage`` as the S3 reader folds them) and each access change whole
(``lifecycle_events``), so one pass over the logs gives all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from auditor.collect.action_usage import UsageReducer, scoped_arns
from auditor.collect.cloudtrail_events import SIGNIN, Hit, attribute, sign_in_workflow, unresolved_sign_in
from auditor.collect.cloudtrail_lifecycle import lifecycle_event
from auditor.collect.cloudtrail_records import (
    AdditionalEventData,
    CloudTrailRecord,
    NotObject,
    OnBehalfOf,
    RequestParameters,
    Resource,
    ResponseElements,
    ServiceEventDetails,
    SessionContext,
    SessionIssuer,
    UserIdentity,
    parse_event_time,
)
from auditor.model import ActionUse, Activity, LifecycleEvent

_ARNS = msgspec.json.Decoder(list[str | None] | None)
_REQUEST = msgspec.json.Decoder(RequestParameters | NotObject)
_RESPONSE = msgspec.json.Decoder(ResponseElements | NotObject)


def row_record(row: Mapping[str, str | None]) -> CloudTrailRecord:
    """The fields of a grouped row as the decoded record attribution reads (what the query left out is None)."""
    return CloudTrailRecord(
        eventTime=row["first_seen"],
        eventSource=row["event_source"],
        eventName=row["event_name"],
        recipientAccountId=row["recipient_account"],
        errorCode=row["error_code"],
        userIdentity=UserIdentity(
            type=row["identity_type"],
            principalId=row["principal_id"],
            arn=row["identity_arn"],
            accountId=row["identity_account"],
            accessKeyId=row["access_key_id"],
            userName=row["user_name"],
            sessionContext=SessionContext(
                sessionIssuer=SessionIssuer(
                    type=row["issuer_type"],
                    arn=row["issuer_arn"],
                    accountId=row["issuer_account"],
                    userName=row["issuer_user_name"],
                )
            ),
            onBehalfOf=OnBehalfOf(userId=row["on_behalf_of"]),
        ),
        additionalEventData=AdditionalEventData(
            AuthWorkflowID=row["auth_workflow"], UserName=row["workflow_user_name"]
        ),
        serviceEventDetails=ServiceEventDetails(
            UserAuthentication=row["user_authentication"],
            role_name=row["details_role_name"],
            account_id=row["details_account"],
        ),
        requestParameters=RequestParameters(
            roleArn=row["role_arn"],
            roleSessionName=row["role_session_name"],
            roleName=row["role_name"],
            accountId=row["role_account"],
        ),
        responseElements=ResponseElements(ConsoleLogin=row["sign_in_outcome"]),
    )


def reduce_rows(rows: Iterable[Mapping[str, str | None]]) -> list[Activity]:
    """Attribute each grouped row once and fold its first, last and count, as ``ActivityReducer`` folds records.

    Sign-in steps that name no user are resolved with the names other steps
    of the same sign-in carried in the same log object (the row's batch).
    """
    seen: dict[Hit, list] = {}
    names: dict[str | None, dict[str, str]] = {}
    grouped: list[tuple[Mapping, CloudTrailRecord]] = []
    for row in rows:
        record = row_record(row)
        grouped.append((row, record))
        if record.eventSource == SIGNIN:
            workflow, name = sign_in_workflow(record)
            if workflow and name:
                names.setdefault(row["batch"], {})[workflow] = name
    deferred = []
    for row, record in grouped:
        first, last = parse_event_time(row["first_seen"]), parse_event_time(row["last_seen"])
        if first is None or last is None or not int(row["events"] or 0):
            continue
        hits = attribute(record)
        if hits:
            _fold(seen, hits, first, last, int(row["events"]))
        elif unresolved_sign_in(record):
            deferred.append((row, record, first, last))
    for row, record, first, last in deferred:
        hits = attribute(record, names.get(row["batch"], {}))
        if hits:
            _fold(seen, hits, first, last, int(row["events"]))
    ordered = sorted(seen.items(), key=lambda item: (item[0][0], item[0][2] or "", item[0][1], item[0][3] or ""))
    return [
        Activity(kind=kind, key=key, account_id=account, detail=detail, first_seen=first, last_seen=last, events=n)
        for (kind, key, account, detail), (first, last, n) in ordered
    ]


def usage_from_rows(rows: Iterable[Mapping[str, str | None]]) -> list[ActionUse]:
    """The actions called: each row's successful calls folded for the principals it names, as the S3 reader does."""
    usage = UsageReducer()
    for row in rows:
        last = parse_event_time(row["last_seen"])
        if row["call_source"] is None or last is None or not int(row["events"] or 0):
            continue
        hits = attribute(row_record(row))
        if hits:
            arns = _json(_ARNS, row["call_resources"])
            resources = scoped_arns([Resource(ARN=arn) for arn in arns or ()])
            usage.add(hits, row["call_source"], row["call_name"], resources, last, int(row["events"]))
    return usage.uses()


def changes_from_rows(rows: Iterable[Mapping[str, str | None]]) -> list[LifecycleEvent]:
    """The access changes: rows of one change event each, read as ``lifecycle_event`` reads the record."""
    found = []
    for row in rows:
        when = parse_event_time(row["change_time"])
        if when is None or not int(row["events"] or 0):
            continue
        identity = row_record(row).userIdentity
        record = CloudTrailRecord(
            eventTime=row["change_time"],
            eventSource=row["change_source"],
            eventName=row["change_name"],
            recipientAccountId=row["change_account"],
            errorCode=row["change_error"],
            userIdentity=msgspec.structs.replace(identity, arn=row["change_actor_arn"]),
            requestParameters=_json(_REQUEST, row["change_request"]),
            responseElements=_json(_RESPONSE, row["change_response"]),
        )
        event = lifecycle_event(record, when)
        if event is not None:
            found.append(event)
    return found


def _json(decoder: msgspec.json.Decoder, text: str | None) -> object:
    """A JSON text column (Athena keeps nested request and response elements as text), decoded; None if not JSON."""
    if not text:
        return None
    try:
        return decoder.decode(text)
    except msgspec.DecodeError:
        return None


def _fold(seen: dict[Hit, list], hits: list[Hit], first: datetime, last: datetime, events: int) -> None:
    for hit in hits:
        entry = seen.get(hit)
        if entry is None:
            seen[hit] = [first, last, events]
        else:
            entry[0], entry[1], entry[2] = min(entry[0], first), max(entry[1], last), entry[2] + events
