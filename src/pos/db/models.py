"""The schema, declared once with SQLAlchemy 2; Alembic migrations are written against it.

The hot paths (intake, outbox relay, consumer updates) issue hand-tuned SQL through asyncpg
for speed, but every table and index they touch is declared here, so this file is the one
place to read the data model.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names keep Alembic autogenerate and downgrades stable.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES = ("PENDING", "SUCCESS", "FAILED")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    # Money is integer minor units (cents): floats cannot represent 0.10 exactly.
    total_amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), server_default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt_ref: Mapped[str | None] = mapped_column(String(128))
    # The key the till sent, kept on the order for ever: the idempotency record that
    # replays the response expires, but no second order may ever carry the same key.
    idempotency_scope: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.line_no"
    )

    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'SUCCESS', 'FAILED')", name="status"),
        CheckConstraint("total_amount >= 0", name="total_amount_non_negative"),
        UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_orders_idempotency"),
        # Keyset pagination: newest first, optionally filtered by status.
        Index("ix_orders_created_at_id", "created_at", "id"),
        Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
        # A device lists only its own store's orders (migration 0002).
        Index("ix_orders_store_created_at_id", "store_id", "created_at", "id"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[OrderRow] = relationship(back_populates="items")

    __table_args__ = (
        CheckConstraint("quantity BETWEEN 1 AND 10000", name="quantity_range"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    )


class IdempotencyRecord(Base):
    """One request's key, its fingerprint and the response to replay.

    ``scope`` is part of the key from day one: today every till shares one scope; once
    devices authenticate, the scope becomes the device, with no change to this table.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class OutboxEvent(Base):
    """An event committed with the state change it describes, waiting to be relayed to Kafka.

    ``id`` is an identity column so "oldest first" is a cheap index scan; ``event_id`` is the
    identity consumers see (Kafka header ``event-id``).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    aggregate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(249))
    # The serialized event, produced to Kafka byte for byte: the relay never re-encodes.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when a row failed too often (a poison event): it stops being claimed until re-queued.
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Earliest time the row may be claimed again after a failed delivery (back-off).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The relay's only query: unpublished, not parked, oldest first. A partial index
        # stays as small as the backlog however large the table grows.
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("NOT published AND parked_at IS NULL"),
        ),
        Index("ix_outbox_published_at", "published_at", postgresql_where=text("published")),
        # The reconciler's look-up of an order's events.
        Index("ix_outbox_aggregate_id", "aggregate_id"),
    )


class DeviceKey(Base):
    """An API key issued to one till; only the SHA-256 of its secret is kept.

    ``key_id`` is the public half of the key (``pos_<key_id>_<secret>``), so the API finds
    the row with a primary-key lookup. A revoked key stays for the audit trail; the partial
    unique index allows one *active* key per device, so re-issuing means revoking first.
    """

    __tablename__ = "devices"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("octet_length(key_hash) = 32", name="key_hash_sha256"),
        Index(
            "uq_devices_active_store_device",
            "store_id",
            "device_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class ApiSecret(Base):
    """A server-side key every API worker must share (the cursor signing key), generated
    by the first API process when no setting provides it."""

    __tablename__ = "api_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("octet_length(secret) >= 16", name="length"),)
