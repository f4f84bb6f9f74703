"""Alembic environment: migrations run on the connection the caller hands in (see idp.db)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from idp.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the `alembic` command line: use DATABASE_URL
        import os

        engine = create_engine(os.environ["DATABASE_URL"])
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
