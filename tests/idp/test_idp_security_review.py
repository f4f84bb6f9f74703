"""Security review: each test here is an attack that once worked (or crashed the server), kept
so that it stays closed."""
from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from idp.errors import UserError
from idp.housekeeping import prune
from idp.models import Attempt, Credential, LoginSession

from idp_helpers import Browser, csrf_from, query_of


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _park(browser: Browser, portal, **overrides) -> str:
    """Send an authorization request that needs the user again; return the parked request id."""
    params, _ = browser.authorize_params(portal, **overrides)
    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and "/login" in resp.location, resp.location
    return query_of(resp.location)["i"]


# -- the consent form must not be a way round a required (re-)login ---------------------------

@pytest.mark.parametrize("overrides", [{"prompt": "login"}, {"max_age": "0"}, {"acr_values": "high"}],
                         ids=["prompt-login", "max-age-0", "acr-high"])
def test_consent_post_cannot_skip_the_login_the_request_requires(browser, portal, account, svc, overrides):
    """Someone holding a logged-in browser (a shared computer, a stolen cookie) but not the password:
    the portal asks for a fresh or stronger login; posting the parked request's id straight to the
    consent form must not issue a code without that login."""
    browser.tokens_for(portal, account)  # logged in, consent remembered
    rid = _park(browser, portal, **overrides)
    page = browser.get(f"/login?i={rid}")
    resp = browser.client.post("/authorize/consent", data={"csrf_token": csrf_from(page.text), "i": rid,
                                                          "decision": "allow"})
    assert "code=" not in (resp.location or ""), resp.location
    if resp.status_code == 302 and resp.location.startswith(portal.redirect_uri):
        assert query_of(resp.location)["error"] in ("login_required", "unmet_authentication_requirements")
    # and the login the portal asked for still works afterwards
    if "acr_values" not in overrides and resp.status_code == 302 and "/login" in resp.location:
        resp = browser.login(account, resp.location)
        resp = browser.get(resp.location)
        assert resp.status_code == 302 and "code=" in resp.location


# -- odd input must be a clean refusal, never a 500 ------------------------------------------------

@pytest.mark.parametrize("max_age", ["²", "١٢", "1²", "½"])
def test_max_age_in_non_ascii_digits_is_invalid_request_not_500(browser, portal, max_age):
    """str.isdigit() accepts '²', which int() then refuses: a 500 from one query parameter."""
    params, _ = browser.authorize_params(portal, max_age=max_age)
    resp = browser.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and resp.location.startswith(portal.redirect_uri), resp.status_code
    assert query_of(resp.location)["error"] == "invalid_request"


def _forged_header_token(svc, header_extra: dict) -> str:
    kid = svc.keys.jwks()["keys"][0]["kid"]
    header = {"kid": kid, **header_extra}
    return ".".join((b64url(json.dumps(header).encode()), b64url(b"{}"), b64url(b"sig")))


@pytest.mark.parametrize("alg", ['x", error="insufficient_scope', "ES256€", "RS256\u2028x"])
def test_userinfo_challenge_does_not_echo_token_header_values(browser, svc, alg):
    """The token's own (unsigned) header reached the WWW-Authenticate header: quotes forged
    auth-params, and a character outside Latin-1 was a 500."""
    token = _forged_header_token(svc, {"alg": alg})
    resp = browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.count('"') == 6, challenge  # realm, error, error_description: no forged auth-param
    assert all(0x20 <= ord(c) < 0x7f for c in challenge), challenge


# -- password guessing --------------------------------------------------------------------------

def _credential(svc, login: str) -> Credential:
    with svc.db.session() as s:
        return s.scalar(select(Credential).where(Credential.method == "password", Credential.identifier == login))


def test_racing_wrong_passwords_all_count_toward_the_lockout(svc, account, monkeypatch):
    """Guesses sent in parallel each read failed_attempts=0 and each wrote 1 back: the counter
    never reached the threshold, so parallel guessing was never locked out."""
    real_verify = svc.passwords.verify
    raced = []

    def verify(stored, password):
        ok = real_verify(stored, password)
        if not raced:  # a second guess, in another request, finishes while the first is hashing
            raced.append(True)
            with svc.db.session() as s2, pytest.raises(UserError):
                svc.accounts.authenticate(s2, account.login, "wrong guess two")
        return ok

    monkeypatch.setattr(svc.passwords, "verify", verify)
    with svc.db.session() as s1, pytest.raises(UserError):
        svc.accounts.authenticate(s1, account.login, "wrong guess one")
    with svc.db.session() as s:
        counter = s.get(Attempt, svc.accounts.attempts.key("password", account.login))
    assert raced and counter.count == 2


def test_password_change_form_is_no_unlimited_password_oracle(app, svc, account):
    """Whoever holds a logged-in browser could try current passwords at /password without limit,
    learn the password and keep the account. Wrong current passwords count toward the lockout."""
    browser = Browser(app)
    assert browser.login(account).status_code == 302
    before = _credential(svc, account.login).secret_hash
    for i in range(svc.settings.lockout_threshold):
        page = browser.get("/password")
        resp = browser.client.post("/password", data={
            "csrf_token": csrf_from(page.text), "current_password": f"guess number {i}",
            "new_password": "a brand new passphrase", "new_password2": "a brand new passphrase"})
        assert resp.status_code == 400
    page = browser.get("/password")
    resp = browser.client.post("/password", data={
        "csrf_token": csrf_from(page.text), "current_password": account.password,
        "new_password": "a brand new passphrase", "new_password2": "a brand new passphrase"})
    assert resp.status_code == 400, "the right password got through after the lockout threshold"
    with svc.db.session() as s:
        counter = s.get(Attempt, svc.accounts.attempts.key("password", account.login))
    assert _credential(svc, account.login).secret_hash == before and counter.locked_until is not None


# -- what a password change and a logout end -------------------------------------------------------

def _change_password(browser: Browser, account) -> None:
    page = browser.get("/password")
    resp = browser.client.post("/password", data={
        "csrf_token": csrf_from(page.text), "current_password": account.password,
        "new_password": "a brand new passphrase", "new_password2": "a brand new passphrase"})
    assert resp.status_code == 302


def test_password_change_ends_grants_whose_login_session_was_pruned(app, svc, portal, account):
    """A thief who logged in with the stolen password over a week ago still refreshes a portal's
    tokens; `yagona db prune` has deleted the long-idle login session row. The owner's password
    change looked for grants only through live session rows, so the thief's grant survived."""
    thief, owner = Browser(app), Browser(app)
    stolen = thief.tokens_for(portal, account)
    week_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=8)
    with svc.db.session() as s:
        sid = svc.tokens.find_refresh(s, stolen["refresh_token"])[1].session_id
        row = s.scalar(select(LoginSession).where(LoginSession.sid == sid))
        row.last_seen_at = row.created_at = week_ago
    with svc.db.session() as s:
        prune(s)
        assert s.scalar(select(LoginSession).where(LoginSession.sid == sid)) is None
    assert owner.login(account).status_code == 302
    _change_password(owner, account)
    refreshed = thief.token(portal, {"grant_type": "refresh_token", "refresh_token": stolen["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    # the owner's own browser keeps its login and can still sign in to portals
    assert owner.get("/").status_code == 200
    owner.tokens_for(portal, account)


def test_access_token_is_not_an_id_token_hint(browser, portal, account):
    """RP-Initiated Logout takes an ID token as hint; an access token (handed to resource servers)
    logged the browser out at once, without the confirmation page."""
    tokens = browser.tokens_for(portal, account)
    resp = browser.get("/logout?" + urlencode({"id_token_hint": tokens["access_token"]}))
    assert resp.status_code == 400
    assert browser.get("/").status_code == 200  # still logged in
    resp = browser.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]}))
    assert resp.status_code == 200 and browser.get("/").status_code == 302


def test_overlong_email_is_refused_not_a_database_error(app, svc):
    """EMAIL_RE bounded the local part and the domain but not the top-level label: 300 characters
    passed, and PostgreSQL refused the String(254) column with a 500."""
    client = app.test_client()
    page = client.get("/register")
    resp = client.post("/register", data={
        "csrf_token": csrf_from(page.text), "login": "longmail-user", "phone": "+998901234567",
        "password": "correct horse battery", "password2": "correct horse battery", "accept_terms": "yes",
        "email": "a@b." + "c" * 300})
    assert resp.status_code == 400
    with svc.db.session() as s:
        assert s.scalar(select(Credential).where(Credential.identifier == "longmail-user")) is None


def test_language_links_never_leave_the_site(app):
    """The language links were request.path + query: /%5Cevil.example/x gave href="/\\evil.example/x?lang=ru",
    which browsers read as //evil.example/x — our own (404) page linking to a look-alike site."""
    import re
    resp = app.test_client().get("/%5Cevil.example/phish")
    links = re.findall(r'<nav class="langs">(.*?)</nav>', resp.text, re.S)[0]
    hrefs = re.findall(r'href="([^"]*)"', links)
    assert len(hrefs) == 3 and all(h.startswith("?") for h in hrefs), hrefs  # this page, another language
    assert not any("\\" in h or h.startswith("/") for h in hrefs), hrefs


def test_demo_callback_with_non_ascii_state_is_refused_not_500(live):
    """hmac.compare_digest raises TypeError on non-ASCII str: /demo/callback?state=é was a 500."""
    app, _issuer = live
    client = app.test_client()
    assert client.get("/demo/login").status_code == 302
    resp = client.get("/demo/callback?" + urlencode({"state": "é", "code": "x"}))
    assert resp.status_code == 400 and "state mismatch" in resp.text


def test_parked_requests_keep_the_session_cookie_within_browser_limits(app, portal, account):
    """Each waiting authorization request (state up to 1024, nonce up to 512 characters) was parked
    in the session cookie, up to four of them: three long ones made a 5 kB cookie, which browsers
    silently drop — a page anyone can link to made the next login request (or the login) vanish."""
    import random
    import string
    import warnings

    rnd = random.Random(7)
    text = lambda n: "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))  # noqa: E731
    b = Browser(app)
    sizes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # werkzeug warns about the size we check ourselves
        for _ in range(5):
            params, verifier = b.authorize_params(portal, state=text(1024), nonce=text(512), login_hint="x" * 64)
            resp = b.get("/authorize?" + urlencode(params))
            sizes += [len(h) for h in resp.headers.getlist("Set-Cookie")]
        resp = b.login(account, resp.location)
        sizes += [len(h) for h in resp.headers.getlist("Set-Cookie")]
        resp = b.get(resp.location)
        sizes += [len(h) for h in resp.headers.getlist("Set-Cookie")]
        if resp.status_code == 200:
            resp = b.consent(resp.text)
            sizes += [len(h) for h in resp.headers.getlist("Set-Cookie")]
    assert max(sizes) <= 4093, sizes  # werkzeug's limit: what every browser keeps
    # the newest went through
    assert resp.status_code == 302 and query_of(resp.location).get("state") == params["state"]


def test_two_tabs_consenting_at_once_do_not_crash(app, svc, make_portal, account, monkeypatch):
    """Two consent forms for the same portal submitted together (two tabs, a double click): both
    saw no consent row, both inserted one, and the unique constraint made the second a 500."""
    from sqlalchemy import event

    from idp.models import Consent

    portal = make_portal()
    b = Browser(app)
    params, _ = b.authorize_params(portal)
    resp = b.get("/authorize?" + urlencode(params))
    resp = b.get(b.login(account, resp.location).location)
    assert resp.status_code == 200 and "/authorize/consent" in resp.text
    raced = []

    def other_tab(_conn, _cursor, statement, *_args):
        if not raced and statement.lstrip().upper().startswith("INSERT INTO CONSENTS"):
            raced.append(True)
            with svc.db.session() as s2:  # the other tab's consent lands first
                s2.add(Consent(person_id=account.person_id, client_id=portal.client_id, scopes=["openid"]))

    event.listen(svc.db.engine, "before_cursor_execute", other_tab)
    try:
        resp = b.consent(resp.text)
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", other_tab)
    assert raced and resp.status_code == 302 and "code=" in resp.location, (resp.status_code, resp.location)
    with svc.db.session() as s:
        row = s.scalar(select(Consent).where(Consent.person_id == account.person_id,
                                             Consent.client_id == portal.client_id))
        assert set(row.scopes) >= set(params["scope"].split())


# -- transport and logs ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def https_app(app, settings):
    from idp.app import create_app

    secure = create_app(settings.with_(issuer="https://id.example.uz"))
    secure.config["TESTING"] = True
    yield secure
    secure.extensions["yagona"].db.engine.dispose()


def test_https_issuer_sends_strict_transport_security(https_app, app):
    """Under an https issuer nothing told browsers to stay on https: the first plain-http request
    (a typed address, an http link) could be stripped and the login page served by an intruder."""
    for path in ("/login", "/.well-known/openid-configuration"):
        resp = https_app.test_client().get(path, base_url="https://id.example.uz")
        assert "max-age=" in resp.headers.get("Strict-Transport-Security", ""), path
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers  # not on http


def test_database_errors_do_not_carry_statement_parameters(svc, account):
    """A failed statement's exception text (and so the log line of every 500) listed its bound
    parameters: phone numbers, e-mails, PINFLs, password hashes."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from idp.models import Person

    marker = "+998909999999"
    with pytest.raises(IntegrityError) as info, svc.db.session() as s:
        s.execute(insert(Person).values(public_id=account.public_id, phone=marker))  # public_id is unique
    assert marker not in str(info.value)


def test_nul_in_a_stored_header_is_refused_not_a_database_error(app, account):
    """The door refused NUL in query and form fields only; the User-Agent is stored with the login
    session, and PostgreSQL cannot hold a NUL: a 500 at login on any server that passes the byte on."""
    client = app.test_client()
    page = client.get("/login")
    resp = client.post("/login", data={"csrf_token": csrf_from(page.text), "login": account.login,
                                       "password": account.password}, headers={"User-Agent": "Mozilla\x00x"})
    assert resp.status_code == 400 and "NUL" in resp.text


def test_pinfl_in_non_ascii_digits_is_refused(run):
    """str.isdigit() accepts Arabic-Indic digits: '٣٢٣٠١٩٤٠١٩٠٠٦٦' passed as a 14-digit PINFL, a
    second account for a person whose ASCII PINFL is already registered (one PINFL, one account)."""
    out = run("users", "add", "pinfl-unicode", "--phone", "+998901234567", "--pinfl", "٣٢٣٠١٩٤٠١٩٠٠٦٦",
              stdin="correct horse battery\n")
    assert out.returncode != 0 and "14 digits" in out.stderr, (out.returncode, out.stderr)


def test_https_session_cookie_cannot_be_planted_from_a_sibling_domain(https_app, account):
    """Portals live on sibling subdomains (my.gov.uz, id.gov.uz): one of them, or anyone who takes
    it over, could set 'yagona_session' for the parent domain and plant a session of its own choosing
    (logged in as the attacker, or with its CSRF token). Under https the cookie carries the __Host-
    prefix, which browsers accept only from this exact host, Secure, Path=/ and without Domain."""
    client = https_app.test_client()
    page = client.get("/login", base_url="https://id.example.uz")
    cookies = [c for c in page.headers.getlist("Set-Cookie") if "yagona_session=" in c]
    assert cookies and cookies[0].startswith("__Host-yagona_session="), cookies
    assert "Secure" in cookies[0] and "Path=/" in cookies[0] and "Domain=" not in cookies[0]
    resp = client.post("/login", base_url="https://id.example.uz", headers={"Referer": "https://id.example.uz/login"},
                       data={"csrf_token": csrf_from(page.text), "login": account.login, "password": account.password})
    assert resp.status_code == 302
    assert client.get("/", base_url="https://id.example.uz").status_code == 200  # the login holds


def test_max_age_still_holds_when_the_consent_form_is_submitted_late(browser, make_portal, account, svc):
    """max_age was checked when the request arrived; a consent page left open for minutes then
    issued a code whose login was older than max_age (OIDC Core 3.1.2.1: the OP MUST re-authenticate)."""
    portal = make_portal()
    browser.tokens_for(make_portal(), account)  # logged in (consent for this portal not yet given)
    params, _ = browser.authorize_params(portal, max_age="60")
    page = browser.get("/authorize?" + urlencode(params))
    assert page.status_code == 200 and "/authorize/consent" in page.text
    with svc.db.session() as s:  # the consent page sits open for two minutes
        for row in s.scalars(select(LoginSession).where(LoginSession.person_id == account.person_id,
                                                        LoginSession.ended_at.is_(None))):
            row.auth_time -= dt.timedelta(seconds=120)
    resp = browser.consent(page.text)
    assert resp.status_code == 302 and "/login" in resp.location, resp.location
    resp = browser.get(browser.login(account, resp.location).location)  # a fresh login, then the consent
    if resp.status_code == 200:
        resp = browser.consent(resp.text)
    assert resp.status_code == 302 and "code=" in resp.location, resp.location


def test_prompt_none_with_another_persons_id_token_hint_is_login_required(app, portal, make_account):
    """A portal checks silently (prompt=none) that its user Alice is still logged in, naming her with
    id_token_hint; the browser is now logged in as Bob. The hint was ignored and a code for Bob came
    back (OIDC Core 3.1.2.1: the OP should answer login_required)."""
    alice, bob = make_account(), make_account()
    b = Browser(app)
    hint = b.tokens_for(portal, alice)["id_token"]
    b.get("/logout?" + urlencode({"id_token_hint": hint}))
    b.tokens_for(portal, bob)
    params, _ = b.authorize_params(portal, prompt="none", id_token_hint=hint)
    resp = b.get("/authorize?" + urlencode(params))
    assert resp.status_code == 302 and resp.location.startswith(portal.redirect_uri)
    assert query_of(resp.location).get("error") == "login_required", resp.location
    # Bob's own hint still gets a silent answer; a hint that is not our ID token is refused
    bob_hint = b.tokens_for(portal, bob)["id_token"]
    params, _ = b.authorize_params(portal, prompt="none", id_token_hint=bob_hint)
    assert "code=" in b.get("/authorize?" + urlencode(params)).location
    params, _ = b.authorize_params(portal, prompt="none", id_token_hint=bob_hint[:-4] + "AAAA")
    assert query_of(b.get("/authorize?" + urlencode(params)).location)["error"] == "invalid_request"
