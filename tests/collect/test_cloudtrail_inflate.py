"""Inflating log objects: gzip members, padding and damage, in one shot or into reused memory."""

from __future__ import annotations

import gzip
import json
import random

import pytest

from auditor.collect import cloudtrail_records
from auditor.collect.cloudtrail_records import (
    INFLATE_STEP,
    InflateBuffer,
    LogDecodeError,
    gunzip,
    read_log,
)


def log_file(records: int, seed: int = 1) -> bytes:
    """A CloudTrail-shaped log body of ``records`` records, varied enough not to compress to nothing."""
    rng = random.Random(seed)
    batch = [
        {
            "eventTime": f"2024-06-01T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "recipientAccountId": "111111111111",
            "userIdentity": {
                "type": "IAMUser",
                "arn": f"arn:aws:iam::111111111111:user/u{rng.randrange(50)}",
                "accountId": "111111111111",
                "userName": f"u{rng.randrange(50)}",
            },
            "resources": [{"ARN": f"arn:aws:s3:::bucket/{rng.randrange(10**9)}"}],
            "requestID": f"{rng.randrange(16**32):032x}",
        }
        for _ in range(records)
    ]
    return json.dumps({"Records": batch}).encode()


BIG = log_file(20_000)  # inflates from many steps
SMALL = log_file(3, seed=2)


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(BIG),
        gzip.compress(SMALL),
        gzip.compress(SMALL[:40]) + gzip.compress(SMALL[40:]),  # members in a row, as concatenated uploads write
        gzip.compress(SMALL[:40]) + b"\x00" * 300 + gzip.compress(SMALL[40:]) + b"\x00" * 7,  # zero padding
        SMALL,  # already inflated
    ],
    ids=["many-steps", "one-step", "two-members", "padded", "plain"],
)
def test_a_buffer_inflates_what_gunzip_inflates(body):
    assert len(gzip.compress(BIG)) > 2 * INFLATE_STEP
    inflated = gzip.decompress(body) if body.startswith(b"\x1f\x8b") else body
    assert gunzip(body) == inflated
    assert bytes(InflateBuffer().inflate(body)) == inflated
    assert read_log(body, InflateBuffer()) == read_log(body)


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(BIG)[: 3 * INFLATE_STEP],  # cut off after some steps
        gzip.compress(SMALL)[:-3],  # cut in the trailer
        gzip.compress(SMALL) + b"trailing",
        gzip.compress(SMALL)[:30] + b"\xff" * 40 + gzip.compress(SMALL)[70:],  # damaged deflate stream
        b"\x1f\x8b\x08\x00garbage",
        b"plain text",
    ],
    ids=["truncated-stream", "truncated-trailer", "trailing-bytes", "damaged", "bad-header", "not-gzip"],
)
def test_a_damaged_object_is_a_decode_error_either_way(body):
    with pytest.raises(LogDecodeError):
        gunzip(body)
    with pytest.raises(LogDecodeError):
        InflateBuffer().inflate(body)


def test_one_buffer_reads_objects_of_any_size_in_turn():
    buffer = InflateBuffer()
    bodies = [BIG, SMALL, log_file(5_000, seed=3), BIG, SMALL]
    for body in bodies:
        assert read_log(gzip.compress(body), buffer) == read_log(body)


def test_records_still_held_keep_their_bytes_when_the_buffer_inflates_the_next_object():
    buffer = InflateBuffer()
    held, _ = read_log(gzip.compress(BIG), buffer)  # their raw parts are views of the buffer's memory
    identities = [bytes(record.userIdentity) for record in held]
    other = log_file(30_000, seed=9)  # larger: the memory would have to grow under the views
    assert read_log(gzip.compress(other), buffer) == read_log(other)
    assert read_log(gzip.compress(SMALL), buffer) == read_log(SMALL)  # smaller: would overwrite in place
    assert [bytes(record.userIdentity) for record in held] == identities


def test_memory_grown_by_an_outsized_object_is_let_go_at_the_next_one(monkeypatch):
    """A worker keeps the memory of ordinary objects, not of one outsized object for the rest of the night."""
    monkeypatch.setattr(cloudtrail_records, "INFLATE_KEEP", len(BIG) // 2)
    buffer = InflateBuffer()
    buffer.inflate(gzip.compress(BIG))
    kept = buffer._memory
    assert len(kept) >= len(BIG)
    assert bytes(buffer.inflate(gzip.compress(SMALL))) == SMALL
    assert buffer._memory is not kept and len(buffer._memory) < len(BIG) // 2
