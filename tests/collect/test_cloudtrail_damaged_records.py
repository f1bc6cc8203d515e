"""Damaged records in a log object are skipped or read as far as they go; they never stop the read.

The reader decodes every leaf of a record as any JSON value, so a record
whose fields hold the wrong types (a list for an event name, an object for
an account id) reaches the reducers: each must step over what it cannot
use, and what it keeps must have the types the snapshot promises.
"""

from __future__ import annotations

import copy
import gzip
import json
import pickle
import random
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_lifecycle import EVENTS
from auditor.collect.cloudtrail_pool import reduce_object
from auditor.collect.cloudtrail_records import LogDecodeError
from auditor.collect.cloudtrail_reduce import ActivityReducer

DATA = Path(__file__).parent / "data"
START, END = datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
# values a damaged or hand-edited record may carry where the documented one has something else
WRONG = [None, "", 0, 1.5, True, [], {}, "x", "2024-13-45T99:99:99Z", {"a": None}, ["a"]]


def _documented() -> list[dict]:
    records = [r for path in sorted(DATA.glob("*.json")) for r in json.loads(path.read_text())["Records"]]
    return records + [_access_change(name, sources[0]) for name, sources in EVENTS.items()]


def _access_change(name: str, source: str) -> dict:
    """An Identity Center access change, with every request field the lifecycle reader looks at."""
    return {
        "eventTime": "2026-11-01T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "recipientAccountId": "111111111111",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111111111111:assumed-role/Admin/ann",
            "accountId": "111111111111",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111111111111:role/Admin"}},
        },
        "requestParameters": {
            "targetId": "222222222222",
            "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
            "principalType": "USER",
            "principalId": "u-1",
            "groupId": "g-1",
            "memberId": {"userId": "u-1"},
            "userId": "u-1",
        },
        "responseElements": {"membershipId": "m-1", "userId": "u-1"},
    }


def _damage(value: object, rng: random.Random, depth: int = 0) -> None:
    """Delete a field, give it a wrong type, or damage something inside it."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        roll = rng.random()
        if roll < 0.3:
            del value[key]
        elif roll < 0.6 or depth > 3:
            value[key] = copy.deepcopy(rng.choice(WRONG))
        else:
            _damage(value[key], rng, depth + 1)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        if rng.random() < 0.5:
            value[index] = copy.deepcopy(rng.choice(WRONG))
        else:
            _damage(value[index], rng, depth + 1)


def _read(records: list) -> tuple[ActivityReducer, object]:
    reducer = ActivityReducer(START, END, usage=UsageReducer())
    held = reduce_object(gzip.compress(json.dumps({"Records": records}).encode()), reducer)
    return reducer, held


def test_an_event_name_that_is_not_text_is_stepped_over_and_the_object_still_counts():
    change = _access_change("CreateAccountAssignment", "sso.amazonaws.com")
    damaged = {**change, "eventName": ["CreateAccountAssignment"]}
    _, held = _read([damaged, change, {**change, "eventName": {"name": "DeleteUser"}}])
    assert held.records == 3
    assert [e.event_name for e in held.changes] == ["CreateAccountAssignment"]


@pytest.mark.parametrize("seed", range(4))
def test_damaged_records_never_stop_the_read_and_what_is_kept_is_typed(seed):
    documented = _documented()
    rng = random.Random(seed)
    for _ in range(150):
        batch = [copy.deepcopy(rng.choice(documented)) for _ in range(6)]
        for record in batch:
            for _ in range(rng.randint(1, 3)):
                _damage(record, rng)
        try:
            reducer, held = _read(batch)
        except LogDecodeError:
            continue  # the object as a whole is unreadable: counted as such by the caller
        activities, uses = reducer.activities(), reducer.usage.uses()
        msgspec.json.encode([activities, uses, held.changes])  # what the snapshot writes
        for activity in activities:
            assert isinstance(activity.key, str)
            assert activity.account_id is None or isinstance(activity.account_id, str)
            assert activity.detail is None or isinstance(activity.detail, str)
        for change in held.changes:
            assert isinstance(change.event_name, str) and change.event_name in EVENTS
        ActivityReducer(START, END, usage=UsageReducer()).merge(pickle.loads(pickle.dumps(reducer)))
