"""Folding the ledger: what a listing cannot return again is summed; what it can, or what is damaged, keeps its row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditor.collect.cloudtrail_fold import fold, span
from auditor.collect.cloudtrail_ledger import Ledger, Reading
from auditor.sandbox.trail import object_key
from auditor.store.activity import Folded, FoldedRegion, ReadObject, TrailMemory

ACCOUNT = "111122223333"
ORG = "o-a1b2c3d4e5"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def logged(region: str, hours: float, error: str | None = None, skipped: int = 0, size: int = 100) -> ReadObject:
    delivered = T0 + hours * HOUR
    return ReadObject(
        key=object_key(ORG, ACCOUNT, region, delivered, f"{hours:08.2f}"),
        account_id=ACCOUNT,
        region=region,
        delivered=delivered,
        size=0 if error and not skipped else size,
        records=0 if error and not skipped else 10,
        counted=0 if error and not skipped else 8,
        skipped=skipped,
        error=error,
    )


def test_objects_before_the_boundary_are_summed_as_a_full_read_counts_them():
    rows = [logged("us-east-1", h) for h in (0, 1, 5)] + [logged("eu-west-1", 2), logged("us-east-1", 30)]
    rows.append(logged("eu-west-1", 3, error="2 of 12 records could not be decoded", skipped=2))
    rows.append(logged("eu-west-1", 4, error="not a readable CloudTrail log: truncated"))

    result = fold(None, rows, T0 + 24 * HOUR, {"us-east-1", "eu-west-1"})

    assert [o.delivered for o in result.kept if not o.folded] == [T0 + 30 * HOUR]
    assert len(result.gone) == 4
    folded = result.folded
    assert (folded.objects, folded.read, folded.size, folded.records, folded.counted, folded.skipped) == (
        6,
        5,
        500,
        50,
        40,
        2,
    )
    assert (folded.first, folded.last, folded.spacing) == (T0, T0 + 5 * HOUR, 2 * 3600)  # 3h to 5h: the truncated
    # object at 4h was read in nothing, so it is no delivery read
    damaged = {o.delivered: o for o in result.kept if o.folded}
    assert damaged[T0 + 3 * HOUR].previous == T0 + 2 * HOUR
    assert damaged[T0 + 4 * HOUR].previous == T0 + 3 * HOUR
    assert folded.regions == {
        "us-east-1": FoldedRegion(before=T0 + 24 * HOUR, last=T0 + 5 * HOUR),
        "eu-west-1": FoldedRegion(before=T0 + 24 * HOUR, last=T0 + 4 * HOUR),
    }


def test_a_later_fold_adds_to_the_summary_and_a_damaged_object_starts_its_gap_at_the_folded_delivery():
    first = fold(None, [logged("us-east-1", h) for h in (0, 6)], T0 + 10 * HOUR, {"us-east-1"}).folded
    rows = [logged("us-east-1", 20, error="not a readable CloudTrail log: truncated"), logged("us-east-1", 21)]

    second = fold(first, rows, T0 + 40 * HOUR, {"us-east-1"})

    assert second.folded.objects == 4 and second.folded.read == 3
    assert second.folded.spacing == 15 * 3600  # 6h to 21h: the damaged object at 20h is no delivery read
    assert [(o.folded, o.previous) for o in second.kept] == [(True, T0 + 6 * HOUR)]


def test_an_object_whose_name_carries_no_time_keeps_its_row():
    unnamed = ReadObject(
        key=f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/us-east-1/2026/11/01/manual-export.json.gz",
        account_id=ACCOUNT,
        region="us-east-1",
        delivered=T0,
        size=10,
        records=1,
    )
    result = fold(None, [unnamed], T0 + 24 * HOUR, {"us-east-1"})
    assert result.kept == [unnamed] and result.folded.objects == 0


def test_regions_the_account_is_not_read_in_are_not_folded():
    outside = logged("ap-south-1", 1)
    result = fold(None, [outside, logged("us-east-1", 1)], T0 + 24 * HOUR, {"us-east-1"})
    assert result.kept == [outside] and set(result.folded.regions) == {"us-east-1"}


def test_deliveries_inside_the_folded_stretch_cannot_shorten_its_spacing():
    folded = Folded(objects=2, read=2, first=T0, last=T0 + 10 * HOUR, spacing=10 * 3600)
    # a region read for the first time after the fold, with an object at 5h: the fold no longer knows its
    # neighbours, so its 10 hours stand (an upper bound); the stretch after the fold is measured exactly
    assert span(folded, [T0 + 5 * HOUR, T0 + 12 * HOUR]) == (T0, T0 + 12 * HOUR, 10 * 3600)
    assert span(folded, [T0 + 30 * HOUR]) == (T0, T0 + 30 * HOUR, 20 * 3600)
    assert span(folded, []) == (T0, T0 + 10 * HOUR, 10 * 3600)
    assert span(None, []) is None


def test_a_listing_never_resumes_before_its_regions_fold():
    prefix = f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/us-east-1/"
    resume = T0 + 30 * HOUR  # a fetch that failed held the resume point back
    memory = TrailMemory(
        trail="s3://org-trail/AWSLogs/",
        generation=3,
        as_of=T0 + 48 * HOUR,
        since={ACCOUNT: T0 - 90 * 24 * HOUR},
        resume={prefix: resume},
        folded={ACCOUNT: Folded(regions={"us-east-1": FoldedRegion(before=T0 + 20 * HOUR)})},
    )
    # where listings start needs no database
    reading = Reading(Ledger(engine=None), memory, T0 + 48 * HOUR, T0 - 90 * 24 * HOUR, mode="incremental")
    assert reading.resume(ACCOUNT) == {prefix: f"{prefix}2026/11/01/{ACCOUNT}_CloudTrail_us-east-1_20261101T2000Z"}
