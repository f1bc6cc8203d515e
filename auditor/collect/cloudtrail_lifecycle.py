"""Access changes in Identity Center, picked out of CloudTrail records whole.

Activity is reduced to first/last seen per principal; the few management
events that grant or take away access are kept one by one, because the
lifecycle metrics need when a leaver's access was removed and the anomaly
rules need who granted what to whom. Pure: records in, ``LifecycleEvent``
out, any order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from auditor.collect.cloudtrail_events import _text
from auditor.collect.cloudtrail_records import (
    CloudTrailRecord,
    LeanRecord,
    RequestParameters,
    ResponseElements,
    SessionContext,
    SessionIssuer,
    UserIdentity,
    parse_event_time,
)
from auditor.model import LifecycleEvent

SSO_ADMIN = ("sso.amazonaws.com",)
IDENTITY_STORE = ("identitystore.amazonaws.com", "sso-directory.amazonaws.com")
# event name -> the services that write it
EVENTS = {
    "CreateAccountAssignment": SSO_ADMIN,
    "DeleteAccountAssignment": SSO_ADMIN,
    "CreateGroupMembership": IDENTITY_STORE,
    "DeleteGroupMembership": IDENTITY_STORE,
    "AddMemberToGroup": IDENTITY_STORE,  # the legacy directory's name for a membership
    "RemoveMemberFromGroup": IDENTITY_STORE,
    "CreateUser": IDENTITY_STORE,
    "UpdateUser": IDENTITY_STORE,
    "DeleteUser": IDENTITY_STORE,
    "DisableUser": IDENTITY_STORE,
    "EnableUser": IDENTITY_STORE,
}
GRANTS = ("CreateAccountAssignment", "CreateGroupMembership", "AddMemberToGroup")
REMOVALS = (
    "DeleteAccountAssignment",
    "DeleteGroupMembership",
    "RemoveMemberFromGroup",
    "DeleteUser",
    "DisableUser",
    "UpdateUser",
)


def _actor(identity: UserIdentity | object) -> tuple[str | None, str | None, str | None]:
    """(type, ARN of the calling principal, the person or session behind it)."""
    if not isinstance(identity, UserIdentity):
        return None, None, None
    kind = _text(identity.type)
    arn = _text(identity.arn)
    name = _text(identity.userName)
    context = identity.sessionContext
    issuer = context.sessionIssuer if isinstance(context, SessionContext) else None
    if kind == "AssumedRole" and isinstance(issuer, SessionIssuer):
        session = arn.rsplit("/", 1)[-1] if arn else None
        return kind, _text(issuer.arn) or arn, session
    if kind == "IdentityCenterUser" and not name:
        behalf = identity.onBehalfOf
        name = _text(getattr(behalf, "userId", None))
    return kind, arn, name


def _member(value: object) -> str | None:
    return _text(value.get("userId")) if isinstance(value, dict) else None


def lifecycle_event(record: CloudTrailRecord, when: datetime) -> LifecycleEvent | None:
    """The access change a record describes, or None for every other record."""
    name = record.eventName
    if not isinstance(name, str) or record.eventSource not in EVENTS.get(name, ()):
        return None
    kind, arn, actor = _actor(record.userIdentity)
    request = record.requestParameters if isinstance(record.requestParameters, RequestParameters) else None
    response = record.responseElements if isinstance(record.responseElements, ResponseElements) else None
    principal_type = _text(request.principalType) if request else None
    principal_id = _text(request.principalId) if request else None
    user_id = (_text(request.userId) or _member(request.memberId)) if request else None
    if user_id is None and response is not None:
        user_id = _text(response.userId)
    if user_id is None and principal_type == "USER":
        user_id = principal_id
    group_id = _text(request.groupId) if request else None
    if group_id is None and principal_type == "GROUP":
        group_id = principal_id
    recipient = record.recipientAccountId
    return LifecycleEvent(
        event_time=when,
        event_name=name,
        event_source=record.eventSource,
        account_id=recipient if isinstance(recipient, str) else None,
        actor_type=kind,
        actor_arn=arn,
        actor_name=actor,
        target_account_id=_text(request.targetId) if request else None,
        permission_set_arn=_text(request.permissionSetArn) if request else None,
        principal_type=principal_type,
        principal_id=principal_id,
        group_id=group_id,
        user_id=user_id,
        membership_id=(_text(request.membershipId) if request else None)
        or (_text(response.membershipId) if response else None),
        error_code=_text(record.errorCode),
    )


def lifecycle_events(
    records: Iterable[CloudTrailRecord | LeanRecord], start: datetime | None = None, end: datetime | None = None
) -> list[LifecycleEvent]:
    """The access changes among ``records`` (decoded, or lean) inside ``[start, end]``."""
    found = []
    for record in records:
        name = record.eventName
        if type(name) is not str or name not in EVENTS:  # a damaged record may carry a list or an object here
            continue
        when = parse_event_time(record.eventTime)
        if when is None or (start is not None and when < start) or (end is not None and when > end):
            continue
        event = lifecycle_event(record.whole(), when)
        if event is not None:
            found.append(event)
    return found


def sort_events(events: Iterable[LifecycleEvent]) -> list[LifecycleEvent]:
    """One stable order: time, then what and whom."""
    return sorted(
        events, key=lambda e: (e.event_time, e.event_name, e.user_id or "", e.group_id or "", e.principal_id or "")
    )
