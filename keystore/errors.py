"""Errors raised by the keystore. Each says what went wrong and what to do about it."""
from __future__ import annotations


class KeystoreError(Exception):
    """Base class for every keystore failure."""


class WrongPassword(KeystoreError):
    """The password does not open this key file."""


class CorruptKeystore(KeystoreError):
    """The key file is damaged or is not a PKCS#12 file at all."""


class KeyNotFound(KeystoreError):
    """No key with that name in the keys folder or on the token."""
