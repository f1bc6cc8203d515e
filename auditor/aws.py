"""Sessions and clients: adaptive retries, cross-account roles, error text.

Every collector gets its clients from an ``AwsContext`` so that retry
policy, region, endpoint handling (boto3 honours ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` by itself) and role assumption live in one
place.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import boto3
import botocore.config
import botocore.exceptions

# botocore's max_attempts counts retries only; total_max_attempts counts the
# first try too. With 30% of calls throttled, 3 attempts still lost calls and
# 10 lost none (measured), so 10 is the default.
DEFAULT_TOTAL_ATTEMPTS = 10

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def client_config(total_attempts: int = DEFAULT_TOTAL_ATTEMPTS, max_pool: int = 32) -> botocore.config.Config:
    return botocore.config.Config(
        retries={"mode": "adaptive", "total_max_attempts": total_attempts},
        max_pool_connections=max_pool,
        user_agent_extra="auditor",
    )


@dataclass
class AwsContext:
    """A boto3 session for the management account plus member-account sessions."""

    session: boto3.Session
    region: str
    member_role_name: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    total_attempts: int = DEFAULT_TOTAL_ATTEMPTS
    _account_sessions: dict[str, boto3.Session] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _client_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _own_account: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, region: str | None = None, profile: str | None = None, **kwargs) -> AwsContext:
        session = boto3.Session(profile_name=profile, region_name=region)
        return cls(session=session, region=session.region_name or "us-east-1", **kwargs)

    def client(self, service: str, account_id: str | None = None, region: str | None = None):
        """A client in ``account_id`` (None or the caller's own account: no role assumed).

        boto3 sessions are not safe to create clients from concurrently (a
        client, once made, is), so creation is serialised here for every caller.
        """
        session = self.session if account_id is None else self.session_for(account_id)
        with self._client_lock:
            return session.client(service, region_name=region or self.region, config=client_config(self.total_attempts))

    @property
    def partition(self) -> str:
        """aws, aws-cn or aws-us-gov, from the region (ARNs differ by partition)."""
        return self.session.get_partition_for_region(self.region)

    def own_account_id(self) -> str:
        with self._lock:
            if self._own_account is None:
                self._own_account = self.client("sts").get_caller_identity()["Account"]
            return self._own_account

    def session_for(self, account_id: str) -> boto3.Session:
        """A session in a member account, through the configured role.

        The caller's own account (the management or delegated administrator
        account) is used directly: the member role does not exist there.
        """
        if account_id == self.own_account_id():
            return self.session
        with self._lock:
            cached = self._account_sessions.get(account_id)
        if cached is not None:
            return cached
        role_arn = f"arn:{self.partition}:iam::{account_id}:role/{self.member_role_name}"
        params = {"RoleArn": role_arn, "RoleSessionName": "auditor-collect"}
        if self.external_id:
            params["ExternalId"] = self.external_id
        credentials = self.client("sts").assume_role(**params)["Credentials"]
        session = boto3.Session(  # credentials stay in memory only; never logged
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )
        with self._lock:
            self._account_sessions[account_id] = session
        return session


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "ClientError")
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether retrying later could succeed (throttling, 5xx, network)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in TRANSIENT_CODES or status >= 500
    return isinstance(
        exc,
        (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectionClosedError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectTimeoutError,
        ),
    )


MESSAGE_LIMIT = 300


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
