"""Authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207, RFC 9700).

Unknown client or redirect URI: an error page, never a redirect. Every other problem goes
back to the portal as an error redirect with `state` and `iss`. A request that needs the user
(login, step-up, consent) is parked in the signed session cookie under a random id.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..assurance import requested_level, satisfies
from ..audit import audit
from ..clients import get_client
from ..context import dbs, services
from ..errors import OAuthError
from ..i18n import LANGS
from ..models import AuthorizationCode, Client, Consent, epoch, utcnow
from ..scopes import EVERY_CLIENT_SCOPES, parse_scope
from ..keys import TokenError
from ..tokens import ID_TOKEN_TYP, token_hash
from .api import safe_description

bp = Blueprint("authorize", __name__)

CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
MAX_AGE = re.compile(r"[0-9]{1,10}")
PROMPTS = {"none", "login", "consent", "select_account"}
SINGLE = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "acr_values", "login_hint", "ui_locales", "response_mode",
          "id_token_hint")
PENDING_TTL = 30 * 60
MAX_PENDING = 4
#: bytes of session cookie parked requests may fill: browsers drop a cookie over 4096 bytes, and the
#: login and the CSRF token still add theirs
COOKIE_BUDGET = 3400


@dataclass
class AuthRequest:
    client_id: str
    redirect_uri: str
    scope: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    acr: str = "low"
    login_hint: str | None = None
    created: int = 0
    #: the login session that must be replaced (prompt=login, max_age, step-up) before a code is issued
    reauth_sid: str | None = None
    #: the `sub` of a valid id_token_hint: the person the portal expects (OIDC Core 3.1.2.1)
    hint_sub: str | None = None


class PageError(Exception):
    """Cannot trust the redirect URI: show an error page instead of redirecting."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def error_redirect(redirect_uri: str, err: OAuthError, state: str | None):
    # a description may echo request values (refused scopes): keep it in the RFC's charset and short
    params = {"error": err.error, "error_description": safe_description(err.description),
              "iss": services().settings.issuer}
    if state is not None:
        params["state"] = state
    return redirect(_add_query(redirect_uri, params), code=302)


def _add_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_request(values) -> tuple[Client, AuthRequest]:
    """Validate an authorization request. PageError before the redirect URI is trusted, OAuthError after."""
    s = dbs()
    for name in ("client_id", "redirect_uri"):
        if len(values.getlist(name)) > 1:
            raise PageError(f"the {name} parameter appears more than once")
    client = get_client(s, values.get("client_id"))
    if client is None:
        raise PageError("unknown client_id: this portal is not registered with Yagona")
    redirect_uri = values.get("redirect_uri")
    if not redirect_uri:
        raise PageError("redirect_uri is missing")
    if redirect_uri not in client.redirect_uris:  # exact string comparison (RFC 9700 §4.1.3)
        raise PageError("redirect_uri is not registered for this portal")
    state = values.get("state")
    try:
        for name in SINGLE:
            if len(values.getlist(name)) > 1:
                raise OAuthError("invalid_request", f"the {name} parameter appears more than once")
        if state is not None and len(state) > 1024:
            state = None
            raise OAuthError("invalid_request", "state is longer than 1024 characters")
        if "request" in values:
            raise OAuthError("request_not_supported", "request objects are not supported; send plain parameters")
        if "request_uri" in values:
            raise OAuthError("request_uri_not_supported", "request_uri is not supported; send plain parameters")
        response_type = values.get("response_type")
        if not response_type:
            raise OAuthError("invalid_request", "response_type is missing")
        if response_type != "code":
            raise OAuthError("unsupported_response_type", "only response_type=code is supported")
        if values.get("response_mode") not in (None, "query"):
            raise OAuthError("invalid_request", "only response_mode=query is supported")
        scopes = parse_scope(values.get("scope"))
        if "openid" not in scopes:
            raise OAuthError("invalid_scope", "scope must include openid")
        refused = [sc for sc in scopes if sc not in client.allowed_scopes and sc not in EVERY_CLIENT_SCOPES]
        if refused:
            raise OAuthError("invalid_scope", f"scope not allowed for this portal: {' '.join(refused)}")
        challenge = values.get("code_challenge")
        if not challenge:
            raise OAuthError("invalid_request", "code_challenge is required (PKCE with S256)")
        method = values.get("code_challenge_method")
        if method != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
        if not CHALLENGE.match(challenge):
            raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters (SHA-256)")
        nonce = values.get("nonce")
        if nonce is not None and len(nonce) > 512:
            raise OAuthError("invalid_request", "nonce is longer than 512 characters")
        prompt = (values.get("prompt") or "").split()
        if any(p not in PROMPTS for p in prompt):
            raise OAuthError("invalid_request", f"unsupported prompt value; use {', '.join(sorted(PROMPTS))}")
        if "none" in prompt and len(prompt) > 1:
            raise OAuthError("invalid_request", "prompt=none cannot be combined with other values")
        max_age = values.get("max_age")
        if max_age is not None:
            if not MAX_AGE.fullmatch(max_age):  # ASCII digits only: str.isdigit() takes '²', int() does not
                raise OAuthError("invalid_request", "max_age must be a non-negative integer (seconds)")
            max_age = int(max_age)
        acr = requested_level(values.get("acr_values"), client.min_acr)
        hint_sub = _hinted_subject(values.get("id_token_hint"), client.client_id)
    except OAuthError as err:
        err.state = state  # type: ignore[attr-defined]
        err.redirect_uri = redirect_uri  # type: ignore[attr-defined]
        raise
    return client, AuthRequest(
        client_id=client.client_id, redirect_uri=redirect_uri, scope=scopes, state=state, nonce=nonce,
        code_challenge=challenge, prompt=prompt, max_age=max_age, acr=acr,
        login_hint=(values.get("login_hint") or "")[:64] or None, created=int(time.time()), hint_sub=hint_sub,
    )


def _hinted_subject(hint: str | None, client_id: str) -> str | None:
    """The person an id_token_hint names: one of our ID tokens, issued to this portal (expired is fine)."""
    if not hint:
        return None
    try:
        claims = services().keys.verify(hint, typ=ID_TOKEN_TYP, issuer=services().settings.issuer,
                                        audience=client_id, verify_exp=False)
    except TokenError:
        raise OAuthError("invalid_request", "id_token_hint is not an ID token this server issued to this portal") \
            from None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    try:
        client, req = parse_request(request.values)
    except PageError as exc:
        return render_template("error.html", error="invalid_request", description=exc.description), 400
    except OAuthError as err:
        return error_redirect(err.redirect_uri, err, err.state)  # type: ignore[attr-defined]
    user = current_user if current_user.is_authenticated else None
    need_login = (
        user is None
        or "login" in req.prompt or "select_account" in req.prompt
        or (req.max_age is not None and time.time() - epoch(user.row.auth_time) > req.max_age)
        or not satisfies(user.row.acr, req.acr)
        or (req.hint_sub is not None and user.person.public_id != req.hint_sub)  # logged in as someone else
    )
    if need_login:
        if "none" in req.prompt:
            code = "login_required"  # OIDC Core 3.1.2.6: authentication is what is needed, fresh or stronger
            return error_redirect(req.redirect_uri, OAuthError(code, "the user must log in"), req.state)
        req.reauth_sid = user.row.sid if user is not None else None
        return redirect(url_for("account.login", authz=park(req), lang=_ui_locale()))
    return decide(client, req)


def _ui_locale() -> str | None:
    """The first of the request's ui_locales we speak, carried to the login page as ?lang=."""
    for tag in (request.values.get("ui_locales") or "").split():
        if tag[:2].lower() in LANGS:
            return tag[:2].lower()
    return None


def park(req: AuthRequest) -> str:
    """Keep a request that waits for the user in the session cookie; return its id."""
    pending = {k: v for k, v in session.get("authz", {}).items() if v["created"] > time.time() - PENDING_TTL}
    while len(pending) >= MAX_PENDING:
        pending.pop(min(pending, key=lambda k: pending[k]["created"]))
    rid = secrets.token_urlsafe(12)
    pending[rid] = asdict(req)
    while len(pending) > 1 and _cookie_size({**session, "authz": pending}) > COOKIE_BUDGET:
        pending.pop(min((k for k in pending if k != rid), key=lambda k: pending[k]["created"]))  # the new one stays
    session["authz"] = pending
    return rid


def _cookie_size(data: dict) -> int:
    """The length of the session cookie's value that *data* would make."""
    serializer = current_app.session_interface.get_signing_serializer(current_app)  # type: ignore[attr-defined]
    return len(serializer.dumps(data)) if serializer is not None else 0


def parked(rid: str | None) -> AuthRequest | None:
    data = session.get("authz", {}).get(rid or "")
    if not data or data["created"] < time.time() - PENDING_TTL:
        return None
    known = AuthRequest.__dataclass_fields__  # a cookie parked by an older version may carry other keys
    return AuthRequest(**{k: v for k, v in data.items() if k in known})


def unpark(rid: str | None) -> None:
    pending = dict(session.get("authz", {}))
    pending.pop(rid, None)
    session["authz"] = pending


@bp.route("/authorize/continue")
def resume():
    """Where the login page sends the browser back once the user has logged in."""
    rid = request.args.get("authz")
    client, req, stop = _go_on(rid)
    if stop is not None:
        return stop
    return decide(client, req, rid)


def _go_on(rid: str | None):
    """(client, request, None) for a parked request the browser may go on with, else
    (None, None, the page or redirect to answer with instead)."""
    req = parked(rid)
    if req is None or rid is None:
        return None, None, (render_template("error.html", error="request_expired", description=None), 400)
    client = get_client(dbs(), req.client_id)
    if client is None or req.redirect_uri not in client.redirect_uris:
        unpark(rid)
        return None, None, (render_template(
            "error.html", error="invalid_request",
            description="the portal's registration changed; start again from the portal"), 400)
    waiting = _login_still_needed(rid, req)
    if waiting is not None:
        return None, None, waiting
    return client, req, None


def _login_still_needed(rid: str, req: AuthRequest):
    """The answer for a parked request the browser's login does not (yet) meet, or None.

    Every way on from a parked request (back from the login page, the consent form) goes
    through here, so none of them can skip the new or stronger login the request asked for."""
    user = current_user if current_user.is_authenticated else None
    if user is None or (req.reauth_sid is not None and user.row.sid == req.reauth_sid):
        return redirect(url_for("account.login", authz=rid))
    auth_time = epoch(user.row.auth_time)
    if req.max_age is not None and auth_time < req.created and time.time() - auth_time > req.max_age:
        # a login older than the request has aged past max_age while it waited (a consent page left open)
        pending = dict(session.get("authz", {}))
        pending[rid] = {**pending[rid], "reauth_sid": user.row.sid}
        session["authz"] = pending
        return redirect(url_for("account.login", authz=rid))
    if req.hint_sub is not None and user.person.public_id != req.hint_sub:
        # OIDC Core 3.1.2.1: the person who logged in is not the one the portal's id_token_hint names
        unpark(rid)
        return error_redirect(req.redirect_uri, OAuthError(
            "login_required", "the user who logged in is not the one id_token_hint names"), req.state)
    if not satisfies(user.row.acr, req.acr):
        unpark(rid)
        return error_redirect(req.redirect_uri, OAuthError(
            "unmet_authentication_requirements",
            f"this portal requires assurance level {req.acr}; the user's login reached {user.row.acr}"), req.state)
    return None


def decide(client: Client, req: AuthRequest, rid: str | None = None):
    """Ask for consent if needed, else issue the code."""
    s = dbs()
    person = current_user.person
    consent = s.scalar(select(Consent).where(Consent.person_id == person.id, Consent.client_id == client.client_id))
    has_consent = consent is not None and set(req.scope) <= set(consent.scopes)
    if "consent" in req.prompt or not has_consent:
        if "none" in req.prompt:
            return error_redirect(req.redirect_uri, OAuthError("consent_required", "the user must consent"), req.state)
        rid = rid or park(req)
        return render_template("consent.html", client=client, scopes=req.scope, rid=rid)
    if rid:
        unpark(rid)
    return issue_code(client, req)


@bp.route("/authorize/consent", methods=["POST"])
def consent():
    rid = request.form.get("authz")
    client, req, stop = _go_on(rid)
    if stop is not None:
        return stop
    unpark(rid)
    s = dbs()
    person = current_user.person
    if request.form.get("decision") != "allow":
        audit(s, "consent.denied", person_id=person.id, client_id=client.client_id)
        s.commit()
        return error_redirect(req.redirect_uri, OAuthError("access_denied", "the user declined"), req.state)
    _remember_consent(s, person.id, client.client_id, req.scope)
    audit(s, "consent.granted", person_id=person.id, client_id=client.client_id, detail={"scopes": req.scope})
    s.flush()
    return issue_code(client, req)


def _remember_consent(s, person_id: int, client_id: str, scopes: list[str]) -> None:
    """Add *scopes* to what the person lets the portal see. Insert-if-absent in one statement, so two
    tabs consenting at once both land instead of the second hitting the unique constraint (a 500)."""
    dialect = s.get_bind().dialect.name
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}.get(dialect)
    if insert is not None:
        added = s.execute(insert(Consent).values(person_id=person_id, client_id=client_id, scopes=scopes,
                                                 granted_at=utcnow())
                          .on_conflict_do_nothing(index_elements=["person_id", "client_id"])  # type: ignore[attr-defined]
                          .returning(Consent.id)).first()  # rowcount is -1 on psycopg here
        if added is not None:
            return
    row = s.scalar(select(Consent).where(Consent.person_id == person_id, Consent.client_id == client_id))
    if row is None:
        s.add(Consent(person_id=person_id, client_id=client_id, scopes=scopes))
    else:
        row.scopes = sorted(set(row.scopes) | set(scopes))
        row.granted_at = utcnow()


def issue_code(client: Client, req: AuthRequest):
    s = dbs()
    settings = services().settings
    user = current_user
    grant = services().tokens.new_grant(
        s, client_id=client.client_id, person_id=user.person.id, session_sid=user.row.sid,
        scope=" ".join(req.scope), acr=user.row.acr, amr=list(user.row.amr), auth_time=user.row.auth_time,
        org_tin=user.row.org_tin,
    )
    code = secrets.token_urlsafe(32)
    now = utcnow()
    s.add(AuthorizationCode(
        code_hash=token_hash(code), grant_id=grant.id, client_id=client.client_id, redirect_uri=req.redirect_uri,
        code_challenge=req.code_challenge, nonce=req.nonce, created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.code_ttl),
    ))
    s.commit()
    params = {"code": code, "iss": settings.issuer}
    if req.state is not None:
        params["state"] = req.state
    return redirect(_add_query(req.redirect_uri, params), code=302)

