"""Lifecycle events and their dead letters.

``lifecycle_events`` keeps every accepted HR or CloudTrail event once, by
its event id (a second delivery is a duplicate and changes nothing), with
the person it concerns and when it happened (events of one person apply in
order), and what was done. ``event_dead_letters`` keeps each malformed or
unsupported event as it arrived, with the reason it was rejected, so it can
be fixed and sent again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "lifecycle_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("person_key", sa.String(300), nullable=False, index=True),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "event_dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_dead_letters")
    op.drop_table("lifecycle_events")
