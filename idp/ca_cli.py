"""`yagona ca`: hand the served CA (YAGONA_CA_DIR) its OCSP responder and TSA keys.

    yagona ca install-keys [--ocsp OCSP.pfx] [--tsa TSA.pfx] [--password-stdin]

The PFX files are the ones `imzo ca ocsp-cert` / `imzo ca tsa-cert` wrote; their passwords are
asked with a hidden prompt (or read one per line from stdin, in that order). The keys are
re-encrypted under the master secret (YAGONA_SECRET_KEY) into the CA folder, where every worker
sharing that folder and secret opens them at start; restart the service afterwards. The CA's own
password is never asked: the service cannot sign certificates or CRLs.
"""
from __future__ import annotations

from pathlib import Path

import click

from keystore import pfx
from keystore.errors import KeystoreError
from signing.imzo.common import password_stdin_option, read_password

from .ca_service import KEY_FILES, CAServiceError, ca_folder, install_keys
from .config import load_settings


@click.group("ca")
def ca() -> None:
    """The CA served under /ca: its OCSP and TSA keys."""


@ca.command("install-keys")
@click.option("--ocsp", "ocsp_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="delegated OCSP responder PFX (imzo ca ocsp-cert)")
@click.option("--tsa", "tsa_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="timestamp-authority PFX (imzo ca tsa-cert)")
@password_stdin_option
def install(ocsp_file: Path | None, tsa_file: Path | None, password_stdin: bool) -> None:
    """Re-encrypt the OCSP and/or TSA key files under the master secret for the service to use."""
    given = {kind: path for kind, path in (("ocsp", ocsp_file), ("tsa", tsa_file)) if path is not None}
    if not given:
        raise click.ClickException("give --ocsp OCSP.pfx and/or --tsa TSA.pfx")
    settings = load_settings()
    keys = {}
    for kind, path in given.items():
        password = read_password(f"Password for {path.name}", password_stdin)
        try:
            key, cert, chain = pfx.decrypt_key(path.read_bytes(), password)
        except KeystoreError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        if cert is None:
            raise click.ClickException(f"{path} holds no certificate; make it with `imzo ca {kind}-cert`")
        keys[kind] = (key, cert, chain)
    try:
        install_keys(settings, keys)
    except CAServiceError as exc:
        raise click.ClickException(str(exc)) from None
    folder = ca_folder(settings)
    for kind, (_key, cert, _chain) in keys.items():
        click.echo(f"{kind.upper()} key (certificate {cert.serial_number:x}, "
                   f"valid to {cert.not_valid_after_utc:%Y-%m-%d}) installed as {folder / KEY_FILES[kind]}; "
                   "restart the service to use it", err=True)
