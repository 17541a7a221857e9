"""Alembic environment: migrations run against the URL from settings, never a hard-coded one."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from pos.config import DatabaseSettings
from pos.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    # Unset only when the `alembic` command runs this by hand: its own process, so parsing
    # the settings here is parsing them once, at that process's entry point.
    return config.get_main_option("sqlalchemy.url") or DatabaseSettings().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
