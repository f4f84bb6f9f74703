"""`imzo sign | cosign | timestamp | verify`: CMS signatures on files, E-IMZO style.

    imzo sign FILE [--detached] (--key NAME | --pfx KEY.pfx) [-o FILE.p7s] [--tsa-url URL]
        sign FILE (attached by default; --detached leaves the document out); big files stream
    imzo cosign SIGNATURE [--content FILE] (--key NAME | --pfx KEY.pfx) [-o OUT]
        add your signature to an existing one over the same document (in place unless -o)
    imzo join SIGNATURE OTHER [--content FILE] -o OUT
        merge two signatures over the same document into one
    imzo timestamp SIGNATURE --tsa-url URL [-o OUT]
        add an RFC 3161 signature timestamp to every signer that has none (CAdES-T)
    imzo verify FILE [SIGNATURE] --trust ROOT.pem [--crl CRL]... [--ocsp] [--json] [--out DOC]
        FILE alone is an attached signature (any size, checked in constant memory); with SIGNATURE,
        FILE is the document; --out writes an attached signature's document, only if it passed
    imzo extract SIGNATURE -o DOC
        write the document inside an attached signature without checking it

Passwords come from a hidden prompt, or with --password-stdin from the first line of stdin.
`verify` exits 0 only for TOTAL-PASSED, 1 for TOTAL-FAILED, 3 for INDETERMINATE (2 is a usage error).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import unicodedata
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, TypeVar

import click

from .. import prehash
from . import main
from .common import default_keys_folder, load_certificates, one_line_errors, read_password

# cryptography, asn1crypto and the CMS code are imported inside the commands, so that `imzo sign` forks
# its hashing child before paying for them
if TYPE_CHECKING:
    from cryptography import x509

    from .. import cms, cmsfile
    from ..report import SignerReport, ValidationReport

TRUST_ENV = "IMZO_TRUST"
#: Files at least this big get a progress bar while they are hashed (and copied, when attached).
PROGRESS_FROM = 16 * 1024 * 1024

key_options = [
    click.option("--key", "key_name", help="name of a key in the keys folder (see `imzo keys list`)"),
    click.option("--keys", "keys_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="keys folder (default $IMZO_KEYS or ~/DSKEYS)"),
    click.option("--pfx", "pfx_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                 help="a PFX/PKCS#12 key file instead of a key from the folder"),
    click.option("--password-stdin", is_flag=True, help="read the key password from stdin instead of prompting"),
]


_Command = TypeVar("_Command", bound=Callable[..., Any])


def with_key_options(fn: _Command) -> _Command:
    for option in reversed(key_options):
        fn = option(fn)
    return fn


def open_signer(key_name: str | None, keys_dir: Path | None, pfx_file: Path | None, password_stdin: bool
                ) -> "cms.Signer":
    """The signer from --key or --pfx, after asking for its password."""
    from keystore.folder import KeysFolder

    from .. import cms

    if pfx_file is not None and key_name is None:
        blob = pfx_file.read_bytes()
        return cms.Signer.from_pfx(blob, read_password("Key password", password_stdin))
    if key_name is None or pfx_file is not None:
        raise click.UsageError("give exactly one of --key NAME or --pfx FILE")
    folder = KeysFolder(keys_dir or default_keys_folder())
    folder.entry(key_name)  # KeyNotFound before asking for a password
    opened = folder.open(key_name, read_password("Key password", password_stdin))
    if opened.certificate is None:
        raise click.ClickException(
            f"key {key_name!r} has no certificate yet; `imzo keys import {key_name} CERT.pem` first")
    return cms.Signer(opened.private_key, opened.certificate, opened.chain)


def _read_limited(path: Path, what: str, limit: int | None = None) -> bytes:
    """A document or signature read whole, refused over *limit* (default: der.MAX_BYTES, a signature's)."""
    from .. import der

    limit = der.MAX_BYTES if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise click.ClickException(f"{what} {path} is {size} bytes; over the {limit}-byte limit")
    return path.read_bytes()


def _read_signature(path: Path) -> bytes:
    """A signature file as DER, PEM or base64 (decoded by the cms and validate entry points)."""
    from .. import encoding

    return _read_limited(path, "signature", encoding.max_text_bytes())


def _write(out: Path, data: bytes) -> None:
    from .. import cms

    def write(f: BinaryIO) -> None:
        f.write(data)

    cms.write_atomically(out, write)


def _timestamper(url: str) -> cms.Timestamper:
    from .. import tsa

    return lambda digest, hash_name: tsa.request_timestamp(digest, hash_name=hash_name, url=url)


def _tsa_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--tsa-url must be an http(s) URL with a host (RFC 3161 section 3.4 is over HTTP)."""
    if value is None:
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    else:
        if parts.scheme.lower() not in ("http", "https"):
            host = None
    if not host or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL with a host", ctx, param)
    return value




@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--detached", is_flag=True, help="leave the document out of the signature")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="signature file (default FILE.p7s)")
@click.option("--force", is_flag=True, help="overwrite OUT if it exists")
@click.option("--tsa-url", callback=_tsa_url,
              help="also add a signature timestamp from this RFC 3161 TSA (CAdES-T), http or https")
@with_key_options
@one_line_errors
def sign(file: Path, detached: bool, out: Path | None, force: bool, tsa_url: str | None, key_name: str | None,
         keys_dir: Path | None, pfx_file: Path | None, password_stdin: bool) -> None:
    """Sign FILE with your key: a CAdES signature, attached unless --detached."""
    out = out or file.with_name(file.name + ".p7s")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it or -o to choose another name")
    size = file.stat().st_size
    # the file is hashed on another core while the libraries load, the password is asked and the key
    # decrypted (600,000 PBKDF2 rounds); a key whose algorithm needs another digest hashes again here
    with prehash.PendingDigest(file, prehash.DEFAULT_DIGEST) as pending:
        from .. import cms

        signer = open_signer(key_name, keys_dir, pfx_file, password_stdin)
        passes = 1 if detached else 2
        stamp = _timestamper(tsa_url) if tsa_url else None
        with contextlib.ExitStack() as stack:
            progress = None
            if size >= PROGRESS_FROM:
                progress = stack.enter_context(click.progressbar(
                    length=size * passes, label=f"signing {file.name}", file=sys.stderr)).update
            digest = None
            if signer.algorithm.digest_name == pending.digest_name:
                digest = pending.result(progress)
            written = cms.sign_file(file, signer, out, detached=detached, progress=progress, timestamper=stamp,
                                    digest=digest)
    kind = "detached" if detached else "attached"
    click.echo(f"signed {file} ({size} bytes) -> {out} ({kind}, {written} bytes) as {_who(signer)}")


@main.command()
@click.argument("signature", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--content", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="the signed document, for a detached signature")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="write here (default: in place)")
@with_key_options
@one_line_errors
def cosign(signature: Path, content: Path | None, out: Path | None, key_name: str | None, keys_dir: Path | None,
           pfx_file: Path | None, password_stdin: bool) -> None:
    """Add your signature to SIGNATURE, over the same document as the signers already in it."""
    from .. import cms, der

    blob = _read_signature(signature)
    doc = _read_limited(content, "document") if content else None
    signer = open_signer(key_name, keys_dir, pfx_file, password_stdin)
    result = cms.cosign(blob, signer, content=doc)
    _write(out or signature, result)
    count = len(der.read_signed_data(result).signer_infos)
    click.echo(f"co-signed {signature} as {_who(signer)}; it now has {count} signers -> {out or signature}")


@main.command()
@click.argument("signature", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("other", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--content", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="the signed document, when both signatures are detached")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@one_line_errors
def join(signature: Path, other: Path, content: Path | None, out: Path) -> None:
    """Merge two signatures over the same document into OUT."""
    from .. import cms, der

    doc = _read_limited(content, "document") if content else None
    result = cms.join(_read_signature(signature), _read_signature(other), content=doc)
    _write(out, result)
    click.echo(f"joined -> {out} ({len(der.read_signed_data(result).signer_infos)} signers)")


@main.command()
@click.argument("signature", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--tsa-url", required=True, callback=_tsa_url,
              help="URL of the RFC 3161 timestamp authority (http or https)")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="write here (default: in place)")
@one_line_errors
def timestamp(signature: Path, tsa_url: str, out: Path | None) -> None:
    """Add a signature timestamp (CAdES-T) to each signer of SIGNATURE that has none."""
    from .. import cms

    blob = _read_signature(signature)
    stamped, which = cms.add_timestamp(blob, _timestamper(tsa_url))
    if not which:
        click.echo(f"{signature}: every signer already has a timestamp; nothing changed")
        return
    _write(out or signature, stamped)
    click.echo(f"timestamped signer(s) {', '.join(str(i + 1) for i in which)} -> {out or signature}")


def _http_ocsp(request_der: bytes, url: str | None) -> bytes:
    if not url:
        raise OSError("the certificate names no OCSP responder")
    import urllib.request

    req = urllib.request.Request(url, data=request_der, headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - URL from a certificate we check
        answer: bytes = resp.read(1 << 20)
        return answer


def _load_crl(path: Path) -> "x509.CertificateRevocationList":
    from cryptography import x509

    data = path.read_bytes()
    try:
        return x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError:
        raise click.ClickException(f"{path} is not a CRL (PEM or DER)") from None


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("signature", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--trust", "trust_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help=f"trusted root certificate(s), PEM or DER (default ${TRUST_ENV})")
@click.option("--crl", "crl_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="CRL file(s) to check revocation against")
@click.option("--ocsp", is_flag=True, help="ask the OCSP responders named in the certificates")
@click.option("--no-revocation", is_flag=True, help="do not require revocation information (reported as a warning)")
@click.option("--at", "at", help="validate as of this ISO time instead of now")
@click.option("--json", "as_json", is_flag=True, help="print the full report as JSON")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the document inside an attached signature here, only if the signature passed")
@one_line_errors
def verify(file: Path, signature: Path | None, trust_files: tuple[Path, ...], crl_files: tuple[Path, ...],
           ocsp: bool, no_revocation: bool, at: str | None, as_json: bool, out: Path | None) -> None:
    """Check a signature: FILE alone is an attached signature; FILE SIGNATURE is a document and its signature.

    Attached signatures of any size are checked in constant memory, their document hashed in place.
    """
    if out is not None and signature is not None:
        raise click.UsageError("--out writes the document inside an attached signature; "
                               "with a detached one you already have it")
    _refuse_existing(out)
    if not trust_files and os.environ.get(TRUST_ENV):
        trust_files = tuple(Path(p) for p in os.environ[TRUST_ENV].split(os.pathsep) if p)
    if not trust_files:
        raise click.UsageError(f"give the trusted root with --trust ROOT.pem (or set ${TRUST_ENV})")
    roots = [c for p in trust_files for c in load_certificates(p.read_bytes(), str(p))]
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{at!r} is not an ISO date/time", param_hint="--at") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    from ..report import Indication
    from ..validate import Validator  # here, not at the top: `imzo sign` need not import the validator

    validator = Validator(roots, crls=[_load_crl(p) for p in crl_files], ocsp_fetcher=_http_ocsp if ocsp else None,
                          require_revocation=not no_revocation)
    # both files are streamed: an attached signature or a detached one's document may be huge
    with open(signature or file, "rb") as sig:
        before = os.fstat(sig.fileno())
        if signature is None:
            report = validator.validate(sig, at=when)
        else:
            with open(file, "rb") as document:
                report = validator.validate(sig, document, at=when)
        if as_json:
            click.echo(report.to_json(indent=2))
        else:
            click.echo(summary(report))
        if not report.passed:
            if out is not None:
                click.echo(f"{out} not written: the signature did not pass", err=True)
            sys.exit(1 if report.indication is Indication.TOTAL_FAILED else 3)
        if out is not None:
            written = _write_content(sig, out)
            after = os.stat(file)
            if (after.st_ino, after.st_size, after.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns):
                out.unlink(missing_ok=True)
                raise click.ClickException(f"{file} changed while it was being checked; {out} not written")
            click.echo(f"document ({written} bytes) written to {out}", err=True)


@main.command()
@click.argument("signature", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="where to write the document")
@one_line_errors
def extract(signature: Path, out: Path) -> None:
    """Write the document inside an attached SIGNATURE to OUT, without checking the signature.

    Like `openssl cms -verify -noverify -out`: use `imzo verify --out` to write it only if it passes.
    """
    _refuse_existing(out)
    with open(signature, "rb") as sig:
        written = _write_content(sig, out)
    click.echo(f"document ({written} bytes) written to {out} (not checked)", err=True)


def _refuse_existing(out: Path | None) -> None:
    if out is not None and out.exists():
        raise click.ClickException(f"{out} exists; remove it or pick another name")


def _write_content(sig: cmsfile.BinaryFile, out: Path) -> int:
    """Copy the document inside the attached signature *sig* to *out* atomically; mode 0600, as it may be personal."""
    from .. import cms, cmsfile

    _, content = cmsfile.read(sig)
    if content is None:
        raise click.ClickException(f"{getattr(sig, 'name', 'the signature')} is detached: it holds no document")

    def copy(f: BinaryIO) -> None:
        if isinstance(content, bytes):
            f.write(content)
        else:
            content.seek(0)
            shutil.copyfileobj(content, f, cms.CHUNK)

    return cms.write_atomically(out, copy, 0o600)


def _result(x: "ValidationReport | SignerReport") -> str:
    return x.indication.value + (f"/{x.sub_indication.value}" if x.sub_indication else "")


def _time(when: datetime | None) -> str:
    return "-" if when is None else when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def summary(report: "ValidationReport") -> str:
    """A few plain lines: the overall result, then who signed, when, and why not if not."""
    kind = "" if report.detached is None else ("detached" if report.detached else "attached")
    lines = [f"{_result(report)}: {report.valid_signatures_count} of {report.signatures_count} signature(s) valid"
             + (f" ({kind}, {report.content_size} bytes signed)" if report.content_size is not None else "")]
    lines += [f"  error: {e}" for e in report.errors]
    for s in report.signers:
        who = s.name or s.subject or "unknown signer"
        ids = "".join(f"  {label} {v}" for label, v in (("PINFL", s.pinfl), ("TIN", s.tin), ("O", s.organisation)) if v)
        lines.append(f"signer {s.index}: {_result(s)}  {who}{ids}")
        lines.append(f"  signed {_time(s.signing_time)} (claimed)  timestamp {_time(s.timestamp_time)}  "
                     f"{s.signature_format}")
        if s.chain:
            lines.append("  chain: " + " -> ".join(c.subject for c in s.chain))
        lines += [f"  error: {e}" for e in s.errors]
        lines += [f"  warning: {w}" for w in s.warnings]
    # names come from certificates not yet (or never) trusted: no newline or escape may reach the terminal
    return "\n".join(_printable(line) for line in lines)


def _printable(text: str) -> str:
    """*text* with control and format characters (newlines, ANSI escapes, bidi overrides) spelt out."""
    return "".join(
        ch if not unicodedata.category(ch).startswith("C") else f"\\u{ord(ch):04x}" for ch in text)


def _who(signer: "cms.Signer") -> str:
    """The signer's common name, else its whole subject (without importing the validator)."""
    from cryptography.x509.oid import NameOID

    from ..oids import display_name

    subject = signer.certificate.subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else display_name(subject)
