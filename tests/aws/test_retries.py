"""Retries under heavy throttling: every call keeps its whole budget however many calls were throttled before it."""

from __future__ import annotations

import os

import boto3
import botocore.config
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse

from auditor.aws import DEFAULT_TOTAL_ATTEMPTS, AwsContext, retries

REGION = "eu-west-1"
THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>r-1</RequestId></ErrorResponse>"
)
UNAVAILABLE = (
    b"<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>busy</Message></Error>"
    b"<RequestId>r-3</RequestId></ErrorResponse>"
)
IDENTITY = (
    b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn>"
    b"<UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


@pytest.fixture
def pauses(monkeypatch, tmp_path) -> list[float]:
    """Fake credentials, an endpoint nothing listens on, and the pauses botocore would sleep (recorded, not slept)."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never the network: every answer is below
    recorded: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", recorded.append)
    return recorded


def answer_each_call(client, failures: list[bytes]) -> list[int]:
    """Every call is answered ``failures`` (in order, HTTP 400 or 503) before it succeeds; attempts per call."""
    attempts: list[int] = []

    def answer(request, **_) -> AWSResponse:
        first = "amz-sdk-request" in request.headers and b"attempt=1;" in request.headers["amz-sdk-request"]
        if first or not attempts:
            attempts.append(0)
        attempts[-1] += 1
        if attempts[-1] <= len(failures):
            body = failures[attempts[-1] - 1]
            return AWSResponse(request.url, 503 if body is UNAVAILABLE else 400, {}, Body(body))
        return AWSResponse(request.url, 200, {}, Body(IDENTITY))

    client.meta.events.register("before-send.sts.GetCallerIdentity", answer)
    return attempts


def test_a_long_run_of_throttled_calls_never_runs_out_of_retries(pauses):
    """Stock standard mode leaks quota on calls retried more than once and then fails calls on their first error."""
    failures = [THROTTLED, UNAVAILABLE, THROTTLED, THROTTLED]
    standard = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 10})
    stock = boto3.client("sts", region_name=REGION, config=standard)
    stock_attempts = answer_each_call(stock, failures)
    with pytest.raises(botocore.exceptions.ClientError):
        for _ in range(200):
            stock.get_caller_identity()
    assert stock_attempts[-1] <= len(failures) < 10  # the quota ran out: the call gave up with budget left

    ours = AwsContext.from_environment(region=REGION).client("sts")
    our_attempts = answer_each_call(ours, failures)
    for _ in range(200):
        assert ours.get_caller_identity()["Account"] == "123456789012"
    assert our_attempts == [len(failures) + 1] * 200
    assert len(pauses) >= 200 * len(failures)


def test_backoff_is_jittered_exponential_capped_and_longer_after_throttling():
    high = retries.RetryHandler(DEFAULT_TOTAL_ATTEMPTS, rand=lambda: 1.0)
    low = retries.RetryHandler(DEFAULT_TOTAL_ATTEMPTS, rand=lambda: 0.0)

    def context(attempt: int, code: str):
        return botocore.retries.standard.RetryContext(
            attempt_number=attempt,
            parsed_response={"Error": {"Code": code}},
            http_response=AWSResponse("https://sts", 400, {}, Body(b"")),
        )

    throttled = [high._policy.compute_retry_delay(context(n, "Throttling")) for n in (1, 2, 3, 10)]
    assert throttled == [
        retries.THROTTLING_BASE_SECONDS,
        2 * retries.THROTTLING_BASE_SECONDS,
        4 * retries.THROTTLING_BASE_SECONDS,
        retries.MAX_BACKOFF_SECONDS,
    ]
    assert high._policy.compute_retry_delay(context(1, "InternalFailure")) == retries.OTHER_BASE_SECONDS
    assert low._policy.compute_retry_delay(context(5, "Throttling")) == 0.0
