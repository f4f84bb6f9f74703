"""Helpers for the IdP tests: the test password, portal and account records, PKCE, a
browser-like client that walks the login and consent pages with Flask's test client, and
separate client addresses so that the per-IP rate limits stay on in every test."""
from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from flask.testing import FlaskClient

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


# -- client addresses: separate citizens come from separate addresses ---------------------------

# loopback addresses 127.x.y.z (x >= 1, so never 127.0.0.1), random per run: a real TCP client can
# bind them as its source, and a Redis shared between runs never sees one run's counters in another
_addresses = itertools.count(secrets.randbelow(200) * 65536 + 65536 + 1)


def new_address() -> str:
    """A client address no other test client of this run has used."""
    n = next(_addresses)
    if n % 256 in (0, 255):
        n = next(_addresses)
    return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class CitizenClient(FlaskClient):
    """A test client with its own client address (REMOTE_ADDR), as a separate citizen has."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.address = new_address()
        self.environ_base["REMOTE_ADDR"] = self.address


class HttpCitizen:
    """A person's browser over real HTTP from its own loopback address (the socket's source
    address), keeping the session cookie; enough of a browser to fill the account forms."""

    def __init__(self, base_url: str, address: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.address = address or new_address()
        self.cookies: dict[str, str] = {}

    def connect(self) -> http.client.HTTPConnection:
        """An open connection from this citizen's address (to send a request on later)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=(self.address, 0))
        conn.connect()
        return conn

    def request(self, method: str, path: str, form: dict | None = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], str]:
        """Send one request (on *conn* if given, else on a new connection) and read the answer."""
        conn = conn or self.connect()
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
            for value in resp.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text
        finally:
            conn.close()

    def csrf(self, path: str = "/login?lang=en") -> str:
        status, _, text = self.request("GET", path)
        assert status == 200, (status, text[:300])
        return csrf_from(text)

    def post_login(self, login: str, password: str, csrf: str | None = None,
                   conn: http.client.HTTPConnection | None = None) -> tuple[int, dict[str, str], str]:
        return self.request("POST", "/login?lang=en", {"csrf_token": csrf or self.csrf(), "login": login,
                                                       "password": password}, conn)


def error_key(html_text: str) -> str | None:
    """The message key a page shows (its data-error attribute), or None."""
    m = re.search(r'data-error="([^"]+)"', html_text)
    return m.group(1) if m else None


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
        iid = query_of(location).get("i")
        return self.client.post("/login?" + urlencode({"i": iid}) if iid else "/login", data=form)

    def consent(self, page_html: str, decision: str = "allow"):
        iid = re.search(r'name="i" value="([^"]+)"', page_html).group(1)
        return self.client.post("/authorize/consent", data={"csrf_token": csrf_from(page_html), "i": iid,
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
