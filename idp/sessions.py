"""The IdP's own browser session (single sign-on across portals) through flask-login.

The signed Flask cookie carries a random token; the database keeps its SHA-256 in a
LoginSession row with the person, when and how they authenticated (auth_time, acr, amr).
Ending the row logs the browser out everywhere, whatever the cookie says.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import request
from flask_login import LoginManager, UserMixin, current_user, login_user
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .audit import audit
from .context import dbs, services
from .db import rowcount
from .models import Grant, LoginSession, Person, PersonState, utcnow

login_manager = LoginManager()
login_manager.session_protection = "basic"


class SessionUser(UserMixin):
    def __init__(self, row: LoginSession, token: str) -> None:
        self.row = row
        self.person: Person = row.person
        self.token = token

    def get_id(self) -> str:
        return self.token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@login_manager.user_loader
def load_user(token: str) -> SessionUser | None:
    if not token or len(token) > 100:
        return None
    s = dbs()
    row = s.get(LoginSession, _hash(token))
    if row is None or row.ended_at is not None:
        return None
    st = services().settings
    now = utcnow()
    if now - row.last_seen_at > dt.timedelta(seconds=st.session_idle_ttl) or \
            now - row.created_at > dt.timedelta(seconds=st.session_max_ttl):
        return None
    if row.person.state != PersonState.ACTIVE:
        return None
    if now - row.last_seen_at > dt.timedelta(seconds=60):  # one write a minute, not one a request
        row.last_seen_at = now
        s.commit()
    return SessionUser(row, token)


def start_session(person: Person, acr: str, amr: list[str], *, org_tin: str | None = None) -> SessionUser:
    """Log the browser in as *person*, proved at level *acr* by *amr* (a method's finish_login
    calls this: idp/methods/finish.py); returns the session user. *org_tin*: the organisation an
    employee certificate's login was made for (idp/legal.py), named in the tokens."""
    s = dbs()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = LoginSession(
        id=_hash(token), sid=secrets.token_hex(16), person_id=person.id, person=person, auth_time=now,
        acr=acr, amr=list(amr),
        created_at=now, last_seen_at=now, ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:300], org_tin=org_tin,
    )
    s.add(row)
    _replace_previous(s, row, now)
    s.commit()  # one transaction with whatever proved the person (failed-attempt reset, audit)
    user = SessionUser(row, token)
    login_user(user)
    return user


def _replace_previous(s, new: LoginSession, now) -> None:
    """A browser has one login session: logging in again (prompt=login, max_age, step-up, or as
    someone else) ends the one its cookie named, so no orphaned session outlives a later logout.
    The same person's portal grants move to the new session; another person's are revoked as at logout."""
    previous = current_user._get_current_object() if current_user.is_authenticated else None
    if previous is None:
        return
    old = s.get(LoginSession, previous.row.id)
    if old is None or old.ended_at is not None:
        return
    old.ended_at = now
    if old.person_id == new.person_id:
        s.execute(update(Grant).where(Grant.session_id == old.sid, Grant.revoked_at.is_(None))
                  .values(session_id=new.sid))
    else:
        services().tokens.revoke_session_grants(s, old.sid, "logout")
        audit(s, "logout", person_id=old.person_id, detail={"sid": old.sid, "reason": "another login"})


def end_other_sessions(user: SessionUser, reason: str) -> int:
    """End every other live login session of this person and revoke every portal grant not made
    through this one (after a password change: whoever knew the old password is logged out everywhere)."""
    return end_person_sessions(dbs(), user.person.id, reason, keep=user.row)[0]


def end_person_sessions(s: Session, person_id: int, reason: str,
                        keep: LoginSession | None = None) -> tuple[int, int]:
    """End a person's live login sessions and revoke their portal grants, all but *keep* and the
    grants made through it; needs no request, so operators' commands use it too. Returns
    (sessions ended, grants revoked)."""
    now = utcnow()
    live = select(LoginSession).where(LoginSession.person_id == person_id, LoginSession.ended_at.is_(None))
    if keep is not None:
        live = live.where(LoginSession.id != keep.id)
    count = 0
    for row in s.scalars(live):
        row.ended_at = now
        count += 1
    # found by person, not by session: a long-idle session's row may already be pruned while its
    # portal grant still refreshes
    grants = update(Grant).where(Grant.person_id == person_id, Grant.revoked_at.is_(None))
    if keep is not None:
        grants = grants.where(or_(Grant.session_id.is_(None), Grant.session_id != keep.sid))
    revoked = rowcount(s.execute(grants.values(revoked_at=now, revoked_reason=reason)))
    if count or revoked:
        audit(s, "sessions.ended", person_id=person_id, detail={"reason": reason, "count": count, "grants": revoked})
    return count, revoked


def end_session(user: SessionUser) -> None:
    """End the login session and revoke the grants portals received through it."""
    s = dbs()
    row = s.get(LoginSession, user.row.id)
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        services().tokens.revoke_session_grants(s, row.sid)

        audit(s, "logout", person_id=row.person_id, detail={"sid": row.sid})
    s.commit()
