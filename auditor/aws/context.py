"""Sessions and clients: one retry policy, cross-account roles, one lock around client creation.

Every AWS client the tool makes comes from an ``AwsContext``, so retry
policy, region, endpoint handling (boto3 honours ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` by itself) and role assumption live in one
place, and ``context_from_settings`` is the one way to build it from
config.toml.

boto3 documents that a ``Session`` must not be used from several threads
while clients are created from it; a client, once made, is thread-safe. So
creation (of clients and member-account sessions) is serialised under one
process-wide lock, and clients are then shared freely between threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.session

from auditor.aws import retries
from auditor.aws.times import parse_timestamp
from auditor.config import Settings

# Attempts per call, the first try included (botocore's max_attempts counts retries only;
# total_max_attempts counts the first try too). With a third of requests failing (30%
# throttled, some 5xx), 10 attempts lose about 1 call in 60,000 and 15 about 1 in 13 million;
# the backoff is capped, so the budget costs time only to calls that keep failing.
DEFAULT_TOTAL_ATTEMPTS = 15
# An endpoint that does not answer is known in seconds, not after a retry budget meant for throttling:
# connecting gives up after CONNECT_TIMEOUT, and the first call (who am I) tries FIRST_CONTACT_ATTEMPTS times.
CONNECT_TIMEOUT = 5
FIRST_CONTACT_ATTEMPTS = 2
CANNOT_CONNECT = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)
DEFAULT_MEMBER_ROLE = "AuditorCollector"  # the read-only member role of deploy/member-roles.yaml

# Connections a client keeps open (botocore's default is 10). A fan-out shares one client between its
# threads, so a fan-out runs at most this many threads per client: more would open and drop connections.
DEFAULT_POOL = 32

_CREATING = threading.Lock()  # the one lock: boto3 sessions are not thread-safe while creating
_MODELS = botocore.loaders.create_loader()  # botocore's service models, parsed once per process


def client_config(total_attempts: int = DEFAULT_TOTAL_ATTEMPTS, max_pool: int = DEFAULT_POOL) -> botocore.config.Config:
    """Standard retries up to ``total_attempts`` tries in all (``client`` then drops the shared retry quota).

    Not adaptive mode: its client-side rate limiter keeps cutting the send
    rate under random throttling and a run stalls; standard mode backs off
    each throttled call alone and lets the others go on.
    """
    return botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": total_attempts},
        max_pool_connections=max_pool,
        connect_timeout=CONNECT_TIMEOUT,
        user_agent_extra="auditor",
    )


def new_session(**kwargs) -> boto3.Session:
    """A boto3 session (``boto3.Session``'s arguments) whose clients parse AWS's timestamps with ``parse_timestamp``.

    Sessions share one loader of botocore's service models (``_MODELS``), so a
    model is read and parsed once per process: a worker forked to read the
    trail makes its client from models its parent already parsed (20 ms,
    not 90). Call it under ``_CREATING``: a session is not thread-safe while
    it is made and makes clients.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", _MODELS)
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    return boto3.Session(botocore_session=core, **kwargs)


class EndpointUnreachable(Exception):
    """AWS (or the endpoint AWS_ENDPOINT_URL names) cannot be reached at all: nothing can be read."""


@dataclass
class AwsContext:
    """A boto3 session for the management account plus member-account sessions through the member role."""

    session: boto3.Session
    region: str
    member_role_name: str = DEFAULT_MEMBER_ROLE
    external_id: str | None = None
    total_attempts: int = DEFAULT_TOTAL_ATTEMPTS
    _account_credentials: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _assuming: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _own_account: str | None = field(default=None, repr=False)
    _clients: dict[tuple, Any] = field(default_factory=dict, repr=False)  # (service, region, budget, credentials)
    session_name: str = "auditor-collect"  # how CloudTrail names the auditor's sessions in member accounts
    profile: str | None = None  # the named profile the session was made from (its endpoint and CA settings)

    @classmethod
    def from_environment(cls, region: str | None = None, profile: str | None = None, **kwargs) -> AwsContext:
        with _CREATING:
            session = new_session(profile_name=profile, region_name=region)
        return cls(session=session, region=session.region_name or "us-east-1", profile=profile, **kwargs)

    def client(
        self,
        service: str,
        account_id: str | None = None,
        region: str | None = None,
        attempts: int | None = None,
        *,
        shared: bool = True,
    ):
        """A client in ``account_id`` (None or the caller's own account: no role assumed), with the retry budget.

        Its retries are ``auditor.aws.retries``': jittered backoff, the budget per call
        (``attempts`` may lower it), no quota shared between calls that heavy throttling drains.
        One client is made per service, region, budget and credentials, and shared: clients are
        thread-safe, and botocore builds a class of every operation of the service for each new
        one (about 20 ms of CPU, under a lock every thread making a client waits on), which a
        night paid 79 times for 32 distinct clients (an STS client per role assumed, an IAM
        client per account for IAM and again for Access Advisor). A shared client is used as
        it is: code that hooks a client's events (to count its calls) asks for one of its own
        (``shared=False``), or its hooks would fire for every later user of the client.
        """
        credentials = {} if account_id is None else self.credentials_for(account_id)
        budget = min(attempts or self.total_attempts, self.total_attempts)
        region = region or self.region
        key = (service, region, budget, tuple(sorted(credentials.items())))
        with _CREATING:
            made = self._clients.get(key) if shared else None
            if made is None:
                config = client_config(budget)
                made = retries.install(
                    self.session.client(service, region_name=region, config=config, **credentials), budget
                )
                if shared:
                    self._clients[key] = made
        return made

    def recipe(self, service: str, region: str | None = None, max_pool: int = DEFAULT_POOL) -> ClientRecipe:
        """How another process makes the client ``client(service, region=region)`` makes: no session crosses.

        The credentials are a frozen copy, current now (the session refreshes
        them when they near expiry): ask again for each piece of work.
        """
        with _CREATING:
            credentials = self.session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        return ClientRecipe(
            service=service,
            region=region or self.region,
            total_attempts=self.total_attempts,
            max_pool=max_pool,
            profile=self.profile,
            access_key=frozen.access_key if frozen else None,
            secret_key=frozen.secret_key if frozen else None,
            token=frozen.token if frozen else None,
        )

    @property
    def partition(self) -> str:
        """aws, aws-cn or aws-us-gov, from the region (ARNs differ by partition)."""
        return self.session.get_partition_for_region(self.region)

    def own_account_id(self) -> str:
        with self._lock:
            if self._own_account is None:
                self._own_account = self._first_contact()["Account"]
            return self._own_account

    def _first_contact(self) -> dict:
        """GetCallerIdentity: a few tries when nothing answers, the whole retry budget for anything else."""
        try:
            return self.client("sts", attempts=FIRST_CONTACT_ATTEMPTS).get_caller_identity()
        except CANNOT_CONNECT as exc:
            raise EndpointUnreachable(
                f"cannot reach AWS: {exc} (check the network, AWS_ENDPOINT_URL and the region)"
            ) from exc
        except Exception:  # throttled or dropped: the budget meant for those
            return self.client("sts").get_caller_identity()

    def credentials_for(self, account_id: str) -> dict[str, str]:
        """Client keyword arguments for a member account, through the configured role, assumed once per account.

        The caller's own account (the management or delegated administrator
        account) is used directly (no arguments): the member role does not
        exist there. Other accounts' assumptions are not held up while one is
        in flight. Member clients are made by this context's one session, so
        botocore parses each service model once, not once per account.
        """
        if account_id == self.own_account_id():
            return {}
        with self._lock:
            assuming = self._assuming.setdefault(account_id, threading.Lock())
        with assuming:
            cached = self._account_credentials.get(account_id)
            if cached is None:
                cached = self._account_credentials[account_id] = self._assume(account_id)
            return cached

    def as_role(self, role_name: str) -> AwsContext:
        """A context acting as ``role_name`` everywhere: assumed in the caller's own account, and through it
        in member accounts (the member roles trust only their namesake there, so one role cannot reach another's).
        """
        name = f"auditor-{role_name}"[:64]  # RoleSessionName's limit
        credentials = self._assume(self.own_account_id(), role_name, name)
        with _CREATING:
            session = new_session(region_name=self.region, **credentials)
        return AwsContext(
            session=session,
            region=self.region,
            member_role_name=role_name,
            external_id=self.external_id,
            total_attempts=self.total_attempts,
            _own_account=self.own_account_id(),
            session_name=name,
        )

    def _assume(self, account_id: str, role_name: str | None = None, session_name: str | None = None) -> dict[str, str]:
        """AssumeRole's temporary credentials, as client (or session) keyword arguments."""
        role_arn = f"arn:{self.partition}:iam::{account_id}:role/{role_name or self.member_role_name}"
        params = {"RoleArn": role_arn, "RoleSessionName": session_name or self.session_name}
        if self.external_id:
            params["ExternalId"] = self.external_id
        credentials = self.client("sts").assume_role(**params)["Credentials"]
        return {  # credentials stay in memory only; never logged
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }


@dataclass(frozen=True)
class ClientRecipe:
    """An ``AwsContext`` client described for another process (a reading worker): service, region, retry
    budget, connection pool, and the credentials frozen when it was written. It compares by value, so a
    worker keeps one client while the credentials it is handed stay the same. Never logged: the
    credentials are left out of its repr.
    """

    service: str
    region: str
    total_attempts: int
    max_pool: int
    profile: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def client(self):
        """The client, made by a session of its own: in a worker process, before its threads share it.

        No lock is taken: a forked process holds a copy of the parent's ``_CREATING``, which another
        thread may have held when it forked.
        """
        session = new_session(
            profile_name=self.profile,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.token,
        )
        config = client_config(self.total_attempts, self.max_pool)
        return retries.install(
            session.client(self.service, region_name=self.region, config=config), self.total_attempts
        )


def remediation_context(settings: Settings) -> AwsContext:
    """The context `remediate plan|apply|verify` act through: ``[aws] remediation_role_name`` (it revokes only)."""
    return _acting_as(settings, settings.get("aws", "remediation_role_name"))


def rollback_context(settings: Settings) -> AwsContext:
    """The context only `remediate rollback` acts through: ``[aws] rollback_role_name`` (it re-grants only)."""
    return _acting_as(settings, settings.get("aws", "rollback_role_name"))


def rightsize_context(settings: Settings) -> AwsContext:
    """The context every step of a right-sizing plan acts through: ``[aws] rightsize_role_name`` (it writes policies)."""
    return _acting_as(settings, settings.get("aws", "rightsize_role_name"))


def _acting_as(settings: Settings, role_name: str) -> AwsContext:
    context = context_from_settings(settings)
    return context.as_role(role_name) if role_name else context


def context_from_settings(settings: Settings) -> AwsContext:
    """The context config.toml's [aws] section describes: region, profile, member role, external id, retry budget."""
    aws = settings.section("aws")
    return AwsContext.from_environment(
        region=aws["region"] or None,
        profile=aws["profile"] or None,
        member_role_name=aws["member_role_name"],
        external_id=aws["external_id"] or None,
        total_attempts=aws["max_attempts"],
    )
