"""HR and CloudTrail events: what is accepted, and the reason a malformed one is refused with."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from auditor.events.model import HIDDEN, SCHEMA, Rejected, parse_cloudtrail, parse_hr
from auditor.events.person import Who

ROOT = Path(__file__).resolve().parents[2]


def hr(**changes) -> dict:
    event = {
        "schema_version": 1,
        "event_id": "hr-1",
        "type": "leaver",
        "occurred_at": "2026-11-02T07:00:00Z",
        "person": {"employee_id": "E1001"},
    }
    return {**event, **changes}


def test_the_published_schema_is_the_one_events_are_validated_against():
    assert json.loads((ROOT / "docs" / "hr-event.schema.json").read_text()) == SCHEMA


def test_a_leaver_event_is_read_with_its_effective_day_defaulting_to_its_day():
    event = parse_hr(hr(person={"email": "Quinn@Example.com"}))
    assert event.type == "leaver" and event.occurred_at == datetime(2026, 11, 2, 7, tzinfo=UTC)
    assert event.effective_date == date(2026, 11, 2) and event.who == Who(query="Quinn@Example.com")
    extension = parse_hr(hr(type="contract_extension", end_date="2027-03-31", effective_date="2026-11-30"))
    assert extension.fields["end_date"] == date(2027, 3, 31) and extension.effective_date == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"type": "fired"}, "$.type: 'fired' is not one of"),
        ({"person": {}}, "$.person: {} should be non-empty"),
        ({"person": {"email": "not-an-address"}}, "$.person.email: 'not-an-address' does not match"),
        ({"type": "mover"}, "$: 'department' is a required property"),
        ({"type": "contract_extension"}, "$: 'end_date' is a required property"),
        ({"occurred_at": "2026-11-02T07:00:00"}, "$.occurred_at: '2026-11-02T07:00:00' is not a 'date-time'"),
        ({"effective_date": "2026-02-30"}, "$.effective_date: '2026-02-30' is not a 'date'"),
        ({"event_id": ""}, "$.event_id: '' should be non-empty"),
        ({"salary": 1}, "Additional properties are not allowed ('salary' was unexpected)"),
    ],
)
def test_a_malformed_hr_event_is_refused_naming_the_field(changes, reason):
    with pytest.raises(Rejected) as refused:
        parse_hr(hr(**changes))
    assert reason in refused.value.reason


def trail(name: str, source: str, request: dict | None, **more) -> dict:
    return {
        "eventID": "e-1",
        "eventTime": "2026-11-02T08:00:00Z",
        "eventSource": source,
        "eventName": name,
        "recipientAccountId": "111122223333",
        "requestParameters": request,
        "userIdentity": {"type": "IAMUser", "userName": "ops", "arn": "arn:aws:iam::111122223333:user/ops"},
        **more,
    }


@pytest.mark.parametrize(
    ("record", "who"),
    [
        (
            trail("CreateAccountAssignment", "sso.amazonaws.com", {"principalType": "USER", "principalId": "u-1"}),
            Who(user_id="u-1"),
        ),
        (
            trail("CreateGroupMembership", "identitystore.amazonaws.com", {"memberId": {"userId": "u-2"}}),
            Who(user_id="u-2"),
        ),
        (
            trail("CreateUser", "identitystore.amazonaws.com", {}, responseElements={"userId": "u-3"}),
            Who(user_id="u-3"),
        ),
        (
            trail("AttachUserPolicy", "iam.amazonaws.com", {"userName": "ci", "policyArn": "arn:x"}),
            Who(iam_users=(("111122223333", "ci"),)),
        ),
        (trail("CreateAccessKey", "iam.amazonaws.com", None), Who(iam_users=(("111122223333", "ops"),))),
        (
            trail("UpdateUser", "iam.amazonaws.com", {"userName": "a", "newUserName": "b"}),
            Who(iam_users=(("111122223333", "b"),)),
        ),
    ],
)
def test_a_cloudtrail_call_names_the_principal_it_affected(record, who):
    assert parse_cloudtrail(record).who == who


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (trail("DeleteUser", "iam.amazonaws.com", {"userName": "a"}), "is not a call the auditor follows"),
        (trail("CreateAccessKey", "iam.amazonaws.com", {"userName": "a"}, errorCode="AccessDenied"), "the call failed"),
        (
            trail("CreateAccountAssignment", "sso.amazonaws.com", {"principalType": "GROUP", "principalId": "g"}),
            "names no principal",
        ),
        ({"eventName": "CreateUser"}, "$.detail.eventID: missing"),
    ],
)
def test_a_cloudtrail_call_the_auditor_does_not_follow_is_refused(record, reason):
    with pytest.raises(Rejected) as refused:
        parse_cloudtrail(record)
    assert reason in refused.value.reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (trail("CreateAccessKey", "iam.amazonaws.com", None, userIdentity="x"), "$.detail.userIdentity: str where"),
        (trail("AttachUserPolicy", "iam.amazonaws.com", ["ci"]), "$.detail.requestParameters: list where"),
        (trail("UpdateUser", "iam.amazonaws.com", {"userName": "a", "newUserName": 7}), ".newUserName: int where"),
        (trail("CreateUser", "identitystore.amazonaws.com", {}, responseElements={"userId": ["u"]}), ".userId: list"),
        (
            trail("CreateGroupMembership", "identitystore.amazonaws.com", {"memberId": "u-2"}),
            "$.detail.requestParameters.memberId: str where CloudTrail writes an object",
        ),
        (trail("CreateAccessKey", "iam.amazonaws.com", None, recipientAccountId=1), "recipientAccountId: int where"),
        (trail("CreateAccessKey", ["iam.amazonaws.com"], None), "$.detail.eventSource: list where"),
        (trail("CreateAccessKey", "iam.amazonaws.com", None, eventTime="2026-11-02T08:00:00"), "has no time zone"),
        # CloudTrail withholds some parameters: nothing left to name the principal by
        (trail("AttachUserPolicy", "iam.amazonaws.com", HIDDEN), "names no principal"),
    ],
)
def test_a_record_with_a_field_of_another_type_is_refused_naming_the_field(record, reason):
    with pytest.raises(Rejected) as refused:
        parse_cloudtrail(record)
    assert reason in refused.value.reason and refused.value.event_id == "e-1"


def test_any_damage_to_a_followed_call_is_either_read_whole_or_refused():
    """Seeded damage to the followed calls' fields: an event is accepted with the types it promises, or Rejected."""
    bases = [
        trail("CreateAccountAssignment", "sso.amazonaws.com", {"principalType": "USER", "principalId": "u-1"}),
        trail("CreateGroupMembership", "identitystore.amazonaws.com", {"memberId": {"userId": "u-2"}}),
        trail("CreateUser", "identitystore.amazonaws.com", {}, responseElements={"user": {"userId": "u-3"}}),
        trail("UpdateUser", "iam.amazonaws.com", {"userName": "a", "newUserName": "b"}),
        trail("CreateAccessKey", "iam.amazonaws.com", None),
    ]
    odd = [None, 0, 1.5, True, "", "x", [], ["a"], {}, {"a": 1}, "2026-11-02T08:00:00", HIDDEN]
    rng = random.Random(11)
    accepted = 0
    for _ in range(3000):
        record = copy.deepcopy(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            holder, key = record, rng.choice(list(record))
            while isinstance(holder[key], dict) and holder[key] and rng.random() < 0.5:  # now and then, a level down
                holder = holder[key]
                key = rng.choice(list(holder))
            holder[key] = copy.deepcopy(rng.choice(odd))
        try:
            event = parse_cloudtrail(record)
        except Rejected:
            continue
        accepted += 1
        assert event.occurred_at.tzinfo is not None
        assert all(isinstance(v, str) for v in (event.event_source, event.event_name, event.account_id) if v)
        assert event.actor is None or isinstance(event.actor, str)
        assert event.who.user_id is None or isinstance(event.who.user_id, str)
        assert all(isinstance(a, str) and isinstance(n, str) for a, n in event.who.iam_users)
        assert event.person_key
    assert accepted > 100  # damage to fields the call does not read leaves it readable
