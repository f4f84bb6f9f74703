"""A keys folder the way E-IMZO keeps one (its DSKEYS): one password-protected PFX per key.

Files for a key named ``ali``:

    ali.pfx   the private key (and, once issued, its certificate and chain), PKCS#12 with
              PBES2/AES-256 and a SHA-256 MAC; openable by `openssl pkcs12`
    ali.csr   the certificate request, while the certificate has not come back yet
    ali.crt   the certificate in PEM, outside the PFX, so `list` can show whose key it is
              without asking for a password (the PFX encrypts its certificate too)

Every write goes through a temp file and os.replace, so a crash leaves the old file or the new
one. A private key is only ever written inside an encrypted PFX.
"""
from __future__ import annotations

import builtins  # KeysFolder.list shadows the built-in inside the class
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from . import pfx
from .errors import CorruptKeystore, KeyNotFound, KeystoreError
from .files import atomic_write, locked

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Fewest characters a person may choose for a new key password (`123` was accepted once). A PFX
#: file can be stolen and attacked offline; PBKDF2's 600,000 rounds slow each guess, but do not save
#: a password from a short list. Files made elsewhere and imported may keep their own password.
MIN_PASSWORD_CHARS = 8
#: Subject attributes shown in a listing, by dotted OID (keystore does not import signing).
_PINFL_OID = "1.2.860.3.16.1.2"
_TIN_OID = "1.2.860.3.16.1.1"


class SignatureAlgorithm(Protocol):
    """Anything that signs with a private key: signing.algorithms.Algorithm is one."""

    def sign(self, key: Any, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeyEntry:
    """What the folder knows about a key without its password."""

    name: str
    path: Path
    certificate: x509.Certificate | None
    csr: x509.CertificateSigningRequest | None

    @property
    def state(self) -> str:
        """``issued`` (certificate imported), ``pending`` (CSR waiting for the CA) or ``bare``."""
        return "issued" if self.certificate else "pending" if self.csr else "bare"

    @property
    def subject(self) -> x509.Name | None:
        if self.certificate is not None:
            return self.certificate.subject
        return self.csr.subject if self.csr is not None else None

    def attribute(self, dotted_oid: str) -> str | None:
        """One subject attribute by OID, e.g. PINFL ``1.2.860.3.16.1.2``."""
        if self.subject is None:
            return None
        values = self.subject.get_attributes_for_oid(x509.ObjectIdentifier(dotted_oid))
        return str(values[0].value) if values else None

    @property
    def pinfl(self) -> str | None:
        return self.attribute(_PINFL_OID)

    @property
    def tin(self) -> str | None:
        return self.attribute(_TIN_OID)

    @property
    def not_after(self) -> datetime | None:
        return self.certificate.not_valid_after_utc if self.certificate else None

    def alias(self) -> str:
        """E-IMZO's alias: the subject DN, serial number and validity, lower-cased."""
        if self.certificate is None:
            return f"{self.subject.rfc4514_string() if self.subject else ''},state={self.state}".lower()
        c = self.certificate
        return (
            f"{c.subject.rfc4514_string()},serialnumber={c.serial_number:x},"
            f"validfrom={c.not_valid_before_utc:%Y.%m.%d %H:%M:%S},validto={c.not_valid_after_utc:%Y.%m.%d %H:%M:%S}"
        ).lower()


@dataclass
class OpenedKey:
    """A key unlocked in memory: sign with it, then drop it. It is never written out unencrypted."""

    name: str
    private_key: PrivateKeyTypes = field(repr=False)
    certificate: x509.Certificate | None
    chain: list[x509.Certificate]

    def sign(self, data: bytes, algorithm: SignatureAlgorithm) -> bytes:
        """Sign *data* with this key the way *algorithm* (e.g. ``signing.algorithms.for_key(key)``) says."""
        return algorithm.sign(self.private_key, data)


class KeysFolder:
    """The PFX files in one folder: list, create, open, change password, import, export."""

    def __init__(self, path: Path, *, kdf_rounds: int = pfx.KDF_ROUNDS) -> None:
        self.path = Path(path)
        self.kdf_rounds = kdf_rounds

    # ----------------------------------------------------------------- reading
    def list(self) -> list[KeyEntry]:
        """Every key in the folder, sorted by name; a missing folder holds no keys."""
        if not self.path.is_dir():
            return []
        return [self.entry(p.stem) for p in sorted(self.path.glob("*.pfx")) if _NAME.fullmatch(p.stem)]

    def entry(self, name: str) -> KeyEntry:
        """The listing row for *name*; KeyNotFound if there is no such key."""
        pfx_path = self._pfx_path(name)
        if not pfx_path.is_file():
            raise KeyNotFound(f"no key named {name!r} in {self.path}; `imzo keys list` shows the names")
        cert = csr = None
        crt_path, csr_path = pfx_path.with_suffix(".crt"), pfx_path.with_suffix(".csr")
        if crt_path.is_file():
            try:
                cert = x509.load_pem_x509_certificate(crt_path.read_bytes())
            except ValueError:
                raise CorruptKeystore(f"{crt_path} is not a PEM certificate; re-import the certificate") from None
        if csr_path.is_file():
            try:
                csr = x509.load_pem_x509_csr(csr_path.read_bytes())
            except ValueError:
                raise CorruptKeystore(f"{csr_path} is not a PEM certificate request") from None
        return KeyEntry(name, pfx_path, cert, csr)

    def open(self, name: str, password: bytes) -> OpenedKey:
        """Unlock key *name*; WrongPassword or CorruptKeystore (each with a plain message) if it will not open."""
        blob = self._read_pfx(name)
        if not isinstance(password, bytes):
            raise KeystoreError("the password must be bytes")
        key, cert, extra = pfx.decrypt_key(blob, password)
        return OpenedKey(name, key, cert, extra)

    def export(self, name: str, password: bytes, export_password: bytes | None = None) -> bytes:
        """The key's PFX, re-locked with *export_password* (default: the same password). Still encrypted."""
        opened = self.open(name, password)
        return pfx.encrypt_key(
            opened.private_key, export_password or password, opened.certificate, opened.chain,
            name=name, kdf_rounds=self.kdf_rounds,
        )

    # ----------------------------------------------------------------- writing
    def store(
        self,
        name: str,
        key: PrivateKeyTypes,
        password: bytes,
        *,
        csr: x509.CertificateSigningRequest | None = None,
        certificate: x509.Certificate | None = None,
        chain: builtins.list[x509.Certificate] | None = None,
    ) -> KeyEntry:
        """Save a new key as ``name.pfx`` (plus its CSR or certificate); refuses to overwrite a key."""
        _check_password(password)
        if certificate is not None:
            _check_matches(certificate, key)
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(self.path):
            pfx_path = self._pfx_path(name)
            if pfx_path.exists():
                raise KeystoreError(f"a key named {name!r} already exists in {self.path}; pick another name")
            blob = pfx.encrypt_key(key, password, certificate, chain, name=name, kdf_rounds=self.kdf_rounds)
            if csr is not None:
                atomic_write(pfx_path.with_suffix(".csr"), csr.public_bytes(serialization.Encoding.PEM), 0o644)
            if certificate is not None:
                atomic_write(pfx_path.with_suffix(".crt"), _pem(certificate, chain), 0o644)
            atomic_write(pfx_path, blob)  # last: the key exists only once its companions do
        return self.entry(name)

    def import_certificate(
        self, name: str, password: bytes, certificate: x509.Certificate,
        chain: builtins.list[x509.Certificate] | None = None,
    ) -> KeyEntry:
        """Put the certificate the CA issued (and its chain) into key *name*'s PFX; refuse one for another key."""
        with locked(self.path if self.path.is_dir() else self.path.parent):
            opened = self.open(name, password)
            _check_matches(certificate, opened.private_key)
            pfx_path = self._pfx_path(name)
            blob = pfx.encrypt_key(opened.private_key, password, certificate, chain, name=name,
                                   kdf_rounds=self.kdf_rounds)
            atomic_write(pfx_path.with_suffix(".crt"), _pem(certificate, chain), 0o644)
            atomic_write(pfx_path, blob)
            pfx_path.with_suffix(".csr").unlink(missing_ok=True)
        return self.entry(name)

    def import_pfx(self, name: str, blob: bytes, password: bytes, new_password: bytes | None = None) -> KeyEntry:
        """Add a PFX made elsewhere (E-IMZO, openssl) under *name*, re-locked with our AES-256 settings."""
        key, cert, extra = pfx.decrypt_key(blob, password)
        return self.store(name, key, new_password or password, certificate=cert, chain=extra)

    def change_password(self, name: str, old_password: bytes, new_password: bytes) -> None:
        """Re-lock key *name* with *new_password*; nothing changes if *old_password* is wrong."""
        _check_password(new_password)
        with locked(self.path if self.path.is_dir() else self.path.parent):
            opened = self.open(name, old_password)
            blob = pfx.encrypt_key(
                opened.private_key, new_password, opened.certificate, opened.chain, name=name,
                kdf_rounds=self.kdf_rounds,
            )
            atomic_write(self._pfx_path(name), blob)

    # ----------------------------------------------------------------- helpers
    def _pfx_path(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise KeystoreError(
                f"key name {name!r} is not allowed; use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.path / f"{name}.pfx"

    def _read_pfx(self, name: str) -> bytes:
        path = self._pfx_path(name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise KeyNotFound(f"no key named {name!r} in {self.path}; `imzo keys list` shows the names") from None
        if size > pfx.MAX_PFX_BYTES:
            raise CorruptKeystore(f"{path} is {size} bytes; a PFX over {pfx.MAX_PFX_BYTES} bytes is refused")
        return path.read_bytes()


def _check_password(password: bytes) -> None:
    if not isinstance(password, bytes) or not password:
        raise KeystoreError("a key file needs a non-empty password")


def _check_matches(certificate: x509.Certificate, key: PrivateKeyTypes) -> None:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if certificate.public_key().public_bytes(*fmt) != key.public_key().public_bytes(*fmt):
        raise KeystoreError(
            f"the certificate for {certificate.subject.rfc4514_string()} is for another key; "
            "import it into the key whose CSR you sent"
        )


def _pem(certificate: x509.Certificate, chain: list[x509.Certificate] | None) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [certificate, *(chain or [])])
