"""outbox: index on aggregate_id, for the publisher's reconciler

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:00:00

The reconciler asks, for each old PENDING order, whether one of its events is still
waiting or was published recently; without this index every such question is a scan of
the whole outbox. Built CONCURRENTLY (outside the migration's transaction): the outbox
takes every order, and a plain CREATE INDEX would block the API's inserts while it runs.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_outbox_aggregate_id",
            "outbox",
            ["aggregate_id"],
            unique=False,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_outbox_aggregate_id",
            table_name="outbox",
            postgresql_concurrently=True,
            if_exists=True,
        )
