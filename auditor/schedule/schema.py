"""The scheduler's tables, on the state store's metadata (created by the store's migrations).

``job_locks`` holds one row per lock name: a lease with its owner and
expiry, taken and renewed by conditional updates (the same on SQLite and
PostgreSQL). ``job_runs`` records each occurrence of a job once: its
(job, scheduled time) pair is unique, so two schedulers that both fire the
same occurrence run it once. Rows are inserted and updated; only the
configured retention job ever deletes anything, and never these.
"""

from __future__ import annotations

import sqlalchemy as sa

from auditor.store import metadata
from auditor.store.types import UTCDateTime

job_locks = sa.Table(
    "job_locks",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(300), nullable=False),  # "" when free
    sa.Column("acquired_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # a lease past this is free to take
)
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("scheduled_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    # running | ok | incomplete | failed | skipped | abandoned
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON: what the job did, or why it did not
    sa.UniqueConstraint("job_id", "scheduled_at", name="uq_job_runs_occurrence"),
)
