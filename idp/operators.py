"""What an operator of a registration centre does for a citizen: find, show, list, block, unblock,
unlock, set a new password, close. Domain logic on a Session (the `yagona users` commands only parse
and print); the caller's transaction makes each action all-or-nothing.

Every action, looking at a person's data included, leaves an audit event `operator.<action>` naming
the operator, in the same transaction as the change.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from .accounts import PASSWORD, normalize_login, normalize_phone
from .attempts import Attempts
from .audit import audit
from .errors import UserError
from .models import Attempt, Credential, Grant, LoginSession, Person, PersonState, utcnow
from .passwords import Passwords, password_problem
from .sessions import end_person_sessions

#: an audit detail is bounded: a reason is a note, not a document
MAX_REASON = 200
MAX_LIST = 1000
PREFIXES = ("login", "sub", "pinfl", "phone")


class OperatorError(Exception):
    """An operator's request that cannot be done; the message says why and what to do instead."""


# -- finding a person ----------------------------------------------------------------------------
def _by_login(s: Session, ref: str) -> set[int]:
    login = normalize_login(ref)
    return set(s.scalars(select(Credential.person_id).where(Credential.method == PASSWORD,
                                                           Credential.identifier == login)))


def _by_sub(s: Session, ref: str) -> set[int]:
    return set(s.scalars(select(Person.id).where(Person.public_id == ref))) if re.fullmatch(r"[0-9]{10}", ref) \
        else set()


def _by_pinfl(s: Session, ref: str) -> set[int]:
    return set(s.scalars(select(Person.id).where(Person.pinfl == ref))) if re.fullmatch(r"[0-9]{14}", ref) \
        else set()


def _by_phone(s: Session, ref: str) -> set[int]:
    try:
        phone = normalize_phone(ref)
    except UserError:
        return set()
    return set(s.scalars(select(Person.id).where(Person.phone == phone)))


FINDERS: dict[str, Callable[[Session, str], set[int]]] = {
    "login": _by_login, "sub": _by_sub, "pinfl": _by_pinfl, "phone": _by_phone}


def find_person(s: Session, ref: str) -> Person:
    """The one person *ref* names: a login, a public id (sub), a PINFL or a phone, or one of them
    prefixed ("pinfl:…") when a bare value could be more than one kind."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 100:
        raise OperatorError("name the person by login, sub, PINFL or phone")
    kind, sep, value = ref.partition(":")
    finders = {kind: FINDERS[kind]} if sep and kind in FINDERS else FINDERS
    value = value.strip() if sep and kind in FINDERS else ref
    ids: set[int] = set()
    for finder in finders.values():
        ids |= finder(s, value)
    if not ids:
        raise OperatorError(f"no person with {' or '.join(finders)} {value!r}")
    if len(ids) > 1:
        raise OperatorError(f"{ref!r} names {len(ids)} people (a shared phone?): name one by login, sub or PINFL, "
                            f"or prefix the value ({', '.join(p + ':' for p in PREFIXES)})")
    return s.get_one(Person, ids.pop())


# -- the password lockout ---------------------------------------------------------------------------
# The counters live in idp/attempts.py, keyed by "password:<login>" (unknown logins are counted too).
def lockout_of(s: Session, person: Person, attempts: Attempts) -> dict[str, Any]:
    """The person's password lockout: guesses counted and until when logins wait."""
    cred = _password_credential(s, person)
    row = s.get(Attempt, attempts.key(PASSWORD, cred.identifier)) if cred is not None else None
    until = row.locked_until if row is not None else None
    return {"failed_attempts": row.count if row is not None else 0, "locked_until": _iso(until),
            "locked": until is not None and until > utcnow()}


def clear_lockout(s: Session, person: Person, attempts: Attempts) -> bool:
    """Forget the person's password guesses; True if a login was waiting."""
    was_locked = bool(lockout_of(s, person, attempts)["locked"])
    cred = _password_credential(s, person)
    if cred is not None:
        attempts.unlock(s, PASSWORD, cred.identifier)
    return was_locked


# -- reading ------------------------------------------------------------------------------------
def describe(s: Session, person: Person, attempts: Attempts) -> dict[str, Any]:
    """Profile, state, credentials (never a secret or a hash), lockout, last login, live sessions and grants."""
    now = utcnow()
    live_sessions = s.scalar(select(func.count()).select_from(LoginSession).where(
        LoginSession.person_id == person.id, LoginSession.ended_at.is_(None)))
    live_grants = s.scalar(select(func.count()).select_from(Grant).where(
        Grant.person_id == person.id, Grant.revoked_at.is_(None), Grant.expires_at > now))
    cred = _password_credential(s, person)
    return {
        "sub": person.public_id, "login": cred.identifier if cred is not None else None, "state": person.state,
        "pinfl": person.pinfl, "last_name": person.last_name, "first_name": person.first_name,
        "middle_name": person.middle_name, "birth_date": _iso(person.birth_date), "gender": person.gender,
        "phone": person.phone, "phone_verified": person.phone_verified, "email": person.email,
        "email_verified": person.email_verified, "address": person.address,
        "passport_series": person.passport_series, "passport_number": person.passport_number,
        "identity_verified_at": _iso(person.identity_verified_at),
        "registered_at": _iso(person.registered_at), "last_login_at": _iso(person.last_login_at),
        "credentials": [{
            "method": c.method,
            # a login or a phone names the credential; other methods' identifiers are keyed hashes
            "identifier": c.identifier if c.method in (PASSWORD, "sms") else None,
            "created_at": _iso(c.created_at), "last_used_at": _iso(c.last_used_at),
        } for c in sorted(person.credentials, key=lambda c: c.id)],
        "lockout": lockout_of(s, person, attempts),
        "live_sessions": live_sessions, "live_grants": live_grants,
    }


def show(s: Session, ref: str, *, attempts: Attempts, operator: str) -> dict[str, Any]:
    """One person's record, as `describe`; the look is audited (it shows personal data)."""
    person = find_person(s, ref)
    audit(s, "operator.viewed", person_id=person.id, detail={"operator": operator})
    return describe(s, person, attempts)


def list_people(s: Session, *, operator: str, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest *limit* people (in *state*, if given): sub, login, name, phone, state, dates."""
    if state is not None and state not in PersonState.ALL:
        raise OperatorError(f"unknown state {state!r}; one of {', '.join(PersonState.ALL)}")
    if not 1 <= limit <= MAX_LIST:
        raise OperatorError(f"the limit is 1 to {MAX_LIST}")
    query = (select(Person, Credential.identifier)
             .outerjoin(Credential, and_(Credential.person_id == Person.id, Credential.method == PASSWORD))
             .order_by(Person.registered_at.desc(), Person.id.desc()).limit(limit))
    if state is not None:
        query = query.where(Person.state == state)
    rows = [{"sub": p.public_id, "login": login, "name": p.full_name or None, "phone": p.phone, "state": p.state,
             "registered_at": _iso(p.registered_at), "last_login_at": _iso(p.last_login_at)}
            for p, login in s.execute(query)]
    audit(s, "operator.listed", detail={"operator": operator, "state": state, "count": len(rows)})
    return rows


# -- changing -----------------------------------------------------------------------------------
def block(s: Session, ref: str, *, operator: str, reason: str | None = None) -> dict[str, Any]:
    """Stop a person from logging in anywhere, at once: the state, their sessions and portal grants."""
    person = _open_person(s, ref, reason)
    if person.state == PersonState.BLOCKED:
        raise OperatorError(f"{_name(person)} is already blocked")
    previous, person.state = person.state, PersonState.BLOCKED
    ended, revoked = end_person_sessions(s, person.id, "operator_block")
    audit(s, "operator.blocked", person_id=person.id,
          detail=_detail(operator, reason, previous=previous, sessions=ended, grants=revoked))
    return _result(person, sessions_ended=ended, grants_revoked=revoked)


def unblock(s: Session, ref: str, *, operator: str, reason: str | None = None) -> dict[str, Any]:
    """Let a blocked person log in again."""
    person = _open_person(s, ref, reason)
    if person.state != PersonState.BLOCKED:
        raise OperatorError(f"{_name(person)} is not blocked (state {person.state})")
    person.state = PersonState.ACTIVE
    audit(s, "operator.unblocked", person_id=person.id, detail=_detail(operator, reason))
    return _result(person)


def unlock(s: Session, ref: str, *, attempts: Attempts, operator: str, reason: str | None = None) -> dict[str, Any]:
    """End a password lockout now (the citizen proved who they are at the centre)."""
    person = _open_person(s, ref, reason)
    was_locked = clear_lockout(s, person, attempts)
    audit(s, "operator.unlocked", person_id=person.id, detail=_detail(operator, reason, was_locked=was_locked))
    return _result(person, was_locked=was_locked)


def set_password(s: Session, ref: str, new_password: str, passwords: Passwords, *, attempts: Attempts,
                 operator: str, reason: str | None = None) -> dict[str, Any]:
    """Give a person a new password under the same rules as registration. Whoever knew the old one
    is logged out everywhere: every session ends and every portal grant is revoked."""
    person = _open_person(s, ref, reason)
    cred = _password_credential(s, person)
    if cred is None:
        raise OperatorError(f"{_name(person)} has no password login")
    problem = password_problem(new_password, cred.identifier)
    if problem:
        raise UserError(problem)
    cred.secret_hash = passwords.hash(new_password)
    clear_lockout(s, person, attempts)
    ended, revoked = end_person_sessions(s, person.id, "operator_password")
    audit(s, "operator.password_set", person_id=person.id,
          detail=_detail(operator, reason, sessions=ended, grants=revoked))
    return _result(person, sessions_ended=ended, grants_revoked=revoked)


def close(s: Session, ref: str, *, operator: str, reason: str | None = None) -> dict[str, Any]:
    """Close an account for good: no state leads back from closed, and the login stays taken."""
    _check_reason(reason)
    person = find_person(s, ref)
    if person.state == PersonState.CLOSED:
        raise OperatorError(f"{_name(person)} is already closed")
    previous, person.state = person.state, PersonState.CLOSED
    ended, revoked = end_person_sessions(s, person.id, "operator_close")
    audit(s, "operator.closed", person_id=person.id,
          detail=_detail(operator, reason, previous=previous, sessions=ended, grants=revoked))
    return _result(person, sessions_ended=ended, grants_revoked=revoked)


# -- helpers --------------------------------------------------------------------------------------
def _open_person(s: Session, ref: str, reason: str | None) -> Person:
    """The person *ref* names, refused when closed: closing is final."""
    _check_reason(reason)
    person = find_person(s, ref)
    if person.state == PersonState.CLOSED:
        raise OperatorError(f"{_name(person)} is closed; a closed account cannot be changed")
    return person


def _password_credential(s: Session, person: Person) -> Credential | None:
    return s.scalar(select(Credential).where(Credential.person_id == person.id, Credential.method == PASSWORD))


def _name(person: Person) -> str:
    return f"sub {person.public_id}"


def _check_reason(reason: str | None) -> None:
    """Refuse an over-long reason before anything changes (or is logged)."""
    if reason is not None and len(reason) > MAX_REASON:
        raise OperatorError(f"the reason is at most {MAX_REASON} characters")


def _detail(operator: str, reason: str | None, **facts: object) -> dict[str, Any]:
    return {"operator": operator, **({"reason": reason} if reason else {}), **facts}


def _result(person: Person, **facts: object) -> dict[str, Any]:
    return {"sub": person.public_id, "state": person.state, **facts}


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
