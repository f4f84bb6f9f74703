"""What every `imzo` command shares: the keys folder, passwords, one-line errors, certificate files.

Kept free of heavy imports (cryptography, asn1crypto load inside the functions that need them), so
that `imzo sign` starts hashing its file before the libraries for the key and the CMS are loaded.
"""
from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from keystore.errors import KeystoreError

from ..errors import SigningError

if TYPE_CHECKING:
    from cryptography import x509

KEYS_ENV = "IMZO_KEYS"


def default_keys_folder() -> Path:
    """$IMZO_KEYS, else ~/DSKEYS (E-IMZO's folder name)."""
    return Path(os.environ.get(KEYS_ENV) or Path.home() / "DSKEYS")


def read_password(prompt: str, from_stdin: bool, *, confirm: bool = False, minimum: int = 0) -> bytes:
    """A password from a hidden prompt, or the next line of stdin; never echoed or logged.

    *minimum* (in characters) is for passwords being chosen now; a password that opens an existing
    file is whatever that file was given.
    """
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException(f"expected {prompt.lower()} on stdin (one per line)")
        value = line.rstrip("\r\n")
    else:
        value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, show_default=False)
    if not value:
        raise click.ClickException(f"{prompt} must not be empty")
    if len(value) < minimum:
        raise click.ClickException(f"{prompt} must be at least {minimum} characters")
    try:
        return value.encode()
    except UnicodeError:  # undecodable stdin bytes arrive as surrogates; PKCS#12 passwords are UTF-8
        raise click.ClickException(f"{prompt} is not valid UTF-8 text") from None


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our library errors (and file errors) into click's one-line `Error: ...` and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (KeystoreError, SigningError) as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

    return wrapper


def load_certificates(data: bytes, what: str) -> "list[x509.Certificate]":
    """Certificates from PEM (one or more) or a single DER; a clear error if there are none."""
    from cryptography import x509

    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise click.ClickException(f"{what} holds no readable certificate (PEM or DER)") from None
    return certs


keys_option = click.option(
    "--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help=f"keys folder (default ${KEYS_ENV} or ~/DSKEYS)",
)
password_stdin_option = click.option(
    "--password-stdin", is_flag=True, help="read password(s) from stdin, one per line, instead of prompting"
)
