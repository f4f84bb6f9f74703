"""The certificate authority: a root and an issuing CA kept in one folder.

Folder layout (every file written atomically, a temp file then os.replace):

    ca.json        name, algorithm, URLs; written last by `create`, so a half-made CA is no CA
    root.pfx       root key + certificate, PKCS#12 locked by the CA password
    issuing.pfx    issuing key + certificate + root, same password
    root.pem, issuing.pem   the two certificates, for distribution
    index.json     every certificate the issuing CA signed, its profile and revocation state,
                   and the last CRL number
    crl.der, root-crl.der   the newest CRL of each CA, published for the CA service to serve

The issuing CA signs citizens' and employees' certificates from a CSR (subject checked against the
profile: PINFL for everyone, TIN/organisation/title for employees), timestamp-authority
certificates, and answers revocation questions by CRL and OCSP.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from keystore import pfx
from keystore.files import atomic_write, locked

from . import algorithms, crl as crl_mod, ocsp as ocsp_mod, oids, x509_signing
from .errors import SigningError

PROFILES = ("citizen", "employee")
MAX_CSR_BYTES = 64 << 10
MAX_ATTRIBUTE_CHARS = 128
ROOT_DAYS = 20 * 365
ISSUING_DAYS = 10 * 365
TSA_DAYS = 5 * 365
#: Where `crl()` and `root_crl()` publish their newest CRL (DER) for signing/ca_http.py to serve.
ISSUING_CRL_FILE = "crl.der"
ROOT_CRL_FILE = "root-crl.der"


class CAError(SigningError):
    """The CA cannot do what was asked (no CA in the folder, unknown serial, bad profile...)."""


class CertificateRequestError(CAError):
    """The CSR is unreadable, not self-signed correctly, or its subject does not fit the profile."""


class RevocationError(CAError):
    """A revocation was refused (unknown serial, already revoked, bad reason)."""


@dataclass(frozen=True)
class IssuedCertificate:
    """One row of the CA's index."""

    serial: int
    profile: str
    subject: str
    not_after: datetime
    revoked_at: datetime | None
    reason: x509.ReasonFlags | None
    certificate: x509.Certificate


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """Parse a PKCS#10 request (PEM or DER) and check its self-signature; CertificateRequestError if not."""
    if not isinstance(data, (bytes, bytearray)):
        raise CertificateRequestError("a certificate request must be bytes (PEM or DER)")
    if len(data) > MAX_CSR_BYTES:
        raise CertificateRequestError(
            f"certificate request is {len(data)} bytes; refusing anything over {MAX_CSR_BYTES}"
        )
    if not data.strip():
        raise CertificateRequestError("certificate request is empty")
    try:
        if bytes(data).lstrip().startswith(b"-----BEGIN"):
            csr = x509.load_pem_x509_csr(bytes(data))
        else:
            csr = x509.load_der_x509_csr(bytes(data))
    except ValueError:
        raise CertificateRequestError(
            "not a PKCS#10 certificate request (PEM or DER); send the .csr file `imzo keys new` wrote"
        ) from None
    _check_self_signature(csr)
    return csr


def _check_self_signature(csr: x509.CertificateSigningRequest) -> None:
    try:
        ok = csr.is_signature_valid
    except Exception as exc:  # unsupported key or signature algorithm inside the request
        raise CertificateRequestError(f"cannot check the request's signature: {exc}") from None
    if not ok:
        raise CertificateRequestError(
            "the request's signature does not verify with the public key it carries; "
            "make the CSR again with the matching private key"
        )


class CertificateAuthority:
    """A root CA and an issuing CA whose keys live PFX-encrypted in *folder*."""

    def __init__(
        self,
        folder: Path,
        root_key: CertificateIssuerPrivateKeyTypes,
        root_certificate: x509.Certificate,
        issuing_key: CertificateIssuerPrivateKeyTypes,
        issuing_certificate: x509.Certificate,
        config: dict[str, Any],
    ) -> None:
        self.folder = Path(folder)
        self._root_key = root_key
        self.root_certificate = root_certificate
        self._issuing_key = issuing_key
        self.issuing_certificate = issuing_certificate
        self._config = config

    @property
    def algorithm(self) -> str:
        """Registry name of the CA's key algorithm; service keys it certifies default to the same."""
        return str(self._config["algorithm"])

    # ----------------------------------------------------------------- create / open
    @classmethod
    def create(
        cls,
        folder: Path,
        password: bytes,
        name: str = "Yagona Root CA",
        algorithm: str = "ecdsa-p256",
        *,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        kdf_rounds: int = pfx.KDF_ROUNDS,
    ) -> "CertificateAuthority":
        """Make a new root and issuing CA in *folder* (created if missing; must hold no CA)."""
        folder = Path(folder)
        alg = algorithms.get(algorithm)
        if not password:
            raise CAError("the CA needs a non-empty password to protect its keys")
        if not name or not name.strip():
            raise CAError("the CA needs a name")
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "ca.json").exists():
            raise CAError(f"{folder} already holds a CA; open it, or pick an empty folder")
        now = _now()
        root_key = alg.generate()
        root_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yagona"),
            x509.NameAttribute(NameOID.COMMON_NAME, name.strip()),
        ])
        root_cert = x509_signing.sign(
            _ca_builder(root_name, root_name, root_key.public_key(), root_key.public_key(), now, ROOT_DAYS, 1),
            root_key,
        )
        issuing_key = alg.generate()
        issuing_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yagona"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name.strip()} - Issuing CA"),
        ])
        issuing_cert = x509_signing.sign(
            _ca_builder(issuing_name, root_name, issuing_key.public_key(), root_key.public_key(), now, ISSUING_DAYS, 0),
            root_key,
        )
        config = {"version": 1, "name": name.strip(), "algorithm": alg.name, "ocsp_url": ocsp_url, "crl_url": crl_url}
        with locked(folder):
            if (folder / "ca.json").exists():  # again under the lock: another init may have finished meanwhile
                raise CAError(f"{folder} already holds a CA; open it, or pick an empty folder")
            atomic_write(folder / "root.pfx",
                         pfx.encrypt_key(root_key, password, root_cert, name="root", kdf_rounds=kdf_rounds))
            atomic_write(
                folder / "issuing.pfx",
                pfx.encrypt_key(issuing_key, password, issuing_cert, [root_cert], name="issuing",
                                kdf_rounds=kdf_rounds),
            )
            atomic_write(folder / "root.pem", _pem(root_cert), 0o644)
            atomic_write(folder / "issuing.pem", _pem(issuing_cert), 0o644)
            atomic_write(folder / "index.json", _dump({"crl_number": 0, "certificates": {}}))
            atomic_write(folder / "ca.json", _dump(config), 0o644)
        return cls(folder, root_key, root_cert, issuing_key, issuing_cert, config)

    @classmethod
    def open(cls, folder: Path, password: bytes) -> "CertificateAuthority":
        """Open the CA in *folder*; WrongPassword if *password* does not unlock its keys."""
        folder = Path(folder)
        try:
            config = json.loads((folder / "ca.json").read_text())
        except FileNotFoundError:
            raise CAError(f"no CA in {folder} (ca.json missing); run `imzo ca init` first") from None
        except ValueError:
            raise CAError(f"{folder / 'ca.json'} is not valid JSON; restore it from a backup") from None
        try:
            root_key, root_cert, _ = pfx.decrypt_key((folder / "root.pfx").read_bytes(), password)
            issuing_key, issuing_cert, _ = pfx.decrypt_key((folder / "issuing.pfx").read_bytes(), password)
        except FileNotFoundError as exc:
            raise CAError(f"the CA in {folder} is missing {Path(exc.filename).name}") from None
        if root_cert is None or issuing_cert is None:
            raise CAError(f"the CA key files in {folder} hold no certificate")
        return cls(folder, root_key, root_cert, issuing_key, issuing_cert, config)  # type: ignore[arg-type]

    # ----------------------------------------------------------------- issuing
    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        profile: str = "citizen",
        days: int = 730,
        not_before: datetime | None = None,
    ) -> x509.Certificate:
        """Sign a citizen's or employee's certificate for the subject and key in *csr*.

        The subject must name CN, SURNAME, GIVENNAME and a 14-digit PINFL; an employee's also the
        organisation (O), title (T) and the organisation's 9-digit TIN. Key usage is
        digitalSignature + nonRepudiation. Extensions requested in the CSR are ignored.
        """
        if profile not in PROFILES:
            raise CAError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        if not isinstance(days, int) or not 1 <= days <= 3650:
            raise CAError(f"validity must be 1..3650 days, got {days!r}")
        _check_self_signature(csr)
        subject = check_subject(csr.subject, profile)
        public_key = csr.public_key()
        try:
            algorithms.for_key(public_key)
        except algorithms.UnknownAlgorithm:
            raise CertificateRequestError(
                f"the request's {type(public_key).__name__} key is not one we certify; "
                f"use one of {', '.join(algorithms.REGISTRY)}"
            ) from None
        start = (not_before or _now()).astimezone(timezone.utc).replace(microsecond=0)
        end = min(start + timedelta(days=days), self.issuing_certificate.not_valid_after_utc)
        if end <= start:
            raise CAError("the issuing CA expires before the requested start; make a new issuing CA")
        builder = (
            self._leaf_builder(subject, public_key, start, end)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=True, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
        )
        return self._sign_and_record(builder, profile)

    def issue_tsa_certificate(
        self, public_key: PublicKeyTypes, *, name: str = "Yagona Timestamp Authority", days: int = TSA_DAYS
    ) -> x509.Certificate:
        """A certificate for a timestamp authority's key: EKU timeStamping (critical), as RFC 3161 §2.3 asks."""
        return self._service_certificate(public_key, name, days, ExtendedKeyUsageOID.TIME_STAMPING, "tsa")

    def issue_ocsp_certificate(
        self, public_key: PublicKeyTypes, *, name: str = "Yagona OCSP Responder", days: int = 365
    ) -> x509.Certificate:
        """A delegated OCSP responder certificate: EKU OCSPSigning and id-pkix-ocsp-nocheck."""
        return self._service_certificate(public_key, name, days, ExtendedKeyUsageOID.OCSP_SIGNING, "ocsp")

    def _service_certificate(
        self, public_key: PublicKeyTypes, name: str, days: int, eku: x509.ObjectIdentifier, profile: str
    ) -> x509.Certificate:
        try:
            algorithms.for_key(public_key)
        except algorithms.UnknownAlgorithm as exc:
            raise CAError(str(exc)) from None
        start = _now()
        end = min(start + timedelta(days=days), self.issuing_certificate.not_valid_after_utc)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yagona"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ])
        builder = (
            self._leaf_builder(subject, public_key, start, end)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=profile == "tsa", key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
        )
        if profile == "ocsp":
            builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
        return self._sign_and_record(builder, profile)

    def _leaf_builder(
        self, subject: x509.Name, public_key: PublicKeyTypes, start: datetime, end: datetime
    ) -> x509.CertificateBuilder:
        issuer = self.issuing_certificate
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if self._config.get("ocsp_url"):
            builder = builder.add_extension(
                x509.AuthorityInformationAccess([
                    x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                           x509.UniformResourceIdentifier(self._config["ocsp_url"]))
                ]),
                critical=False,
            )
        if self._config.get("crl_url"):
            builder = builder.add_extension(
                x509.CRLDistributionPoints([
                    x509.DistributionPoint([x509.UniformResourceIdentifier(self._config["crl_url"])], None, None, None)
                ]),
                critical=False,
            )
        return builder

    def _sign_and_record(self, builder: x509.CertificateBuilder, profile: str) -> x509.Certificate:
        with locked(self.folder):
            index = self._read_index()
            serial = x509.random_serial_number()
            while format(serial, "x") in index["certificates"]:
                serial = x509.random_serial_number()
            cert = x509_signing.sign(builder.serial_number(serial), self._issuing_key)
            index["certificates"][format(serial, "x")] = {
                "profile": profile,
                "subject": oids.display_name(cert.subject),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked_at": None,
                "reason": None,
                "pem": _pem(cert).decode(),
            }
            self._write_index(index)
        return cert

    # ----------------------------------------------------------------- revocation
    def revoke(
        self, serial: int, reason: x509.ReasonFlags = x509.ReasonFlags.unspecified, at: datetime | None = None
    ) -> None:
        """Mark the certificate with *serial* revoked (from *at*, default now) for *reason*."""
        if not isinstance(reason, x509.ReasonFlags) or reason is x509.ReasonFlags.remove_from_crl:
            raise RevocationError(
                f"{reason!r} is not a revocation reason; choose one of "
                + ", ".join(r.value for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl)
            )
        when = (at or _now()).astimezone(timezone.utc).replace(microsecond=0)
        if when > _now() + timedelta(minutes=5):
            raise RevocationError(f"revocation time {when.isoformat()} is in the future; revoke when it happens")
        with locked(self.folder):
            index = self._read_index()
            entry = index["certificates"].get(format(serial, "x"))
            if entry is None:
                raise RevocationError(f"no certificate with serial {serial:x} was issued by this CA")
            if entry["revoked_at"] is not None:
                raise RevocationError(
                    f"certificate {serial:x} is already revoked since {entry['revoked_at']} ({entry['reason']})"
                )
            entry["revoked_at"] = when.isoformat()
            entry["reason"] = reason.value
            self._write_index(index)

    def status(self, serial: int) -> ocsp_mod.CertificateStatus:
        """good / revoked / unknown for a serial the issuing CA may have signed."""
        return status_from_index(self.folder, serial)

    def issued(self) -> list[IssuedCertificate]:
        """Every certificate the issuing CA signed, oldest first."""
        return read_issued(self.folder)

    def crl(self) -> x509.CertificateRevocationList:
        """A fresh CRL of the issuing CA, with the next CRL number, published as ISSUING_CRL_FILE."""
        with locked(self.folder):
            index = self._read_index()
            index["crl_number"] = int(index.get("crl_number", 0)) + 1
            revocations = [
                crl_mod.Revocation(int(s, 16), datetime.fromisoformat(e["revoked_at"]), x509.ReasonFlags(e["reason"]))
                for s, e in index["certificates"].items()
                if e["revoked_at"] is not None
            ]
            result = crl_mod.build_crl(self.issuing_certificate, self._issuing_key, revocations, index["crl_number"])
            self._write_index(index)
            atomic_write(self.folder / ISSUING_CRL_FILE, result.public_bytes(serialization.Encoding.DER), 0o644)
        return result

    def root_crl(self) -> x509.CertificateRevocationList:
        """A fresh CRL of the root (an ARL), published as ROOT_CRL_FILE: the root signs only the issuing CA."""
        with locked(self.folder):
            index = self._read_index()
            index["root_crl_number"] = int(index.get("root_crl_number", 0)) + 1
            result = crl_mod.build_crl(self.root_certificate, self._root_key, [], index["root_crl_number"])
            self._write_index(index)
            atomic_write(self.folder / ROOT_CRL_FILE, result.public_bytes(serialization.Encoding.DER), 0o644)
        return result

    def ocsp_respond(self, request_der: bytes) -> bytes:
        """Answer a DER OCSP request for a certificate of the issuing CA (or for the issuing CA itself).

        Always a DER OCSPResponse: malformed input → malformedRequest, a foreign issuer → unauthorized.
        """
        issuing_serial = self.issuing_certificate.serial_number
        responders = [
            ocsp_mod.IssuerResponder(self.issuing_certificate, self._issuing_key, self.status),
            ocsp_mod.IssuerResponder(
                self.root_certificate,
                self._root_key,
                lambda s: ocsp_mod.CertificateStatus("good" if s == issuing_serial else "unknown"),
            ),
        ]
        return ocsp_mod.respond(request_der, responders)

    # ----------------------------------------------------------------- index storage
    def _read_index(self) -> dict[str, Any]:
        try:
            index: dict[str, Any] = json.loads((self.folder / "index.json").read_text())
            return index
        except FileNotFoundError:
            raise CAError(f"{self.folder / 'index.json'} is missing; restore it from a backup") from None
        except ValueError:
            raise CAError(f"{self.folder / 'index.json'} is damaged; restore it from a backup") from None

    def _write_index(self, index: dict[str, Any]) -> None:
        atomic_write(self.folder / "index.json", _dump(index))


def status_from_index(folder: Path, serial: int) -> ocsp_mod.CertificateStatus:
    """good / revoked / unknown for *serial*, read from the CA folder's index (no password needed)."""
    entry = _index_statuses(Path(folder) / "index.json").get(format(serial, "x"))
    if entry is None:
        return ocsp_mod.CertificateStatus("unknown")
    revoked_at, reason = entry
    if revoked_at is None:
        return ocsp_mod.CertificateStatus("good")
    return ocsp_mod.CertificateStatus("revoked", datetime.fromisoformat(revoked_at), x509.ReasonFlags(reason))


#: path -> (the file's identity when read, serial hex -> (revoked_at, reason)). The index holds every
#: certificate's PEM, so parsing it per OCSP question made each answer cost the whole CA's size.
_STATUS_CACHE: dict[Path, tuple[tuple[int, int, int], dict[str, tuple[str | None, str | None]]]] = {}


def _index_statuses(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """The revocation state of every serial in *path*, re-read whenever the file was replaced.

    Every write is an atomic replace (new inode and mtime), so a revocation is seen on the next
    question, by every process reading the folder.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CAError(f"no CA index at {path}; run `imzo ca init` first") from None
    identity = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _STATUS_CACHE.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1]
    try:
        certificates = json.loads(path.read_text())["certificates"]
        statuses = {s: (e["revoked_at"], e["reason"]) for s, e in certificates.items()}
    except FileNotFoundError:
        raise CAError(f"no CA index at {path}; run `imzo ca init` first") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CAError(f"{path} is damaged; restore it from a backup") from None
    _STATUS_CACHE[path] = (identity, statuses)
    return statuses


class DelegatedOCSPResponder:
    """OCSP for the issuing CA signed by a delegated responder key (`imzo ca ocsp-cert`).

    Needs only the CA folder's public files (issuing.pem, index.json) and the responder's own
    key, so a web service can answer OCSP without holding the CA password. Status is read from
    the index on each request, so revocations show at once.
    """

    def __init__(self, folder: Path, key: CertificateIssuerPrivateKeyTypes, certificate: x509.Certificate) -> None:
        self.folder = Path(folder)
        try:
            self.issuing_certificate = x509.load_pem_x509_certificate((self.folder / "issuing.pem").read_bytes())
        except FileNotFoundError:
            raise CAError(f"no CA in {self.folder} (issuing.pem missing)") from None
        try:
            certificate.verify_directly_issued_by(self.issuing_certificate)
            eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature, UnsupportedAlgorithm):
            raise CAError(
                "the responder certificate is not an OCSP-signing certificate from this CA's issuing CA") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise CAError("the responder certificate lacks the OCSPSigning extended key usage")
        self._responder = ocsp_mod.IssuerResponder(
            self.issuing_certificate, key, lambda serial: status_from_index(self.folder, serial), certificate
        )

    @classmethod
    def from_pfx(cls, folder: Path, blob: bytes, password: bytes) -> "DelegatedOCSPResponder":
        """Load the responder key and certificate from the PFX `imzo ca ocsp-cert` wrote."""
        key, cert, _ = pfx.decrypt_key(blob, password)
        if cert is None:
            raise CAError("the OCSP key file holds no certificate")
        return cls(folder, key, cert)  # type: ignore[arg-type]

    def respond(self, request_der: bytes) -> bytes:
        """A DER OCSPResponse for a DER request (malformedRequest / unauthorized on bad input)."""
        return ocsp_mod.respond(request_der, [self._responder])


def read_issued(folder: Path) -> list[IssuedCertificate]:
    """The CA's index, read without the CA password (it holds only public data)."""
    path = Path(folder) / "index.json"
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise CAError(f"no CA index at {path}; run `imzo ca init` first") from None
    except ValueError:
        raise CAError(f"{path} is damaged; restore it from a backup") from None
    rows = []
    for serial_hex, e in index["certificates"].items():
        rows.append(IssuedCertificate(
            serial=int(serial_hex, 16),
            profile=e["profile"],
            subject=e["subject"],
            not_after=datetime.fromisoformat(e["not_after"]),
            revoked_at=datetime.fromisoformat(e["revoked_at"]) if e["revoked_at"] else None,
            reason=x509.ReasonFlags(e["reason"]) if e["reason"] else None,
            certificate=x509.load_pem_x509_certificate(e["pem"].encode()),
        ))
    return rows


# --------------------------------------------------------------------- subject rules
_DIGITS = re.compile(r"\d+")
_REQUIRED = {
    "citizen": (NameOID.COMMON_NAME, NameOID.SURNAME, NameOID.GIVEN_NAME, oids.PINFL),
    "employee": (
        NameOID.COMMON_NAME, NameOID.SURNAME, NameOID.GIVEN_NAME, oids.PINFL,
        oids.TIN, NameOID.ORGANIZATION_NAME, NameOID.TITLE,
    ),
}
_ORGANISATION_ONLY = (oids.TIN, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.TITLE)


def check_subject(subject: x509.Name, profile: str) -> x509.Name:
    """*subject* after checking every attribute against *profile*; CertificateRequestError if it does not fit.

    Public so a client can check a subject before it makes a key and a CSR.
    """
    if profile not in PROFILES:
        raise CAError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    names = oids.SUBJECT_ATTRIBUTE_NAMES
    seen: dict[x509.ObjectIdentifier, str] = {}
    for rdn in subject.rdns:
        if len(rdn) != 1:
            raise CertificateRequestError(
                "multi-valued name parts (A=x+B=y) are not accepted; put one attribute per part")
        (attr,) = list(rdn)
        label = names.get(attr.oid)
        if label is None:
            raise CertificateRequestError(
                f"subject attribute {attr.oid.dotted_string} is not accepted; allowed: {', '.join(names.values())}"
            )
        if attr.oid in seen:
            raise CertificateRequestError(f"subject names {label} twice; give it once")
        value = attr.value if isinstance(attr.value, str) else ""
        if not value.strip() or len(value) > MAX_ATTRIBUTE_CHARS:
            raise CertificateRequestError(f"{label} must be 1..{MAX_ATTRIBUTE_CHARS} characters")
        if any(unicodedata.category(ch).startswith("C") for ch in value):
            raise CertificateRequestError(f"{label} contains control characters")
        seen[attr.oid] = value
    if profile == "citizen":
        extra = [names[o] for o in _ORGANISATION_ONLY if o in seen]
        if extra:
            raise CertificateRequestError(
                f"a citizen certificate names no organisation, but the request has {', '.join(extra)}; "
                "use the employee profile for a work certificate"
            )
    missing = [names[o] for o in _REQUIRED[profile] if o not in seen]
    if missing:
        raise CertificateRequestError(
            f"the request's subject lacks {', '.join(missing)} needed for a {profile} certificate")
    pinfl = seen[oids.PINFL]
    if not (_DIGITS.fullmatch(pinfl) and len(pinfl) == 14):
        raise CertificateRequestError(f"PINFL must be exactly 14 digits, got {pinfl!r}")
    if oids.TIN in seen:
        tin = seen[oids.TIN]
        if not (_DIGITS.fullmatch(tin) and len(tin) == 9):
            raise CertificateRequestError(f"TIN must be exactly 9 digits, got {tin!r}")
    if NameOID.USER_ID in seen and not (_DIGITS.fullmatch(seen[NameOID.USER_ID]) and len(seen[NameOID.USER_ID]) == 9):
        raise CertificateRequestError(f"UID (personal TIN) must be exactly 9 digits, got {seen[NameOID.USER_ID]!r}")
    if NameOID.COUNTRY_NAME in seen and seen[NameOID.COUNTRY_NAME] != "UZ":
        raise CertificateRequestError(f"C must be UZ, got {seen[NameOID.COUNTRY_NAME]!r}")
    return subject


def _ca_builder(
    subject: x509.Name, issuer: x509.Name, public_key: PublicKeyTypes, issuer_public_key: PublicKeyTypes,
    start: datetime, days: int, path_length: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)  # type: ignore[arg-type]
    )


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _dump(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
