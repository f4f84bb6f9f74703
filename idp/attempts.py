"""Guess counters for every login method: reserve an attempt, then check the secret.

A guess at a password (later an SMS code, a card's code, ...) is counted BEFORE the secret is
checked, by one atomic statement committed on its own, so that racing requests on any number of
threads, workers and machines can never have more than `lockout_threshold` secrets checked per
window (OWASP Authentication Cheat Sheet, "Account lockout"; NIST SP 800-63B §5.2.2 "Rate
Limiting (Throttling)"). Past the threshold each further guess waits lockout_base * 2**k seconds,
at most lockout_max.

Counters are keyed by a keyed hash (HMAC-SHA256 under a key derived from the master secret) of
"method:identifier", not by a credential row: a login that does not exist is counted, locked and
answered exactly like one that does (no account enumeration), and the table names no login.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import case, delete, null, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .config import Settings
from .db import rowcount
from .errors import UserError
from .models import Attempt, utcnow

#: a count untouched this long starts again from zero: old typos do not shorten a later lockout
FORGET_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class Reservation:
    """One reserved guess: the counter's key and the count this guess made."""

    key: str
    count: int


class Attempts:
    """Reserves, clears and unlocks guess counters (the thresholds come from Settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._hmac_key = HKDF(hashes.SHA256(), 32, salt=None, info=b"yagona attempt counters").derive(
            settings.secret_key)

    def key(self, method: str, identifier: str) -> str:
        """The counter's key for *identifier* (already normalised) of *method*."""
        return hmac.new(self._hmac_key, f"{method}:{identifier}".encode(), hashlib.sha256).hexdigest()

    def wait(self, count: int) -> dt.timedelta:
        """How long the counter waits after its *count*-th guess (nothing below the threshold)."""
        over = count - self.settings.lockout_threshold
        if over < 0:
            return dt.timedelta(0)
        return dt.timedelta(seconds=min(self.settings.lockout_base * 2 ** min(over, 30), self.settings.lockout_max))

    def reserve(self, s: Session, method: str, identifier: str) -> Reservation:
        """Count one guess, or refuse it with UserError("account_locked", minutes=N) while the counter waits.

        One INSERT ... ON CONFLICT DO UPDATE ... WHERE not waiting ... RETURNING, committed at once on its
        own connection: concurrent guesses are serialised by the row, and each either gets a count below
        the threshold (or the one guess allowed after a wait) or is refused."""
        key, now = self.key(method, identifier), utcnow()
        threshold = self.settings.lockout_threshold
        new_count = case((Attempt.last_at < now - FORGET_AFTER, 1), else_=Attempt.count + 1)
        grows = [(new_count == n, now + self.wait(n)) for n in range(threshold, self._steps() + 1)]
        locked_until = case((new_count < threshold, null()), *grows,
                            else_=now + dt.timedelta(seconds=self.settings.lockout_max))
        first = self.wait(1)
        engine = s.get_bind()
        if not isinstance(engine, Engine):  # as idp.db makes every session: the guess needs its own connection
            raise TypeError("Attempts.reserve needs a session bound to an Engine, not to one connection")
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(Attempt).values(key=key, count=1, last_at=now, locked_until=now + first if first else None)
        upsert = stmt.on_conflict_do_update(
            index_elements=[Attempt.key],
            set_={"count": new_count, "last_at": now, "locked_until": locked_until},
            where=or_(Attempt.locked_until.is_(None), Attempt.locked_until <= now),
        ).returning(Attempt.count)
        with engine.begin() as conn:
            count = conn.execute(upsert).scalar()
        if count is None:  # waiting: the row was left as it was
            until = s.scalar(select(Attempt.locked_until).where(Attempt.key == key)) or now
            minutes = max(1, int((until - now).total_seconds() + 59) // 60)
            raise UserError("account_locked", minutes=minutes)
        return Reservation(key, count)

    def clear(self, s: Session, reservation: Reservation) -> None:
        """After a right guess: forget the counter, unless guesses were reserved after this one
        (they are racing it, and must not get a fresh window from its success)."""
        s.execute(delete(Attempt).where(Attempt.key == reservation.key, Attempt.count <= reservation.count))

    def unlock(self, s: Session, method: str, identifier: str) -> None:
        """An operator's unlock: forget the counter whatever it holds."""
        s.execute(delete(Attempt).where(Attempt.key == self.key(method, identifier)))

    def _steps(self) -> int:
        """The count from which on the wait is lockout_max (it stops growing there)."""
        n = self.settings.lockout_threshold
        while n < 64 and self.wait(n) < dt.timedelta(seconds=self.settings.lockout_max):
            n += 1
        return n


def prune(s: Session, now: dt.datetime | None = None) -> int:
    """Delete the counters already forgotten (untouched for FORGET_AFTER); return how many. Guesses at
    logins that do not exist leave rows too, so `yagona db prune` should call this daily."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    return rowcount(s.execute(delete(Attempt).where(Attempt.last_at < cutoff)))
