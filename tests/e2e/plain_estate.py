"""Estates built with plain boto3 calls against a stock emulator, without any of the sandbox's code.

The sandbox plants its problems with in-process access to the emulator's
backends and fills the calls the emulator lacks. A real estate has neither,
so these builders use only public API calls, as an administrator would, and
write CloudTrail log objects the way CloudTrail delivers them. The emulator
runs in its own process (``python -m moto.server``) so nothing the sandbox
installs in this process can leak into its answers.

Each builder returns the planted problems (rule id, principal name) and the
clean principals, so a test can check both directions.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import boto3

from auditor.collect.hr import REQUIRED_COLUMNS

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
HR_COLUMNS = list(REQUIRED_COLUMNS)  # the feed's contract columns, as the product reads them


@contextmanager
def stock_emulator() -> Iterator[str]:
    """A stock moto server in a child process; yields its endpoint URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the stock emulator did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Estate:
    """What a builder made: where, when, and what a correct audit must say about it."""

    endpoint: str
    as_of: datetime
    hr_feed: Path
    config: Path
    planted: set[tuple[str, str]] = field(default_factory=set)  # (rule id, principal name): a real finding
    undecidable: set[tuple[str, str]] = field(default_factory=set)  # insufficient evidence: the API is missing
    clean: set[str] = field(default_factory=set)  # principal names no finding above info may name

    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


class Admin:
    """Plain boto3 clients for one account of the emulator."""

    def __init__(self, endpoint: str, account_id: str | None = None) -> None:
        self.endpoint = endpoint
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        if account_id is not None:
            sts = session.client("sts", endpoint_url=endpoint)
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="builder"
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=REGION,
            )
        self.session = session

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Trail:
    """CloudTrail as it delivers: one gzip object per account and day, records in a ``Records`` array."""

    def __init__(self, as_of: datetime, days: int, organization_id: str | None) -> None:
        self.as_of = as_of
        self.days = days
        self.organization_id = organization_id
        self.records: dict[tuple[str, str], list[dict]] = {}  # (account, day) -> records

    def add(self, account_id: str, when: datetime, record: dict) -> None:
        record = {
            "eventVersion": "1.09",
            "eventTime": _day(when),
            "awsRegion": REGION,
            "eventID": str(uuid.uuid4()),
            "recipientAccountId": account_id,
            **record,
        }
        self.records.setdefault((account_id, when.strftime("%Y/%m/%d")), []).append(record)

    def heartbeat(self, account_ids: list[str]) -> None:
        """A service's own call every day in every account: the trail delivered the whole window."""
        for offset in range(self.days + 1):
            when = self.as_of - timedelta(days=offset, hours=1)
            for account_id in account_ids:
                self.add(
                    account_id,
                    when,
                    {
                        "eventSource": "config.amazonaws.com",
                        "eventName": "DescribeConfigurationRecorders",
                        "eventType": "AwsApiCall",
                        "userIdentity": {"type": "AWSService", "invokedBy": "config.amazonaws.com"},
                    },
                )

    def deliver(self, s3, bucket: str, prefix: str = "") -> int:
        count = 0
        for (account_id, day), records in sorted(self.records.items()):
            stamp = datetime.strptime(day, "%Y/%m/%d").strftime("%Y%m%dT2355Z")
            folder = f"{prefix.strip('/') + '/' if prefix else ''}AWSLogs/"
            if self.organization_id:
                folder += f"{self.organization_id}/"
            key = (
                f"{folder}{account_id}/CloudTrail/{REGION}/{day}/"
                f"{account_id}_CloudTrail_{REGION}_{stamp}_{uuid.uuid4().hex[:16]}.json.gz"
            )
            body = gzip.compress(json.dumps({"Records": records}).encode())
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            count += 1
        return count


def idc_sign_in(trail: Trail, account_id: str, store_arn: str, user_id: str, when: datetime) -> None:
    """The current sign-in shape: IdentityCenterUser with onBehalfOf.userId (no userName)."""
    trail.add(
        account_id,
        when,
        {
            "eventSource": "signin.amazonaws.com",
            "eventName": "UserAuthentication",
            "eventType": "AwsServiceEvent",
            "userIdentity": {
                "type": "IdentityCenterUser",
                "accountId": account_id,
                "onBehalfOf": {"userId": user_id, "identityStoreArn": store_arn},
                "credentialId": uuid.uuid4().hex,
            },
            "serviceEventDetails": {"UserAuthentication": "Success"},
            "additionalEventData": {"CredentialType": "PASSWORD"},
        },
    )


def idc_sign_in_old_shape(trail: Trail, account_id: str, user_name: str, when: datetime) -> None:
    """The shape before July 2025: type Unknown with the user name."""
    trail.add(
        account_id,
        when,
        {
            "eventSource": "sso.amazonaws.com",
            "eventName": "Authenticate",
            "eventType": "AwsServiceEvent",
            "userIdentity": {
                "type": "Unknown",
                "principalId": account_id,
                "accountId": account_id,
                "userName": user_name,
            },
            "serviceEventDetails": {"Authenticate": "Success"},
        },
    )


def role_session(trail: Trail, account_id: str, permission_set: str, user_name: str, when: datetime) -> None:
    """A call made in a member account through a permission set's reserved role."""
    role = f"AWSReservedSSO_{permission_set}_0123456789abcdef"
    trail.add(
        account_id,
        when,
        {
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances",
            "eventType": "AwsApiCall",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": f"AROAEXAMPLE:{user_name}",
                "arn": f"arn:aws:sts::{account_id}:assumed-role/{role}/{user_name}",
                "accountId": account_id,
                "accessKeyId": "ASIAEXAMPLE",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": "AROAEXAMPLE",
                        "arn": f"arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{role}",
                        "accountId": account_id,
                        "userName": role,
                    }
                },
            },
        },
    )


def key_use(trail: Trail, account_id: str, user: dict, key_id: str, when: datetime) -> None:
    trail.add(
        account_id,
        when,
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListBuckets",
            "eventType": "AwsApiCall",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": user["UserId"],
                "arn": user["Arn"],
                "accountId": account_id,
                "accessKeyId": key_id,
                "userName": user["UserName"],
            },
        },
    )


def write_hr(path: Path, rows: list[dict]) -> Path:
    columns = HR_COLUMNS + sorted({key for row in rows for key in row} - set(HR_COLUMNS))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})
    return path


def person(user_name: str, department: str, **overrides: str) -> dict:
    row = {
        "employee_id": f"E-{user_name}",
        "email": f"{user_name}@acme.example",
        "user_name": user_name,
        "display_name": user_name.replace(".", " ").title(),
        "department": department,
        "title": "Engineer",
        "manager_email": "head@acme.example",
        "status": "active",
        "employment_type": "employee",
        "start_date": "2023-01-09",
        "end_date": "",
    }
    row.update(overrides)
    return row
