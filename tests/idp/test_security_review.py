"""Security review: each test here is an attack that once worked (or crashed the server), kept
so that it stays closed."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import delete, select

from idp.models import Credential, Grant, LoginSession

from idp_helpers import Browser, csrf_from, query_of


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _park(browser: Browser, portal, **overrides) -> str:
    """Send an authorization request that needs the user again; return the parked request id."""
    params, _ = browser.authorize_params(portal, **overrides)
    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and "/login" in resp.location, resp.location
    return query_of(resp.location)["authz"]


# -- the consent form must not be a way round a required (re-)login ---------------------------

@pytest.mark.parametrize("overrides", [{"prompt": "login"}, {"max_age": "0"}, {"acr_values": "high"}],
                         ids=["prompt-login", "max-age-0", "acr-high"])
def test_consent_post_cannot_skip_the_login_the_request_requires(browser, portal, account, svc, overrides):
    """Someone holding a logged-in browser (a shared computer, a stolen cookie) but not the password:
    the portal asks for a fresh or stronger login; posting the parked request's id straight to the
    consent form must not issue a code without that login."""
    browser.tokens_for(portal, account)  # logged in, consent remembered
    rid = _park(browser, portal, **overrides)
    page = browser.get(f"/login?authz={rid}")
    resp = browser.client.post("/authorize/consent", data={"csrf_token": csrf_from(page.text), "authz": rid,
                                                          "decision": "allow"})
    assert "code=" not in (resp.location or ""), resp.location
    if resp.status_code == 302 and resp.location.startswith(portal.redirect_uri):
        assert query_of(resp.location)["error"] in ("login_required", "unmet_authentication_requirements")
    # and the login the portal asked for still works afterwards
    if "acr_values" not in overrides and resp.status_code == 302 and "/login" in resp.location:
        resp = browser.login(account, resp.location)
        resp = browser.get(resp.location)
        assert resp.status_code == 302 and "code=" in resp.location
