"""Engine and sessions: one engine per app, one session per request or command."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and foreign keys on SQLite, a pool on PostgreSQL.

    hide_parameters: a failed statement's error (logged with every 500) must not carry its values —
    phone numbers, PINFLs, password hashes."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, hide_parameters=True)
        path = sqlite_file(url)
        if path is not None:
            @event.listens_for(engine, "do_connect")
            def _owner_only_files(*_args) -> None:
                owner_only(path)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or a `file:` URI."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def owner_only(path: Path) -> None:
    """Make the SQLite file 0600 before SQLite opens it: SQLite would create it 0644 under the usual
    umask, and gives its -wal and -shm files the database file's mode. Files an older version left
    readable by others are tightened."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise OSError(f"cannot create the SQLite database {path}: {exc.strerror}") from None
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(f.stat().st_mode)
            if mode & 0o077:
                os.chmod(f, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            raise PermissionError(f"{f} is readable by other users and this user cannot change that: "
                                  f"run `chmod 600 {f}` as its owner") from None


class Database:
    """Holds the engine and hands out sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error: no half-written rows."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def upgrade(self) -> None:
        """Apply Alembic migrations up to head."""
        from alembic import command

        with self.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched. Session.execute is typed as returning a plain Result, but for
    those statements it returns a CursorResult, which carries the count."""
    return cast(CursorResult[Any], result).rowcount
