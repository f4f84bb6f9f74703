"""OCSP responder (RFC 6960), library side: DER request in, DER response out, never an exception.

The idp serves this over HTTP later (POST application/ocsp-request); tests run it behind a
tiny http.server and ask it with `openssl ocsp`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal, Sequence

from asn1crypto import keys as a_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp

from . import x509_signing

log = logging.getLogger(__name__)

MAX_OCSP_REQUEST_BYTES = 64 << 10
MAX_NONCE_BYTES = 128  # RFC 8954 asks for 1..32; we echo up to this and refuse anything larger
#: How long a relying party may cache one of our answers.
RESPONSE_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class CertificateStatus:
    """What the CA knows about one serial number."""

    state: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


@dataclass(frozen=True)
class IssuerResponder:
    """Answers for the certificates one issuer signed: its certificate, the signing key, a status lookup.

    *signer_certificate* is the issuer itself, or a delegated responder certificate it issued
    (EKU OCSPSigning) whose key is *signer_key*.
    """

    issuer: x509.Certificate
    signer_key: CertificateIssuerPrivateKeyTypes
    status_of: Callable[[int], CertificateStatus]
    signer_certificate: x509.Certificate | None = None

    def matches(self, req: ocsp.OCSPRequest) -> bool:
        algo = req.hash_algorithm
        return (
            _digest(algo, self.issuer.subject.public_bytes()) == req.issuer_name_hash
            and _digest(algo, _public_key_bits(self.issuer)) == req.issuer_key_hash
        )


def unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    """A DER OCSPResponse carrying only an error status (malformedRequest, unauthorized, …)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def respond(
    request_der: bytes,
    responders: Sequence[IssuerResponder],
    *,
    now: datetime | None = None,
    lifetime: timedelta = RESPONSE_LIFETIME,
) -> bytes:
    """Answer one DER OCSPRequest. Always returns a DER OCSPResponse.

    Malformed, oversized or multi-certificate requests get ``malformedRequest``; a request about
    an issuer we do not serve gets ``unauthorized``; a failure while signing gets ``internalError``.
    """
    if not isinstance(request_der, (bytes, bytearray)) or len(request_der) > MAX_OCSP_REQUEST_BYTES:
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        req = ocsp.load_der_ocsp_request(bytes(request_der))
        algo = req.hash_algorithm  # raises for hash algorithms we cannot compute
        serial = req.serial_number
        nonce = _nonce(req)
    except Exception:  # any parse failure is the client's malformed request
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if nonce is not None and not (1 <= len(nonce) <= MAX_NONCE_BYTES):
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    responder = next((r for r in responders if r.matches(req)), None)
    if responder is None:
        return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    try:
        status = responder.status_of(serial)
        now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[status.state]
        revoked = status.state == "revoked"
        revoked_at = (status.revoked_at or now).replace(microsecond=0) if revoked else None
        # RFC 5280: leave the reason out rather than write "unspecified"
        reason = status.reason if revoked and status.reason is not x509.ReasonFlags.unspecified else None
        signer = responder.signer_certificate or responder.issuer
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=req.issuer_name_hash,
                issuer_key_hash=req.issuer_key_hash,
                serial_number=serial,
                algorithm=algo,
                cert_status=cert_status,
                this_update=now,
                next_update=now + lifetime,
                revocation_time=revoked_at,
                revocation_reason=reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, signer)
        )
        if responder.signer_certificate is not None:
            builder = builder.certificates([responder.signer_certificate])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(responder.signer_key, x509_signing.signature_hash(responder.signer_key))
        return response.public_bytes(serialization.Encoding.DER)
    except Exception:
        log.exception("OCSP responder failed while answering serial %x", serial)
        return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


def _nonce(req: ocsp.OCSPRequest) -> bytes | None:
    try:
        return req.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _digest(algo: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algo)
    h.update(data)
    return h.finalize()


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value: what issuerKeyHash is computed over."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return a_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]  # drop the unused-bits byte
