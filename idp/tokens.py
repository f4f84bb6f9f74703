"""Making, checking and revoking tokens. No Flask here: endpoints and grants call these.

- authorization codes and refresh tokens are random strings; only their SHA-256 is stored;
- access tokens are JWTs (RFC 9068, `typ: at+jwt`) that name their grant (`gid`), so revoking
  the grant — by logout, refresh-token reuse or code replay — makes them inactive at once;
- ID tokens follow OIDC Core §2 with `at_hash`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from . import legal
from .assurance import uri as acr_uri
from .config import Settings
from .db import rowcount
from .keys import KeyRing, TokenError, at_hash
from .models import Client, Grant, Person, RefreshToken, RevokedAccessToken, epoch, utcnow

ACCESS_TOKEN_TYP = "at+jwt"
ID_TOKEN_TYP = "JWT"
GRANT_COLUMNS = ("id", "client_id", "person_id", "session_id", "scope", "acr", "amr", "auth_time", "expires_at",
                 "revoked_at", "org_tin")


# The refresh grant is the hottest path: its statements are built once (SQLAlchemy then reuses
# their compiled form) and run on the session's connection, without ORM bookkeeping.
FIND_REFRESH = (
    select(RefreshToken.token_hash, RefreshToken.expires_at.label("rt_expires_at"), RefreshToken.used_at,
           RefreshToken.created_at.label("rt_created_at"), *[getattr(Grant, c) for c in GRANT_COLUMNS],
           Person.public_id, Person.state)
    .join(Grant, Grant.id == RefreshToken.grant_id)
    .join(Person, Person.id == Grant.person_id)
    .where(RefreshToken.token_hash == bindparam("h"))
)
SPEND_REFRESH = (
    update(RefreshToken)
    .where(RefreshToken.token_hash == bindparam("h"), RefreshToken.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
INSERT_REFRESH = insert(RefreshToken)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Subject:
    """What tokens say about the person."""

    public_id: str


class TokenService:
    def __init__(self, settings: Settings, keys: KeyRing) -> None:
        self.settings = settings
        self.keys = keys

    # -- grants ----------------------------------------------------------------------------
    def new_grant(self, s: Session, *, client_id: str, person_id: int, session_sid: str | None, scope: str,
                  acr: str, amr: list[str], auth_time: dt.datetime, org_tin: str | None = None) -> Grant:
        now = utcnow()
        grant = Grant(
            id=secrets.token_hex(16), client_id=client_id, person_id=person_id, session_id=session_sid,
            scope=scope, acr=acr, amr=amr, auth_time=auth_time, created_at=now, org_tin=org_tin,
            expires_at=now + dt.timedelta(seconds=self.settings.refresh_family_ttl),
        )
        s.add(grant)
        s.flush()
        return grant

    @staticmethod
    def revoke_grant(s: Session, grant_id: str, reason: str) -> bool:
        """Revoke a whole grant: its refresh tokens and its access tokens stop working."""
        res = s.execute(
            update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )
        return rowcount(res) > 0

    @staticmethod
    def revoke_session_grants(s: Session, sid: str, reason: str = "logout") -> int:
        res = s.execute(
            update(Grant).where(Grant.session_id == sid, Grant.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )
        return rowcount(res)

    # -- issuing ---------------------------------------------------------------------------
    def issue_tokens(self, s: Session, client: Client, grant: Grant, subject: Subject, *,
                     nonce: str | None = None, scope: str | None = None) -> dict[str, Any]:
        """The token response: a JWT access token, a new refresh token, and an ID token."""
        now = utcnow()
        iat = epoch(now)
        scope = scope or grant.scope
        access_claims = {
            "iss": self.settings.issuer,
            "sub": subject.public_id,
            "aud": self.settings.issuer,
            "client_id": client.client_id,
            "iat": iat,
            "exp": iat + self.settings.access_token_ttl,
            "jti": secrets.token_hex(16),
            "scope": scope,
            "auth_time": epoch(grant.auth_time),
            "acr": acr_uri(grant.acr),
            "amr": grant.amr,
            "gid": grant.id,
            **legal.token_claims(grant.org_tin),
        }
        if grant.session_id:
            access_claims["sid"] = grant.session_id
        access_token = self.keys.sign(access_claims, typ=ACCESS_TOKEN_TYP)
        refresh_token = secrets.token_urlsafe(32)
        s.connection().execute(INSERT_REFRESH, {
            "token_hash": token_hash(refresh_token), "grant_id": grant.id, "created_at": now, "used_at": None,
            "expires_at": min(now + dt.timedelta(seconds=self.settings.refresh_token_ttl), grant.expires_at),
        })
        id_claims = {
            "iss": self.settings.issuer,
            "sub": subject.public_id,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": iat,
            "exp": iat + self.settings.id_token_ttl,
            "auth_time": epoch(grant.auth_time),
            "acr": acr_uri(grant.acr),
            "amr": grant.amr,
            "at_hash": at_hash(access_token, client.id_token_alg),
            **legal.token_claims(grant.org_tin),
        }
        if grant.session_id:
            id_claims["sid"] = grant.session_id
        if nonce is not None:
            id_claims["nonce"] = nonce
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_ttl,
            "refresh_token": refresh_token,
            "id_token": self.keys.sign(id_claims, alg=client.id_token_alg, typ=ID_TOKEN_TYP),
            "scope": scope,
        }

    # -- checking --------------------------------------------------------------------------
    def check_access_token(self, s: Session, token: str) -> dict[str, Any]:
        """Claims of a live access token we issued; TokenError if forged, expired or revoked."""
        claims = self.keys.verify(token, typ=ACCESS_TOKEN_TYP, audience=self.settings.issuer,
                                  issuer=self.settings.issuer)
        gid, jti = claims.get("gid"), claims.get("jti")
        if not isinstance(gid, str) or not isinstance(jti, str):
            raise TokenError("token lacks grant or id")
        revoked = s.execute(
            select(Grant.revoked_at, RevokedAccessToken.jti)
            .outerjoin(RevokedAccessToken, RevokedAccessToken.jti == jti)
            .where(Grant.id == gid)
        ).first()
        if revoked is None or revoked[0] is not None or revoked[1] is not None:
            raise TokenError("token revoked")
        return claims

    def find_refresh(self, s: Session, token: str) -> tuple[Any, Any] | None:
        """(refresh-token row, grant row) for a refresh token, in one Core query (the hot path)."""
        if not token or len(token) > 512:
            return None
        row = s.connection().execute(FIND_REFRESH, {"h": token_hash(token)}).first()
        if row is None:
            return None
        rt = SimpleNamespace(token_hash=row.token_hash, expires_at=row.rt_expires_at, used_at=row.used_at,
                             created_at=row.rt_created_at, public_id=row.public_id, person_state=row.state)
        grant = SimpleNamespace(**{c: getattr(row, c) for c in GRANT_COLUMNS})
        return rt, grant

    def revoke_access_token(self, s: Session, claims: dict[str, Any]) -> None:
        expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC).replace(tzinfo=None)
        s.merge(RevokedAccessToken(jti=claims["jti"], expires_at=expires))
