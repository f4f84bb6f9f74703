"""Refusals at the authorization endpoint, and the prompt / max_age / acr / consent behaviours.

An unknown client or redirect URI gets an error page and never a redirect (RFC 9700 §4.1.3);
every other problem goes back to the portal as an error redirect carrying `state` and `iss`
(RFC 6749 §4.1.2.1, RFC 9207).
"""
from __future__ import annotations

import datetime as dt
import html
import re
import time
from urllib.parse import urlencode

import jwt
import pytest
from sqlalchemy import select, update

from idp.models import AuthorizationCode, Client, Consent, LoginSession

from idp_helpers import Browser, csrf_from, query_of

ISSUER = "http://localhost"


# -- helpers -------------------------------------------------------------------------------

def authorize(browser: Browser, portal, **overrides):
    """GET /authorize; returns the response and the parameters, with the PKCE verifier under `_verifier`."""
    params, verifier = browser.authorize_params(portal, **overrides)
    resp = browser.get("/authorize?" + urlencode(params))
    return resp, {**params, "_verifier": verifier}


def raw_authorize(browser: Browser, pairs: list[tuple[str, str]]):
    return browser.get("/authorize?" + urlencode(pairs))


def assert_error_page(resp, error: str = "invalid_request") -> None:
    """An error page in the IdP itself: 400, no Location, the error named on the page."""
    assert resp.status_code == 400, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    assert resp.mimetype == "text/html"
    assert f'data-error="{error}"' in resp.text
    assert "code=" not in resp.text


def assert_error_redirect(resp, portal, error: str, state: str | None) -> dict:
    """A spec error redirect to the registered redirect URI with error, state and iss, and no code."""
    assert resp.status_code == 302, resp.text[:300]
    assert resp.location.split("?")[0] == portal.redirect_uri
    q = query_of(resp.location)
    assert q["error"] == error, q
    assert q["iss"] == ISSUER
    if state is None:
        assert "state" not in q
    else:
        assert q["state"] == state
    assert "code" not in q
    assert q.get("error_description")
    return q


def logged_in(browser: Browser, portal, account, scope: str = "openid profile") -> dict:
    """Log *account* in through *portal* (consenting to *scope*); returns the token response."""
    return browser.tokens_for(portal, account, scope=scope)


def backdate_sessions(svc, person_id: int, seconds: int) -> None:
    """Move the person's login back in time (auth_time only: the session stays alive and not idle)."""
    past = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=seconds)
    with svc.db.session() as s:
        s.execute(update(LoginSession).where(LoginSession.person_id == person_id).values(auth_time=past))


def exchange(browser: Browser, portal, q: dict, verifier: str) -> dict:
    resp = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                  "redirect_uri": portal.redirect_uri, "code_verifier": verifier})
    assert resp.status_code == 200, resp.json
    return resp.json


def id_claims(svc, body: dict, portal) -> dict:
    return svc.keys.verify(body["id_token"], typ=None, audience=portal.client_id, issuer=ISSUER)


def count_codes(svc, client_id: str) -> int:
    with svc.db.session() as s:
        return len(s.scalars(select(AuthorizationCode.code_hash)
                             .where(AuthorizationCode.client_id == client_id)).all())


# -- unknown client / redirect URI: an error page, never a redirect ------------------------

@pytest.mark.parametrize("client_id", ["yg-doesnotexist", "", "x" * 65, "' OR 1=1 --"])
def test_unknown_client_gets_error_page(browser, portal, client_id):
    resp, _ = authorize(browser, portal, client_id=client_id)
    assert_error_page(resp)
    assert portal.redirect_uri not in resp.headers.get("Location", "")


def test_missing_client_id_gets_error_page(browser, portal):
    params, _ = browser.authorize_params(portal)
    del params["client_id"]
    assert_error_page(browser.get("/authorize?" + urlencode(params)))


def test_disabled_client_gets_error_page(browser, make_portal, svc):
    portal = make_portal()
    with svc.db.session() as s:
        s.execute(update(Client).where(Client.client_id == portal.client_id).values(active=False))
    resp, _ = authorize(browser, portal)
    assert_error_page(resp)


def _variants(uri: str) -> dict[str, str]:
    scheme, rest = uri.split("://", 1)
    host, path = rest.split("/", 1)
    return {
        "prefix": uri[:-3],                                 # .../callb
        "longer_path": uri + "/evil",
        "trailing_slash": uri + "/",
        "host_case": f"{scheme}://{host.upper()}/{path}",
        "path_case": f"{scheme}://{host}/{path.upper()}",
        "scheme_case": f"HTTPS://{host}/{path}",
        "extra_query": uri + "?next=https://evil.example",
        "empty_query": uri + "?",
        "fragment": uri + "#frag",
        "http_downgrade": uri.replace("https://", "http://"),
        "other_host": uri.replace("example.uz", "example.uz.evil.com"),
        "userinfo": f"{scheme}://attacker@{host}/{path}",
        "port": f"{scheme}://{host}:443/{path}",
        "percent_encoded": uri.replace("callback", "%63allback"),
        "dot_segment": uri.replace("/callback", "/x/../callback"),
        "whitespace": uri + " ",
    }


@pytest.mark.parametrize("variant", sorted(_variants("https://p.example.uz/callback")))
def test_redirect_uri_that_differs_in_any_way_gets_error_page(browser, portal, variant):
    bad = _variants(portal.redirect_uri)[variant]
    assert bad != portal.redirect_uri
    resp, _ = authorize(browser, portal, redirect_uri=bad)
    assert_error_page(resp)


def test_missing_redirect_uri_gets_error_page(browser, portal):
    params, _ = browser.authorize_params(portal)
    del params["redirect_uri"]
    assert_error_page(browser.get("/authorize?" + urlencode(params)))


def test_redirect_uri_of_another_portal_gets_error_page(browser, make_portal):
    mine, other = make_portal(), make_portal()
    resp, _ = authorize(browser, mine, redirect_uri=other.redirect_uri)
    assert_error_page(resp)


def test_unknown_client_page_never_redirects_even_when_other_params_are_wrong(browser, portal):
    resp, _ = authorize(browser, portal, client_id="yg-nobody", response_type="token", scope="profile",
                        code_challenge=None)
    assert_error_page(resp)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_duplicated_client_id_or_redirect_uri_gets_error_page(browser, portal, name):
    params, _ = browser.authorize_params(portal)
    pairs = list(params.items()) + [(name, params[name])]
    assert_error_page(raw_authorize(browser, pairs))


def test_extra_redirect_uri_registered_is_accepted_exactly(browser, make_portal, account):
    portal = make_portal(extra_redirects=("http://127.0.0.1:8080/cb",))
    q, _, _ = browser.code_for(portal, account)  # control: the first one works
    assert "code" in q
    resp, _ = authorize(browser, portal, redirect_uri="http://127.0.0.1:8080/cb")
    assert resp.status_code == 302 and resp.location.startswith("http://127.0.0.1:8080/cb?code=")
    resp, _ = authorize(browser, portal, redirect_uri="http://127.0.0.1:8081/cb")
    assert_error_page(resp)


# -- errors that go back to the portal -------------------------------------------------------

def test_missing_response_type_redirects_invalid_request(browser, portal):
    resp, params = authorize(browser, portal, response_type=None)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token", "CODE", "none", "code "])
def test_wrong_response_type_redirects_unsupported_response_type(browser, portal, response_type):
    resp, params = authorize(browser, portal, response_type=response_type)
    assert_error_redirect(resp, portal, "unsupported_response_type", params["state"])


def test_error_redirect_without_state_has_no_state(browser, portal):
    resp, _ = authorize(browser, portal, response_type="token", state=None)
    assert_error_redirect(resp, portal, "unsupported_response_type", None)


def test_error_redirect_keeps_registered_query_of_redirect_uri(browser, make_portal):
    portal = make_portal(extra_redirects=("https://q.example.uz/cb?tenant=7",))
    resp, params = authorize(browser, portal, redirect_uri="https://q.example.uz/cb?tenant=7", response_type="token")
    assert resp.status_code == 302
    assert resp.location.startswith("https://q.example.uz/cb?tenant=7&")
    q = query_of(resp.location)
    assert q["error"] == "unsupported_response_type" and q["state"] == params["state"] and q["tenant"] == "7"


@pytest.mark.parametrize("scope", ["profile email", "", "OPENID profile", "openidprofile"])
def test_scope_without_openid_redirects_invalid_scope(browser, portal, scope):
    resp, params = authorize(browser, portal, scope=scope)
    assert_error_redirect(resp, portal, "invalid_scope", params["state"])


def test_scope_not_allowed_for_client_redirects_invalid_scope(browser, make_portal):
    portal = make_portal(scopes=["openid", "profile"])
    for scope in ("openid pinfl", "openid profile passport", "openid admin pinfl", "openid offline_access_x passport"):
        resp, params = authorize(browser, portal, scope=scope)
        assert_error_redirect(resp, portal, "invalid_scope", params["state"])


def test_missing_code_challenge_redirects_invalid_request(browser, portal):
    resp, params = authorize(browser, portal, code_challenge=None)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("method", [None, "plain", "s256", "S512", ""])
def test_code_challenge_method_missing_or_plain_redirects_invalid_request(browser, portal, method):
    resp, params = authorize(browser, portal, code_challenge_method=method)
    q = assert_error_redirect(resp, portal, "invalid_request", params["state"])
    assert "S256" in q["error_description"]


def test_plain_pkce_with_verifier_as_challenge_is_refused(browser, portal):
    verifier = "v" * 20 + "-._~" + "w" * 30
    resp, params = authorize(browser, portal, code_challenge=verifier, code_challenge_method="plain")
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("challenge", ["a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "+", "a" * 42 + "/",
                                       "a" * 42 + ".", "é" * 43, "a" * 128])
def test_malformed_code_challenge_redirects_invalid_request(browser, portal, challenge):
    resp, params = authorize(browser, portal, code_challenge=challenge)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("name", ["response_type", "scope", "state", "nonce", "code_challenge",
                                  "code_challenge_method", "prompt", "max_age", "acr_values"])
def test_duplicated_parameter_redirects_invalid_request(browser, portal, name):
    params, _ = browser.authorize_params(portal, prompt="login", max_age="60", acr_values="low")
    pairs = list(params.items()) + [(name, params[name] + "x")]
    resp = raw_authorize(browser, pairs)
    if name == "state":  # which state to echo is ambiguous: either none or the first one, never the second
        assert resp.status_code == 302 and query_of(resp.location).get("state") in (None, params["state"])
        q = assert_error_redirect(resp, portal, "invalid_request", query_of(resp.location).get("state"))
    else:
        q = assert_error_redirect(resp, portal, "invalid_request", params["state"])
    assert name in q["error_description"]


def test_request_object_not_supported(browser, portal):
    resp, params = authorize(browser, portal, request="eyJhbGciOiJub25lIn0.e30.")
    assert_error_redirect(resp, portal, "request_not_supported", params["state"])


def test_request_uri_not_supported(browser, portal):
    resp, params = authorize(browser, portal, request_uri="https://evil.example/req.jwt")
    assert_error_redirect(resp, portal, "request_uri_not_supported", params["state"])


@pytest.mark.parametrize("mode", ["fragment", "form_post", "jwt"])
def test_response_mode_other_than_query_refused(browser, portal, mode):
    resp, params = authorize(browser, portal, response_mode=mode)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("prompt", ["none login", "bogus", "login consent bogus"])
def test_bad_prompt_redirects_invalid_request(browser, portal, prompt):
    resp, params = authorize(browser, portal, prompt=prompt)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "99999999999", ""])
def test_bad_max_age_redirects_invalid_request(browser, portal, max_age):
    resp, params = authorize(browser, portal, max_age=max_age)
    assert_error_redirect(resp, portal, "invalid_request", params["state"])


def test_overlong_state_refused_without_echoing_it(browser, portal):
    resp, _ = authorize(browser, portal, state="s" * 1025)
    assert_error_redirect(resp, portal, "invalid_request", None)


def test_refused_requests_issue_no_code(browser, portal, account, svc):
    logged_in(browser, portal, account)
    before = count_codes(svc, portal.client_id)
    for overrides in ({"code_challenge_method": "plain"}, {"scope": "profile"}, {"response_type": "token"},
                      {"redirect_uri": portal.redirect_uri + "/"}):
        resp, _ = authorize(browser, portal, **overrides)
        assert resp.status_code in (302, 400)
        assert "code=" not in (resp.headers.get("Location") or "")
    assert count_codes(svc, portal.client_id) == before


# -- prompt ------------------------------------------------------------------------------------

def test_prompt_none_logged_out_redirects_login_required(browser, portal):
    resp, params = authorize(browser, portal, prompt="none")
    assert_error_redirect(resp, portal, "login_required", params["state"])


def test_prompt_none_needing_consent_redirects_consent_required(browser, make_portal, account, svc):
    first, second = make_portal(), make_portal()
    logged_in(browser, first, account)
    resp, params = authorize(browser, second, prompt="none")
    assert_error_redirect(resp, second, "consent_required", params["state"])
    with svc.db.session() as s:
        assert s.scalar(select(Consent).where(Consent.client_id == second.client_id)) is None


def test_prompt_none_with_new_scope_redirects_consent_required(browser, portal, account):
    logged_in(browser, portal, account, scope="openid profile")
    resp, params = authorize(browser, portal, prompt="none", scope="openid profile email")
    assert_error_redirect(resp, portal, "consent_required", params["state"])


def test_prompt_none_with_session_and_consent_returns_code(browser, portal, account):
    logged_in(browser, portal, account)
    resp, params = authorize(browser, portal, prompt="none")
    assert resp.status_code == 302
    q = query_of(resp.location)
    assert q["code"] and q["state"] == params["state"] and q["iss"] == ISSUER


def test_prompt_consent_asks_again_even_when_remembered(browser, portal, account):
    logged_in(browser, portal, account)
    resp, _ = authorize(browser, portal, prompt="consent")
    assert resp.status_code == 200 and "/authorize/consent" in resp.text


def test_prompt_login_forces_login_page_and_a_later_auth_time(browser, portal, account, svc):
    logged_in(browser, portal, account)
    backdate_sessions(svc, account.person_id, 600)
    # without prompt=login the old session is used as is
    q, verifier, _ = browser.code_for(portal, account)
    old = id_claims(svc, exchange(browser, portal, q, verifier), portal)["auth_time"]
    assert old < time.time() - 500

    resp, params = authorize(browser, portal, prompt="login")
    assert resp.status_code == 302 and resp.location.startswith("/login?i=")
    assert "code=" not in resp.location
    # skipping the login page does not get around prompt=login
    rid = query_of(resp.location)["i"]
    skip = browser.get(f"/authorize/continue?i={rid}")
    assert skip.status_code == 302 and skip.location.startswith("/login")

    done = browser.login(account, resp.location)
    assert done.status_code == 302
    final = browser.get(done.location)
    assert final.status_code == 302 and final.location.startswith(portal.redirect_uri)
    q = query_of(final.location)
    assert q["state"] == params["state"]
    new_body = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                      "redirect_uri": portal.redirect_uri,
                                      "code_verifier": params["_verifier"]})
    assert new_body.status_code == 200, new_body.json
    new = id_claims(svc, new_body.json, portal)["auth_time"]
    assert new > old


@pytest.mark.parametrize("max_age", ["0", "1"])
def test_max_age_exceeded_forces_login(browser, portal, account, svc, max_age):
    logged_in(browser, portal, account)
    backdate_sessions(svc, account.person_id, 30)
    resp, params = authorize(browser, portal, max_age=max_age)
    assert resp.status_code == 302 and resp.location.startswith("/login?i="), resp.location
    done = browser.login(account, resp.location)
    final = browser.get(done.location)
    assert final.status_code == 302 and final.location.startswith(portal.redirect_uri)
    q = query_of(final.location)
    body = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                  "redirect_uri": portal.redirect_uri,
                                  "code_verifier": params["_verifier"]})
    claims = id_claims(svc, body.json, portal)
    with svc.db.session() as s:
        old = s.scalars(select(LoginSession.auth_time).where(LoginSession.person_id == account.person_id)
                        .order_by(LoginSession.auth_time)).first()
    assert claims["auth_time"] > int(old.replace(tzinfo=dt.timezone.utc).timestamp())


def test_prompt_login_right_after_a_login_still_needs_a_new_login(browser, portal, account, svc):
    """Going straight to /authorize/continue must not satisfy prompt=login, however recent the last login."""
    logged_in(browser, portal, account)
    with svc.db.session() as s:
        sessions_before = len(
            s.scalars(select(LoginSession.id).where(LoginSession.person_id == account.person_id)).all())
    resp, _ = authorize(browser, portal, prompt="login")
    assert resp.status_code == 302 and resp.location.startswith("/login?i=")
    rid = query_of(resp.location)["i"]
    skip = browser.get(f"/authorize/continue?i={rid}")
    assert skip.status_code == 302 and skip.location.startswith("/login"), skip.location
    with svc.db.session() as s:
        assert len(s.scalars(select(LoginSession.id).where(LoginSession.person_id == account.person_id)).all()) \
            == sessions_before


def test_max_age_not_exceeded_uses_session(browser, portal, account):
    logged_in(browser, portal, account)
    resp, _ = authorize(browser, portal, max_age="3600")
    assert resp.status_code == 302 and "code=" in resp.location


def test_prompt_none_with_max_age_exceeded_does_not_log_in(browser, portal, account, svc):
    logged_in(browser, portal, account)
    backdate_sessions(svc, account.person_id, 30)
    resp, params = authorize(browser, portal, prompt="none", max_age="1")
    assert resp.status_code == 302 and resp.location.startswith(portal.redirect_uri)
    q = query_of(resp.location)
    assert q["error"] == "login_required" and "code" not in q
    assert q["state"] == params["state"]


# -- acr ---------------------------------------------------------------------------------------

def _give_up(browser, location: str):
    """On the (step-up) login page at *location*: no method reaches the level, the person gives up."""
    page = browser.get(location)
    assert page.status_code == 200 and 'id="no-method"' in page.text, page.text[:300]
    iid = query_of(location)["i"]
    return browser.client.post("/authorize/cancel", data={"csrf_token": csrf_from(page.text), "i": iid})


def test_acr_high_unmet_by_password_after_login(browser, portal, account):
    resp, params = authorize(browser, portal, acr_values="high")
    assert resp.status_code == 302 and resp.location.startswith("/login?i=")
    page = browser.get(resp.location)
    assert 'class="notice"' in page.text  # the login page says which level the portal needs
    assert 'name="password"' not in page.text  # the password cannot reach high: not offered
    assert_error_redirect(_give_up(browser, resp.location), portal, "unmet_authentication_requirements",
                          params["state"])


def test_acr_high_with_existing_session_steps_up_then_unmet(browser, portal, account):
    logged_in(browser, portal, account)
    resp, params = authorize(browser, portal, acr_values="high")
    assert resp.status_code == 302 and resp.location.startswith("/login?i=")
    assert 'id="step-up"' in browser.get(resp.location).text
    assert_error_redirect(_give_up(browser, resp.location), portal, "unmet_authentication_requirements",
                          params["state"])


def test_acr_high_with_prompt_none_does_not_issue_code(browser, portal, account):
    logged_in(browser, portal, account)
    resp, params = authorize(browser, portal, acr_values="high", prompt="none")
    q = query_of(resp.location)
    assert resp.location.startswith(portal.redirect_uri) and "code" not in q
    assert q["error"] == "login_required"


def test_portal_min_acr_substantial_unmet_by_password(browser, make_portal, account):
    portal = make_portal(min_acr="substantial")
    resp, params = authorize(browser, portal)  # asks for nothing; the registration decides
    done = browser.login(account, resp.location)  # offered: a verified person's password reaches it
    step_up = browser.get(done.location)
    assert step_up.status_code == 302 and step_up.location.startswith("/login?i=")  # this one is not verified
    assert_error_redirect(_give_up(browser, step_up.location), portal, "unmet_authentication_requirements",
                          params["state"])


def test_portal_min_acr_not_lowered_by_acr_values(browser, make_portal, account):
    portal = make_portal(min_acr="substantial")
    resp, params = authorize(browser, portal, acr_values="low")
    done = browser.login(account, resp.location)
    step_up = browser.get(done.location)
    assert step_up.status_code == 302 and step_up.location.startswith("/login?i=")
    assert_error_redirect(_give_up(browser, step_up.location), portal, "unmet_authentication_requirements",
                          params["state"])


def test_acr_values_with_a_reachable_option_is_met(browser, portal, account, svc):
    q, verifier, _ = browser.code_for(portal, account, acr_values="high low")
    assert "code" in q
    claims = id_claims(svc, exchange(browser, portal, q, verifier), portal)
    assert claims["acr"] == "http://eidas.europa.eu/LoA/low"


# -- consent -----------------------------------------------------------------------------------

def _to_consent(browser, portal, account, **overrides):
    resp, params = authorize(browser, portal, **overrides)
    if resp.status_code == 302 and resp.location.startswith("/login"):
        done = browser.login(account, resp.location)
        resp = browser.get(done.location)
    assert resp.status_code == 200 and "/authorize/consent" in resp.text, resp.status_code
    return resp, params


def test_consent_deny_redirects_access_denied(browser, portal, account, svc):
    page, params = _to_consent(browser, portal, account)
    resp = browser.consent(page.text, decision="deny")
    assert_error_redirect(resp, portal, "access_denied", params["state"])
    with svc.db.session() as s:
        assert s.scalar(select(Consent).where(Consent.client_id == portal.client_id)) is None
    assert count_codes(svc, portal.client_id) == 0
    # the parked request is gone: the same form cannot be replayed to allow
    again = browser.consent(page.text, decision="allow")
    assert_error_page(again, "request_expired")


def test_consent_page_lists_exactly_the_requested_scopes(browser, portal, account):
    page, _ = _to_consent(browser, portal, account, scope="openid profile pinfl")
    listed = [s for s in ("openid", "profile", "email", "phone", "pinfl", "passport")
              if f'data-scope="{s}"' in page.text]
    assert listed == ["openid", "profile", "pinfl"]


def test_consent_is_remembered_and_a_new_scope_asks_again(browser, portal, account, svc):
    page, _ = _to_consent(browser, portal, account, scope="openid profile")
    assert browser.consent(page.text).status_code == 302
    # second login, same scopes (and a subset): straight back with a code
    for scope in ("openid profile", "openid"):
        resp, _ = authorize(browser, portal, scope=scope)
        assert resp.status_code == 302 and "code=" in resp.location, scope
    # a new browser (new login) for the same person: no consent page either
    other = Browser(browser.client.application)
    resp, _ = authorize(other, portal)
    done = other.login(account, resp.location)
    final = other.get(done.location)
    assert final.status_code == 302 and "code=" in final.location
    # a new scope asks again, listing it
    resp, _ = authorize(browser, portal, scope="openid profile email")
    assert resp.status_code == 200 and 'data-scope="email"' in resp.text
    assert browser.consent(resp.text).status_code == 302
    with svc.db.session() as s:
        row = s.scalar(select(Consent).where(Consent.client_id == portal.client_id,
                                             Consent.person_id == account.person_id))
        assert set(row.scopes) == {"openid", "profile", "email"}


def test_consent_is_per_client(browser, make_portal, account):
    first, second = make_portal(), make_portal()
    logged_in(browser, first, account)
    resp, _ = authorize(browser, second)
    assert resp.status_code == 200 and "/authorize/consent" in resp.text


def test_consent_post_with_unknown_request_id_is_an_error_page(browser, portal, account):
    page, _ = _to_consent(browser, portal, account)
    resp = browser.client.post("/authorize/consent", data={"csrf_token": csrf_from(page.text),
                                                           "i": "nope", "decision": "allow"})
    assert_error_page(resp, "request_expired")


# -- languages through ui_locales ----------------------------------------------------------------

def test_ui_locales_reaches_the_login_page(browser, portal):
    resp, _ = authorize(browser, portal, ui_locales="ru")
    assert resp.status_code == 302
    page = browser.get(resp.location)
    assert page.status_code == 200
    assert "Вход в систему" in html.unescape(page.text)


def test_successful_response_carries_iss_and_state(browser, portal, account):
    q, _, params = browser.code_for(portal, account)
    assert q["iss"] == ISSUER and q["state"] == params["state"] and len(q["code"]) >= 40


def test_code_is_bound_to_the_requesting_browser_session(browser, portal, account, svc):
    q, verifier, _ = browser.code_for(portal, account)
    body = exchange(browser, portal, q, verifier)
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    with svc.db.session() as s:
        sids = set(s.scalars(select(LoginSession.sid).where(LoginSession.person_id == account.person_id)))
    assert claims["sid"] in sids


def test_verified_identity_meets_portal_min_acr_substantial(browser, make_portal, account, svc):
    """Control for the unmet cases: the same password login reaches substantial once the passport was checked."""
    from idp.models import Person

    portal = make_portal(min_acr="substantial")
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id)
                  .values(identity_verified_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
    q, verifier, _ = browser.code_for(portal, account)
    claims = id_claims(svc, exchange(browser, portal, q, verifier), portal)
    assert claims["acr"] == "http://eidas.europa.eu/LoA/substantial"
    resp, params = authorize(browser, portal, acr_values="high")
    assert resp.status_code == 302 and resp.location.startswith("/login")
    assert_error_redirect(_give_up(browser, resp.location), portal, "unmet_authentication_requirements",
                          params["state"])


# -- what an error redirect may carry ------------------------------------------------------------------

ERROR_DESCRIPTION_CHARS = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$")  # RFC 6749 §4.1.2.1


@pytest.mark.parametrize("scope", ['openid "quoted"', "openid back\\slash", "openid профиль", "openid a\tb",
                                   "openid " + "x" * 20000])
def test_error_description_stays_within_rfc6749_charset_and_size(browser, make_portal, scope):
    portal = make_portal(scopes=["openid", "profile"])
    params, _ = browser.authorize_params(portal, scope=scope + " pinfl")  # unknown values are ignored
    resp = browser.client.post("/authorize", data=params)  # POST: the scope can be long
    assert resp.status_code == 302
    q = query_of(resp.location)
    assert q["error"] == "invalid_scope" and q["state"] == params["state"]
    assert ERROR_DESCRIPTION_CHARS.match(q["error_description"]), q["error_description"][:200]
    assert len(resp.location) < 2048
