"""Reviewers sign in to `auditor serve`: single-use links and sessions, and each campaign's owner.

Both tables keep only the SHA-256 of a token (the token itself travels in a
link or a cookie), so a copy of the database opens no reviewer's page. A
link row is marked used when it is exchanged and is never used again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("owner", sa.String(320)))
    op.create_table(
        "campaign_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
    )
    op.create_table(
        "campaign_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("via", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_sessions")
    op.drop_table("campaign_links")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("owner")
