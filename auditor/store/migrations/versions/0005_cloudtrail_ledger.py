"""The CloudTrail ledger: a nightly run reads only the log objects no run has read, and merges.

See ``auditor.store.activity`` for what each table keeps and why; ``rightsize_proposals`` (what a
right-sizing action traces to) is described in ``auditor.remediate.schema``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # one row per trail: the generation that guards commits, and how far its reads reached
    op.create_table(
        "cloudtrail_trails",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("full_at", UTCDateTime),
    )
    # since when each account's evidence runs without a break
    op.create_table(
        "cloudtrail_accounts",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("since", UTCDateTime, nullable=False),
    )
    # where each region folder's listing resumes
    op.create_table(
        "cloudtrail_regions",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("prefix", sa.String(500), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("resume", UTCDateTime, nullable=False),
    )
    # every log object read, with what it held or why it is damaged
    op.create_table(
        "cloudtrail_objects",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("delivered", UTCDateTime, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("counted", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("read_as_of", UTCDateTime, nullable=False),
    )
    # first and last seen per principal key, merged over every read
    op.create_table(
        "cloudtrail_activity",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("detail", sa.String(200), primary_key=True),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    # the access changes (Identity Center management events) each object held, whole
    op.create_table(
        "cloudtrail_changes",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("events", sa.Text, nullable=False),
    )
    # last use and calls per (principal key, IAM action, resource), merged over every read (right-sizing)
    op.create_table(
        "cloudtrail_usage",
        sa.Column("trail", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("detail", sa.String(200), primary_key=True),
        sa.Column("action", sa.String(200), primary_key=True),
        sa.Column("resource", sa.String(1000), primary_key=True),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    # every right-sizing proposal made, with the run it rests on: a right-sizing action traces to one
    op.create_table(
        "rightsize_proposals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("permission_set_arn", sa.String(200), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("proposed_at", UTCDateTime, nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "rightsize_proposals",
        "cloudtrail_usage",
        "cloudtrail_changes",
        "cloudtrail_activity",
        "cloudtrail_objects",
        "cloudtrail_regions",
        "cloudtrail_accounts",
    ):
        op.drop_table(table)
    op.drop_table("cloudtrail_trails")
