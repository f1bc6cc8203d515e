"""Benchmark the CloudTrail decode/reduce path on local gzip log objects.

Generates CloudTrail-shaped log objects (``{"Records": [...]}``, gzip) in a
temporary directory, then times, on the same bytes:

  gzip -dc          the command itself, on one core, where it is installed: the issue's reference
  gunzip, zlib      decompression alone on one core with zlib, streamed in the product's steps as
                    ``gzip -dc`` streams (constant memory): the floor. Inflating each object whole into new memory
                    would time the kernel mapping 28 MB a time as much as zlib (about half of it on a VM)
  gunzip            the product's decompression (ISA-L, into memory kept from object to object)
  gunzip+decode     plus the reader's lean decoding (typed, partial, nested parts left raw)
  reduce, 1 thread  plus attribution, aggregation, actions called and access changes (the per-object
                    work of the reader's workers), on one core
  read_objects      the collector's reader (``auditor.collect.cloudtrail_pool``): one process per core,
                    each fetching (from the local files) on threads of its own, decoding and reducing
                    a batch of objects into one reducer; merged here, a batch at a time

and prints each as a ratio to the zlib floor and to ``gzip -dc``, with the CPU
time of this process and its workers for the last row. S3 is left out on purpose: moto
serves objects too slowly to measure the reader (``bench/scale.py`` times
the fetch path on the sandbox).

    python bench/cloudtrail_reader.py [OBJECTS] [RECORDS_PER_OBJECT] [--processes N] [--seed N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import resource
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_pool import cores, read_objects, reduce_object
from auditor.collect.cloudtrail_records import INFLATE_STEP, InflateBuffer, gunzip, read_log
from auditor.collect.cloudtrail_reduce import ActivityReducer
from auditor.collect.cloudtrail_s3 import LogObject

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


def _reduce_one(data: bytes, buffer: InflateBuffer) -> ActivityReducer:
    """One object's work as the reader's workers do it: activity, actions called and access changes."""
    reducer = ActivityReducer(usage=UsageReducer())
    reduce_object(data, reducer, buffer)
    return reducer


@dataclass(frozen=True)
class LocalFiles:
    """The reader's recipe for a client that serves the generated files as ``get_object`` serves objects."""

    directory: str

    def client(self) -> LocalFiles:
        return self

    def get_object(self, Bucket: str, Key: str) -> dict:  # noqa: N803 (boto3's parameter names)
        return {"Body": io.BytesIO((Path(self.directory) / Key).read_bytes())}


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the reader's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("objects", nargs="?", type=int, default=20)
    parser.add_argument("records", nargs="?", type=int, default=20_000, help="records per object")
    parser.add_argument("--processes", type=int, default=cores(), help="decoding processes (default: one per core)")
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
            f"(generated in {time.perf_counter() - began:.1f} s); {cores()} cores"
        )
        floor = gzip_dc = 0.0
        print(f"{'':<32} {'wall':>9} {'CPU':>9} {'records/s':>12} {'/ zlib':>7} {'/ gzip -dc':>10}")

        def timed(label: str, work) -> float:
            elapsed, cpu = float("inf"), float("inf")
            for _ in range(2):  # best of two: the first pass over fresh memory pays page faults
                began, used = time.perf_counter(), cpu_seconds()
                work()
                elapsed, cpu = min(elapsed, time.perf_counter() - began), min(cpu, cpu_seconds() - used)
            ratios = "".join(f" {elapsed / base:9.2f}x" if base else f" {'':>10}" for base in (floor, gzip_dc))
            print(f"{label:<32} {elapsed:7.2f} s {cpu:7.2f} s {total / elapsed:>12,.0f}{ratios}")
            return elapsed

        def zlib_all() -> None:
            for blob in blobs:  # pieces are dropped at once, as gzip -dc writes them out
                inflater, view = zlib.decompressobj(31), memoryview(blob)
                for at in range(0, len(blob), INFLATE_STEP):
                    inflater.decompress(view[at : at + INFLATE_STEP])

        def gzip_command() -> None:
            subprocess.run(["gzip", "-dc", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)

        buffer = InflateBuffer()  # a worker inflates into memory it keeps

        def gunzip_all() -> None:
            for blob in blobs:
                buffer.inflate(blob)

        def decode_all() -> None:
            for blob in blobs:
                read_log(blob, buffer)  # the reader's decode: records lean, their parts raw

        if shutil.which("gzip"):
            gzip_dc = timed("gzip -dc (1 core)", gzip_command)
        else:
            print("gzip -dc: not installed here")
        floor = timed("gunzip, zlib (1 core): floor", zlib_all)
        timed("gunzip (product)", gunzip_all)
        timed("gunzip+decode", decode_all)
        merged = ActivityReducer(usage=UsageReducer())

        def sequential() -> None:
            nonlocal merged
            merged = ActivityReducer(usage=UsageReducer())
            for blob in blobs:
                merged.merge(_reduce_one(blob, buffer))

        timed("reduce (1 thread)", sequential)
        bucket = LocalFiles(tmp)
        objects = [
            LogObject(key=path.name, region="eu-west-1", delivered=datetime(2024, 6, 1, tzinfo=UTC), size=len(blob))
            for path, blob in zip(paths, blobs, strict=True)
        ]
        pooled = ActivityReducer(usage=UsageReducer())

        def reader() -> None:
            nonlocal pooled
            pooled = ActivityReducer(usage=UsageReducer())
            for _ in read_objects(bucket, "local", objects, pooled, processes=args.processes, recipe=lambda _: bucket):
                pass

        timed(f"read_objects ({args.processes} processes)", reader)
        same = pooled.activities() == merged.activities() and pooled.usage.uses() == merged.usage.uses()
        print(
            f"{len(merged.activities()):,} activity records, {len(merged.usage.uses()):,} actions called; "
            f"the reader's equal one thread's: {same}"
        )
        if not same:
            raise SystemExit("the reader's aggregates differ from the sequential reduce")


if __name__ == "__main__":
    main()
