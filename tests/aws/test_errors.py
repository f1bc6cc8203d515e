"""AWS errors: a one-line description for the manifest, and whether a retry could succeed."""

from __future__ import annotations

import botocore.exceptions
import pytest

from auditor.aws import describe_error, error_code, is_transient


def client_error(code: str, status: int, message: str = "m") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("SlowDown", 503), ("TooManyRequestsException", 429), ("Whatever", 429)]
    + [("InternalError", 500), ("Unexpected", 502), ("RequestTimeout", 400)],
)
def test_throttling_and_server_errors_are_transient(code, status):
    assert is_transient(client_error(code, status))


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDenied", 403), ("NoSuchEntity", 404), ("ValidationException", 400)]
)
def test_denials_and_bad_input_are_terminal(code, status):
    assert not is_transient(client_error(code, status))


def test_network_failures_are_transient_and_defects_are_not():
    assert is_transient(botocore.exceptions.EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"))
    assert not is_transient(ValueError("a bug"))


def test_the_description_is_one_bounded_line_naming_service_and_operation():
    message = "<Error>\n  <Message>no   access</Message>\n</Error>" + "x" * 1000
    described = describe_error(client_error("AccessDenied", 403, message), "s3", "GetObject")
    assert described.startswith("AccessDenied: no access x")
    assert described.endswith("… (s3, GetObject)") and "\n" not in described and len(described) < 400
    assert error_code(ValueError("v")) == "ValueError"
    assert describe_error(ValueError("bad\nvalue"), "iam", "collect") == "ValueError: bad value (iam, collect)"
