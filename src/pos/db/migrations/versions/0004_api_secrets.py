"""api_secrets: server-side keys shared by every API worker (the cursor signing key)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("octet_length(secret) >= 16", name=op.f("ck_api_secrets_length")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_secrets")),
    )


def downgrade() -> None:
    op.drop_table("api_secrets")
