"""Helpers for the IdP tests: the test password, portal and account records, PKCE, and a
browser-like client that walks the login and consent pages with Flask's test client."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

PASSWORD = "correct horse battery"


@dataclass
class Portal:
    client_id: str
    secret: str
    redirect_uri: str
    post_logout_uri: str


@dataclass
class Account:
    login: str
    password: str
    public_id: str
    person_id: int


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class Browser:
    """Drives the IdP's pages with a Flask test client the way a person would."""

    def __init__(self, app) -> None:
        self.client = app.test_client()

    def authorize_params(self, portal: Portal, **overrides) -> tuple[dict, str]:
        verifier, challenge = pkce()
        params = {"response_type": "code", "client_id": portal.client_id, "redirect_uri": portal.redirect_uri,
                  "scope": "openid profile", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}, verifier

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def login(self, account: Account, location: str = "/login"):
        """Fill the login form at *location*; return the response to the POST."""
        page = self.client.get(location)
        assert page.status_code == 200, page.data[:300]
        form = {"csrf_token": csrf_from(page.text), "login": account.login, "password": account.password}
        rid = query_of(location).get("authz")
        if rid:
            form["authz"] = rid
        return self.client.post("/login", data=form)

    def consent(self, page_html: str, decision: str = "allow"):
        rid = re.search(r'name="authz" value="([^"]+)"', page_html).group(1)
        return self.client.post("/authorize/consent", data={"csrf_token": csrf_from(page_html), "authz": rid,
                                                            "decision": decision})

    def code_for(self, portal: Portal, account: Account, **overrides) -> tuple[dict, str, dict]:
        """Full front-channel flow; returns (redirect query, verifier, request params)."""
        params, verifier = self.authorize_params(portal, **overrides)
        resp = self.client.get("/authorize?" + urlencode(params))
        if resp.status_code == 302 and "/login" in resp.location:
            resp = self.login(account, resp.location)
            assert resp.status_code == 302, resp.text[:500]
            resp = self.client.get(resp.location)
        if resp.status_code == 200 and "/authorize/consent" in resp.text:
            resp = self.consent(resp.text)
        assert resp.status_code == 302, resp.text[:500]
        assert resp.location.startswith(portal.redirect_uri), resp.location
        return query_of(resp.location), verifier, params

    def token(self, portal: Portal, data: dict, auth: str = "basic"):
        if auth == "basic":
            return self.client.post("/token", data=data, auth=(portal.client_id, portal.secret))
        return self.client.post("/token", data={**data, "client_id": portal.client_id, "client_secret": portal.secret})

    def tokens_for(self, portal: Portal, account: Account, **overrides) -> dict:
        q, verifier, params = self.code_for(portal, account, **overrides)
        resp = self.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                   "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
        assert resp.status_code == 200, resp.json
        return resp.json
