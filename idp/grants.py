"""Token-endpoint grants, one handler per grant type (RFC 6749 §4.1.3 and §6, RFC 7636).

Each handler takes the authenticated client and the form, and returns the token response or
raises OAuthError. Single use is enforced with a conditional UPDATE, so two racing requests
cannot both win, on SQLite or PostgreSQL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .audit import audit
from .errors import OAuthError
from .models import AuthorizationCode, Client, Grant, Person, PersonState, utcnow
from .scopes import parse_scope
from .tokens import SPEND_REFRESH, Subject, TokenService, token_hash

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _subject(s: Session, person_id: int) -> Subject:
    row = s.execute(select(Person.public_id, Person.state).where(Person.id == person_id)).first()
    if row is None or row.state != PersonState.ACTIVE:
        raise OAuthError("invalid_grant", "the account is blocked or closed")
    return Subject(row.public_id)


def authorization_code(svc: TokenService, s: Session, client: Client, form) -> dict[str, Any]:
    code = form.get("code")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    row = s.get(AuthorizationCode, token_hash(code)) if len(code) <= 512 else None
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown authorization code")
    if row.used_at is not None:
        _replayed(svc, s, row, client)
    now = utcnow()
    won = s.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if not won:
        _replayed(svc, s, row, client)
    s.commit()  # the code is spent even if a check below fails: no second try with another verifier
    if row.expires_at <= now:
        svc.revoke_grant(s, row.grant_id, "code_expired")
        s.commit()
        raise OAuthError("invalid_grant", "authorization code expired; start the login again")
    if form.get("redirect_uri") != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the one in the authorization request")
    verifier = form.get("code_verifier")
    if not verifier:
        raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
    if not VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), row.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    grant = s.get(Grant, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        raise OAuthError("invalid_grant", "the grant for this code was revoked")
    response = svc.issue_tokens(s, client, grant, _subject(s, grant.person_id), nonce=row.nonce)
    audit(s, "token.code_exchanged", person_id=grant.person_id, client_id=client.client_id)
    return response


def _replayed(svc: TokenService, s: Session, row: AuthorizationCode, client: Client) -> None:
    """RFC 6749 §4.1.2: a code used twice is refused and what it issued is revoked."""
    if svc.revoke_grant(s, row.grant_id, "code_replay"):
        audit(s, "token.code_replay", client_id=client.client_id, detail={"grant": row.grant_id})
    s.commit()
    raise OAuthError("invalid_grant", "authorization code was already used; the tokens it issued are revoked")


def refresh_token(svc: TokenService, s: Session, client: Client, form) -> dict[str, Any]:
    token = form.get("refresh_token")
    if not token:
        raise OAuthError("invalid_request", "refresh_token is required")
    found = svc.find_refresh(s, token)
    if found is None:
        raise OAuthError("invalid_grant", "unknown refresh token")
    rt, grant = found
    if grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "unknown refresh token")
    if grant.revoked_at is not None:
        raise OAuthError("invalid_grant", "refresh token revoked")
    if rt.person_state != PersonState.ACTIVE:
        raise OAuthError("invalid_grant", "the account is blocked or closed")
    scope = grant.scope
    if form.get("scope"):
        asked = parse_scope(form.get("scope"))
        granted = grant.scope.split()
        if not set(asked) <= set(granted):
            raise OAuthError("invalid_scope", "a refresh may narrow the scope, never widen it")
        scope = " ".join(asked)
    now = utcnow()
    if rt.used_at is not None:
        _reused(svc, s, grant.id, client)
    won = s.connection().execute(SPEND_REFRESH, {"h": rt.token_hash, "now": now}).rowcount
    if not won:
        _reused(svc, s, grant.id, client)
    if rt.expires_at <= now or grant.expires_at <= now:
        s.commit()
        raise OAuthError("invalid_grant", "refresh token expired; log in again")
    return svc.issue_tokens(s, client, grant, Subject(rt.public_id), scope=scope)


def _reused(svc: TokenService, s: Session, grant_id: str, client: Client) -> None:
    """RFC 9700 §4.14.2: a spent refresh token presented again means theft; revoke the family."""
    svc.revoke_grant(s, grant_id, "refresh_reuse")
    audit(s, "token.refresh_reuse", client_id=client.client_id, detail={"grant": grant_id})
    s.commit()
    raise OAuthError("invalid_grant", "refresh token was already used; the whole token family is revoked")


GRANTS: dict[str, Callable[[TokenService, Session, Client, Any], dict[str, Any]]] = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
}
