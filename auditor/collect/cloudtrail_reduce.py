"""Aggregation: attributed events folded into first/last seen per principal.

Pure and order-independent: records may come in any order (CloudTrail does
not sort them), per-object reducers merge in any order, and the result is
the same ``Activity`` list. Shared by the S3 reader and any other source of
records (files on disk, LookupEvents, Athena rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec
from msgspec import Raw

from auditor.collect.action_usage import S3_OBJECT_PREFIXES, UsageReducer, scoped_arns
from auditor.collect.cloudtrail_events import (
    IDC_PORTAL_SOURCES,
    IDC_USER_TYPES,
    SIGNIN,
    STS,
    Hit,
    assumed_role_target,
    assumes_role,
    attribute,
    caller_hits,
    sign_in_workflow,
    unresolved_sign_in,
)
from auditor.collect.cloudtrail_records import (
    CloudTrailRecord,
    LeanRecord,
    Resource,
    UserIdentity,
    parse_event_time,
)
from auditor.model import Activity

# Attribution reads the whole record only for sign-in and portal events and for Identity Center
# identities; any other event proves what its ``userIdentity`` proves (with the account it was
# recorded in, for IAM users and root), and a successful AssumeRole* its target role besides (from
# its requestParameters alone). One principal's events repeat by the thousand in a log object, so
# identities are attributed once per distinct (identity, account) and looked up afterwards.
WHOLE_RECORD_SOURCES = (SIGNIN, *IDC_PORTAL_SOURCES)


class ActivityReducer:
    """First and last time seen, and event count, per (kind, key, account, detail).

    Only events inside ``[start, end]`` count (either bound may be None).
    Feed one batch per log object with ``add``: a sign-in whose steps name
    the user on another step is joined within the batch. Reducers of
    different objects combine with ``merge``, in any order. Given a
    ``usage`` reducer, each attributed record's action is folded into it
    too (right-sizing's "used" side), from the hits computed here once.

    A reducer fed many objects attributes each caller once for all of
    them: a five-minute object holds a few hundred records, and most of its
    callers were in the object before.
    """

    def __init__(
        self, start: datetime | None = None, end: datetime | None = None, usage: UsageReducer | None = None
    ) -> None:
        self.start = start
        self.end = end
        self.usage = usage
        self.records = 0  # records seen
        self.counted = 0  # records inside the window that proved some principal active
        self.outside_window = 0
        self.undated = 0  # records without a usable eventTime
        self._seen: dict[Hit, list] = {}  # hit -> [first, last, events]
        # (userIdentity, recipientAccountId) -> (hits, identity decoded), None: attributed per whole record
        self._callers: dict[tuple, tuple[list[Hit], UserIdentity] | None] = {}

    def add(self, records: Iterable[CloudTrailRecord | LeanRecord]) -> None:
        """Fold one log object's records (decoded, or lean: their parts still raw JSON).

        A log object repeats a few principals' calls by the thousand, so
        events are first counted per distinct principal (and, for usage, per
        distinct call: action and resources) inside the object, then folded
        once each: per record the work is a lookup or two, and a lean
        record's identity is decoded once per distinct identity.
        """
        start, end, usage, callers = self.start, self.end, self.usage, self._callers
        workflow_names: dict[str, str] = {}
        deferred: list[tuple[CloudTrailRecord, datetime]] = []
        times: dict[object, datetime | bool | None] = {}  # eventTime text -> _dated: events share their seconds
        heads: dict[str, tuple[str, ...]] = {}  # an S3 object ARN's bucket part -> the scoped ARNs
        by_identity: dict[tuple, list | None] = {}  # (userIdentity, recipientAccountId) -> slot; None: attribute whole
        by_hits: dict[tuple, list] = {}  # the hits of a record attributed whole -> slot
        count = 0
        for record in records:
            count += 1
            source = record.eventSource
            if source == SIGNIN:
                workflow, name = sign_in_workflow(record.whole())
                if workflow and name:
                    workflow_names[workflow] = name
            stamp = record.eventTime
            try:
                when = times[stamp]
            except KeyError:
                when = times[stamp] = _dated(stamp, start, end)
            except TypeError:  # not text: an unhashable leaf of a damaged record
                when = None
            if not when:
                if when is None:
                    self.undated += 1
                else:
                    self.outside_window += 1
                continue
            slot = None
            if source not in WHOLE_RECORD_SOURCES:
                identity = record.userIdentity
                try:
                    key = (bytes(identity) if type(identity) is Raw else identity, record.recipientAccountId)
                    slot = by_identity[key]
                except KeyError:
                    try:
                        caller = callers[key]
                    except KeyError:
                        caller = callers[key] = _caller(record.whole())
                    slot = by_identity[key] = None if caller is None else _slot(caller[0], when, caller[1])
                except TypeError:  # a list or object where a leaf was expected: not hashable
                    pass
                if slot is not None and source == STS and assumes_role(record):
                    target = assumed_role_target(record.request(), slot[5])
                    if target:
                        hits = slot[0] + target
                        slot = by_hits.get(key := tuple(hits))
                        if slot is None:
                            slot = by_hits[key] = _slot(hits, when)
            if slot is None:
                whole = record.whole()
                hits = attribute(whole)
                if not hits:
                    if unresolved_sign_in(whole):
                        deferred.append((whole, when))
                    continue
                slot = by_hits.get(key := tuple(hits))
                if slot is None:
                    slot = by_hits[key] = _slot(hits, when)
            elif not slot[0]:
                continue  # a principal that proves no one active (a service, an anonymous caller)
            if when < slot[1]:
                slot[1] = when
            elif when > slot[2]:
                slot[2] = when
            slot[3] += 1
            if usage is not None and not record.errorCode:  # a denied call used no permission
                try:
                    call = (source, record.eventName, _scoped(record.resources, heads))
                    used = slot[4].get(call)
                except TypeError:  # an unhashable eventSource or eventName: no action to name
                    continue
                if used is None:
                    slot[4][call] = [when, 1]
                else:
                    if when > used[0]:
                        used[0] = when
                    used[1] += 1
        self.records += count
        for slots in (by_identity, by_hits):
            for tally in slots.values():
                if tally is None:
                    continue
                hits, first, last, events, calls, _ = tally
                if events:
                    self._fold(hits, first, last, events)
                if usage is not None:
                    for (source, name, arns), (used_last, used_events) in calls.items():
                        usage.add(hits, source, name, arns, used_last, used_events)
        for record, when in deferred:
            hits = attribute(record, workflow_names)
            if hits:
                self._fold(hits, when, when, 1)  # a sign-in: no action a policy grants

    def _fold(self, hits: list[Hit], first: datetime, last: datetime, events: int) -> None:
        self.counted += events
        seen = self._seen
        for hit in hits:
            entry = seen.get(hit)
            if entry is None:
                seen[hit] = [first, last, events]
                continue
            if first < entry[0]:
                entry[0] = first
            if last > entry[1]:
                entry[1] = last
            entry[2] += events

    def __getstate__(self) -> dict:
        """Pickled without the callers: a worker's reducer crosses to the parent, its cache need not."""
        return {**self.__dict__, "_callers": {}}

    def merge(self, other: ActivityReducer) -> None:
        if self.usage is not None and other.usage is not None:
            self.usage.merge(other.usage)
        self.records += other.records
        self.counted += other.counted
        self.outside_window += other.outside_window
        self.undated += other.undated
        seen = self._seen
        for hit, (first, last, events) in other._seen.items():
            entry = seen.get(hit)
            if entry is None:
                seen[hit] = [first, last, events]
                continue
            entry[0] = min(entry[0], first)
            entry[1] = max(entry[1], last)
            entry[2] += events

    def activities(self) -> list[Activity]:
        """The reduced records, in a stable order."""
        ordered = sorted(
            self._seen.items(), key=lambda item: (item[0][0], item[0][2] or "", item[0][1], item[0][3] or "")
        )
        return [
            Activity(kind=kind, key=key, account_id=account, detail=detail, first_seen=first, last_seen=last, events=n)
            for (kind, key, account, detail), (first, last, n) in ordered
        ]


def _caller(record: CloudTrailRecord) -> tuple[list[Hit], UserIdentity] | None:
    """What a record's caller proves, or None where attribution needs each whole record (Identity Center users).

    The hits depend on the identity and the account the event was recorded in alone (``caller_hits``
    reads nothing else outside sign-in and portal events, which are attributed whole), so the
    reducer keeps them per (identity, account).
    """
    identity = record.userIdentity
    if type(identity) is not UserIdentity or identity.type in IDC_USER_TYPES:
        return None
    return caller_hits(record), identity


def _slot(hits: list[Hit], when: datetime, identity: UserIdentity | None = None) -> list:
    """A principal's tally inside one log object: [hits, first, last, events, calls -> [last, events], identity].

    An identity's tally keeps the identity decoded: an AssumeRole* it made may name its target by it.
    """
    return [hits, when, when, 0, {}, identity]


def _dated(stamp: object, start: datetime | None, end: datetime | None) -> datetime | bool | None:
    """An ``eventTime`` parsed, None when it is not a time, False when it falls outside ``[start, end]``."""
    when = parse_event_time(stamp)
    if when is None:
        return None
    if (start is not None and when < start) or (end is not None and when > end):
        return False
    return when


def _scoped(resources: object, heads: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """``scoped_arns`` of a record's ``resources``, with the usual one-ARN case inline (it runs per record).

    Data events name a new S3 object in nearly every record, all scoped to a few buckets' objects:
    ``heads`` keeps one scoped tuple per bucket, so a record builds none.
    """
    if type(resources) is not list:
        return ()
    if len(resources) == 1:
        item = resources[0]
        arn = (item.ARN if item.ARN is not None else item.arn) if type(item) is Resource else None
        if type(arn) is str:
            if arn.startswith(S3_OBJECT_PREFIXES):
                cut = arn.find("/")
                if cut < 0:
                    return (arn,)
                head = arn[:cut]
                scoped = heads.get(head)
                if scoped is None:
                    scoped = heads[head] = (head + "/*",)
                return scoped
            if arn.startswith("arn:"):
                return (arn,)
    return scoped_arns(resources)


def reduce_records(
    records: Iterable[CloudTrailRecord | Mapping],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Activity]:
    """Attribute and aggregate ``records`` (decoded, or plain JSON mappings) as one batch."""
    reducer = ActivityReducer(start, end)
    reducer.add(r if isinstance(r, CloudTrailRecord) else msgspec.convert(r, CloudTrailRecord) for r in records)
    return reducer.activities()
