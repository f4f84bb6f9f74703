"""OCSP responder (RFC 6960), library side: DER request in, DER response out, never an exception.

A request may name several certificates (RFC 6960 §4.1.1 requestList); each gets its own
SingleResponse, in the order asked, in one response signed once. cryptography's OCSP types hold
one certificate only, so requests are parsed with asn1crypto (after the bounded DER walk) and the
answer is written as DER directly: asn1crypto's encoder cost five times the signature. The idp and
`imzo ca serve` put this behind HTTP (signing/ca_http.py).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal, Sequence

from asn1crypto import core, keys as a_keys, ocsp as a_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp

from . import algorithms, der as der_mod, oids

log = logging.getLogger(__name__)

MAX_OCSP_REQUEST_BYTES = 64 << 10
MAX_NONCE_BYTES = 128  # RFC 8954 asks for 1..32; we echo up to this and refuse anything larger
#: Certificates answered per request: each costs an index read and grows the signed answer, so a
#: request naming thousands would make one small POST an amplified denial of service.
MAX_CERTS_PER_REQUEST = 20
#: How long a relying party may cache one of our answers.
RESPONSE_LIFETIME = timedelta(hours=1)
_BASIC_OID = core.ObjectIdentifier(oids.OCSP_BASIC).dump()
_NONCE_OID = core.ObjectIdentifier(oids.OCSP_NONCE).dump()
#: CRLReason codes (RFC 5280 §5.3.1)
_REASON_CODES = {
    x509.ReasonFlags.unspecified: 0, x509.ReasonFlags.key_compromise: 1, x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3, x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5, x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8, x509.ReasonFlags.privilege_withdrawn: 9, x509.ReasonFlags.aa_compromise: 10,
}
#: CertID hash algorithms we can recompute (RFC 6960 §4.1.1; SHA-1 is what most clients send).
_CERT_ID_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


@dataclass(frozen=True)
class CertificateStatus:
    """What the CA knows about one serial number."""

    state: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


@dataclass(frozen=True)
class CertId:
    """One requested certificate (RFC 6960 §4.1.1 CertID): the issuer's hashes and the serial."""

    hash_name: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes  # echoed unchanged in the answer


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
    _hashed: dict[str, tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the issuer's name and key hashed once with every CertID hash, not once per question
        name, key = self.issuer.subject.public_bytes(), _public_key_bits(self.issuer)
        hashed = {n: (_digest(a, name), _digest(a, key)) for n, a in _CERT_ID_HASHES.items()}
        object.__setattr__(self, "_hashed", hashed)

    def matches(self, cert_id: CertId) -> bool:
        """Does *cert_id* name our issuer (its name and key hashed with the request's algorithm)?"""
        return self._hashed[cert_id.hash_name] == (cert_id.issuer_name_hash, cert_id.issuer_key_hash)


class _Malformed(Exception):
    pass


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
    """Answer one DER OCSPRequest naming 1..MAX_CERTS_PER_REQUEST certificates. Always a DER OCSPResponse.

    Malformed or oversized requests, or ones naming too many certificates, get ``malformedRequest``.
    The responder for the first certificate we serve signs the answer; a certificate it cannot
    speak for (another issuer's) is ``unknown`` (RFC 6960 §2.2). A request naming no issuer we
    serve gets ``unauthorized``; a failure while signing gets ``internalError``.
    """
    try:
        cert_ids, nonce = _parse(request_der)
    except _Malformed:
        return unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    responder = next((r for cid in cert_ids for r in responders if r.matches(cid)), None)
    if responder is None:
        return unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    try:
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
        singles = b"".join(
            _single(cid, responder.status_of(cid.serial) if responder.matches(cid) else CertificateStatus("unknown"),
                    now, lifetime)
            for cid in cert_ids
        )
        signer = responder.signer_certificate or responder.issuer
        extensions = b""
        if nonce is not None:  # RFC 8954: echo the nonce (an OCTET STRING inside extnValue)
            nonce_ext = der_mod.tlv(0x30, _NONCE_OID + der_mod.tlv(0x04, der_mod.tlv(0x04, nonce)))
            extensions = der_mod.tlv(0xA1, der_mod.tlv(0x30, nonce_ext))
        tbs = der_mod.tlv(0x30, (
            der_mod.tlv(0xA2, der_mod.tlv(0x04, hashlib.sha1(_public_key_bits(signer)).digest()))  # byKey
            + _generalized_time(now)
            + der_mod.tlv(0x30, singles)
            + extensions
        ))
        alg = algorithms.for_key(responder.signer_key)
        signature_algorithm = der_mod.tlv(
            0x30, core.ObjectIdentifier(alg.signature_oid).dump() + (alg.signature_parameters or b""))
        certs = b""
        if responder.signer_certificate is not None:  # a delegated responder sends its certificate
            certs = der_mod.tlv(0xA0, der_mod.tlv(0x30, signer.public_bytes(serialization.Encoding.DER)))
        basic = der_mod.tlv(0x30, (
            tbs + signature_algorithm + der_mod.tlv(0x03, b"\x00" + alg.sign(responder.signer_key, tbs)) + certs
        ))
        response_bytes = der_mod.tlv(0x30, _BASIC_OID + der_mod.tlv(0x04, basic))
        return der_mod.tlv(0x30, der_mod.tlv(0x0A, b"\x00") + der_mod.tlv(0xA0, response_bytes))  # successful
    except Exception:
        log.exception("OCSP responder failed while answering serials %s", [format(c.serial, "x") for c in cert_ids])
        return unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


def _parse(request_der: bytes) -> tuple[list[CertId], bytes | None]:
    """The CertIDs and nonce of a DER OCSPRequest; _Malformed for anything else."""
    if not isinstance(request_der, (bytes, bytearray)) or not request_der or len(request_der) > MAX_OCSP_REQUEST_BYTES:
        raise _Malformed
    try:
        # first the bounded DER walk: asn1crypto parses long OIDs in quadratic time
        der_mod.check(bytes(request_der), max_bytes=MAX_OCSP_REQUEST_BYTES, what="the OCSP request")
        req = a_ocsp.OCSPRequest.load(bytes(request_der), strict=True)
        req.native  # noqa: B018 - forces a full parse, so truncated inner parts fail here
        tbs = req["tbs_request"]
        requests = list(tbs["request_list"])
        if not 1 <= len(requests) <= MAX_CERTS_PER_REQUEST:
            raise _Malformed
        cert_ids = []
        for r in requests:
            cid = r["req_cert"]
            hash_name = cid["hash_algorithm"]["algorithm"].native
            if hash_name not in _CERT_ID_HASHES:
                raise _Malformed
            cert_ids.append(CertId(hash_name, cid["issuer_name_hash"].native, cid["issuer_key_hash"].native,
                                   cid["serial_number"].native, cid.dump()))
        nonce = None
        for ext in tbs["request_extensions"] or []:
            if ext["extn_id"].native == "nonce":
                nonce = ext["extn_value"].parsed.native
    except _Malformed:
        raise
    except Exception:  # any parse failure is the client's malformed request
        raise _Malformed from None
    if nonce is not None and not (isinstance(nonce, bytes) and 1 <= len(nonce) <= MAX_NONCE_BYTES):
        raise _Malformed
    return cert_ids, nonce


def _single(cid: CertId, status: CertificateStatus, now: datetime, lifetime: timedelta) -> bytes:
    """One SingleResponse (RFC 6960 §4.2.1): the CertID as asked, the status, thisUpdate, nextUpdate."""
    if status.state == "good":
        cert_status = b"\x80\x00"  # [0] IMPLICIT NULL
    elif status.state == "unknown":
        cert_status = b"\x82\x00"  # [2] IMPLICIT NULL
    else:
        revoked = _generalized_time((status.revoked_at or now).astimezone(timezone.utc))
        # RFC 5280: leave the reason out rather than write "unspecified"
        if status.reason is not None and status.reason is not x509.ReasonFlags.unspecified:
            revoked += der_mod.tlv(0xA0, der_mod.tlv(0x0A, bytes((_REASON_CODES[status.reason],))))
        cert_status = der_mod.tlv(0xA1, revoked)  # [1] IMPLICIT RevokedInfo
    return der_mod.tlv(0x30, (
        cid.der + cert_status + _generalized_time(now) + der_mod.tlv(0xA0, _generalized_time(now + lifetime))
    ))


def _generalized_time(when: datetime) -> bytes:
    """DER GeneralizedTime in UTC, whole seconds (RFC 5280 §4.1.2.5.2)."""
    return der_mod.tlv(0x18, when.astimezone(timezone.utc).strftime("%Y%m%d%H%M%SZ").encode())


def _digest(algo: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algo)
    h.update(data)
    return h.finalize()


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value: what issuerKeyHash is computed over."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bits: bytes = a_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]  # drop the unused-bits byte
    return bits
