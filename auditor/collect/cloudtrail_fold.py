"""Folding the ledger: an account's log objects that no listing can return again become one summary.

A real trail writes an object per account, region and five minutes, about
115,000 a day for 100 accounts in four regions; a ledger keeping each one
would make every night load months of rows to read one day. A listing
resumes the overlap before its region's resume point and never before the
region's fold (``FoldedRegion.before``), so an object delivered before the
earliest of those starts, over the regions the account is read in, is never
listed again: it no longer needs its key, only its counts. Those objects
are summed into the account's ``Folded`` as a full read counts them; a
damaged one keeps its row (its line in the manifest, and its gap) with the
delivery before it in its region.

Coverage and the largest spacing between deliveries are computed from the
fold's first, last and largest spacing plus the rows still held (``span``),
so they equal a full read's. One case cannot be exact: a region read for
the first time after a fold (one the read plan added) whose objects fall
inside the folded stretch; they can only shorten a spacing the fold no
longer sees, so the spacing reported is then an upper bound.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from auditor.collect.cloudtrail_s3 import named_by_time
from auditor.store.activity import Folded, FoldedRegion, ReadObject


def read_any(obj: ReadObject) -> bool:
    """Whether some of the object was read (whole, or with records skipped): it counts as read."""
    return obj.error is None or obj.skipped > 0


def span(folded: Folded | None, delivered: Iterable[datetime]) -> tuple[datetime, datetime, float] | None:
    """First and last delivery, and the largest spacing between consecutive ones in seconds (None: none)."""
    times = sorted(delivered)
    if folded is None or folded.first is None or folded.last is None:
        return (times[0], times[-1], _largest(times)) if times else None
    later = [folded.last, *times[bisect_left(times, folded.last) :]]
    first = min(folded.first, times[0]) if times else folded.first
    return first, max(later), max(folded.spacing, _largest(later))


def _largest(times: list[datetime]) -> float:
    return max(
        ((later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)), default=0.0
    )


@dataclass(frozen=True)
class Fold:
    folded: Folded
    kept: list[ReadObject]  # rows that stay: not folded, or damaged (then marked folded)
    gone: list[ReadObject]  # folded into the summary


def fold(folded: Folded | None, objects: list[ReadObject], boundary: datetime, regions: Collection[str]) -> Fold:
    """Fold ``objects`` (one account's rows not yet folded) delivered before ``boundary`` in ``regions``.

    An object whose name carries no time is kept: a listing resuming at a
    time can still return it, and only its row says it was read.
    """
    before = folded or Folded()

    def folds(obj: ReadObject) -> bool:
        return obj.region in regions and obj.delivered < boundary and named_by_time(obj.key)

    taken = sorted((o for o in objects if folds(o)), key=lambda o: (o.delivered, o.key))
    kept = [o for o in objects if not folds(o)]
    times: dict[str, list[datetime]] = {}  # per region: every delivery, the folded ones by their latest
    for obj in objects:
        times.setdefault(obj.region, []).append(obj.delivered)
    for region, part in before.regions.items():
        if part.last is not None:
            times.setdefault(region, []).append(part.last)
    for region_times in times.values():
        region_times.sort()
    gone = []
    for obj in taken:
        if obj.error is None:
            gone.append(obj)
            continue
        region_times = times[obj.region]
        earlier = bisect_left(region_times, obj.delivered)
        kept.append(replace(obj, folded=True, previous=region_times[earlier - 1] if earlier else None))
    read = [o for o in taken if read_any(o)]
    first, last, spacing = span(before, (o.delivered for o in read)) or (None, None, 0.0)
    lasts = {region: part.last for region, part in before.regions.items() if part.last is not None}
    for obj in taken:  # one pass, not one per region: a first night folds months of objects
        lasts[obj.region] = max(lasts.get(obj.region, obj.delivered), obj.delivered)
    parts = dict(before.regions)
    for region in regions:
        old = before.regions.get(region)
        parts[region] = FoldedRegion(before=max(boundary, old.before) if old else boundary, last=lasts.get(region))
    after = Folded(
        objects=before.objects + len(taken),
        read=before.read + len(read),
        size=before.size + sum(o.size for o in read),
        records=before.records + sum(o.records for o in read),
        counted=before.counted + sum(o.counted for o in read),
        skipped=before.skipped + sum(o.skipped for o in read),
        first=first,
        last=last,
        spacing=spacing,
        regions=parts,
    )
    return Fold(folded=after, kept=kept, gone=gone)
