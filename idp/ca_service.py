"""The CA the service serves under /ca, its two service keys, and the in-process validator.

The CA folder is `YAGONA_CA_DIR`, else `instance/ca`. The service never holds the CA's own keys:
it serves the CRLs the operator publishes (`imzo ca crl`), signs OCSP answers with a delegated
responder key and timestamps with a TSA key. Those two keys live in the CA folder as PKCS#12
encrypted under a key derived from the master secret (`idp.keys.derived_password`, as the
token-signing keys are), put there by `yagona ca install-keys` (idp/ca_cli.py) or, for the
embedded development run, by `ensure_development_ca`.
"""
from __future__ import annotations

import logging
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from keystore import pfx
from keystore.errors import KeystoreError
from keystore.files import atomic_write
from signing import algorithms, ca_http, crl as crl_mod
from signing.ca import ISSUING_CRL_FILE, ROOT_CRL_FILE, CAError, CertificateAuthority, DelegatedOCSPResponder
from signing.ca_http import CAServices
from signing.tsa import TimestampAuthority, TimestampError
from signing.validate import Validator

from .config import Settings
from .keys import derived_password

log = logging.getLogger("yagona.ca")
KEY_FILES = {"ocsp": "service-ocsp.pfx", "tsa": "service-tsa.pfx"}
#: The development CA's password, beside the master secret in the instance folder (mode 0600).
DEV_PASSWORD_FILE = "ca.password"
_PURPOSE = b"yagona ca service keys"


class CAServiceError(Exception):
    """The CA folder or a service key cannot be used; the message says what to do."""


def ca_folder(settings: Settings) -> Path:
    """The CA folder the service serves: YAGONA_CA_DIR, else the instance's `ca`."""
    return settings.ca_dir or settings.instance_path / "ca"


# ------------------------------------------------------------------------- service keys
def install_keys(
    settings: Settings, keys: dict[str, tuple[Any, x509.Certificate, list[x509.Certificate]]],
    *, kdf_rounds: int = pfx.KDF_ROUNDS,
) -> None:
    """Keep each (key, certificate, chain) of *keys* ("ocsp", "tsa") as the service's own, encrypted
    under the master secret. All are checked before any is written, so a refusal changes nothing.

    Each certificate must come from this CA's issuing CA with the right extended key usage, so a
    key from another CA can never be installed by mistake.
    """
    folder = ca_folder(settings)
    if not (folder / "ca.json").is_file():
        raise CAServiceError(f"no CA in {folder}; set YAGONA_CA_DIR to the folder `imzo ca init` made")
    for kind, (key, certificate, _chain) in keys.items():
        _check(folder, kind, key, certificate)
    password = derived_password(settings.secret_key, _PURPOSE)
    for kind, (key, certificate, chain) in keys.items():
        blob = pfx.encrypt_key(key, password, certificate, chain, name=kind, kdf_rounds=kdf_rounds)
        atomic_write(folder / KEY_FILES[kind], blob)


def _check(folder: Path, kind: str, key: Any, certificate: x509.Certificate) -> None:
    try:
        if kind == "ocsp":
            DelegatedOCSPResponder(folder, key, certificate)  # checks issuer and EKU OCSPSigning
        elif kind == "tsa":
            TimestampAuthority(key, certificate)  # checks the critical timeStamping EKU
            issuing = x509.load_pem_x509_certificate((folder / "issuing.pem").read_bytes())
            certificate.verify_directly_issued_by(issuing)
        else:
            raise CAServiceError(f"unknown service key {kind!r}; choose ocsp or tsa")
        if certificate.public_key() != key.public_key():
            raise CAServiceError(f"the {kind.upper()} key file's key does not belong to its certificate")
    except (ValueError, TypeError, InvalidSignature):
        raise CAServiceError(f"the {kind.upper()} certificate was not issued by the CA in {folder}") from None
    except (CAError, TimestampError) as exc:
        raise CAServiceError(f"{kind.upper()} key: {exc}") from None


def load(settings: Settings) -> CAServices | None:
    """The CA services for the app, or None when there is no CA (no YAGONA_CA_DIR and no instance CA).

    A named folder that holds no CA, or a key this instance's secret cannot open, stops the start
    with a message, as an unopenable token-signing key does.
    """
    folder = ca_folder(settings)
    if not (folder / "ca.json").is_file():
        if settings.ca_dir is not None:
            raise CAServiceError(f"YAGONA_CA_DIR={folder} holds no CA (ca.json missing); run `imzo ca init` there")
        return None
    password = derived_password(settings.secret_key, _PURPOSE)
    opened: dict[str, tuple[Any, x509.Certificate, list[x509.Certificate]]] = {}
    for kind, name in KEY_FILES.items():
        path = folder / name
        if not path.is_file():
            log.warning("no %s key in %s: /ca/%s answers 404 until `yagona ca install-keys --%s F.pfx`",
                        kind.upper(), folder, kind, kind)
            continue
        try:
            key, cert, chain = pfx.decrypt_key(path.read_bytes(), password)
        except KeystoreError as exc:
            raise CAServiceError(f"{path} cannot be opened with this instance's secret ({exc}); is YAGONA_SECRET_KEY "
                                 "the one it was installed under? Run `yagona ca install-keys` again") from None
        if cert is None:
            raise CAServiceError(f"{path} holds no certificate; run `yagona ca install-keys` again")
        opened[kind] = (key, cert, chain)
    responder = authority = None
    try:
        if "ocsp" in opened:
            key, cert, _ = opened["ocsp"]
            responder = DelegatedOCSPResponder(folder, key, cert)
        if "tsa" in opened:
            key, cert, chain = opened["tsa"]
            authority = TimestampAuthority(key, cert, chain=[c for c in chain if c.subject != c.issuer])
    except (CAError, TimestampError) as exc:
        raise CAServiceError(f"the CA service keys in {folder} do not fit its CA: {exc}") from None
    return CAServices(folder, ocsp=responder, tsa=authority)


# ------------------------------------------------------------------------- in-process validation
def validator(services: CAServices) -> Validator:
    """A Validator trusting the served CA's root, whose revocation answers never leave the process.

    Certificates of the issuing CA are checked by calling the OCSP responder object directly (the
    index is read per answer, so a revocation counts at once); without a responder key, by the
    published CRL. The issuing CA itself is checked by the published root CRL. Make one per check,
    or keep it briefly: it caches answers (OCSP five minutes, CRLs until nextUpdate).
    """
    folder = services.folder
    root = x509.load_pem_x509_certificate((folder / "root.pem").read_bytes())
    issuing = x509.load_pem_x509_certificate((folder / "issuing.pem").read_bytes())
    files = [ROOT_CRL_FILE] if services.ocsp is not None else [ROOT_CRL_FILE, ISSUING_CRL_FILE]
    crls = [crl_mod.load_crl((folder / f).read_bytes()) for f in files if (folder / f).is_file()]
    responder = services.ocsp
    fetcher = (lambda request_der, _url: responder.respond(request_der)) if responder is not None else None
    return Validator([root], intermediates=[issuing], crls=crls, ocsp_fetcher=fetcher)


# ------------------------------------------------------------------------- the development CA
def ensure_development_ca(settings: Settings, *, kdf_rounds: int = pfx.KDF_ROUNDS) -> bool:
    """For the embedded run: make a CA in `instance/ca` with its OCSP and TSA keys; True if made now.

    Its certificates name this service's /ca/ocsp and /ca/crl. The CA password is written to
    `instance/ca.password` (0600) so the operator can issue with `imzo ca --ca instance/ca`; CRLs
    are re-published on each start once half their lifetime is gone. Never touches YAGONA_CA_DIR
    (the operator's own CA) or an instance CA made by someone else.
    """
    if settings.ca_dir is not None:
        return False
    folder = ca_folder(settings)
    password_file = settings.instance_path / DEV_PASSWORD_FILE
    if (folder / "ca.json").exists() and not password_file.is_file():
        return False
    if not password_file.is_file():
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        atomic_write(password_file, secrets.token_hex(24).encode() + b"\n", 0o600)
    password = password_file.read_text().strip().encode()
    made = not (folder / "ca.json").exists()
    authority: CertificateAuthority | None = None
    if made:
        base = settings.issuer + ca_http.PREFIX
        authority = CertificateAuthority.create(
            folder, password, "Yagona Development CA", ocsp_url=f"{base}/ocsp", crl_url=f"{base}/crl",
            kdf_rounds=kdf_rounds,
        )
    for kind, name in KEY_FILES.items():
        if not (folder / name).is_file():
            authority = authority or CertificateAuthority.open(folder, password)
            key = algorithms.get(authority.algorithm).generate()
            issue = authority.issue_ocsp_certificate if kind == "ocsp" else authority.issue_tsa_certificate
            chain = [authority.issuing_certificate, authority.root_certificate]
            install_keys(settings, {kind: (key, issue(key.public_key()), chain)}, kdf_rounds=kdf_rounds)
    for name in (ISSUING_CRL_FILE, ROOT_CRL_FILE):
        if _stale(folder / name):
            authority = authority or CertificateAuthority.open(folder, password)
            if name == ROOT_CRL_FILE:
                authority.root_crl()
            else:
                authority.crl()
    if made:
        log.info("development CA made in %s (password in %s)", folder, password_file)
    return made


def _stale(path: Path) -> bool:
    """No CRL there, or over half its lifetime gone: time to publish a fresh one."""
    try:
        published = crl_mod.load_crl(path.read_bytes())
    except (FileNotFoundError, crl_mod.CRLError):
        return True
    nxt = published.next_update_utc
    return nxt is None or nxt - datetime.now(timezone.utc) < crl_mod.CRL_LIFETIME / 2


def embedded(settings: Settings) -> bool:
    """The one-command laptop run (SQLite store), where `yagona serve` makes the development CA."""
    return settings.database_url.startswith("sqlite")
