"""Authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207, RFC 9700).

Unknown client or redirect URI: an error page, never a redirect. Every other problem goes
back to the portal as an error redirect with `state` and `iss`. What a request still needs is
decided by idp/policy.py; one that needs the person (login, step-up, consent) is parked as an
interaction (idp/interactions.py) and the browser goes to `/login?i=<id>`.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..assurance import requested_level
from ..audit import audit
from ..clients import get_client
from ..context import dbs, services
from ..errors import OAuthError
from ..i18n import LANGS
from ..interactions import Waiting, current_interaction, finish, new_interaction, park
from ..methods.page import offered
from ..models import AuthorizationCode, Client, Consent, Interaction, utcnow
from ..policy import Consent as ConsentNeeded, Done, HintMismatch, Login, Need, Reauthenticate, StepUp, \
    what_is_needed
from ..scopes import EVERY_CLIENT_SCOPES, parse_scope
from ..keys import TokenError
from ..sessions import SessionUser
from ..tokens import ID_TOKEN_TYP, token_hash
from .api import safe_description

bp = Blueprint("authorize", __name__)

CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
MAX_AGE = re.compile(r"[0-9]{1,10}")
PROMPTS = {"none", "login", "consent", "select_account"}
SINGLE = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "acr_values", "login_hint", "ui_locales", "response_mode",
          "id_token_hint")


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


def parse_request(values) -> tuple[Client, Interaction]:
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
        acr_values = values.get("acr_values")
        if acr_values is not None and len(acr_values) > 500:
            raise OAuthError("invalid_request", "acr_values is longer than 500 characters")
        acr = requested_level(acr_values, client.min_acr)
        hint_sub = _hinted_subject(values.get("id_token_hint"), client.client_id)
    except OAuthError as err:
        err.state = state  # type: ignore[attr-defined]
        err.redirect_uri = redirect_uri  # type: ignore[attr-defined]
        raise
    return client, new_interaction(
        client_id=client.client_id, redirect_uri=redirect_uri, scope=scopes, state=state, nonce=nonce,
        code_challenge=challenge, prompt=prompt, max_age=max_age, acr_values=acr_values, acr_needed=acr,
        ui_locales=(values.get("ui_locales") or "")[:100] or None,
        login_hint=(values.get("login_hint") or "")[:64] or None, hint_sub=hint_sub,
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
    s = dbs()
    need = what_is_needed(s, req, _user())
    if "none" in req.prompt and not isinstance(need, Done):
        # OIDC Core 3.1.2.6: say what is missing, never show a page
        return error_redirect(req.redirect_uri, OAuthError(need.error, _NONE_DESCRIPTION[need.error]), req.state)
    if isinstance(need, Done):
        return issue_code(client, req)
    return go_on(client, park(s, req), need)


_NONE_DESCRIPTION = {"login_required": "the user must log in", "consent_required": "the user must consent",
                     "interaction_required": "the user must act on a page"}


def _user() -> SessionUser | None:
    return current_user._get_current_object() if current_user.is_authenticated else None  # type: ignore[attr-defined]


def _ui_locale(req: Interaction) -> str | None:
    """The first of the request's ui_locales we speak, carried to the login page as ?lang=."""
    for tag in (req.ui_locales or "").split():
        if tag[:2].lower() in LANGS:
            return tag[:2].lower()
    return None


def go_on(client: Client, waiting: Waiting, need: Need):
    """Answer what *need* asks of a waiting request: the login page (a login, a new one, a stronger
    one), the consent page, the code, or login_required for a login as someone else than hinted."""
    row = waiting.row
    if isinstance(need, (Login, Reauthenticate, StepUp)):
        row.step = "step_up" if isinstance(need, StepUp) else "login"
        dbs().commit()
        return redirect(url_for("account.login", i=waiting.id, lang=_ui_locale(row)))
    if isinstance(need, ConsentNeeded):
        row.step = "consent"
        dbs().commit()
        return render_template("consent.html", client=client, scopes=row.scope, iid=waiting.id)
    if not finish(dbs(), waiting):
        return _expired()
    if isinstance(need, HintMismatch):
        dbs().commit()
        return error_redirect(row.redirect_uri, OAuthError(
            "login_required", "the user who logged in is not the one id_token_hint names"), row.state)
    return issue_code(client, row)


def _expired():
    return render_template("error.html", error="request_expired", description=None), 400


def _open():
    """(client, waiting, None) for an interaction this browser may go on with, else
    (None, None, the error page to answer with instead)."""
    waiting = current_interaction()
    if waiting is None:
        return None, None, _expired()
    client = get_client(dbs(), waiting.row.client_id)
    if client is None or waiting.row.redirect_uri not in client.redirect_uris:
        finish(dbs(), waiting)
        dbs().commit()
        return None, None, (render_template(
            "error.html", error="invalid_request",
            description="the portal's registration changed; start again from the portal"), 400)
    return client, waiting, None


@bp.route("/authorize/continue")
def resume():
    """Where a login method sends the browser once the person has logged in."""
    client, waiting, stop = _open()
    if stop is not None:
        return stop
    return go_on(client, waiting, what_is_needed(dbs(), waiting.row, _user()))


@bp.route("/authorize/consent", methods=["POST"])
def consent():
    client, waiting, stop = _open()
    if stop is not None:
        return stop
    s = dbs()
    need = what_is_needed(s, waiting.row, _user(), consented=True)
    if not isinstance(need, Done):  # a login is (still) missing: the form cannot skip it
        return go_on(client, waiting, need)
    row, person = waiting.row, current_user.person
    if request.form.get("decision") != "allow":
        if not finish(s, waiting):
            return _expired()
        audit(s, "consent.denied", person_id=person.id, client_id=client.client_id)
        s.commit()
        return error_redirect(row.redirect_uri, OAuthError("access_denied", "the user declined"), row.state)
    # the consent first: its insert-if-absent must not wait behind our own write lock (SQLite)
    _remember_consent(s, person.id, client.client_id, row.scope)
    if not finish(s, waiting):
        s.rollback()
        return _expired()
    audit(s, "consent.granted", person_id=person.id, client_id=client.client_id, detail={"scopes": row.scope})
    s.flush()
    return issue_code(client, row)


@bp.route("/authorize/cancel", methods=["POST"])
def cancel():
    """The person gives up on the login page: the portal learns why. When no method the person
    could use reaches the level it asked for, that is unmet_authentication_requirements (OpenID
    Connect Core errata set 2, §3.1.2.6); otherwise the person declined (access_denied)."""
    _client, waiting, stop = _open()
    if stop is not None:
        return stop
    s = dbs()
    methods, _step_up = offered(waiting)
    if not finish(s, waiting):
        return _expired()
    audit(s, "login.abandoned", client_id=waiting.row.client_id, detail={"step": waiting.row.step})
    s.commit()
    row = waiting.row
    if not methods:
        return error_redirect(row.redirect_uri, OAuthError(
            "unmet_authentication_requirements",
            f"this portal requires assurance level {row.acr_needed}; no login method available to the user "
            "reaches it"), row.state)
    return error_redirect(row.redirect_uri, OAuthError("access_denied", "the user gave up logging in"), row.state)


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


def issue_code(client: Client, req: Interaction):
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

