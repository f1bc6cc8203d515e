"""The campaign tables, on the state store's metadata (created by the store's migrations).

Items hold their frozen body as JSON (what the reviewer saw) next to the
columns that are queried. Decisions, imports and messages are append-only:
nothing here is ever updated except an item's current reviewer (a
reassignment) and a campaign's status, due date and close facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from auditor.store import metadata
from auditor.store.types import UTCDateTime

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # quarterly | micro
    sa.Column("status", sa.String(10), nullable=False),  # open | closed
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("reviewer_mode", sa.String(300), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),  # JSON list
    sa.Column("privileged_only", sa.Boolean, nullable=False),
    sa.Column("run_dir", sa.String(1000)),
    sa.Column("snapshot_as_of", UTCDateTime),
    # signs every packet row of this campaign: sealed under the store's key ring (never in clear here)
    sa.Column("signing_key", sa.Text),
    sa.Column("origin", sa.Text, nullable=False),  # JSON list of finding ids (micro-certifications)
    sa.Column("closed_at", UTCDateTime),
    sa.Column("undecided_policy", sa.String(40)),
    sa.Column("owner", sa.String(320)),  # the campaign owner's email: routing's last step, the owner's page
)
campaign_items = sa.Table(
    "campaign_items",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),  # current reviewer (moves on reassignment)
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the frozen Item
    sa.Index("ix_campaign_items_reviewer", "campaign_id", "reviewer"),
)
campaign_decisions = sa.Table(
    "campaign_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("item_id", sa.String(40), nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),  # keep | rightsize | revoke | reassign
    sa.Column("reassign_to", sa.String(320)),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(1100), nullable=False),
    sa.Column("file_sha256", sa.String(64)),
    sa.Index("ix_campaign_decisions_item", "campaign_id", "item_id"),
)
campaign_imports = sa.Table(
    "campaign_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(1000), nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("imported_by", sa.String(200), nullable=False),
    sa.Column("decisions", sa.Integer, nullable=False),
    sa.UniqueConstraint("campaign_id", "file_sha256", name="uq_campaign_import_file"),
)
campaign_people = sa.Table(
    "campaign_people",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), primary_key=True),  # lower case
    sa.Column("display_name", sa.String(300)),
    sa.Column("manager_email", sa.String(320)),
    sa.Column("status", sa.String(20)),
)
campaign_messages = sa.Table(
    "campaign_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("reviewer", sa.String(320), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # reminder | escalation
    sa.Column("step_days", sa.Integer, nullable=False),  # the schedule entry it answers
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("reference", sa.String(1000)),  # outbox file, SES MessageId, ...
)

# `auditor serve` sign-in: only SHA-256s of tokens are kept (a copy of the database opens no page).
# A link is single use (used_at), expires, and is bound to one person, role and campaign.
campaign_links = sa.Table(
    "campaign_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),  # reviewer | owner
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
)
# A session a link (or an identity provider) was exchanged for: the cookie holds the token.
campaign_sessions = sa.Table(
    "campaign_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("via", sa.String(40), nullable=False),  # "link 12" | "oidc"
)


def iso(value: datetime | None) -> str | None:
    """Times in evidence files and audit details: ISO 8601 UTC, to the second."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="seconds")
