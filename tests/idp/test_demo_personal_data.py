"""The demo portal keeps the ID-token claims and userinfo it received on the server: the session
cookie is signed, not encrypted, so anything in it is readable by whoever holds the cookie."""
from __future__ import annotations

import base64
import json
import secrets
import zlib

import pytest
import requests

from idp.app import create_app

from idp_helpers import PASSWORD
from page_walk import walk_login

PHONE = "+998935556677"


def _cookie_text(app, value: str) -> str:
    """The session cookie decoded: checked with the app's key, and its raw payload too."""
    data = app.session_interface.get_signing_serializer(app).loads(value)
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    return json.dumps(data) + raw.decode("utf-8", "replace")


@pytest.fixture()
def demo_login(live):
    """A person logs in to the demo portal; returns (app, issuer, browser, their sub)."""
    app, issuer = live
    svc = app.extensions["yagona"]
    login = f"demo-{secrets.token_hex(3)}"
    with svc.db.session() as s:
        sub = svc.accounts.register(s, login=login, password=PASSWORD, phone=PHONE, accept_terms=True,
                                    first_name="Shahnoza", last_name="Yusupova").public_id
    browser = requests.Session()
    back, _ = walk_login(browser, f"{issuer}/demo/login", login, PASSWORD, stop_at=f"{issuer}/demo/callback")
    resp = browser.get(back, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/demo"), resp.text[:400]
    return app, issuer, browser, sub


def test_session_cookie_holds_no_claims_phone_or_sub(demo_login):
    app, issuer, browser, sub = demo_login
    page = browser.get(f"{issuer}/demo").text  # the demo still shows what it received
    assert sub in page and "998935556677" in page and "Shahnoza" in page
    cookie = browser.cookies.get(app.config["SESSION_COOKIE_NAME"])
    text = _cookie_text(app, cookie)
    for secret in (sub, "998935556677", "Shahnoza", "Yusupova", "phone_number", "id_token", "userinfo",
                   "given_name", "nonce\": \"", "at_hash"):
        assert secret not in text, f"{secret!r} is in the session cookie: {text[:300]}"


def test_another_worker_shows_the_same_result(demo_login, live):
    """Workers share nothing in memory: a second app on the same instance serves the result too."""
    app, issuer, browser, sub = demo_login
    other = create_app(app.extensions["yagona"].settings)
    client = other.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], browser.cookies.get(app.config["SESSION_COOKIE_NAME"]),
                      domain="localhost")
    page = client.get("/demo").text
    assert sub in page and "998935556677" in page


@pytest.mark.parametrize("forged", ["../../secret.key", "x" * 5000, "", "AAAAAAAAAAAAAAAAAAAAAA"])
def test_an_unknown_or_hostile_result_id_shows_the_empty_demo(live, forged):
    app, issuer = live
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        cookie = serializer.dumps({"demo_result": forged})
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain="localhost")
    resp = client.get("/demo")
    assert resp.status_code == 200 and 'id="userinfo"' not in resp.text
