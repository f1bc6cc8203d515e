"""The fault proxy answers each service in its own protocol, as AWS does, so botocore parses the faults."""

from __future__ import annotations

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.e2e.fault_proxy import FaultProxy, deny_member_role, throttle
from tests.e2e.plain_estate import stock_emulator

pytestmark = pytest.mark.e2e
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


@pytest.fixture(scope="module")
def emulator():
    with stock_emulator() as endpoint:
        yield endpoint


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("iam", lambda c: c.list_users(), "Throttling"),
        ("sts", lambda c: c.get_caller_identity(), "Throttling"),
        ("s3", lambda c: c.list_buckets(), "SlowDown"),
        ("sso-admin", lambda c: c.list_instances(), "ThrottlingException"),
        ("organizations", lambda c: c.describe_organization(), "ThrottlingException"),
    ],
)
def test_throttling_is_answered_in_each_protocol(emulator, service, call, code):
    with FaultProxy(emulator, faults=[throttle(1.0)]) as proxy, pytest.raises(ClientError) as raised:
        call(client(service, proxy.endpoint))
    assert raised.value.response["Error"]["Code"] == code
    assert proxy.forwarded.total() == 0


def test_without_faults_everything_passes_through(emulator):
    with FaultProxy(emulator) as proxy:
        s3 = client("s3", proxy.endpoint)
        s3.create_bucket(Bucket="through-the-proxy")
        s3.put_object(Bucket="through-the-proxy", Key="k", Body=b"payload")
        assert s3.get_object(Bucket="through-the-proxy", Key="k")["Body"].read() == b"payload"
        assert client("iam", proxy.endpoint).list_users()["Users"] == []
    assert proxy.forwarded["s3"] == 3 and proxy.forwarded["iam"] == 1


def test_one_member_role_is_denied(emulator):
    with FaultProxy(emulator, faults=[deny_member_role("222222222222")]) as proxy:
        sts = client("sts", proxy.endpoint)
        with pytest.raises(ClientError) as raised:
            sts.assume_role(
                RoleArn="arn:aws:iam::222222222222:role/OrganizationAccountAccessRole", RoleSessionName="auditor"
            )
        assert raised.value.response["Error"]["Code"] == "AccessDenied"
        sts.assume_role(
            RoleArn="arn:aws:iam::333333333333:role/OrganizationAccountAccessRole", RoleSessionName="auditor"
        )
