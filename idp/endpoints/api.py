"""Shared plumbing for the JSON endpoints: OAuth error responses and no-store caching."""
from __future__ import annotations

import re
from typing import Any

from flask import jsonify

from ..errors import OAuthError


#: RFC 6749 §4.1.2.1 and §5.2: error_description is limited to these characters
_DESCRIPTION_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def safe_description(text: str, limit: int = 200) -> str:
    """An error_description that may echo request values, kept within the RFC's charset and short."""
    text = _DESCRIPTION_UNSAFE.sub("?", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    body = {"error": err.error, "error_description": safe_description(err.description)}
    return json_response(body, err.status, headers)
