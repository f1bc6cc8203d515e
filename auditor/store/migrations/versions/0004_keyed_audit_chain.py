"""The audit chain is keyed, and campaign signing keys leave the database sealed.

Each audit entry names the key (in the key ring outside the database)
whose HMAC links it; entries of an older store keep a NULL key id and
verify as the unkeyed legacy part of the chain. Each campaign's signing
key, until now stored in clear (``hmac_key``), is sealed with AES-GCM
under the key ring (``signing_key``) and the clear column is dropped; the
store overwrites freed pages (``secure_delete``), so the clear keys do not
linger in the file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(16)))
    conn = op.get_bind()
    clear = conn.execute(sa.text("SELECT id, hmac_key FROM campaigns")).all()
    keyring = context.config.attributes.get("keyring")
    if clear and keyring is None:
        raise RuntimeError("sealing the campaigns' signing keys needs the store's key ring (open it with Store.open)")
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("signing_key", sa.Text))
    for campaign_id, key in clear:
        sealed = keyring.seal(bytes.fromhex(key), f"campaign {campaign_id} signing key")
        conn.execute(sa.text("UPDATE campaigns SET signing_key = :k WHERE id = :i"), {"k": sealed, "i": campaign_id})
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("hmac_key")
