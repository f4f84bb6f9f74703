"""CAdES-T end to end with part A's real CA, OCSP responder and TSA; and bad timestamps refused."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from signing import algorithms, cms, der, oids, tsa, x509_signing
from signing.ca import CertificateAuthority
from signing.errors import SigningError
from signing.report import Indication, SubIndication
from signing.validate import Validator

from signing_pki import NOW, PKI, TestTSA

DOC = b"Javob: chiroq 3 kun ichida tuzatiladi.\n"
PASSWORD = b"ca-password"


class RealPKI:
    """Part A's CertificateAuthority with a citizen, an employee and a TSA."""

    def __init__(self, folder: Path) -> None:
        self.ca = CertificateAuthority.create(folder, PASSWORD, kdf_rounds=1000)
        self.tsa_key = algorithms.DEFAULT.generate()
        self.tsa_cert = self.ca.issue_tsa_certificate(self.tsa_key.public_key())
        self.authority = tsa.TimestampAuthority(self.tsa_key, self.tsa_cert, chain=[self.ca.issuing_certificate])
        self.ocsp_calls = 0

    def person(self, pinfl: str, *, profile: str = "citizen") -> cms.Signer:
        key = algorithms.DEFAULT.generate()
        attrs = [(NameOID.COUNTRY_NAME, "UZ"), (NameOID.COMMON_NAME, "Dilnoza Rahimova"),
                 (NameOID.SURNAME, "Rahimova"), (NameOID.GIVEN_NAME, "Dilnoza"), (oids.PINFL, pinfl)]
        if profile == "employee":
            attrs += [(NameOID.ORGANIZATION_NAME, "Yunusobod tumani hokimligi"), (NameOID.TITLE, "bosh mutaxassis"),
                      (oids.TIN, "201234567")]
        csr = x509_signing.sign(
            x509.CertificateSigningRequestBuilder().subject_name(
                x509.Name([x509.NameAttribute(o, v) for o, v in attrs])), key)
        cert = self.ca.issue(csr, profile=profile)
        return cms.Signer(key, cert, [self.ca.issuing_certificate])

    def timestamper(self, digest: bytes, hash_name: str) -> tsa.TimestampToken:
        return tsa.request_timestamp(digest, hash_name=hash_name, authority=self.authority)

    def ocsp(self, request_der: bytes, url: str | None) -> bytes:
        self.ocsp_calls += 1
        return self.ca.ocsp_respond(request_der)

    def validator(self) -> Validator:
        return Validator([self.ca.root_certificate], ocsp_fetcher=self.ocsp)


@pytest.fixture
def real(tmp_path: Path) -> RealPKI:
    return RealPKI(tmp_path / "ca")


def test_cades_t_with_real_ca_tsa_and_ocsp(real: RealPKI) -> None:
    signer = real.person("32301940190066")
    sig = cms.sign(DOC, signer)
    stamped, which = cms.add_timestamp(sig, real.timestamper)
    assert which == [0]
    report = real.validator().validate(stamped)
    assert report.passed, report.to_json()
    s = report.signers[0]
    assert s.signature_format == "CAdES-BASELINE-T"
    assert s.pinfl == "32301940190066"
    assert s.timestamp is not None and s.timestamp.valid and s.timestamp.tsa.startswith("CN=Yagona Timestamp")
    assert abs(s.timestamp_time - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert {r.source for r in s.revocation} == {"ocsp"}
    # part A's own token checker agrees on the token we embedded
    token = der.read_signed_data(stamped).signer_infos[0].unsigned_attrs[0].values[0]
    signature = der.read_signed_data(sig).signer_infos[0].signature
    info = tsa.verify_timestamp_token(token, hashlib.sha256(signature).digest(),
                                      [real.ca.root_certificate])
    assert info.gen_time == s.timestamp_time


def test_revocation_before_and_after_the_real_timestamp(real: RealPKI) -> None:
    early, late = real.person("32301940190067"), real.person("32301940190068")
    stamped_early, _ = cms.add_timestamp(cms.sign(DOC, early), real.timestamper)
    # the TSA stamps "late" at the first second both its certificate and late's are valid; the CA revokes later
    tsa_start = max(real.tsa_cert.not_valid_before_utc, late.certificate.not_valid_before_utc)

    def early_stamp(digest: bytes, hash_name: str) -> bytes:
        return tsa.parse_response(real.authority.respond(tsa.build_request(digest, hash_name), now=tsa_start))

    stamped_late, _ = cms.add_timestamp(cms.sign(DOC, late, signing_time=tsa_start), early_stamp)
    real.ca.revoke(early.certificate.serial_number, x509.ReasonFlags.key_compromise,
                   at=datetime.now(timezone.utc) - timedelta(hours=1))
    while datetime.now(timezone.utc).replace(microsecond=0) <= tsa_start:  # at most one second
        time.sleep(0.05)
    real.ca.revoke(late.certificate.serial_number, x509.ReasonFlags.superseded)
    v = real.validator()
    r1 = v.validate(stamped_early)
    assert (r1.indication, r1.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    r2 = v.validate(stamped_late)
    assert r2.passed, r2.to_json()
    assert r2.signers[0].revocation[0].status == "revoked" and r2.signers[0].timestamp_time == tsa_start
    # the same revoked key without a timestamp: no proof of when it signed
    r3 = v.validate(cms.sign(DOC, late))
    assert (r3.indication, r3.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)


def test_crl_from_real_ca(real: RealPKI) -> None:
    signer = real.person("32301940190069")
    sig = cms.sign(DOC, signer, detached=True)
    real.ca.revoke(signer.certificate.serial_number)
    v = Validator([real.ca.root_certificate], crls=[real.ca.crl(), real.ca.root_crl()])
    r = v.validate(sig, DOC)
    assert (r.indication, r.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)
    assert r.signers[0].revocation[0].source == "crl"


def test_officer_cosigns_and_only_new_signer_is_stamped(real: RealPKI) -> None:
    citizen, officer = real.person("32301940190070"), real.person("32301940190071", profile="employee")
    first, _ = cms.add_timestamp(cms.sign(DOC, citizen), real.timestamper)
    both = cms.cosign(first, officer)
    again, which = cms.add_timestamp(both, real.timestamper)
    assert which == [1]  # the citizen's signer already had a timestamp
    report = real.validator().validate(again)
    assert report.passed and [s.signature_format for s in report.signers] == ["CAdES-BASELINE-T"] * 2
    assert report.signers[1].tin == "201234567"
    same, none = cms.add_timestamp(again, real.timestamper)
    assert none == [] and same == again


def test_timestamp_for_another_digest_is_refused(pki: PKI) -> None:
    tsa_ = pki.tsa()
    with pytest.raises(SigningError, match="stamped a different digest"):
        cms.add_timestamp(cms.sign(DOC, pki.citizen.signer()), lambda d, h: tsa_(bytes(32), h))
    with pytest.raises(SigningError, match="unreadable token"):
        cms.add_timestamp(cms.sign(DOC, pki.citizen.signer()), lambda d, h: b"\x30\x03\x02\x01\x01")
    with pytest.raises(SigningError, match="no signer number 3"):
        cms.add_timestamp(cms.sign(DOC, pki.citizen.signer()), tsa_, signers=[2])


def _expired_signature(pki: PKI) -> bytes:
    return cms.sign(DOC, pki.expired.signer(), signing_time=NOW - timedelta(days=2 * 365))


def test_timestamp_by_a_non_tsa_certificate_gives_no_proof(pki: PKI, validator: Validator) -> None:
    fake = TestTSA(pki.citizen, NOW - timedelta(days=2 * 365 - 1))  # a citizen key, no timeStamping EKU
    stamped, _ = cms.add_timestamp(_expired_signature(pki), fake)
    report = validator.validate(stamped)
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    s = report.signers[0]
    assert s.timestamp is not None and not s.timestamp.valid and "not a TSA" in s.timestamp.message
    assert s.timestamp_time is None and s.signature_format == "CAdES-BASELINE-B"


def test_timestamp_from_an_untrusted_tsa_gives_no_proof(pki: PKI) -> None:
    stamped, _ = cms.add_timestamp(_expired_signature(pki), pki.tsa(NOW - timedelta(days=2 * 365 - 1)))
    v = Validator([pki.root.cert], crls=pki.crls)
    assert v.validate(stamped).passed
    # a validator that trusts the signer's root but whose TSA chain is cut: give it a CA-less token
    from signing_pki import Party, certificate, name
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = Party(rogue_key, certificate(name("Rogue TSA"), rogue_key, pki.other_root, eku=[
        ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True, not_before=NOW - timedelta(days=5 * 365)))
    rogue.chain = []
    stamped2, _ = cms.add_timestamp(_expired_signature(pki), TestTSA(rogue, NOW - timedelta(days=2 * 365 - 1)))
    report = v.validate(stamped2)
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert "NO_CERTIFICATE_CHAIN_FOUND" in report.signers[0].timestamp.message


def test_tampered_timestamp_token_gives_no_proof(pki: PKI, validator: Validator) -> None:
    stamped, _ = cms.add_timestamp(_expired_signature(pki), pki.tsa(NOW - timedelta(days=2 * 365 - 1)))
    token = der.read_signed_data(stamped).signer_infos[0].unsigned_attrs[0].values[0]
    tsa_sig = der.read_signed_data(token).signer_infos[0].signature
    broken = stamped.replace(tsa_sig, bytes([tsa_sig[0], tsa_sig[1], tsa_sig[2] ^ 0x40]) + tsa_sig[3:])
    assert broken != stamped
    report = validator.validate(broken)
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert not report.signers[0].timestamp.valid
    # a token moved from another signature does not fit this one
    other, _ = cms.add_timestamp(cms.sign(DOC, pki.citizen.signer()), pki.tsa(NOW - timedelta(days=2 * 365 - 1)))
    other_token = der.read_signed_data(other).signer_infos[0].unsigned_attrs[0].values[0]
    view = der.read_signed_data(stamped)
    si = view.signer_infos[0]
    attr = der.tlv(0x30, bytes.fromhex("060b2a864886f70d010910020e") + der.tlv(0x31, other_token))
    moved = cms._rebuild(view, signer_infos_der=[der.tlv(0x30, si.der_without_unsigned + der.tlv(0xA1, attr))],
                         certificates_der=view.certificates, digest_algorithms_der=view.digest_algorithms,
                         content=view.content)
    report = validator.validate(moved)
    assert report.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
    assert "different signature value" in report.signers[0].timestamp.message
