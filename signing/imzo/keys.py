"""`imzo keys`: the citizen's keys folder (E-IMZO's DSKEYS), one password-protected PFX per key.

    imzo keys new NAME --cn "Alisher Valiyev" --surname Valiyev --given-name Alisher \\
                       --pinfl 32301940190066 [--tin 300777132 --org "..." --title direktor] \\
                       [--algorithm ecdsa-p256|ed25519|rsa-pss-3072] [--csr-out ali.csr]
        make a key (locked in NAME.pfx) and a CSR for it; the CSR goes to the CA operator
    imzo keys list                       keys in the folder: name, state, PINFL, TIN, CN, valid to
    imzo keys import NAME CERT.pem       put the issued certificate (and chain) into NAME.pfx
    imzo keys import-pfx NAME FILE.pfx   add a PFX made elsewhere, re-locked with AES-256
    imzo keys export NAME OUT.pfx        copy of the PFX under an export password (still encrypted)
    imzo keys passwd NAME                change the key's password

The folder is --keys DIR, else $IMZO_KEYS, else ~/DSKEYS. Passwords are asked with a hidden
prompt; with --password-stdin they are read one per line from stdin instead (for `export` and
`passwd`: the key's password, then the new one; for `import-pfx`: the file's password, then the
new one). New passwords need at least 8 characters; an imported PFX may keep its own password.
Errors print one line and exit non-zero.
"""
from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from keystore import pfx
from keystore.files import atomic_write
from keystore.folder import MIN_PASSWORD_CHARS, KeysFolder

from .. import algorithms, oids, x509_signing
from . import main
from .common import (  # noqa: F401  (re-exported: ca.py and older callers import them from here)
    KEYS_ENV, default_keys_folder, keys_option, load_certificates, one_line_errors, password_stdin_option,
    read_password,
)

#: PBKDF2 rounds for every PFX these commands write; tests lower it, nothing else should.
KDF_ROUNDS = pfx.KDF_ROUNDS


def _folder(keys_dir: Path | None) -> KeysFolder:
    return KeysFolder(keys_dir or default_keys_folder(), kdf_rounds=KDF_ROUNDS)


# ------------------------------------------------------------------- commands
@main.group()
def keys() -> None:
    """Key files (PFX) and certificate requests."""


@keys.command("new")
@click.argument("name")
@click.option("--cn", required=True, help="common name, e.g. 'Alisher Valiyev'")
@click.option("--surname", required=True)
@click.option("--given-name", required=True)
@click.option("--pinfl", required=True, help="14-digit personal number")
@click.option("--tin", help="organisation's 9-digit TIN (work certificate)")
@click.option("--org", help="organisation name (work certificate)")
@click.option("--title", help="job title (work certificate)")
@click.option("--algorithm", default=algorithms.DEFAULT.name, show_default=True,
              type=click.Choice(sorted(algorithms.REGISTRY)))
@click.option("--csr-out", type=click.Path(dir_okay=False, path_type=Path), help="write the CSR here (default: stdout)")
@keys_option
@password_stdin_option
@one_line_errors
def new(name: str, cn: str, surname: str, given_name: str, pinfl: str, tin: str | None, org: str | None,
        title: str | None, algorithm: str, csr_out: Path | None, keys_dir: Path | None, password_stdin: bool) -> None:
    """Make key NAME and a certificate request (CSR) for it."""
    folder = _folder(keys_dir)
    if any(e.name == name for e in folder.list()):
        raise click.ClickException(f"a key named {name!r} already exists in {folder.path}")
    attrs = [
        (NameOID.COUNTRY_NAME, "UZ"), (NameOID.COMMON_NAME, cn), (NameOID.SURNAME, surname),
        (NameOID.GIVEN_NAME, given_name), (oids.PINFL, pinfl),
    ]
    attrs += [(oid, v) for oid, v in ((NameOID.ORGANIZATION_NAME, org), (NameOID.TITLE, title), (oids.TIN, tin)) if v]
    try:
        subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])
    except ValueError as exc:
        raise click.ClickException(f"bad subject: {exc}") from None
    from ..ca import check_subject  # here: the CA module is heavy, and only this command needs it

    check_subject(subject, "employee" if (tin or org or title) else "citizen")  # fail before making a key
    password = read_password("Password for the new key", password_stdin, confirm=True, minimum=MIN_PASSWORD_CHARS)
    key = algorithms.get(algorithm).generate()
    csr = x509_signing.sign(x509.CertificateSigningRequestBuilder().subject_name(subject), key)
    folder.store(name, key, password, csr=csr)
    pem = csr.public_bytes(serialization.Encoding.PEM)
    if csr_out:
        csr_out.write_bytes(pem)
        click.echo(f"key {name} saved in {folder.path / (name + '.pfx')}; CSR written to {csr_out}", err=True)
    else:
        click.echo(pem.decode(), nl=False)
        click.echo(f"key {name} saved in {folder.path / (name + '.pfx')}", err=True)


@keys.command("list")
@keys_option
@one_line_errors
def list_keys(keys_dir: Path | None) -> None:
    """List the keys in the folder (no password needed)."""
    folder = _folder(keys_dir)
    entries = folder.list()
    if not entries:
        click.echo(f"no keys in {folder.path}", err=True)
        return
    # the whole serial in hex, as `imzo ca list` shows it and `imzo ca revoke` takes it (up to 20 bytes)
    click.echo(f"{'NAME':20} {'STATE':8} {'PINFL':14} {'TIN':9} {'VALID TO':10} {'SERIAL':40} CN")
    for e in entries:
        cn = e.attribute(NameOID.COMMON_NAME.dotted_string) or ""
        valid_to = f"{e.not_after:%Y-%m-%d}" if e.not_after else "-"
        serial = f"{e.certificate.serial_number:x}" if e.certificate else "-"
        click.echo(f"{e.name:20} {e.state:8} {e.pinfl or '-':14} {e.tin or '-':9} {valid_to:10} {serial:40} {cn}")


@keys.command("import")
@click.argument("name")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@keys_option
@password_stdin_option
@one_line_errors
def import_certificate(name: str, certificate: Path, keys_dir: Path | None, password_stdin: bool) -> None:
    """Put the issued CERTIFICATE (PEM: leaf first, then the chain) into key NAME."""
    folder = _folder(keys_dir)
    folder.entry(name)  # KeyNotFound before asking for a password
    certs = load_certificates(certificate.read_bytes(), str(certificate))
    password = read_password("Key password", password_stdin)
    folder.import_certificate(name, password, certs[0], certs[1:])
    click.echo(f"certificate {certs[0].serial_number:x} imported into {name}", err=True)


@keys.command("import-pfx")
@click.argument("name")
@click.argument("pfx_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@keys_option
@password_stdin_option
@one_line_errors
def import_pfx(name: str, pfx_file: Path, keys_dir: Path | None, password_stdin: bool) -> None:
    """Add PFX_FILE (from E-IMZO or openssl) to the folder as NAME, re-locked with AES-256."""
    folder = _folder(keys_dir)
    old = read_password("Password of the PFX file", password_stdin)
    new_pw = read_password("Password for the imported key", password_stdin, confirm=True)
    if new_pw != old and len(new_pw.decode()) < MIN_PASSWORD_CHARS:  # the file's own password may stay
        raise click.ClickException(f"Password for the imported key must be at least {MIN_PASSWORD_CHARS} "
                                   "characters (or the PFX file's own password, to keep it)")
    entry = folder.import_pfx(name, pfx_file.read_bytes(), old, new_pw)
    click.echo(f"imported {name} ({entry.state})", err=True)


@keys.command("export")
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@keys_option
@password_stdin_option
@one_line_errors
def export(name: str, out: Path, keys_dir: Path | None, password_stdin: bool) -> None:
    """Write a copy of key NAME to OUT as a PFX locked with an export password."""
    folder = _folder(keys_dir)
    folder.entry(name)
    if out.exists():  # never over another file: it may be another key's only copy
        raise click.ClickException(f"{out} exists; pick another file name")
    password = read_password("Key password", password_stdin)
    export_password = read_password("Export password", password_stdin, confirm=True, minimum=MIN_PASSWORD_CHARS)
    blob = folder.export(name, password, export_password)
    atomic_write(out, blob)  # a temp file beside OUT, then a rename: never half a PFX
    click.echo(f"exported {name} to {out}", err=True)


@keys.command("passwd")
@click.argument("name")
@keys_option
@password_stdin_option
@one_line_errors
def passwd(name: str, keys_dir: Path | None, password_stdin: bool) -> None:
    """Change the password of key NAME."""
    folder = _folder(keys_dir)
    folder.entry(name)
    old = read_password("Current password", password_stdin)
    new_pw = read_password("New password", password_stdin, confirm=True, minimum=MIN_PASSWORD_CHARS)
    folder.change_password(name, old, new_pw)
    click.echo(f"password of {name} changed", err=True)
