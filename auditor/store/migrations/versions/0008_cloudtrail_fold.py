"""The CloudTrail ledger folds the objects no listing can return again into one summary per account.

A real trail writes an object per account, region and five minutes; keeping a
row for each one read made the ledger, and each night's load of it, grow
without end. ``cloudtrail_accounts.folded`` holds the summary (JSON,
``auditor.store.activity.Folded``); damaged objects keep their rows, marked
``folded``, with the delivery before them in their region (``previous``) for
their gap. A store upgraded in place folds its old rows at its next night.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("cloudtrail_accounts") as batch:
        batch.add_column(sa.Column("folded", sa.Text))
    with op.batch_alter_table("cloudtrail_objects") as batch:
        batch.add_column(sa.Column("folded", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("previous", UTCDateTime))


LEDGER = (
    "cloudtrail_trails",
    "cloudtrail_accounts",
    "cloudtrail_regions",
    "cloudtrail_objects",
    "cloudtrail_activity",
    "cloudtrail_changes",
    "cloudtrail_usage",
)


def downgrade() -> None:
    # the folded objects' rows are gone and an older release would count only the rest: empty the
    # ledger, so that its next night reads the window afresh instead of claiming less than it read
    for table in LEDGER:
        op.execute(sa.text(f"DELETE FROM {table}"))  # names from the constant above
    with op.batch_alter_table("cloudtrail_objects") as batch:
        batch.drop_column("previous")
        batch.drop_column("folded")
    with op.batch_alter_table("cloudtrail_accounts") as batch:
        batch.drop_column("folded")
