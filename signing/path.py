"""Certification path validation (RFC 5280 §6) under our document-signing policy, in one place.

Signature validation (`signing.validate`), the OCSP-responder and CRL-issuer checks and the TSA
check (`signing.tsa`) all build and judge paths here, so a rule holds everywhere or nowhere.

A path runs from the certificate in question up to a trust anchor; the anchor's own extensions
count (its basicConstraints, pathLenConstraint, name constraints, key), as browsers and the x509-limbo
conformance suite treat them. Policy-tree processing (§6.1.3(d)-(f)) is not done: we require no
particular policy, so certificatePolicies only have to be well-formed.

Why not `cryptography.x509.verification`: it knows RSA and ECDSA keys only, its profile is the
CA/Browser Forum's (server/client TLS), and it reports "no path" without the ETSI sub-indication
we owe the caller; keeping one implementation means Ed25519 and national-algorithm chains are judged
by exactly the same rules.

`validate_path` is the public call: a certificate, its intermediates and a time in, a `PathReport` out.
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from . import algorithms, der, oids
from .report import CertificateSummary, PathReport, SubIndication

#: Intermediates (not counting self-issued ones) a path may have unless the caller says otherwise
MAX_INTERMEDIATES = 6
#: Issuer candidates one path search may try: real chains need a handful; certificates that all issue
#: each other (one key, one name) would otherwise make the depth-first search exponential
MAX_PATH_STEPS = 256
#: Complete paths judged per search: each judgement may cost up to MAX_NAME_CHECKS, so many alternative
#: anchored paths (cross-signed CAs all round) must not multiply it
MAX_PATHS_JUDGED = 16
#: RFC 5280 4.1.2.2: "Conforming CAs MUST NOT use serialNumber values longer than 20 octets"
MAX_SERIAL_OCTETS = 20
#: Curves we accept in any certificate of a path: a small curve (P-192) is forgeable by a state actor
SAFE_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
#: Names and name constraints examined per path: RFC 5280 lets every name be checked against every
#: subtree, so a hostile chain of large SANs and NameConstraints could otherwise take quadratic time
MAX_NAME_CHECKS = 1 << 16

#: Critical extensions this module understands (RFC 5280 §6.1.3: any other critical one fails the path).
#: Certificate policies, policy mappings and inhibitAnyPolicy are accepted unprocessed: we ask for no
#: policy (initial-policy-set anyPolicy, no explicit policy), so they cannot make a path valid.
_UNDERSTOOD = frozenset({
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.POLICY_MAPPINGS, ExtensionOID.INHIBIT_ANY_POLICY,
})
#: RFC 5280 4.2.1.1 / 4.2.1.2: "Conforming CAs MUST mark this extension as non-critical"
_NEVER_CRITICAL = {ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "authorityKeyIdentifier",
                   ExtensionOID.SUBJECT_KEY_IDENTIFIER: "subjectKeyIdentifier"}
#: RFC 5280 4.2.1.10 / 4.2.1.11: "Conforming CAs MUST mark this extension as critical"
_ALWAYS_CRITICAL = {ExtensionOID.NAME_CONSTRAINTS: "nameConstraints",
                    ExtensionOID.POLICY_CONSTRAINTS: "policyConstraints"}


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    v = values[0].value
    return v if isinstance(v, str) else v.decode("utf-8", "replace")


def _raw_issuer(cert_der: bytes) -> bytes:
    """The issuer Name exactly as encoded in the certificate (cryptography re-encodes names)."""
    fields = der.children(der.children(cert_der)[0])
    return fields[3] if fields[0][0] == 0xA0 else fields[2]


class CertInfo:
    """One certificate, parsed once, with what path building, the policy checks and reports need."""

    __slots__ = (
        "der", "cert", "subject", "issuer", "serial", "not_before", "not_after", "ski", "aki", "is_ca",
        "path_length", "key_usage", "eku", "eku_critical", "public_key", "summary", "name", "pinfl", "tin",
        "organisation", "subject_str", "self_issued", "issuer_raw", "signer_problem", "defect",
        "bc_critical", "names", "san_critical", "name_constraints",
    )

    def __init__(self, der_bytes: bytes) -> None:
        cert = x509.load_der_x509_certificate(der_bytes)
        self.der = der_bytes
        self.cert = cert
        subject, issuer = cert.subject, cert.issuer  # each property access parses the name again
        self.subject = subject.public_bytes()
        self.issuer = issuer.public_bytes()
        self.self_issued = self.subject == self.issuer
        self.issuer_raw = _raw_issuer(der_bytes)
        self.signer_problem: str | None = None  # filled in on first use as a signing certificate
        self.serial = cert.serial_number
        self.not_before = cert.not_valid_before_utc
        self.not_after = cert.not_valid_after_utc
        ext = cert.extensions
        by_oid = {e.oid: e for e in ext}  # one pass; get_extension_for_class walks the list each time
        e = by_oid.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        self.ski = e.value.digest if e else None
        e = by_oid.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        self.aki = e.value.key_identifier if e else None
        e = by_oid.get(ExtensionOID.BASIC_CONSTRAINTS)
        self.is_ca: bool
        self.path_length: int | None
        self.bc_critical: bool
        self.is_ca, self.path_length, self.bc_critical = (e.value.ca, e.value.path_length, e.critical) if e \
            else (False, None, False)
        e = by_oid.get(ExtensionOID.KEY_USAGE)
        self.key_usage = e.value if e else None
        e = by_oid.get(ExtensionOID.EXTENDED_KEY_USAGE)
        self.eku: set[x509.ObjectIdentifier] | None
        self.eku_critical: bool
        self.eku, self.eku_critical = (set(e.value), e.critical) if e else (None, False)
        e = by_oid.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        self.names: list[x509.GeneralName] = list(e.value) if e else []
        self.san_critical = bool(e and e.critical)
        e = by_oid.get(ExtensionOID.NAME_CONSTRAINTS)
        self.name_constraints = e.value if e else None
        self.public_key = cert.public_key()
        self.subject_str = oids.display_name(subject)
        self.name = _attr(subject, NameOID.COMMON_NAME)
        self.pinfl = _attr(subject, oids.PINFL)
        self.tin = _attr(subject, oids.TIN)
        self.organisation = _attr(subject, NameOID.ORGANIZATION_NAME)
        self.summary = CertificateSummary(
            subject=self.subject_str,
            issuer=oids.display_name(issuer),
            serial_number=format(self.serial, "x"),
            not_before=self.not_before,
            not_after=self.not_after,
            sha256=hashlib.sha256(der_bytes).hexdigest(),
        )
        self.defect = _defect(self, ext)

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


def load(der_bytes: bytes) -> CertInfo | None:
    """The certificate parsed, or None if `cryptography` refuses it or only tolerates it with a warning."""
    try:
        with warnings.catch_warnings():
            # a certificate cryptography only tolerates today (negative serial...) is not usable
            warnings.simplefilter("error", CryptographyDeprecationWarning)
            return CertInfo(der_bytes)
    except Exception:  # noqa: BLE001 - an unreadable certificate is simply not usable
        return None


def key_problem(pub: object) -> str:
    """Why *pub* is too weak (or unknown) to be trusted in a path, or ''."""
    if isinstance(pub, rsa.RSAPublicKey):
        if pub.key_size < algorithms.MIN_RSA_BITS:
            return f"an RSA key of {pub.key_size} bits (at least {algorithms.MIN_RSA_BITS} are required)"
        return ""
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "" if pub.curve.name in SAFE_CURVES else f"an EC key on curve {pub.curve.name}, which is not accepted"
    if isinstance(pub, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return ""
    if any(a.matches(pub) for a in algorithms.REGISTRY.values()):
        return ""
    return f"a {type(pub).__name__.lstrip('_')} key, which is not accepted"


def _defect(c: CertInfo, exts: x509.Extensions) -> tuple[SubIndication, str] | None:
    """What makes *c* unfit for any path, wherever it stands: (sub-indication, message), or None."""
    failed = SubIndication.CHAIN_CONSTRAINTS_FAILURE
    who = f"'{c.subject_str}'"
    for e in exts:
        if e.critical and e.oid not in _UNDERSTOOD:
            return failed, f"{who} has an unknown critical extension {e.oid.dotted_string} (RFC 5280 §6.1.3)"
        if e.critical and e.oid in _NEVER_CRITICAL:
            return failed, f"{who} marks {_NEVER_CRITICAL[e.oid]} critical (RFC 5280 4.2.1)"
        if not e.critical and e.oid in _ALWAYS_CRITICAL:
            return failed, f"{who} does not mark {_ALWAYS_CRITICAL[e.oid]} critical (RFC 5280 4.2.1)"
    # the DER INTEGER's content octets, sign bit included
    if c.serial <= 0 or (c.serial.bit_length() + 8) // 8 > MAX_SERIAL_OCTETS:
        return failed, (f"{who} has a serial number that is not a positive integer of at most "
                        f"{MAX_SERIAL_OCTETS} octets (RFC 5280 4.1.2.2)")
    weak = key_problem(c.public_key)
    if weak:
        return SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, f"{who} has {weak}"
    if c.key_usage is not None and c.key_usage.key_cert_sign and not c.is_ca:
        return failed, f"{who} asserts keyCertSign without being a CA (RFC 5280 4.2.1.3)"
    if c.name_constraints is not None and not c.is_ca:
        return failed, f"{who} is not a CA but carries name constraints (RFC 5280 4.2.1.10)"
    if c.issuer == _EMPTY_NAME:
        return failed, f"{who} has an empty issuer name (RFC 5280 4.1.2.4)"
    if c.subject == _EMPTY_NAME and not c.san_critical:
        return failed, f"{who} has an empty subject and no critical subjectAltName (RFC 5280 4.2.1.6)"
    for name in c.names:
        if isinstance(name, x509.DNSName) and not _dns_ok(name.value, wildcard=True):
            return failed, f"{who} has a subjectAltName dNSName {name.value!r}, not a DNS name (RFC 5280 4.2.1.6)"
    for base in _subtrees(c.name_constraints):
        if isinstance(base, x509.DNSName) and not _dns_ok(base.value, wildcard=False):
            return failed, f"{who} has a malformed dNSName constraint {base.value!r} (RFC 5280 4.2.1.10)"
    if _explicit_curve(c.der):
        return SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, \
            f"{who} has an EC key with explicit curve parameters (RFC 5480 2.1.1: named curves only)"
    return None


def _subtrees(ncs: x509.NameConstraints | None) -> list[x509.GeneralName]:
    if ncs is None:
        return []
    return list(ncs.permitted_subtrees or ()) + list(ncs.excluded_subtrees or ())


_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_EMPTY_NAME = b"\x30\x00"


def _explicit_curve(cert_der: bytes) -> bool:
    """Is the key an EC key whose curve is spelt out rather than named? (a curve of the signer's choosing)"""
    fields = der.children(der.children(cert_der)[0])
    if fields[0][0] == 0xA0:
        fields = fields[1:]
    alg = der.children(der.children(fields[5])[0])
    return alg[0] == _EC_PUBLIC_KEY and len(alg) > 1 and alg[1][0] == 0x30


def ca_problem(ca: CertInfo) -> str:
    """Why *ca* may not issue certificates at all (RFC 5280 4.2.1.2, 4.2.1.3, 4.2.1.9), or ''."""
    if not ca.is_ca:
        return f"'{ca.subject_str}' is not a CA (basicConstraints) but issued a certificate"
    if not ca.bc_critical:
        return f"'{ca.subject_str}' does not mark basicConstraints critical (RFC 5280 4.2.1.9)"
    if ca.key_usage is not None and not ca.key_usage.key_cert_sign:
        return f"'{ca.subject_str}' lacks the keyCertSign key usage"
    if ca.ski is None:
        return f"'{ca.subject_str}' is a CA without a subjectKeyIdentifier (RFC 5280 4.2.1.2)"
    if ca.subject == _EMPTY_NAME:
        return "a CA certificate has an empty subject (RFC 5280 4.1.2.6)"
    return ""


def timestamping_problem(tsa: CertInfo) -> str:
    """RFC 3161 §2.3: a TSA certificate has the timeStamping extended key usage, marked critical."""
    if not tsa.eku or ExtendedKeyUsageOID.TIME_STAMPING not in tsa.eku or not tsa.eku_critical:
        return "the timestamp's signer is not a TSA (no critical timeStamping extended key usage, RFC 3161 §2.3)"
    return ""


@dataclass
class PathResult:
    """A built path (leaf first, trust anchor last), or why there is none."""

    path: list[CertInfo] = field(default_factory=list)
    sub: SubIndication | None = None
    message: str = ""


class PathBuilder:
    """Builds and judges paths to fixed trust anchors, remembering verified certificate signatures."""

    def __init__(self, roots: Iterable[CertInfo], extra: Sequence[CertInfo] = (), *,
                 max_intermediates: int = MAX_INTERMEDIATES, cache_size: int = 4096) -> None:
        self.roots = {r.der: r for r in roots}
        self.extra = list(extra)
        self.max_intermediates = max_intermediates
        self._issued: dict[tuple[bytes, bytes], bool] = {}
        self._cache_size = cache_size

    def issued_by(self, child: CertInfo, parent: CertInfo) -> bool:
        """Does *parent*'s key verify *child*'s signature (cached)?"""
        key = (child.der, parent.der)
        ok = self._issued.get(key)
        if ok is None:
            try:
                child.cert.verify_directly_issued_by(parent.cert)
                ok = True
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                ok = False
            if len(self._issued) > self._cache_size:
                self._issued.clear()
            self._issued[key] = ok
        return ok

    def build(self, leaf: CertInfo, pool: Sequence[CertInfo], max_intermediates: int | None = None) -> PathResult:
        """The first path from *leaf* to an anchor that passes every §6 check; else the last reason."""
        limit = self.max_intermediates if max_intermediates is None else max_intermediates
        candidates = list(self.roots.values()) + list(pool) + self.extra
        problem: tuple[SubIndication, str] | None = None
        budget = MAX_PATH_STEPS
        judged = 0

        def issuers(c: CertInfo) -> list[CertInfo]:
            found = [p for p in candidates if p.subject == c.issuer and p.der != c.der]
            if c.aki:
                found = [p for p in found if p.ski is None or p.ski == c.aki]
            # trust anchors first, then distinct certificates once each
            seen: set[bytes] = set()
            out = []
            for p in sorted(found, key=lambda p: p.der not in self.roots):
                if p.der not in seen:
                    seen.add(p.der)
                    out.append(p)
            return out

        def walk(path: list[CertInfo]) -> list[CertInfo] | None:
            nonlocal problem, budget, judged
            cur = path[-1]
            if cur.der in self.roots:
                judged += 1
                if judged > MAX_PATHS_JUDGED:
                    budget = -1
                    return None
                found = judge(path, limit)
                if found is None:
                    return path
                problem = found
                return None
            # self-issued certificates do not count against the limit, but they cannot be endless
            if len(path) > limit + 1 + MAX_INTERMEDIATES:
                return None
            for parent in issuers(cur):
                if parent in path:
                    continue
                budget -= 1
                if budget < 0:
                    return None
                if not self.issued_by(cur, parent):
                    continue
                done = walk(path + [parent])
                if done:
                    return done
            return None

        path = walk([leaf])
        if path:
            return PathResult(path)
        if problem:
            return PathResult([], *problem)
        return PathResult(
            [], SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            f"no path from '{leaf.subject_str}' (issued by '{leaf.summary.issuer}') to a trusted root",
        )


def judge(path: Sequence[CertInfo], max_intermediates: int = MAX_INTERMEDIATES) -> tuple[SubIndication, str] | None:
    """RFC 5280 §6.1 over *path* (leaf first, anchor last), validity and revocation aside; None if it holds."""
    for c in path:
        if c.defect:
            return c.defect
    for c in path[:-1]:
        # RFC 5280 4.2.1.1: the keyIdentifier is required in every certificate but a self-signed one; the
        # anchor is trusted as configured (§6.1.1(d): its name and key), whatever it carries
        if not c.self_issued and c.aki is None:
            return (SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                    f"'{c.subject_str}' has no authorityKeyIdentifier (RFC 5280 4.2.1.1)")
    intermediates = sum(1 for c in path[1:-1] if not c.self_issued)
    if intermediates > max_intermediates:
        return (SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                f"the path has {intermediates} intermediate CAs; at most {max_intermediates} are allowed")
    # §6.1.4 (k)-(m), from the anchor down; max_path_length counts non-self-issued CAs below it
    max_len: int | None = None
    for i in range(len(path) - 1, 0, -1):
        ca = path[i]
        problem = ca_problem(ca)
        if problem:
            return SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem
        if i != len(path) - 1 and not ca.self_issued:
            if max_len is not None and max_len <= 0:
                return (SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                        f"'{ca.subject_str}' exceeds the pathLenConstraint of a CA above it (RFC 5280 6.1.4(l))")
            if max_len is not None:
                max_len -= 1
        if ca.path_length is not None and (max_len is None or ca.path_length < max_len):
            max_len = ca.path_length
    problem = _names_problem(path)
    if problem:
        return SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem
    return None


# --- name constraints (RFC 5280 4.2.1.10, 6.1.3(b)(c), 6.1.4(g)) ---------------------------------------

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_CHECKED = (x509.DNSName, x509.RFC822Name, x509.IPAddress, x509.DirectoryName)


def _dns_ok(name: str, *, wildcard: bool) -> bool:
    """A DNS name in preferred name syntax (RFC 1034 3.5, RFC 1123 2.1), optionally '*.' first; not an IP."""
    labels = name.lower().split(".")
    if wildcard and len(labels) > 2 and labels[0] == "*":
        labels = labels[1:]
    if labels[-1].isdigit():  # "192.0.2.1" is an address, not a host name
        return False
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _dns_within(name: str, base: str) -> bool:
    name, base = name.lower(), base.lower()
    if base.startswith("."):
        return name.endswith(base)
    return not base or name == base or name.endswith("." + base)


def _email_ok(addr: str) -> bool:
    local, at, host = addr.rpartition("@")
    return bool(at and local and "@" not in local and _dns_ok(host, wildcard=False))


def _email_within(addr: str, base: str) -> bool:
    local, _, host = addr.rpartition("@")
    if "@" in base:  # one mailbox: local part exact, host case-insensitive
        b_local, _, b_host = base.rpartition("@")
        return local == b_local and host.lower() == b_host.lower()
    if base.startswith("."):  # any host under the domain
        return host.lower().endswith(base.lower())
    return host.lower() == base.lower()  # every mailbox on that one host


def _rdn_key(rdn: x509.RelativeDistinguishedName) -> frozenset[tuple[x509.ObjectIdentifier, str]]:
    """RFC 4518-ish comparison: case and inner whitespace do not matter."""
    return frozenset((a.oid, " ".join(str(a.value).casefold().split())) for a in rdn)


def _dn_within(name: x509.Name, base: x509.Name) -> bool:
    n, b = list(name.rdns), list(base.rdns)
    return len(b) <= len(n) and all(_rdn_key(x) == _rdn_key(y) for x, y in zip(n, b, strict=False))


def _within(name: x509.GeneralName, base: x509.GeneralName) -> bool:
    if isinstance(name, x509.DNSName):
        if name.value.startswith("*."):  # a wildcard stands for every name under it
            rest = name.value[2:]
            return _dns_within(rest, base.value) and _dns_within("x." + rest, base.value)
        return _dns_within(name.value, base.value)
    if isinstance(name, x509.RFC822Name):
        return _email_within(name.value, base.value)
    if isinstance(name, x509.IPAddress):
        return isinstance(base.value, (ipaddress.IPv4Network, ipaddress.IPv6Network)) \
            and name.value.version == base.value.version and name.value in base.value
    return _dn_within(name.value, base.value)


def _touches(name: x509.GeneralName, base: x509.GeneralName) -> bool:
    """Could *name* stand for anything in the excluded subtree *base* (wildcards included)?"""
    if isinstance(name, x509.DNSName) and name.value.startswith("*."):
        rest = name.value[2:].lower()
        b = base.value.lower().lstrip(".")
        return _dns_within(rest, base.value) or b.endswith("." + rest)
    return _within(name, base)


def _syntax_ok(name: x509.GeneralName) -> bool:
    if isinstance(name, x509.DNSName):
        return _dns_ok(name.value, wildcard=True)
    if isinstance(name, x509.RFC822Name):
        return _email_ok(name.value)
    return True


def _names_of(c: CertInfo) -> list[x509.GeneralName]:
    """The names constraints apply to: the subject (if not empty), its e-mail attributes, the SAN."""
    out: list[x509.GeneralName] = list(c.names)
    subject = c.cert.subject
    if subject.rdns:
        out.append(x509.DirectoryName(subject))
        out += [x509.RFC822Name(str(a.value)) for a in subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]
    return out


def _names_problem(path: Sequence[CertInfo]) -> str:
    permitted: dict[type, list[list[x509.GeneralName]]] = {}  # per name type, each CA's subtrees: all must hold
    excluded: dict[type, list[x509.GeneralName]] = {}
    checks = 0
    for i in range(len(path) - 1, -1, -1):
        c = path[i]
        if i != len(path) - 1 and (i == 0 or not c.self_issued) and (permitted or excluded):
            for name in _names_of(c):
                kind = type(name)
                if kind not in permitted and kind not in excluded:
                    continue
                if not isinstance(name, _CHECKED):
                    return f"'{c.subject_str}' has a {kind.__name__} name, which name constraints above it cover " \
                           "and we cannot check"
                if not _syntax_ok(name):
                    return f"'{c.subject_str}' has a malformed name {name.value!r} under name constraints"
                checks += sum(len(s) for s in permitted.get(kind, ())) + len(excluded.get(kind, ()))
                if checks > MAX_NAME_CHECKS:
                    return "the path's names and name constraints are too many to check"
                if any(_touches(name, b) for b in excluded.get(kind, ())):
                    return f"'{c.subject_str}' has the name {_show(name)}, which a CA above it excludes"
                if not all(any(_within(name, b) for b in subtrees) for subtrees in permitted.get(kind, ())):
                    return f"'{c.subject_str}' has the name {_show(name)}, outside what a CA above it permits"
        ncs = c.name_constraints
        if ncs is not None and i != 0:
            for base in ncs.excluded_subtrees or ():
                excluded.setdefault(type(base), []).append(base)
            mine: dict[type, list[x509.GeneralName]] = {}
            for base in ncs.permitted_subtrees or ():
                mine.setdefault(type(base), []).append(base)
            for kind, subtrees in mine.items():
                permitted.setdefault(kind, []).append(subtrees)
    return ""


def _show(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return f"'{oids.display_name(name.value)}'"
    return f"'{name.value}'"


def validate_path(
    cert: x509.Certificate,
    intermediates: Iterable[x509.Certificate] = (),
    *,
    trust_roots: Iterable[x509.Certificate],
    at: datetime | None = None,
    crls: Iterable[x509.CertificateRevocationList] = (),
    ocsp_fetcher: Callable[[bytes, "str | None"], bytes] | None = None,
    require_revocation: bool = True,
    max_depth: int = MAX_INTERMEDIATES,
) -> PathReport:
    """Is *cert* trustworthy at *at* (default now)? RFC 5280 §6 plus validity and revocation.

    *max_depth* is the most intermediate CAs the path may have (self-issued ones not counted).
    The report is TOTAL-PASSED, or INDETERMINATE / TOTAL-FAILED with the ETSI sub-indication; it
    never raises for a hostile certificate. For many calls build one `signing.validate.Validator`
    and use its `validate_certificate`, which keeps its caches.
    """
    from .validate import Validator  # the Validator owns the revocation caches; it imports this module

    validator = Validator(trust_roots, crls=crls, ocsp_fetcher=ocsp_fetcher,
                          require_revocation=require_revocation, max_chain_depth=max_depth)
    return validator.validate_certificate(cert, intermediates, at=at)
