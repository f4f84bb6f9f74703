"""The login step as a server-side interaction: a database row named by an opaque id in the URL,
bound to the browser that started it, single use and short-lived; one policy decides what the
request still needs; login methods are plug-ins drawn from one table; acr as eIDAS URIs."""
from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import urlencode

import jwt
from sqlalchemy import func, select, update

from idp_helpers import Browser, CitizenClient, csrf_from, query_of

LOA = "http://eidas.europa.eu/LoA/"


def _start(b: Browser, portal, **overrides):
    params, verifier = b.authorize_params(portal, **overrides)
    resp = b.get("/authorize?" + urlencode(params))
    return resp, params, verifier


def _codes(svc) -> int:
    from idp.models import AuthorizationCode

    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuthorizationCode))


def test_authorize_parks_the_request_in_the_database_not_the_cookie(app, svc, portal):
    from idp.models import Interaction

    b = Browser(app)
    resp, params, _ = _start(b, portal, state="s" * 1024, nonce="n" * 512)
    assert resp.status_code == 302 and resp.location.startswith("/login?i="), resp.location
    iid = query_of(resp.location)["i"]
    assert len(iid) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", iid)  # >= 128 random bits
    # the cookie carries no parked request: it stays small whatever the request's size
    assert all(len(h) < 600 for h in resp.headers.getlist("Set-Cookie"))
    with svc.db.session() as s:
        row = s.scalar(select(Interaction).where(Interaction.client_id == portal.client_id)
                       .order_by(Interaction.created_at.desc()))
        assert row.state == params["state"] and row.nonce == params["nonce"] and row.acr_needed == "low"
        assert row.finished_at is None and row.expires_at > row.created_at
        assert iid not in (row.id, row.browser_hash)  # only hashes are stored


def test_interaction_from_another_browser_is_refused(app, svc, portal, account):
    victim, thief = Browser(app), Browser(app)
    resp, _, _ = _start(victim, portal)
    location = resp.location
    before = _codes(svc)
    page = thief.get(location)
    assert page.status_code == 400 and 'data-error="request_expired"' in page.text
    # the thief logs in with the stolen id: the login is theirs, the portal's request is not
    csrf = csrf_from(thief.get("/login").text)
    done = thief.client.post(location, data={"csrf_token": csrf, "login": account.login, "password": account.password})
    assert done.status_code == 302 and done.location == "/"
    for path in (f"/authorize/continue?i={query_of(location)['i']}",):
        assert thief.get(path).status_code == 400
    assert _codes(svc) == before
    # the browser that started it still can
    final = victim.get(victim.login(account, location).location)
    assert final.status_code in (200, 302)


def test_interaction_is_single_use(app, svc, make_portal, account):
    portal = make_portal()
    b = Browser(app)
    b.tokens_for(portal, account)  # consent remembered
    b2 = Browser(app)
    resp, _, _ = _start(b2, portal)
    iid = query_of(resp.location)["i"]
    final = b2.get(b2.login(account, resp.location).location)
    assert final.status_code == 302 and "code=" in final.location
    before = _codes(svc)
    again = b2.get(f"/authorize/continue?i={iid}")
    assert again.status_code == 400 and 'data-error="request_expired"' in again.text
    assert b2.get(f"/login?i={iid}").status_code == 400
    assert _codes(svc) == before


def test_expired_interaction_is_refused(app, svc, portal, account):
    from idp.models import Interaction

    b = Browser(app)
    resp, _, _ = _start(b, portal)
    with svc.db.session() as s:
        s.execute(update(Interaction).where(Interaction.client_id == portal.client_id)
                  .values(expires_at=dt.datetime(2000, 1, 1)))
        s.commit()
    page = b.get(resp.location)
    assert page.status_code == 400 and 'data-error="request_expired"' in page.text
    done = b.client.post(resp.location, data={"csrf_token": csrf_from(b.get("/login").text),
                                              "login": account.login, "password": account.password})
    assert done.status_code == 302 and done.location == "/"


def test_unknown_or_malformed_interaction_id_is_an_error_page(app):
    b = Browser(app)
    for bad in ("nope", "x" * 500, "\u00e9" * 30):
        page = b.get("/login?" + urlencode({"i": bad}))
        assert page.status_code == 400 and 'data-error="request_expired"' in page.text


def test_typo_then_language_switch_still_ends_at_the_portal(app, portal, account):
    b = Browser(app)
    resp, params, _ = _start(b, portal)
    page = b.get(resp.location)
    iid = query_of(resp.location)["i"]
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    typo = b.client.post(action, data={"csrf_token": csrf_from(page.text), "login": account.login,
                                       "password": "wrong password here"})
    assert typo.status_code == 400 and 'data-error="login_failed"' in typo.text
    switch = html.unescape(re.search(r'<a href="([^"]+)"[^>]*>RU</a>', typo.text).group(1))
    assert f"i={iid}" in switch  # the language link keeps the interaction
    ru = b.get("/login" + switch)
    assert ru.status_code == 200 and "Вход в систему" in html.unescape(ru.text)
    done = b.login(account, "/login" + switch)
    final = b.get(done.location)
    if final.status_code == 200:
        final = b.consent(final.text)
    assert final.status_code == 302 and final.location.startswith(portal.redirect_uri)
    assert query_of(final.location)["state"] == params["state"] and "code" in query_of(final.location)


def test_error_page_keeps_the_interaction(app, portal):
    """A stale CSRF token on the login form: the error page leads back to the same interaction."""
    b = Browser(app)
    resp, _, _ = _start(b, portal)
    iid = query_of(resp.location)["i"]
    b.get(resp.location)
    bad = b.client.post(f"/login?i={iid}", data={"csrf_token": "stale", "login": "x", "password": "y"})
    assert bad.status_code == 400 and 'data-error="csrf_failed"' in bad.text
    assert f'href="/login?i={iid}"' in html.unescape(bad.text)


def test_registration_from_an_interaction_returns_to_it(app, portal):
    b = Browser(app)
    resp, params, _ = _start(b, portal)
    iid = query_of(resp.location)["i"]
    page = b.get(f"/register?i={iid}")
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    assert f"i={iid}" in action
    login = f"newcomer-{iid[:6].lower().replace('_', 'x').replace('-', 'x')}"
    done = b.client.post(action, data={"csrf_token": csrf_from(page.text), "login": login,
                                       "phone": "+998901112233", "password": "a long pass phrase",
                                       "password2": "a long pass phrase", "accept_terms": "yes"})
    assert done.status_code == 302 and f"i={iid}" in done.location


# -- prompt=none, hint, step-up: one policy ---------------------------------------------------------

def test_prompt_none_answers(app, make_portal, account):
    portal = make_portal()
    b = Browser(app)
    resp, params, _ = _start(b, portal, prompt="none")
    assert query_of(resp.location)["error"] == "login_required"
    b.login(account)  # logged in, but this portal has no consent yet
    resp, _, _ = _start(b, portal, prompt="none")
    assert query_of(resp.location)["error"] == "consent_required"
    resp, _, _ = _start(b, portal, prompt="none", acr_values="high")
    assert query_of(resp.location)["error"] == "login_required"


def test_step_up_page_when_no_method_reaches_high_then_give_up(app, svc, portal, account):
    b = Browser(app)
    b.tokens_for(portal, account)  # logged in by password: low
    resp, params, _ = _start(b, portal, acr_values=LOA + "high")
    assert resp.status_code == 302 and resp.location.startswith("/login?i=")
    page = b.get(resp.location)
    text = html.unescape(page.text)
    assert page.status_code == 200 and 'id="step-up"' in page.text
    assert 'name="password"' not in page.text  # the password cannot reach high: not offered
    assert 'id="no-method"' in page.text
    before = _codes(svc)
    give_up = b.client.post("/authorize/cancel",
                            data={"csrf_token": csrf_from(text), "i": query_of(resp.location)["i"]})
    assert give_up.status_code == 302 and give_up.location.startswith(portal.redirect_uri)
    q = query_of(give_up.location)
    assert q["error"] == "unmet_authentication_requirements" and q["state"] == params["state"]
    assert _codes(svc) == before


def test_step_up_for_substantial_offers_the_password_only_to_a_verified_person(app, make_portal, account):
    portal = make_portal(min_acr="substantial")
    b = Browser(app)
    resp, _, _ = _start(b, portal)
    first = b.get(resp.location)  # nobody known yet: the password may reach it (verified persons)
    assert 'name="password"' in first.text
    b.get(b.login(account, resp.location).location)  # the person is not verified: still low
    again = b.get(resp.location)
    assert 'id="step-up"' in again.text and 'name="password"' not in again.text


def test_acr_uris_in_discovery_and_tokens(app, svc, portal, account):
    b = Browser(app)
    meta = b.get("/.well-known/openid-configuration").json
    levels = meta["acr_values_supported"]
    assert levels[:2] == [LOA + "low", LOA + "substantial"]
    body = b.tokens_for(portal, account, acr_values=LOA + "low")
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["acr"] == LOA + "low" and claims["amr"] == ["pwd"]
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["acr"] == LOA + "low"


def test_a_new_method_plugs_in_without_touching_the_others(settings, portal, account):
    """A tiny extra method in a test app: it appears on the login page and in discovery, and its
    one exit (finish_login) logs the person in with its own acr and amr."""
    from flask import Blueprint, request

    from idp.app import create_app
    from idp.methods import METHODS, Method
    from idp.methods.finish import finish_login
    from idp.interactions import current_interaction
    from idp.context import dbs
    from idp.models import Person

    bp = Blueprint("magic", __name__)

    @bp.route("/login/magic", methods=["POST"])
    def magic():
        person = dbs().get(Person, int(request.form["person"]))
        return finish_login(current_interaction(), person, METHOD)

    METHOD = Method(name="magic", label="magic_label", acr="high", amr=("hwk",), blueprint=bp,
                    form="_magic.html")
    extra = create_app(settings, methods=(*METHODS, METHOD))
    extra.jinja_loader.searchpath.append(str(__import__("pathlib").Path(__file__).parent / "templates"))
    extra.config["TESTING"] = True
    extra.test_client_class = CitizenClient
    b = Browser(extra)
    assert b.get("/.well-known/openid-configuration").json["acr_values_supported"][-1] == LOA + "high"
    page = b.get("/login")
    assert 'data-method="magic"' in page.text and 'data-method="password"' in page.text
    # step-up in the same interaction: password first (low), then the page offers only the new method
    resp, params, verifier = _start(b, portal, acr_values="high")
    iid = query_of(resp.location)["i"]
    b.get(b.login(account, resp.location).location)
    step = b.get(f"/login?i={iid}")
    assert 'id="step-up"' in step.text and 'data-method="magic"' in step.text
    assert 'data-method="password"' not in step.text and 'id="no-method"' not in step.text
    done = b.client.post(f"/login/magic?i={iid}", data={"csrf_token": csrf_from(step.text),
                                                         "person": str(account.person_id)})
    final = b.get(done.location)
    if final.status_code == 200:
        final = b.consent(final.text)
    q = query_of(final.location)
    assert final.location.startswith(portal.redirect_uri) and q["state"] == params["state"], final.location
    body = b.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                            "redirect_uri": portal.redirect_uri, "code_verifier": verifier}).json
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["acr"] == LOA + "high" and claims["amr"] == ["hwk"]
