"""Token-signing keys: generated on first start, rotated by `yagona keys rotate`, published as JWKS.

Keys live in the database as PKCS#12 blobs (keystore.pfx) encrypted under a key derived from
the instance secret, so every worker and machine sharing the database signs with the same
keys and none of them ever holds a private key unencrypted at rest.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import select

from keystore import pfx
from keystore.errors import KeystoreError

from .db import Database
from .models import SigningKey, utcnow

log = logging.getLogger("yagona.keys")
SUPPORTED_ALGS = ("ES256", "RS256")
DEFAULT_ALG = "ES256"
_CACHE_SECONDS = 30.0
_RELOAD_ON_UNKNOWN_SECONDS = 1.0


class TokenError(Exception):
    """A token we were handed is not one we issued, or not any more."""


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    alg: str
    private: Any
    public: Any
    jwk: dict[str, Any]
    active: bool


def _generate(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported signing algorithm {alg!r}; choose one of {', '.join(SUPPORTED_ALGS)}")


def derived_password(secret: bytes, purpose: bytes) -> bytes:
    """The PKCS#12 password for keys the service keeps for *purpose*: HKDF-SHA256 of the master secret,
    so every worker with the same secret opens them and nothing else can."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(secret).hex().encode()


def public_jwk(public_key, alg: str) -> dict[str, Any]:
    """The public JWK with `kid` set to its RFC 7638 thumbprint."""
    algo = ECAlgorithm if alg.startswith("ES") else RSAAlgorithm
    jwk = algo.to_jwk(public_key, as_dict=True)
    required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return {**{k: jwk[k] for k in required}, "kid": kid, "alg": alg, "use": "sig"}


class KeyRing:
    """Loads, caches and uses the signing keys stored in the database."""

    def __init__(self, db: Database, secret: bytes, retire_grace: int) -> None:
        self.db = db
        self.retire_grace = retire_grace
        self._password = derived_password(secret, b"yagona token-signing keys")
        self._lock = threading.Lock()
        self._keys: dict[str, LoadedKey] = {}
        self._loaded_at = 0.0
        self._published: list[dict[str, Any]] = []

    # -- management ----------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Create an active key for every supported algorithm that has none; return new kids."""
        created = []
        with self.db.session() as s:
            active = {k.alg for k in s.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))}
        for alg in SUPPORTED_ALGS:
            if alg not in active:
                created.append(self._add(alg, retire_others=False))
        self._loaded_at = 0.0
        for alg in SUPPORTED_ALGS:
            self.active(alg)  # raises now, at start-up, rather than on the first login
        return created

    def rotate(self, alg: str = DEFAULT_ALG) -> str:
        """Add a new active key for *alg*; older ones stop signing but stay published for the grace period."""
        kid = self._add(alg, retire_others=True)
        self._loaded_at = 0.0
        return kid

    def _add(self, alg: str, retire_others: bool) -> str:
        key = _generate(alg)
        jwk = public_jwk(key.public_key(), alg)
        blob = pfx.encrypt_key(key, self._password, name=jwk["kid"])
        now = utcnow()
        with self.db.session() as s:
            if retire_others:
                for old in s.scalars(select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))):
                    old.retired_at = now
                    old.publish_until = now + dt.timedelta(seconds=self.retire_grace)
            s.add(SigningKey(kid=jwk["kid"], alg=alg, pfx=blob, public_jwk=jwk, created_at=now))
        return jwk["kid"]

    def listing(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            return [
                {
                    "kid": r.kid,
                    "alg": r.alg,
                    "created_at": r.created_at.isoformat() + "Z",
                    "state": "active" if r.retired_at is None else (
                        "published" if r.publish_until and r.publish_until > utcnow() else "expired"),
                    "publish_until": r.publish_until.isoformat() + "Z" if r.publish_until else None,
                }
                for r in rows
            ]

    # -- use -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < _CACHE_SECONDS and self._keys:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < _CACHE_SECONDS and self._keys:
                return
            now = utcnow()
            keys: dict[str, LoadedKey] = {}
            with self.db.session() as s:
                rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
            for r in rows:
                if r.publish_until is not None and r.publish_until <= now:
                    continue
                cached = self._keys.get(r.kid)
                try:
                    private = cached.private if cached else pfx.decrypt_key(r.pfx, self._password)[0]
                except KeystoreError as exc:
                    log.error("signing key %s cannot be opened with this instance's secret (%s); is "
                              "YAGONA_SECRET_KEY the same on every machine? The key is skipped.", r.kid, exc)
                    continue
                keys[r.kid] = LoadedKey(r.kid, r.alg, private, private.public_key(), r.public_jwk, r.retired_at is None)
            self._keys = keys
            self._published = [k.jwk for k in keys.values()]
            self._loaded_at = time.monotonic()

    def jwks(self) -> dict[str, Any]:
        self._refresh()
        return {"keys": list(self._published)}

    def active(self, alg: str) -> LoadedKey:
        self._refresh()
        for k in reversed(list(self._keys.values())):  # rows come oldest first: newest usable wins
            if k.alg == alg and k.active:
                return k
        raise RuntimeError(f"no usable active {alg} signing key; check YAGONA_SECRET_KEY or run "
                           f"`yagona keys rotate --alg {alg}`")

    def sign(self, claims: dict[str, Any], alg: str = DEFAULT_ALG, typ: str = "JWT") -> str:
        key = self.active(alg)
        return jwt.encode(claims, key.private, algorithm=alg, headers={"kid": key.kid, "typ": typ})

    def verify(self, token: str, *, typ: str | None, audience: str | list[str] | None = None,
               issuer: str | None = None, verify_exp: bool = True) -> dict[str, Any]:
        """Check a JWT we issued: known kid, the key's own algorithm only (no `none`, no HS*), claims.

        Raises TokenError with a reason a client developer can act on.
        """
        if not isinstance(token, str) or len(token) > 8192 or token.count(".") != 2:
            raise TokenError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token header") from exc
        self._refresh()
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        key = self._keys.get(kid) if kid else None
        if key is None and kid and time.monotonic() - self._loaded_at > _RELOAD_ON_UNKNOWN_SECONDS:
            # another worker may have rotated just now: look again, at most once a second
            self._loaded_at = 0.0
            self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise TokenError("token signed with an unknown key")
        if header.get("alg") != key.alg:
            raise TokenError(f"token algorithm {header.get('alg')!r} is not the key's algorithm {key.alg}")
        if typ is not None and str(header.get("typ", "")).lower() != typ.lower():
            raise TokenError(f"token type is not {typ}")
        try:
            return jwt.decode(
                token, key.public, algorithms=[key.alg], audience=audience, issuer=issuer,
                options={"verify_aud": audience is not None, "verify_exp": verify_exp,
                         "require": ["iss", "exp", "iat"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from exc


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core 3.1.3.6: left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
