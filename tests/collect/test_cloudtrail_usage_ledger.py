"""The ledger keeps each trail's action usage across incremental nights: two commits merge, a full read replaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditor.collect.cloudtrail_ledger import Ledger
from auditor.model import ActionUse
from auditor.store import Store

TRAIL = "s3://org-trail/AWSLogs/"
NIGHT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
START = NIGHT - timedelta(days=90)
BUCKET = "arn:aws:s3:::reports"


def use(action: str, when: datetime, events: int, resource: str | None = None, account: str = "111122223333"):
    return ActionUse(
        kind="idc_assignment",
        key="alice",
        account_id=account,
        detail="Dev",
        action=action,
        resource=resource,
        last_seen=when,
        events=events,
    )


def night(engine, as_of: datetime, uses: list[ActionUse], full: bool = False) -> list[ActionUse]:
    reading = Ledger(engine, full=full).open(TRAIL, as_of, START)
    merged = reading.merged_usage(uses)
    assert reading.commit([], usage=merged)
    return merged


def test_two_nights_merge_last_use_and_calls_per_action_and_resource(tmp_path):
    engine = Store.open(tmp_path / "state.db").engine
    first = NIGHT - timedelta(days=1)
    night(engine, first, [use("s3:GetObject", first, 3, BUCKET), use("ec2:DescribeInstances", first, 2)])
    merged = night(engine, NIGHT, [use("s3:GetObject", NIGHT, 4, BUCKET), use("s3:ListBucket", NIGHT, 1)])

    assert merged == [
        use("ec2:DescribeInstances", first, 2),
        use("s3:GetObject", NIGHT, 7, BUCKET),
        use("s3:ListBucket", NIGHT, 1),
    ]
    stored = Ledger(engine).open(TRAIL, NIGHT, START).merged_usage([])
    assert stored == merged  # what the next night starts from is the whole window


def test_a_full_read_replaces_the_stored_usage(tmp_path):
    engine = Store.open(tmp_path / "state.db").engine
    night(engine, NIGHT - timedelta(days=1), [use("iam:ListRoles", NIGHT - timedelta(days=1), 9)])
    night(engine, NIGHT, [use("s3:GetObject", NIGHT, 5, BUCKET)], full=True)

    assert Ledger(engine).open(TRAIL, NIGHT, START).merged_usage([]) == [use("s3:GetObject", NIGHT, 5, BUCKET)]


def test_a_commit_without_usage_keeps_what_the_store_has(tmp_path):
    engine = Store.open(tmp_path / "state.db").engine
    night(engine, NIGHT - timedelta(days=1), [use("iam:ListRoles", NIGHT - timedelta(days=1), 9)])
    assert Ledger(engine).open(TRAIL, NIGHT, START).commit([])

    assert Ledger(engine).open(TRAIL, NIGHT, START).merged_usage([]) == [
        use("iam:ListRoles", NIGHT - timedelta(days=1), 9)
    ]
