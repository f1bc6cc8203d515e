"""Helpers for the sandbox tests: clients as the product makes them, the trail, a fingerprint.

Run as a module (``python -m tests.sandbox.support SIZE SEED AS_OF WORKDIR [stock]``)
it builds a sandbox in a fresh process and prints its fingerprint as JSON.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.validate import ParamValidator

from auditor.sandbox import Sandbox, start_sandbox


class Aws:
    """boto3 clients with the sandbox's environment; member accounts through OrganizationAccountAccessRole."""

    def __init__(self, sandbox: Sandbox) -> None:
        env = sandbox.env()
        self.sandbox = sandbox
        self.session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        self.endpoint = env["AWS_ENDPOINT_URL"]
        self._members: dict[str, boto3.Session] = {}

    def client(
        self, service: str, account_id: str | None = None, region: str | None = None, *, shared: bool = True
    ) -> Any:
        """A new client each time (``shared`` is accepted as ``AwsContext.client`` accepts it)."""
        session = self.session
        if account_id not in (None, self.sandbox.management_account_id):
            if account_id not in self._members:
                credentials = self.client("sts").assume_role(
                    RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                    RoleSessionName="sandbox-test",
                )["Credentials"]
                self._members[account_id] = boto3.Session(
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"],
                )
            session = self._members[account_id]
        return session.client(service, endpoint_url=self.endpoint, region_name=region or self.sandbox.region)

    def paginate(self, client: Any, operation: str, key: str, **params: Any) -> list:
        return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def trail_objects(aws: Aws) -> dict[str, bytes]:
    s3 = aws.client("s3")
    keys = aws.paginate(s3, "list_objects_v2", "Contents", Bucket=aws.sandbox.trail_bucket)
    return {
        item["Key"]: s3.get_object(Bucket=aws.sandbox.trail_bucket, Key=item["Key"])["Body"].read() for item in keys
    }


def decode(body: bytes) -> list[dict]:
    return json.loads(gzip.decompress(body))["Records"]


def fingerprint(sandbox: Sandbox) -> dict[str, Any]:
    """What must not change between two builds of the same (size, seed, as-of)."""
    aws = Aws(sandbox)
    accounts = sorted(
        (a["Id"], a["Name"]) for a in aws.paginate(aws.client("organizations"), "list_accounts", "Accounts")
    )
    sso, store = aws.client("sso-admin"), aws.client("identitystore")
    instance = sso.list_instances()["Instances"][0]
    users = sorted(
        (u["UserName"], u["UserId"])
        for u in aws.paginate(store, "list_users", "Users", IdentityStoreId=instance["IdentityStoreId"])
    )
    permission_sets = sorted(
        aws.paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=instance["InstanceArn"])
    )
    keys = []
    for account_id, _ in accounts:
        iam = aws.client("iam", account_id)
        for user in aws.paginate(iam, "list_users", "Users"):
            for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                keys.append((account_id, user["UserName"], key["AccessKeyId"], key["CreateDate"].isoformat()))
    s3 = aws.client("s3")
    objects = [o["Key"] for o in aws.paginate(s3, "list_objects_v2", "Contents", Bucket=sandbox.trail_bucket)]
    return json.loads(
        json.dumps(
            {
                "organization": sandbox.organization_id,
                "accounts": accounts,
                "users": users,
                "permission_sets": permission_sets,
                "keys": sorted(keys),
                "objects": objects,
                "planted": [asdict(p) for p in sandbox.planted],
                "clean": sandbox.clean,
                "hr": sandbox.hr_feed.read_text(),
            }
        )
    )


def served(sandbox: Sandbox) -> dict[str, bool]:
    """How the estate is served: ListUsers with each user's status (AWS, not stock moto); planted.json's mode."""
    aws = Aws(sandbox)
    users = aws.paginate(aws.client("identitystore"), "list_users", "Users", IdentityStoreId=sandbox.identity_store_id)
    return {
        "user_status": bool(users) and all("UserStatus" in user for user in users),
        "planted_stock": json.loads(Path(sandbox.planted_file).read_text())["stock"],
    }


def main(size: str, seed: str, as_of: str, workdir: str, mode: str = "filled") -> None:
    started = time.perf_counter()
    with start_sandbox(
        size=size, seed=int(seed), as_of=datetime.fromisoformat(as_of), workdir=Path(workdir), stock=mode == "stock"
    ) as box:
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "fingerprint": fingerprint(box), "served": served(box)}))


if __name__ == "__main__":
    main(*sys.argv[1:])


def conforms(client: Any, operation: str, response: dict) -> dict:
    """The response holds only members of the operation's output shape, with the right types."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()
    return body


def error_code(excinfo: Any) -> str:
    return excinfo.value.response["Error"]["Code"]
