"""HR and CloudTrail events: what is accepted, and the reason a malformed one is refused with."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from auditor.events.model import SCHEMA, Rejected, parse_cloudtrail, parse_hr
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
