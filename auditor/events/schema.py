"""The event tables, on the state store's metadata (created by the store's migration 0007).

``lifecycle_events``: each accepted event once, by event id, with its
person, time, status (processing, done, failed, superseded,
awaiting_approval) and outcome. ``event_dead_letters``: each rejected
event as it arrived, with the reason. Rows are inserted and updated, never deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from auditor.store import metadata
from auditor.store.types import UTCDateTime

lifecycle_events = sa.Table(
    "lifecycle_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),  # idempotency: one row per event
    sa.Column("origin", sa.String(20), nullable=False),  # cli | http | eventbridge
    sa.Column("kind", sa.String(60), nullable=False),  # hr type, or cloudtrail:<eventName>
    sa.Column("person_key", sa.String(300), nullable=False, index=True),  # ordering per person
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("outcome", sa.Text),  # JSON: what was done
    sa.Column("payload", sa.Text, nullable=False),  # the event as received
)

event_dead_letters = sa.Table(
    "event_dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("event_id", sa.String(200)),  # when the event named one
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # as received (text, even when not JSON)
)
