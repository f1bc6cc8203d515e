"""Which API actions each principal called (and on what), folded from attributed CloudTrail records.

Right-sizing compares what a principal was granted with what it used; this
is the "used" side, kept narrow: per (principal, IAM action, resource) the
last time and the number of successful calls. A denied call (errorCode set)
is no use of a granted permission. Principals are the ``Activity`` hits that
act through policies: a permission set in an account (idc_assignment), an
IAM role, an IAM user.

The ActivityReducer feeds it the hits it already computed for each record
(``add``), so attribution runs once; ``reduce_usage`` does the same for a
plain batch of records.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from auditor.collect.cloudtrail_events import IAM_ROLE, IAM_USER, IDC_ASSIGNMENT, Hit, attribute
from auditor.collect.cloudtrail_records import CloudTrailRecord, Resource, parse_event_time
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


def _resources(record: Any) -> list[str]:
    """ARNs the record names in its ``resources`` element (absent from most management events), as scoped."""
    found = getattr(record, "resources", None)
    if found is None and isinstance(record, Mapping):
        found = record.get("resources")
    if type(found) is not list:
        return []
    arns = []
    for item in found:
        # a decoded record's Resource is the common case, tested first as it is per record
        arn = item.ARN if type(item) is Resource else item.get("ARN") if isinstance(item, Mapping) else None
        if type(arn) is str and arn.startswith("arn:"):
            arns.append(_scope(arn))
    return arns


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


Key = tuple[str, str, str | None, str | None, str, str | None]  # kind, key, account, detail, action, resource


class UsageReducer:
    """Last use and count per (principal, action, resource); merges like ActivityReducer.

    Past MAX_RESOURCES distinct resources for one principal's action, further
    calls count without a resource, so the proposal leaves that action
    unscoped whichever ARNs were kept first: the result does not depend on
    the order records come in.
    """

    def __init__(self) -> None:
        self._seen: dict[Key, list] = {}
        self._named: dict[tuple, set[str]] | None = {}  # (principal, action) -> resources kept so far

    def __getstate__(self) -> dict:
        """Only the entries cross a process boundary: what was kept per action is in their keys."""
        return {"_seen": self._seen}

    def __setstate__(self, state: dict) -> None:
        self._seen, self._named = state["_seen"], None  # rebuilt if this reducer takes more in

    def add(
        self, record: CloudTrailRecord, hits: Iterable[Hit], when: datetime, resources: list[str] | None = None
    ) -> None:
        """Fold one attributed record; ``resources`` overrides the ARNs read from the record."""
        if record.errorCode:
            return
        principals = [hit for hit in hits if hit[0] in KINDS]
        if not principals:
            return
        action = _action(record.eventSource, record.eventName)
        if action is None:
            return
        named = resources if resources is not None else _resources(record)
        seen = self._seen
        for kind, key, account, detail in principals:
            for resource in named or (None,):
                if resource is not None:
                    resource = self._keep(kind, key, account, detail, action, resource)
                entry = seen.get((kind, key, account, detail, action, resource))
                if entry is None:
                    seen[(kind, key, account, detail, action, resource)] = [when, 1]
                else:
                    if when > entry[0]:
                        entry[0] = when
                    entry[1] += 1

    def _keep(self, kind: str, key: str, account, detail, action: str, resource: str) -> str | None:
        """The resource, or None once a principal's action has named MAX_RESOURCES others (then it is unscoped)."""
        if self._named is None:
            self._named = {}
            for k, a, acc, d, act, r in self._seen:
                if r is not None:
                    self._named.setdefault((k, a, acc, d, act), set()).add(r)
        kept = self._named.setdefault((kind, key, account, detail, action), set())
        if resource in kept:
            return resource
        if len(kept) >= MAX_RESOURCES:
            return None
        kept.add(resource)
        return resource

    def merge(self, other: UsageReducer) -> None:
        for (kind, key, account, detail, action, resource), (last, events) in other._seen.items():
            if resource is not None:
                resource = self._keep(kind, key, account, detail, action, resource)
            self._fold_entry((kind, key, account, detail, action, resource), last, events)

    def _fold_entry(self, key: Key, last: datetime, events: int) -> None:
        entry = self._seen.get(key)
        if entry is None:
            self._seen[key] = [last, events]
        else:
            entry[0] = max(entry[0], last)
            entry[1] += events

    def uses(self) -> list[ActionUse]:
        return [
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
            for (kind, key, account, detail, action, resource), (last, events) in sorted(
                self._seen.items(), key=lambda item: tuple(part or "" for part in item[0])
            )
        ]


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
        if hits:
            reducer.add(record, hits, when, _resources(raw))
    return reducer.uses()
