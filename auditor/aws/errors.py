"""AWS errors described once: a code, a one-line message, and whether retrying could succeed.

Transient (throttling, 5xx, network) is worth another try later; anything
else is terminal (access denied, invalid input, not found) and retrying only
repeats it. botocore's own retries have already run when these are asked.
"""

from __future__ import annotations

import re

import botocore.exceptions

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
NETWORK_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)
MESSAGE_LIMIT = 300


def error_code(exc: BaseException) -> str:
    """AWS's error code (``AccessDenied``), or the exception's class name for anything else."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later could succeed (throttling, 429, 5xx, network); False means terminal."""
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status == 429 or status >= 500
    return isinstance(exc, NETWORK_ERRORS)


def _one_line(text: str) -> str:
    """Error text fit for a manifest line: markup dropped, whitespace collapsed, length bounded."""
    text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def describe_error(exc: BaseException, service: str, operation: str) -> str:
    """``"AccessDenied: <message> (iam, GetCredentialReport)"`` as the manifest wants it."""
    if isinstance(exc, botocore.exceptions.ClientError):
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{error_code(exc)}: {_one_line(message)} ({service}, {operation})"
    return f"{type(exc).__name__}: {_one_line(str(exc))} ({service}, {operation})"
