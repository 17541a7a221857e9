"""`pos migrate`: Alembic driven from code, so it works from an installed package.

The migrations ship inside the package (``pos/db/migrations``); no ``alembic.ini`` is needed
at run time. The root ``alembic.ini`` only serves people who call ``alembic`` by hand.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from pos.db import dsn

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(sqlalchemy_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is a ConfigParser: a "%" (an escaped character in a password or an
    # option) would be read as interpolation unless doubled.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return cfg


def _sqlalchemy_url(database_url: str) -> str:
    """DATABASE_URL's form (``DatabaseSettings.database_url``) with the driver named."""
    return dsn.parse(database_url).sqlalchemy()


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(_sqlalchemy_url(database_url)), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(_sqlalchemy_url(database_url)), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine(_sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
