"""Attribution and reduction of CloudTrail records, on real (and documented-shape) records."""

from __future__ import annotations

import gzip
import json
import pickle
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_events import attribute, permission_set_name
from auditor.collect.cloudtrail_lifecycle import lifecycle_events
from auditor.collect.cloudtrail_records import (
    LogDecodeError,
    decode_log,
    decode_log_lean,
    parse_event_time,
    read_log,
)
from auditor.collect.cloudtrail_reduce import ActivityReducer, reduce_records

DATA = Path(__file__).parent / "data"


def records(name: str, *indexes: int) -> list[dict]:
    """Records of a fixture file (all, or the given indexes), as plain JSON mappings."""
    loaded = json.loads((DATA / name).read_text())["Records"]
    return [loaded[i] for i in indexes] if indexes else loaded


def seen(batch: list[dict], **window) -> dict[tuple, tuple[datetime, datetime, int]]:
    """(kind, key, account, detail) -> (first, last, events)."""
    return {
        (a.kind, a.key, a.account_id, a.detail): (a.first_seen, a.last_seen, a.events)
        for a in reduce_records(batch, **window)
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Identity Center sign-in, old shape (type Unknown + userName) ------------------------------


def test_old_identity_center_sign_ins_key_by_lower_case_user_name_and_skip_failed_attempts():
    result = seen(records("awsdocs-identity-center.json", *range(11)))
    # three successful sign-ins (password, external IdP, password+TOTP); steps themselves are not sign-ins
    assert result == {("idc_user", "name:user1", None, None): (at("2020-12-07T20:34:09"), at("2020-12-08T20:40:27"), 3)}


def test_a_failed_identity_center_sign_in_is_not_activity():
    # the 2020-12-08T18:56 attempt: challenge succeeded, password verification failed, no UserAuthentication
    assert seen(records("awsdocs-identity-center.json", 9, 10)) == {}


def test_old_portal_and_cli_events_are_user_activity():
    result = seen(records("awsdocs-identity-center.json", 12, 13))
    assert result == {
        ("idc_user", "name:bobsmith@example.com", None, None): (at("2017-11-29T18:48:28"), at("2020-06-16T01:31:15"), 2)
    }


def test_legacy_sso_authenticate_is_a_sign_in_unless_it_failed():
    # the real record is trimmed (no userIdentity); give it the old portal identity of the same era
    authenticate = records("sso-role-sessions.json", 6)[0]
    identity = records("awsdocs-identity-center.json", 12)[0]["userIdentity"]
    signed_in = {**authenticate, "userIdentity": identity}
    refused = {**signed_in, "eventTime": "2024-06-04T08:00:00Z", "errorCode": "AuthenticationFailed"}
    assert seen([signed_in, refused]) == {
        ("idc_user", "name:bobsmith@example.com", None, None): (at("2024-06-03T15:23:22"),) * 2 + (1,)
    }


def test_an_iam_user_calling_identity_center_admin_apis_is_not_an_identity_center_user():
    result = seen(records("awsdocs-identity-center.json", 11))
    assert set(result) == {
        ("iam_user", "samadams", "08966example", None),
        ("access_key", "AKIAIIJM2K4example", "08966example", "samadams"),
    }


# --- Identity Center, documented post-2025 shape (IdentityCenterUser + onBehalfOf) ----------------

U1 = "id:94482488-3041-7026-18f3-be45837cd0e4"
MEMBER = "444455556666"


def test_new_shape_sign_in_and_portal_use_key_by_identity_store_user_id():
    result = seen(records("idc-documented-shapes.json"))
    first, last, events = result[("idc_user", U1, None, None)]
    # UserAuthentication, ListAccounts, GetRoleCredentials, and a refused GetRoleCredentials (the user is live)
    assert (first, last, events) == (at("2025-08-04T09:00:06"), at("2025-08-07T08:00:00"), 4)


def test_sign_in_names_the_user_from_another_step_of_the_same_workflow_whatever_the_order():
    result = seen(records("idc-documented-shapes.json", 3, 4, 5))
    assert result == {("idc_user", "name:bob@example.com", None, None): (at("2025-08-05T10:00:09"),) * 2 + (1,)}


def test_workflow_join_stays_within_one_batch():
    reducer = ActivityReducer()
    reducer.add(decode(records("idc-documented-shapes.json", 3)))  # the authentication alone
    reducer.add(decode(records("idc-documented-shapes.json", 4)))  # its challenge, in another object
    assert reducer.activities() == []


def test_external_idp_sign_in_carries_its_own_user_name():
    result = seen(records("idc-documented-shapes.json", 6))
    assert set(result) == {("idc_user", "name:carol@example.com", None, None)}


def test_failed_sign_in_with_hidden_user_name_is_not_activity():
    assert seen(records("idc-documented-shapes.json", 7, 8)) == {}


def test_get_role_credentials_proves_use_of_the_permission_set_in_the_target_account():
    result = seen(records("idc-documented-shapes.json"))
    assert result[("idc_assignment", U1, MEMBER, "AdministratorAccess")][:2] == (
        at("2025-08-04T09:01:30"),
        at("2025-08-04T09:15:00"),  # the later role session in the member account
    )
    # the refused request for Billing proves nothing about that assignment
    assert not [key for key in result if key[3] == "Billing"]


def test_get_role_credentials_target_is_read_from_request_parameters_too():
    record = records("idc-documented-shapes.json", 11)[0]
    del record["errorCode"]
    assert ("idc_assignment", U1, MEMBER, "Billing") in seen([record])


def test_on_behalf_of_wins_over_the_user_name_in_transitional_events():
    result = seen(records("idc-documented-shapes.json", 12))
    assert set(result) == {("idc_user", "id:c4d8a4b8-70e1-7072-5ec5-0d3b8a1e7f10", None, None)}


def test_saml_federation_into_an_identity_center_role_is_use_of_that_permission_set():
    result = seen(records("idc-documented-shapes.json", 13))
    assert set(result) == {("idc_assignment", "name:alice@example.com", MEMBER, "AdministratorAccess")}


def test_role_session_with_on_behalf_of_is_keyed_by_user_id():
    result = seen(records("idc-documented-shapes.json", 14))
    assert set(result) == {("idc_assignment", U1, MEMBER, "AdministratorAccess")}


# --- permission-set role sessions (real records) -----------------------------------------------


def test_identity_center_role_sessions_map_to_user_account_and_permission_set():
    result = seen(records("sso-role-sessions.json"))
    assignments = {key: value for key, value in result.items() if key[0] == "idc_assignment"}
    assert set(assignments) == {
        ("idc_assignment", "name:bob.ross", "123456789012", "DevAdmin"),  # fake hash "abc123", no region in path
        # ConsoleLogin and the session's signin AssumeRole (whose sessionIssuer lacks an ARN)
        ("idc_assignment", "name:nicholas.hakmiller", "187901811700", "DevAdmin"),
        ("idc_assignment", "name:user@example.com", "123456789012", "Admin"),  # no hash at all
        ("idc_assignment", "name:foo@bar.com", "xxx", "developer_admin"),  # greedy: "_" inside the name
        ("idc_assignment", "name:example.user", "123456789012", "ExampleRole"),
        ("idc_assignment", "name:evil.genius", "123123123123", "DevAdmin"),  # AccessDenied still proves use
        # real record whose session ARN was mangled by anonymisation: the role comes from the session
        # issuer and the user from principalId
        ("idc_assignment", "name:randomca0l529zwnay@gmail.com", "844015365555", "account-admin"),
    }
    assert assignments[("idc_assignment", "name:nicholas.hakmiller", "187901811700", "DevAdmin")] == (
        at("2024-06-02T19:41:40"),
        at("2024-06-02T19:41:40"),
        2,
    )


def test_roles_outside_the_sso_naming_are_plain_roles_keyed_by_their_arn():
    result = seen(records("sso-role-sessions.json", 0))
    assert set(result) == {
        (
            "iam_role",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/SampleRole",
            "111122223333",
            None,
        )
    }


def test_records_without_identity_or_usable_time_are_skipped_not_fatal():
    reducer = ActivityReducer()
    reducer.add(decode(records("sso-role-sessions.json", 6, 9, 10)))  # no userIdentity; eventTime null and "..."
    assert reducer.activities() == []
    assert (reducer.records, reducer.undated) == (3, 2)


@pytest.mark.parametrize(
    ("role_name", "expected"),
    [
        ("AWSReservedSSO_AdministratorAccess_7243976e43c75fc5", "AdministratorAccess"),
        ("AWSReservedSSO_developer_admin_599c9e90e350d2ff", "developer_admin"),
        ("AWSReservedSSO_a.b-c@d=e,f_0123456789abcdef", "a.b-c@d=e,f"),
        ("AWSReservedSSO_Admin", "Admin"),
        ("AWSReservedSSO_", None),
        ("SampleRole", None),
        ("MyAWSReservedSSO_Admin_abc", None),
    ],
)
def test_permission_set_name(role_name, expected):
    assert permission_set_name(role_name) == expected


# --- IAM users, keys, root, roles -------------------------------------------------------------


def test_console_sign_ins_count_only_when_they_succeed():
    result = seen(records("console-and-root.json", *range(2, 17)))
    assert set(result) == {
        ("iam_user", "anaya", "111122223333", None),
        ("iam_user", "stratus-red-team-nmfalu-jfzdtsvchl", "562283505220", None),
        ("root", "111122223333", "111122223333", None),
        ("root", "123456789012", "123456789012", None),
    }
    # JaneDoe only ever failed; HIDDEN_DUE_TO_SECURITY_REASONS is nobody; a console login is not key use
    assert result[("iam_user", "anaya", "111122223333", None)][2] == 3  # two logins and a CheckMfa
    assert result[("root", "123456789012", "123456789012", None)][2] == 2  # login and PasswordUpdated


def test_root_and_user_failures_alone_prove_nothing():
    assert seen(records("console-and-root.json", 2, 3, 5, 8, 11, 13)) == {}


def test_long_term_key_use_is_key_and_user_activity_and_errors_count():
    result = seen(records("keys-roles-and-errors.json", 2, 3, 4))
    assert result == {
        # DeleteLoginProfile failed (EntityTemporarilyUnmodifiableException) but the key was live at 13:42:22
        ("iam_user", "christophe", "070411556318", None): (at("2024-08-01T13:42:21"), at("2024-08-01T13:42:22"), 3),
        ("access_key", "AKIAE18PGYHCY2CYMTFK", "070411556318", "christophe"): (
            at("2024-08-01T13:42:21"),
            at("2024-08-01T13:42:22"),
            3,
        ),
    }


def test_temporary_session_of_an_iam_user_is_user_activity_not_key_use():
    result = seen(records("keys-roles-and-errors.json", 5))  # ASIA key with sessionContext, non-ISO time
    assert result == {("iam_user", "some_iam_user", "123456789012", None): (at("2023-01-03T01:52:07"),) * 2 + (1,)}


def test_federation_token_sessions_belong_to_the_issuing_user():
    result = seen(records("keys-roles-and-errors.json", 0, 1))
    assert result == {
        ("iam_user", "stratus-red-team-user-federation-user", "742491224508", None): (
            at("2024-11-30T08:43:17"),
            at("2024-11-30T08:43:18"),  # the FederatedUser's own call
            2,
        ),
        ("access_key", "AKIA6V1GNZTT65XQH36M", "742491224508", "stratus-red-team-user-federation-user"): (
            at("2024-11-30T08:43:17"),
            at("2024-11-30T08:43:17"),
            1,
        ),
    }


def test_assume_role_proves_the_target_role_used_only_when_it_succeeded():
    result = seen(records("keys-roles-and-errors.json", 6, 7))
    assert result[("iam_role", "arn:aws:iam::123456789012:role/FullAdminRole", "123456789012", None)][2] == 1
    assert result[("iam_user", "example-user", "123456789012", None)][2] == 2  # the expired-token call still counts


def test_role_sessions_and_service_assumptions_are_role_activity():
    result = seen(records("keys-roles-and-errors.json", 8, 9, 10, 11))
    role = ("iam_role", "arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd", "900138736586", None)
    # two AssumeRole calls by christophe, then a refused RunInstances by the session
    assert result[role] == (at("2024-08-01T11:30:21"), at("2024-08-01T11:30:23"), 3)
    assert ("iam_role", "arn:aws:iam::123456789123:role/my_role_arn", "123456789123", None) in result  # by Lambda


def test_saml_federation_into_a_plain_role_is_role_activity():
    result = seen(records("console-and-root.json", 1))
    assert set(result) == {("iam_role", "arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth", "444455556666", None)}


def test_cross_account_caller_identity_is_not_attributed_but_its_target_role_is():
    result = seen(records("console-and-root.json", 0))  # userIdentity type AWSAccount
    assert set(result) == {("iam_role", "arn:aws:iam::111122223333:role/EC2-dev", "111122223333", None)}


# --- window, order, decoding ---------------------------------------------------------------------


def with_time(record: dict, when: str) -> dict:
    return {**record, "eventTime": when}


def test_window_edges_are_inclusive():
    login = records("console-and-root.json", 16)[0]
    start, end = at("2024-06-01T00:00:00"), at("2024-06-30T00:00:00")
    batch = [
        with_time(login, "2024-05-31T23:59:59Z"),
        with_time(login, "2024-06-01T00:00:00Z"),
        with_time(login, "2024-06-30T00:00:00Z"),
        with_time(login, "2024-06-30T00:00:01Z"),
    ]
    reducer = ActivityReducer(start, end)
    reducer.add(decode(batch))
    [activity] = reducer.activities()
    assert (activity.first_seen, activity.last_seen, activity.events) == (start, end, 2)
    assert reducer.outside_window == 2


def test_order_of_records_and_of_merges_does_not_change_the_result():
    everything = [r for name in sorted(p.name for p in DATA.glob("*.json")) for r in records(name)]
    expected = reduce_records(everything)
    shuffled = everything[:]
    random.Random(3).shuffle(shuffled)
    assert reduce_records(shuffled) == expected
    assert len(expected) >= 30  # a varied population, so the comparison means something

    # one batch per file, merged in two different orders: the same (no workflow spans files)
    def merged(names: list[str]) -> list:
        total = ActivityReducer()
        for name in names:
            part = ActivityReducer()
            part.add(decode(records(name)))
            total.merge(part)
        return total.activities()

    names = sorted(p.name for p in DATA.glob("*.json"))
    assert merged(names) == merged(names[::-1]) == expected


def test_one_reducer_fed_object_after_object_counts_what_a_reducer_per_object_counts():
    """A worker folds a batch of objects into one reducer, which attributes each caller once for all of them."""
    everything = [r for name in sorted(p.name for p in DATA.glob("*.json")) for r in records(name)]
    random.Random(5).shuffle(everything)  # callers recur from object to object
    objects = [json.dumps({"Records": everything[i : i + 4]}).encode() for i in range(0, len(everything), 4)]
    # one identity, written without its account, in two accounts' logs: two users
    for account in ("111122223333", "444455556666"):
        bare = {"type": "IAMUser", "userName": "deployer", "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}
        record = {"eventTime": "2024-08-01T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"}
        objects.append(
            json.dumps({"Records": [record | {"userIdentity": bare, "recipientAccountId": account}]}).encode()
        )
    one, merged = ActivityReducer(usage=UsageReducer()), ActivityReducer(usage=UsageReducer())
    for payload in objects:
        one.add(decode_log_lean(payload)[0])
        part = ActivityReducer(usage=UsageReducer())
        part.add(decode_log_lean(payload)[0])
        merged.merge(part)
    assert one.activities() == merged.activities() and one.usage.uses() == merged.usage.uses()
    assert (one.records, one.counted, one.undated) == (merged.records, merged.counted, merged.undated)
    assert {a.account_id for a in one.activities() if a.key == "deployer"} == {"111122223333", "444455556666"}
    crossed = pickle.loads(pickle.dumps(one))  # as a worker's reducer reaches the reading process
    assert crossed._callers == {} and crossed.activities() == one.activities()


def test_activity_times_are_aware_utc():
    for activity in reduce_records(records("sso-role-sessions.json")):
        assert activity.first_seen.tzinfo is UTC and activity.last_seen.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-03T15:23:22Z", datetime(2024, 6, 3, 15, 23, 22, tzinfo=UTC)),
        ("2024-06-03 15:23:22.000000000", datetime(2024, 6, 3, 15, 23, 22, tzinfo=UTC)),
        ("2023-01-10 20:10:41", datetime(2023, 1, 10, 20, 10, 41, tzinfo=UTC)),
        ("2024-06-03T17:23:22+02:00", datetime(2024, 6, 3, 15, 23, 22, tzinfo=UTC)),
        ("redacted", None),
        ("...", None),
        (None, None),
        (1717428202, None),
    ],
)
def test_event_time_parsing(text, expected):
    assert parse_event_time(text) == expected


def decode(batch: list[dict]):
    decoded, skipped = decode_log(json.dumps({"Records": batch}).encode())
    assert skipped == 0
    return decoded


def test_the_readers_lean_records_reduce_as_decoded_records_do():
    """The S3 reader leaves identities raw until it meets a new one: activity, actions and changes are the same."""
    grant = {  # an access change, in the shape AWS documents for sso:CreateAccountAssignment
        "eventTime": "2024-08-01T10:00:00Z",
        "eventSource": "sso.amazonaws.com",
        "eventName": "CreateAccountAssignment",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/jane"},
        "requestParameters": {
            "targetId": "444455556666",
            "targetType": "AWS_ACCOUNT",
            "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2222222222222222",
            "principalType": "USER",
            "principalId": "90676d0c4b-1111-2222-3333-444444444444",
        },
        "recipientAccountId": "111122223333",
    }
    everything = [r for name in sorted(p.name for p in DATA.glob("*.json")) for r in records(name)] + [grant]
    payload = json.dumps({"Records": everything}).encode()
    results = []
    for decoded, skipped in (decode_log(payload), decode_log_lean(payload)):
        assert skipped == 0
        reducer = ActivityReducer(usage=UsageReducer())
        reducer.add(decoded)
        results.append((reducer.activities(), reducer.usage.uses(), lifecycle_events(decoded)))
    full, lean = results
    assert lean == full
    assert len(full[0]) >= 30 and full[1] and full[2]  # activity, actions called and access changes all present


def test_the_reducer_counts_what_attributing_each_record_alone_proves():
    """Grouping by identity inside an object (and reading an AssumeRole's target alone) changes no figure."""
    sso_role = "AWSReservedSSO_AdministratorAccess_1a2b3c4d5e6f7a8b"
    base = {"eventSource": "sts.amazonaws.com", "recipientAccountId": "111122223333"}
    service = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    caller = {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/deployer",
        "accountId": "111122223333",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": "deployer",
    }
    saml = {"type": "SAMLUser", "principalId": "x:jane@example.com", "userName": "jane@example.com"}
    target = "arn:aws:iam::444455556666:role/"
    sts = [  # (when, eventName, userIdentity, requestParameters, errorCode)
        ("10:00:00", "AssumeRole", service, {"roleArn": target + "app", "roleSessionName": "s1"}, None),
        ("10:00:01", "AssumeRole", service, {"roleArn": target + "app", "roleSessionName": "s2"}, None),
        ("10:00:02", "AssumeRole", service, {"roleArn": target + "worker", "roleSessionName": "s3"}, None),
        ("10:00:03", "AssumeRole", caller, {"roleArn": target + "app", "roleSessionName": "deploy"}, None),
        ("10:00:04", "AssumeRole", caller, {"roleArn": target + "denied", "roleSessionName": "x"}, "AccessDenied"),
        ("10:00:05", "AssumeRoleWithSAML", saml, {"roleArn": target + sso_role, "roleSessionName": ""}, None),
        ("10:00:06", "GetCallerIdentity", caller, None, None),
        ("10:00:07", "AssumeRole", caller, {"roleArn": "not an arn"}, None),
    ]
    made = [
        {**base, "eventTime": f"2024-08-01T{when}Z", "eventName": name, "userIdentity": identity}
        | ({"requestParameters": params} if params else {})
        | ({"errorCode": error} if error else {})
        for when, name, identity, params, error in sts
    ]
    everything = [r for name in sorted(p.name for p in DATA.glob("*.json")) for r in records(name)] + made
    expected: dict[tuple, list] = {}
    for record in decode(everything):
        when = parse_event_time(record.eventTime)
        for hit in attribute(record) if when else ():  # a sign-in named on another step only is left out
            entry = expected.setdefault(hit, [when, when, 0])
            entry[:] = [min(entry[0], when), max(entry[1], when), entry[2] + 1]
    payload = json.dumps({"Records": everything}).encode()
    for decoded, _ in (decode_log(payload), decode_log_lean(payload)):
        reducer = ActivityReducer()
        reducer.add(decoded)
        got = {
            (a.kind, a.key, a.account_id, a.detail): [a.first_seen, a.last_seen, a.events] for a in reducer.activities()
        }
        assert {hit: got.get(hit) for hit in expected} == expected
    assert expected[("iam_role", target + "app", "444455556666", None)][2] == 3
    assert expected[("idc_assignment", "name:jane@example.com", "444455556666", "AdministratorAccess")][2] == 1
    assert ("iam_role", target + "denied", "444455556666", None) not in expected


@pytest.mark.parametrize("decode_log", [decode_log, decode_log_lean])
def test_decode_accepts_a_bare_array_and_tolerates_odd_shapes(decode_log):
    good = records("console-and-root.json", 16)[0]
    odd = [
        good,
        "not a record",
        {**good, "userIdentity": "a string", "eventTime": "2024-08-02T08:53:25Z"},
        {**good, "responseElements": "text", "requestParameters": [1, 2], "eventTime": "2024-08-02T08:53:26Z"},
        {**good, "userIdentity": {**good["userIdentity"], "accountId": 562283505220, "userName": ["x"]}},
        {**good, "eventSource": "sts.amazonaws.com", "eventName": ["AssumeRole"], "userIdentity": {"type": {}}},
        {**good, "eventSource": "signin.amazonaws.com", "additionalEventData": {"AuthWorkflowID": {}, "UserName": 1}},
        {**good, "resources": {"ARN": "arn:aws:s3:::not-in-a-list"}},
    ]
    decoded, skipped = decode_log(json.dumps(odd).encode())
    assert (len(decoded), skipped) == (7, 1)
    reducer = ActivityReducer()
    reducer.add(decoded)
    [user] = [a for a in reducer.activities() if a.kind == "iam_user"]
    # a numeric account id and a list user name are not usable leaves: the user ARN stands in
    assert (user.key, user.account_id, user.last_seen) == (
        "stratus-red-team-nmfalu-jfzdtsvchl",
        "562283505220",
        at("2024-08-02T08:53:26"),
    )


def test_decode_of_an_object_without_records_is_empty():
    assert decode_log(b'{"Records": null}') == ([], 0)
    assert decode_log(b"{}") == ([], 0)


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", b"plain text", gzip.compress(b'{"Records": [', mtime=0)])
def test_unreadable_bodies_raise_log_decode_error(body):
    with pytest.raises(LogDecodeError):
        read_log(body)


def test_read_log_gunzips_and_accepts_an_already_inflated_body():
    body = json.dumps({"Records": records("console-and-root.json", 16)}).encode()
    assert read_log(gzip.compress(body)) == read_log(body)
    assert len(read_log(body)[0]) == 1


def test_reduce_records_accepts_decoded_records_and_mappings_alike():
    batch = records("keys-roles-and-errors.json")
    assert reduce_records(decode(batch)) == reduce_records(batch)


def test_attribute_is_empty_for_service_callers():
    [service] = decode(
        [
            {
                "eventTime": "2024-01-01T00:00:00Z",
                "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances",
                "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
            }
        ]
    )
    assert attribute(service) == []


def test_window_bounds_are_applied_with_timedelta_precision():
    login = records("console-and-root.json", 16)[0]
    end = at("2024-08-02T08:53:24")
    assert seen([login], end=end - timedelta(seconds=1)) == {}
    assert len(seen([login], end=end)) == 1
