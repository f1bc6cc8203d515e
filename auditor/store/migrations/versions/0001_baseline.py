"""The schema of release 0.1.0: runs, findings, audit log, campaigns, remediation, scheduler.

That release created these tables lazily, each feature's on first use, and
recorded them in ``schema_migrations``; a state file may hold any subset.
So this baseline creates each table only where it is missing: a fresh store
gets all of them, an old one gets the ones its features never created.
Times are ISO 8601 text here, as that release wrote them; 0002 turns them
into timestamps.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _time(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(40), nullable=nullable)


TABLES = {
    "runs": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        _time("started_at", False),
        _time("finished_at"),
        _time("as_of", False),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("tool_version", sa.String(40)),
        sa.Column("exit_code", sa.Integer),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("counts", sa.Text),
        sa.Column("sources", sa.Text),
        sa.Column("out_dir", sa.String(1000)),
        sa.Column("hr_roles", sa.Text),
    ],
    "findings": lambda: [
        sa.Column("finding_id", sa.String(64), primary_key=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("account_id", sa.String(12)),
        _time("first_seen", False),
        _time("last_seen", False),
        _time("resolved_at"),
        sa.Column("last_run", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    ],
    "run_findings": lambda: [
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("finding_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
    ],
    "audit_log": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        _time("at", False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(500)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    ],
    "campaigns": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        _time("created_at", False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("due_at", False),
        sa.Column("reviewer_mode", sa.String(300), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("privileged_only", sa.Boolean, nullable=False),
        sa.Column("run_dir", sa.String(1000)),
        _time("snapshot_as_of"),
        sa.Column("hmac_key", sa.String(64), nullable=False),
        sa.Column("origin", sa.Text, nullable=False),
        _time("closed_at"),
        sa.Column("undecided_policy", sa.String(40)),
    ],
    "campaign_items": lambda: [
        sa.Column("campaign_id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Index("ix_campaign_items_reviewer", "campaign_id", "reviewer"),
    ],
    "campaign_decisions": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reassign_to", sa.String(320)),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        _time("decided_at", False),
        sa.Column("source", sa.String(1100), nullable=False),
        sa.Column("file_sha256", sa.String(64)),
        sa.Index("ix_campaign_decisions_item", "campaign_id", "item_id"),
    ],
    "campaign_imports": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(1000), nullable=False),
        _time("imported_at", False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.Column("decisions", sa.Integer, nullable=False),
        sa.UniqueConstraint("campaign_id", "file_sha256", name="uq_campaign_import_file"),
    ],
    "campaign_people": lambda: [
        sa.Column("campaign_id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("display_name", sa.String(300)),
        sa.Column("manager_email", sa.String(320)),
        sa.Column("status", sa.String(20)),
    ],
    "campaign_messages": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("step_days", sa.Integer, nullable=False),
        _time("sent_at", False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(1000)),
    ],
    "remediation_runs": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_sha256", sa.String(64), nullable=False, unique=True),
        _time("plan_created_at", False),
        _time("started_at", False),
        _time("finished_at"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("override_reason", sa.Text),
        sa.Column("plan", sa.Text, nullable=False),
        _time("rolled_back_at"),
    ],
    "remediation_actions": lambda: [
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("action_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("pre_state", sa.Text),
        sa.Column("after_state", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        _time("started_at"),
        _time("finished_at"),
        sa.Column("rollback_status", sa.String(20)),
        sa.Column("rollback_attempts", sa.Integer, nullable=False),
        sa.Column("rollback_state", sa.Text),
        sa.Column("rollback_error", sa.Text),
        _time("rolled_back_at"),
    ],
    "remediation_notices": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.String(64), nullable=False, index=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("principal_type", sa.String(40), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("principal_name", sa.String(200)),
        sa.Column("account_id", sa.String(12)),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("message_path", sa.String(1000), nullable=False),
        _time("notified_at", False),
    ],
    "job_locks": lambda: [
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(300), nullable=False),
        _time("acquired_at"),
        _time("expires_at", False),
    ],
    "job_runs": lambda: [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        _time("scheduled_at", False),
        _time("started_at", False),
        _time("finished_at"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.UniqueConstraint("job_id", "scheduled_at", name="uq_job_runs_occurrence"),
    ],
}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in TABLES.items():
        if name not in present:
            op.create_table(name, *columns())
