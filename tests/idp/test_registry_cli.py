"""`yagona registry list|add` and development mode, through the real `yagona` process."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

YAGONA = str(Path(sys.executable).with_name("yagona"))


@pytest.fixture()
def run(database_url, settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAGONA_")}
    env.update(DATABASE_URL=database_url, YAGONA_INSTANCE=str(tmp_path / "instance"),
               YAGONA_SECRET_KEY=settings.secret_key.decode(), YAGONA_DEV="1")

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([YAGONA, *args], capture_output=True, text=True, env={**env, **extra}, timeout=120)

    run.env = env
    return run


ADD = ["registry", "add", "--pinfl", "41503851234560", "--passport", "AC 7654321", "--birth-date", "1985-03-15",
       "--first-name", "Oʻgʻiloy", "--last-name", "Gʻulomova", "--middle-name", "Shuhratovna",
       "--first-name-cyrillic", "Ўғилой", "--last-name-cyrillic", "Ғуломова"]


def test_list_shows_the_fixture_citizens(run):
    out = run("registry", "list", "--json")
    assert out.returncode == 0, out.stderr
    citizens = json.loads(out.stdout)
    assert len(citizens) >= 10
    first = citizens[0]
    assert {"pinfl", "passport", "birth_date", "first_name", "last_name", "middle_name",
            "first_name_cyrillic", "last_name_cyrillic"} <= set(first)
    text = run("registry", "list")
    assert text.returncode == 0 and first["pinfl"] in text.stdout and first["passport"] in text.stdout


def test_add_then_list_and_refuse_a_duplicate(run, tmp_path):
    out = run(*ADD)
    assert out.returncode == 0, out.stderr
    listed = {c["pinfl"]: c for c in json.loads(run("registry", "list", "--json").stdout)}
    mine = listed["41503851234560"]
    assert mine["passport"] == "AC7654321" and mine["birth_date"] == "1985-03-15"
    assert mine["first_name"] == "Oʻgʻiloy" and mine["last_name_cyrillic"] == "Ғуломова"
    assert mine["gender"] == "F"  # from the PINFL's first digit
    assert (tmp_path / "instance" / "registry.json").stat().st_mode & 0o777 == 0o600
    again = run(*ADD)
    assert again.returncode != 0 and "already" in again.stderr and len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("change, message", [
    (("--pinfl", "4150385123456"), "PINFL"),
    (("--pinfl", "4150385123456٠"), "PINFL"),
    (("--passport", "AC765432"), "passport"),
    (("--birth-date", "15.03.1985"), "birth date"),
    (("--birth-date", "2999-01-01"), "birth date"),
    (("--first-name", "Ali<script>"), "first name"),
    (("--first-name", ""), "first name"),
    (("--last-name-cyrillic", "Gulomova"), "Cyrillic"),
    (("--first-name", "A" * 101), "first name"),
    (("--gender", "X"), "gender"),
])
def test_add_refuses_bad_input_in_one_line_and_writes_nothing(run, tmp_path, change, message):
    args = list(ADD)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    out = run(*args)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "instance" / "registry.json").exists()


def test_refused_outside_development_mode(run, tmp_path):
    for args in (("registry", "list"), tuple(ADD)):
        out = run(*args, YAGONA_DEV="0")
        assert out.returncode != 0 and "YAGONA_DEV=1" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "instance" / "registry.json").exists()
    real = run("registry", "list", YAGONA_REGISTRY_URL="https://registry.example.uz/v1")
    assert real.returncode != 0 and "YAGONA_REGISTRY_URL" in real.stderr


def test_serve_refuses_to_start_without_dev_mode_or_a_registry(run, tmp_path):
    """A production start with no real registry: one line naming the setting, a non-zero exit."""
    env = {k: v for k, v in run.env.items() if k not in ("YAGONA_DEV", "DATABASE_URL", "YAGONA_SECRET_KEY")}
    proc = subprocess.Popen([YAGONA, "serve", "--port", str(_free_port()), "--workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("yagona serve started without a registry")
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "YAGONA_REGISTRY_URL" in lines[0] and "YAGONA_DEV=1" in lines[0], err
    assert "Traceback" not in out + err
    assert not (tmp_path / "instance" / "yagona.db").exists()  # refused before the database is made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dev_py_serve_runs_in_development_mode(tmp_path):
    """`python3 dev.py serve` starts `yagona serve` with YAGONA_DEV=1; here its venv's `yagona` is a
    stand-in that prints what it was given (dev.py itself runs unchanged)."""
    root = Path(__file__).resolve().parents[2]
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / "bin" / "yagona").write_text('#!/bin/sh\necho "YAGONA_DEV=$YAGONA_DEV args=$*"\n')
    (venv / "bin" / "yagona").chmod(0o755)
    # the install stamp dev.py keeps: nothing to install
    (venv / ".installed-base").write_text(hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest())
    env = {k: v for k, v in os.environ.items() if k != "YAGONA_DEV"}
    out = subprocess.run([sys.executable, str(root / "dev.py"), "serve", "--port", "9000"], capture_output=True,
                         text=True, env={**env, "YAGONA_VENV": str(venv)}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "YAGONA_DEV=1 args=serve --port 9000" in out.stdout
