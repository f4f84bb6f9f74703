#!/usr/bin/env python3
"""Can a failed login tell a real login from an unknown one by its time?

    python benchmarks/failed_login.py [--samples N] [--database-url URL]

Drives the real app (app factory, real database, real Argon2id, rate limits on: each post comes
from its own client address, as from separate citizens) through its WSGI interface in one thread,
and prints the median time of a wrong password for a real login and for an unknown one, and of the
"too many attempts" answer for both, with the ratio real/unknown (1.00 = indistinguishable). The
two kinds of post alternate, so drift in the machine's load falls on both alike. SQLite in a
temporary folder by default; a PostgreSQL database given is emptied first.
"""
from __future__ import annotations

import argparse
import itertools
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from idp.app import create_app  # noqa: E402
from idp.config import Settings  # noqa: E402

PASSWORD = "correct horse battery staple"
_addresses = itertools.count(1)


def post_login(app, login: str, password: str) -> tuple[float, str]:
    """One failed login by a fresh client (own address); returns (seconds for the POST, message key)."""
    n = next(_addresses)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    start = time.perf_counter()
    resp = client.post("/login", data={"csrf_token": csrf, "login": login, "password": password})
    elapsed = time.perf_counter() - start
    return elapsed, re.search(r'data-error="([^"]+)"', resp.text).group(1)


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100, help="failed logins of each kind (default 100)")
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql"):
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        settings = Settings(instance_path=Path(tmp), database_url=url, issuer="http://bench",
                            secret_key=secrets.token_hex(32).encode(), dev=True)
        app = create_app(settings, migrate=True)
        svc = app.extensions["yagona"]
        per_login = settings.lockout_threshold - 1  # stay below the lockout while timing wrong passwords
        real = []
        with svc.db.session() as s:
            for i in range((args.samples + per_login - 1) // per_login):
                login = f"bench{i}-{secrets.token_hex(3)}"
                svc.accounts.register(s, login=login, password=PASSWORD, phone="+998901234567", accept_terms=True)
                real.append(login)
        unknown = [f"nobody{i}-{secrets.token_hex(3)}" for i in range(len(real))]
        post_login(app, unknown[0] + "-warm-up", "wrong password")

        wrong = {"real": [], "unknown": []}
        for i in range(args.samples):
            for kind, logins in (("real", real), ("unknown", unknown)):
                elapsed, key = post_login(app, logins[i // per_login], f"wrong password {i}")
                assert key == "login_failed", key
                wrong[kind].append(elapsed)

        locked = {"real": [], "unknown": []}
        targets = {"real": real[-1], "unknown": unknown[-1]}
        for login in targets.values():  # lock one of each: the threshold's failures
            while post_login(app, login, "wrong password")[1] != "account_locked":
                pass
        for _ in range(args.samples):
            for kind, login in targets.items():
                elapsed, key = post_login(app, login, "wrong password")
                assert key == "account_locked", key
                locked[kind].append(elapsed)

    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"failed logins on {db}, {args.samples} of each kind, median milliseconds per POST /login:")
    for name, times in (("wrong password", wrong), ("too many attempts", locked)):
        r, u = median_ms(times["real"]), median_ms(times["unknown"])
        print(f"  {name:18} real login {r:7.2f}   unknown login {u:7.2f}   ratio real/unknown {r / u:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
