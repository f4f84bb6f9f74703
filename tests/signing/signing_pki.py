"""A small real PKI for the signing tests, built with cryptography's x509 builders.

Root CA -> issuing CA -> leaves (citizen with PINFL, employee with TIN and organisation, expired,
wrong key usage, TSA, Ed25519, RSA-PSS, revoked ones), CRLs from both CAs, and a test TSA that
issues real RFC 3161 tokens signed with our own CMS code.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from asn1crypto import tsp as a_tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing import cms

PINFL = x509.ObjectIdentifier("1.2.860.3.16.1.2")
TIN = x509.ObjectIdentifier("1.2.860.3.16.1.1")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def name(cn: str, *, pinfl: str | None = None, tin: str | None = None, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if pinfl:
        attrs.append(x509.NameAttribute(PINFL, pinfl))
    if tin:
        attrs.append(x509.NameAttribute(TIN, tin))
    return x509.Name(attrs)


def _ku(**on: bool) -> x509.KeyUsage:
    base = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False)
    base.update(on)
    return x509.KeyUsage(**base)


@dataclass
class Party:
    key: object
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)

    def signer(self) -> cms.Signer:
        return cms.Signer(self.key, self.cert, self.chain)


def certificate(
    subject: x509.Name,
    key: object,
    issuer: Party | None,
    *,
    ca: bool = False,
    path_length: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_usage: x509.KeyUsage | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = False,
) -> x509.Certificate:
    pub = key.public_key()
    signing_key = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=365))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    if issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if key_usage is None:
        key_usage = _ku(key_cert_sign=True, crl_sign=True) if ca else _ku(digital_signature=True,
                                                                          content_commitment=True)
    b = b.add_extension(key_usage, critical=True)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    algo = None if isinstance(signing_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b.sign(signing_key, algo)


class TestTSA:
    """An RFC 3161 authority for tests: TSTInfo signed as CMS with a critical-timeStamping certificate."""

    __test__ = False

    def __init__(self, party: Party, gen_time: datetime | None = None) -> None:
        self.party = party
        self.signer = party.signer()
        self.gen_time = gen_time
        self._serial = itertools.count(1)

    def __call__(self, digest: bytes, hash_name: str = "sha256") -> bytes:
        when = self.gen_time or datetime.now(timezone.utc)
        tst = a_tsp.TSTInfo(
            {
                "version": "v1",
                "policy": "1.2.860.3.16.99.1",
                "message_imprint": {"hash_algorithm": {"algorithm": hash_name}, "hashed_message": digest},
                "serial_number": next(self._serial),
                "gen_time": when,
            }
        )
        return cms.sign(tst.dump(), self.signer, content_type=cms.TST_INFO, signing_time=when)


_crl_numbers = itertools.count(1)


class PKI:
    """Everything the tests need; built once per session."""

    def __init__(self) -> None:
        rk = ec.generate_private_key(ec.SECP256R1())
        self.root = Party(rk, certificate(name("Yagona Test Root CA", org="Yagona"), rk, None, ca=True,
                                          not_before=NOW - timedelta(days=3650),
                                          not_after=NOW + timedelta(days=3650)))
        ik = ec.generate_private_key(ec.SECP256R1())
        self.issuing = Party(ik, certificate(name("Yagona Test Issuing CA", org="Yagona"), ik, self.root,
                                             ca=True, path_length=0,
                                             not_before=NOW - timedelta(days=3000),
                                             not_after=NOW + timedelta(days=3000)))
        self.citizen = self.leaf("ALIYEV VALI", pinfl="31234567890123")
        self.employee = self.leaf("KARIMOVA NODIRA", pinfl="42345678901234", tin="301234567",
                                  org="Toshkent shahar hokimligi")
        self.expired = self.leaf("EXPIRED SIGNER", pinfl="51234567890123",
                                 not_before=NOW - timedelta(days=3 * 365), not_after=NOW - timedelta(days=365))
        self.no_ku = self.leaf("NO SIGNING USAGE", pinfl="61234567890123",
                               key_usage=_ku(key_agreement=True))
        self.tls_only = self.leaf("TLS ONLY", pinfl="61234567890124", eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        self.tsa_party = self.leaf("Yagona Test TSA", key_usage=_ku(digital_signature=True),
                                   eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True)
        self.old_tsa_party = self.leaf("Yagona Archive TSA", key_usage=_ku(digital_signature=True),
                                       eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
                                       not_before=NOW - timedelta(days=5 * 365))
        self.ed25519 = self.leaf("ED25519 SIGNER", pinfl="71234567890123", key=ed25519.Ed25519PrivateKey.generate())
        self.rsa = self.leaf("RSA SIGNER", pinfl="81234567890123",
                             key=rsa.generate_private_key(public_exponent=65537, key_size=3072))
        self.revoked_early = self.leaf("REVOKED EARLY", pinfl="91234567890123")
        self.revoked_late = self.leaf("REVOKED LATE", pinfl="91234567890124")
        self.revoked_at = {
            self.revoked_early.cert.serial_number: NOW - timedelta(days=20),
            self.revoked_late.cert.serial_number: NOW - timedelta(days=5),
        }
        self.crl = self.make_crl(self.issuing, self.revoked_at)
        self.root_crl = self.make_crl(self.root, {})
        ok = ec.generate_private_key(ec.SECP256R1())
        self.other_root = Party(ok, certificate(name("Some Other Root CA"), ok, None, ca=True))

    def leaf(self, cn: str, *, key: object | None = None, pinfl: str | None = None, tin: str | None = None,
             org: str | None = None, **kw: object) -> Party:
        key = key or ec.generate_private_key(ec.SECP256R1())
        cert = certificate(name(cn, pinfl=pinfl, tin=tin, org=org), key, self.issuing, **kw)
        return Party(key, cert, [self.issuing.cert])

    @staticmethod
    def make_crl(ca: Party, revoked: dict[int, datetime], *, next_update: datetime | None = None
                 ) -> x509.CertificateRevocationList:
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(NOW - timedelta(hours=1))
            .next_update(next_update or NOW + timedelta(days=7))
            .add_extension(x509.CRLNumber(next(_crl_numbers)), critical=False)
        )
        for serial, when in revoked.items():
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False).build()
            )
        return b.sign(ca.key, hashes.SHA256())

    def tsa(self, gen_time: datetime | None = None) -> TestTSA:
        """A TSA whose certificate is valid for the last five years (so old times can be stamped)."""
        return TestTSA(self.old_tsa_party, gen_time)

    @property
    def crls(self) -> list[x509.CertificateRevocationList]:
        return [self.crl, self.root_crl]
