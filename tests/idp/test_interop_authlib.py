"""An independent relying-party library (Authlib) against the running service over real HTTP:
discovery, PKCE authorization URL, the login form, code exchange, ID-token validation
(signature, iss, aud, nonce, at_hash), userinfo, refresh, introspection, revocation, logout."""
from __future__ import annotations

import re
import secrets
from urllib.parse import urljoin

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from idp.clients import add_client

from idp_helpers import PASSWORD


def _walk_login(browser: requests.Session, url: str, login: str, password: str, stop_at: str) -> str:
    """Follow the IdP's pages like a person: fill the login form, allow consent; return the
    URL the IdP finally redirects to (the portal's callback)."""
    for _ in range(10):
        resp = browser.get(url, allow_redirects=False) if not isinstance(url, tuple) else \
            browser.post(url[0], data=url[1], allow_redirects=False)
        if resp.status_code in (301, 302, 303):
            url = urljoin(resp.url, resp.headers["Location"])
            if url.startswith(stop_at):
                return url
            continue
        assert resp.status_code == 200, resp.text[:400]
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', resp.text).group(1)
        iid = re.search(r'name="i" value="([^"]+)"', resp.text)
        form = {"csrf_token": csrf, **({"i": iid.group(1)} if iid else {})}
        action = re.search(r'<form method="post" action="([^"]+)"', resp.text).group(1)
        if 'name="password"' in resp.text:
            form.update(login=login, password=password)
        else:
            form["decision"] = "allow"
        url = (urljoin(resp.url, action), form)
    raise AssertionError("login did not finish")


def test_authlib_relying_party_full_cycle(live):
    app, issuer = live
    svc = app.extensions["yagona"]
    callback = "http://127.0.0.1:9/callback"  # never fetched: the test stops at the redirect
    bye = "http://127.0.0.1:9/bye"
    login = f"authlib-{secrets.token_hex(3)}"
    with svc.db.session() as s:
        new = add_client(s, "Authlib portal", [callback], [bye], ["openid", "profile", "email", "phone", "pinfl"])
        person = svc.accounts.register(s, login=login, password=PASSWORD, phone="+998 90 111 22 33",
                                       accept_terms=True, email=f"{login}@example.uz", first_name="Dilnoza",
                                       last_name="Rahimova", pinfl="31234567890123")
        sub = person.public_id

    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == issuer and meta["code_challenge_methods_supported"] == ["S256"]

    rp = OAuth2Session(new.client.client_id, new.secret, scope="openid profile email phone pinfl",
                       redirect_uri=callback, code_challenge_method="S256",
                       token_endpoint_auth_method="client_secret_basic")
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    auth_url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                  nonce=nonce)
    browser = requests.Session()
    redirected = _walk_login(browser, auth_url, login, PASSWORD, stop_at=callback)

    token = rp.fetch_token(meta["token_endpoint"], authorization_response=redirected, code_verifier=verifier,
                           state=state)
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
    claims = jwt.decode(token["id_token"], jwks, claims_cls=CodeIDToken,
                        claims_options={"iss": {"essential": True, "value": issuer}},
                        claims_params={"nonce": nonce, "client_id": new.client.client_id,
                                       "access_token": token["access_token"]})
    claims.validate()  # exp, iat, aud, nonce, at_hash, auth_time
    assert claims["sub"] == sub and claims["acr"] == "http://eidas.europa.eu/LoA/low"

    info = rp.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == sub and info["pinfl"] == "31234567890123"
    assert info["phone_number"] == "+998901112233" and info["given_name"] == "Dilnoza"

    old_refresh = token["refresh_token"]
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert refreshed["refresh_token"] != old_refresh
    assert rp.get(meta["userinfo_endpoint"]).status_code == 200

    intro = rp.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    assert intro["active"] is True and intro["sub"] == sub and intro["client_id"] == new.client.client_id

    assert rp.revoke_token(meta["revocation_endpoint"], token=refreshed["access_token"],
                           token_type_hint="access_token").status_code == 200
    assert rp.get(meta["userinfo_endpoint"]).status_code == 401
    intro = rp.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
    assert intro == {"active": False}

    # RP-initiated logout with the ID token as hint goes straight back to the registered URI
    resp = browser.get(meta["end_session_endpoint"], allow_redirects=False, params={
        "id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": bye, "state": "s1"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"{bye}?state=s1"
    # the session's grant is gone: the refresh token no longer works
    with pytest.raises(Exception) as exc:
        rp.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert "invalid_grant" in str(exc.value)
    # and the browser must log in again
    again = browser.get(auth_url, allow_redirects=False)
    assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_authlib_client_secret_post(live):
    app, issuer = live
    svc = app.extensions["yagona"]
    callback = "http://localhost:9/cb"
    with svc.db.session() as s:
        new = add_client(s, "Post portal", [callback])
        login = f"post-{secrets.token_hex(3)}"
        svc.accounts.register(s, login=login, password=PASSWORD, phone="901112233", accept_terms=True)
    rp = OAuth2Session(new.client.client_id, new.secret, scope="openid", redirect_uri=callback,
                       code_challenge_method="S256", token_endpoint_auth_method="client_secret_post")
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(f"{issuer}/authorize", code_verifier=verifier, nonce="n")
    redirected = _walk_login(requests.Session(), url, login, PASSWORD, stop_at=callback)
    token = rp.fetch_token(f"{issuer}/token", authorization_response=redirected, code_verifier=verifier)
    assert "id_token" in token and token["token_type"] == "Bearer"


def test_embedded_demo_portal_logs_in_over_http(live):
    """The demo portal a newcomer starts with is a real relying party of the running issuer."""
    app, issuer = live
    svc = app.extensions["yagona"]
    login = f"demo-{secrets.token_hex(3)}"
    with svc.db.session() as s:
        sub = svc.accounts.register(s, login=login, password=PASSWORD, phone="901112233", accept_terms=True,
                                    first_name="Bobur").public_id
    browser = requests.Session()
    back = _walk_login(browser, f"{issuer}/demo/login", login, PASSWORD, stop_at=f"{issuer}/demo/callback")
    page = browser.get(back)  # the demo exchanges the code over HTTP and shows the claims
    assert page.status_code == 200, page.text[:300]
    assert f'"sub": "{sub}"' in page.text and "Bobur" in page.text
