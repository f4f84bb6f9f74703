"""The SQLite database and its WAL and shared-memory files hold password hashes, tokens' hashes and
personal data: only the service's user may read them (0600), whatever the umask, whether the file
is new or was made by an older version."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from idp.db import Database

YAGONA = str(Path(sys.executable).with_name("yagona"))


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)  # the usual umask, under which SQLite makes its files 0644
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def test_new_database_wal_and_shm_files_are_0600(tmp_path, umask_022):
    path = tmp_path / "new.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as conn:  # held open: the -wal and -shm files exist while it is
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('+998901234567')"))
        conn.commit()
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        for f in _files(path):
            assert f.exists(), f
            assert _mode(f) == 0o600, f"{f.name} is {oct(_mode(f))}"
    database.engine.dispose()


def test_files_an_older_version_left_readable_are_tightened(tmp_path, umask_022):
    path = tmp_path / "old.db"
    old = Database(f"sqlite:///{path}")
    conn = old.engine.connect()  # the old files, -wal and -shm included, opened up to 0644
    conn.execute(text("CREATE TABLE t (x TEXT)"))
    conn.commit()
    for f in _files(path):
        os.chmod(f, 0o644)
    try:
        again = Database(f"sqlite:///{path}")
        with again.engine.connect() as second:
            assert second.execute(text("SELECT count(*) FROM t")).scalar() == 0
            for f in _files(path):
                assert _mode(f) == 0o600, f"{f.name} is {oct(_mode(f))}"
        again.engine.dispose()
    finally:
        conn.close()
        old.engine.dispose()


def test_in_memory_database_still_works():
    database = Database("sqlite://")
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_the_file_the_first_start_makes_in_the_instance_folder_is_0600(tmp_path):
    """`yagona init` (what `yagona serve` does first) on a fresh instance folder."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YAGONA_SECRET_KEY"}}
    env["YAGONA_INSTANCE"] = str(tmp_path / "inst")
    out = subprocess.run([YAGONA, "init"], env=env, capture_output=True, text=True, timeout=120,
                         umask=0o022)
    assert out.returncode == 0, out.stderr
    db = tmp_path / "inst" / "yagona.db"
    assert _mode(db) == 0o600, oct(_mode(db))
    for f in _files(db)[1:]:
        assert not f.exists() or _mode(f) == 0o600, f


def test_a_database_folder_that_does_not_exist_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "YAGONA_SECRET_KEY"}
    env.update(YAGONA_INSTANCE=str(tmp_path / "inst"), DATABASE_URL=f"sqlite:///{tmp_path / 'no' / 'such' / 'y.db'}")
    out = subprocess.run([YAGONA, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "no").exists()
