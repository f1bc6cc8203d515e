"""Stock mode: the same estate, answered as a stock moto server answers it, fields and operations missing."""

from __future__ import annotations

import csv
import io

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

pytestmark = pytest.mark.e2e  # the tiny sandbox, served

ONE_TRY = Config(retries={"total_max_attempts": 1})  # moto answers an operation it lacks with HTTP 500
NOT_IMPLEMENTED = "500 Internal Server Error"  # the body moto's server sends then: HTML, whatever the protocol


def client(aws, service: str):
    return aws.session.client(service, endpoint_url=aws.endpoint, config=ONE_TRY)


def users(aws, tiny) -> dict[str, dict]:
    store = client(aws, "identitystore")
    listed = aws.paginate(store, "list_users", "Users", IdentityStoreId=tiny.identity_store_id)
    return {user["UserName"]: user for user in listed}


def test_stock_mode_lists_the_same_estate_without_the_filled_fields(tiny, aws):
    filled = users(aws, tiny)
    tiny.serve_stock()
    try:
        stock = users(aws, tiny)
    finally:
        tiny.serve_stock(False)
    assert {name: u["UserId"] for name, u in stock.items()} == {name: u["UserId"] for name, u in filled.items()}
    assert all("UserStatus" in u and "CreatedAt" in u for u in filled.values())
    assert not any("UserStatus" in u or "CreatedAt" in u for u in stock.values())
    assert not tiny.stock


@pytest.mark.parametrize(
    ("service", "call"),
    [
        (
            "identitystore",
            lambda c, box, user_id: c.update_user(
                IdentityStoreId=box.identity_store_id,
                UserId=user_id,
                Operations=[{"AttributePath": "userStatus", "AttributeValue": "DISABLED"}],
            ),
        ),
        (
            "iam",
            lambda c, box, _: c.generate_service_last_accessed_details(
                Arn=f"arn:aws:iam::{box.management_account_id}:root"
            ),
        ),
        (
            "sso-admin",
            lambda c, box, _: c.list_tags_for_resource(InstanceArn=box.instance_arn, ResourceArn=box.instance_arn),
        ),
    ],
)
def test_operations_only_a_fill_provides_are_not_implemented(stock, aws, service, call):
    user_id = next(iter(users(aws, stock).values()))["UserId"]
    with pytest.raises((ClientError, ResponseParserError)) as caught:
        call(client(aws, service), stock, user_id)
    if isinstance(caught.value, ClientError):  # JSON protocols: an error without a code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    else:  # query protocol: the HTML body does not parse
        assert NOT_IMPLEMENTED in str(caught.value)


def test_the_credential_report_has_no_root_row(stock, aws):
    plant = next(p for p in stock.planted if p.problem == "console_no_mfa")
    iam = aws.client("iam", plant.account_id)
    iam.generate_credential_report()
    rows = {row["user"]: row for row in csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode()))}
    assert plant.name in rows and "<root_account>" not in rows
