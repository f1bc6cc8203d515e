"""Recorded remediation plans: apply executes only a plan the store recorded when it was made.

Plans that already ran (their text is kept with the run) are recorded as of
their plan time, so their runs can still be verified and rolled back
against a recorded plan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    plans = op.create_table(
        "remediation_plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
    )
    runs = sa.table(
        "remediation_runs",
        sa.column("plan_sha256"),
        sa.column("plan_created_at", UTCDateTime()),
        sa.column("actor"),
        sa.column("plan"),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(runs.c.plan_sha256, runs.c.plan_created_at, runs.c.actor, runs.c.plan)).all()
    if rows:
        op.bulk_insert(
            plans,
            [
                {"sha256": sha, "recorded_at": created, "recorded_by": actor, "plan": text}
                for sha, created, actor, text in rows
            ],
        )


def downgrade() -> None:
    op.drop_table("remediation_plans")
