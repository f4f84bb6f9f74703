#!/usr/bin/env python3
"""One-step set-up for a fresh machine: `python3 dev.py serve`, `python3 dev.py test` or `python3 dev.py lint`.

It needs only Python 3.11+. It creates `.venv`, installs the project into it (again only
when pyproject.toml changed), installs the few system tools the tests use when it runs as
root on Debian (softhsm2 for the PKCS#11 keystore, openssl for interop), then runs the
service or the test suite. Extra arguments go to `yagona serve` or to pytest. `lint` runs
`ruff check .` and `mypy` (both configured in pyproject.toml) and fails if either finds anything.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("YAGONA_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
SYSTEM_TOOLS = {"softhsm2-util": "softhsm2", "openssl": "openssl", "chromium": "chromium"}


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Yagona needs Python 3.11 or newer; this is " + sys.version.split()[0])
    if not (BIN / "python").exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    say(f"installing yagona{'[' + extras + ']' if extras else ''} and its dependencies")
    subprocess.check_call([str(BIN / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    subprocess.check_call([str(BIN / "python"), "-m", "pip", "install", "-q", "-e", target])
    stamp.write_text(digest)


def ensure_system_tools() -> None:
    missing = [pkg for tool, pkg in SYSTEM_TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        say(f"missing system packages {missing}: install them (Debian: apt-get install {' '.join(missing)});"
            " the tests that need them will fail until then")
        return
    say(f"installing system packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.check_call(["apt-get", "update", "-qq"], env=env)
    subprocess.check_call(["apt-get", "install", "-y", "-qq", *missing], env=env)


def lint() -> int:
    """ruff, then mypy, from the venv; non-zero if either complains (both always run)."""
    ruff = subprocess.call([str(BIN / "python"), "-m", "ruff", "check", "."], cwd=ROOT)
    mypy = subprocess.call([str(BIN / "python"), "-m", "mypy"], cwd=ROOT)
    return ruff or mypy


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "lint"}:
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "serve":
        ensure_venv("")
        # development mode: the registry fixture, SMS outbox and test cards stand in for the real systems
        env = dict(os.environ, YAGONA_DEV="1")
        return subprocess.call([str(BIN / "yagona"), "serve", *rest], cwd=ROOT, env=env)
    if cmd == "lint":
        ensure_venv("test")
        return lint()
    ensure_venv("test")
    ensure_system_tools()
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
