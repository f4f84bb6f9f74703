"""The password method (the "ID account"): register, log in, change password, lockout.

Pure domain logic on a Session; pages and the CLI call it. Failures raise UserError with a
message key the pages translate.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .audit import audit
from .config import Settings
from .errors import UserError
from .models import Credential, Person, PersonState, utcnow
from .passwords import Passwords, password_problem

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PHONE_RE = re.compile(r"^\+998\d{9}$")
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
    if not PHONE_RE.match(candidate):
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
            s.add(Credential(person_id=person.id, method=PASSWORD, identifier=login,
                             secret_hash=self.passwords.hash(password), data={}))
            s.flush()
        except IntegrityError as exc:  # a concurrent registration took the login or PINFL
            raise UserError("login_taken") from exc
        audit(s, "account.registered", person_id=person.id, detail={"method": PASSWORD,
                                                                     "terms": self.settings.terms_version})
        return person

    def authenticate(self, s: Session, login: str, password: str) -> Person:
        """Check a login and password, with a per-account lockout that grows on repeated failures."""
        login = normalize_login(login)
        cred = s.scalar(select(Credential).where(Credential.method == PASSWORD, Credential.identifier == login)) \
            if login and len(login) <= 64 else None
        now = utcnow()
        if cred is not None:
            _refuse_if_locked(cred, now)
        ok = self.passwords.verify(cred.secret_hash if cred else None, password or "")
        if cred is None or not ok:
            if cred is not None:
                self._count_failure(s, cred, now, "login.failed")
            raise UserError("login_failed")
        person = cred.person
        if person.state != PersonState.ACTIVE:
            raise UserError("account_" + person.state)
        cred.failed_attempts = 0
        cred.locked_until = None
        cred.last_used_at = now
        if cred.secret_hash is not None and self.passwords.needs_rehash(cred.secret_hash):
            cred.secret_hash = self.passwords.hash(password)
        person.last_login_at = now
        audit(s, "login.succeeded", person_id=person.id, detail={"method": PASSWORD})
        return person

    def change_password(self, s: Session, person: Person, current: str, new: str) -> None:
        cred = s.scalar(select(Credential).where(Credential.person_id == person.id, Credential.method == PASSWORD))
        if cred is None:
            raise UserError("no_password")
        now = utcnow()
        _refuse_if_locked(cred, now)  # the form is a password check like the login: same lockout
        if not self.passwords.verify(cred.secret_hash, current or ""):
            self._count_failure(s, cred, now, "password_change.failed")
            raise UserError("current_password_wrong")
        problem = password_problem(new, cred.identifier)
        if problem:
            raise UserError(problem)
        cred.secret_hash = self.passwords.hash(new)
        cred.failed_attempts = 0
        cred.locked_until = None
        audit(s, "account.password_changed", person_id=person.id)

    def _count_failure(self, s: Session, cred: Credential, now: dt.datetime, kind: str) -> None:
        """One more wrong password, counted by the database (racing guesses each count) and
        committed at once; past the threshold the credential waits lockout_base * 2**k seconds."""
        failed = s.execute(
            update(Credential).where(Credential.id == cred.id)
            .values(failed_attempts=Credential.failed_attempts + 1).returning(Credential.failed_attempts)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        over = failed - self.settings.lockout_threshold
        if over >= 0:
            until = now + dt.timedelta(seconds=min(self.settings.lockout_base * (2 ** min(over, 30)),
                                                   self.settings.lockout_max))
            s.execute(update(Credential)  # never shorten a longer lock a racing failure set
                      .where(Credential.id == cred.id,
                             or_(Credential.locked_until.is_(None), Credential.locked_until < until))
                      .values(locked_until=until).execution_options(synchronize_session=False))
        audit(s, kind, person_id=cred.person_id, detail={"method": PASSWORD})
        s.commit()


def _refuse_if_locked(cred: Credential, now: dt.datetime) -> None:
    if cred.locked_until and cred.locked_until > now:
        minutes = max(1, int((cred.locked_until - now).total_seconds() + 59) // 60)
        raise UserError("account_locked", minutes=minutes)
