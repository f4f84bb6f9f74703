"""The happy path end to end with the Flask test client: login, consent, tokens, userinfo."""
from __future__ import annotations

import jwt

from idp.keys import at_hash


def _verify_id_token(svc, token, portal):
    return svc.keys.verify(token, typ=None, audience=portal.client_id, issuer=svc.settings.issuer)


def test_code_flow_issues_valid_tokens(browser, portal, account, svc):
    q, verifier, params = browser.code_for(portal, account, scope="openid profile pinfl")
    assert q["state"] == params["state"] and q["iss"] == "http://localhost"
    resp = browser.token(portal, {"grant_type": "authorization_code", "code": q["code"],
                                  "redirect_uri": portal.redirect_uri, "code_verifier": verifier})
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile pinfl"
    claims = _verify_id_token(svc, body["id_token"], portal)
    assert claims["sub"] == account.public_id
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "http://eidas.europa.eu/LoA/low" and claims["amr"] == ["pwd"]
    assert claims["at_hash"] == at_hash(body["access_token"], "ES256")
    assert claims["azp"] == portal.client_id and "auth_time" in claims and "sid" in claims
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"

    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json["sub"] == account.public_id
    assert info.json["given_name"] == "Aziz" and info.json["family_name"] == "Karimov"
    assert len(info.json["pinfl"]) == 14
    assert "email" not in info.json  # not asked for


def test_second_portal_gets_single_sign_on_but_asks_consent(browser, make_portal, account):
    first, second = make_portal(), make_portal()
    browser.code_for(first, account)
    params, _ = browser.authorize_params(second)
    from urllib.parse import urlencode

    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 200 and "/authorize/consent" in resp.text  # no login page: SSO
    # consent is remembered: the next request goes straight back with a code
    browser.consent(resp.text)
    params, _ = browser.authorize_params(second)
    again = browser.get("/authorize?" + urlencode(params))
    assert again.status_code == 302 and "code=" in again.location


def test_rs256_portal_gets_rs256_id_token(browser, make_portal, account, svc):
    portal = make_portal(id_token_alg="RS256")
    body = browser.tokens_for(portal, account)
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "RS256"
    claims = _verify_id_token(svc, body["id_token"], portal)
    assert claims["at_hash"] == at_hash(body["access_token"], "RS256")
