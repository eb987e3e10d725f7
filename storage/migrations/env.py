"""Alembic environment: run with a connection handed over by ``storage.db.upgrade`` or, from the
alembic command line, with ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from storage.models import Base

target_metadata = Base.metadata
config = context.config


def _run(connection):  # type: ignore[no-untyped-def]
    if connection.dialect.name == "postgresql":
        # Two processes upgrading one database at once: the second waits, then finds it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(727270001)"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
