"""PostgreSQL: the schema (SQLAlchemy models), its Alembic migrations and connection helpers."""
