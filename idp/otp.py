"""One-time codes sent by SMS (or e-mail): issue, send, check.

A code is 6 digits from `secrets`, lives 5 minutes, is good once and survives at most 5 wrong
tries (NIST SP 800-63B §5.1.3 "Out-of-Band Devices": a short-lived secret, rate limited per
§5.2.2). It is stored only as HMAC-SHA256 under a key derived from the master secret, bound to
purpose and target ("login:+998901234567:123456"), so a code for another phone or purpose never
matches and a copy of the table gives no code (without the key, no offline search of the 10**6).

One row per target (its key an HMAC of the target, so the table names no phone) holds the live code:
- every try is counted BEFORE the code is compared, by one conditional UPDATE committed on its own
  connection (`tries < 5 AND unused AND unexpired`), so any number of parallel guesses on any
  number of workers gets at most 5 codes compared (the reserve-then-verify of idp/attempts.py);
- a right code is spent by a second conditional UPDATE (`used_at IS NULL`): of parallel right
  answers exactly one wins;
- a new code (one INSERT .. ON CONFLICT DO UPDATE .. WHERE) replaces the old one only after the
  resend cooldown (SMS bombing of one phone) and while the target's hourly allowance lasts (SMS
  pumping / toll fraud through one number); per-IP limits belong to the pages.

Call issue/check/send before writing anything in the caller's session: they commit on their own
connection, which SQLite would make wait behind an open write. No function here logs a code.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from typing import cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .accounts import normalize_phone
from .config import Settings
from .db import rowcount
from .errors import UserError
from .gateways.messages import MessageGateway
from .i18n import DEFAULT as DEFAULT_LANG, MESSAGES
from .models import OneTimeCode, utcnow

DIGITS = 6
#: a code read off a phone is typed within minutes; a longer life only helps whoever guesses
CODE_TTL = dt.timedelta(minutes=5)
#: wrong tries per code: 5 of 10**6, so one code falls to guessing with odds of 1 in 200,000
MAX_TRIES = 5
#: SMS bombing: one phone gets a new code at most once a minute ...
RESEND_AFTER = dt.timedelta(seconds=60)
#: ... and SMS pumping: at most this many codes per target per window
CODES_PER_WINDOW = 5
WINDOW = dt.timedelta(hours=1)
PURPOSE_RE = re.compile(r"[a-z][a-z_-]{0,31}")
_CODE_RE = re.compile(r"[0-9]{6}")


class OtpError(UserError):
    """A refused code or send; `key` is the page's message id: otp_format, otp_wrong (left=N tries),
    otp_expired, otp_used, otp_too_many_tries, otp_wait (seconds=N), otp_too_many_codes (minutes=N)."""


class OneTimeCodes:
    """Issues and checks the codes (the key comes from Settings.secret_key)."""

    def __init__(self, settings: Settings) -> None:
        self._key = HKDF(hashes.SHA256(), 32, salt=None, info=b"yagona one-time codes").derive(settings.secret_key)

    def row_key(self, target: str) -> str:
        """The key of *target*'s row (an HMAC: the table names no phone or address)."""
        return hmac.new(self._key, f"target:{target}".encode(), hashlib.sha256).hexdigest()

    def _code_hash(self, purpose: str, target: str, code: str) -> str:
        return hmac.new(self._key, f"code:{purpose}:{target}:{code}".encode(), hashlib.sha256).hexdigest()

    def issue(self, s: Session, purpose: str, target: str) -> str:
        """A new code for *purpose* ("login", "register", "reset", ...) and *target* (an already
        normalised phone or address), replacing the target's previous code; committed at once.
        Raises OtpError otp_wait / otp_too_many_codes, and changes nothing then."""
        if not PURPOSE_RE.fullmatch(purpose):
            raise ValueError(f"a one-time code purpose is a short lower-case word, not {purpose!r}")
        code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
        key, now = self.row_key(target), utcnow()
        new_window = OneTimeCode.window_start <= now - WINDOW
        insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
        values = insert(OneTimeCode).values(
            key=key, code_hash=self._code_hash(purpose, target, code), issued_at=now, expires_at=now + CODE_TTL,
            tries=0, used_at=None, window_start=now, sent=1)
        stmt = values.on_conflict_do_update(
            index_elements=[OneTimeCode.key],
            set_={"code_hash": values.excluded.code_hash, "issued_at": now, "expires_at": now + CODE_TTL,
                  "tries": 0, "used_at": None,
                  "window_start": case((new_window, now), else_=OneTimeCode.window_start),
                  "sent": case((new_window, 1), else_=OneTimeCode.sent + 1)},
            where=and_(OneTimeCode.issued_at <= now - RESEND_AFTER,
                       or_(new_window, OneTimeCode.sent < CODES_PER_WINDOW)),
        ).returning(OneTimeCode.key)
        with _engine(s).begin() as conn:
            if conn.execute(stmt).scalar() is not None:
                return code
            # refused: the row exists (and is locked by the statement); say how long to wait
            row = conn.execute(select(OneTimeCode.issued_at, OneTimeCode.window_start)
                               .where(OneTimeCode.key == key)).one()
        if row.issued_at > now - RESEND_AFTER:
            raise OtpError("otp_wait", seconds=_ceil_seconds(row.issued_at + RESEND_AFTER - now))
        seconds = _ceil_seconds(row.window_start + WINDOW - now)
        raise OtpError("otp_too_many_codes", minutes=max(1, (seconds + 59) // 60))

    def send(self, s: Session, gateway: MessageGateway, purpose: str, phone: str, lang: str = DEFAULT_LANG) -> str:
        """Issue a code for *phone* (normalised: +998 and 9 digits) and text it in *lang*; return the
        normalised phone, the target to check the code against. A bad phone is refused (UserError
        phone_invalid) before any code exists; a GatewayError leaves the code issued (and the
        cooldown running): the text may have gone out although the gateway failed to say so."""
        target = normalize_phone(phone)
        code = self.issue(s, purpose, target)
        texts = MESSAGES["otp_sms_text"]
        gateway.send(target, texts.get(lang, texts[DEFAULT_LANG]).format(code=code))
        return target

    def check(self, s: Session, purpose: str, target: str, code: str) -> None:
        """Accept *code* once for *purpose* and *target*, or raise OtpError saying why not. The try is
        counted (committed on its own) before the code is compared, and a right code is spent."""
        code = re.sub(r"[\s-]", "", code or "")
        if not _CODE_RE.fullmatch(code):  # cannot match anything: refused without spending a try
            raise OtpError("otp_format")
        key, now = self.row_key(target), utcnow()
        reserve = (update(OneTimeCode)
                   .where(OneTimeCode.key == key, OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now,
                          OneTimeCode.tries < MAX_TRIES)
                   .values(tries=OneTimeCode.tries + 1)
                   .returning(OneTimeCode.code_hash, OneTimeCode.issued_at, OneTimeCode.tries))
        with _engine(s).begin() as conn:
            reserved = conn.execute(reserve).one_or_none()
            if reserved is None:  # nothing was counted (the rollback undoes nothing): say why
                raise OtpError(self._why_not(conn, key, now))
        if not hmac.compare_digest(reserved.code_hash, self._code_hash(purpose, target, code)):
            raise OtpError("otp_wrong", left=MAX_TRIES - reserved.tries)
        spend = (update(OneTimeCode)
                 .where(OneTimeCode.key == key, OneTimeCode.used_at.is_(None),
                        OneTimeCode.issued_at == reserved.issued_at)
                 .values(used_at=now))
        with _engine(s).begin() as conn:
            if rowcount(conn.execute(spend)) != 1:  # a parallel right answer spent it first
                raise OtpError("otp_used")

    @staticmethod
    def _why_not(conn: Connection, key: str, now: dt.datetime) -> str:
        row = conn.execute(select(OneTimeCode.used_at, OneTimeCode.expires_at, OneTimeCode.tries)
                        .where(OneTimeCode.key == key)).one_or_none()
        if row is None:
            return "otp_wrong"  # no code was sent to this target: nothing can match
        if row.used_at is not None:
            return "otp_used"
        if row.expires_at <= now:
            return "otp_expired"
        return "otp_too_many_tries"


def _engine(s: Session) -> Engine:
    """The session's engine: the counting statements commit on a connection of their own."""
    return cast(Engine, s.get_bind())


def _ceil_seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def prune(s: Session, now: dt.datetime | None = None) -> int:
    """Delete rows whose code is dead and whose hourly allowance is over; return how many
    (for `yagona db prune`)."""
    now = now or utcnow()
    stale = and_(OneTimeCode.expires_at < now, OneTimeCode.window_start < now - WINDOW,
                 OneTimeCode.issued_at < now - RESEND_AFTER)
    return rowcount(s.execute(delete(OneTimeCode).where(stale)))
