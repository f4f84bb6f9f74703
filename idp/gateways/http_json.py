"""JSON over HTTPS to an outside system: one POST with a bearer token, bounded in time and size.

Every failure — unreachable, slow, a status other than 200, a redirect, a body that is too large or
not a JSON object — is a GatewayError saying which, for the operator's log; neither the token nor
the request body is ever part of the message.
"""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from ..config import ConfigError
from . import GatewayError

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_url(setting: str, url: str) -> str:
    """An absolute https URL (plain http only to this machine, as for redirect URIs in RFC 9700
    §4.1.1: a token sent in clear over a network can be read by anyone on the path)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url
    raise ConfigError(f"{setting} must be an https:// URL (plain http only to 127.0.0.1 or localhost), not {url!r}")


def post_json(url: str, token: str | None, body: dict[str, Any], *, what: str, timeout: float,
              max_bytes: int) -> dict[str, Any]:
    """POST *body* as JSON and return the answer's JSON object (GatewayError otherwise).

    *timeout* bounds the whole exchange, not only each read, so a server dripping one byte at a time
    cannot hold a login for long; *max_bytes* bounds the answer (memory), decompressed size counted.
    """
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Accept-Encoding": "identity"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    deadline = time.monotonic() + timeout
    try:
        with requests.post(url, data=json.dumps(body), headers=headers, timeout=(timeout, timeout),
                           allow_redirects=False, stream=True) as resp:
            if resp.status_code != 200:
                raise GatewayError(f"{what} answered HTTP {resp.status_code}"
                                   + (" (check its URL)" if resp.status_code == 404 else ""))
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise GatewayError(f"{what} sent an answer larger than {max_bytes} bytes")
            data = bytearray()
            # read1: what has arrived, so the deadline is checked while a slow body trickles in
            while chunk := resp.raw.read1(8192, decode_content=True):
                data += chunk
                if len(data) > max_bytes:
                    raise GatewayError(f"{what} sent an answer larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise GatewayError(f"{what} did not answer within {timeout:g} s")
            if resp.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
                raise GatewayError(f"{what} sent an answer that is not JSON")
    except (requests.Timeout, ReadTimeoutError):
        raise GatewayError(f"{what} did not answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        raise GatewayError(f"cannot reach {what}: {_reason(exc)}") from None
    except (requests.RequestException, HTTPError) as exc:  # HTTPError: urllib3's, from reading the body
        raise GatewayError(f"{what} failed: {exc.__class__.__name__}") from None
    try:
        answer = json.loads(data)
    except (ValueError, RecursionError):
        raise GatewayError(f"{what} sent an answer that is not JSON") from None
    if not isinstance(answer, dict):
        raise GatewayError(f"{what} gave an unexpected answer: not a JSON object")
    return answer


def _reason(exc: Exception) -> str:
    """The innermost cause, without the URL's query (it could carry a secret)."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__  # type: ignore[assignment]
    return exc.__class__.__name__
