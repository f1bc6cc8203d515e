"""Timestamps from AWS answers: the quick parser returns exactly what botocore's would."""

from __future__ import annotations

import pytest
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from auditor.aws.times import parse_timestamp

SHAPES = [
    "2024-06-01T10:00:00Z",  # IAM, Access Advisor, STS (XML and query protocols)
    "2024-06-01T10:00:00.123Z",
    "2024-06-01T10:00:00.123456Z",
    "2024-06-01T10:00:00.123456789Z",  # more digits than a datetime keeps
    "Thu, 03 Dec 2026 13:00:00 GMT",  # S3's Last-Modified, HTTP dates
    "Mon, 29 Feb 2016 23:59:59 GMT",
    "2024-06-01T12:00:00+02:00",  # an offset: botocore's own parser
    "2024-06-01 10:00:00",
    "2024-06-01",
    "1717236000",
    1717236000,
    1717236000.5,  # JSON protocols' epoch seconds
]


@pytest.mark.parametrize("value", SHAPES)
def test_the_quick_parser_returns_what_botocore_returns(value):
    ours, theirs = parse_timestamp(value), botocore_parse_timestamp(value)
    assert ours == theirs
    assert (ours.tzinfo is None) == (theirs.tzinfo is None)
    assert ours.utcoffset() == theirs.utcoffset()
    assert ours.isoformat() == theirs.isoformat()


@pytest.mark.parametrize(
    "value", ["2024-13-01T10:00:00Z", "Thu, 32 Dec 2026 13:00:00 GMT", "Thu, 03 Foo 2026 13:00:00 GMT", "soon"]
)
def test_what_is_not_a_time_fails_as_botocore_fails(value):
    with pytest.raises(ValueError) as ours:
        parse_timestamp(value)
    with pytest.raises(ValueError) as theirs:
        botocore_parse_timestamp(value)
    assert str(ours.value) == str(theirs.value)
