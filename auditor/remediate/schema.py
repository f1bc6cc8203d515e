"""The remediation tables, on the state store's metadata (created by the store's migrations).

``remediation_plans`` holds every plan as ``remediate plan`` wrote it, keyed
by its canonical hash: apply executes only a recorded plan, ages it from the
recorded time, and rollback takes its targets from it. Runs keep the whole
plan they executed, so ``verify`` and ``rollback`` need nothing but the run
id. Rows are inserted and updated, never deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from auditor.store import metadata
from auditor.store.types import UTCDateTime

remediation_plans = sa.Table(
    "remediation_plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),  # the plan's canonical hash
    sa.Column("recorded_at", UTCDateTime, nullable=False),  # the plan's age counts from here
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("plan", sa.Text, nullable=False),  # the plan as written, actions and targets included
)

# Every right-sizing proposal `remediate plan --rightsize` made, with the run whose evidence it rests on: a
# right-sizing action traces to one (as a revocation traces to a decision or a finding), the very policy text.
rightsize_proposals = sa.Table(
    "rightsize_proposals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),  # the recorded run whose snapshot held the usage
    sa.Column("permission_set_arn", sa.String(200), nullable=False),
    sa.Column("policy", sa.Text, nullable=False),  # the proposed inline policy, as it will be written
    sa.Column("evidence", sa.Text, nullable=False),  # JSON: accounts, window, used and removed actions
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("proposed_by", sa.String(200), nullable=False),
)

remediation_runs = sa.Table(
    "remediation_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_sha256", sa.String(64), nullable=False, unique=True),  # one run per plan: re-runs resume it
    sa.Column("plan_created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),  # running | completed | incomplete
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("override_reason", sa.Text),  # the deliberate circuit-breaker override, if any
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("rolled_back_at", UTCDateTime),
)

remediation_actions = sa.Table(
    "remediation_actions",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    # pending | started | done | already_in_effect | drifted | failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # change requests sent to AWS
    sa.Column("pre_state", sa.Text),  # read from AWS just before the change (journaled first)
    sa.Column("after_state", sa.Text),  # read from AWS just after it
    sa.Column("result", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    # None | started | restored | already_restored | drifted | failed
    sa.Column("rollback_status", sa.String(20)),
    sa.Column("rollback_attempts", sa.Integer, nullable=False),
    sa.Column("rollback_state", sa.Text),
    sa.Column("rollback_error", sa.Text),
    sa.Column("rolled_back_at", UTCDateTime),
)

remediation_notices = sa.Table(
    "remediation_notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.String(64), nullable=False, index=True),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("principal_type", sa.String(40), nullable=False),
    sa.Column("principal_id", sa.String(200), nullable=False),
    sa.Column("principal_name", sa.String(200)),
    sa.Column("account_id", sa.String(12)),
    sa.Column("action", sa.String(200), nullable=False),  # what will happen after the notice period
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list of addresses
    sa.Column("message_path", sa.String(1000), nullable=False),
    sa.Column("notified_at", UTCDateTime, nullable=False),
)
