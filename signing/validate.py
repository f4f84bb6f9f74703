"""Validate CMS/CAdES signatures and say why, in the ETSI EN 319 102-1 vocabulary.

For each signer: format, signing certificate, message digest, signature mathematics, the
signing-certificate-v2 binding, a path to a trust anchor (issuer/subject + AKI/SKI, signatures,
basicConstraints, keyUsage), validity at the best signature time (a valid signature timestamp's time,
else now), revocation (CRL or OCSP, cached until nextUpdate) and the signer's key usage.

A `Validator` keeps what it learned between calls (parsed certificates, verified certificate
signatures, paths, revocation answers), which is what makes bulk validation fast. Hostile input never
raises: it becomes a FORMAT_FAILURE report.
"""
from __future__ import annotations

import hashlib
import hmac
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Callable, Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import algorithms, cmsfile, der, encoding
from .cms import DATA, SIGNATURE_TIMESTAMP, TST_INFO, tst_info
from .report import (
    CertificateSummary,
    Indication,
    RevocationSummary,
    SignerReport,
    SubIndication,
    TimestampSummary,
    ValidationReport,
)

#: Subject attribute OIDs of Uzbek certificates (national arc 1.2.860.3.16.1.*)
PINFL_OID = x509.ObjectIdentifier("1.2.860.3.16.1.2")
TIN_OID = x509.ObjectIdentifier("1.2.860.3.16.1.1")

#: How names are spelled in reports (the E-IMZO field names instead of dotted OIDs)
_NAMES = {PINFL_OID: "PINFL", TIN_OID: "TIN", NameOID.GIVEN_NAME: "GIVENNAME", NameOID.SURNAME: "SURNAME",
          NameOID.TITLE: "T"}

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
_ECDSA_HASH = {
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
_RSA_PKCS1_HASH = {
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_RSA_PSS = "1.2.840.113549.1.1.10"
_EKU_FOR_SIGNING = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.CODE_SIGNING,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning (RFC 9336)
    x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
    x509.ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe authentic documents trust
}
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
_ATTR_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
_ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
_MAX_PATH = 8
_CLOCK_SKEW = timedelta(minutes=5)
#: Issuer candidates one path search may try: real chains need a handful; certificates that all issue
#: each other (one key, one name) would otherwise make the depth-first search exponential
_MAX_PATH_STEPS = 256
#: Entries per cache (paths, revocation answers...) before it starts afresh
_MAX_CACHE = 100_000
#: The same for caches any signature fills with certificates of its choosing (parsed certificates,
#: issuer-signature checks, signing-certificate checks): ~7 kB an entry, so kept smaller
_MAX_CERT_CACHE = 4096


def _now() -> datetime:
    return datetime.now(timezone.utc)


class CertInfo:
    """One certificate, parsed once, with what path building and the report need."""

    __slots__ = (
        "der", "cert", "subject", "issuer", "serial", "not_before", "not_after", "ski", "aki", "is_ca",
        "path_length", "key_usage", "eku", "eku_critical", "public_key", "summary", "name", "pinfl", "tin",
        "organisation", "subject_str", "self_issued", "issuer_raw", "signer_problem",
    )

    def __init__(self, der_bytes: bytes) -> None:
        cert = x509.load_der_x509_certificate(der_bytes)
        self.der = der_bytes
        self.cert = cert
        self.subject = cert.subject.public_bytes()
        self.issuer = cert.issuer.public_bytes()
        self.self_issued = self.subject == self.issuer
        self.issuer_raw = _raw_issuer(der_bytes)
        self.signer_problem: str | None = None  # filled in on first use as a signing certificate
        self.serial = cert.serial_number
        self.not_before = cert.not_valid_before_utc
        self.not_after = cert.not_valid_after_utc
        ext = cert.extensions
        self.ski = _ext(ext, x509.SubjectKeyIdentifier, lambda v: v.digest)
        self.aki = _ext(ext, x509.AuthorityKeyIdentifier, lambda v: v.key_identifier)
        bc = _ext(ext, x509.BasicConstraints, lambda v: v)
        self.is_ca = bool(bc and bc.ca)
        self.path_length = bc.path_length if bc else None
        self.key_usage = _ext(ext, x509.KeyUsage, lambda v: v)
        try:
            e = ext.get_extension_for_class(x509.ExtendedKeyUsage)
            self.eku, self.eku_critical = set(e.value), e.critical
        except x509.ExtensionNotFound:
            self.eku, self.eku_critical = None, False
        self.public_key = cert.public_key()
        self.subject_str = cert.subject.rfc4514_string(_NAMES)
        self.name = _attr(cert.subject, NameOID.COMMON_NAME)
        self.pinfl = _attr(cert.subject, PINFL_OID)
        self.tin = _attr(cert.subject, TIN_OID)
        self.organisation = _attr(cert.subject, NameOID.ORGANIZATION_NAME)
        self.summary = CertificateSummary(
            subject=self.subject_str,
            issuer=cert.issuer.rfc4514_string(_NAMES),
            serial_number=format(self.serial, "x"),
            not_before=self.not_before,
            not_after=self.not_after,
            sha256=hashlib.sha256(der_bytes).hexdigest(),
        )

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


def _raw_issuer(cert_der: bytes) -> bytes:
    """The issuer Name exactly as encoded in the certificate (cryptography re-encodes names)."""
    fields = der.children(der.children(cert_der)[0])
    return fields[3] if fields[0][0] == 0xA0 else fields[2]


def _ext(exts: x509.Extensions, cls: type, pick: Callable) -> object:
    try:
        return pick(exts.get_extension_for_class(cls).value)
    except x509.ExtensionNotFound:
        return None


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    v = values[0].value
    return v if isinstance(v, str) else v.decode("utf-8", "replace")


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


@dataclass
class _PathResult:
    path: list[CertInfo] = field(default_factory=list)  # leaf first, trust anchor last
    sub: SubIndication | None = None
    message: str = ""


class Validator:
    """Validates signatures against fixed trust anchors, with caches that live as long as it does.

    *crls* are x509.CertificateRevocationList objects (add fresher ones with `add_crl`);
    *ocsp_fetcher(request_der, url)* asks a responder. With *require_revocation* (the default) a
    certificate without a fresh CRL entry or OCSP answer makes the signer INDETERMINATE/TRY_LATER.
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
    ) -> None:
        self._certs: dict[bytes, CertInfo | None] = {}
        self._roots: dict[bytes, CertInfo] = {}
        for c in trust_roots:
            info = self._info(c.public_bytes(serialization.Encoding.DER))
            assert info is not None
            self._roots[info.der] = info
        if not self._roots:
            raise ValueError("a validator needs at least one trust anchor")
        self._extra: list[CertInfo] = [
            i for i in (self._info(c.public_bytes(serialization.Encoding.DER)) for c in intermediates) if i
        ]
        self._crls: dict[bytes, list[x509.CertificateRevocationList]] = {}
        self._ocsp = ocsp_fetcher
        self.require_revocation = require_revocation
        self._ocsp_ttl = timedelta(seconds=ocsp_cache_seconds)
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._issued: dict[tuple[bytes, bytes], bool] = {}
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
        self, signature: bytes | BinaryIO, content: bytes | BinaryIO | None = None, *, at: datetime | None = None
    ) -> ValidationReport:
        """One report for *signature* (DER, PEM or base64; attached, or detached with *content*), as of *at*.

        *content* may be an open binary file: a detached signature over a big document is then checked
        in constant memory (the file is read once per digest algorithm the signers use). *signature*
        may be an open binary file too: an attached one is then checked in constant memory, its
        document hashed where it lies in the file (`signing.cmsfile`).
        """
        now = at or _now()
        try:
            if hasattr(signature, "readinto"):
                sd, embedded = cmsfile.read(signature, max_bytes=self.max_bytes, max_depth=self.max_depth)
            else:
                blob = encoding.signature_der(signature, max_bytes=self.max_bytes)
                sd = der.read_signed_data(blob, max_bytes=self.max_bytes, max_depth=self.max_depth)
                embedded = sd.content
            ctype = sd.content_type
            attached = embedded is not None
            if attached and content is None:
                content = embedded
            elif attached and not _same_content(embedded, content):
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

    # --- certificates and paths --------------------------------------------------------------------

    def _info(self, der_bytes: bytes) -> CertInfo | None:
        try:
            return self._certs[der_bytes]
        except KeyError:
            pass
        try:
            with warnings.catch_warnings():
                # a certificate cryptography only tolerates today (negative serial...) is not usable
                warnings.simplefilter("error", CryptographyDeprecationWarning)
                info: CertInfo | None = CertInfo(der_bytes)
        except Exception:  # noqa: BLE001 - an unreadable certificate is simply not usable
            info = None
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

    def _issued_by(self, child: CertInfo, parent: CertInfo) -> bool:
        key = (child.der, parent.der)
        ok = self._issued.get(key)
        if ok is None:
            try:
                child.cert.verify_directly_issued_by(parent.cert)
                ok = True
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                ok = False
            if len(self._issued) > _MAX_CERT_CACHE:
                self._issued.clear()
            self._issued[key] = ok
        return ok

    def _path(self, leaf: CertInfo, pool: Sequence[CertInfo]) -> _PathResult:
        cached = self._paths.get(leaf.der)
        if cached is not None and cached.path:
            return cached
        result = self._build(leaf, pool)
        if result.path:
            if len(self._paths) > _MAX_CACHE:
                self._paths.clear()
            self._paths[leaf.der] = result
        return result

    def _build(self, leaf: CertInfo, pool: Sequence[CertInfo]) -> _PathResult:
        candidates = list(self._roots.values()) + list(pool) + self._extra
        constraint_error = ""
        budget = _MAX_PATH_STEPS

        def issuers(c: CertInfo) -> list[CertInfo]:
            found = [p for p in candidates if p.subject == c.issuer and p.der != c.der]
            if c.aki:
                found = [p for p in found if p.ski is None or p.ski == c.aki]
            # trust anchors first
            return sorted(found, key=lambda p: p.der not in self._roots)

        def walk(path: list[CertInfo]) -> list[CertInfo] | None:
            nonlocal constraint_error, budget
            cur = path[-1]
            if cur.der in self._roots:
                return path
            if len(path) > _MAX_PATH:
                return None
            for parent in issuers(cur):
                if parent in path:
                    continue
                budget -= 1
                if budget < 0:
                    return None
                if not self._issued_by(cur, parent):
                    continue
                problem = _ca_problem(parent, len(path) - 1)
                if problem:
                    constraint_error = problem
                    continue
                done = walk(path + [parent])
                if done:
                    return done
            return None

        path = walk([leaf])
        if path:
            return _PathResult(path)
        if constraint_error:
            return _PathResult([], SubIndication.CHAIN_CONSTRAINTS_FAILURE, constraint_error)
        return _PathResult(
            [], SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            f"no path from '{leaf.subject_str}' (issued by '{leaf.summary.issuer}') to a trusted root",
        )

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
                    # does not list every revocation, and one without nextUpdate never goes stale: not usable
                    ok = (crl.next_update_utc is not None and not any(e.critical for e in crl.extensions)
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
            if (info and info.eku and ExtendedKeyUsageOID.OCSP_SIGNING in info.eku
                    and info.valid_at(when) and info.valid_at(resp.produced_at_utc)
                    and self._issued_by(info, issuer)):
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
        content: bytes | None,
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
        rep: SignerReport | None,
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
        for depth, c in enumerate(path):
            if c.not_before <= best <= c.not_after:
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
        content: bytes | None,
        certs: list[CertInfo],
        digests: dict[str, bytes],
        rep: SignerReport,
    ) -> tuple[CertInfo, dict] | None:
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
        rep.signature_algorithm = der.SIGNATURE_NAMES.get(si.signature_oid, si.signature_oid)
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

        attrs: dict = {}
        if si.signed_attrs_der is not None:
            seen: set[str] = set()
            for attr in si.signed_attrs:
                oid = attr.oid
                if oid in seen:
                    rep.fail(SubIndication.FORMAT_FAILURE, f"signed attribute {oid} appears twice")
                    return None
                seen.add(oid)
                value = attr.values[0]
                if oid == _ATTR_MESSAGE_DIGEST:
                    attrs["md"] = der.read_octets(value)
                elif oid == _ATTR_CONTENT_TYPE:
                    attrs["ct"] = der.read_oid(value)
                elif oid == _ATTR_SIGNING_TIME:
                    rep.signing_time = der.read_time(value)
                elif oid == _ATTR_SIGNING_CERT_V2:
                    attrs["scv2"] = value
                elif oid == _ATTR_SIGNING_CERT:
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
        if not tsa.eku or ExtendedKeyUsageOID.TIME_STAMPING not in tsa.eku or not tsa.eku_critical:
            ts.message = "the timestamp's signer is not a TSA (no critical timeStamping extended key usage)"
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


def _digest(content: bytes | BinaryIO, name: str) -> bytes:
    if isinstance(content, (bytes, bytearray, memoryview)):
        return hashlib.new(name, content).digest()
    h = hashlib.new(name)
    content.seek(0)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while n := content.readinto(buf):
        h.update(view[:n])
    return h.digest()


def _same_content(embedded: bytes | BinaryIO, content: bytes | BinaryIO) -> bool:
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


def _read_small(stream: BinaryIO, limit: int = der.MAX_BYTES) -> bytes | None:
    stream.seek(0)
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _size(content: bytes | BinaryIO | None) -> int | None:
    if content is None or isinstance(content, (bytes, bytearray, memoryview)):
        return None if content is None else len(content)
    return content.seek(0, 2)


def _key_bits(c: CertInfo) -> bytes:
    """The subjectPublicKey BIT STRING's value (what OCSP key hashes are over)."""
    from asn1crypto import keys as a_keys

    spki = c.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a_keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]


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


def _ca_problem(ca: CertInfo, below: int) -> str:
    """Why *ca* may not issue certificates *below* levels under it, or ''."""
    if not ca.is_ca:
        return f"'{ca.subject_str}' is not a CA (basicConstraints) but issued a certificate"
    if ca.key_usage is not None and not ca.key_usage.key_cert_sign:
        return f"'{ca.subject_str}' lacks the keyCertSign key usage"
    if ca.path_length is not None and below > ca.path_length:
        return f"'{ca.subject_str}' allows a path length of {ca.path_length}, the chain needs {below}"
    return ""


def _signer_constraints(cert: CertInfo) -> str:
    ku = cert.key_usage
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return "the certificate's key usage allows neither digitalSignature nor nonRepudiation"
    if cert.eku is not None and not (cert.eku & _EKU_FOR_SIGNING):
        names = ", ".join(sorted(getattr(o, "_name", o.dotted_string) for o in cert.eku))
        return f"the certificate's extended key usage ({names}) does not allow signing documents"
    return ""


def _signing_certificate_problem(attrs: dict, cert: CertInfo) -> str:
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
    pub: object, oid: str, params: bytes | None, digest_name: str, signature: bytes, data: bytes
) -> None:
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, data, ec.ECDSA(_HASHES[_ECDSA_HASH.get(oid, digest_name)]))
    elif isinstance(pub, rsa.RSAPublicKey):
        if oid == _RSA_PSS:
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
            pub.verify(signature, data, padding.PKCS1v15(), _HASHES[_RSA_PKCS1_HASH.get(oid, digest_name)])
    elif isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        pub.verify(signature, data)
    else:
        for alg in algorithms.REGISTRY.values():
            if alg.signature_oid == oid and alg.matches(pub):
                alg.verify(pub, signature, data)
                return
        raise _Unsupported(f"no verifier for signature algorithm {oid} with a {type(pub).__name__}")


def _verify_raw(pub: object, signature: bytes, data: bytes, h: hashes.HashAlgorithm | None) -> None:
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, data, ec.ECDSA(h))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, data, padding.PKCS1v15(), h)
    else:
        pub.verify(signature, data)


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
