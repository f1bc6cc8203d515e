"""Benchmark the CloudTrail decode/reduce path on local gzip log objects.

Generates CloudTrail-shaped log objects (``{"Records": [...]}``, gzip) in a
temporary directory, then times, on the same bytes:

  gunzip            decompression alone: the floor
  gunzip+decode     plus typed partial decoding
  reduce            plus attribution and aggregation (the collector's per-object work)
  reduce, threads   the same on a thread pool, merged as the collector merges

S3 is left out on purpose: moto serves objects too slowly to measure the
reader, so the fetch path is exercised by the tests instead.

    python bench/cloudtrail_reader.py [OBJECTS] [RECORDS_PER_OBJECT] [--workers N] [--seed N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.collect.cloudtrail_records import decode_log, gunzip, read_log
from auditor.collect.cloudtrail_reduce import ActivityReducer

ACCOUNTS = [f"{n:012d}" for n in range(111111111111, 111111111111 + 12 * 111111111, 111111111)]
SERVICES = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("kms.amazonaws.com", "Decrypt"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("lambda.amazonaws.com", "Invoke"),
    ("dynamodb.amazonaws.com", "DescribeTable"),
    ("logs.amazonaws.com", "PutLogEvents"),
    ("iam.amazonaws.com", "GetRole"),
]
PERMISSION_SETS = ["AdministratorAccess", "ReadOnly", "developer_admin", "Billing"]


def _identity(rng: random.Random, account: str) -> tuple[dict, str]:
    """A userIdentity and its eventSource override (None keeps the service's)."""
    roll = rng.random()
    if roll < 0.55:
        role = f"app-role-{rng.randrange(40)}"
        return {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.randrange(10**12):012d}:session-{rng.randrange(100)}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session-{rng.randrange(100)}",
            "accountId": account,
            "accessKeyId": f"ASIA{rng.randrange(10**16):016d}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rng.randrange(10**12):012d}",
                    "arn": f"arn:aws:iam::{account}:role/service-role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2024-06-01T10:00:00Z", "mfaAuthenticated": "false"},
            },
        }, ""
    if roll < 0.75:
        user = f"user{rng.randrange(300)}@example.com"
        ps = rng.choice(PERMISSION_SETS)
        role = f"AWSReservedSSO_{ps}_{rng.randrange(16**16):016x}"
        identity = {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.randrange(10**12):012d}:{user}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{user}",
            "accountId": account,
            "accessKeyId": f"ASIA{rng.randrange(10**16):016d}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rng.randrange(10**12):012d}",
                    "arn": f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {"creationDate": "2024-06-01T10:00:00Z", "mfaAuthenticated": "false"},
            },
        }
        if rng.random() < 0.5:
            identity["onBehalfOf"] = {
                "userId": f"9067{rng.randrange(10**8):08d}-user",
                "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890",
            }
        return identity, ""
    if roll < 0.92:
        user = f"svc-user-{rng.randrange(60)}"
        return {
            "type": "IAMUser",
            "principalId": f"AIDA{rng.randrange(10**12):012d}",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": f"AKIA{rng.randrange(10**16):016d}",
            "userName": user,
        }, ""
    if roll < 0.97:
        return {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}, ""
    if roll < 0.99:
        return {
            "type": "IdentityCenterUser",
            "accountId": account,
            "onBehalfOf": {
                "userId": f"9067{rng.randrange(10**8):08d}-user",
                "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890",
            },
            "credentialId": f"{rng.randrange(10**20):020d}",
        }, "sso.amazonaws.com"
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}, ""


def identity_pool(rng: random.Random, size: int = 600) -> list[tuple[str, dict, str]]:
    """A fixed population of principals: an estate has hundreds, not one per event."""
    pool = []
    for _ in range(size):
        account = rng.choice(ACCOUNTS)
        identity, source = _identity(rng, account)
        pool.append((account, identity, source))
    return pool


def _record(rng: random.Random, when: datetime, pool: list[tuple[str, dict, str]]) -> dict:
    account, identity, source = rng.choice(pool)
    service, name = rng.choice(SERVICES)
    if source:
        service, name = source, rng.choice(["ListAccounts", "GetRoleCredentials", "ListAccountRoles"])
    record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": service,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": f"203.0.113.{rng.randrange(256)}",
        "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0",
        "requestParameters": {
            "bucketName": f"bucket-{rng.randrange(50)}",
            "key": f"prefix/{rng.randrange(10**6)}/object.parquet",
            "maxResults": 1000,
        },
        "responseElements": None,
        "requestID": f"{rng.randrange(16**32):032x}",
        "eventID": f"{rng.randrange(16**32):032x}",
        "readOnly": True,
        "resources": [
            {"accountId": account, "type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::bucket/{rng.randrange(10**9)}"}
        ],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com",
        },
    }
    if source and name == "GetRoleCredentials":
        record["serviceEventDetails"] = {"role_name": rng.choice(PERMISSION_SETS), "account_id": rng.choice(ACCOUNTS)}
    if rng.random() < 0.03:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "User is not authorized to perform this operation"
    return record


def generate(directory: Path, objects: int, records: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    pool = identity_pool(rng)
    start = datetime(2024, 6, 1, tzinfo=UTC)
    paths = []
    for index in range(objects):
        base = start + timedelta(minutes=5 * index)
        batch = [_record(rng, base + timedelta(seconds=rng.randrange(300)), pool) for _ in range(records)]
        rng.shuffle(batch)  # CloudTrail does not sort records
        path = directory / f"{ACCOUNTS[0]}_CloudTrail_eu-west-1_{base:%Y%m%dT%H%MZ}_{index:08d}.json.gz"
        path.write_bytes(gzip.compress(json.dumps({"Records": batch}).encode(), compresslevel=6))
        paths.append(path)
    return paths


def _reduce_one(data: bytes) -> ActivityReducer:
    records, _ = read_log(data)
    reducer = ActivityReducer()
    reducer.add(records)
    return reducer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("objects", nargs="?", type=int, default=20)
    parser.add_argument("records", nargs="?", type=int, default=20_000, help="records per object")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cloudtrail-bench-") as tmp:
        began = time.perf_counter()
        paths = generate(Path(tmp), args.objects, args.records, args.seed)
        blobs = [path.read_bytes() for path in paths]
        total = args.objects * args.records
        inflated = sum(len(gunzip(blob)) for blob in blobs)
        print(
            f"{args.objects} objects x {args.records} records = {total:,} records; "
            f"{sum(map(len, blobs)) / 1e6:.1f} MB gzip, {inflated / 1e6:.1f} MB JSON "
            f"(generated in {time.perf_counter() - began:.1f} s)"
        )

        def timed(label: str, work) -> float:
            elapsed = float("inf")
            for _ in range(2):  # best of two: the first pass over fresh memory pays page faults
                began = time.perf_counter()
                work()
                elapsed = min(elapsed, time.perf_counter() - began)
            print(f"{label:<28} {elapsed:7.2f} s  {total / elapsed:>12,.0f} records/s")
            return elapsed

        def gunzip_all() -> None:
            for blob in blobs:  # results are dropped at once, as the collector drops them
                gunzip(blob)

        def decode_all() -> None:
            for blob in blobs:
                decode_log(gunzip(blob))

        floor = timed("gunzip", gunzip_all)
        decode = timed("gunzip+decode", decode_all)
        merged = ActivityReducer()

        def sequential() -> None:
            nonlocal merged
            merged = ActivityReducer()
            for blob in blobs:
                merged.merge(_reduce_one(blob))

        reduce = timed("reduce (1 thread)", sequential)

        def threaded() -> None:
            combined = ActivityReducer()
            with ThreadPoolExecutor(max_workers=args.workers) as pool:
                for reducer in pool.map(_reduce_one, blobs):
                    combined.merge(reducer)

        parallel = timed(f"reduce ({args.workers} threads)", threaded)
        print(
            f"relative to gunzip: decode {decode / floor:.2f}x, reduce {reduce / floor:.2f}x, "
            f"threaded {parallel / floor:.2f}x; {len(merged.activities()):,} activity records"
        )


if __name__ == "__main__":
    main()
