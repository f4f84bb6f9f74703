"""The password account pages: registration and login refusals (each with its message, nothing
written), Argon2id storage, lockout, password change, CSRF on every form, cookie flags,
RP-initiated logout, oversized bodies and the three page languages."""
from __future__ import annotations

import datetime as dt
import html
import secrets
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, update

from idp.app import create_app
from idp.models import (Attempt, AuthorizationCode, Consent, Credential, LoginSession, Person, PersonState)

from idp_helpers import PASSWORD, Browser, csrf_from, query_of

HTTPS_ISSUER = "https://id.example.uz"


# -- helpers -------------------------------------------------------------------------------

def counts(svc) -> tuple[int, int]:
    with svc.db.session() as s:
        return s.scalar(select(func.count(Person.id))), s.scalar(select(func.count(Credential.id)))


def credential(svc, login: str) -> Credential:
    with svc.db.session() as s:
        return s.scalar(select(Credential).where(Credential.method == "password", Credential.identifier == login))


def attempt(svc, login: str) -> Attempt | None:
    """The password guess counter of *login* (None when there is none)."""
    with svc.db.session() as s:
        return s.get(Attempt, svc.accounts.attempts.key("password", login))


def end_wait(svc, login: str) -> None:
    """Let the counter's wait pass at once."""
    with svc.db.session() as s:
        s.execute(update(Attempt).where(Attempt.key == svc.accounts.attempts.key("password", login))
                  .values(locked_until=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=1)))


def page_error(resp) -> str | None:
    text = resp.get_data(as_text=True)
    marker = 'data-error="'
    if marker not in text:
        return None
    return text.split(marker, 1)[1].split('"', 1)[0]


def text_of(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def new_login() -> str:
    return f"user{secrets.token_hex(4)}"


def register(client, **fields):
    """GET the English registration page, then POST it with sensible defaults overridden by *fields*."""
    page = client.get("/register?lang=en")
    assert page.status_code == 200
    login = fields.pop("login", None) or new_login()
    form = {"csrf_token": csrf_from(page.text), "login": login, "phone": "+998 90 123 45 67",
            "email": f"{login}@example.uz", "password": "Tashkent-2026-spring", "password2": None,
            "accept_terms": "yes"}
    form.update(fields)
    if form["password2"] is None:
        form["password2"] = form["password"]
    return client.post("/register", data={k: v for k, v in form.items() if v is not None})


def login_post(client, login: str, password: str):
    page = client.get("/login?lang=en")
    return client.post("/login", data={"csrf_token": csrf_from(page.text), "login": login, "password": password})


def logged_in_client(app, account):
    b = Browser(app)
    resp = b.login(account)
    assert resp.status_code == 302, resp.text[:300]
    return b


def sessions_of(svc, person_id: int) -> list[LoginSession]:
    with svc.db.session() as s:
        return list(s.scalars(select(LoginSession).where(LoginSession.person_id == person_id)))


# -- registration --------------------------------------------------------------------------------

REGISTRATION_REFUSALS = [
    ("login_invalid", {"login": "ab"}, "Login: 3 to 64 characters"),
    ("login_invalid", {"login": "bad login!"}, "Login: 3 to 64 characters"),
    ("login_invalid", {"login": "-dash-first"}, "Login: 3 to 64 characters"),
    ("login_invalid", {"login": "x" * 65}, "Login: 3 to 64 characters"),
    ("login_invalid", {"login": "имя"}, "Login: 3 to 64 characters"),
    ("password_too_short", {"password": "Short-1"}, "at least 10 characters"),
    ("password_too_simple", {"password": "aaaaaaaaaaaaaa"}, "too simple"),
    ("password_too_long", {"password": "Ab1-" * 70}, "must not exceed 256"),
    ("password_mismatch", {"password2": "Tashkent-2026-summer"}, "do not match"),
    ("phone_invalid", {"phone": "12345"}, "like +998 90 123 45 67"),
    ("phone_invalid", {"phone": "+7 999 123 45 67"}, "like +998 90 123 45 67"),
    ("phone_invalid", {"phone": ""}, "like +998 90 123 45 67"),
    ("terms_required", {"accept_terms": None}, "Accept the rules of use"),
    ("terms_required", {"accept_terms": "no"}, "Accept the rules of use"),
    ("email_invalid", {"email": "not-an-email"}, "e-mail address is not valid"),
    ("email_invalid", {"email": "a@b"}, "e-mail address is not valid"),
]


@pytest.mark.parametrize("key,fields,phrase", REGISTRATION_REFUSALS,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(REGISTRATION_REFUSALS)])
def test_registration_refusal_shows_error_and_writes_nothing(app, svc, key, fields, phrase):
    client = app.test_client()
    before = counts(svc)
    resp = register(client, **fields)
    assert resp.status_code == 400
    assert page_error(resp) == key
    assert phrase in text_of(resp)
    assert counts(svc) == before


def test_registration_password_containing_login_refused(app, svc):
    client = app.test_client()
    login = new_login()
    before = counts(svc)
    resp = register(client, login=login, password=f"My-{login.upper()}-pass")
    assert resp.status_code == 400 and page_error(resp) == "password_contains_login"
    assert "must not contain the login" in text_of(resp)
    assert counts(svc) == before


def test_registration_login_taken_refused_case_insensitively(app, svc, account):
    client = app.test_client()
    before = counts(svc)
    for login in (account.login, account.login.upper(), f"  {account.login}  "):
        resp = register(client, login=login, email="someone.else@example.uz")
        assert resp.status_code == 400 and page_error(resp) == "login_taken"
        assert "This login is taken" in text_of(resp)
    assert counts(svc) == before


def test_registration_refusal_keeps_fields_but_never_the_password(app):
    client = app.test_client()
    resp = register(client, login="keptlogin", email="bad", password="Kept-secret-value-1")
    assert resp.status_code == 400
    assert 'value="keptlogin"' in resp.text
    assert "Kept-secret-value-1" not in resp.text


def test_registration_succeeds_and_stores_argon2id(app, svc):
    client = app.test_client()
    login = new_login()
    before = counts(svc)
    resp = register(client, login=login.upper(), phone="90 123-45-67")
    assert resp.status_code == 302 and resp.location.startswith("/login")
    assert counts(svc) == (before[0] + 1, before[1] + 1)
    cred = credential(svc, login)  # stored normalised to lower case
    assert cred is not None
    h = cred.secret_hash
    assert h.startswith("$argon2id$v=19$")
    params = dict(p.split("=") for p in h.split("$")[3].split(","))
    owasp_rows = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))  # equal-strength settings
    assert any(int(params["m"]) >= m and int(params["t"]) >= t for m, t in owasp_rows), params
    assert int(params["p"]) >= 1
    assert "Tashkent-2026-spring" not in h
    with svc.db.session() as s:
        person = s.get(Person, cred.person_id)
        assert person.phone == "+998901234567" and person.state == PersonState.ACTIVE
        assert person.terms_accepted_at is not None and person.terms_version
    # and the new account logs in
    assert login_post(client, login, "Tashkent-2026-spring").status_code == 302


def test_two_accounts_same_password_have_different_hashes(app, svc):
    a, b = new_login(), new_login()
    for login in (a, b):
        assert register(app.test_client(), login=login).status_code == 302
    assert credential(svc, a).secret_hash != credential(svc, b).secret_hash


# -- login and lockout --------------------------------------------------------------------------

def test_login_wrong_password_message(app, svc, account):
    client = app.test_client()
    resp = login_post(client, account.login, "wrong password here")
    assert resp.status_code == 400 and page_error(resp) == "login_failed"
    assert "Wrong login or password." in text_of(resp)
    assert "Location" not in resp.headers
    assert sessions_of(svc, account.person_id) == []
    assert client.get("/").status_code == 302  # the cabinet still needs a login


def test_login_unknown_user_same_message(app):
    resp = login_post(app.test_client(), "nobody-" + secrets.token_hex(4), "whatever password")
    assert resp.status_code == 400 and page_error(resp) == "login_failed"
    assert "Wrong login or password." in text_of(resp)


def test_login_is_case_insensitive_for_the_login(app, account):
    assert login_post(app.test_client(), account.login.upper(), PASSWORD).status_code == 302


def test_lockout_after_threshold_even_with_right_password(app, svc, account):
    client = app.test_client()
    threshold = svc.settings.lockout_threshold
    assert threshold == 5
    for i in range(threshold):
        resp = login_post(client, account.login, f"wrong password {i}")
        assert resp.status_code == 400 and page_error(resp) == "login_failed", i
    counter = attempt(svc, account.login)
    assert counter.count == threshold and counter.locked_until is not None
    resp = login_post(client, account.login, PASSWORD)
    assert resp.status_code == 400 and page_error(resp) == "account_locked"
    assert "Too many failed attempts. Try again in 1 min." in text_of(resp)
    assert sessions_of(svc, account.person_id) == []
    # once the lock has passed, the right password works and resets the counter
    end_wait(svc, account.login)
    assert login_post(client, account.login, PASSWORD).status_code == 302
    assert attempt(svc, account.login) is None


def test_lockout_is_per_account(app, svc, make_account):
    victim, other = make_account(), make_account()
    client = app.test_client()
    for i in range(5):
        login_post(client, victim.login, f"nope {i}")
    assert page_error(login_post(client, victim.login, PASSWORD)) == "account_locked"
    assert login_post(client, other.login, PASSWORD).status_code == 302


def test_lockout_grows_after_further_failures(app, svc, account):
    client = app.test_client()
    for i in range(5):
        login_post(client, account.login, f"nope {i}")
    end_wait(svc, account.login)  # let the first lock pass, then fail once more
    resp = login_post(client, account.login, "nope again")
    assert page_error(resp) == "login_failed"
    again = attempt(svc, account.login)
    wait = again.locked_until - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert wait > dt.timedelta(seconds=svc.settings.lockout_base)  # longer than the first lock


@pytest.mark.parametrize("state", [PersonState.BLOCKED, PersonState.CLOSED])
def test_blocked_or_closed_account_cannot_log_in(app, svc, account, state):
    """It answers like a wrong password (see test_limits.py): anything else confirms the password."""
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=state))
    resp = login_post(app.test_client(), account.login, PASSWORD)
    assert resp.status_code == 400 and page_error(resp) == "login_failed"
    assert sessions_of(svc, account.person_id) == []


def test_blocking_ends_an_existing_browser_session(app, svc, account):
    b = logged_in_client(app, account)
    assert b.get("/").status_code == 200
    with svc.db.session() as s:
        s.execute(update(Person).where(Person.id == account.person_id).values(state=PersonState.BLOCKED))
    assert b.get("/").status_code == 302


# -- change password --------------------------------------------------------------------------------

def change_password(b: Browser, current: str, new: str, new2: str | None = None):
    page = b.get("/password?lang=en")
    assert page.status_code == 200
    return b.client.post("/password", data={"csrf_token": csrf_from(page.text), "current_password": current,
                                            "new_password": new, "new_password2": new if new2 is None else new2})


def test_change_password_needs_login(app):
    resp = app.test_client().get("/password")
    assert resp.status_code == 302 and "/login" in resp.location


@pytest.mark.parametrize("current,new,new2,key", [
    ("not my password", "Samarkand-2027-new", None, "current_password_wrong"),
    (PASSWORD, "Samarkand-2027-new", "Samarkand-2027-other", "password_mismatch"),
    (PASSWORD, "short", None, "password_too_short"),
    (PASSWORD, "zzzzzzzzzzzz", None, "password_too_simple"),
    ("", "Samarkand-2027-new", None, "current_password_wrong"),
])
def test_change_password_refusals_change_nothing(app, svc, account, current, new, new2, key):
    b = logged_in_client(app, account)
    before = credential(svc, account.login).secret_hash
    resp = change_password(b, current, new, new2)
    assert resp.status_code == 400 and page_error(resp) == key
    assert credential(svc, account.login).secret_hash == before
    assert login_post(app.test_client(), account.login, PASSWORD).status_code == 302


def test_change_password_containing_login_refused(app, svc, account):
    b = logged_in_client(app, account)
    resp = change_password(b, PASSWORD, f"x-{account.login}-y")
    assert resp.status_code == 400 and page_error(resp) == "password_contains_login"


def test_change_password_success_old_password_fails(app, svc, account):
    b = logged_in_client(app, account)
    resp = change_password(b, PASSWORD, "Samarkand-2027-new")
    assert resp.status_code == 302 and resp.location.endswith("/")
    assert "$argon2id$" in credential(svc, account.login).secret_hash
    old = login_post(app.test_client(), account.login, PASSWORD)
    assert old.status_code == 400 and page_error(old) == "login_failed"
    assert login_post(app.test_client(), account.login, "Samarkand-2027-new").status_code == 302


# -- CSRF on every form ---------------------------------------------------------------------------

def test_csrf_is_enabled(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


@pytest.mark.parametrize("token", [None, "", "forged-token", "IjEyMyI.abc.def"])
def test_login_without_valid_csrf_refused(app, svc, account, token):
    client = app.test_client()
    client.get("/login")
    data = {"login": account.login, "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    resp = client.post("/login", data=data)
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert "Location" not in resp.headers
    assert sessions_of(svc, account.person_id) == []
    assert attempt(svc, account.login) is None


def test_csrf_token_of_another_browser_refused(app, svc, account):
    attacker = app.test_client()
    token = csrf_from(attacker.get("/login").text)
    victim = app.test_client()
    victim.get("/login")
    resp = victim.post("/login", data={"csrf_token": token, "login": account.login, "password": PASSWORD})
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert sessions_of(svc, account.person_id) == []


def test_register_without_csrf_refused(app, svc):
    client = app.test_client()
    client.get("/register")
    before = counts(svc)
    login = new_login()
    resp = client.post("/register", data={"login": login, "phone": "+998901234567", "password": "Tashkent-2026-spring",
                                          "password2": "Tashkent-2026-spring", "accept_terms": "yes"})
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert counts(svc) == before and credential(svc, login) is None


def test_password_change_without_csrf_refused(app, svc, account):
    b = logged_in_client(app, account)
    before = credential(svc, account.login).secret_hash
    resp = b.client.post("/password", data={"current_password": PASSWORD, "new_password": "Samarkand-2027-new",
                                            "new_password2": "Samarkand-2027-new"})
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert credential(svc, account.login).secret_hash == before


def test_consent_without_csrf_refused(app, svc, portal, account):
    b = Browser(app)
    params, _ = b.authorize_params(portal)
    resp = b.get("/authorize?" + urlencode(params))
    done = b.login(account, resp.location)
    page = b.get(done.location)
    assert page.status_code == 200 and "/authorize/consent" in page.text
    rid = page.text.split('name="i" value="', 1)[1].split('"', 1)[0]
    resp = b.client.post("/authorize/consent", data={"i": rid, "decision": "allow"})
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert "Location" not in resp.headers
    with svc.db.session() as s:
        assert s.scalar(select(Consent).where(Consent.client_id == portal.client_id)) is None
        assert s.scalar(select(AuthorizationCode).where(AuthorizationCode.client_id == portal.client_id)) is None
    # the genuine form still works afterwards
    ok = b.consent(page.text)
    assert ok.status_code == 302 and "code=" in ok.location


# -- cookies ----------------------------------------------------------------------------------------

def _session_cookie(resp) -> str:
    cookies = [c for c in resp.headers.getlist("Set-Cookie")
               if c.startswith(("yagona_session=", "__Host-yagona_session="))]
    assert cookies, resp.headers
    return cookies[-1]


def _flags(cookie: str) -> set[str]:
    """Cookie attributes, lower-cased: {"httponly", "secure", "samesite=lax", "path", ...}."""
    out = set()
    for part in cookie.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        name = name.lower()
        out.add(f"samesite={value.lower()}" if name == "samesite" else name)
    return out


def test_session_cookie_flags_on_http(app, account):
    client = app.test_client()
    page = client.get("/login")
    flags = _flags(_session_cookie(page))
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # http://localhost in tests: a Secure cookie would never come back
    resp = client.post("/login", data={"csrf_token": csrf_from(page.text), "login": account.login,
                                       "password": PASSWORD})
    assert resp.status_code == 302
    flags = _flags(_session_cookie(resp))
    assert "httponly" in flags and "samesite=lax" in flags


@pytest.fixture(scope="module")
def https_app(app, settings):
    """A second app on the same database whose issuer is https."""
    secure = create_app(settings.with_(issuer=HTTPS_ISSUER))
    secure.config["TESTING"] = True
    yield secure
    secure.extensions["yagona"].db.engine.dispose()


def test_session_cookie_secure_when_issuer_is_https(https_app, account):
    client = https_app.test_client()
    page = client.get("/login?lang=en", base_url=HTTPS_ISSUER)
    assert page.status_code == 200
    flags = _flags(_session_cookie(page))
    assert {"secure", "httponly", "samesite=lax"} <= flags
    lang = [c for c in page.headers.getlist("Set-Cookie") if c.startswith("lang=")]
    assert lang and "Secure" in lang[0]
    resp = client.post("/login", base_url=HTTPS_ISSUER,
                       headers={"Referer": f"{HTTPS_ISSUER}/login"},
                       data={"csrf_token": csrf_from(page.text), "login": account.login, "password": PASSWORD})
    assert resp.status_code == 302, text_of(resp)[:500]
    assert {"secure", "httponly", "samesite=lax"} <= _flags(_session_cookie(resp))


def test_https_csrf_refuses_a_foreign_referer(https_app, account, svc):
    client = https_app.test_client()
    page = client.get("/login", base_url=HTTPS_ISSUER)
    resp = client.post("/login", base_url=HTTPS_ISSUER, headers={"Referer": "https://evil.example/login"},
                       data={"csrf_token": csrf_from(page.text), "login": account.login, "password": PASSWORD})
    assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
    assert sessions_of(svc, account.person_id) == []


def test_https_login_form_works_as_a_browser_submits_it(https_app, account):
    """A browser sends a Referer on the form POST only if the page's Referrer-Policy allows it.

    With `Referrer-Policy: no-referrer` on the login page, the POST arrives without a Referer,
    so the strict-referer CSRF check (WTF_CSRF_SSL_STRICT) must not be what stops it.
    """
    client = https_app.test_client()
    page = client.get("/login", base_url=HTTPS_ISSUER)
    policy = page.headers.get("Referrer-Policy", "strict-origin-when-cross-origin")
    headers = {} if policy == "no-referrer" else {"Referer": f"{HTTPS_ISSUER}/login"}
    resp = client.post("/login", base_url=HTTPS_ISSUER, headers=headers,
                       data={"csrf_token": csrf_from(page.text), "login": account.login, "password": PASSWORD})
    assert resp.status_code == 302, (policy, page_error(resp))


# -- RP-initiated logout ---------------------------------------------------------------------------

def _refresh(b: Browser, portal, token: str):
    return b.token(portal, {"grant_type": "refresh_token", "refresh_token": token})


def test_logout_with_hint_and_registered_uri_redirects_with_state(app, svc, portal, account):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"],
                                         "post_logout_redirect_uri": portal.post_logout_uri, "state": "st-42"}))
    assert resp.status_code == 302
    assert resp.location == portal.post_logout_uri + "?state=st-42"
    # the session is over, and so is what portals got through it
    assert all(row.ended_at is not None for row in sessions_of(svc, account.person_id))
    assert b.get("/").status_code == 302
    refreshed = _refresh(b, portal, body["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    info = b.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401


def test_logout_without_state_redirects_exactly(app, portal, account):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"],
                                         "post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 302 and resp.location == portal.post_logout_uri


@pytest.mark.parametrize("uri", ["https://evil.example/bye", "{bye}/", "{bye}?x=1", "{callback}", "{BYE}"])
def test_logout_to_unregistered_uri_is_an_error_page(app, svc, portal, account, uri):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    target = uri.format(bye=portal.post_logout_uri, callback=portal.redirect_uri, BYE=portal.post_logout_uri.upper())
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"], "post_logout_redirect_uri": target}))
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert page_error(resp) == "invalid_request"
    # nothing was ended
    assert b.get("/").status_code == 200
    assert _refresh(b, portal, body["refresh_token"]).status_code == 200


def test_logout_to_another_portals_uri_is_an_error_page(app, make_portal, account):
    mine, other = make_portal(), make_portal()
    b = Browser(app)
    body = b.tokens_for(mine, account)
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"],
                                         "post_logout_redirect_uri": other.post_logout_uri}))
    assert resp.status_code == 400 and "Location" not in resp.headers
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"], "client_id": other.client_id,
                                         "post_logout_redirect_uri": other.post_logout_uri}))
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert b.get("/").status_code == 200


def test_logout_with_forged_hint_is_an_error_page(app, portal, account):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    h, p, s = body["id_token"].split(".")
    forged = f"{h}.{p}.{s[:-2]}{'AA' if s[-2:] != 'AA' else 'BB'}"
    for hint in (forged, "garbage"):
        resp = b.get("/logout?" + urlencode({"id_token_hint": hint,
                                             "post_logout_redirect_uri": portal.post_logout_uri}))
        assert resp.status_code == 400 and "Location" not in resp.headers
    assert b.get("/").status_code == 200


def test_logout_uri_without_hint_or_client_id_is_an_error_page(app, portal, account):
    b = logged_in_client(app, account)
    resp = b.get("/logout?" + urlencode({"post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_logout_without_hint_asks_for_confirmation_with_csrf(app, svc, portal, account):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    page = b.get("/logout?lang=en")
    assert page.status_code == 200 and 'name="confirm"' in page.text
    assert "Log out of Yagona?" in text_of(page)
    assert b.get("/").status_code == 200  # showing the page logged nobody out
    # the confirmation needs the CSRF token
    for token in (None, "forged"):
        data = {"confirm": "yes"}
        if token:
            data["csrf_token"] = token
        resp = b.client.post("/logout", data=data)
        assert resp.status_code == 400 and page_error(resp) == "csrf_failed"
        assert b.get("/").status_code == 200
        assert all(row.ended_at is None for row in sessions_of(svc, account.person_id))
    resp = b.client.post("/logout", data={"confirm": "yes", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 200 and 'id="message"' in resp.text
    assert b.get("/").status_code == 302
    refreshed = _refresh(b, portal, body["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"


def test_logout_with_another_sessions_hint_asks_for_confirmation(app, portal, make_account):
    """A hint from someone else's login (e.g. a link a portal sent) does not log this browser out."""
    alice, bob = make_account(), make_account()
    a, b = Browser(app), Browser(app)
    a.tokens_for(portal, alice)
    bob_body = b.tokens_for(portal, bob)
    resp = a.get("/logout?" + urlencode({"id_token_hint": bob_body["id_token"],
                                         "post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 200 and 'name="confirm"' in resp.text
    assert a.get("/").status_code == 200
    assert b.get("/").status_code == 200


def test_logout_ends_only_this_session(app, svc, portal, account):
    first, second = Browser(app), Browser(app)
    body1 = first.tokens_for(portal, account)
    body2 = second.tokens_for(portal, account)
    resp = first.get("/logout?" + urlencode({"id_token_hint": body1["id_token"],
                                             "post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 302
    assert _refresh(first, portal, body1["refresh_token"]).status_code == 400
    assert second.get("/").status_code == 200
    assert _refresh(second, portal, body2["refresh_token"]).status_code == 200


def test_logout_when_logged_out(app, portal):
    client = app.test_client()
    resp = client.get("/logout?lang=en")
    assert resp.status_code == 200 and "You are logged out." in text_of(resp)
    resp = client.get("/logout?" + urlencode({"client_id": portal.client_id,
                                              "post_logout_redirect_uri": portal.post_logout_uri, "state": "s"}))
    assert resp.status_code == 302 and resp.location == portal.post_logout_uri + "?state=s"


# -- oversized bodies ----------------------------------------------------------------------------------

BIG = "a" * (64 * 1024 + 1)


@pytest.mark.parametrize("path", ["/login", "/register", "/password", "/authorize", "/authorize/consent", "/logout"])
def test_oversized_page_post_is_413(app, path):
    resp = app.test_client().post(path, data={"x": BIG})
    assert resp.status_code == 413, resp.status_code
    assert page_error(resp) == "too_large"


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/userinfo"])
def test_oversized_api_post_is_413_json(app, portal, path):
    resp = app.test_client().post(path, data={"token": BIG, "grant_type": "authorization_code"},
                                  auth=(portal.client_id, portal.secret))
    assert resp.status_code == 413, resp.status_code
    assert resp.json["error"] == "invalid_request"


def test_oversized_raw_body_is_413(app, portal):
    resp = app.test_client().post("/token", data=BIG.encode(), content_type="application/x-www-form-urlencoded",
                                  auth=(portal.client_id, portal.secret))
    assert resp.status_code == 413


# -- languages ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,title,button", [
    ("uz", "Tizimga kirish", "Kirish"),
    ("ru", "Вход в систему", "Войти"),
    ("en", "Log in", "Log in"),
])
def test_login_page_languages(app, lang, title, button):
    client = app.test_client()
    resp = client.get(f"/login?lang={lang}")
    text = text_of(resp)
    assert resp.status_code == 200 and f'<html lang="{lang}">' in text
    assert f"<h1>{title}</h1>" in text and f">{button}</button>" in text
    # the choice is remembered by a cookie
    again = text_of(client.get("/login"))
    assert f'<html lang="{lang}">' in again and f"<h1>{title}</h1>" in again


def test_default_language_is_uzbek_and_accept_language_is_honoured(app):
    assert "<h1>Tizimga kirish</h1>" in text_of(app.test_client().get("/login"))
    ru = app.test_client().get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert "<h1>Вход в систему</h1>" in text_of(ru)


@pytest.mark.parametrize("lang,phrase", [("uz", "Login yoki parol noto‘g‘ri."), ("ru", "Неверный логин или пароль."),
                                         ("en", "Wrong login or password.")])
def test_error_messages_in_each_language(app, account, lang, phrase):
    client = app.test_client()
    page = client.get(f"/login?lang={lang}")
    resp = client.post("/login", data={"csrf_token": csrf_from(page.text), "login": account.login,
                                       "password": "wrong password"})
    assert phrase in text_of(resp)


@pytest.mark.parametrize("lang,phrase", [("uz", "Xatolik"), ("ru", "Ошибка"), ("en", "Something is wrong")])
def test_error_page_in_each_language(app, lang, phrase):
    resp = app.test_client().get(f"/authorize?client_id=yg-nobody&lang={lang}")
    assert resp.status_code == 400 and phrase in text_of(resp)


def test_unknown_language_falls_back_to_uzbek(app):
    assert "<h1>Tizimga kirish</h1>" in text_of(app.test_client().get("/login?lang=xx"))


def test_registered_message_after_registration(app):
    client = app.test_client()
    resp = register(client)
    assert resp.status_code == 302
    page = client.get(resp.location)
    assert "Your account is ready. You can log in now." in text_of(page)


def test_login_through_portal_shows_portal_name(app, portal, account):
    b = Browser(app)
    params, _ = b.authorize_params(portal)
    resp = b.get("/authorize?" + urlencode(params))
    page = b.get(resp.location + "&lang=en")
    assert page.status_code == 200
    rid = query_of(resp.location)["i"]
    assert f'name="i" value="{rid}"' in page.text
    assert "to continue to" in text_of(page)


# -- sessions end for good, and clean error pages ---------------------------------------------------

def test_session_cookie_copied_before_logout_is_dead_after(app, svc, portal, account):
    b = Browser(app)
    body = b.tokens_for(portal, account)
    stolen = b.client.get_cookie("yagona_session")
    assert stolen is not None
    resp = b.get("/logout?" + urlencode({"id_token_hint": body["id_token"],
                                         "post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 302
    replay = app.test_client()
    replay.set_cookie("yagona_session", stolen.value, domain=stolen.domain or "localhost")
    assert replay.get("/").status_code == 302
    params, _ = Browser(app).authorize_params(portal, prompt="none")
    resp = replay.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and query_of(resp.location)["error"] == "login_required"


def test_not_found_and_method_not_allowed_pages_are_clean(app):
    client = app.test_client()
    resp = client.get("/no-such-page?lang=en")
    assert resp.status_code == 404 and page_error(resp) == "not_found" and "Page not found." in text_of(resp)
    resp = client.get("/authorize/consent?lang=en")
    assert resp.status_code == 405 and page_error(resp) == "method_not_allowed"
    for r in (client.get("/no-such-page"), client.get("/authorize?client_id=nobody")):
        assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower() and "werkzeug" not in r.text.lower()


def test_pages_cannot_be_framed_or_cached(app):
    resp = app.test_client().get("/login")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_logout_after_a_second_login_in_the_same_browser_ends_both(app, svc, portal, account):
    """prompt=login makes the browser log in again; logging out afterwards must not leave the first
    login's session (and the tokens portals got through it) alive on the server."""
    b = Browser(app)
    first = b.tokens_for(portal, account)
    first_cookie = b.client.get_cookie("yagona_session")
    params, verifier = b.authorize_params(portal, prompt="login")
    resp = b.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and resp.location.startswith("/login")
    final = b.get(b.login(account, resp.location).location)
    code = query_of(final.location)["code"]
    second = b.token(portal, {"grant_type": "authorization_code", "code": code, "redirect_uri": portal.redirect_uri,
                              "code_verifier": verifier}).json
    # the first login's tokens keep working while the browser stays logged in
    ok = _refresh(b, portal, first["refresh_token"])
    assert ok.status_code == 200
    first = ok.json

    resp = b.get("/logout?" + urlencode({"id_token_hint": second["id_token"],
                                         "post_logout_redirect_uri": portal.post_logout_uri}))
    assert resp.status_code == 302
    assert all(row.ended_at is not None for row in sessions_of(svc, account.person_id))
    for body in (first, second):
        refreshed = _refresh(b, portal, body["refresh_token"])
        assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    replay = app.test_client()
    replay.set_cookie("yagona_session", first_cookie.value, domain=first_cookie.domain or "localhost")
    assert replay.get("/").status_code == 302


def test_another_person_logging_in_ends_the_previous_login(app, svc, portal, make_account):
    alice, bob = make_account(), make_account()
    b = Browser(app)
    alice_body = b.tokens_for(portal, alice)
    alice_cookie = b.client.get_cookie("yagona_session")
    assert b.login(bob).status_code == 302
    assert all(row.ended_at is not None for row in sessions_of(svc, alice.person_id))
    replay = app.test_client()
    replay.set_cookie("yagona_session", alice_cookie.value, domain=alice_cookie.domain or "localhost")
    assert replay.get("/").status_code == 302
    refreshed = _refresh(b, portal, alice_body["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"


def test_password_change_logs_out_every_other_browser(app, svc, portal, account):
    """Whoever knew the old password loses their sessions and the portal tokens made through them;
    the browser that changed the password stays logged in."""
    thief, owner = Browser(app), Browser(app)
    stolen = thief.tokens_for(portal, account)
    assert owner.login(account).status_code == 302
    page = owner.get("/password")
    resp = owner.client.post("/password", data={
        "csrf_token": csrf_from(page.text), "current_password": account.password,
        "new_password": "a brand new passphrase", "new_password2": "a brand new passphrase"})
    assert resp.status_code == 302
    assert owner.get("/").status_code == 200
    assert thief.get("/").status_code == 302  # back to the login page
    refreshed = _refresh(thief, portal, stolen["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    live = [row for row in sessions_of(svc, account.person_id) if row.ended_at is None]
    assert len(live) == 1
