"""Deliver CloudTrail records the way the organisation trail does.

CloudTrail, not the administrator, writes log objects, so they are put into
the bucket in-process, as the service would, at the organisation-trail key
layout with a delivery time a few minutes after their last event (also
their LastModified, which no API can set). Records inside an object are in
no particular order. One digest object sits beside them, as log file
validation writes them. The same records feed Access Advisor
(``fills.iam.record_access``).
"""

from __future__ import annotations

import gzip
import json
import random
import string
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from moto.s3.models import s3_backends

from auditor.sandbox.build import TRAIL_NAME, Built
from auditor.sandbox.fills import iam
from auditor.sandbox.plan import World

# Records of one account, region and window go into one object. CloudTrail delivers about every five
# minutes where there are events; the sandbox's default window is wider, to keep its build and the demo
# quick, and ``start_sandbox(delivery_minutes=5)`` lays the trail out as an estate's is.
DELIVERY_MINUTES = 8 * 60


def _time(record: dict) -> datetime:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def object_key(organization_id: str, account_id: str, region: str, delivered: datetime, unique: str) -> str:
    stamp = delivered.strftime("%Y%m%dT%H%MZ")
    return (
        f"AWSLogs/{organization_id}/{account_id}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
        f"{account_id}_CloudTrail_{region}_{stamp}_{unique}.json.gz"
    )


def digest_key(organization_id: str, account_id: str, region: str, delivered: datetime) -> str:
    stamp = delivered.strftime("%Y%m%dT%H%M%SZ")
    return (
        f"AWSLogs/{organization_id}/{account_id}/CloudTrail-Digest/{region}/{delivered:%Y/%m/%d}/"
        f"{account_id}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{stamp}.json.gz"
    )


def _delivery(last_event: datetime, rng: random.Random) -> datetime:
    """A few minutes after the last event, on a five-minute mark (CloudTrail delivers about every 5 minutes)."""
    moment = last_event + timedelta(minutes=rng.randrange(3, 12))
    return moment.replace(second=0) + timedelta(minutes=(-moment.minute) % 5)


def deliver(world: World, built: Built, records: dict[str, list[dict]], minutes: int = DELIVERY_MINUTES) -> int:
    """Write every account's records as log objects, one per ``minutes`` window; returns how many were written."""
    rng = random.Random(f"auditor-sandbox-trail:{world.size}:{world.seed}")
    backend = s3_backends[built.management_id]["aws"]
    batches: dict[tuple[str, str, datetime], list[dict]] = defaultdict(list)
    for account_id in sorted(records):
        for record in records[account_id]:
            moment = _time(record)
            since_midnight = moment.hour * 60 + moment.minute
            window = moment.replace(hour=0, minute=0, second=0) + timedelta(
                minutes=since_midnight - since_midnight % minutes
            )
            batches[(account_id, record["awsRegion"], window)].append(record)
    written = 0
    for (account_id, region, _window), batch in sorted(batches.items()):
        delivered = min(_delivery(max(_time(r) for r in batch), rng), world.as_of)
        rng.shuffle(batch)
        unique = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))
        key = object_key(built.organization_id, account_id, region, delivered, unique)
        body = gzip.compress(json.dumps({"Records": batch}, separators=(",", ":")).encode(), mtime=0)
        stored = backend.put_object(built.trail_bucket, key, body)
        stored.last_modified = (delivered + timedelta(seconds=rng.randrange(5, 50))).replace(tzinfo=None)
        written += 1
    _digest(world, built, backend, rng)
    for account_id, account_records in records.items():
        iam.record_access(account_id, account_records)
    return written


def _digest(world: World, built: Built, backend: object, rng: random.Random) -> None:
    """One hourly digest file of the management account, as log file validation writes them."""
    end = world.as_of.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=1)
    digest = {
        "awsAccountId": built.management_id,
        "digestStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "digestEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "digestS3Bucket": built.trail_bucket,
        "digestS3Object": digest_key(built.organization_id, built.management_id, world.region, end),
        "digestPublicKeyFingerprint": f"{rng.getrandbits(128):032x}",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "oldestEventTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "previousDigestS3Bucket": built.trail_bucket,
        "previousDigestHashValue": f"{rng.getrandbits(256):064x}",
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": f"{rng.getrandbits(512):0128x}",
        "logFiles": [],
    }
    body = gzip.compress(json.dumps(digest).encode(), mtime=0)
    stored = backend.put_object(built.trail_bucket, digest["digestS3Object"], body)  # type: ignore[attr-defined]
    stored.last_modified = end.replace(tzinfo=None)
