"""CloudTrail collector: the trail's S3 log objects reduced to activity.

What the rules need from CloudTrail is small: per principal (and per user x
account x permission set) the first and last time seen, and for each account
the window that was actually observed, so that "unused for 90 days" is only
said when 90 days were read. The organisation trail's bucket is the complete
source; every log object inside the window (widened by a day each side) is
fetched, gunzipped, decoded and reduced to ``Activity`` records on every
core (``cloudtrail_pool.read_objects``: worker processes fetch with clients
of their own, made from the context's recipe), and the per-object results
are merged. With the state store's ledger only the objects no earlier run
read are fetched, and merged into what it keeps (``cloudtrail_ledger``); a
read plan limits the accounts and regions to what the enabled rules need
(``cloudtrail_plan``).

Per account the manifest says how it went: ``ok``; ``partial`` when some
object could not be read or held records that could not be decoded (each is
listed as unreadable), a region could not be listed, or nothing was found;
``failed`` when the account's logs could not be listed or none could be read.

Coverage is the span of log objects read (their delivery times), clipped to
the window; the stretches inside it that were not read are its ``gaps`` (in
the status detail), which an absence of activity cannot be claimed over. A
damaged object delivered at T held events from after the object before it
in its region up to T; a region that could not be listed leaves the whole
window in doubt. So "inactive for 90 days" becomes insufficient evidence
when a gap falls inside those 90 days (``RuleContext.missing_window``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

import botocore.exceptions

from auditor.aws import AwsContext, describe_error
from auditor.collect.action_usage import UsageReducer
from auditor.collect.cloudtrail_athena import TABLES, AthenaSettings, collect_cloudtrail_athena
from auditor.collect.cloudtrail_fold import read_any, span
from auditor.collect.cloudtrail_ledger import Ledger, Reading, merge_activities, merge_usage, trail_id
from auditor.collect.cloudtrail_lifecycle import sort_events
from auditor.collect.cloudtrail_plan import ReadPlan
from auditor.collect.cloudtrail_pool import ObjectRead, read_objects
from auditor.collect.cloudtrail_records import LogDecodeError
from auditor.collect.cloudtrail_reduce import ActivityReducer, reduce_records
from auditor.collect.cloudtrail_s3 import AccountListing, LogObject, discover_layout, list_account
from auditor.collect.registry import collector
from auditor.model import Account, LifecycleEvent
from auditor.progress import Progress
from auditor.snapshot import COMPLETE, SourceResult, SourceStatus, Unreadable
from auditor.store.activity import Folded, ReadObject

__all__ = ["TrailLocation", "collect_cloudtrail", "discover_trail", "reduce_records"]

SOURCE = "cloudtrail"
# Read-only permissions this collector needs (management account, and the trail bucket's policy).
PERMISSIONS = (
    "cloudtrail:DescribeTrails",
    "organizations:DescribeOrganization",
    "s3:ListBucket",
    "s3:GetObject",
)
ACCOUNTS_TASK = "cloudtrail accounts"
OBJECTS_TASK = "cloudtrail objects"
DAY = timedelta(days=1)
# Log objects are small and independent, and S3 serves thousands of GETs a
# second per prefix: a read waiting out a throttled attempt holds a thread
# but no connection, so object reads run on this many threads per worker
# (within the S3 client's connection pool) and throttling stalls nobody.
READS_PER_WORKER = 4


@dataclass(frozen=True)
class TrailLocation:
    """Where a trail delivers its log objects."""

    bucket: str
    prefix: str | None
    organization_id: str | None  # the ``o-...`` level of an organisation trail's keys
    home_region: str
    trail_arn: str | None = None


def discover_trail(ctx: AwsContext) -> TrailLocation | None:
    """The trail to read: an organisation multi-region trail, else any multi-region trail.

    A single-region trail misses other regions' sign-ins and global events,
    so it is not taken: None then, as when there is no trail at all.
    Errors from DescribeTrails propagate (the caller records them).
    """
    trails = ctx.client("cloudtrail").describe_trails(includeShadowTrails=True).get("trailList", [])
    candidates = [t for t in trails if t.get("S3BucketName") and t.get("IsMultiRegionTrail")]
    if not candidates:
        return None
    best = min(
        candidates,
        key=lambda t: (not t.get("IsOrganizationTrail"), t.get("HomeRegion") != ctx.region, t.get("Name", "")),
    )
    organization_id = _organization_id(ctx) if best.get("IsOrganizationTrail") else None
    return TrailLocation(
        bucket=best["S3BucketName"],
        prefix=best.get("S3KeyPrefix") or None,
        organization_id=organization_id,
        home_region=best.get("HomeRegion") or ctx.region,
        trail_arn=best.get("TrailARN"),
    )


def _organization_id(ctx: AwsContext) -> str | None:
    """Best effort: the reader also finds ``o-...`` folders by listing the bucket."""
    try:
        return ctx.client("organizations").describe_organization()["Organization"]["Id"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, KeyError):
        return None


@dataclass
class _Tally:
    """What was read for one account."""

    listing: AccountListing
    objects_read: int = 0
    bytes_read: int = 0
    records: int = 0
    records_counted: int = 0
    records_skipped: int = 0
    unreadable: list[str] = field(default_factory=list)  # errors of the objects that could not be read
    delivered: list[datetime] = field(default_factory=list)
    damaged: list[tuple[LogObject, str]] = field(default_factory=list)  # objects whose events may be missing
    folded: Folded | None = None  # the ledger's summary of the objects no listing returns again
    previous: dict[str, datetime | None] = field(default_factory=dict)  # folded damaged object -> delivery before


@collector(SOURCE, PERMISSIONS)
def collect_cloudtrail(
    ctx: AwsContext,
    accounts: list[Account],
    trail: TrailLocation,
    progress: Progress,
    *,
    as_of: datetime,
    lookback_days: int = 120,
    max_workers: int = 8,
    ledger: Ledger | None = None,
    plan: ReadPlan | None = None,
    athena: AthenaSettings | None = None,
) -> SourceResult:
    """Read ``trail``'s log objects for ``accounts`` and reduce them to ``activity`` records.

    With a ``ledger`` (the state store's), only the objects no earlier run
    read are fetched, and the activity is the store's merged with theirs
    (``auditor.collect.cloudtrail_ledger``); without one, the whole window.
    A ``plan`` (``auditor.collect.cloudtrail_plan``) limits the accounts and
    regions read to what the enabled rules need; an account it skips gets no
    status, so nothing is claimed about it. With ``athena`` settings ([cloudtrail]
    engine = "athena") Athena aggregates the window instead, to the same records.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if lookback_days < 1:
        raise ValueError("lookback_days must be at least 1")
    if plan is not None:
        accounts = [a for a in accounts if plan.reads(a.account_id)]
    if athena is not None:
        return collect_cloudtrail_athena(
            ctx, accounts, trail, progress, as_of=as_of, lookback_days=lookback_days, settings=athena
        )
    start = as_of - timedelta(days=lookback_days)
    last_day = (as_of + DAY).date()
    s3 = ctx.client("s3", region=trail.home_region)
    layout = discover_layout(s3, trail.bucket, trail.prefix, trail.organization_id)
    reading = ledger.open(trail_id(trail.bucket, layout.root), as_of, start) if ledger is not None else None

    def since(account_id: str) -> datetime:
        return reading.since(account_id) if reading is not None else start

    result = SourceResult()
    kept = ActivityReducer(min((since(a.account_id) for a in accounts), default=start), as_of, UsageReducer())
    this_run = ActivityReducer(kept.start, as_of, UsageReducer())  # delivered after as-of: not kept in the store
    kept_changes: list[LifecycleEvent] = []
    run_changes: list[LifecycleEvent] = []
    # one connection per reading thread: threads beyond the client's pool would open and drop their own
    readers = min(max_workers * READS_PER_WORKER, s3.meta.config.max_pool_connections)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cloudtrail-list") as pool:
        progress.start(ACCOUNTS_TASK, len(accounts))
        tallies: dict[str, _Tally] = {}

        def list_one(account: Account) -> AccountListing:
            first_day = (since(account.account_id) - DAY).date()
            resume = reading.resume(account.account_id) if reading is not None else None
            regions = plan.regions(account.account_id) if plan is not None else None
            return list_account(
                s3, trail.bucket, layout, account.account_id, first_day, last_day, resume=resume, regions=regions
            )

        for account, future in _bounded(pool, list_one, accounts, max_workers):
            tallies[account.account_id] = _Tally(listing=future.result())
            progress.advance(ACCOUNTS_TASK)
        progress.finish(ACCOUNTS_TASK)

        work: list[LogObject] = []
        owner: dict[str, _Tally] = {}
        for account_id, tally in tallies.items():
            fresh = tally.listing.objects
            if reading is not None:
                if tally.listing.error is None:
                    regions = plan.regions(account_id) if plan is not None else None
                    reading.listed(account_id, regions, tally.listing.prefixes)
                known = reading.known(account_id)
                fresh = [obj for obj in fresh if obj.key not in known]
                prior = _recall(tally, reading.prior(account_id), reading.folded(account_id), trail, result)
                tally.listing.objects = prior + fresh
            work.extend(fresh)
            owner.update((obj.key, tally) for obj in fresh)
        progress.start(OBJECTS_TASK, len(work))

        recipe = partial(ctx.recipe, "s3", trail.home_region)  # how a reading worker makes its own client
        keeps = reading.keeps_object if reading is not None else (lambda obj: True)
        parts = (
            (kept, kept_changes, [obj for obj in work if keeps(obj)]),
            (this_run, run_changes, [obj for obj in work if not keeps(obj)]),  # delivered after as-of
        )
        for into, changes, part in parts:
            for outcome in read_objects(s3, trail.bucket, part, into, fetchers=readers, recipe=recipe):
                _book(outcome, owner[outcome.obj.key], changes, reading, trail, result)
                progress.advance(OBJECTS_TASK)
        progress.finish(OBJECTS_TASK)

    activity = kept.activities()
    changes = kept_changes
    uses = kept.usage.uses()
    if reading is not None:
        activity = reading.merged(activity)
        changes = reading.merged_changes(kept_changes)
        uses = reading.merged_usage(uses)
        reading.commit(activity, usage=uses)
    later, later_uses = this_run.activities(), this_run.usage.uses()  # objects delivered after the as-of time
    result.add("activity", merge_activities(activity, later) if later else activity)
    result.add("lifecycle_events", sort_events(changes + run_changes))
    result.add("action_usage", merge_usage(uses, later_uses) if later_uses else uses)
    result.unreadable.sort(key=lambda u: u.what)
    for account in accounts:
        status = _status(tallies[account.account_id], trail, layout.root, since(account.account_id), as_of)
        if plan is not None:
            status.detail["read"] = plan.detail(account.account_id)
        if reading is not None:
            new = sum(1 for tally in owner.values() if tally.listing.account_id == account.account_id)
            status.detail["ledger"] = {"mode": reading.mode, "kept": reading.kept, "objects_new": new}
        result.statuses.append(status)
    return result


def _book(
    outcome: ObjectRead,
    tally: _Tally,
    changes: list[LifecycleEvent],
    reading: Reading | None,
    trail: TrailLocation,
    result: SourceResult,
) -> None:
    """Account for one object read (its activity is already in the reducer it was read into) or left unread."""
    obj = outcome.obj
    account_id = tally.listing.account_id
    what = f"s3://{trail.bucket}/{obj.key}"
    if outcome.held is None:
        error = _describe_read_error(outcome.error)
        result.unreadable.append(Unreadable(what=what, error=error))
        tally.unreadable.append(error)
        tally.damaged.append((obj, error))
        if reading is not None and isinstance(outcome.error, LogDecodeError):  # its bytes will not change
            reading.read(obj, account_id, error=error)
        elif reading is not None:
            reading.unread(obj)
        return
    held = outcome.held
    skipped = held.malformed + held.undated
    error = None
    if skipped:
        error = f"{skipped} of {held.records + held.malformed} records could not be decoded"
        result.unreadable.append(Unreadable(what=what, error=error))
    _count(tally, obj, outcome.size, held.records, held.counted, skipped, error)
    if reading is not None:
        counts = dict(size=outcome.size, records=held.records, counted=held.counted, skipped=skipped, error=error)
        reading.read(obj, account_id, changes=held.changes, **counts)
    changes.extend(held.changes)


def _count(
    tally: _Tally, obj: LogObject, size: int, records: int, counted: int, skipped: int, error: str | None
) -> None:
    """Add one object that was read (whole, or with ``skipped`` records that did not decode) to its account."""
    tally.objects_read += 1
    tally.bytes_read += size
    tally.records += records
    tally.records_counted += counted
    tally.records_skipped += skipped
    tally.delivered.append(obj.delivered)
    if error:
        tally.damaged.append((obj, error))


def _recall(
    tally: _Tally, prior: list[ReadObject], folded: Folded | None, trail: TrailLocation, result: SourceResult
) -> list[LogObject]:
    """The ledger's objects of an account, counted as a full read would count them; as listed objects.

    The folded ones count through their summary; a folded damaged object
    still has its line and its gap, which starts at the delivery before it.
    """
    if folded is not None:
        tally.folded = folded
        tally.objects_read += folded.read
        tally.bytes_read += folded.size
        tally.records += folded.records
        tally.records_counted += folded.counted
        tally.records_skipped += folded.skipped
    objects = []
    for row in prior:
        obj = LogObject(key=row.key, region=row.region, delivered=row.delivered, size=row.size)
        if row.error:
            result.unreadable.append(Unreadable(what=f"s3://{trail.bucket}/{row.key}", error=row.error))
        if row.folded:
            tally.previous[row.key] = row.previous
            tally.damaged.append((obj, row.error or ""))
            if not read_any(row):
                tally.unreadable.append(row.error or "")
            continue
        objects.append(obj)
        if not read_any(row):  # nothing of it could be read
            tally.unreadable.append(row.error or "")
            tally.damaged.append((obj, row.error or ""))
            continue
        _count(tally, obj, row.size, row.records, row.counted, row.skipped, row.error)
    return objects


def _describe_read_error(exc: BaseException) -> str:
    if isinstance(exc, LogDecodeError):
        return f"not a readable CloudTrail log: {exc}"
    return describe_error(exc, "s3", "GetObject")


def _status(tally: _Tally, trail: TrailLocation, root: str, start: datetime, end: datetime) -> SourceStatus:
    listing = tally.listing
    where = " or ".join(f"s3://{trail.bucket}/{base}" for base in listing.bases) or (
        f"s3://{trail.bucket}/{root}{trail.organization_id + '/' if trail.organization_id else ''}"
        f"{listing.account_id}/CloudTrail/"
    )
    listed = len(listing.objects) + (tally.folded.objects if tally.folded else 0)
    detail = {
        "prefixes": [f"s3://{trail.bucket}/{base}" for base in listing.bases],
        "regions": listing.regions,
        "objects_listed": listed,
        "objects_read": tally.objects_read,
        "objects_unreadable": len(tally.unreadable),
        "bytes_read": tally.bytes_read,
        "records": tally.records,
        "records_counted": tally.records_counted,
        "records_skipped": tally.records_skipped,
    }
    gaps = _gaps(tally, start, end)
    if gaps:
        detail["gaps"] = [
            {"start": g.start.isoformat(), "end": g.end.isoformat(), "objects": g.objects, "error": g.error}
            for g in gaps
        ]
    coverage_start = coverage_end = None
    delivered = span(tally.folded, tally.delivered)
    if delivered is not None:
        first, last, spacing = delivered
        coverage_start, coverage_end = max(first, start), min(last, end)
        if coverage_start > coverage_end:
            coverage_start = coverage_end = None
        detail["largest_gap_hours"] = round(spacing / 3600, 1)

    def status(state: str, error: str | None) -> SourceStatus:
        return SourceStatus(
            source=SOURCE,
            account_id=listing.account_id,
            status=state,
            error=error,
            coverage_start=coverage_start,
            coverage_end=coverage_end,
            detail=detail,
            # this account's share of the tables: all come from the same objects, read as completely
            tables={table: COMPLETE if state == "ok" else state for table in TABLES},
        )

    if listing.error:
        return status("failed", listing.error)
    if listing.region_errors and not listing.regions:
        return status("failed", "; ".join(listing.region_errors))
    if listed == 0:
        error = f"no CloudTrail log objects from {start.date()} to {end.date()} found under {where}"
        return status("partial", "; ".join([error, *listing.region_errors]))
    if tally.objects_read == 0:
        return status("failed", f"none of {listed} log objects could be read (first error: {tally.unreadable[0]})")
    problems = list(listing.region_errors)
    if tally.damaged:
        problems.insert(0, f"{len(tally.damaged)} of {listed} log objects could not be read")
    if coverage_start is None:
        problems.append(f"no log object read was delivered between {start.isoformat()} and {end.isoformat()}")
    return status("partial" if problems else "ok", "; ".join(problems) or None)


@dataclass(frozen=True)
class Gap:
    """A stretch of time whose events may be missing: damaged objects, or a region that could not be listed."""

    start: datetime
    end: datetime
    objects: int  # damaged log objects behind it (0: a region's listing failed)
    error: str


def _gaps(tally: _Tally, start: datetime, end: datetime) -> list[Gap]:
    """The stretches inside ``[start, end]`` that were not read, merged where they overlap, oldest first.

    A damaged object delivered at T held events from after the object
    delivered before it in its region (or from the window's start) up to T.
    """
    raw: list[Gap] = [Gap(start, end, 0, error) for error in tally.listing.region_errors]
    by_region: dict[str, list[datetime]] = {}
    for obj in tally.listing.objects:
        by_region.setdefault(obj.region, []).append(obj.delivered)
    for region, part in tally.folded.regions.items() if tally.folded else ():
        if part.last is not None:
            by_region.setdefault(region, []).append(part.last)
    for times in by_region.values():
        times.sort()
    for obj, error in tally.damaged:
        if obj.delivered < start:  # its events all precede the window
            continue
        if obj.key in tally.previous:  # folded: the delivery before it was noted when it was
            previous = tally.previous[obj.key]
        else:
            times = by_region[obj.region]
            before = bisect_left(times, obj.delivered)  # objects delivered strictly earlier
            previous = times[before - 1] if before else None
        gap_start = max(start, previous) if previous is not None else start
        raw.append(Gap(gap_start, min(max(obj.delivered, start), end), 1, f"s3 object {obj.key}: {error}"))
    merged: list[Gap] = []
    for gap in sorted(raw, key=lambda g: (g.start, g.end)):
        if merged and gap.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Gap(last.start, max(last.end, gap.end), last.objects + gap.objects, last.error)
        else:
            merged.append(gap)
    return merged


T = TypeVar("T")


def _bounded(pool: Executor, fn: Callable[[T], object], items: Iterable[T], limit: int) -> Iterator[tuple[T, Future]]:
    """``fn`` over ``items`` on ``pool`` with at most ``limit`` in flight; yields (item, future) as they finish."""
    source = iter(items)
    pending: dict[Future, T] = {}

    def submit_next() -> None:
        for item in source:
            pending[pool.submit(fn, item)] = item
            return

    for _ in range(max(1, limit)):
        submit_next()
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            item = pending.pop(future)
            submit_next()
            yield item, future
