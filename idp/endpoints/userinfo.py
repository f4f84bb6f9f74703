"""UserInfo endpoint (OIDC Core §5.3): the claims the access token's scopes release."""
from __future__ import annotations

from flask import Blueprint, request

from ..context import dbs, services
from ..keys import TokenError
from ..models import Person, PersonState
from ..scopes import claims_for
from .api import json_response, safe_description

bp = Blueprint("userinfo", __name__)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token")
    return None


def _invalid(description: str, error: str = "invalid_token", status: int = 401):
    # the description may quote the token's own header: RFC 6750 §3's charset, or it forges auth-params
    description = safe_description(description)
    challenge = f'Bearer realm="yagona", error="{error}", error_description="{description}"'
    return json_response({"error": error, "error_description": description}, status,
                         {"WWW-Authenticate": challenge})


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    token = bearer_token()
    if not token:
        return json_response({"error": "invalid_request", "error_description": "bearer token missing"}, 401,
                             {"WWW-Authenticate": 'Bearer realm="yagona"'})
    s = dbs()
    try:
        claims = services().tokens.check_access_token(s, token)
    except TokenError as exc:
        return _invalid(str(exc))
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        return _invalid("the token was not issued with the openid scope", "insufficient_scope", 403)
    person = s.query(Person).filter_by(public_id=claims["sub"]).one_or_none()
    if person is None or person.state != PersonState.ACTIVE:
        return _invalid("the account is blocked or closed")
    return json_response(claims_for(person, scopes))
