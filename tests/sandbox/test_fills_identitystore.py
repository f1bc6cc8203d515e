"""The identity store's filled operations: each answer parses with boto3 and fits botocore's output shape."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import conforms, error_code

pytestmark = pytest.mark.e2e  # the tiny sandbox, served


@pytest.fixture
def scratch_user(tiny, aws):
    store = aws.client("identitystore")
    user_id = store.create_user(
        IdentityStoreId=tiny.identity_store_id,
        UserName="scratch.user",
        DisplayName="Scratch User",
        Name={"GivenName": "Scratch", "FamilyName": "User"},
    )["UserId"]
    yield store, user_id
    store.delete_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id)


def test_update_user_disables_and_renames(tiny, scratch_user):
    store, user_id = scratch_user
    response = store.update_user(
        IdentityStoreId=tiny.identity_store_id,
        UserId=user_id,
        Operations=[
            {"AttributePath": "userStatus", "AttributeValue": "DISABLED"},
            {"AttributePath": "name.givenName", "AttributeValue": "Renamed"},
            {"AttributePath": "title", "AttributeValue": "Departed"},
        ],
    )
    conforms(store, "UpdateUser", response)  # whatever the installed model requires (newer ones: ARN, revision)
    user = conforms(store, "DescribeUser", store.describe_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id))
    assert (user["UserStatus"], user["Name"]["GivenName"], user["Title"]) == ("DISABLED", "Renamed", "Departed")
    assert user["UpdatedAt"] == tiny.as_of and user["CreatedAt"] <= user["UpdatedAt"]


def test_update_user_refuses_bad_input(tiny, scratch_user):
    store, user_id = scratch_user
    for operation in (
        {"AttributePath": "userStatus", "AttributeValue": "SUSPENDED"},
        {"AttributePath": "noSuchAttribute", "AttributeValue": "x"},
    ):
        with pytest.raises(ClientError) as caught:
            store.update_user(IdentityStoreId=tiny.identity_store_id, UserId=user_id, Operations=[operation])
        assert error_code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        store.update_user(
            IdentityStoreId=tiny.identity_store_id,
            UserId="00000000-0000-0000-0000-000000000000",
            Operations=[{"AttributePath": "title", "AttributeValue": "x"}],
        )
    assert error_code(caught) == "ResourceNotFoundException"


def test_list_users_reports_status_and_creation(tiny, aws):
    store = aws.client("identitystore")
    page = conforms(store, "ListUsers", store.list_users(IdentityStoreId=tiny.identity_store_id))
    assert {u["UserStatus"] for u in page["Users"]} <= {"ENABLED", "DISABLED"}
    assert all(u["CreatedAt"] < tiny.as_of for u in page["Users"])
    never = next(p for p in tiny.planted if p.problem == "idc_never_signed_in")
    created = next(u["CreatedAt"] for u in page["Users"] if u["UserName"] == never.name)
    assert created.isoformat() == never.detail["created"]
