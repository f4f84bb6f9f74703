"""Property tests: whatever a client or browser sends, no endpoint answers 5xx, and the
authorization endpoint never redirects anywhere but the IdP itself or a registered URI."""
from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

PARAMS = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "acr_values", "login_hint", "ui_locales", "request",
          "request_uri", "response_mode", "grant_type", "code", "code_verifier", "refresh_token", "client_secret",
          "token", "token_type_hint", "id_token_hint", "post_logout_redirect_uri", "i", "decision",
          "csrf_token", "login", "password", "password2", "phone", "email", "accept_terms", "confirm", "lang"]
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "openid", "code", "S256", "plain", "none", "login", "0", "-1", "99999999999",
                     "https://evil.example/cb", "javascript:alert(1)", "%00", "\x00", "\r\nSet-Cookie: a=b",
                     "a" * 5000, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "refresh_token", "authorization_code"]),
)
FORMS = st.dictionaries(st.sampled_from(PARAMS), TEXT, max_size=8)
ENDPOINTS = ["/authorize", "/authorize/continue", "/authorize/consent", "/authorize/cancel",
             "/token", "/userinfo", "/introspect",
             "/revoke", "/logout", "/login", "/register", "/password", "/"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _clean(form: dict[str, str]) -> dict[str, str]:
    return {k: v.replace("\x00", "") for k, v in form.items()}  # the test client cannot put NUL in a URL


@pytest.mark.parametrize("path", ENDPOINTS)
@FUZZ
@given(form=FORMS, method=st.sampled_from(["GET", "POST"]), auth=st.one_of(st.none(), TEXT))
def test_no_endpoint_answers_5xx(app, portal, path, form, method, auth):
    client = app.test_client()
    headers = {}
    if auth is not None:
        scheme = "Basic " if len(auth) % 2 else "Bearer "
        value = base64.b64encode(auth.encode()).decode() if scheme == "Basic " else \
            auth.encode("utf-8", "ignore").decode("latin-1")
        # a header cannot carry control characters on the wire (the test client refuses them too)
        headers["Authorization"] = scheme + "".join(c for c in value if c >= " " and c != "\x7f")
    if method == "GET":
        form = _clean(form)
    if "client_id" in form and len(form["client_id"]) % 3 == 0:
        form["client_id"] = portal.client_id  # reach past the client check now and then
    if "redirect_uri" in form and len(form["redirect_uri"]) % 2 == 0:
        form["redirect_uri"] = portal.redirect_uri
    if method == "GET":
        resp = client.get(path, query_string=form, headers=headers)
    else:
        resp = client.post(path, data=form, headers=headers)
    assert resp.status_code < 500, (path, method, form, resp.text[:300])
    if path == "/authorize" and resp.status_code in (301, 302, 303, 307, 308):
        location = resp.location
        assert location.startswith(("/login", "/authorize", portal.redirect_uri)), location


@pytest.mark.parametrize("path,form", [
    ("/token", {"grant_type": "refresh_token", "client_id": "a\x00b", "client_secret": "x", "refresh_token": "r"}),
    ("/token", {"grant_type": "refresh_token", "refresh_token": "r\x00"}),
    ("/login", {"login": "ab\x00c", "password": "x"}),
    ("/introspect", {"token": "t\x00", "client_id": "c\x00", "client_secret": "s"}),
    ("/revoke", {"token": "t\x00", "client_id": "c\x00", "client_secret": "s"}),
    ("/authorize", {"client_id": "c\x00", "redirect_uri": "x"}),
    ("/logout", {"client_id": "c\x00", "post_logout_redirect_uri": "https://x/\x00"}),
    ("/register", {"login": "a\x00bc", "password": "x" * 12, "password2": "x" * 12, "phone": "901234567"}),
])
def test_nul_characters_are_refused_not_crashed_on(app, portal, path, form):
    """PostgreSQL cannot hold NUL: such input must be a 400, not a database error."""
    resp = app.test_client().post(path, data=form, auth=(portal.client_id, portal.secret)
                                  if path == "/token" and "client_id" not in form else None)
    assert resp.status_code == 400
    assert "NUL" in resp.text


def test_nul_in_basic_credentials_is_invalid_client(app):
    raw = base64.b64encode(b"client\x00id:secret").decode()
    resp = app.test_client().post("/token", data={"grant_type": "refresh_token", "refresh_token": "r"},
                                  headers={"Authorization": f"Basic {raw}"})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
