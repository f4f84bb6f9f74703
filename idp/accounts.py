"""The password method (the "ID account"): register, log in, change password, lockout.

Pure domain logic on a Session; pages and the CLI call it. Failures raise UserError with a
message key the pages translate.
"""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .attempts import Attempts
from .audit import audit
from .config import Settings
from .errors import UserError
from .models import Credential, Person, PersonState, utcnow
from .passwords import Passwords, password_problem

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PHONE_RE = re.compile(r"\+998[0-9]{9}")  # ASCII digits: \d would take "٩" too
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
PASSWORD = "password"


def normalize_login(login: str) -> str:
    return (login or "").strip().lower()


def normalize_phone(phone: str) -> str:
    """'+998 90 123-45-67', '998901234567' and '901234567' all become '+998901234567'."""
    digits = re.sub(r"[\s()\-]", "", phone or "")
    if digits.startswith("+"):
        digits = digits[1:]
    if re.fullmatch(r"\d{9}", digits):
        digits = "998" + digits
    candidate = "+" + digits
    if not PHONE_RE.fullmatch(candidate):
        raise UserError("phone_invalid")
    return candidate


def new_public_id(s: Session) -> str:
    """A random 10-digit public ID (the `sub`), not derived from anything personal."""
    while True:
        candidate = str(secrets.randbelow(9_000_000_000) + 1_000_000_000)
        if s.scalar(select(Person.id).where(Person.public_id == candidate)) is None:
            return candidate


class Accounts:
    def __init__(self, settings: Settings, passwords: Passwords) -> None:
        self.settings = settings
        self.passwords = passwords
        self.attempts = Attempts(settings)

    def register(self, s: Session, *, login: str, password: str, phone: str, accept_terms: bool,
                 email: str | None = None, **profile: object) -> Person:
        """Create a person with a password credential. Nothing is written if any check fails."""
        login = normalize_login(login)
        if not LOGIN_RE.match(login):
            raise UserError("login_invalid")
        phone = normalize_phone(phone)
        problem = password_problem(password, login)
        if problem:
            raise UserError(problem)
        if not accept_terms:
            raise UserError("terms_required")
        email = (email or "").strip() or None
        if email and (len(email) > 254 or not EMAIL_RE.match(email)):  # RFC 5321's limit, the column's size
            raise UserError("email_invalid")
        # hashed before the login is looked up: "login taken" costs an Argon2 hash like a registration,
        # so (with the per-IP register limit) it is no fast oracle of which logins exist
        secret_hash = self.passwords.hash(password)
        if s.scalar(select(Credential.id).where(Credential.method == PASSWORD, Credential.identifier == login)):
            raise UserError("login_taken")
        now = utcnow()
        person = Person(
            public_id=new_public_id(s), phone=phone, email=email, state=PersonState.ACTIVE,
            terms_version=self.settings.terms_version, terms_accepted_at=now, registered_at=now,
            **{k: v for k, v in profile.items() if v not in (None, "")},
        )
        s.add(person)
        try:
            s.flush()
            s.add(Credential(person_id=person.id, method=PASSWORD, identifier=login, secret_hash=secret_hash,
                             data={}))
            s.flush()
        except IntegrityError as exc:  # a concurrent registration took the login or PINFL
            raise UserError("login_taken") from exc
        audit(s, "account.registered", person_id=person.id, detail={"method": PASSWORD,
                                                                     "terms": self.settings.terms_version})
        return person

    def authenticate(self, s: Session, login: str, password: str) -> Person:
        """Check a login and password; raise UserError("login_failed") or ("account_locked", minutes=N).

        A real and an unknown login take the same path: the guess is reserved first (idp/attempts.py),
        then one Argon2 verification (against a dummy hash when there is no such login), then one
        audit row. A blocked or closed account answers like a wrong password, and its right password
        counts as a guess: any other answer would confirm the password and the account."""
        login = normalize_login(login)
        reservation = self.attempts.reserve(s, PASSWORD, login)
        cred = s.scalar(select(Credential).where(Credential.method == PASSWORD, Credential.identifier == login))
        ok = self.passwords.verify(cred.secret_hash if cred else None, password or "")
        person = cred.person if cred is not None and ok else None
        if cred is None or person is None or person.state != PersonState.ACTIVE:  # (no cred: no person)
            detail = {"method": PASSWORD, **({"state": person.state} if person else {})}
            audit(s, "login.failed", person_id=cred.person_id if cred else None, detail=detail)
            s.commit()
            raise UserError("login_failed")
        self.attempts.clear(s, reservation)
        now = utcnow()
        cred.last_used_at = now
        if cred.secret_hash is not None and self.passwords.needs_rehash(cred.secret_hash):
            cred.secret_hash = self.passwords.hash(password)
        person.last_login_at = now
        audit(s, "login.succeeded", person_id=person.id, detail={"method": PASSWORD})
        return person

    def change_password(self, s: Session, person: Person, current: str, new: str) -> None:
        """Set a new password after checking the current one, which is a guess like a login's (the
        same counter): whoever holds a logged-in browser gets no unlimited password oracle."""
        cred = s.scalar(select(Credential).where(Credential.person_id == person.id, Credential.method == PASSWORD))
        if cred is None:
            raise UserError("no_password")
        problem = password_problem(new, cred.identifier)
        if problem:
            raise UserError(problem)
        reservation = self.attempts.reserve(s, PASSWORD, cred.identifier)
        if not self.passwords.verify(cred.secret_hash, current or ""):
            audit(s, "password_change.failed", person_id=person.id, detail={"method": PASSWORD})
            s.commit()
            raise UserError("current_password_wrong")
        self.attempts.clear(s, reservation)
        cred.secret_hash = self.passwords.hash(new)
        audit(s, "account.password_changed", person_id=person.id)
