"""Times from AWS answers: parsed quickly, and as timezone-aware UTC.

botocore parses every timestamp of every answer with dateutil's general
parser: about 0.1 ms of CPU per S3 GetObject (its Last-Modified header) and
more for IAM and Access Advisor pages, which carry a date per entity or
service. AWS writes two text shapes, ISO 8601 in UTC and HTTP dates, which
``parse_timestamp`` reads directly into the very values botocore's parser
returns; anything else (epoch numbers, offsets, surprises) goes to
botocore's own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from botocore.utils import parse_timestamp as botocore_parse_timestamp
from dateutil.tz import tzutc

_TZUTC = tzutc()  # the zone botocore's parser gives UTC times
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")  # 2024-06-01T10:00:00.123Z
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")  # Thu, 03 Dec 2026 13:00:00 GMT


def parse_timestamp(value: object) -> datetime:
    """What ``botocore.utils.parse_timestamp`` returns for ``value``, without dateutil for AWS's usual shapes."""
    try:
        if type(value) is str:
            if _ISO_UTC.fullmatch(value):
                return datetime.fromisoformat(value[:-1]).replace(tzinfo=_TZUTC)
            if _HTTP_DATE.fullmatch(value) and value[8:11] in _MONTHS:
                day, month, year = int(value[5:7]), _MONTHS[value[8:11]], int(value[12:16])
                hour, minute, second = int(value[17:19]), int(value[20:22]), int(value[23:25])
                return datetime(year, month, day, hour, minute, second, tzinfo=_TZUTC)
    except ValueError:  # a day or month out of range: botocore's parser says so in its words
        pass
    return botocore_parse_timestamp(value)


def utc(value: datetime | None) -> datetime | None:
    """botocore parses timestamps in the local zone; snapshots and journals want UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
