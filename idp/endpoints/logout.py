"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

With a valid `id_token_hint` for this browser's session the logout happens at once;
otherwise the user confirms on a page (so a third-party link cannot log anyone out).
`post_logout_redirect_uri` must be registered, exactly, for the portal named by the hint
or by `client_id`.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session
from flask_login import current_user, logout_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from ..clients import get_client
from ..context import dbs, services
from ..keys import TokenError
from ..sessions import end_session
from ..tokens import ID_TOKEN_TYP
from .authorize import _add_query

bp = Blueprint("logout", __name__)


def _page_error(description: str):
    return render_template("error.html", error="invalid_request", description=description), 400


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    values = request.values
    hint = values.get("id_token_hint")
    claims = None
    if hint:
        try:
            # an ID token (typ JWT), not an access token: those go to resource servers, not to logout
            claims = services().keys.verify(hint, typ=ID_TOKEN_TYP, issuer=services().settings.issuer,
                                            verify_exp=False)
        except TokenError:
            return _page_error("id_token_hint is not a valid ID token from this server")
    client_id = values.get("client_id")
    if claims is not None:
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if client_id and client_id not in auds:
            return _page_error("client_id does not match the audience of id_token_hint")
        client_id = client_id or claims.get("azp") or auds[0]
    target = values.get("post_logout_redirect_uri")
    if target:
        client = get_client(dbs(), client_id)
        if client is None:
            return _page_error("post_logout_redirect_uri needs client_id or id_token_hint to name the portal")
        if target not in client.post_logout_redirect_uris:
            return _page_error("post_logout_redirect_uri is not registered for this portal")
        state = values.get("state")
        if state:
            target = _add_query(target, {"state": state[:1024]})
    same_session = (claims is not None and current_user.is_authenticated
                    and claims.get("sid") == current_user.row.sid)
    confirmed = request.method == "POST" and values.get("confirm") == "yes"
    if confirmed:
        try:
            validate_csrf(values.get("csrf_token"))
        except ValidationError:
            return render_template("error.html", error="csrf_failed", description=None), 400
    if current_user.is_authenticated and not (same_session or confirmed):
        return render_template("logout_confirm.html", params=values.to_dict())
    if current_user.is_authenticated:
        end_session(current_user)
        logout_user()
    session.clear()
    if target:
        return redirect(target, code=302)
    return render_template("message.html", title_key="logout_title", message_key="logged_out")
