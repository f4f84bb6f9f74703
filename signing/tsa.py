"""RFC 3161 timestamps: the authority (request in, response out) and the client (ask, check, keep).

The authority signs a TSTInfo in a CMS SignedData with signed attributes content-type,
message-digest and signing-certificate-v2 (RFC 5816), so `openssl ts -verify` accepts it.
Keys are used through the algorithm registry, so any registered key (a PKCS#11 one too) can sign.

The client builds a request for a digest (with a nonce), sends it to a URL or to an in-process
authority, and checks the token: nonce, message imprint, signature, signing-certificate attribute,
and, given trust roots, the chain up to a root and the timeStamping EKU.
"""
from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from asn1crypto import algos, cms, core, tsp, x509 as a_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from keystore import pfx

from . import algorithms, der as der_mod, oids, path
from .errors import SigningError
from .report import SubIndication

MAX_REQUEST_BYTES = 64 << 10
MAX_RESPONSE_BYTES = 1 << 20
#: Digests we timestamp; the value is the digest length the imprint must have.
ACCEPTED_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no type information
    """TimeStampResp as RFC 3161 defines it: asn1crypto's omits OPTIONAL on the token."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampError(SigningError):
    """A timestamp could not be obtained or does not check out; the message says which step failed."""


@dataclass(frozen=True)
class TimestampInfo:
    """What a checked token says: when, under which policy, over which digest, signed by whom."""

    gen_time: datetime
    serial_number: int
    policy: str
    hash_name: str
    digest: bytes
    nonce: int | None
    tsa_certificate: x509.Certificate


@dataclass(frozen=True)
class TimestampToken:
    """A timestamp token: ``der`` is its CMS ContentInfo, ready to put in an unsigned attribute."""

    der: bytes
    info: TimestampInfo

    @property
    def gen_time(self) -> datetime:
        return self.info.gen_time

    def verify(
        self, digest: bytes, trust_roots: Iterable[x509.Certificate], intermediates: Iterable[x509.Certificate] = ()
    ) -> TimestampInfo:
        """Check this token against *digest* and a chain to one of *trust_roots*."""
        return verify_timestamp_token(self.der, digest, trust_roots, intermediates=intermediates)


# ===================================================================== authority
class _Rejection(Exception):
    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure, self.text = failure, text


class TimestampAuthority:
    """Answers RFC 3161 requests with tokens signed by *key* under *certificate*.

    *key* is any private key the algorithm registry knows; *chain* (issuing CA, …) is added to
    the token's certificates when the client asks for certificates.
    """

    def __init__(
        self,
        key: Any,
        certificate: x509.Certificate,
        policy_oid: str = oids.TSA_POLICY,
        *,
        chain: Sequence[x509.Certificate] = (),
        accuracy_seconds: int = 1,
    ) -> None:
        self._key = key
        self._alg = algorithms.for_key(key)
        self.certificate = certificate
        self.policy_oid = policy_oid
        self._chain = list(chain)
        self._accuracy = accuracy_seconds
        try:
            eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            eku = None
        if eku is None or not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise TimestampError(
                "the TSA certificate must have exactly one extended key usage, timeStamping, marked critical "
                "(RFC 3161 §2.3); issue one with `imzo ca tsa-cert`"
            )
        self._cert_asn1 = a_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        self._chain_asn1 = [a_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self._chain]

    @classmethod
    def from_pfx(cls, blob: bytes, password: bytes, policy_oid: str = oids.TSA_POLICY) -> "TimestampAuthority":
        """The authority whose key, certificate and chain are in the PFX `imzo ca tsa-cert` wrote."""
        key, cert, extra = pfx.decrypt_key(blob, password)
        if cert is None:
            raise TimestampError("the TSA key file holds no certificate; make it with `imzo ca tsa-cert`")
        chain = [c for c in extra if c.subject != c.issuer]  # the issuing CA; relying parties bring the root
        return cls(key, cert, policy_oid, chain=chain)

    def respond(self, request_der: bytes, *, now: datetime | None = None) -> bytes:
        """Answer one DER TimeStampReq with a DER TimeStampResp. Never raises for bad input."""
        try:
            req = _parse_request(request_der, self.policy_oid)
            token = self._token(req, now or datetime.now(timezone.utc))
            granted: bytes = _TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
            return granted
        except _Rejection as rej:
            return _rejection(rej.failure, rej.text)
        except Exception:  # a bug or a key failure; the client gets systemFailure, not a hang
            return _rejection("system_failure", "the timestamp authority failed; try again later")

    def _token(self, req: tsp.TimeStampReq, now: datetime) -> cms.ContentInfo:
        info: dict[str, Any] = {
            "version": "v1",
            "policy": self.policy_oid,
            "message_imprint": req["message_imprint"],
            "serial_number": int.from_bytes(secrets.token_bytes(16), "big") >> 1,
            "gen_time": now.astimezone(timezone.utc).replace(microsecond=0),
            "accuracy": {"seconds": self._accuracy},
            "tsa": a_x509.GeneralName(name="directory_name", value=self._cert_asn1.subject),
        }
        if req["nonce"].native is not None:
            info["nonce"] = req["nonce"].native
        tst = tsp.TSTInfo(info)
        tst_der = tst.dump()
        digest_name = self._alg.digest_name
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time",
             "values": [cms.Time(name="utc_time", value=now.astimezone(timezone.utc).replace(microsecond=0))]},
            {"type": "message_digest", "values": [hashlib.new(digest_name, tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [{
                    "certs": [{
                        "cert_hash": hashlib.sha256(self._cert_asn1.dump()).digest(),
                        "issuer_serial": {
                            "issuer": [a_x509.GeneralName(name="directory_name", value=self._cert_asn1.issuer)],
                            "serial_number": self._cert_asn1.serial_number,
                        },
                    }]
                }],
            },
        ])
        signature = self._alg.sign(self._key, signed_attrs.dump())
        certificates = [self._cert_asn1] + self._chain_asn1 if req["cert_req"].native else []
        signed_data = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": digest_name}],
            "encap_content_info": {"content_type": "tst_info", "content": tst},
            "signer_infos": [{
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": self._cert_asn1.issuer, "serial_number": self._cert_asn1.serial_number},
                ),
                "digest_algorithm": {"algorithm": digest_name},
                "signed_attrs": signed_attrs,
                "signature_algorithm": _signature_algorithm(self._alg),
                "signature": signature,
            }],
        }
        if certificates:
            signed_data["certificates"] = certificates
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


def _parse_request(request_der: bytes, policy_oid: str) -> tsp.TimeStampReq:
    if not isinstance(request_der, (bytes, bytearray)) or not request_der:
        raise _Rejection("bad_data_format", "the request is empty")
    if len(request_der) > MAX_REQUEST_BYTES:
        raise _Rejection("bad_data_format",
                         f"the request is {len(request_der)} bytes; the limit is {MAX_REQUEST_BYTES}")
    try:
        der_mod.check(bytes(request_der), max_bytes=MAX_REQUEST_BYTES, what="the request")
    except der_mod.MalformedSignature as exc:  # before asn1crypto, which parses long OIDs in quadratic time
        raise _Rejection("bad_data_format", f"the request is not a DER TimeStampReq (RFC 3161): {exc}") from None
    try:
        req = tsp.TimeStampReq.load(bytes(request_der), strict=True)
        native = req.native  # forces a full parse, so truncated inner parts fail here
        hash_name = req["message_imprint"]["hash_algorithm"]["algorithm"].native
        digest = req["message_imprint"]["hashed_message"].native
    except Exception:
        raise _Rejection("bad_data_format", "the request is not a DER TimeStampReq (RFC 3161)") from None
    if native["version"] != "v1":
        raise _Rejection("bad_request", "only version 1 requests are understood")
    if hash_name not in ACCEPTED_HASHES:
        raise _Rejection("bad_alg", f"hash {hash_name} is not accepted; use one of {', '.join(ACCEPTED_HASHES)}")
    if len(digest) != ACCEPTED_HASHES[hash_name]:
        raise _Rejection("bad_data_format",
                         f"a {hash_name} digest is {ACCEPTED_HASHES[hash_name]} bytes, got {len(digest)}")
    if native["req_policy"] is not None and native["req_policy"] != policy_oid:
        raise _Rejection("unaccepted_policy",
                         f"policy {native['req_policy']} is not offered; this TSA uses {policy_oid}")
    if native["extensions"]:
        raise _Rejection("unaccepted_extensions", "request extensions are not supported")
    return req


def _rejection(failure: str, text: str) -> bytes:
    rejection: bytes = _TimeStampResp({
        "status": {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({failure})}
    }).dump()
    return rejection


def _signature_algorithm(alg: algorithms.Algorithm) -> algos.SignedDigestAlgorithm:
    """The SignerInfo signatureAlgorithm for *alg*: its OID, plus parameters where it has any (PSS)."""
    body = core.ObjectIdentifier(alg.signature_oid).dump() + (alg.signature_parameters or b"")
    return algos.SignedDigestAlgorithm.load(b"\x30" + _der_length(len(body)) + body)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


# ===================================================================== client
def build_request(
    digest: bytes, hash_name: str = "sha256", *, nonce: int | None = None, cert_req: bool = True
) -> bytes:
    """A DER TimeStampReq for *digest* (which must already be a *hash_name* digest)."""
    if hash_name not in ACCEPTED_HASHES:
        raise TimestampError(f"hash {hash_name!r} is not supported; use one of {', '.join(ACCEPTED_HASHES)}")
    if not isinstance(digest, (bytes, bytearray)) or len(digest) != ACCEPTED_HASHES[hash_name]:
        raise TimestampError(
            f"a {hash_name} digest is {ACCEPTED_HASHES[hash_name]} bytes; pass the digest, not the data")
    req: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_name}, "hashed_message": bytes(digest)},
        "cert_req": cert_req,
    }
    if nonce is not None:
        req["nonce"] = nonce
    request: bytes = tsp.TimeStampReq(req).dump()
    return request


def request_timestamp(
    digest: bytes,
    *,
    hash_name: str = "sha256",
    url: str | None = None,
    authority: TimestampAuthority | None = None,
    trust_roots: Iterable[x509.Certificate] | None = None,
    timeout: float = 10.0,
) -> TimestampToken:
    """Get a timestamp on *digest* from the TSA at *url* or the in-process *authority*.

    The token is checked before it is returned: status granted, our nonce, our digest, and a
    signature by the certificate it names. With *trust_roots* the chain is checked too.
    """
    if (url is None) == (authority is None):
        raise TimestampError("give exactly one of url= or authority=")
    nonce = secrets.randbits(63)
    request_der = build_request(digest, hash_name, nonce=nonce)
    if authority is not None:
        response_der = authority.respond(request_der)
    elif url is not None:  # always, given the check above
        response_der = _post(url, request_der, timeout)
    token_der = parse_response(response_der)
    info = _check_token(token_der, digest, extra_certs=(), trust_roots=trust_roots)
    if info.nonce != nonce:
        raise TimestampError("the TSA answered with a different nonce; the response is not for our request")
    return TimestampToken(token_der, info)


def parse_response(response_der: bytes) -> bytes:
    """The token (DER ContentInfo) from a TimeStampResp; TimestampError with the TSA's reason if refused."""
    if len(response_der) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"TSA response is {len(response_der)} bytes; refusing anything over {MAX_RESPONSE_BYTES}")
    try:
        der_mod.check(response_der, max_bytes=MAX_RESPONSE_BYTES, what="the TSA response")
    except der_mod.MalformedSignature as exc:
        raise TimestampError(f"the TSA's answer is not a DER TimeStampResp: {exc}") from None
    try:
        resp = _TimeStampResp.load(response_der, strict=True)
        status = resp["status"]["status"].native
        texts = resp["status"]["status_string"].native or []
        fail = resp["status"]["fail_info"].native
    except Exception:
        raise TimestampError("the TSA's answer is not a DER TimeStampResp") from None
    if status not in ("granted", "granted_with_mods"):
        reasons = "; ".join(texts) or "no reason given"
        failure = f" [{', '.join(sorted(fail))}]" if fail else ""
        raise TimestampError(f"the TSA refused: {status}{failure}: {reasons}")
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void):
        raise TimestampError("the TSA granted the request but sent no token")
    token_der: bytes = token.dump()
    return token_der


def _post(url: str, body: bytes, timeout: float) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/timestamp-query"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the URL is the operator's TSA
            data: bytes = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"the TSA at {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"could not reach the TSA at {url}: {getattr(exc, 'reason', exc)}") from None
    return data


# ===================================================================== verification
def verify_timestamp_token(
    token_der: bytes,
    digest: bytes,
    trust_roots: Iterable[x509.Certificate],
    *,
    intermediates: Iterable[x509.Certificate] = (),
) -> TimestampInfo:
    """Check a token over *digest*: imprint, signed attributes, signature, TSA EKU, and chain to a root.

    Revocation of the TSA certificate is not checked here (validation does that with CRL/OCSP).
    """
    roots = list(trust_roots)
    if not roots:
        raise TimestampError("no trust roots given; pass the CA root certificate(s) you trust")
    return _check_token(token_der, digest, extra_certs=tuple(intermediates), trust_roots=roots)


def _check_token(
    token_der: bytes,
    digest: bytes,
    *,
    extra_certs: tuple[x509.Certificate, ...],
    trust_roots: Iterable[x509.Certificate] | None,
) -> TimestampInfo:
    if not isinstance(token_der, (bytes, bytearray)) or len(token_der) > MAX_RESPONSE_BYTES:
        raise TimestampError("the timestamp token must be DER bytes of at most 1 MiB")
    try:
        der_mod.check(bytes(token_der), max_bytes=MAX_RESPONSE_BYTES, what="the timestamp token")
    except der_mod.MalformedSignature as exc:
        raise TimestampError(f"the timestamp token is malformed: {exc}") from None
    try:
        return _check_token_structure(bytes(token_der), digest, extra_certs=extra_certs, trust_roots=trust_roots)
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, UnsupportedAlgorithm):
        # asn1crypto parses lazily: a damaged inner part surfaces as one of these while we read it
        raise TimestampError("the timestamp token is malformed (not a DER CMS SignedData over a TSTInfo)") from None


def _check_token_structure(
    token_der: bytes,
    digest: bytes,
    *,
    extra_certs: tuple[x509.Certificate, ...],
    trust_roots: Iterable[x509.Certificate] | None,
) -> TimestampInfo:
    ci = cms.ContentInfo.load(token_der, strict=True)
    if ci["content_type"].native != "signed_data":
        raise TimestampError("the timestamp token is not a CMS SignedData")
    sd = ci["content"]
    if sd["encap_content_info"]["content_type"].native != "tst_info":
        raise TimestampError("the SignedData does not hold a TSTInfo; it is not a timestamp token")
    tst_der = sd["encap_content_info"]["content"].contents  # the signed bytes, as sent
    tst = tsp.TSTInfo.load(tst_der)
    if len(sd["signer_infos"]) != 1:
        raise TimestampError(f"a timestamp token has one signer; this one has {len(sd['signer_infos'])}")
    si = sd["signer_infos"][0]

    imprint = tst["message_imprint"]
    hash_name = imprint["hash_algorithm"]["algorithm"].native
    if imprint["hashed_message"].native != bytes(digest):
        raise TimestampError("the token is over a different digest; it does not timestamp this data")

    embedded = [x509.load_der_x509_certificate(c.chosen.dump())
                for c in sd["certificates"] or [] if c.name == "certificate"]
    pool = embedded + list(extra_certs) + list(trust_roots or [])
    signer = _find_signer(si, pool)

    attrs = si["signed_attrs"]
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise TimestampError("the token's signer has no signed attributes")
    by_type = {a["type"].native: a["values"] for a in attrs}
    if by_type.get("content_type") is None or by_type["content_type"][0].native != "tst_info":
        raise TimestampError("the signed content-type attribute is not id-ct-TSTInfo")
    digest_name = si["digest_algorithm"]["algorithm"].native
    try:
        expected = hashlib.new(digest_name, tst_der).digest()
    except ValueError:
        raise TimestampError(f"the token uses an unknown digest {digest_name}") from None
    if by_type.get("message_digest") is None or by_type["message_digest"][0].native != expected:
        raise TimestampError("the signed message-digest does not match the TSTInfo; the token was altered")
    _check_signing_certificate(by_type, signer)

    public_key = signer.public_key()
    try:
        alg = algorithms.for_key(public_key)
    except algorithms.UnknownAlgorithm as exc:
        raise TimestampError(f"cannot check the TSA signature: {exc}") from None
    if alg.digest_name != digest_name:
        raise TimestampError(f"the token signs with {digest_name}; {alg.name} keys here use {alg.digest_name}")
    try:
        alg.verify(public_key, si["signature"].native, _as_set(attrs))
    except InvalidSignature:
        raise TimestampError(
            "the TSA's signature does not verify; the token was altered or signed by another key") from None

    gen_time = tst["gen_time"].native
    if not signer.not_valid_before_utc <= gen_time <= signer.not_valid_after_utc:
        raise TimestampError(f"the token's time {gen_time.isoformat()} is outside the TSA certificate's validity")
    if trust_roots is not None:
        _check_trust(signer, embedded + list(extra_certs), list(trust_roots), gen_time)
    return TimestampInfo(
        gen_time=gen_time,
        serial_number=tst["serial_number"].native,
        policy=tst["policy"].native,
        hash_name=hash_name,
        digest=bytes(digest),
        nonce=tst["nonce"].native,
        tsa_certificate=signer,
    )


def _as_set(attrs: cms.CMSAttributes) -> bytes:
    """The DER the signature covers: the attributes with a SET OF tag, not the [0] IMPLICIT one."""
    der: bytes = attrs.dump()
    return b"\x31" + der[1:]


def _find_signer(si: cms.SignerInfo, pool: list[x509.Certificate]) -> x509.Certificate:
    sid = si["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer_der = sid.chosen["issuer"].dump()
        serial = sid.chosen["serial_number"].native
        for cert in pool:
            if cert.serial_number == serial and cert.issuer.public_bytes() == issuer_der:
                return cert
    else:
        ski = sid.chosen.native
        for cert in pool:
            try:
                if cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == ski:
                    return cert
            except x509.ExtensionNotFound:
                continue
    raise TimestampError("the TSA certificate is neither in the token nor among the certificates given")


def _check_signing_certificate(by_type: dict[str, Any], signer: x509.Certificate) -> None:
    der = signer.public_bytes(serialization.Encoding.DER)
    if by_type.get("signing_certificate_v2") is not None:
        ids = by_type["signing_certificate_v2"][0]["certs"]
        first = ids[0]
        h = first["hash_algorithm"]["algorithm"].native
        ok = hashlib.new(h, der).digest() == first["cert_hash"].native
    elif by_type.get("signing_certificate") is not None:
        first = by_type["signing_certificate"][0]["certs"][0]
        ok = hashlib.sha1(der).digest() == first["cert_hash"].native  # noqa: S324 - ESS v1 is SHA-1 by definition
    else:
        raise TimestampError("the token has no signing-certificate attribute naming the TSA certificate")
    if not ok:
        raise TimestampError("the token's signing-certificate attribute names a different certificate than its signer")


def _check_trust(cert: x509.Certificate, pool: list[x509.Certificate], roots: list[x509.Certificate],
                 at: datetime) -> None:
    """The TSA usage (RFC 3161 §2.3) and a path to one of *roots* valid at *at*, by the one path validator.

    Revocation is left to signature validation, which has the CRLs and OCSP responders.
    """
    info = path.load(cert.public_bytes(serialization.Encoding.DER))
    if info is None:
        raise TimestampError("the TSA certificate is not usable (cryptography refuses it)")
    problem = path.timestamping_problem(info)
    if problem:
        raise TimestampError(problem)
    try:
        report = path.validate_path(cert, pool, trust_roots=roots, at=at, require_revocation=False)
    except ValueError as exc:  # an unusable trust anchor
        raise TimestampError(str(exc)) from None
    if report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND:
        raise TimestampError(f"the TSA certificate does not chain to a trusted root: {report.errors[-1]}")
    if not report.passed:
        raise TimestampError(f"the TSA certificate is not trusted: {report.errors[-1]}")
