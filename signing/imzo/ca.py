"""`imzo ca`: the operator's certificate authority (a root and an issuing CA in one folder).

    imzo ca init [--name "Yagona Root CA"] [--algorithm ecdsa-p256] [--ocsp-url URL] [--crl-url URL]
        make the root + issuing CA; keys locked in PFX files by the CA password
    imzo ca issue REQUEST.csr [--profile citizen|employee] [--days 730] [--out CERT.pem]
        check the CSR's subject against the profile and issue; writes leaf + issuing + root PEM
        (give that file to `imzo keys import`); the serial goes to stderr
    imzo ca revoke SERIAL [--reason key_compromise]   SERIAL in hex, as `imzo ca list` shows it
    imzo ca list                        every issued certificate and its status (no password)
    imzo ca crl [--out FILE] [--der] [--root]   a fresh CRL of the issuing CA (--root: the root's),
                                        also published in the CA folder for `imzo ca serve`
    imzo ca root [--der]                the root certificate (no password)
    imzo ca tsa-cert OUT.pfx [--name]   a timestamp-authority key + certificate (EKU timeStamping)
    imzo ca ocsp-cert OUT.pfx [--name]  a delegated OCSP responder key + certificate
    imzo ca ocsp-respond < req.der > resp.der   answer one DER OCSP request (for scripts and tests)
    imzo ca serve [--host 127.0.0.1] [--port 8080] [--ocsp-key OCSP.pfx] [--tsa-key TSA.pfx]
        serve /ca/crl, /ca/root-crl, /ca/ocsp and /ca/tsa over HTTP (signing/ca_http.py) without
        the CA password: the published CRLs, OCSP signed by the delegated responder key, timestamps
        by the TSA key (each key file's password asked in that order)

The CA folder is --ca DIR, else $IMZO_CA, else ./yagona-ca. The CA password is asked with a
hidden prompt, or read from stdin with --password-stdin (tsa-cert/ocsp-cert: the CA password,
then the new PFX's password, one per line). A new CA password needs at least 12 characters, a new
PFX's 8. Errors print one line and exit non-zero.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keystore import pfx
from keystore.files import atomic_write
from keystore.folder import MIN_PASSWORD_CHARS

from .. import algorithms, oids
from ..ca import PROFILES, CAError, CertificateAuthority, DelegatedOCSPResponder, load_csr, read_issued
from . import main
from . import keys as keys_cli
from .common import one_line_errors, password_stdin_option, read_password

CA_ENV = "IMZO_CA"
#: Fewest characters of a new CA password: the CA's PFX files sign every certificate, so its password
#: must outlast an offline guessing attack longer than one citizen's key.
MIN_CA_PASSWORD_CHARS = 12
_REASONS = [r.name for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl]


def _ca_dir(ca_dir: Path | None) -> Path:
    return ca_dir or Path(os.environ.get(CA_ENV) or "yagona-ca")


def _open(ca_dir: Path | None, password_stdin: bool) -> CertificateAuthority:
    folder = _ca_dir(ca_dir)
    if not (folder / "ca.json").is_file():
        raise CAError(f"no CA in {folder}; run `imzo ca init` first (or pass --ca DIR)")
    return CertificateAuthority.open(folder, read_password("CA password", password_stdin))


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write(out: Path | None, data: bytes, *, binary: bool = False) -> None:
    if out is None:
        if binary:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            click.echo(data.decode(), nl=False)
    else:
        atomic_write(out, data, 0o644)


ca_option = click.option(
    "--ca", "ca_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help=f"CA folder (default ${CA_ENV} or ./yagona-ca)",
)


@main.group()
def ca() -> None:
    """Run the certificate authority: init, issue, revoke, CRL, OCSP, service certificates."""


@ca.command()
@click.option("--name", default="Yagona Root CA", show_default=True)
@click.option("--algorithm", default=algorithms.DEFAULT.name, show_default=True,
              type=click.Choice(sorted(algorithms.REGISTRY)))
@click.option("--ocsp-url", help="OCSP responder URL written into issued certificates")
@click.option("--crl-url", help="CRL URL written into issued certificates")
@ca_option
@password_stdin_option
@one_line_errors
def init(name: str, algorithm: str, ocsp_url: str | None, crl_url: str | None, ca_dir: Path | None,
         password_stdin: bool) -> None:
    """Make a new root and issuing CA in the CA folder."""
    folder = _ca_dir(ca_dir)
    if (folder / "ca.json").exists():
        raise CAError(f"{folder} already holds a CA")
    password = read_password("New CA password", password_stdin, confirm=True, minimum=MIN_CA_PASSWORD_CHARS)
    authority = CertificateAuthority.create(
        folder, password, name, algorithm, ocsp_url=ocsp_url, crl_url=crl_url, kdf_rounds=keys_cli.KDF_ROUNDS
    )
    click.echo(f"CA created in {folder}: root {authority.root_certificate.subject.rfc4514_string()}", err=True)


@ca.command()
@click.argument("request", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", type=click.Choice(PROFILES), default="citizen", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=730, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the certificate chain here (default: stdout)")
@ca_option
@password_stdin_option
@one_line_errors
def issue(request: Path, profile: str, days: int, out: Path | None, ca_dir: Path | None, password_stdin: bool) -> None:
    """Issue a certificate for the CSR in REQUEST (PEM or DER)."""
    if request.stat().st_size > (64 << 10):
        raise CAError(f"{request} is {request.stat().st_size} bytes; a CSR over 65536 bytes is refused")
    csr = load_csr(request.read_bytes())  # refuse garbage before asking for the password
    authority = _open(ca_dir, password_stdin)
    cert = authority.issue(csr, profile=profile, days=days)
    _write(out, _pem(cert, authority.issuing_certificate, authority.root_certificate))
    click.echo(f"issued {profile} certificate serial {cert.serial_number:x} to {oids.display_name(cert.subject)}",
               err=True)


@ca.command()
@click.argument("serial")
@click.option("--reason", type=click.Choice(_REASONS), default="unspecified", show_default=True)
@ca_option
@password_stdin_option
@one_line_errors
def revoke(serial: str, reason: str, ca_dir: Path | None, password_stdin: bool) -> None:
    """Revoke the certificate with SERIAL (hex)."""
    try:
        number = int(serial.lower().removeprefix("0x").replace(":", ""), 16)
    except ValueError:
        raise click.ClickException(f"serial {serial!r} is not a hex number; copy it from `imzo ca list`") from None
    authority = _open(ca_dir, password_stdin)
    authority.revoke(number, x509.ReasonFlags[reason])
    click.echo(f"revoked {number:x} ({reason})", err=True)


@ca.command("list")
@ca_option
@one_line_errors
def list_issued(ca_dir: Path | None) -> None:
    """Every certificate the issuing CA signed, with its status."""
    rows = read_issued(_ca_dir(ca_dir))
    click.echo(f"{'SERIAL':40} {'PROFILE':8} {'STATUS':24} {'VALID TO':10} SUBJECT")
    for r in rows:
        status = f"revoked:{r.reason.name if r.reason else ''}" if r.revoked_at else "valid"
        click.echo(f"{r.serial:<40x} {r.profile:8} {status:24} {r.not_after:%Y-%m-%d} {r.subject}")


@ca.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--der", is_flag=True, help="DER instead of PEM")
@click.option("--root", "of_root", is_flag=True, help="the root's CRL (ARL) instead of the issuing CA's")
@ca_option
@password_stdin_option
@one_line_errors
def crl(out: Path | None, der: bool, of_root: bool, ca_dir: Path | None, password_stdin: bool) -> None:
    """Issue a fresh CRL of the issuing CA (or, with --root, of the root)."""
    authority = _open(ca_dir, password_stdin)
    the_crl = authority.root_crl() if of_root else authority.crl()
    enc = serialization.Encoding.DER if der else serialization.Encoding.PEM
    _write(out, the_crl.public_bytes(enc), binary=der)


@ca.command()
@click.option("--der", is_flag=True, help="DER instead of PEM")
@ca_option
@one_line_errors
def root(der: bool, ca_dir: Path | None) -> None:
    """Print the root certificate (the trust anchor relying parties install)."""
    path = _ca_dir(ca_dir) / "root.pem"
    if not path.is_file():
        raise CAError(f"no CA in {path.parent}; run `imzo ca init` first (or pass --ca DIR)")
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if der:
        _write(None, cert.public_bytes(serialization.Encoding.DER), binary=True)
    else:
        _write(None, _pem(cert))


def _service_cert(kind: str, out: Path, name: str | None, ca_dir: Path | None, password_stdin: bool) -> None:
    if out.exists():
        raise click.ClickException(f"{out} exists; pick another file name")
    authority = _open(ca_dir, password_stdin)
    key_password = read_password(f"Password for the {kind.upper()} key file", password_stdin, confirm=True,
                                 minimum=MIN_PASSWORD_CHARS)
    key = algorithms.get(authority.algorithm).generate()
    issue = authority.issue_tsa_certificate if kind == "tsa" else authority.issue_ocsp_certificate
    cert = issue(key.public_key(), name=name) if name else issue(key.public_key())  # else the default name
    blob = pfx.encrypt_key(
        key, key_password, cert, [authority.issuing_certificate, authority.root_certificate], name=kind,
        kdf_rounds=keys_cli.KDF_ROUNDS,
    )
    atomic_write(out, blob)
    click.echo(f"{kind.upper()} certificate {cert.serial_number:x} and key written to {out}", err=True)


@ca.command("tsa-cert")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="subject CN (default 'Yagona Timestamp Authority')")
@ca_option
@password_stdin_option
@one_line_errors
def tsa_cert(out: Path, name: str | None, ca_dir: Path | None, password_stdin: bool) -> None:
    """Make a timestamp-authority key and certificate, saved as the PFX OUT."""
    _service_cert("tsa", out, name, ca_dir, password_stdin)


@ca.command("ocsp-cert")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="subject CN (default 'Yagona OCSP Responder')")
@ca_option
@password_stdin_option
@one_line_errors
def ocsp_cert(out: Path, name: str | None, ca_dir: Path | None, password_stdin: bool) -> None:
    """Make a delegated OCSP responder key and certificate, saved as the PFX OUT."""
    _service_cert("ocsp", out, name, ca_dir, password_stdin)


@ca.command("ocsp-respond")
@click.option("--in", "in_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="DER request (default: stdin)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="DER response (default: stdout)")
@ca_option
@password_stdin_option
@one_line_errors
def ocsp_respond(in_file: Path | None, out: Path | None, ca_dir: Path | None, password_stdin: bool) -> None:
    """Answer one DER OCSP request (always a DER OCSPResponse; bad input gets malformedRequest)."""
    if in_file is None and password_stdin:
        raise click.ClickException("with --password-stdin, give the request with --in FILE")
    authority = _open(ca_dir, password_stdin)
    request = in_file.read_bytes() if in_file else sys.stdin.buffer.read(1 << 20)
    _write(out, authority.ocsp_respond(request), binary=True)


@ca.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: any free port")
@click.option("--ocsp-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the delegated responder PFX `imzo ca ocsp-cert` wrote (else no OCSP)")
@click.option("--tsa-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the timestamp-authority PFX `imzo ca tsa-cert` wrote (else no TSA)")
@ca_option
@password_stdin_option
@one_line_errors
def serve(host: str, port: int, ocsp_key: Path | None, tsa_key: Path | None, ca_dir: Path | None,
          password_stdin: bool) -> None:
    """Serve the CA's CRLs, OCSP and TSA over HTTP until interrupted (no CA password needed)."""
    from ..ca_http import PREFIX, CAServices, make_server
    from ..tsa import TimestampAuthority

    folder = _ca_dir(ca_dir)
    if not (folder / "ca.json").is_file():
        raise CAError(f"no CA in {folder}; run `imzo ca init` first (or pass --ca DIR)")
    responder = authority = None
    if ocsp_key is not None:
        password = read_password(f"Password for {ocsp_key.name}", password_stdin)
        responder = DelegatedOCSPResponder.from_pfx(folder, ocsp_key.read_bytes(), password)
    if tsa_key is not None:
        authority = TimestampAuthority.from_pfx(tsa_key.read_bytes(),
                                                read_password(f"Password for {tsa_key.name}", password_stdin))
    server = make_server(CAServices(folder, ocsp=responder, tsa=authority), host, port)
    paths = ["crl", "root-crl"] + (["ocsp"] if responder else []) + (["tsa"] if authority else [])
    base = f"http://{host}:{server.server_port}{PREFIX}"
    click.echo(f"serving {', '.join(f'{base}/{p}' for p in paths)}", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
