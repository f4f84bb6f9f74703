"""OCSP responder (RFC 6960), library side: DER request in, DER response out, never an exception.

A request may name several certificates (RFC 6960 §4.1.1 requestList); each gets its own
SingleResponse, in the order asked, in one response signed once. The structures are parsed and
built with asn1crypto because cryptography's OCSP types hold one certificate only. The idp and
`imzo ca serve` put this behind HTTP (signing/ca_http.py).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Literal, Sequence

from asn1crypto import algos, core, keys as a_keys, ocsp as a_ocsp, x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509 import ocsp

from . import algorithms, der as der_mod

log = logging.getLogger(__name__)

MAX_OCSP_REQUEST_BYTES = 64 << 10
MAX_NONCE_BYTES = 128  # RFC 8954 asks for 1..32; we echo up to this and refuse anything larger
#: Certificates answered per request: each costs an index read and grows the signed answer, so a
#: request naming thousands would make one small POST an amplified denial of service.
MAX_CERTS_PER_REQUEST = 20
#: How long a relying party may cache one of our answers.
RESPONSE_LIFETIME = timedelta(hours=1)
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
    asn1: a_ocsp.CertId  # echoed unchanged in the answer


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

    def matches(self, cert_id: CertId) -> bool:
        """Does *cert_id* name our issuer (its name and key hashed with the request's algorithm)?"""
        algo = _CERT_ID_HASHES[cert_id.hash_name]
        return (
            _digest(algo, self.issuer.subject.public_bytes()) == cert_id.issuer_name_hash
            and _digest(algo, _public_key_bits(self.issuer)) == cert_id.issuer_key_hash
        )


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
        singles = []
        for cid in cert_ids:
            status = responder.status_of(cid.serial) if responder.matches(cid) else CertificateStatus("unknown")
            singles.append({
                "cert_id": cid.asn1,
                "cert_status": _cert_status(status, now),
                "this_update": now,
                "next_update": now + lifetime,
            })
        signer = responder.signer_certificate or responder.issuer
        data: dict = {
            "responder_id": a_ocsp.ResponderId(
                name="by_key", value=hashlib.sha1(_public_key_bits(signer)).digest()
            ),
            "produced_at": now,
            "responses": singles,
        }
        if nonce is not None:
            data["response_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
        tbs = a_ocsp.ResponseData(data)
        alg = algorithms.for_key(responder.signer_key)
        basic: dict = {
            "tbs_response_data": tbs,
            "signature_algorithm": algos.SignedDigestAlgorithm.load(
                der_mod.tlv(0x30, core.ObjectIdentifier(alg.signature_oid).dump() + (alg.signature_parameters or b""))
            ),
            "signature": alg.sign(responder.signer_key, tbs.dump()),
        }
        if responder.signer_certificate is not None:
            basic["certs"] = [a_x509.Certificate.load(signer.public_bytes(serialization.Encoding.DER))]
        return a_ocsp.OCSPResponse({
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": a_ocsp.BasicOCSPResponse(basic)},
        }).dump()
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
                                   cid["serial_number"].native, cid))
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


def _cert_status(status: CertificateStatus, now: datetime) -> a_ocsp.CertStatus:
    if status.state == "good":
        return a_ocsp.CertStatus(name="good", value=a_ocsp.StatusGood())
    if status.state == "unknown":
        return a_ocsp.CertStatus(name="unknown", value=a_ocsp.StatusUnknown())
    info: dict = {"revocation_time": (status.revoked_at or now).astimezone(timezone.utc).replace(microsecond=0)}
    # RFC 5280: leave the reason out rather than write "unspecified"
    if status.reason is not None and status.reason is not x509.ReasonFlags.unspecified:
        info["revocation_reason"] = status.reason.name
    return a_ocsp.CertStatus(name="revoked", value=a_ocsp.RevokedInfo(info))


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
