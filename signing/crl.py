"""Certificate revocation lists (RFC 5280 §5): build one from a CA's revocations, load one safely."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from . import x509_signing
from .errors import SigningError

#: A CRL is re-issued at least this often; relying parties may cache it until nextUpdate.
CRL_LIFETIME = timedelta(days=7)
MAX_CRL_BYTES = 16 << 20


class CRLError(SigningError):
    """A CRL could not be read."""


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate: its serial, when and why."""

    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.unspecified


def build_crl(
    issuer: x509.Certificate,
    key: CertificateIssuerPrivateKeyTypes,
    revocations: Iterable[Revocation],
    number: int,
    *,
    now: datetime | None = None,
    lifetime: timedelta = CRL_LIFETIME,
) -> x509.CertificateRevocationList:
    """A CRL signed by *issuer* listing *revocations*, with CRL number *number* (monotonic)."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for r in revocations:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(r.serial)
            .revocation_date(r.revoked_at.replace(microsecond=0))
        )
        if r.reason is not x509.ReasonFlags.unspecified:  # RFC 5280: omit rather than write "unspecified"
            entry = entry.add_extension(x509.CRLReason(r.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return x509_signing.sign(builder, key)


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a CRL in PEM or DER; raise CRLError with the reason if it is not one."""
    if len(data) > MAX_CRL_BYTES:
        raise CRLError(f"CRL is {len(data)} bytes; refusing anything over {MAX_CRL_BYTES}")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise CRLError("not a certificate revocation list (PEM or DER)") from None
