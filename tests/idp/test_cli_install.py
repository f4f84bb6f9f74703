"""A plain `pip install` (no extras) runs with every setting the README documents.

The suite's own venv has the test extras, which would hide a dependency that only they bring
(`redis` was one): so this builds a fresh venv from the work tree and starts `yagona serve` from it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
import venv
from pathlib import Path

import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
#: db 3 is this suite's own on the shared local Redis
REDIS_URL = "redis://127.0.0.1:6379/3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory) -> Path:
    """bin/ of a new venv holding `pip install <work tree>` and nothing else."""
    target = tmp_path_factory.mktemp("plain-venv")
    venv.EnvBuilder(with_pip=True).create(target)
    out = subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return target / "bin"


@pytest.mark.slow
def test_plain_install_serves_with_redis_url(plain_install, tmp_path):
    assert subprocess.run([str(plain_install / "python"), "-c", "import pytest"],
                          capture_output=True).returncode != 0, "the plain install must not hold the test extras"
    redis.Redis.from_url(REDIS_URL).ping()  # the local Redis is part of the set-up: unreachable fails, never skips
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YAGONA_", "DATABASE_URL"))}
    env.update(REDIS_URL=REDIS_URL, YAGONA_INSTANCE=str(tmp_path / "instance"), YAGONA_DEV="1")
    proc = subprocess.Popen([str(plain_install / "yagona"), "serve", "--port", str(port), "--workers", "1"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, meta = f"http://127.0.0.1:{port}", None
    try:
        deadline = time.monotonic() + 90
        while meta is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=2).json()
            except requests.RequestException:
                time.sleep(0.3)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert meta is not None, f"yagona serve from a plain install did not start:\n{out[-3000:]}"
    assert meta["issuer"] == base
