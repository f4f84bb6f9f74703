"""Database models (SQLAlchemy 2). Times are naive UTC; secrets are stored only as hashes.

One person (PINFL) is one account; each login method is a Credential linked to it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class PersonState:
    PENDING = "pending"
    ACTIVE = "active"
    BLOCKED = "blocked"
    CLOSED = "closed"
    ALL = (PENDING, ACTIVE, BLOCKED, CLOSED)


class Person(Base):
    """A citizen: one row per PINFL. Identity fields are filled as methods and operators prove them."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(10), unique=True)  # the OIDC `sub`
    pinfl: Mapped[str | None] = mapped_column(String(14), unique=True)
    last_name: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(1))  # "M" / "F"
    passport_series: Mapped[str | None] = mapped_column(String(2))
    passport_number: Mapped[str | None] = mapped_column(String(7))
    passport_issued_by: Mapped[str | None] = mapped_column(String(200))
    passport_issue_date: Mapped[dt.date | None] = mapped_column(Date)
    passport_expiry_date: Mapped[dt.date | None] = mapped_column(Date)
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(16))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: set when an operator checked the passport in person (raises the password method to "substantial")
    identity_verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    terms_version: Mapped[str | None] = mapped_column(String(20))
    terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(10), default=PersonState.ACTIVE)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    credentials: Mapped[list[Credential]] = relationship(back_populates="person")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


class Credential(Base):
    """One way a person can log in: a password, a phone, a card, a certificate."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("method", "identifier", name="uq_credential_method_identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # password | sms | uzcard | eimzo
    identifier: Mapped[str] = mapped_column(String(200))  # login, phone, card hash, certificate id
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    person: Mapped[Person] = relationship(back_populates="credentials")


class Attempt(Base):
    """Guesses at one identifier of one login method since its last success (see idp/attempts.py).
    The key is an HMAC of "method:identifier", so unknown identifiers count like real ones."""

    __tablename__ = "attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class Client(Base):
    """A portal registered to log citizens in (an OAuth confidential client)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the 256-bit random secret: a high-entropy secret needs no slow hash
    secret_hash: Mapped[str] = mapped_column(String(64))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_acr: Mapped[str] = mapped_column(String(20), default="low")
    id_token_alg: Mapped[str] = mapped_column(String(10), default="ES256")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LoginSession(Base):
    """The IdP's own browser session (single sign-on); the cookie holds only its random id."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    sid: Mapped[str] = mapped_column(String(32), unique=True)  # public id, the `sid` claim
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[dt.datetime] = mapped_column(DateTime)
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: the organisation (TIN) the person logged in for, with an employee certificate (idp/legal.py)
    org_tin: Mapped[str | None] = mapped_column(String(9))

    person: Mapped[Person] = relationship()


class Consent(Base):
    """Scopes a person let a portal see; asked again only for new scopes or prompt=consent."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("person_id", "client_id", name="uq_consent_person_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Grant(Base):
    """One login's grant to one portal: the refresh-token family. Revoking it kills every token in it."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(32), index=True)  # LoginSession.sid
    scope: Mapped[str] = mapped_column(String(500))
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON)
    auth_time: Mapped[dt.datetime] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    #: the login's organisation (LoginSession.org_tin), named in every token of the grant
    org_tin: Mapped[str | None] = mapped_column(String(9))


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class RevokedAccessToken(Base):
    """Access tokens are JWTs; one revoked alone (RFC 7009) is remembered here until it expires."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class SigningKey(Base):
    """A token-signing key, kept as a PKCS#12 blob encrypted with a key derived from the instance secret."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    pfx: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: set on rotation: the key stops signing, and leaves the JWKS at retired_at + grace
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    publish_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_person_at", "person_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def epoch(moment: dt.datetime) -> int:
    """Seconds since the epoch for a naive-UTC datetime."""
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


class OneTimeCode(Base):
    """The live one-time code of one target (a phone, an e-mail address): see idp/otp.py. The key is
    an HMAC of the target and the code is kept only as an HMAC bound to purpose and target, so the
    table names no phone and a stolen copy gives no code. One row per target: a new code replaces
    the old one, and the resend cooldown and hourly allowance are the target's, whatever the purpose."""

    __tablename__ = "one_time_codes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    tries: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: the start of the hour whose codes `sent` counts (the per-target allowance)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    sent: Mapped[int] = mapped_column(Integer)


class OutboxMessage(Base):
    """A message the development SMS or e-mail backend "sent": what a tester reads instead of a phone."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_channel_to", "channel", "to"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    to: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SignatureChallenge(Base):
    """A challenge issued for an e-signature login (idp/challenges.py). Only hashes are kept: of the
    challenge, and of the login (interaction, browser) it was issued to."""

    __tablename__ = "signature_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    binding_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class PersonOrganisation(Base):
    """An organisation a person represents (idp/legal.py): recorded and refreshed by logins with an
    employee certificate, which names the organisation's TIN, its name and the person's title."""

    __tablename__ = "person_organisations"
    __table_args__ = (UniqueConstraint("person_id", "tin", name="uq_person_organisation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    tin: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    #: the person's main organisation (OneID's is_basic): the first one recorded
    is_basic: Mapped[bool] = mapped_column(Boolean, default=False)
    #: SHA-256 of the certificate that last confirmed the link
    certificate_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Interaction(Base):
    """An authorization request waiting for the person (login, step-up, consent): see idp/interactions.py.

    The URL names it by a random id; the row keeps only hashes of that id and of the browser-binding
    value in the Flask session, so a database reader can neither resume it nor tie it to a browser."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the id in the URL
    browser_hash: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str | None] = mapped_column(String(1024))
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    prompt: Mapped[list[str]] = mapped_column(JSON)
    max_age: Mapped[int | None] = mapped_column(BigInteger)
    acr_values: Mapped[str | None] = mapped_column(String(500))
    ui_locales: Mapped[str | None] = mapped_column(String(100))
    login_hint: Mapped[str | None] = mapped_column(String(64))
    #: the `sub` of a valid id_token_hint: the person the portal expects (OIDC Core 3.1.2.1)
    hint_sub: Mapped[str | None] = mapped_column(String(10))
    #: the level the request needs: the lowest it lists, never below the portal's minimum
    acr_needed: Mapped[str] = mapped_column(String(20))
    #: the login session made inside this interaction (prompt=login needs one)
    session_sid: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(40), default="login")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
