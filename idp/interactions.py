"""Authorization requests waiting for the person: one database row per request (an interaction).

`/authorize` parks a request that needs the person (login, step-up, consent) as a row and sends
the browser to `/login?i=<id>`. The id is 256 random bits; the row keeps its SHA-256 only. The row
is bound to the browser that started it: a random value kept in the Flask session, whose hash the
row holds, so an id copied out of one browser (a shared link, a referrer, a screenshot) opens
nothing in another (RFC 9700 §4.7: the login step must not be replayable by someone else). It
lives 15 minutes and is finished exactly once (the code, or an error sent to the portal).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from flask import g, request, session
from werkzeug.exceptions import HTTPException
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from .db import rowcount
from .models import Interaction, utcnow

#: long enough for a person to register, read an SMS and sign a challenge; short enough that a
#: forgotten tab is no standing invitation
TTL = dt.timedelta(minutes=15)
#: the form of an id we hand out (secrets.token_urlsafe(32)): anything else is refused unread
ID_FORM = re.compile(r"^[A-Za-z0-9_-]{43}$")
BROWSER_KEY = "ib"


@dataclass
class Waiting:
    """An open interaction and the id its URLs carry (the row keeps only the id's hash)."""

    id: str
    row: Interaction


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _browser_value(create: bool) -> str | None:
    value = session.get(BROWSER_KEY)
    if not isinstance(value, str) and create:
        value = secrets.token_urlsafe(32)
        session[BROWSER_KEY] = value
    return value if isinstance(value, str) else None


def new_interaction(**request_fields: object) -> Interaction:
    """A row for a request, not yet stored: the policy may find it needs nothing from the person."""
    now = utcnow()
    return Interaction(created_at=now, expires_at=now + TTL, step="login", attempts=0, **request_fields)


def park(s: Session, row: Interaction) -> Waiting:
    """Store *row*, bound to this browser; return it with the id for its URLs."""
    iid = secrets.token_urlsafe(32)
    row.id = _hash(iid)
    row.browser_hash = _hash(_browser_value(create=True) or "")
    s.add(row)
    s.commit()
    return Waiting(iid, row)


def load(s: Session, iid: str | None) -> Waiting | None:
    """The open interaction *iid* names for this browser, or None: unknown, malformed, expired,
    finished, or started in another browser all read the same (the person starts again)."""
    if not isinstance(iid, str) or not ID_FORM.match(iid):
        return None
    row = s.get(Interaction, _hash(iid))
    browser = _browser_value(create=False)
    if row is None or browser is None or row.finished_at is not None or row.expires_at <= utcnow():
        return None
    if not hmac.compare_digest(row.browser_hash, _hash(browser)):
        return None
    return Waiting(iid, row)


def requested_id() -> str | None:
    """The interaction id this request names (`?i=` or a form's `i`), if it has the right form."""
    iid = request.args.get("i")
    if iid is None and request.method == "POST":
        try:
            iid = request.form.get("i")
        except HTTPException:  # an unreadable body (too large, bad encoding) names none
            iid = None
    return iid if isinstance(iid, str) and ID_FORM.match(iid) else None


def current_interaction() -> Waiting | None:
    """The open interaction of this request, loaded once per request (methods' steps call this)."""
    if "interaction" not in g:
        from .context import dbs

        g.interaction = load(dbs(), requested_id())
    return g.interaction


def finish(s: Session, waiting: Waiting) -> bool:
    """Mark the interaction used; False when another request finished it first (a double submit):
    one conditional UPDATE, so two racing requests cannot both issue a code for it."""
    done = s.execute(update(Interaction).where(Interaction.id == waiting.row.id, Interaction.finished_at.is_(None))
                     .values(finished_at=utcnow()))
    return rowcount(done) == 1


def prune(s: Session, now: dt.datetime | None = None) -> int:
    """Delete interactions past their expiry (finished or not); return how many."""
    return rowcount(s.execute(delete(Interaction).where(Interaction.expires_at < (now or utcnow()))))


def count_attempt(s: Session, waiting: Waiting | None) -> None:
    """Record a failed step (a wrong password, code, card) on the interaction; the guess limits
    themselves are per identifier and per address (idp/attempts.py, idp/limits.py)."""
    if waiting is None:
        return
    s.execute(update(Interaction).where(Interaction.id == waiting.row.id)
              .values(attempts=Interaction.attempts + 1))
    s.commit()
