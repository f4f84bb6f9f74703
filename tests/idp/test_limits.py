"""Limits on password guessing, tested with the limiter on and over real HTTP: the per-IP limits of
/login and /register (memory in one process, Redis shared by gunicorn workers), the per-account
lockout under real concurrency (16 simultaneous guesses), and that a real and an unknown login
cannot be told apart by answer or work (one Argon2 verification, the same database writes)."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import argon2
import pytest
from sqlalchemy import event, func, select, update

from idp.models import AuditEvent, Person, PersonState
from idp_helpers import PASSWORD, HttpCitizen, error_key
from werkzeug.serving import make_server

LOGIN_LIMIT, REGISTER_LIMIT = 30, 10  # the per-IP limits per minute (idp/limits.py)
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


# -- fixtures: the test app on a real socket, and a count of Argon2 work --------------------------

@pytest.fixture(scope="module")
def served(app) -> Iterator[str]:
    """The suite's app (limiter on, counters in memory) served threaded on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Argon2Count:
    """Counts the Argon2 verifications and hashes the argon2 library does (a spy on the library,
    our own code runs unchanged)."""

    def __init__(self, monkeypatch) -> None:
        self.verifies = self.hashes = 0
        self.started: list[str] = []  # the passwords, in the order their verification started
        self._lock = threading.Lock()
        verify, hash_ = argon2.PasswordHasher.verify, argon2.PasswordHasher.hash

        def counted_verify(hasher, stored, password, *args, **kwargs):
            with self._lock:
                self.verifies += 1
                self.started.append(password)
            return verify(hasher, stored, password, *args, **kwargs)

        def counted_hash(hasher, *args, **kwargs):
            with self._lock:
                self.hashes += 1
            return hash_(hasher, *args, **kwargs)

        monkeypatch.setattr(argon2.PasswordHasher, "verify", counted_verify)
        monkeypatch.setattr(argon2.PasswordHasher, "hash", counted_hash)

    def reset(self) -> None:
        self.verifies = self.hashes = 0
        self.started = []


@pytest.fixture()
def argon2_count(monkeypatch) -> Argon2Count:
    return Argon2Count(monkeypatch)


def unknown_login() -> str:
    return f"nobody-{secrets.token_hex(4)}"


def register_form(citizen: HttpCitizen, login: str) -> dict:
    return {"csrf_token": citizen.csrf("/register?lang=en"), "login": login, "phone": "+998901234567",
            "password": "Tashkent-2026-spring", "password2": "Tashkent-2026-spring", "accept_terms": "yes"}


# -- item 1: the per-IP limits are applied --------------------------------------------------------

def test_login_posts_from_one_address_are_limited(served):
    """Before: the limit was wrapped around a copy of the view and thrown away; 100 posts all got 400."""
    citizen = HttpCitizen(served)
    csrf = citizen.csrf()
    answers = [citizen.post_login(unknown_login(), "wrong password here", csrf) for _ in range(LOGIN_LIMIT)]
    assert [a[0] for a in answers] == [400] * LOGIN_LIMIT
    assert answers[-1][1]["x-ratelimit-limit"] == str(LOGIN_LIMIT)
    status, headers, text = citizen.post_login(unknown_login(), "wrong password here", csrf)
    assert status == 429 and error_key(text) == "too_many_requests"
    assert int(headers["retry-after"]) > 0 and headers["x-ratelimit-remaining"] == "0"
    assert citizen.request("GET", "/login")[0] == 200  # only the posts are limited
    # another citizen, another address: not limited
    assert HttpCitizen(served).post_login(unknown_login(), "wrong password here")[0] == 400


def test_registration_and_its_login_taken_answer_are_limited(served, account, svc):
    """The 'login taken' answer told which logins exist at 124 checks/s: it is behind the limit."""
    citizen = HttpCitizen(served)
    for _ in range(REGISTER_LIMIT):
        status, _, text = citizen.request("POST", "/register?lang=en", register_form(citizen, account.login))
        assert status == 400 and error_key(text) == "login_taken"
    with svc.db.session() as s:
        persons = s.scalar(select(func.count(Person.id)))
    status, headers, text = citizen.request("POST", "/register?lang=en", register_form(citizen, unknown_login()))
    assert status == 429 and error_key(text) == "too_many_requests" and "retry-after" in headers
    with svc.db.session() as s:
        assert s.scalar(select(func.count(Person.id))) == persons  # the refused one wrote nothing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, settings, tmp_path: Path, redis_url: str, workers: int) -> Iterator[str]:
    """The app factory under gunicorn, on the suite's database and secret, counting in *redis_url*."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "YAGONA_INSTANCE": str(tmp_path / "instance"),
           "YAGONA_SECRET_KEY": settings.secret_key.decode(), "REDIS_URL": redis_url,
           "YAGONA_DEV": "1"}
    proc = subprocess.Popen([GUNICORN, "-w", str(workers), "-b", f"127.0.0.1:{port}", "idp.app:create_app()"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if HttpCitizen(base).request("GET", "/login")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture()
def gunicorn_redis(app, database_url, settings, tmp_path) -> Iterator[str]:
    """Two gunicorn workers sharing their counters in Redis (db 1), on the database `app` migrated."""
    with gunicorn(database_url, settings, tmp_path, "redis://127.0.0.1:6379/1", workers=2) as base:
        yield base


def test_login_limit_is_shared_by_gunicorn_workers_through_redis(gunicorn_redis):
    """Each post opens a new connection, so both workers take a share; only a shared count stops
    the 31st. Counters kept per worker in memory would let up to 60 through."""
    citizen = HttpCitizen(gunicorn_redis)
    statuses = []

    def post() -> None:
        statuses.append(citizen.post_login(unknown_login(), "wrong password here", csrf)[0])

    csrf = citizen.csrf()
    threads = [threading.Thread(target=post) for _ in range(LOGIN_LIMIT + 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [400] * LOGIN_LIMIT + [429] * 10
    assert HttpCitizen(gunicorn_redis).post_login(unknown_login(), "wrong password here")[0] == 400


def test_a_redis_outage_keeps_the_limits_per_worker_and_no_login_fails(app, database_url, settings, tmp_path):
    """Before: with Redis unreachable every login post was a 500. Now each worker counts in memory
    until Redis is back."""
    with socket.socket() as closed:  # a port with nothing listening
        closed.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{closed.getsockname()[1]}/1"
        with gunicorn(database_url, settings, tmp_path, dead, workers=1) as base:
            citizen = HttpCitizen(base)
            csrf = citizen.csrf()
            statuses = [citizen.post_login(unknown_login(), "wrong password here", csrf)[0]
                        for _ in range(LOGIN_LIMIT + 1)]
    assert statuses == [400] * LOGIN_LIMIT + [429]


# -- item 2: the per-account lockout holds under real concurrency ----------------------------------

def race(served: str, login: str, passwords: list[str]) -> list[tuple[int, str | None]]:
    """Post every password for *login* at the same moment, each from its own address (so the per-IP
    limit plays no part); return (status, message key) of each answer."""
    citizens = [HttpCitizen(served) for _ in passwords]
    tokens = [c.csrf() for c in citizens]
    conns = [c.connect() for c in citizens]  # connected first: the posts then leave together
    start = threading.Barrier(len(passwords))
    answers: list[tuple[int, str | None]] = [(0, None)] * len(passwords)

    def go(i: int) -> None:
        start.wait()
        status, _, text = citizens[i].post_login(login, passwords[i], tokens[i], conns[i])
        answers[i] = (status, error_key(text))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(passwords))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_simultaneous_guesses_check_at_most_the_threshold(served, svc, make_account, argon2_count):
    """Before: 16 simultaneous posts (15 wrong, 1 right) had 10-11 wrong passwords checked against the
    hash where 5 is the limit, and the right one logged in and reset the counter.

    Now the right password is checked only if it won one of the threshold's reservations, so fewer
    than the threshold checks started before it; its success then clears the count, and the guesses
    still arriving meet a new window (at most the threshold again)."""
    account = make_account()
    threshold = svc.settings.lockout_threshold
    argon2_count.reset()
    guesses = [f"wrong guess {i:02d}" for i in range(15)] + [PASSWORD]
    answers = race(served, account.login, guesses)
    started = argon2_count.started
    if PASSWORD in started:
        assert started.index(PASSWORD) < threshold, started
        assert answers[-1][0] == 302
        assert len(started) - started.index(PASSWORD) - 1 <= threshold, started
    else:
        assert len(started) <= threshold and answers[-1] == (400, "account_locked"), (answers, started)
    checked = [a for a in answers if a == (400, "login_failed") or a[0] == 302]
    assert len(checked) == len(started)
    assert all(a == (400, "account_locked") for a in answers if a not in checked), answers


def test_right_password_after_simultaneous_wrong_guesses_waits(served, svc, make_account, argon2_count):
    """15 simultaneous wrong guesses, then the right password: it is told to wait, unchecked."""
    account = make_account()
    threshold = svc.settings.lockout_threshold
    argon2_count.reset()
    answers = race(served, account.login, [f"wrong guess {i:02d}" for i in range(15)])
    assert answers.count((400, "login_failed")) == threshold == argon2_count.verifies
    status, _, text = HttpCitizen(served).post_login(account.login, PASSWORD)
    assert (status, error_key(text)) == (400, "account_locked") and argon2_count.verifies == threshold


@pytest.mark.parametrize("known", [True, False], ids=["real-login", "unknown-login"])
def test_simultaneous_wrong_guesses_lock_real_and_unknown_logins_alike(served, svc, make_account,
                                                                       argon2_count, known):
    """16 simultaneous wrong passwords: exactly the threshold are checked (one Argon2 each) and the
    rest are told to wait, for a real login and for one that does not exist."""
    login = make_account().login if known else unknown_login()
    threshold = svc.settings.lockout_threshold
    argon2_count.reset()
    answers = race(served, login, [f"wrong guess {i:02d}" for i in range(16)])
    assert sorted(answers) == sorted([(400, "login_failed")] * threshold
                                     + [(400, "account_locked")] * (16 - threshold)), answers
    assert argon2_count.verifies == threshold


def test_simultaneous_guesses_across_gunicorn_workers_check_at_most_the_threshold(gunicorn_redis, svc,
                                                                                 make_account):
    """The same race against two worker processes: the count is in the database, so the workers
    share it; each checked guess leaves one login.failed audit row."""
    account = make_account()
    threshold = svc.settings.lockout_threshold
    answers = race(gunicorn_redis, account.login, [f"wrong guess {i:02d}" for i in range(16)])
    assert sorted(answers) == sorted([(400, "login_failed")] * threshold
                                     + [(400, "account_locked")] * (16 - threshold)), answers
    with svc.db.session() as s:
        failed = s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.person_id == account.person_id,
                                                                  AuditEvent.kind == "login.failed"))
    assert failed == threshold


# -- item 3: real and unknown logins answer and work alike ------------------------------------------

class Writes:
    """The data-changing statements (verb and table) the app's engine runs."""

    def __init__(self, engine) -> None:
        self.seen: list[str] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement: str, *_args) -> None:
        words = statement.split()
        verb = words[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            table = words[2] if verb in ("INSERT", "DELETE") else words[1]
            self.seen.append(f"{verb} {table.strip(chr(34))}")

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_wrong_password_costs_the_same_for_real_and_unknown_logins(app, svc, make_account, argon2_count):
    """Before: an unknown login wrote nothing and a real one wrote its counter (~5 ms slower)."""
    account = make_account()
    work = {}
    for name, login in (("real", account.login), ("unknown", unknown_login())):
        client = app.test_client()
        csrf = client.get("/login?lang=en").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        writes = Writes(svc.db.engine)
        argon2_count.reset()
        try:
            resp = client.post("/login?lang=en", data={"csrf_token": csrf, "login": login, "password": "wrong one!"})
        finally:
            writes.close()
        work[name] = (resp.status_code, error_key(resp.text), resp.text.count("Wrong login or password."),
                      argon2_count.verifies, writes.seen)
    assert work["real"] == work["unknown"], work
    assert work["real"][3] == 1 and work["real"][4]  # one Argon2 verification, and it did write


def test_unknown_login_is_locked_like_a_real_one(served, svc, make_account):
    """Before: after 5 failures a real login answered 'too many attempts' (and skipped the hash);
    an unknown login never did."""
    answers = {}
    for name, login in (("real", make_account().login), ("unknown", unknown_login())):
        citizen = HttpCitizen(served)
        seq = [citizen.post_login(login, f"wrong {i}") for i in range(svc.settings.lockout_threshold + 1)]
        answers[name] = [(status, error_key(text)) for status, _, text in seq]
        assert "Try again in 1 min." in seq[-1][2]
    assert answers["real"] == answers["unknown"]
    assert answers["real"][-1] == (400, "account_locked")


@pytest.mark.parametrize("state", [PersonState.BLOCKED, PersonState.CLOSED])
def test_blocked_account_answers_like_a_wrong_password(served, svc, make_account, state):
    """Before: a blocked account said 'blocked' only for the right password, which confirmed the
    password and the account. Now it gets the wrong-password answer, and the right password
    counts as a failure (so guesses at a blocked account are limited the same way)."""
    account = make_account()
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=state))
    citizen = HttpCitizen(served)
    right = citizen.post_login(account.login, PASSWORD)
    wrong = citizen.post_login(account.login, "wrong password here")
    unknown = HttpCitizen(served).post_login(unknown_login(), PASSWORD)
    assert (right[0], error_key(right[2])) == (wrong[0], error_key(wrong[2])) == (400, "login_failed")
    assert (unknown[0], error_key(unknown[2])) == (400, "login_failed")
    for _ in range(svc.settings.lockout_threshold - 2):
        citizen.post_login(account.login, PASSWORD)
    status, _, text = citizen.post_login(account.login, PASSWORD)
    assert (status, error_key(text)) == (400, "account_locked")
    with svc.db.session() as s:
        kinds = s.scalars(select(AuditEvent.kind).where(AuditEvent.person_id == account.person_id)).all()
    assert "login.succeeded" not in kinds


def test_taken_login_costs_a_password_hash_like_a_free_one(app, account, argon2_count):
    """Registration answers 'login taken' only after the same Argon2 work as a registration."""
    client = app.test_client()
    page = client.get("/register?lang=en").text
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    argon2_count.reset()
    resp = client.post("/register?lang=en", data={
        "csrf_token": csrf, "login": account.login, "phone": "+998901234567", "password": "Tashkent-2026-spring",
        "password2": "Tashkent-2026-spring", "accept_terms": "yes"})
    assert resp.status_code == 400 and error_key(resp.text) == "login_taken"
    assert argon2_count.hashes == 1
