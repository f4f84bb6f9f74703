"""Portal registry: add, list, remove, and authenticate portals (OAuth confidential clients)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .assurance import LEVELS, LOW, short
from .db import rowcount
from .errors import OAuthError
from .keys import SUPPORTED_ALGS
from .models import Client
from .scopes import DEFAULT_CLIENT_SCOPES, SCOPES


class ClientConfigError(ValueError):
    """A client registration that must not be accepted; the message says which value and why."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_redirect_uri(uri: str, *, what: str = "redirect URI") -> str:
    """RFC 9700 §2.1/§4.1: absolute, no fragment; https, or http only on a loopback host."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        raise ClientConfigError(f"{what} {uri!r} must be an absolute URL (scheme://host/path)")
    if parts.fragment or "#" in uri:
        raise ClientConfigError(f"{what} {uri!r} must not contain a fragment (#...)")
    if parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1", "::1"}:
        raise ClientConfigError(f"{what} {uri!r} uses plain http; only https (or http on localhost) is allowed")
    if parts.scheme not in {"http", "https"}:
        raise ClientConfigError(f"{what} {uri!r} must use https")
    if any(ord(c) < 33 for c in uri):
        raise ClientConfigError(f"{what} {uri!r} contains spaces or control characters")
    return uri


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  #: shown once; only its hash is stored


def add_client(
    s: Session,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    scopes: list[str] | None = None,
    min_acr: str = LOW,
    id_token_alg: str = "ES256",
    client_id: str | None = None,
) -> NewClient:
    """Register a portal. Raises ClientConfigError on any value we would not accept."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ClientConfigError("client name must be 1 to 200 characters")
    if not redirect_uris:
        raise ClientConfigError("at least one redirect URI is required")
    redirect_uris = [check_redirect_uri(u) for u in redirect_uris]
    post_logout = [check_redirect_uri(u, what="post-logout redirect URI") for u in (post_logout_redirect_uris or [])]
    scopes = list(dict.fromkeys(scopes or DEFAULT_CLIENT_SCOPES))
    unknown = [sc for sc in scopes if sc not in SCOPES]
    if unknown:
        raise ClientConfigError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    min_acr = short(min_acr) or min_acr  # the eIDAS URI or the short name
    if min_acr not in LEVELS:
        raise ClientConfigError(f"minimum acr must be one of {', '.join(LEVELS)}")
    if id_token_alg not in SUPPORTED_ALGS:
        raise ClientConfigError(f"ID token algorithm must be one of {', '.join(SUPPORTED_ALGS)}")
    client_id = client_id or "yg-" + secrets.token_hex(10)
    if s.scalar(select(Client.id).where(Client.client_id == client_id)) is not None:
        raise ClientConfigError(f"client id {client_id!r} is already registered")
    secret = secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id, name=name, secret_hash=hash_secret(secret), redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout, allowed_scopes=scopes, min_acr=min_acr, id_token_alg=id_token_alg,
    )
    s.add(client)
    s.flush()
    return NewClient(client, secret)


def client_info(c: Client) -> dict:
    return {
        "client_id": c.client_id,
        "name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "scopes": c.allowed_scopes,
        "min_acr": c.min_acr,
        "id_token_alg": c.id_token_alg,
        "active": c.active,
        "created_at": c.created_at.isoformat() + "Z",
    }


def remove_client(s: Session, client_id: str) -> bool:
    """Delete a portal and, by cascade, its grants, tokens and consents. False if it did not exist."""
    _CACHE.pop(client_id, None)
    return rowcount(s.execute(delete(Client).where(Client.client_id == client_id))) > 0


def get_client(s: Session, client_id: str | None) -> Client | None:
    if not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None
    c = s.scalar(select(Client).where(Client.client_id == client_id))
    return c if c is not None and c.active else None


_CACHE: dict[str, tuple[float, Client | None]] = {}
CACHE_SECONDS = 5.0


def cached_client(s: Session, client_id: str | None) -> Client | None:
    """get_client with a short per-process cache for the token endpoints' hot path.

    A removed or changed client takes effect on every worker within CACHE_SECONDS.
    """
    now = time.monotonic()
    hit = _CACHE.get(client_id or "")
    if hit is not None and hit[0] > now:
        return hit[1]
    client = get_client(s, client_id)
    if client is not None:
        s.expunge(client)
    if len(_CACHE) > 10_000:
        _CACHE.clear()
    if client_id and len(client_id) <= 64:
        _CACHE[client_id] = (now + CACHE_SECONDS, client)
    return client


def authenticate_client(s: Session, authorization: str | None, form) -> Client:
    """client_secret_basic or client_secret_post (exactly one), compared in constant time.

    Raises OAuthError(invalid_client, 401) with a reason, never saying whether the id exists.
    """
    basic = None
    if authorization and authorization[:6].lower() == "basic ":
        try:
            raw = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            cid, sep, secret = raw.partition(":")
            if not sep:
                raise ValueError
            basic = (unquote(cid.replace("+", " ")), unquote(secret.replace("+", " ")))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401) from None
    post = form.get("client_secret")
    if basic and post is not None:
        raise OAuthError("invalid_request", "use one client authentication method, not Basic and client_secret both")
    if basic:
        cid, secret = basic
        if form.get("client_id") not in (None, cid):
            raise OAuthError("invalid_request", "client_id in the body differs from the Basic credentials")
    elif post is not None:
        cid, secret = form.get("client_id"), post
    else:
        raise OAuthError("invalid_client",
                         "client authentication required (client_secret_basic or client_secret_post)", 401)
    client = cached_client(s, cid)
    expected = client.secret_hash if client else hash_secret(secrets.token_urlsafe(8))
    if not hmac.compare_digest(hash_secret(secret or ""), expected) or client is None:
        raise OAuthError("invalid_client", "unknown client or wrong client secret", 401)
    return client
