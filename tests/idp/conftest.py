"""IdP fixtures: one app on the test database, portals and accounts made through the real code,
and a browser-like helper that walks the login and consent pages."""
from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from idp.app import create_app
from idp.clients import add_client
from idp.config import Settings
from idp.context import Services
from idp.demo import ensure_demo_client
from idp_helpers import PASSWORD, Account, Browser, CitizenClient, Portal

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def settings(database_url, tmp_path_factory) -> Settings:
    instance = tmp_path_factory.mktemp("instance")
    return Settings(instance_path=instance, database_url=database_url, issuer="http://localhost",
                    secret_key=secrets.token_hex(32).encode(), dev=True)


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings, migrate=True)
    app.config["TESTING"] = True
    # the rate limits stay on: each test client is a separate citizen with its own address
    app.test_client_class = CitizenClient
    return app


@pytest.fixture()
def svc(app) -> Services:
    return app.extensions["yagona"]


@pytest.fixture()
def make_portal(svc):
    def make(scopes=None, min_acr="low", id_token_alg="ES256", extra_redirects=()) -> Portal:
        n = next(_counter)
        redirect_uri = f"https://portal{n}.example.uz/callback"
        with svc.db.session() as s:
            new = add_client(s, f"Portal {n}", [redirect_uri, *extra_redirects],
                             [f"https://portal{n}.example.uz/bye"],
                             scopes or ["openid", "profile", "email", "phone", "pinfl", "passport"],
                             min_acr, id_token_alg)
        return Portal(new.client.client_id, new.secret, redirect_uri, f"https://portal{n}.example.uz/bye")

    return make


@pytest.fixture()
def portal(make_portal) -> Portal:
    return make_portal()


@pytest.fixture()
def make_account(svc):
    def make(**profile) -> Account:
        login = f"citizen{next(_counter)}-{secrets.token_hex(3)}"
        with svc.db.session() as s:
            person = svc.accounts.register(s, login=login, password=PASSWORD, phone="+998901234567",
                                           accept_terms=True, email=f"{login}@example.uz", **profile)
            return Account(login, PASSWORD, person.public_id, person.id)

    return make


@pytest.fixture()
def account(make_account) -> Account:
    return make_account(first_name="Aziz", last_name="Karimov", pinfl=f"3{secrets.randbelow(10**13):013d}")


@pytest.fixture()
def browser(app) -> Browser:
    return Browser(app)


@pytest.fixture(scope="session")
def live(settings):
    """The IdP on a real socket (127.0.0.1, free port) with its issuer set to that address."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    live_settings = settings.with_(issuer=issuer, demo=True)
    app = create_app(live_settings, migrate=True)
    ensure_demo_client(live_settings, app.extensions["yagona"].db)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, issuer
    server.shutdown()


@pytest.fixture()
def run(database_url, settings, tmp_path):
    """`yagona` as a process on the suite's database, with the same instance secret as the app:
    run(*args, stdin="") -> CompletedProcess; `run.env` is its environment."""
    env = {**os.environ, "DATABASE_URL": database_url, "YAGONA_INSTANCE": str(tmp_path / "instance"),
           "YAGONA_SECRET_KEY": settings.secret_key.decode()}
    yagona = str(Path(sys.executable).with_name("yagona"))

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([yagona, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)

    run.env = env  # type: ignore[attr-defined]
    return run
