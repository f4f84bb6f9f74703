"""Fixtures shared by the whole suite: the database under test.

DATABASE_URL picks the store (CI runs the suite once on SQLite and once on PostgreSQL);
unset, each run gets a fresh SQLite file. A PostgreSQL that cannot be reached fails the run.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'yagona-test.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        try:
            with engine.begin() as conn:  # start from an empty schema every run
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # unreachable PostgreSQL is a failure, never a skip
            pytest.exit(f"PostgreSQL at {url} is not reachable: {exc}", returncode=3)
        finally:
            engine.dispose()
    return url
