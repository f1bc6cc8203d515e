"""Where a trail's log objects sit in its S3 bucket, and listing them.

Keys follow ``[<prefix>/]AWSLogs/[<o-id>/]<acct>/CloudTrail/<region>/YYYY/MM/DD/
<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz``: the ``<o-id>/``
level exists for organisation trails, and a bucket that once held an account
trail can hold both layouts. Digest (``CloudTrail-Digest/``) and Insights
(``CloudTrail-Insight/``) objects, and anything that is not ``.json.gz``, are
not activity logs and are skipped.

Listing costs one call per account and layout to find its regions, then one
paginated ListObjectsV2 per region that starts at the window's first day
(``StartAfter``) and stops after its last: the date path is UTC and events
near midnight can sit in the next day's folder, so callers widen the days.
A nightly read that remembers what it read starts a region's listing later,
just before the last object it read there (``resume_key``), so it lists
only the new days.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import botocore.exceptions

from auditor.aws import describe_error, pages

_LOG_KEY = re.compile(r"/CloudTrail/([^/]+)/(\d{4})/(\d\d)/(\d\d)/([^/]+\.json\.gz)$")
_STAMP = re.compile(r"_(\d{8})T(\d{4})Z_")
_ACCOUNT = re.compile(r"\d{12}")
_ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")
_REGION_PREFIX = re.compile(r"^(.*/CloudTrail/[^/]+/)\d{4}/\d\d/\d\d/[^/]+$")


@dataclass(frozen=True)
class LogObject:
    key: str
    region: str
    delivered: datetime  # from the file name; the day folder's midnight when the name has no time
    size: int = 0


def logs_root(prefix: str | None) -> str:
    """``<prefix>/AWSLogs/``, or ``AWSLogs/`` when the trail has no prefix."""
    cleaned = (prefix or "").strip("/")
    return f"{cleaned}/AWSLogs/" if cleaned else "AWSLogs/"


def parse_log_key(key: str, size: int = 0) -> LogObject | None:
    """A CloudTrail log file's key, or None for digests, Insights and anything else."""
    if "/CloudTrail-Digest/" in key or "/CloudTrail-Insight/" in key:
        return None
    match = _LOG_KEY.search(key)
    if match is None:
        return None
    region, year, month, day, name = match.groups()
    try:
        delivered = datetime(int(year), int(month), int(day), tzinfo=UTC)
    except ValueError:
        return None
    stamp = _STAMP.search(name)
    if stamp:
        ymd, hm = stamp.groups()
        with contextlib.suppress(ValueError):  # an impossible time keeps the day folder's
            delivered = datetime(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]), int(hm[:2]), int(hm[2:]), tzinfo=UTC)
    return LogObject(key=key, region=region, delivered=delivered, size=size)


def named_by_time(key: str) -> bool:
    """Whether the object's name carries its delivery time, so that a listing resuming at a time passes it."""
    return _STAMP.search(key.rsplit("/", 1)[-1]) is not None


def region_prefix(key: str) -> str | None:
    """``.../<acct>/CloudTrail/<region>/`` of a log object's key: the unit a listing resumes in."""
    match = _REGION_PREFIX.match(key)
    return match.group(1) if match else None


def resume_key(prefix: str, account_id: str, region: str, moment: datetime) -> str:
    """A ``StartAfter`` key just before the first log object delivered at ``moment`` under ``prefix``.

    Names within a day folder are ``<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>``, so they
    sort by delivery time, and this key (the name without its unique part) sorts before every
    object delivered in the same minute or later.
    """
    return f"{prefix}{moment:%Y/%m/%d}/{account_id}_CloudTrail_{region}_{moment:%Y%m%dT%H%MZ}"


def list_folders(s3, bucket: str, prefix: str) -> list[str]:
    """The ``CommonPrefixes`` directly under ``prefix`` (full prefixes, ending in ``/``)."""
    folders: list[str] = []
    for page in pages(s3, "list_objects_v2", Bucket=bucket, Prefix=prefix, Delimiter="/"):
        folders.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
    return folders


@dataclass(frozen=True)
class Layout:
    """Which key layouts the bucket holds under its ``AWSLogs/`` root."""

    root: str
    organization_ids: tuple[str, ...]
    direct_accounts: frozenset[str] | None  # accounts with a folder right under the root; None = unknown

    def bases(self, account_id: str) -> list[str]:
        """The ``.../<acct>/CloudTrail/`` prefixes that may hold this account's logs."""
        bases = [f"{self.root}{org}/{account_id}/CloudTrail/" for org in self.organization_ids]
        if self.direct_accounts is None or account_id in self.direct_accounts:
            bases.append(f"{self.root}{account_id}/CloudTrail/")
        return bases


def discover_layout(s3, bucket: str, prefix: str | None, organization_id: str | None) -> Layout:
    """One listing of the root tells the layouts apart; without it, try both."""
    root = logs_root(prefix)
    try:
        names = [folder[len(root) :].rstrip("/") for folder in list_folders(s3, bucket, root)]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        # a bucket policy may allow listing only deeper prefixes: let each account's listing tell
        return Layout(root, (organization_id,) if organization_id else (), None)
    organizations = sorted(name for name in names if _ORGANIZATION.fullmatch(name))
    direct = frozenset(name for name in names if _ACCOUNT.fullmatch(name))
    return Layout(root, tuple(organizations), direct)


@dataclass
class AccountListing:
    """The log objects of one account inside the listed days, or why they could not be listed."""

    account_id: str
    bases: list[str]
    objects: list[LogObject] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)  # the region prefixes listed to the last day
    error: str | None = None  # the account could not be listed at all
    region_errors: list[str] = field(default_factory=list)  # some regions could not be listed


def list_account(
    s3,
    bucket: str,
    layout: Layout,
    account_id: str,
    first_day: date,
    last_day: date,
    *,
    resume: Mapping[str, str] | None = None,
    regions: Collection[str] | None = None,
) -> AccountListing:
    """The account's log objects from ``first_day`` to ``last_day``.

    ``resume`` maps a region prefix to the key its listing starts after
    (later than ``first_day``'s folder: what was read before is not listed
    again); ``regions`` limits the listing to those regions (None: all).
    """
    listing = AccountListing(account_id=account_id, bases=layout.bases(account_id))
    region_prefixes: list[str] = []
    try:
        for base in listing.bases:
            region_prefixes.extend(list_folders(s3, bucket, base))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        listing.error = describe_error(exc, "s3", "ListObjectsV2")
        return listing
    listed: set[str] = set()
    for prefix in region_prefixes:
        region = prefix.rstrip("/").rsplit("/", 1)[-1]
        if regions is not None and region not in regions:
            continue
        try:
            listing.objects.extend(
                list_day_range(s3, bucket, prefix, first_day, last_day, start_after=(resume or {}).get(prefix))
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            listing.region_errors.append(f"{prefix}: {describe_error(exc, 's3', 'ListObjectsV2')}")
            continue
        listed.add(region)
        listing.prefixes.append(prefix)
    listing.regions = sorted(listed)
    return listing


def list_day_range(
    s3, bucket: str, region_prefix: str, first_day: date, last_day: date, *, start_after: str | None = None
) -> list[LogObject]:
    """Log objects under ``<region_prefix>YYYY/MM/DD/`` for the days ``first_day..last_day``.

    Keys come back in lexicographic order, which is date order here, so the
    listing starts after the day before ``first_day`` (or after ``start_after``
    when that is later) and stops past ``last_day``.
    """
    offset = len(region_prefix)
    last = f"{last_day:%Y/%m/%d}"
    found: list[LogObject] = []
    start_after = max(f"{region_prefix}{first_day:%Y/%m/%d}/", start_after or "")
    for page in pages(s3, "list_objects_v2", Bucket=bucket, Prefix=region_prefix, StartAfter=start_after):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            if key[offset : offset + 10] > last:
                return found
            log = parse_log_key(key, entry.get("Size", 0))
            if log is not None:
                found.append(log)
    return found
