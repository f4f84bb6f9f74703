"""Token endpoint (RFC 6749 §3.2): authenticate the client, dispatch to the grant's handler."""
from __future__ import annotations

from flask import Blueprint, request

from ..clients import authenticate_client
from ..context import dbs, services
from ..errors import OAuthError
from ..grants import GRANTS
from .api import json_response, oauth_error_response

bp = Blueprint("token", __name__)


@bp.route("/token", methods=["POST"])
def token():
    s = dbs()
    try:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "send the token request as application/x-www-form-urlencoded")
        form = request.form
        for name in form:
            if len(form.getlist(name)) > 1:
                raise OAuthError("invalid_request", f"the {name} parameter appears more than once")
        client = authenticate_client(s, request.headers.get("Authorization"), form)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing")
        handler = GRANTS.get(grant_type)
        if handler is None:
            raise OAuthError("unsupported_grant_type", f"grant_type must be one of {', '.join(GRANTS)}")
        body = handler(services().tokens, s, client, form)
        s.commit()
        return json_response(body)
    except OAuthError as err:
        s.rollback()
        return oauth_error_response(err)
