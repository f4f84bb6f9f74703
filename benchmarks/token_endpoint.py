#!/usr/bin/env python3
"""Token-endpoint and password-login throughput of one worker process.

    python benchmarks/token_endpoint.py [--refreshes N] [--logins N] [--pg URL] [--no-pg]

Drives the real app (Flask app factory, real database, real Argon2id, real ES256 keys)
through its WSGI interface in one process and one thread, so the figures are per core
and exclude HTTP parsing. Baselines measured in the same run show what bounds each figure:
the bare database work of a refresh (SQLAlchemy Core, same statements, one transaction),
ES256 signing, and one Argon2id verification. Targets from the issue: >= 1,000 refresh
grants/s and >= 40 password logins/s per core (Keycloak budgets 120 and 15 per vCPU).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text  # noqa: E402

from idp.app import create_app  # noqa: E402
from idp.clients import add_client  # noqa: E402
from idp.config import Settings  # noqa: E402
from idp.models import Grant, utcnow  # noqa: E402
from idp.tokens import FIND_REFRESH, INSERT_REFRESH, SPEND_REFRESH  # noqa: E402

PASSWORD = "correct horse battery staple"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def build(database_url: str, instance: Path):
    if database_url.startswith("postgresql"):
        from sqlalchemy import create_engine

        eng = create_engine(database_url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
        eng.dispose()
    settings = Settings(instance_path=instance, database_url=database_url, issuer="http://bench",
                        secret_key=secrets.token_hex(32).encode(), extra={"ratelimit": False}, dev=True)
    app = create_app(settings, migrate=True)
    svc = app.extensions["yagona"]
    with svc.db.session() as s:
        new = add_client(s, "Bench portal", ["https://bench.uz/cb"])
        svc.accounts.register(s, login="bench", password=PASSWORD, phone="+998901234567", accept_terms=True)
    return app, svc, new.client.client_id, new.secret


def first_tokens(app, client_id: str, secret: str) -> dict:
    c = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": "https://bench.uz/cb",
              "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"}
    r = c.get("/authorize?" + urlencode(params))
    page = c.get(r.location)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    rid = parse_qs(urlsplit(r.location).query)["authz"][0]
    r = c.post("/login", data={"csrf_token": csrf, "login": "bench", "password": PASSWORD, "authz": rid})
    r = c.get(r.location)
    if r.status_code == 200:  # first time: the consent page
        r = c.post("/authorize/consent", data={"csrf_token": csrf, "authz": rid, "decision": "allow"})
    code = parse_qs(urlsplit(r.location).query)["code"][0]
    r = c.post("/token", auth=(client_id, secret), data={"grant_type": "authorization_code", "code": code,
                                                         "redirect_uri": "https://bench.uz/cb",
                                                         "code_verifier": verifier})
    assert r.status_code == 200, r.json
    return r.json


def bench_refresh(app, client_id: str, secret: str, n: int) -> float:
    c = app.test_client()
    tokens = first_tokens(app, client_id, secret)
    rt = tokens["refresh_token"]
    for _ in range(20):  # warm-up
        rt = c.post("/token", auth=(client_id, secret), data={"grant_type": "refresh_token",
                                                              "refresh_token": rt}).json["refresh_token"]
    t0 = time.perf_counter()
    for _ in range(n):
        r = c.post("/token", auth=(client_id, secret), data={"grant_type": "refresh_token", "refresh_token": rt})
        rt = r.json["refresh_token"]
    return rate(n, time.perf_counter() - t0)


def bench_db_floor(svc, n: int) -> float:
    """The database work of one refresh alone, with the app's own prebuilt statements: read
    token+grant+person, spend it, insert the next, commit."""
    with svc.db.session() as s:
        gid = s.scalar(select(Grant.id).limit(1))
    eng = svc.db.engine

    def row(h: str) -> dict:
        return {"token_hash": h, "grant_id": gid, "created_at": utcnow(), "expires_at": utcnow(), "used_at": None}

    prev = secrets.token_hex(32)
    with eng.begin() as conn:
        conn.execute(INSERT_REFRESH, row(prev))
    t0 = time.perf_counter()
    for _ in range(n):
        nxt = secrets.token_hex(32)
        with eng.begin() as conn:
            conn.execute(FIND_REFRESH, {"h": prev}).first()
            conn.execute(SPEND_REFRESH, {"h": prev, "now": utcnow()})
            conn.execute(INSERT_REFRESH, row(nxt))
        prev = nxt
    return rate(n, time.perf_counter() - t0)


def bench_raw_ecdsa(n: int) -> float:
    """Machine calibration: cryptography's raw P-256 signing (the signing notes measured 55,248/s
    on the reference 2-vCPU machine)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    t0 = time.perf_counter()
    for _ in range(n):
        key.sign(b"calibration", ec.ECDSA(hashes.SHA256()))
    return rate(n, time.perf_counter() - t0)


def bench_sign(svc, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        svc.keys.sign({"iss": "x", "sub": str(i), "iat": 1, "exp": 2})
    return rate(n, time.perf_counter() - t0)


def bench_logins(app, n: int) -> float:
    c = app.test_client()
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    t0 = time.perf_counter()
    for _ in range(n):
        r = c.post("/login", data={"csrf_token": csrf, "login": "bench", "password": PASSWORD})
        assert r.status_code == 302, r.text[:200]
    return rate(n, time.perf_counter() - t0)


def bench_argon2(svc, n: int) -> float:
    stored = svc.passwords.hash(PASSWORD)
    t0 = time.perf_counter()
    for _ in range(n):
        assert svc.passwords.verify(stored, PASSWORD)
    return rate(n, time.perf_counter() - t0)


def run_threads(target, threads: int, counts: list[int]) -> float:
    """Run target(i) in *threads* threads; return the summed counts per second."""
    import threading

    t0 = time.perf_counter()
    workers = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return rate(sum(counts), time.perf_counter() - t0)


def bench_http(database_url: str, secret_key: bytes, seconds: float, threads: int) -> tuple[float, float]:
    """One gunicorn worker (gthread) pinned to core 0, driven over loopback HTTP by threads in
    this process pinned to the other core: (refresh grants/s, password logins/s)."""
    import json as _json
    import socket
    import subprocess

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tmp = tempfile.mkdtemp()
    env = {**os.environ, "DATABASE_URL": database_url, "YAGONA_INSTANCE": tmp, "YAGONA_LOG_LEVEL": "WARNING",
           "YAGONA_SECRET_KEY": secret_key.decode()}  # the keys already in the database are under this secret
    yagona = str(Path(sys.executable).with_name("yagona"))
    issuer = f"http://127.0.0.1:{port}"
    def cli(*a: str, stdin: str = "") -> str:
        out = subprocess.run([yagona, *a], env=env, input=stdin, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"yagona {a[0]} {a[1]}: {out.stderr.strip()}")
        return out.stdout

    info = _json.loads(cli("clients", "add", "HTTP bench", "--redirect-uri", "https://bench.uz/cb", "--json"))
    cli("users", "add", "httpbench", "--phone", "+998901234567", stdin=PASSWORD + "\n")
    server = subprocess.Popen([yagona, "serve", "--port", str(port), "--workers", "1", "--threads", str(threads),
                               "--no-demo"], env={**env, "YAGONA_ISSUER": issuer}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    try:
        for _ in range(200):
            try:
                requests.get(f"{issuer}/jwks", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        cid, secret = info["client_id"], info["client_secret"]

        def login_chain() -> str:
            s = requests.Session()
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            r = s.get(f"{issuer}/authorize", allow_redirects=False, params={
                "response_type": "code", "client_id": cid, "redirect_uri": "https://bench.uz/cb", "scope": "openid",
                "code_challenge": challenge, "code_challenge_method": "S256"})
            page = s.get(issuer + r.headers["Location"])
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            rid = parse_qs(urlsplit(r.headers["Location"]).query)["authz"][0]
            r = s.post(f"{issuer}/login", allow_redirects=False,
                       data={"csrf_token": csrf, "login": "httpbench", "password": PASSWORD, "authz": rid})
            r = s.get(issuer + r.headers["Location"], allow_redirects=False)
            if r.status_code == 200:
                r = s.post(f"{issuer}/authorize/consent", allow_redirects=False,
                           data={"csrf_token": csrf, "authz": rid, "decision": "allow"})
            code = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
            return requests.post(f"{issuer}/token", auth=(cid, secret), data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": "https://bench.uz/cb",
                "code_verifier": verifier}).json()["refresh_token"]

        chains = [login_chain() for _ in range(threads)]
        counts = [0] * threads
        stop = time.perf_counter() + seconds

        def refresher(i: int) -> None:
            s = requests.Session()
            rt = chains[i]
            while time.perf_counter() < stop:
                rt = s.post(f"{issuer}/token", auth=(cid, secret),
                            data={"grant_type": "refresh_token", "refresh_token": rt}).json()["refresh_token"]
                counts[i] += 1

        refresh_rate = run_threads(refresher, threads, counts)

        logins = [0] * threads
        stop = time.perf_counter() + seconds

        def login_loop(i: int) -> None:
            s = requests.Session()
            page = s.get(f"{issuer}/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            while time.perf_counter() < stop:
                r = s.post(f"{issuer}/login", allow_redirects=False,
                           data={"csrf_token": csrf, "login": "httpbench", "password": PASSWORD})
                assert r.status_code == 302, r.status_code
                logins[i] += 1

        return refresh_rate, run_threads(login_loop, threads, logins)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refreshes", type=int, default=2000)
    ap.add_argument("--logins", type=int, default=60)
    ap.add_argument("--pg", default=os.environ.get("DATABASE_URL") if os.environ.get("DATABASE_URL", "").startswith(
        "postgresql") else PG_DEFAULT)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--http", action="store_true",
                    help="also measure one gunicorn worker over loopback HTTP (server on core 0, load on core 1)")
    ap.add_argument("--http-seconds", type=float, default=10.0)
    ap.add_argument("--http-threads", type=int, default=8)
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    try:
        os.sched_setaffinity(0, {cores[0]})  # one core, as the targets are per core
    except (AttributeError, OSError):
        pass
    stores = [("SQLite", None)] + ([] if args.no_pg else [("PostgreSQL", args.pg)])
    print(f"Yagona token endpoint, one process, one thread, pinned to one core; {args.refreshes} refreshes, "
          f"{args.logins} logins per store")
    calib = bench_raw_ecdsa(5000)
    print(f"machine: raw ECDSA P-256 signing {calib:,.0f}/s with cryptography "
          f"({calib / 55248:.0%} of the 55,248/s the signing notes measured on the reference machine)\n")
    for label, url in stores:
        with tempfile.TemporaryDirectory() as tmp:
            url = url or f"sqlite:///{tmp}/bench.db"
            try:
                app, svc, cid, secret = build(url, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - report and go on with the other store
                print(f"{label}: cannot run ({exc.__class__.__name__}: {str(exc).splitlines()[0]})\n")
                continue
            refresh = bench_refresh(app, cid, secret, args.refreshes)
            floor = bench_db_floor(svc, args.refreshes)
            sign = bench_sign(svc, 2000)
            logins = bench_logins(app, args.logins)
            argon = bench_argon2(svc, args.logins)
            print(f"[{label}]")
            print(f"  refresh grants/s        {refresh:9.0f}   target 1,000 -> {refresh / 1000:5.2f}x; "
                  f"Keycloak 120/vCPU -> {refresh / 120:5.1f}x")
            print(f"    baseline: bare DB work of a refresh {floor:9.0f}/s  (app reaches {refresh / floor:5.0%} of it)")
            print(f"    baseline: ES256 JWT signing         {sign:9.0f}/s  (2 signatures per refresh)")
            print(f"  password logins/s       {logins:9.1f}   target 40 -> {logins / 40:5.2f}x; "
                  f"Keycloak 15/vCPU -> {logins / 15:5.1f}x")
            print(f"    baseline: one Argon2id verify       {argon:9.1f}/s  (app reaches {logins / argon:5.0%} of it; "
                  f"m={svc.settings.argon2_memory_kib} KiB, t={svc.settings.argon2_time_cost})")
            print()
            svc.db.engine.dispose()
            if args.http and len(cores) > 1:
                os.sched_setaffinity(0, {cores[-1]})
                try:
                    http_refresh, http_logins = bench_http(url, svc.settings.secret_key, args.http_seconds,
                                                           args.http_threads)
                finally:
                    os.sched_setaffinity(0, {cores[0]})
                print(f"  over HTTP, one gunicorn worker ({args.http_threads} threads) on one core, "
                      f"{args.http_threads} client threads on the other:")
                print(f"    refresh grants/s {http_refresh:9.0f}   password logins/s {http_logins:7.1f}")
                print()


if __name__ == "__main__":
    main()
