"""Base error of the signing library; every module's errors derive from it."""
from __future__ import annotations


class SigningError(Exception):
    """Something in signing, certificate or validation work failed; the message says what."""
