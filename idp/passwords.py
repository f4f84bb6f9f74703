"""Password hashing with Argon2id (argon2-cffi), at no less than OWASP's recommended strength."""
from __future__ import annotations

import string
import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256
#: OWASP Password Storage Cheat Sheet: Argon2id settings of equal strength, (memory KiB, passes), p=1
OWASP_ARGON2ID = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


def meets_owasp(memory_kib: int, time_cost: int) -> bool:
    return any(memory_kib >= m and time_cost >= t for m, t in OWASP_ARGON2ID)


class Passwords:
    """Hashes and checks passwords; a dummy check for unknown logins keeps timing equal."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        if not meets_owasp(memory_kib, time_cost):
            raise ValueError(f"Argon2id m={memory_kib} KiB, t={time_cost} is weaker than every OWASP setting "
                             f"{OWASP_ARGON2ID}")
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32, salt_len=16,
            type=Type.ID,
        )
        self._dummy = self.hasher.hash("yagona-dummy-password")

    def hash(self, password: str) -> str:
        return self.hasher.hash(normalize(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """True if *password* matches *stored*; with stored=None, spend the same time and say False."""
        try:
            return self.hasher.verify(stored or self._dummy, normalize(password)) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the most common passwords (idp/common_passwords.txt: its first line says
    where it comes from and under which licence), lower case."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """True if *password*, NFKC-normalised and in lower case, is on the list, or is a listed word
    with digits and symbols only around it ('Password1!', '2026dragon'): the first thing a
    guesser tries after the list itself."""
    p = normalize(password).lower()
    core = p.strip(string.digits + string.punctuation + " ")
    return p in common_passwords() or (len(core) >= 4 and core in common_passwords())


def password_problem(password: str, login: str = "") -> str | None:
    """Why a new password is not acceptable (a message key), or None if it is fine.

    NIST SP 800-63B §3.1.1.2: length matters, composition rules do not; refuse values that are
    commonly used or expected (the list above), and the obvious.
    """
    p = normalize(password)
    if len(p) < MIN_LENGTH:
        return "password_too_short"
    if len(p) > MAX_LENGTH:
        return "password_too_long"
    if login and login.lower() in p.lower():
        return "password_contains_login"
    if len(set(p)) < 4:
        return "password_too_simple"
    if is_common(p):
        return "password_common"
    return None
