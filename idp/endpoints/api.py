"""Shared plumbing for the JSON endpoints: OAuth error responses and no-store caching."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from ..errors import OAuthError


def json_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None):
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def oauth_error_response(err: OAuthError):
    headers = {}
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="yagona", charset="UTF-8"'
    return json_response(err.to_dict(), err.status, headers)
