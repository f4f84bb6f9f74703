"""Refusals at the token endpoint (RFC 6749 §5.2, RFC 7636, RFC 9700): PKCE, redirect URI,
single-use codes and what a replay revokes, expiry, refresh-token rotation and family revocation,
scope on refresh, client authentication, malformed requests, blocked accounts."""
from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from idp.models import AuthorizationCode, Grant, Person, PersonState, RefreshToken
from idp.tokens import token_hash

from idp_helpers import Browser, pkce

ISSUER = "http://localhost"


# -- helpers -------------------------------------------------------------------------------

def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def code_request(code: str, verifier: str, redirect_uri: str) -> dict:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}


def refresh(browser: Browser, portal, token: str, **extra):
    return browser.token(portal, {"grant_type": "refresh_token", "refresh_token": token, **extra})


def assert_oauth_error(resp, error: str, status: int = 400) -> None:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/json"
    assert resp.json["error"] == error, resp.json
    assert resp.json.get("error_description")
    assert "access_token" not in resp.json and "refresh_token" not in resp.json and "id_token" not in resp.json
    assert resp.headers["Cache-Control"] == "no-store"


def userinfo(browser: Browser, access_token: str):
    return browser.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def introspect(browser: Browser, portal, token: str) -> dict:
    resp = browser.client.post("/introspect", data={"token": token}, auth=(portal.client_id, portal.secret))
    assert resp.status_code == 200, resp.json
    return resp.json


def assert_dead(browser: Browser, portal, body: dict) -> None:
    """Everything a token response gave is now refused: access token, refresh token."""
    info = userinfo(browser, body["access_token"])
    assert info.status_code == 401 and info.json["error"] == "invalid_token"
    assert introspect(browser, portal, body["access_token"]) == {"active": False}
    assert introspect(browser, portal, body["refresh_token"]) == {"active": False}
    assert_oauth_error(refresh(browser, portal, body["refresh_token"]), "invalid_grant")


def assert_alive(browser: Browser, portal, body: dict) -> None:
    info = userinfo(browser, body["access_token"])
    assert info.status_code == 200, info.json
    assert introspect(browser, portal, body["access_token"])["active"] is True


def grant_of(svc, code: str) -> Grant:
    with svc.db.session() as s:
        row = s.get(AuthorizationCode, token_hash(code))
        return s.get(Grant, row.grant_id)


def grant_of_refresh(svc, token: str) -> Grant:
    with svc.db.session() as s:
        rt = s.get(RefreshToken, token_hash(token))
        return s.get(Grant, rt.grant_id)


def count_refresh_tokens(svc, grant_id: str) -> int:
    with svc.db.session() as s:
        return len(s.scalars(select(RefreshToken.token_hash).where(RefreshToken.grant_id == grant_id)).all())


@pytest.fixture()
def code(browser, portal, account):
    """A fresh authorization code: (code, verifier)."""
    q, verifier, _ = browser.code_for(portal, account)
    return q["code"], verifier


# -- PKCE and redirect URI -------------------------------------------------------------------

def test_wrong_verifier_refused_and_code_spent(browser, portal, code, svc):
    c, verifier = code
    other, _ = pkce()
    assert_oauth_error(browser.token(portal, code_request(c, other, portal.redirect_uri)), "invalid_grant")
    # no second try with the right verifier: the code was spent by the failed attempt
    assert_oauth_error(browser.token(portal, code_request(c, verifier, portal.redirect_uri)), "invalid_grant")
    assert grant_of(svc, c).revoked_at is not None


def test_missing_verifier_refused(browser, portal, code):
    c, _ = code
    resp = browser.token(portal, {"grant_type": "authorization_code", "code": c, "redirect_uri": portal.redirect_uri})
    assert_oauth_error(resp, "invalid_grant")


@pytest.mark.parametrize("bad", ["", "short", "a" * 42, "a" * 129, "a" * 42 + " ", "ä" * 43])
def test_malformed_verifier_refused(browser, portal, account, bad):
    q, _, _ = browser.code_for(portal, account)
    assert_oauth_error(browser.token(portal, code_request(q["code"], bad, portal.redirect_uri)), "invalid_grant")


def test_challenge_itself_as_verifier_refused(browser, portal, account):
    """A `plain` downgrade: sending the challenge as the verifier must not match."""
    q, _, params = browser.code_for(portal, account)
    resp = browser.token(portal, code_request(q["code"], params["code_challenge"], portal.redirect_uri))
    assert_oauth_error(resp, "invalid_grant")


def test_redirect_uri_mismatch_at_token_endpoint(browser, make_portal, account):
    portal = make_portal(extra_redirects=("https://alt.example.uz/cb",))
    for sent in ("https://alt.example.uz/cb", portal.redirect_uri + "/", portal.redirect_uri.upper(), None):
        q, verifier, _ = browser.code_for(portal, account)
        data = code_request(q["code"], verifier, sent)
        if sent is None:
            del data["redirect_uri"]
        assert_oauth_error(browser.token(portal, data), "invalid_grant")


def test_missing_code_is_invalid_request(browser, portal):
    verifier, _ = pkce()
    resp = browser.token(portal, {"grant_type": "authorization_code", "redirect_uri": portal.redirect_uri,
                                  "code_verifier": verifier})
    assert_oauth_error(resp, "invalid_request")


@pytest.mark.parametrize("bad", ["nope", "x" * 600, "' OR 1=1 --"])
def test_unknown_code_refused(browser, portal, bad):
    verifier, _ = pkce()
    assert_oauth_error(browser.token(portal, code_request(bad, verifier, portal.redirect_uri)), "invalid_grant")


# -- single use, replay, expiry ------------------------------------------------------------------

def test_code_replay_refused_and_revokes_what_it_issued(browser, portal, code, svc):
    c, verifier = code
    first = browser.token(portal, code_request(c, verifier, portal.redirect_uri))
    assert first.status_code == 200
    body = first.json
    assert_alive(browser, portal, body)

    again = browser.token(portal, code_request(c, verifier, portal.redirect_uri))
    assert_oauth_error(again, "invalid_grant")
    assert_dead(browser, portal, body)
    grant = grant_of(svc, c)
    assert grant.revoked_at is not None and grant.revoked_reason == "code_replay"


def test_code_replay_by_post_auth_also_revokes(browser, portal, code):
    c, verifier = code
    body = browser.token(portal, code_request(c, verifier, portal.redirect_uri), auth="post").json
    assert "access_token" in body
    assert_oauth_error(browser.token(portal, code_request(c, verifier, portal.redirect_uri), auth="post"),
                       "invalid_grant")
    assert_dead(browser, portal, body)


def test_code_replay_revokes_tokens_already_refreshed(browser, portal, code):
    """The replay revokes the whole family, including tokens obtained by rotation since."""
    c, verifier = code
    body = browser.token(portal, code_request(c, verifier, portal.redirect_uri)).json
    rotated = refresh(browser, portal, body["refresh_token"]).json
    assert "access_token" in rotated
    assert_oauth_error(browser.token(portal, code_request(c, verifier, portal.redirect_uri)), "invalid_grant")
    assert_dead(browser, portal, rotated)


def test_expired_code_refused(browser, portal, code, svc):
    c, verifier = code
    with svc.db.session() as s:
        s.execute(update(AuthorizationCode).where(AuthorizationCode.code_hash == token_hash(c))
                  .values(expires_at=now() - dt.timedelta(seconds=1)))
    resp = browser.token(portal, code_request(c, verifier, portal.redirect_uri))
    assert_oauth_error(resp, "invalid_grant")
    assert "expired" in resp.json["error_description"]
    assert grant_of(svc, c).revoked_at is not None
    assert count_refresh_tokens(svc, grant_of(svc, c).id) == 0
    # and it stays refused
    assert_oauth_error(browser.token(portal, code_request(c, verifier, portal.redirect_uri)), "invalid_grant")


def test_code_lifetime_is_short(browser, portal, code, svc):
    c, _ = code
    with svc.db.session() as s:
        row = s.get(AuthorizationCode, token_hash(c))
        assert dt.timedelta(0) < row.expires_at - row.created_at <= dt.timedelta(seconds=600)
        assert row.expires_at - row.created_at == dt.timedelta(seconds=svc.settings.code_ttl)


def test_code_stored_only_as_hash(browser, portal, code, svc):
    c, _ = code
    with svc.db.session() as s:
        assert s.get(AuthorizationCode, c) is None
        assert s.get(AuthorizationCode, token_hash(c)) is not None


def test_code_of_another_client_refused(browser, make_portal, account, svc):
    owner, thief = make_portal(), make_portal()
    q, verifier, _ = browser.code_for(owner, account)
    resp = browser.token(thief, code_request(q["code"], verifier, owner.redirect_uri))
    assert_oauth_error(resp, "invalid_grant")
    resp = browser.token(thief, code_request(q["code"], verifier, thief.redirect_uri))
    assert_oauth_error(resp, "invalid_grant")
    with svc.db.session() as s:
        assert s.scalar(select(Grant.id).where(Grant.client_id == thief.client_id)) is None


# -- refresh tokens ------------------------------------------------------------------------------

def test_refresh_rotates_and_old_token_is_spent(browser, portal, account, svc):
    body = browser.tokens_for(portal, account)
    resp = refresh(browser, portal, body["refresh_token"])
    assert resp.status_code == 200, resp.json
    new = resp.json
    assert new["refresh_token"] != body["refresh_token"]
    assert new["access_token"] != body["access_token"]
    assert new["scope"] == body["scope"] and new["token_type"] == "Bearer"
    assert introspect(browser, portal, body["refresh_token"]) == {"active": False}
    assert introspect(browser, portal, new["refresh_token"])["active"] is True
    assert_alive(browser, portal, new)
    with svc.db.session() as s:
        old_row = s.get(RefreshToken, token_hash(body["refresh_token"]))
        assert old_row.used_at is not None
        assert s.get(RefreshToken, body["refresh_token"]) is None  # stored hashed


def test_spent_refresh_token_reuse_revokes_the_family(browser, portal, account, svc):
    body = browser.tokens_for(portal, account)
    second = refresh(browser, portal, body["refresh_token"]).json
    third = refresh(browser, portal, second["refresh_token"]).json
    assert_alive(browser, portal, third)

    reuse = refresh(browser, portal, body["refresh_token"])
    assert_oauth_error(reuse, "invalid_grant")
    # the newest refresh token of the family is dead too, and every access token inactive
    assert_dead(browser, portal, third)
    assert_dead(browser, portal, second)
    assert_dead(browser, portal, body)
    grant = grant_of_refresh(svc, third["refresh_token"])
    assert grant.revoked_at is not None and grant.revoked_reason == "refresh_reuse"


def test_refresh_reuse_does_not_touch_other_families(browser, portal, make_account):
    a, b = make_account(), make_account()
    ours = browser.tokens_for(portal, a)
    other = Browser(browser.client.application).tokens_for(portal, b)
    refresh(browser, portal, ours["refresh_token"])
    assert_oauth_error(refresh(browser, portal, ours["refresh_token"]), "invalid_grant")
    assert_alive(browser, portal, other)
    assert refresh(browser, portal, other["refresh_token"]).status_code == 200


def test_refresh_may_narrow_scope(browser, portal, account):
    body = browser.tokens_for(portal, account, scope="openid profile email")
    resp = refresh(browser, portal, body["refresh_token"], scope="openid email")
    assert resp.status_code == 200, resp.json
    assert resp.json["scope"] == "openid email"
    claims = introspect(browser, portal, resp.json["access_token"])
    assert claims["active"] is True and claims["scope"] == "openid email"
    info = userinfo(browser, resp.json["access_token"]).json
    assert "email" in info and "given_name" not in info and "name" not in info


@pytest.mark.parametrize("asked", ["openid profile email", "openid pinfl", "openid profile passport admin"])
def test_refresh_may_not_widen_scope(browser, portal, account, asked):
    body = browser.tokens_for(portal, account, scope="openid profile")
    assert_oauth_error(refresh(browser, portal, body["refresh_token"], scope=asked), "invalid_scope")
    # the refusal spent nothing: the token still refreshes
    ok = refresh(browser, portal, body["refresh_token"])
    assert ok.status_code == 200 and ok.json["scope"] == "openid profile"


def test_refresh_token_of_another_client_refused_and_not_spent(browser, make_portal, account):
    owner, thief = make_portal(), make_portal()
    body = browser.tokens_for(owner, account)
    assert_oauth_error(refresh(browser, thief, body["refresh_token"]), "invalid_grant")
    assert refresh(browser, owner, body["refresh_token"]).status_code == 200


@pytest.mark.parametrize("bad", ["", "nope", "x" * 600])
def test_unknown_refresh_token_refused(browser, portal, bad):
    resp = refresh(browser, portal, bad)
    assert_oauth_error(resp, "invalid_request" if bad == "" else "invalid_grant")


def test_expired_refresh_token_refused(browser, portal, account, svc):
    body = browser.tokens_for(portal, account)
    with svc.db.session() as s:
        s.execute(update(RefreshToken).where(RefreshToken.token_hash == token_hash(body["refresh_token"]))
                  .values(expires_at=now() - dt.timedelta(seconds=1)))
    assert_oauth_error(refresh(browser, portal, body["refresh_token"]), "invalid_grant")


def test_refresh_after_family_lifetime_refused(browser, portal, account, svc):
    body = browser.tokens_for(portal, account)
    gid = grant_of_refresh(svc, body["refresh_token"]).id
    with svc.db.session() as s:
        s.execute(update(Grant).where(Grant.id == gid).values(expires_at=now() - dt.timedelta(seconds=1)))
    assert_oauth_error(refresh(browser, portal, body["refresh_token"]), "invalid_grant")


def test_blocked_person_cannot_refresh(browser, portal, account, svc):
    body = browser.tokens_for(portal, account)
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=PersonState.BLOCKED))
    assert_oauth_error(refresh(browser, portal, body["refresh_token"]), "invalid_grant")
    info = userinfo(browser, body["access_token"])
    assert info.status_code == 401
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=PersonState.ACTIVE))


@pytest.mark.parametrize("state", [PersonState.BLOCKED, PersonState.CLOSED])
def test_blocked_person_tokens_introspect_inactive(browser, portal, account, svc, state):
    """A resource server asking /introspect must hear what /userinfo and /token already say."""
    body = browser.tokens_for(portal, account)
    assert introspect(browser, portal, body["access_token"])["active"] is True
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=state))
    assert userinfo(browser, body["access_token"]).status_code == 401
    assert introspect(browser, portal, body["access_token"]) == {"active": False}
    assert introspect(browser, portal, body["refresh_token"]) == {"active": False}


def test_blocked_person_cannot_exchange_code(browser, portal, account, svc):
    q, verifier, _ = browser.code_for(portal, account)
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=PersonState.CLOSED))
    assert_oauth_error(browser.token(portal, code_request(q["code"], verifier, portal.redirect_uri)), "invalid_grant")


# -- client authentication -------------------------------------------------------------------------

def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def assert_invalid_client(resp) -> None:
    assert_oauth_error(resp, "invalid_client", 401)
    assert resp.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_both_auth_methods_work(browser, portal, account):
    for auth in ("basic", "post"):
        q, verifier, _ = browser.code_for(portal, account)
        resp = browser.token(portal, code_request(q["code"], verifier, portal.redirect_uri), auth=auth)
        assert resp.status_code == 200, (auth, resp.json)


def test_wrong_secret_basic_refused_and_code_not_spent(browser, portal, code):
    c, verifier = code
    data = code_request(c, verifier, portal.redirect_uri)
    resp = browser.client.post("/token", data=data, headers={"Authorization": _basic(portal.client_id, "wrong")})
    assert_invalid_client(resp)
    assert browser.token(portal, data).status_code == 200  # nothing was spent by the refused request


def test_wrong_secret_post_refused(browser, portal, code):
    c, verifier = code
    data = {**code_request(c, verifier, portal.redirect_uri), "client_id": portal.client_id,
            "client_secret": portal.secret[:-1] + ("A" if portal.secret[-1] != "A" else "B")}
    assert_invalid_client(browser.client.post("/token", data=data))


def test_secret_of_another_client_refused(browser, make_portal, account):
    owner, other = make_portal(), make_portal()
    q, verifier, _ = browser.code_for(owner, account)
    data = code_request(q["code"], verifier, owner.redirect_uri)
    resp = browser.client.post("/token", data=data, headers={"Authorization": _basic(owner.client_id, other.secret)})
    assert_invalid_client(resp)


def test_empty_secret_refused(browser, portal, code):
    c, verifier = code
    data = {**code_request(c, verifier, portal.redirect_uri), "client_id": portal.client_id, "client_secret": ""}
    assert_invalid_client(browser.client.post("/token", data=data))


def test_unknown_client_refused(browser, portal, code):
    c, verifier = code
    resp = browser.client.post("/token", data=code_request(c, verifier, portal.redirect_uri),
                               headers={"Authorization": _basic("yg-nobody", portal.secret)})
    assert_invalid_client(resp)
    data = {**code_request(c, verifier, portal.redirect_uri), "client_id": "yg-nobody", "client_secret": "x"}
    assert_invalid_client(browser.client.post("/token", data=data))


def test_no_client_authentication_refused(browser, portal, code):
    c, verifier = code
    data = {**code_request(c, verifier, portal.redirect_uri), "client_id": portal.client_id}
    assert_invalid_client(browser.client.post("/token", data=data))


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
                                    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()])
def test_malformed_basic_refused(browser, portal, code, header):
    c, verifier = code
    resp = browser.client.post("/token", data=code_request(c, verifier, portal.redirect_uri),
                               headers={"Authorization": header})
    assert_invalid_client(resp)


def test_basic_and_post_together_is_invalid_request(browser, portal, code):
    c, verifier = code
    data = {**code_request(c, verifier, portal.redirect_uri), "client_id": portal.client_id,
            "client_secret": portal.secret}
    resp = browser.client.post("/token", data=data, auth=(portal.client_id, portal.secret))
    assert_oauth_error(resp, "invalid_request")


def test_body_client_id_differing_from_basic_is_invalid_request(browser, make_portal, account):
    portal, other = make_portal(), make_portal()
    q, verifier, _ = browser.code_for(portal, account)
    data = {**code_request(q["code"], verifier, portal.redirect_uri), "client_id": other.client_id}
    resp = browser.client.post("/token", data=data, auth=(portal.client_id, portal.secret))
    assert_oauth_error(resp, "invalid_request")


# -- malformed requests --------------------------------------------------------------------------------

@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit",
                                        "urn:ietf:params:oauth:grant-type:device_code", "AUTHORIZATION_CODE"])
def test_unsupported_grant_type(browser, portal, grant_type):
    resp = browser.token(portal, {"grant_type": grant_type, "username": "a", "password": "b"})
    assert_oauth_error(resp, "unsupported_grant_type")


def test_missing_grant_type(browser, portal):
    assert_oauth_error(browser.token(portal, {"code": "x"}), "invalid_request")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x"])
def test_non_form_content_type_refused(browser, portal, code, content_type):
    c, verifier = code
    body = json.dumps(code_request(c, verifier, portal.redirect_uri))
    if content_type.startswith("multipart"):
        body = "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n--x--\r\n"
    resp = browser.client.post("/token", data=body, content_type=content_type,
                               auth=(portal.client_id, portal.secret))
    assert_oauth_error(resp, "invalid_request")


def test_get_not_allowed(browser, portal):
    resp = browser.client.get("/token?grant_type=authorization_code", auth=(portal.client_id, portal.secret))
    assert resp.status_code == 405
    assert resp.json["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["grant_type", "code", "code_verifier", "redirect_uri"])
def test_duplicated_parameter_refused(browser, portal, code, name):
    c, verifier = code
    data = code_request(c, verifier, portal.redirect_uri)
    pairs = list(data.items()) + [(name, data[name])]
    from urllib.parse import urlencode

    resp = browser.client.post("/token", data=urlencode(pairs), content_type="application/x-www-form-urlencoded",
                               auth=(portal.client_id, portal.secret))
    assert_oauth_error(resp, "invalid_request")
    # a malformed request spends nothing
    assert browser.token(portal, data).status_code == 200


def test_refusals_issue_no_refresh_tokens(browser, portal, account, svc):
    q, verifier, _ = browser.code_for(portal, account)
    gid = grant_of(svc, q["code"]).id
    other, _ = pkce()
    browser.token(portal, code_request(q["code"], other, portal.redirect_uri))
    browser.token(portal, code_request(q["code"], verifier, portal.redirect_uri))
    assert count_refresh_tokens(svc, gid) == 0


@pytest.mark.parametrize("name", ['x"y', "x\\y", "параметр", "n" * 5000])
def test_error_description_stays_within_rfc6749_charset(browser, portal, name):
    from urllib.parse import urlencode
    import re

    pairs = [("grant_type", "authorization_code"), (name, "1"), (name, "2")]
    resp = browser.client.post("/token", data=urlencode(pairs), content_type="application/x-www-form-urlencoded",
                               auth=(portal.client_id, portal.secret))
    assert_oauth_error(resp, "invalid_request")
    description = resp.json["error_description"]
    assert re.match(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$", description), description[:100]  # RFC 6749 §5.2
    assert len(description) <= 200
