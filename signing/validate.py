"""Validate CMS/CAdES signatures and say why, in the ETSI EN 319 102-1 vocabulary.

For each signer: format, signing certificate, message digest, signature mathematics, the
signing-certificate-v2 binding, a path to a trust anchor (RFC 5280 §6, by `signing.path`), validity
at the best signature time (a valid signature timestamp's time, else now), revocation (CRL or OCSP,
cached until nextUpdate) and the signer's key usage.

A `Validator` keeps what it learned between calls (parsed certificates, verified certificate
signatures, paths, revocation answers), which is what makes bulk validation fast. Hostile input never
raises: it becomes a FORMAT_FAILURE report.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Sequence, TypedDict

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from . import algorithms, cmsfile, der, encoding, oids, path as paths
from .cms import DATA, SIGNATURE_TIMESTAMP, TST_INFO, tst_info
from .cmsfile import BinaryFile
from .path import CertInfo, PathResult as _PathResult
from .report import (
    Indication,
    PathReport,
    RevocationSummary,
    SignerReport,
    SubIndication,
    TimestampSummary,
    ValidationReport,
)

__all__ = ["CertInfo", "OcspFetcher", "Validator", "validate"]

#: OCSP fetcher: (request DER, responder URL or None) -> response DER
OcspFetcher = Callable[[bytes, "str | None"], bytes]

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
    "sha224": hashes.SHA224(),
    "sha1": hashes.SHA1(),
}
_WEAK_DIGESTS = {"md5", "sha1", "md2"}
_CLOCK_SKEW = timedelta(minutes=5)
#: Entries per cache (paths, revocation answers...) before it starts afresh
_MAX_CACHE = 100_000
#: The same for caches any signature fills with certificates of its choosing (parsed certificates,
#: issuer-signature checks, signing-certificate checks): ~7 kB an entry, so kept smaller
_MAX_CERT_CACHE = 4096
#: Keys that can sign a CRL (cryptography's CertificateIssuerPublicKeyTypes less ML-DSA, which no path here
#: accepts: signing.path.key_problem): any other issuer key makes the CRL unusable
_CRL_SIGNING_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey,
                     dsa.DSAPublicKey)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Attrs(TypedDict, total=False):
    """What `_verify_core` learned from a signer's attributes."""

    md: bytes  #: message-digest
    ct: str  #: content-type
    scv2: bytes  #: signing-certificate-v2 (DER of its value)
    scv1: bytes  #: signing-certificate (DER of its value)
    timestamp: bytes  #: the signature timestamp token (DER)
    cades: bool  #: a signing-certificate attribute named the signer's certificate


@dataclass
class _Status:
    status: str  # good | revoked | unknown
    source: str
    this_update: datetime | None
    next_update: datetime | None
    revoked_at: datetime | None = None
    reason: str | None = None
    expires: datetime | None = None  # cache lifetime

    def summary(self, subject: str) -> RevocationSummary:
        cached = self.__dict__.get("_summary")
        if cached is None or cached.subject != subject:
            cached = self.__dict__["_summary"] = RevocationSummary(
                subject, self.status, self.source, self.this_update, self.next_update, self.revoked_at, self.reason)
        return cached


class Validator:
    """Validates signatures against fixed trust anchors, with caches that live as long as it does.

    *crls* are x509.CertificateRevocationList objects (add fresher ones with `add_crl`);
    *ocsp_fetcher(request_der, url)* asks a responder. With *require_revocation* (the default) a
    certificate without a fresh CRL entry or OCSP answer makes the signer INDETERMINATE/TRY_LATER.
    Paths are built and judged by `signing.path` (RFC 5280 §6); *max_chain_depth* is the most
    intermediate CAs one may have (self-issued ones not counted), *max_depth* the DER nesting limit.
    A trust anchor `cryptography` will not load cleanly is a ValueError naming it.
    """

    def __init__(
        self,
        trust_roots: Iterable[x509.Certificate],
        *,
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[x509.CertificateRevocationList] = (),
        ocsp_fetcher: OcspFetcher | None = None,
        require_revocation: bool = True,
        ocsp_cache_seconds: int = 300,
        max_bytes: int = der.MAX_BYTES,
        max_depth: int = der.MAX_DEPTH,
        max_chain_depth: int = paths.MAX_INTERMEDIATES,
    ) -> None:
        self._certs: dict[bytes, CertInfo | None] = {}
        self._roots: dict[bytes, CertInfo] = {}
        for c in trust_roots:
            info = self._info(c.public_bytes(serialization.Encoding.DER))
            if info is None:
                raise ValueError(
                    f"the trust anchor '{c.subject.rfc4514_string()}' is not a certificate we can use (cryptography "
                    "refuses it or only tolerates it with a deprecation warning); re-issue it or leave it out")
            self._roots[info.der] = info
        if not self._roots:
            raise ValueError("a validator needs at least one trust anchor")
        self._extra: list[CertInfo] = [
            i for i in (self._info(c.public_bytes(serialization.Encoding.DER)) for c in intermediates) if i
        ]
        #: most intermediate CAs in a path (self-issued ones not counted), the caller's RFC 5280 §6 limit
        self.max_chain_depth = max_chain_depth
        self._builder = paths.PathBuilder(self._roots.values(), self._extra, max_intermediates=max_chain_depth,
                                          cache_size=_MAX_CERT_CACHE)
        self._crls: dict[bytes, list[x509.CertificateRevocationList]] = {}
        self._ocsp = ocsp_fetcher
        self.require_revocation = require_revocation
        self._ocsp_ttl = timedelta(seconds=ocsp_cache_seconds)
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._paths: dict[bytes, _PathResult] = {}
        self._status: dict[tuple[bytes, bytes, int], _Status] = {}
        self._crl_ok: dict[tuple[int, bytes], bool] = {}
        self._scv: dict[tuple[bytes, bytes], str] = {}
        for crl in crls:
            self.add_crl(crl)

    # --- public ----------------------------------------------------------------------------------

    def add_crl(self, crl: x509.CertificateRevocationList) -> None:
        """Use *crl* from now on (a fresher CRL replaces cached answers for its issuer)."""
        issuer = crl.issuer.public_bytes()
        crls = self._crls.setdefault(issuer, [])
        crls.insert(0, crl)
        # freshest first, whatever order they come in: an older list must not hide a later revocation
        crls.sort(key=lambda c: c.last_update_utc, reverse=True)
        for key in [k for k in self._status if k[0] == issuer]:
            del self._status[key]

    def validate(
        self, signature: bytes | BinaryFile, content: bytes | BinaryFile | None = None, *,
        at: datetime | None = None
    ) -> ValidationReport:
        """One report for *signature* (DER, PEM or base64; attached, or detached with *content*), as of *at*.

        *content* may be an open binary file: a detached signature over a big document is then checked
        in constant memory (the file is read once per digest algorithm the signers use). *signature*
        may be an open binary file too: an attached one is then checked in constant memory, its
        document hashed where it lies in the file (`signing.cmsfile`).
        """
        now = at or _now()
        try:
            embedded: bytes | BinaryFile | None
            if isinstance(signature, (bytes, bytearray, memoryview)):
                blob = encoding.signature_der(signature, max_bytes=self.max_bytes)
                sd = der.read_signed_data(blob, max_bytes=self.max_bytes, max_depth=self.max_depth)
                embedded = sd.content
            elif hasattr(signature, "readinto"):
                sd, embedded = cmsfile.read(signature, max_bytes=self.max_bytes, max_depth=self.max_depth)
            else:  # what encoding.signature_der says of anything else
                raise der.MalformedSignature(f"signature must be bytes, not {type(signature).__name__}")
            ctype = sd.content_type
            attached = embedded is not None
            if embedded is not None:
                if content is None:
                    content = embedded
                elif not _same_content(embedded, content):
                    # the signers may have signed the document passed, but what this signature carries (and
                    # what other tools show) is something else, signed by no one
                    return ValidationReport.format_failure(
                        "the document passed differs from the one inside the attached signature", now)
            certs = self._certs_of(sd)
            infos = sd.signer_infos
        except der.MalformedSignature as exc:
            return ValidationReport.format_failure(str(exc), now)
        except Exception as exc:  # noqa: BLE001 - hostile input must not escape as a traceback
            return ValidationReport.format_failure(f"not a readable CMS signature: {exc}", now)
        digests: dict[str, bytes] = {}
        reports = []
        for i, si in enumerate(infos, 1):
            try:
                reports.append(self._signer(i, si, ctype, content, certs, digests, now))
            except Exception as exc:  # noqa: BLE001 - a malformed signer is a format failure, not a crash
                reports.append(SignerReport(i, Indication.TOTAL_FAILED).fail(
                    SubIndication.FORMAT_FAILURE, f"signer {i} is malformed: {exc}"))
        return ValidationReport.of(reports, now, detached=not attached, content_size=_size(content))

    def validate_certificate(
        self, cert: x509.Certificate, intermediates: Iterable[x509.Certificate] = (), *, at: datetime | None = None
    ) -> PathReport:
        """Path validation alone (RFC 5280 §6, validity at *at*, revocation): for logins and the SDK."""
        now = at or _now()
        info = self._info(cert.public_bytes(serialization.Encoding.DER))
        if info is None:
            return PathReport(Indication.TOTAL_FAILED, now).fail(
                SubIndication.FORMAT_FAILURE, "the certificate is not usable (cryptography refuses it)")
        pool = [i for i in (self._info(c.public_bytes(serialization.Encoding.DER)) for c in intermediates) if i]
        rep = PathReport(Indication.INDETERMINATE, now, subject=info.subject_str)
        sub, message, _ = self._check_certificate(info, pool, now, None, now, rep, what="given")
        if sub is not None:
            return rep.fail(sub, message)
        rep.indication = Indication.TOTAL_PASSED
        return rep

    # --- certificates and paths --------------------------------------------------------------------

    def _info(self, der_bytes: bytes) -> CertInfo | None:
        try:
            return self._certs[der_bytes]
        except KeyError:
            pass
        info = paths.load(der_bytes)
        if len(self._certs) > _MAX_CERT_CACHE:
            self._certs.clear()
        self._certs[der_bytes] = info
        return info

    def _certs_of(self, sd: der.SignedDataView) -> list[CertInfo]:
        out = []
        for c in sd.certificates:
            if c[0] == 0x30:  # other CertificateChoices (attribute certificates...) are not used
                info = self._info(c)
                if info is not None:
                    out.append(info)
        return out

    def _path(self, leaf: CertInfo, pool: Sequence[CertInfo]) -> _PathResult:
        cached = self._paths.get(leaf.der)
        if cached is not None and cached.path:
            return cached
        result = self._builder.build(leaf, pool)
        if result.path:
            if len(self._paths) > _MAX_CACHE:
                self._paths.clear()
            self._paths[leaf.der] = result
        return result

    # --- revocation --------------------------------------------------------------------------------

    def _revocation(self, cert: CertInfo, issuer: CertInfo, now: datetime) -> _Status | None:
        # per issuer certificate, not per issuer name: two CAs may share a name (and a serial)
        key = (cert.issuer, issuer.der, cert.serial)
        st = self._status.get(key)
        if st is not None and (st.expires is None or now <= st.expires):
            return st
        st = self._from_crl(cert, issuer, now) or self._from_ocsp(cert, issuer, now)
        if st is not None:
            if len(self._status) > _MAX_CACHE:
                self._status.clear()
            self._status[key] = st
        return st

    def _from_crl(self, cert: CertInfo, issuer: CertInfo, now: datetime) -> _Status | None:
        for crl in self._crls.get(cert.issuer, ()):
            ok = self._crl_ok.get((id(crl), issuer.der))
            if ok is None:
                try:
                    # a delta, partitioned or indirect CRL (critical deltaCRLIndicator, issuingDistributionPoint)
                    # does not list every revocation, and one without nextUpdate never goes stale; one without
                    # a cRLNumber cannot be ordered against a replayed older list (RFC 5280 5.2.3 MUST); an
                    # issuer whose key usage lacks cRLSign may not sign CRLs (RFC 5280 4.2.1.3, 6.3.3(f))
                    ok = (crl.next_update_utc is not None and not any(e.critical for e in crl.extensions)
                          and _has_crl_number(crl)
                          and (issuer.key_usage is None or issuer.key_usage.crl_sign)
                          and isinstance(issuer.public_key, _CRL_SIGNING_KEYS)
                          and crl.is_signature_valid(issuer.public_key))
                except Exception:  # noqa: BLE001 - unusable CRL
                    ok = False
                self._crl_ok[(id(crl), issuer.der)] = ok
            nxt = crl.next_update_utc
            if not ok or (nxt is not None and nxt < now):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial)
            if entry is None:
                return _Status("good", "crl", crl.last_update_utc, nxt, expires=nxt)
            reason = None
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
            except x509.ExtensionNotFound:
                pass
            return _Status("revoked", "crl", crl.last_update_utc, nxt, entry.revocation_date_utc, reason, nxt)
        return None

    def _from_ocsp(self, cert: CertInfo, issuer: CertInfo, now: datetime) -> _Status | None:
        if self._ocsp is None:
            return None
        url = None
        try:
            aia = cert.cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            url = next((d.access_location.value for d in aia
                        if d.access_method == x509.AuthorityInformationAccessOID.OCSP), None)
        except x509.ExtensionNotFound:
            pass
        try:
            req = ocsp.OCSPRequestBuilder().add_certificate(cert.cert, issuer.cert, hashes.SHA1()).build()
            resp = ocsp.load_der_ocsp_response(self._ocsp(req.public_bytes(serialization.Encoding.DER), url))
            if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                return None
            if not self._ocsp_signed_by_issuer(resp, issuer, now):
                return None
            single = next((r for r in resp.responses if r.serial_number == cert.serial
                           and _cert_id_names(r, cert, issuer)), None)
            if single is None:
                return None
            nxt = single.next_update_utc
            if nxt is not None and nxt < now:
                return None
            if nxt is None and single.this_update_utc < now - self._ocsp_ttl - _CLOCK_SKEW:
                return None  # no nextUpdate: only a fresh answer counts, or an old 'good' could be replayed
            expires = nxt or now + self._ocsp_ttl
            status = single.certificate_status
            if status == ocsp.OCSPCertStatus.GOOD:
                return _Status("good", "ocsp", single.this_update_utc, nxt, expires=expires)
            if status == ocsp.OCSPCertStatus.REVOKED:
                reason = single.revocation_reason.name if single.revocation_reason else None
                return _Status("revoked", "ocsp", single.this_update_utc, nxt, single.revocation_time_utc,
                               reason, expires)
            return _Status("unknown", "ocsp", single.this_update_utc, nxt, expires=expires)
        except Exception:  # noqa: BLE001 - a broken responder answer is "no answer"
            return None

    def _ocsp_signed_by_issuer(self, resp: ocsp.OCSPResponse, issuer: CertInfo, now: datetime) -> bool:
        responders = [issuer]
        # a delegated responder must be valid now (and when it answered): an expired one's key may be gone
        when = max(now, resp.produced_at_utc)
        for c in resp.certificates:
            info = self._info(c.public_bytes(serialization.Encoding.DER))
            # held to the path rules every certificate meets (signing.path: critical extensions, weak keys...)
            if (info and not info.defect and info.eku and ExtendedKeyUsageOID.OCSP_SIGNING in info.eku
                    and info.valid_at(when) and info.valid_at(resp.produced_at_utc)
                    and self._builder.issued_by(info, issuer)):
                responders.append(info)
        for r in responders:
            if resp.responder_name is not None and r.cert.subject != resp.responder_name:
                continue
            if resp.responder_key_hash is not None:
                if hashlib.sha1(_key_bits(r)).digest() != resp.responder_key_hash:
                    continue
            try:
                _verify_raw(r.public_key, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm)
                return True
            except Exception:  # noqa: BLE001
                continue
        return False

    # --- one signer --------------------------------------------------------------------------------

    def _signer(
        self,
        index: int,
        si: der.SignerInfoView,
        content_type: str,
        content: bytes | BinaryFile | None,
        certs: list[CertInfo],
        digests: dict[str, bytes],
        now: datetime,
    ) -> SignerReport:
        rep = SignerReport(index, Indication.INDETERMINATE)
        core = self._verify_core(si, content_type, content, certs, digests, rep)
        if core is None:
            return rep
        cert, attrs = core

        # CAdES-T: a valid signature timestamp gives proof of existence at its time
        poe: datetime | None = None
        token = attrs.get("timestamp")
        if token is not None:
            ts = self._timestamp(token, si.signature, certs, now)
            rep.timestamp = ts
            if ts.valid:
                poe = ts.time
                rep.timestamp_time = ts.time
            else:
                rep.warnings.append(f"signature timestamp not used: {ts.message}")
        rep.signature_format = ("CAdES-BASELINE-T" if poe else "CAdES-BASELINE-B") if attrs.get("cades") else "CMS"
        best = poe or now
        rep.best_signature_time = best

        claimed = rep.signing_time
        if claimed is not None and claimed < cert.not_before:
            rep.certificate_valid_at_signing_time = False
            return rep.fail(SubIndication.NOT_YET_VALID,
                            f"the signing time {claimed:%Y-%m-%d %H:%M:%SZ} is before the certificate's notBefore")
        if poe and claimed and claimed > poe + timedelta(minutes=5):
            rep.warnings.append("the claimed signing time is later than the signature timestamp")
        if claimed and claimed > now + timedelta(minutes=5):
            rep.warnings.append("the claimed signing time is in the future")

        problem = cert.signer_problem
        if problem is None:
            problem = cert.signer_problem = _signer_constraints(cert)
        if problem:
            return rep.fail(SubIndication.SIG_CONSTRAINTS_FAILURE, problem)

        sub, message, path = self._check_certificate(cert, certs, best, poe, now, rep)
        rep.certificate_valid_at_signing_time = cert.valid_at(best) if claimed is None else (
            cert.valid_at(best) and cert.valid_at(claimed))
        if sub is not None:
            return rep.fail(sub, message)
        rep.certificate_verified = True
        rep.indication = Indication.TOTAL_PASSED
        return rep

    def _check_certificate(
        self,
        cert: CertInfo,
        certs: list[CertInfo],
        best: datetime,
        poe: datetime | None,
        now: datetime,
        rep: SignerReport | PathReport | None,
        *,
        what: str = "signing",
    ) -> tuple[SubIndication | None, str, list[CertInfo]]:
        """Path, validity at *best*, revocation; (sub-indication or None, message, path)."""
        result = self._path(cert, certs)
        if not result.path:
            return result.sub, result.message, []
        path = result.path
        if rep is not None:
            rep.chain = [c.summary for c in path]
        # RFC 5280 4.1.2.5 encodes validity to the second: compare at that granularity
        second = best.replace(microsecond=0)
        for depth, c in enumerate(path):
            if c.not_before <= second <= c.not_after:
                continue
            role = _role(what, depth, c)
            if best < c.not_before:
                return (SubIndication.NOT_YET_VALID,
                        f"{role} was not yet valid at {best:%Y-%m-%d %H:%M:%SZ}", path)
            if best > c.not_after:
                if poe is not None:
                    return (SubIndication.EXPIRED,
                            f"{role} had expired ({c.not_after:%Y-%m-%d}) before the timestamp "
                            f"({poe:%Y-%m-%d %H:%M:%SZ})", path)
                return (SubIndication.OUT_OF_BOUNDS_NO_POE,
                        f"{role} expired on {c.not_after:%Y-%m-%d} and no timestamp proves the signature "
                        "existed before that", path)
        for depth, c in enumerate(path[:-1]):
            if c.der in self._roots:
                break
            st = self._revocation(c, path[depth + 1], now)
            if st is not None and st.status == "good":
                if rep is not None:
                    rep.revocation.append(st.summary(c.subject_str))
                continue
            role = _role(what, depth, c)
            if st is None:
                if self.require_revocation:
                    return (SubIndication.TRY_LATER,
                            f"no fresh CRL or OCSP answer for {role} (serial {c.serial:x}); try again when "
                            "revocation information is available", path)
                if rep is not None:
                    rep.warnings.append(f"revocation of {role} was not checked")
                continue
            if rep is not None:
                rep.revocation.append(st.summary(c.subject_str))
            if st.status == "unknown":
                return (SubIndication.TRY_LATER, f"the OCSP responder does not know {role}", path)
            if st.status == "revoked":
                when = st.revoked_at
                if poe is not None and when is not None and poe < when:
                    if rep is not None:
                        rep.warnings.append(
                            f"{role} was revoked on {when:%Y-%m-%d %H:%M:%SZ}, after the timestamp")
                    continue
                if poe is not None:
                    return (SubIndication.REVOKED,
                            f"{role} was revoked on {when:%Y-%m-%d %H:%M:%SZ}, before the signature "
                            f"timestamp ({poe:%Y-%m-%d %H:%M:%SZ})", path)
                sub = SubIndication.REVOKED_NO_POE if depth == 0 else SubIndication.REVOKED_CA_NO_POE
                return (sub, f"{role} was revoked on {when:%Y-%m-%d %H:%M:%SZ} and no timestamp proves "
                             "the signature is older", path)
        return None, "", path

    def _verify_core(
        self,
        si: der.SignerInfoView,
        content_type: str,
        content: bytes | BinaryFile | None,
        certs: list[CertInfo],
        digests: dict[str, bytes],
        rep: SignerReport,
    ) -> tuple[CertInfo, _Attrs] | None:
        """Signing certificate, signed attributes, digest and signature math; None after rep.fail()."""
        cert: CertInfo | None = None
        for pool in (certs, self._extra, self._roots.values()):
            for c in pool:
                if (c.serial == si.sid_serial and si.sid_issuer in (c.issuer, c.issuer_raw)) if si.sid_ski is None \
                        else c.ski == si.sid_ski:
                    cert = c
                    break
            if cert is not None:
                break
        digest_name = si.digest_name
        rep.digest_algorithm = digest_name
        rep.signature_algorithm = oids.SIGNATURE_NAMES.get(si.signature_oid, si.signature_oid)
        if cert is None:
            rep.fail(SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                     "the signer's certificate is neither in the signature nor among the known certificates")
            return None
        rep.name, rep.pinfl, rep.tin, rep.organisation = cert.name, cert.pinfl, cert.tin, cert.organisation
        rep.subject, rep.issuer = cert.subject_str, cert.summary.issuer
        rep.serial_number = cert.summary.serial_number

        if isinstance(cert.public_key, rsa.RSAPublicKey) and cert.public_key.key_size < algorithms.MIN_RSA_BITS:
            rep.fail(SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                     f"the signer's RSA key has {cert.public_key.key_size} bits; at least "
                     f"{algorithms.MIN_RSA_BITS} are required")
            return None
        if digest_name in _WEAK_DIGESTS:
            rep.fail(SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, f"digest algorithm {digest_name} is too weak")
            return None
        if digest_name not in _HASHES:
            rep.fail(SubIndication.FORMAT_FAILURE, f"unsupported digest algorithm {digest_name!r}")
            return None

        attrs: _Attrs = {}
        if si.signed_attrs_der is not None:
            seen: set[str] = set()
            for attr in si.signed_attrs:
                oid = attr.oid
                if oid in seen:
                    rep.fail(SubIndication.FORMAT_FAILURE, f"signed attribute {oid} appears twice")
                    return None
                seen.add(oid)
                value = attr.values[0]
                if oid == oids.ATTR_MESSAGE_DIGEST:
                    attrs["md"] = der.read_octets(value)
                elif oid == oids.ATTR_CONTENT_TYPE:
                    attrs["ct"] = der.read_oid(value)
                elif oid == oids.ATTR_SIGNING_TIME:
                    rep.signing_time = der.read_time(value)
                elif oid == oids.ATTR_SIGNING_CERT_V2:
                    attrs["scv2"] = value
                elif oid == oids.ATTR_SIGNING_CERT:
                    attrs["scv1"] = value
            if "md" not in attrs or "ct" not in attrs:
                rep.fail(SubIndication.FORMAT_FAILURE, "signed attributes lack message-digest or content-type")
                return None
            if attrs["ct"] != content_type:
                rep.fail(SubIndication.FORMAT_FAILURE,
                         "the content-type attribute does not match the encapsulated content type")
                return None
            signed_bytes = b"\x31" + si.signed_attrs_der[1:]
        elif content_type != DATA:
            # RFC 5652 5.3: only id-data may be signed bare; anything else needs its type bound by attributes
            rep.fail(SubIndication.FORMAT_FAILURE,
                     f"a signer without signed attributes over content type {content_type} (RFC 5652 5.3)")
            return None
        else:
            signed_bytes = None

        if content is None:
            rep.fail(SubIndication.SIGNED_DATA_NOT_FOUND,
                     "the signature is detached; pass the signed document to check it")
            return None
        actual = digests.get(digest_name)
        if actual is None:
            actual = digests[digest_name] = _digest(content, digest_name)
        if signed_bytes is not None:
            if not hmac.compare_digest(actual, attrs["md"]):
                rep.fail(SubIndication.HASH_FAILURE, "the document was changed after signing (message digest differs)")
                return None
        else:
            signed_bytes = content if isinstance(content, bytes) else _read_small(content)
            if signed_bytes is None:
                rep.fail(SubIndication.FORMAT_FAILURE,
                         "a signer without signed attributes over a document this big is not supported")
                return None
        try:
            _verify_signer_signature(cert.public_key, si.signature_oid, si.signature_params, digest_name,
                                     si.signature, signed_bytes)
        except InvalidSignature:
            rep.fail(SubIndication.SIG_CRYPTO_FAILURE,
                     "the signature value does not match the signed attributes and the signer's key")
            return None
        except _Unsupported as exc:
            rep.fail(SubIndication.FORMAT_FAILURE, str(exc))
            return None
        rep.verified = True

        if "scv2" in attrs or "scv1" in attrs:
            key = (attrs.get("scv2") or attrs["scv1"], cert.der)
            problem = self._scv.get(key)
            if problem is None:
                problem = _signing_certificate_problem(attrs, cert)
                if len(self._scv) > _MAX_CERT_CACHE:
                    self._scv.clear()
                self._scv[key] = problem
            if problem:
                rep.fail(SubIndication.NO_SIGNING_CERTIFICATE_FOUND, problem)
                return None
            attrs["cades"] = True
        else:
            rep.warnings.append("no signing-certificate-v2 attribute: a plain CMS signature, not CAdES")

        for attr in si.unsigned_attrs:
            if attr.oid == SIGNATURE_TIMESTAMP:
                attrs["timestamp"] = attr.values[0]
                break
        return cert, attrs

    # --- signature timestamps ----------------------------------------------------------------------

    def _timestamp(self, token_der: bytes, signature: bytes, certs: list[CertInfo], now: datetime) -> TimestampSummary:
        try:
            sd = der.read_signed_data(token_der, max_bytes=1 << 20, max_depth=self.max_depth)
            hash_name, hashed, gen_time = tst_info(sd)
            tst_der = sd.content
            token_certs = self._certs_of(sd)
            si = sd.signer_infos[0]
        except Exception as exc:  # noqa: BLE001
            return TimestampSummary(False, message=f"unreadable timestamp token: {exc}")
        ts = TimestampSummary(False, time=gen_time, hash_algorithm=hash_name)
        if hash_name not in _HASHES or hash_name in _WEAK_DIGESTS:
            ts.message = f"timestamp uses an unacceptable hash {hash_name}"
            return ts
        if not hmac.compare_digest(hashlib.new(hash_name, signature).digest(), hashed):
            ts.message = "the timestamp is over a different signature value"
            return ts
        inner = SignerReport(0, Indication.INDETERMINATE)
        core = self._verify_core(si, TST_INFO, tst_der, token_certs + certs, {}, inner)
        if core is None:
            ts.message = f"timestamp token: {inner.errors[-1]}"
            return ts
        tsa, tsa_attrs = core
        ts.tsa = tsa.subject_str
        if not tsa_attrs.get("cades"):
            ts.message = "the timestamp token does not name its TSA certificate (no signing-certificate attribute)"
            return ts
        problem = paths.timestamping_problem(tsa)
        if problem:
            ts.message = problem
            return ts
        sub, message, path = self._check_certificate(tsa, token_certs + certs, gen_time, gen_time, now, None,
                                                     what="TSA")
        ts.chain = [c.summary for c in path]
        if sub is not None:
            ts.message = f"{sub.value}: {message}"
            return ts
        ts.valid = True
        return ts


class _Unsupported(Exception):
    pass


def _digest(content: bytes | BinaryFile, name: str) -> bytes:
    if isinstance(content, (bytes, bytearray, memoryview)):
        return hashlib.new(name, content).digest()
    h = hashlib.new(name)
    content.seek(0)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while n := content.readinto(buf):
        h.update(view[:n])
    return h.digest()


def _same_content(embedded: bytes | BinaryFile, content: bytes | BinaryFile) -> bool:
    if not isinstance(embedded, (bytes, bytearray, memoryview)):  # both in files: compare in constant memory
        return _size(embedded) == _size(content) and _digest(embedded, "sha256") == _digest(content, "sha256")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return hmac.compare_digest(bytes(content), embedded)
    content.seek(0)
    view = memoryview(embedded)
    pos = 0
    while chunk := content.read(1 << 20):
        if view[pos:pos + len(chunk)] != chunk:
            return False
        pos += len(chunk)
    return pos == len(embedded)


def _read_small(stream: BinaryFile, limit: int = der.MAX_BYTES) -> bytes | None:
    stream.seek(0)
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _size(content: bytes | BinaryFile | None) -> int | None:
    if content is None or isinstance(content, (bytes, bytearray, memoryview)):
        return None if content is None else len(content)
    return content.seek(0, 2)


def _key_bits(c: CertInfo) -> bytes:
    """The subjectPublicKey BIT STRING's value (what OCSP key hashes are over)."""
    from asn1crypto import keys as a_keys

    spki = c.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bits: bytes = a_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    return bits


def _cert_id_names(single: ocsp.OCSPSingleResponse, cert: CertInfo, issuer: CertInfo) -> bool:
    """Does this single response's CertID name *issuer* (name and key), not just the serial?"""
    try:
        name = hashlib.new(single.hash_algorithm.name)
    except Exception:  # noqa: BLE001 - a hash we cannot compute names nothing we know
        return False
    key = name.copy()
    key.update(_key_bits(issuer))
    if not hmac.compare_digest(key.digest(), single.issuer_key_hash):
        return False
    names = []
    for raw in (cert.issuer_raw, cert.issuer):
        h = name.copy()
        h.update(raw)
        names.append(h.digest())
    return single.issuer_name_hash in names


def _role(what: str, depth: int, c: CertInfo) -> str:
    return f"the {what} certificate" if depth == 0 else f"CA certificate '{c.subject_str}'"


def _has_crl_number(crl: x509.CertificateRevocationList) -> bool:
    try:
        crl.extensions.get_extension_for_class(x509.CRLNumber)
        return True
    except x509.ExtensionNotFound:
        return False


def _signer_constraints(cert: CertInfo) -> str:
    ku = cert.key_usage
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return "the certificate's key usage allows neither digitalSignature nor nonRepudiation"
    if cert.eku is not None and not (cert.eku & oids.EKU_FOR_SIGNING):
        names = ", ".join(sorted(getattr(o, "_name", o.dotted_string) for o in cert.eku))
        return f"the certificate's extended key usage ({names}) does not allow signing documents"
    return ""


def _signing_certificate_problem(attrs: _Attrs, cert: CertInfo) -> str:
    try:
        if "scv2" in attrs:
            first = der.children(der.children(attrs["scv2"])[0])[0]
            parts = der.children(first)
            if parts[0][0] == 0x30:
                name = der.digest_name(der.read_oid(der.children(parts[0])[0]))
                cert_hash = der.read_octets(parts[1])
            else:
                name, cert_hash = "sha256", der.read_octets(parts[0])
            if name not in _HASHES:
                return f"signing-certificate-v2 uses an unsupported hash {name}"
        else:
            first = der.children(der.children(attrs["scv1"])[0])[0]
            name, cert_hash = "sha1", der.read_octets(der.children(first)[0])
    except (der.MalformedSignature, IndexError):
        return "the signing-certificate attribute is malformed"
    if not hmac.compare_digest(hashlib.new(name, cert.der).digest(), cert_hash):
        return "the signing-certificate-v2 attribute names a different certificate than the one that verifies"
    return ""


def _verify_signer_signature(
    pub: PublicKeyTypes, oid: str, params: bytes | None, digest_name: str, signature: bytes, data: bytes
) -> None:
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, data, ec.ECDSA(_HASHES[oids.ECDSA_HASH.get(oid, digest_name)]))
    elif isinstance(pub, rsa.RSAPublicKey):
        if oid == oids.RSA_PSS:
            from asn1crypto import algos as a_algos

            try:
                p = a_algos.RSASSAPSSParams.load(params or b"\x30\x00")
                h = p["hash_algorithm"]["algorithm"].native
                mgf_h = p["mask_gen_algorithm"]["parameters"]["algorithm"].native
                salt = p["salt_length"].native
            except Exception as exc:  # noqa: BLE001
                raise _Unsupported(f"unreadable RSA-PSS parameters: {exc}") from None
            if h not in _HASHES or mgf_h not in _HASHES or h in _WEAK_DIGESTS:
                raise _Unsupported(f"RSA-PSS with {h}/{mgf_h} is not supported")
            pub.verify(signature, data, padding.PSS(mgf=padding.MGF1(_HASHES[mgf_h]), salt_length=salt), _HASHES[h])
        else:
            pub.verify(signature, data, padding.PKCS1v15(), _HASHES[oids.RSA_PKCS1_HASH.get(oid, digest_name)])
    elif isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        pub.verify(signature, data)
    else:
        for alg in algorithms.REGISTRY.values():
            if alg.signature_oid == oid and alg.matches(pub):
                alg.verify(pub, signature, data)
                return
        raise _Unsupported(f"no verifier for signature algorithm {oid} with a {type(pub).__name__}")


def _verify_raw(pub: PublicKeyTypes, signature: bytes, data: bytes, h: hashes.HashAlgorithm | None) -> None:
    """An OCSP response's signature: ECDSA or RSA PKCS#1 v1.5 with *h*, or EdDSA (no *h*)."""
    if isinstance(pub, ec.EllipticCurvePublicKey) and h is not None:
        pub.verify(signature, data, ec.ECDSA(h))
    elif isinstance(pub, rsa.RSAPublicKey) and h is not None:
        pub.verify(signature, data, padding.PKCS1v15(), h)
    elif isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        pub.verify(signature, data)
    else:
        raise _Unsupported(f"no OCSP signature check for a {type(pub).__name__} with hash {h and h.name}")


def validate(
    signature: bytes,
    content: bytes | None = None,
    *,
    trust_roots: Iterable[x509.Certificate],
    intermediates: Iterable[x509.Certificate] = (),
    crls: Iterable[x509.CertificateRevocationList] = (),
    ocsp_fetcher: OcspFetcher | None = None,
    require_revocation: bool = True,
    at: datetime | None = None,
) -> ValidationReport:
    """One-off validation; build a `Validator` once instead when checking many signatures."""
    return Validator(
        trust_roots, intermediates=intermediates, crls=crls, ocsp_fetcher=ocsp_fetcher,
        require_revocation=require_revocation,
    ).validate(signature, content, at=at)
