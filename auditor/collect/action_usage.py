"""Which API actions each principal called (and on what), folded from attributed CloudTrail records.

Right-sizing compares what a principal was granted with what it used; this
is the "used" side, kept narrow: per (principal, IAM action, resource) the
last time and the number of successful calls. A denied call (errorCode set)
is no use of a granted permission. Principals are the ``Activity`` hits that
act through policies: a permission set in an account (idc_assignment), an
IAM role, an IAM user.

The ActivityReducer feeds it the hits it already computed, one call per
distinct (principals, action, resources) of a log object with their count
(``add``), so attribution runs once and the per-record work is a dict
lookup; ``reduce_usage`` does the same for a plain batch of records.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from auditor.collect.cloudtrail_events import IAM_ROLE, IAM_USER, IDC_ASSIGNMENT, Hit, attribute
from auditor.collect.cloudtrail_records import CloudTrailRecord, arn_of, parse_event_time
from auditor.model import ActionUse

KINDS = frozenset({IDC_ASSIGNMENT, IAM_ROLE, IAM_USER})
MAX_RESOURCES = 50  # distinct resources kept per (principal, action); past it the action is proposed unscoped
# eventSource host -> IAM service prefix, where the two differ
SERVICE_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
# eventName -> IAM action name, where the call is authorised by another action
ACTION_FOR_EVENT = {("s3", "ListBuckets"): "ListAllMyBuckets", ("s3", "HeadObject"): "GetObject"}
_API_VERSION = re.compile(r"^(?P<name>[A-Za-z]+?)(?P<version>\d{8}(v\d+)?)$")  # ListFunctions20150331


def iam_action(event_source: Any, event_name: Any) -> str | None:
    """The IAM action a CloudTrail event needed: "s3.amazonaws.com" + "GetObject" -> "s3:GetObject"."""
    if not isinstance(event_source, str) or not isinstance(event_name, str) or not event_name:
        return None
    service = event_source.split(".", 1)[0]
    service = SERVICE_PREFIX.get(service, service)
    versioned = _API_VERSION.match(event_name)
    name = versioned.group("name") if versioned else event_name
    return f"{service}:{ACTION_FOR_EVENT.get((service, name), name)}"


@functools.lru_cache(maxsize=4096)
def _action(event_source: Any, event_name: Any) -> str | None:
    """``iam_action`` once per (source, name): a log object repeats a few calls by the hundred."""
    return iam_action(event_source, event_name)


def _resources(record: Any) -> tuple[str, ...]:
    """ARNs the record names in its ``resources`` element (absent from most management events), as scoped."""
    found = getattr(record, "resources", None)
    if found is None and isinstance(record, Mapping):
        found = record.get("resources")
    return scoped_arns(found) if type(found) is list else ()


def scoped_arns(found: list) -> tuple[str, ...]:
    """The ARNs of a ``resources`` list (decoded ``Resource`` items or plain mappings), as a policy would name them."""
    arns = []
    for item in found:
        arn = arn_of(item)
        if type(arn) is str and arn.startswith("arn:"):
            arns.append(_scope(arn))
    return tuple(arns)


S3_OBJECT_PREFIXES = ("arn:aws:s3:::", "arn:aws-cn:s3:::", "arn:aws-us-gov:s3:::")


def _scope(arn: str) -> str:
    """The ARN a policy would name: an S3 object's is its bucket's objects (``arn:aws:s3:::bucket/*``).

    Data events name every object read; a policy listing object keys is
    neither what anyone writes nor within IAM's size limits, and keeping one
    entry per object would make the usage as large as the log.
    """
    if arn.startswith(S3_OBJECT_PREFIXES):
        bucket, slash, _ = arn.partition("/")
        if slash:
            return f"{bucket}/*"
    return arn


Call = tuple[str, str, str | None, str | None, str]  # kind, key, account, detail, action


class UsageReducer:
    """Last use and count per (principal, action, resource); merges like ActivityReducer.

    Kept per (principal, action), then per resource. Past MAX_RESOURCES
    distinct resources for one principal's action, further calls count
    without a resource, so the proposal leaves that action unscoped whichever
    ARNs were kept first: the result does not depend on the order records
    come in.
    """

    def __init__(self) -> None:
        self._calls: dict[Call, dict[str | None, list]] = {}  # -> resource (None: unscoped) -> [last, events]

    def add(
        self, hits: Iterable[Hit], source: Any, name: Any, resources: tuple[str, ...], last: datetime, events: int
    ) -> None:
        """Fold ``events`` successful calls of one action by the principals ``hits`` names, the latest at ``last``.

        The caller leaves denied calls out (errorCode set) and passes the
        record's ARNs already scoped (``scoped_arns``).
        """
        action = _action(source, name)
        if action is None:
            return
        calls = self._calls
        for kind, key, account, detail in hits:
            if kind not in KINDS:
                continue
            by_resource = calls.get(call := (kind, key, account, detail, action))
            if by_resource is None:
                by_resource = calls[call] = {}
            for resource in resources or (None,):
                _fold(by_resource, resource, last, events)

    def merge(self, other: UsageReducer) -> None:
        calls = self._calls
        for call, theirs in other._calls.items():
            mine = calls.get(call)
            if mine is None:
                calls[call] = {resource: [last, events] for resource, (last, events) in theirs.items()}
                continue
            for resource, (last, events) in theirs.items():
                _fold(mine, resource, last, events)

    def uses(self) -> list[ActionUse]:
        found = [
            ActionUse(
                kind=kind,
                key=key,
                account_id=account,
                detail=detail,
                action=action,
                resource=resource,
                last_seen=last,
                events=events,
            )
            for (kind, key, account, detail, action), by_resource in self._calls.items()
            for resource, (last, events) in by_resource.items()
        ]
        return sorted(
            found,
            key=lambda use: (use.kind, use.key, use.account_id or "", use.detail or "", use.action, use.resource or ""),
        )


def _fold(by_resource: dict[str | None, list], resource: str | None, last: datetime, events: int) -> None:
    """Count ``events`` calls on ``resource``, or unscoped once MAX_RESOURCES others are kept."""
    entry = by_resource.get(resource)
    if entry is None and resource is not None and len(by_resource) - (None in by_resource) >= MAX_RESOURCES:
        resource = None
        entry = by_resource.get(None)
    if entry is None:
        by_resource[resource] = [last, events]
    else:
        if last > entry[0]:
            entry[0] = last
        entry[1] += events


def reduce_usage(
    records: Iterable[CloudTrailRecord | Mapping], *, start: datetime | None = None, end: datetime | None = None
) -> list[ActionUse]:
    """Attribute ``records`` (decoded, or plain JSON mappings) and fold their actions, inside ``[start, end]``."""
    reducer = UsageReducer()
    for raw in records:
        record = raw if isinstance(raw, CloudTrailRecord) else msgspec.convert(raw, CloudTrailRecord)
        when = parse_event_time(record.eventTime)
        if when is None or (start is not None and when < start) or (end is not None and when > end):
            continue
        hits = attribute(record)
        if hits and not record.errorCode:
            reducer.add(hits, record.eventSource, record.eventName, _resources(raw), when, 1)
    return reducer.uses()
