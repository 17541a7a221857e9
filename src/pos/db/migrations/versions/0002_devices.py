"""devices: per-till API keys (hash only), one active key per (store, device); orders by store

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("octet_length(key_hash) = 32", name=op.f("ck_devices_key_hash_sha256")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_devices")),
    )
    op.create_index(
        "uq_devices_active_store_device",
        "devices",
        ["store_id", "device_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    # A device lists only its own store's orders: keyset pagination within a store.
    op.create_index(
        "ix_orders_store_created_at_id", "orders", ["store_id", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_store_created_at_id", table_name="orders")
    op.drop_index(
        "uq_devices_active_store_device",
        table_name="devices",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.drop_table("devices")
