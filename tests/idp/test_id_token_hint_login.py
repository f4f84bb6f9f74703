"""id_token_hint after an interactive login (OIDC Core 3.1.2.1): the portal named the person it
expects; when someone else logs in, the portal gets `login_required`, never a code for them."""
from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import func, select

from idp.models import AuthorizationCode

from idp_helpers import Browser, query_of


def _codes(svc) -> int:
    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuthorizationCode))


def test_fresh_login_as_another_person_than_the_hint_is_login_required(app, svc, portal, make_account):
    alice, bob = make_account(), make_account()
    bob_hint = Browser(app).tokens_for(portal, bob)["id_token"]  # a real ID token of Bob's, from his browser

    b = Browser(app)  # Alice's browser, logged in to the portal before
    b.tokens_for(portal, alice)
    params, _ = b.authorize_params(portal, id_token_hint=bob_hint)
    resp = b.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and "/login" in resp.location, resp.location  # Alice is not Bob: log in
    before = _codes(svc)
    rid = query_of(resp.location)["i"]
    resp = b.login(alice, resp.location)  # Alice logs in again
    assert resp.status_code == 302
    resp = b.get(resp.location)
    assert resp.status_code == 302 and resp.location.startswith(portal.redirect_uri), resp.location
    answer = query_of(resp.location)
    assert answer.get("error") == "login_required", resp.location
    assert "code" not in answer
    assert answer["state"] == params["state"] and answer["iss"] == "http://localhost"
    assert _codes(svc) == before  # no code was made for Alice
    # the parked request is gone: going back to it cannot issue a code either
    assert b.get("/authorize/continue?" + urlencode({"i": rid})).status_code == 400
    assert _codes(svc) == before


def test_fresh_login_without_a_session_as_another_person_is_login_required(app, svc, portal, make_account):
    alice, bob = make_account(), make_account()
    bob_hint = Browser(app).tokens_for(portal, bob)["id_token"]
    b = Browser(app)  # nobody logged in yet
    params, _ = b.authorize_params(portal, id_token_hint=bob_hint)
    resp = b.get("/authorize?" + urlencode(params))
    assert "/login" in resp.location
    resp = b.get(b.login(alice, resp.location).location)
    assert query_of(resp.location).get("error") == "login_required", resp.location


def test_fresh_login_as_the_hinted_person_gets_a_code(app, portal, make_account):
    alice, bob = make_account(), make_account()
    bob_hint = Browser(app).tokens_for(portal, bob)["id_token"]
    b = Browser(app)
    b.tokens_for(portal, alice)
    q, _, _ = b.code_for(portal, bob, id_token_hint=bob_hint)  # Bob logs in on this browser: as hinted
    assert "code" in q and "error" not in q


def test_consent_form_cannot_skip_the_hint_check(app, svc, portal, make_portal, make_account):
    """The consent form is the other way on from a parked request: it checks the hint too."""
    alice, bob = make_account(), make_account()
    other = make_portal()
    bob_hint = Browser(app).tokens_for(other, bob)["id_token"]
    b = Browser(app)
    params, _ = b.authorize_params(other, id_token_hint=bob_hint, scope="openid profile email")  # a new scope
    resp = b.get("/authorize?" + urlencode(params))
    login_location = resp.location
    # Bob's consent page is open in this browser (he logged in here); then Alice logs in over it
    resp = b.get(b.login(bob, login_location).location)
    assert resp.status_code == 200 and "/authorize/consent" in resp.text
    consent_page = resp.text
    b.login(alice)
    resp = b.consent(consent_page)
    assert resp.status_code == 302 and query_of(resp.location).get("error") == "login_required", resp.location
