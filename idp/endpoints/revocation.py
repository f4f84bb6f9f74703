"""Token revocation (RFC 7009) and introspection (RFC 7662), for authenticated portals only.

A portal sees and revokes only its own tokens: another portal's token introspects as
inactive and is left alone.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from ..assurance import uri as acr_uri
from ..clients import authenticate_client
from ..context import dbs, services
from ..errors import OAuthError
from ..keys import TokenError
from ..models import Client, Person, PersonState, epoch, utcnow
from .api import json_response, oauth_error_response

bp = Blueprint("revocation", __name__)
HINTS = {None, "access_token", "refresh_token"}


def _client_and_token() -> tuple[Client, str, str | None]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the request as application/x-www-form-urlencoded")
    client = authenticate_client(dbs(), request.headers.get("Authorization"), request.form)
    token = request.form.get("token")
    if not token:
        raise OAuthError("invalid_request", "token is missing")
    hint = request.form.get("token_type_hint")
    if hint not in HINTS:
        raise OAuthError("unsupported_token_type", "token_type_hint must be access_token or refresh_token")
    return client, token, hint


def _lookup(client: Client, token: str, hint: str | None) -> tuple[str, Any] | None:
    """('refresh_token', (rt, grant)) or ('access_token', claims) for a token of this client."""
    s, svc = dbs(), services().tokens
    order = ["refresh_token", "access_token"] if hint != "access_token" else ["access_token", "refresh_token"]
    for kind in order:
        if kind == "refresh_token":
            found = svc.find_refresh(s, token)
            if found and found[1].client_id == client.client_id:
                return kind, found
        else:
            try:
                claims = services().keys.verify(token, typ="at+jwt", verify_exp=False)
            except TokenError:
                continue
            if claims.get("client_id") == client.client_id:
                return kind, claims
    return None


@bp.route("/revoke", methods=["POST"])
def revoke():
    s = dbs()
    try:
        client, token, hint = _client_and_token()
    except OAuthError as err:
        return oauth_error_response(err)
    found = _lookup(client, token, hint)
    if found is not None:
        kind, what = found
        if kind == "refresh_token":
            services().tokens.revoke_grant(s, what[1].id, "revoked_by_client")
        else:
            services().tokens.revoke_access_token(s, what)
        s.commit()
    return json_response({})  # RFC 7009 §2.2: 200 whether or not the token was known


@bp.route("/introspect", methods=["POST"])
def introspect():
    s, svc = dbs(), services().tokens
    try:
        client, token, hint = _client_and_token()
    except OAuthError as err:
        return oauth_error_response(err)
    inactive = json_response({"active": False})
    found = _lookup(client, token, hint)
    if found is None:
        return inactive
    kind, what = found
    if kind == "refresh_token":
        rt, grant = what
        now = utcnow()
        if rt.used_at or grant.revoked_at or rt.expires_at <= now or grant.expires_at <= now:
            return inactive
        if rt.person_state != PersonState.ACTIVE:  # a refresh would fail for a blocked or closed account
            return inactive

        return json_response({
            "active": True, "token_type": "refresh_token", "client_id": client.client_id, "scope": grant.scope,
            "sub": rt.public_id, "exp": epoch(rt.expires_at), "iat": epoch(rt.created_at),
            "iss": services().settings.issuer, "acr": acr_uri(grant.acr), "amr": grant.amr,
            "auth_time": epoch(grant.auth_time),
        })
    try:
        claims = svc.check_access_token(s, token)
    except TokenError:
        return inactive
    if s.scalar(select(Person.state).where(Person.public_id == claims["sub"])) != PersonState.ACTIVE:
        return inactive  # /userinfo refuses a blocked or closed account's token; so does introspection
    body = {k: claims[k] for k in ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "acr", "amr",
                                    "auth_time") if k in claims}
    return json_response({"active": True, "token_type": "Bearer", **body})
