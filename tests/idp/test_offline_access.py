"""`offline_access` (OIDC Core 11) and scope values the provider does not know (OIDC Core 3.1.2.1:
SHOULD be ignored), with Authlib as the relying party over real HTTP."""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session

from idp.clients import add_client

from idp_helpers import PASSWORD, query_of
from page_walk import walk_login


def test_authlib_asks_offline_access_and_an_unknown_scope_and_gets_a_refresh_token(live):
    app, issuer = live
    svc = app.extensions["yagona"]
    callback = "http://127.0.0.1:9/offline-callback"
    login = f"offline-{secrets.token_hex(3)}"
    with svc.db.session() as s:  # registered the usual way: offline_access is not among its scopes
        new = add_client(s, "Offline portal", [callback], [], ["openid", "profile"])
        sub = svc.accounts.register(s, login=login, password=PASSWORD, phone="+998 90 222 33 44",
                                    accept_terms=True, first_name="Malika").public_id

    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert "offline_access" in meta["scopes_supported"]

    rp = OAuth2Session(new.client.client_id, new.secret, scope="openid profile offline_access urn:example:unknown",
                       redirect_uri=callback, code_challenge_method="S256",
                       token_endpoint_auth_method="client_secret_basic")
    verifier = secrets.token_urlsafe(48)
    auth_url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=secrets.token_urlsafe(12))
    redirected, shown = walk_login(requests.Session(), auth_url, login, PASSWORD, stop_at=callback)
    assert "error" not in query_of(redirected), redirected
    assert shown == ["openid", "profile", "offline_access"]  # asked for, the unknown value left out

    token = rp.fetch_token(meta["token_endpoint"], authorization_response=redirected, code_verifier=verifier,
                           state=state)
    assert token["refresh_token"]
    assert token["scope"].split() == ["openid", "profile", "offline_access"]
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] and refreshed["refresh_token"] != token["refresh_token"]
    userinfo = requests.get(meta["userinfo_endpoint"], timeout=5,
                            headers={"Authorization": f"Bearer {refreshed['access_token']}"}).json()
    assert userinfo["sub"] == sub and userinfo["given_name"] == "Malika"


def test_consent_page_names_offline_access_in_each_language(browser, portal, account):
    params, _ = browser.authorize_params(portal, scope="openid offline_access")
    resp = browser.get("/authorize?" + urlencode(params))
    back = browser.login(account, resp.location).location  # /authorize/continue?i=...
    texts = set()
    for lang in ("uz", "ru", "en"):
        page = browser.get(f"{back}&lang={lang}").text
        item = re.search(r'data-scope="offline_access">([^<]+)<', page)
        assert item, page[:600]
        texts.add(item.group(1))
    assert len(texts) == 3 and not any("scope_" in text for text in texts), texts


def test_unknown_scope_values_are_ignored_but_openid_is_still_required(browser, portal, account):
    q, _, _ = browser.code_for(portal, account, scope="openid profile x-unknown-thing")
    assert "code" in q
    params, _ = browser.authorize_params(portal, scope="profile x-unknown-thing")
    answer = query_of(browser.get("/authorize?" + urlencode(params)).location)
    assert answer["error"] == "invalid_scope" and answer["state"] == params["state"]


def test_a_known_scope_the_portal_may_not_ask_is_still_refused(browser, make_portal, account):
    narrow = make_portal(scopes=["openid", "profile"])
    params, _ = browser.authorize_params(narrow, scope="openid pinfl offline_access")
    answer = query_of(browser.get("/authorize?" + urlencode(params)).location)
    assert answer["error"] == "invalid_scope" and "pinfl" in answer["error_description"]


def test_refresh_ignores_unknown_values_and_still_never_widens(browser, portal, account):
    body = browser.tokens_for(portal, account, scope="openid profile")
    resp = browser.token(portal, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                  "scope": "openid profile email x-unknown"})
    assert resp.status_code == 400 and resp.json["error"] == "invalid_scope"
    resp = browser.token(portal, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                  "scope": "openid x-unknown"})
    assert resp.status_code == 200, resp.json
    assert resp.json["scope"] == "openid"
