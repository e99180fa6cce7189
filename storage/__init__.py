"""Persistence: SQLModel models, the engine and sessions, queries and Alembic migrations."""
