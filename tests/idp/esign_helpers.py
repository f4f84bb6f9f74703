"""Helpers for the e-signature login tests: a development CA as the service serves it (revocation
answered in-process), citizens' and employees' certificates from it, and a challenge signed the
three ways a person can: our CMS code, the real `imzo sign` command, and `openssl cms -sign`."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ca_helpers import FAST_KDF, make_csr, pem
from idp import ca_service
from idp.config import Settings
from keystore.pfx import encrypt_key
from signing import cms
from signing.ca import CertificateAuthority
from signing.ca_http import CAServices

IMZO = Path(sys.executable).with_name("imzo")
KEY_PASSWORD = "kalit-paroli-123"


def random_pinfl() -> str:
    return f"3{secrets.randbelow(10**13):013d}"


def random_tin() -> str:
    return f"3{secrets.randbelow(10**8):08d}"


@dataclass
class Holder:
    """A person's key and the certificate the CA issued for it."""

    key: object
    cert: x509.Certificate
    chain: list[x509.Certificate]

    @property
    def fingerprint(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def signer(self) -> cms.Signer:
        return cms.Signer(self.key, self.cert, self.chain)

    def sign(self, content: str | bytes, *, detached: bool = False) -> bytes:
        """DER CMS by our own code (attached unless *detached*)."""
        data = content.encode() if isinstance(content, str) else content
        return cms.sign(data, self.signer(), detached=detached)

    def imzo_sign(self, content: str, folder: Path) -> bytes:
        """What `imzo sign FILE` makes of a file holding *content*: an attached DER signature."""
        folder = Path(tempfile.mkdtemp(dir=folder))
        pfx = folder / "key.pfx"
        pfx.write_bytes(encrypt_key(self.key, KEY_PASSWORD.encode(), self.cert, self.chain, kdf_rounds=FAST_KDF))
        doc = folder / "challenge.txt"
        doc.write_text(content)
        done = subprocess.run([str(IMZO), "sign", str(doc), "--pfx", str(pfx), "--password-stdin"],
                              input=KEY_PASSWORD + "\n", capture_output=True, text=True, timeout=120,
                              env={**os.environ})
        assert done.returncode == 0, done.stderr
        return (folder / "challenge.txt.p7s").read_bytes()

    def openssl_sign(self, content: str, folder: Path, *, detached: bool = False) -> bytes:
        """`openssl cms -sign` of a file holding *content*, as PEM (-----BEGIN CMS-----)."""
        folder = Path(tempfile.mkdtemp(dir=folder))
        key = folder / "key.pem"
        key.write_bytes(self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert, chain, doc = folder / "cert.pem", folder / "chain.pem", folder / "challenge.txt"
        cert.write_bytes(pem(self.cert))
        chain.write_bytes(b"".join(pem(c) for c in self.chain))
        doc.write_text(content)
        args = ["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", str(doc), "-signer", str(cert),
                "-inkey", str(key), "-certfile", str(chain), "-outform", "PEM"]
        if not detached:
            args.append("-nodetach")
        done = subprocess.run(args, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout


@dataclass
class EsignCA:
    """The development CA the service makes at its first start, opened as the operator opens it."""

    settings: Settings
    services: CAServices
    authority: CertificateAuthority

    @classmethod
    def make(cls, folder: Path) -> "EsignCA":
        # An issuer nothing listens on: any revocation check over HTTP would fail, so every
        # answer the tests see comes from the in-process responder.
        settings = Settings(instance_path=folder, database_url=f"sqlite:///{folder / 'unused.db'}",
                            issuer="http://127.0.0.1:9", secret_key=secrets.token_hex(32).encode())
        ca_service.ensure_development_ca(settings, kdf_rounds=FAST_KDF)
        services = ca_service.load(settings)
        assert services is not None
        password = (folder / ca_service.DEV_PASSWORD_FILE).read_text().strip().encode()
        return cls(settings, services, CertificateAuthority.open(ca_service.ca_folder(settings), password))

    def chain(self) -> list[x509.Certificate]:
        return [self.authority.issuing_certificate]

    def citizen(self, pinfl: str | None = None, **subject: str | None) -> Holder:
        key, csr = make_csr(PINFL=pinfl or random_pinfl(), **subject)
        return Holder(key, self.authority.issue(csr), self.chain())

    def employee(self, pinfl: str | None = None, tin: str | None = None, **subject: str | None) -> Holder:
        key, csr = make_csr(profile="employee", PINFL=pinfl or random_pinfl(), TIN=tin or random_tin(), **subject)
        return Holder(key, self.authority.issue(csr, profile="employee"), self.chain())

    def revoke(self, holder: Holder) -> None:
        self.authority.revoke(holder.cert.serial_number, x509.ReasonFlags.key_compromise)

    def without_pinfl(self) -> Holder:
        """A certificate this CA signed whose subject names no PINFL (a server's or an old one).

        `issue()` refuses such a subject, so this goes through the CA's own builder and key, as a
        CA that issues other kinds of certificates would have made it."""
        key, csr = make_csr(PINFL=None)
        now = datetime.now(timezone.utc)
        builder = self.authority._leaf_builder(csr.subject, key.public_key(), now - timedelta(minutes=1),
                                               now + timedelta(days=30))
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        return Holder(key, self.authority._sign_and_record(builder, "citizen"), self.chain())
