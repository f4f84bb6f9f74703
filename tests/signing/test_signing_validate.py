"""Validation: what passes, and every refusal with its exact ETSI indication and sub-indication."""
from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from signing import cms, der
from signing.report import Indication, SubIndication
from signing.validate import Validator, validate

from signing_pki import NOW, PKI

DOC = "Murojaat: ko'cha chirog'ini tuzatib bering.\n".encode() * 20
PASSED = Indication.TOTAL_PASSED
FAILED = Indication.TOTAL_FAILED
INDET = Indication.INDETERMINATE


def only(report):
    """The single signer's (indication, sub-indication), checked against the overall result."""
    assert len(report.signers) == 1
    s = report.signers[0]
    assert (report.indication, report.sub_indication) == (s.indication, s.sub_indication)
    return s.indication, s.sub_indication


# --- what passes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["citizen", "employee", "ed25519", "rsa"])
@pytest.mark.parametrize("detached", [False, True])
def test_valid_signature_passes_with_identity_chain_and_revocation(pki: PKI, validator: Validator, who: str,
                                                                   detached: bool) -> None:
    party = getattr(pki, who)
    sig = cms.sign(DOC, party.signer(), detached=detached)
    report = validator.validate(sig, DOC if detached else None)
    assert only(report) == (PASSED, None)
    s = report.signers[0]
    assert s.verified and s.certificate_verified and s.certificate_valid_at_signing_time
    assert s.signature_format == "CAdES-BASELINE-B"
    assert s.name == party.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert [c.subject for c in s.chain][1:] == [pki.issuing.cert.subject.rfc4514_string(),
                                                pki.root.cert.subject.rfc4514_string()]
    assert [r.status for r in s.revocation] == ["good", "good"]
    assert report.detached is detached and report.content_size == len(DOC)


def test_report_names_pinfl_and_tin_and_serialises_to_json(pki: PKI, validator: Validator) -> None:
    report = validator.validate(cms.sign(DOC, pki.employee.signer()))
    data = json.loads(report.to_json())
    signer = data["signers"][0]
    assert data["indication"] == "TOTAL-PASSED" and data["valid_signatures_count"] == 1
    assert (signer["pinfl"], signer["tin"], signer["organisation"]) == (
        "42345678901234", "301234567", "Toshkent shahar hokimligi")
    assert signer["signing_time"].endswith("Z") and signer["chain"][0]["serial_number"] == format(
        pki.employee.cert.serial_number, "x")


def test_one_shot_validate_function(pki: PKI) -> None:
    sig = cms.sign(DOC, pki.citizen.signer(), detached=True)
    assert validate(sig, DOC, trust_roots=[pki.root.cert], crls=pki.crls).passed
    # without revocation sources and without requiring them, the report says so in a warning
    report = validate(sig, DOC, trust_roots=[pki.root.cert], require_revocation=False)
    assert report.passed and any("revocation" in w for w in report.signers[0].warnings)


# --- content and signature refusals -----------------------------------------------------------------


def test_altered_content_is_hash_failure(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer())
    altered = sig.replace(b"chirog'ini", b"chirog'IMI")
    assert altered != sig
    report = validator.validate(altered)
    assert only(report) == (FAILED, SubIndication.HASH_FAILURE)
    assert "changed after signing" in report.signers[0].errors[0]
    # detached: the wrong document
    det = cms.sign(DOC, pki.citizen.signer(), detached=True)
    assert only(validator.validate(det, DOC + b"!")) == (FAILED, SubIndication.HASH_FAILURE)


def test_altered_signed_attributes_is_sig_crypto_failure(pki: PKI, validator: Validator) -> None:
    when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    sig = cms.sign(DOC, pki.citizen.signer(), signing_time=when)
    stamp = b"\x17\x0d260301093000Z"
    assert sig.count(stamp) == 1
    altered = sig.replace(stamp, b"\x17\x0d250301093000Z")  # back-dated by a year
    report = validator.validate(altered)
    assert only(report) == (FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert report.signers[0].verified is False


def test_altered_content_and_digest_attribute_is_sig_crypto_failure(pki: PKI, validator: Validator) -> None:
    import hashlib

    sig = cms.sign(DOC, pki.citizen.signer())
    other = DOC.replace(b"chirog'ini", b"chirog'IMI")
    forged = sig.replace(DOC, other).replace(hashlib.sha256(DOC).digest(), hashlib.sha256(other).digest())
    assert only(validator.validate(forged)) == (FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_altered_signature_value_is_sig_crypto_failure(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.ed25519.signer())
    view = der.read_signed_data(sig)
    value = view.signer_infos[0].signature
    flipped = bytes([value[0] ^ 1]) + value[1:]
    assert only(validator.validate(sig.replace(value, flipped))) == (FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_detached_without_the_document_is_signed_data_not_found(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer(), detached=True)
    assert only(validator.validate(sig)) == (INDET, SubIndication.SIGNED_DATA_NOT_FOUND)


def test_missing_signer_certificate_is_no_signing_certificate_found(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer())
    view = der.read_signed_data(sig)
    stripped = cms._rebuild(view, signer_infos_der=[view.signer_infos[0].der], certificates_der=[],
                            digest_algorithms_der=view.digest_algorithms, content=view.content)
    assert only(validator.validate(stripped)) == (INDET, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)


def test_swapped_certificate_is_no_signing_certificate_found(pki: PKI, validator: Validator) -> None:
    """A certificate re-issued for the same key (same issuer/serial sid) must not silently stand in."""
    from signing_pki import certificate, name

    twin = certificate(name("IMPOSTOR", pinfl="11111111111111"), pki.citizen.key, pki.issuing)
    twin = x509.load_der_x509_certificate(twin.public_bytes(serialization.Encoding.DER))
    sig = cms.sign(DOC, pki.citizen.signer())
    view = der.read_signed_data(sig)
    # replace the signer's certificate with one claiming the same serial would need the CA; instead put the
    # twin first and make the sid point at it: the signing-certificate-v2 hash still names the original.
    si = view.signer_infos[0]
    new_sid = cms.Signer(pki.citizen.key, twin, [pki.issuing.cert]).sid_der
    tampered_si = si.der.replace(pki.citizen.signer().sid_der, new_sid)
    forged = cms._rebuild(view, signer_infos_der=[tampered_si],
                          certificates_der=[twin.public_bytes(serialization.Encoding.DER), *view.certificates[1:]],
                          digest_algorithms_der=view.digest_algorithms, content=view.content)
    report = validator.validate(forged)
    assert only(report) == (INDET, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert "signing-certificate-v2" in report.signers[0].errors[0]


# --- certificate refusals ---------------------------------------------------------------------------


def test_wrong_trust_anchor_is_no_certificate_chain_found(pki: PKI) -> None:
    v = Validator([pki.other_root.cert], crls=pki.crls)
    report = v.validate(cms.sign(DOC, pki.citizen.signer()))
    assert only(report) == (INDET, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert "Yagona Test Issuing CA" in report.signers[0].errors[0]
    assert report.signers[0].verified is True and report.signers[0].certificate_verified is False


def test_expired_certificate_without_timestamp_is_out_of_bounds_no_poe(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.expired.signer(), signing_time=NOW - timedelta(days=2 * 365))
    report = validator.validate(sig)
    assert only(report) == (INDET, SubIndication.OUT_OF_BOUNDS_NO_POE)
    assert report.signers[0].certificate_valid_at_signing_time is False


def test_expired_certificate_with_timestamp_inside_validity_passes(pki: PKI, validator: Validator) -> None:
    signed_at = NOW - timedelta(days=2 * 365)
    sig = cms.sign(DOC, pki.expired.signer(), signing_time=signed_at)
    stamped, _ = cms.add_timestamp(sig, pki.tsa(signed_at + timedelta(minutes=1)))
    report = validator.validate(stamped)
    assert only(report) == (PASSED, None)
    s = report.signers[0]
    assert s.signature_format == "CAdES-BASELINE-T"
    assert s.timestamp_time == signed_at + timedelta(minutes=1) == s.best_signature_time


def test_expired_certificate_timestamped_after_expiry_is_expired(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.expired.signer(), signing_time=NOW - timedelta(days=2 * 365))
    stamped, _ = cms.add_timestamp(sig, pki.tsa(NOW - timedelta(days=100)))
    assert only(validator.validate(stamped)) == (FAILED, SubIndication.EXPIRED)


def test_signing_time_before_certificate_start_is_not_yet_valid(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer(), signing_time=NOW - timedelta(days=400))
    assert only(validator.validate(sig)) == (FAILED, SubIndication.NOT_YET_VALID)


def test_revoked_without_timestamp_is_revoked_no_poe(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.revoked_late.signer(), signing_time=NOW - timedelta(days=10))
    report = validator.validate(sig)
    assert only(report) == (INDET, SubIndication.REVOKED_NO_POE)
    assert report.signers[0].revocation[0].status == "revoked"
    assert report.signers[0].revocation[0].reason == "key_compromise"


def test_revoked_before_the_timestamp_is_revoked(pki: PKI, validator: Validator) -> None:
    # revoked 20 days ago, timestamp proves the signature only from 10 days ago
    sig = cms.sign(DOC, pki.revoked_early.signer(), signing_time=NOW - timedelta(days=10))
    stamped, _ = cms.add_timestamp(sig, pki.tsa(NOW - timedelta(days=10)))
    report = validator.validate(stamped)
    assert only(report) == (FAILED, SubIndication.REVOKED)
    assert "before the signature timestamp" in report.signers[0].errors[0]


def test_revoked_after_the_timestamp_passes(pki: PKI, validator: Validator) -> None:
    # revoked 5 days ago, timestamped 10 days ago: the signature was made while the key was good
    sig = cms.sign(DOC, pki.revoked_late.signer(), signing_time=NOW - timedelta(days=10))
    stamped, _ = cms.add_timestamp(sig, pki.tsa(NOW - timedelta(days=10)))
    report = validator.validate(stamped)
    assert only(report) == (PASSED, None)
    assert any("after the timestamp" in w for w in report.signers[0].warnings)


def test_wrong_key_usage_is_sig_constraints_failure(pki: PKI, validator: Validator) -> None:
    report = validator.validate(cms.sign(DOC, pki.no_ku.signer()))
    assert only(report) == (INDET, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert "digitalSignature" in report.signers[0].errors[0]


def test_tls_only_extended_key_usage_is_sig_constraints_failure(pki: PKI, validator: Validator) -> None:
    assert only(validator.validate(cms.sign(DOC, pki.tls_only.signer()))) == (
        INDET, SubIndication.SIG_CONSTRAINTS_FAILURE)


def test_leaf_acting_as_ca_is_chain_constraints_failure(pki: PKI) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from signing_pki import Party, certificate, name

    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(name("ISSUED BY A LEAF", pinfl="12121212121212"), key, pki.citizen)
    party = Party(key, cert, [pki.citizen.cert, pki.issuing.cert])
    v = Validator([pki.root.cert], crls=pki.crls)
    assert only(v.validate(cms.sign(DOC, party.signer()))) == (INDET, SubIndication.CHAIN_CONSTRAINTS_FAILURE)


def test_no_revocation_information_is_try_later(pki: PKI) -> None:
    v = Validator([pki.root.cert])  # no CRL, no OCSP
    report = v.validate(cms.sign(DOC, pki.citizen.signer()))
    assert only(report) == (INDET, SubIndication.TRY_LATER)
    assert "no fresh CRL or OCSP" in report.signers[0].errors[0]


def test_stale_crl_is_try_later(pki: PKI) -> None:
    stale = pki.make_crl(pki.issuing, {}, next_update=NOW - timedelta(minutes=1))
    v = Validator([pki.root.cert], crls=[stale, pki.root_crl])
    assert only(v.validate(cms.sign(DOC, pki.citizen.signer()))) == (INDET, SubIndication.TRY_LATER)


def test_crl_signed_by_someone_else_is_ignored(pki: PKI) -> None:
    forged = pki.make_crl(pki.other_root, {})
    forged_named = (
        x509.CertificateRevocationListBuilder().issuer_name(pki.issuing.cert.subject)
        .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=1))
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(pki.other_root.key, hashes.SHA256())
    )
    v = Validator([pki.root.cert], crls=[forged, forged_named, pki.root_crl])
    assert only(v.validate(cms.sign(DOC, pki.citizen.signer()))) == (INDET, SubIndication.TRY_LATER)


def test_fresher_crl_added_later_reports_revocation(pki: PKI) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    party = pki.leaf("SOON REVOKED", pinfl="13131313131313", key=ec.generate_private_key(ec.SECP256R1()))
    v = Validator([pki.root.cert], crls=pki.crls)
    sig = cms.sign(DOC, party.signer())
    assert v.validate(sig).passed
    v.add_crl(pki.make_crl(pki.issuing, {party.cert.serial_number: NOW - timedelta(minutes=1)}))
    assert only(v.validate(sig)) == (INDET, SubIndication.REVOKED_NO_POE)


# --- OCSP -------------------------------------------------------------------------------------------


class Responder:
    """An OCSP responder for the test issuing CA, counting how often it is asked."""

    def __init__(self, pki: PKI, revoked: dict[int, datetime]) -> None:
        self.pki, self.revoked, self.calls = pki, revoked, 0

    def __call__(self, request_der: bytes, url: str | None) -> bytes:
        self.calls += 1
        req = ocsp.load_der_ocsp_request(request_der)
        issuer = self.pki.issuing if req.serial_number != self.pki.issuing.cert.serial_number else self.pki.root
        cert = next(p.cert for p in vars(self.pki).values()
                    if hasattr(p, "cert") and p.cert.serial_number == req.serial_number)
        when = self.revoked.get(req.serial_number)
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=issuer.cert, algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if when else ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - timedelta(minutes=5), next_update=NOW + timedelta(hours=1),
            revocation_time=when, revocation_reason=x509.ReasonFlags.key_compromise if when else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        return b.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_ocsp_answers_are_used_and_cached(pki: PKI) -> None:
    responder = Responder(pki, pki.revoked_at)
    v = Validator([pki.root.cert], ocsp_fetcher=responder)
    sig = cms.sign(DOC, pki.citizen.signer())
    for _ in range(5):
        report = v.validate(sig)
        assert report.passed
    assert [r.source for r in report.signers[0].revocation] == ["ocsp", "ocsp"]
    assert responder.calls == 2  # leaf and issuing CA once each, then from the cache
    revoked = v.validate(cms.sign(DOC, pki.revoked_early.signer()))
    assert only(revoked) == (INDET, SubIndication.REVOKED_NO_POE)
    assert revoked.signers[0].revocation[0].source == "ocsp"


def test_ocsp_answer_from_wrong_key_is_not_trusted(pki: PKI) -> None:
    good = Responder(pki, {})

    def forged(request_der: bytes, url: str | None) -> bytes:
        req = ocsp.load_der_ocsp_request(request_der)
        cert = next(p.cert for p in vars(pki).values()
                    if hasattr(p, "cert") and p.cert.serial_number == req.serial_number)
        issuer = pki.issuing if cert.issuer == pki.issuing.cert.subject else pki.root
        return ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=issuer.cert, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW, next_update=NOW + timedelta(hours=1), revocation_time=None, revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.NAME, pki.other_root.cert).sign(
            pki.other_root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    assert good.calls == 0
    v = Validator([pki.root.cert], ocsp_fetcher=forged)
    assert only(v.validate(cms.sign(DOC, pki.citizen.signer()))) == (INDET, SubIndication.TRY_LATER)


def test_unreachable_ocsp_responder_is_try_later(pki: PKI) -> None:
    def down(request_der: bytes, url: str | None) -> bytes:
        raise OSError("connection refused")

    v = Validator([pki.root.cert], ocsp_fetcher=down)
    assert only(v.validate(cms.sign(DOC, pki.citizen.signer()))) == (INDET, SubIndication.TRY_LATER)


# --- hostile DER ------------------------------------------------------------------------------------


def format_failure(report) -> str:
    assert (report.indication, report.sub_indication) == (FAILED, SubIndication.FORMAT_FAILURE)
    assert report.signers == [] and report.errors
    json.dumps(report.to_dict())
    return report.errors[0]


def test_truncated_der_is_format_failure(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer())
    for cut in list(range(0, 60)) + list(range(60, len(sig), 37)) + [len(sig) - 1]:
        message = format_failure(validator.validate(sig[:cut]))
        assert "truncated" in message or "empty" in message or "impossible length" in message


def test_garbage_is_format_failure(pki: PKI, validator: Validator) -> None:
    rng = random.Random(1)
    samples = [b"\x00", b"hello, world", b"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n",
               pki.citizen.cert.public_bytes(serialization.Encoding.DER),  # valid DER, not CMS
               bytes(rng.getrandbits(8) for _ in range(4096))]
    for blob in samples:
        format_failure(validator.validate(blob))
    assert "not signed data" in format_failure(validator.validate(
        der.tlv(0x30, bytes.fromhex("06092a864886f70d010701") + der.tlv(0xA0, der.tlv(0x04, b"x")))))
    format_failure(validator.validate("not bytes"))  # type: ignore[arg-type]


def test_huge_der_is_format_failure(pki: PKI) -> None:
    v = Validator([pki.root.cert], crls=pki.crls, max_bytes=1 << 20)
    big = cms.sign(os.urandom(2 << 20), pki.citizen.signer())
    assert "limit is 1048576 bytes" in format_failure(v.validate(big))
    # a header that claims 2 GiB inside a small blob
    assert "truncated" in format_failure(v.validate(b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 100))
    # the default cap is 64 MiB
    assert der.MAX_BYTES == 64 * 1024 * 1024


def test_deeply_nested_der_is_format_failure(pki: PKI, validator: Validator) -> None:
    nested = b"\x05\x00"
    for _ in range(5000):
        nested = der.tlv(0x30, nested)
    format_failure(validator.validate(nested))
    indefinite = b"\x30\x80" * 100_000 + b"\x00\x00" * 100_000
    assert "deeper than" in format_failure(validator.validate(indefinite))
    # nesting inside an otherwise valid ContentInfo, in BER so the asn1crypto path would see it
    inner = b"\x30\x80" * 1000 + b"\x00\x00" * 1000
    wrapped = b"\x30\x80" + bytes.fromhex("06092a864886f70d010702") + b"\xa0\x80" + inner + b"\x00\x00" * 2
    assert "deeper than" in format_failure(validator.validate(wrapped))


def test_random_corruption_never_raises(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer())
    rng = random.Random(7)
    outcomes = set()
    for _ in range(400):
        b = bytearray(sig)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        report = validator.validate(bytes(b))
        json.dumps(report.to_dict())
        outcomes.add((report.indication, report.sub_indication))
    assert (FAILED, SubIndication.FORMAT_FAILURE) in outcomes
    assert len(outcomes) >= 3


def test_ber_signature_from_other_tools_is_read(pki: PKI, validator: Validator) -> None:
    """Indefinite-length BER (what `openssl cms -sign -stream` writes) is normalised, not refused."""
    sig = cms.sign(DOC, pki.citizen.signer())
    view = der.read_signed_data(sig)
    # rebuild the outer ContentInfo with indefinite lengths around an unchanged SignedData
    sd = der.content_of(der.children(sig)[1])
    ber = b"\x30\x80" + bytes.fromhex("06092a864886f70d010702") + b"\xa0\x80" + sd + b"\x00\x00\x00\x00"
    assert ber != sig and view.signer_infos
    assert only(validator.validate(ber)) == (PASSED, None)


def test_too_many_signers_or_certificates_is_format_failure(pki: PKI, validator: Validator) -> None:
    sig = cms.sign(DOC, pki.citizen.signer())
    view = der.read_signed_data(sig)
    many_signers = cms._rebuild(view, signer_infos_der=[view.signer_infos[0].der] * (der.MAX_SIGNERS + 1),
                                certificates_der=view.certificates, digest_algorithms_der=view.digest_algorithms,
                                content=view.content)
    assert "limit is 256" in format_failure(validator.validate(many_signers))
    # the builder merges duplicate certificates, so assemble the oversized set by hand
    tail = der.tlv(0xA0, view.certificates[0] * (der.MAX_CERTIFICATES + 1)) + der.tlv(0x31, view.signer_infos[0].der)
    data_oid = bytes.fromhex("06092a864886f70d010701")
    many_certs = cms._assemble(1, der.tlv(0x31, b"".join(view.digest_algorithms)), data_oid, len(DOC), tail)
    assert "limit is 512" in format_failure(validator.validate(many_certs + DOC + tail))


def test_certificate_with_negative_serial_is_not_used(pki: PKI, validator: Validator) -> None:
    """cryptography still parses such a certificate (with a deprecation warning); we do not rely on it."""
    import warnings

    sig = cms.sign(DOC, pki.citizen.signer())
    view = der.read_signed_data(sig)
    tbs, alg, value = der.children(view.certificates[0])
    fields = der.children(tbs)
    fields[1] = b"\x02\x01\xff"  # serialNumber -1
    bad_leaf = der.tlv(0x30, der.tlv(0x30, b"".join(fields)) + alg + value)
    forged = cms._rebuild(view, signer_infos_der=[view.signer_infos[0].der],
                          certificates_der=[bad_leaf, *view.certificates[1:]],
                          digest_algorithms_der=view.digest_algorithms, content=view.content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = validator.validate(forged)
    assert only(report) == (INDET, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)


def test_detached_document_as_a_stream(pki: PKI, validator: Validator, tmp_path) -> None:
    """A big document is checked from an open file, in bounded memory, for each digest its signers use."""
    import tracemalloc

    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        for i in range(20):
            f.write(bytes([i]) * (1 << 20))
    sig = cms.sign_stream(iter([path.read_bytes()]), pki.citizen.signer())
    both = cms.join(sig, cms.sign_stream(iter([path.read_bytes()]), pki.ed25519.signer()), content=path.read_bytes())
    tracemalloc.start()
    try:
        with open(path, "rb") as doc:
            report = validator.validate(both, doc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.passed and report.signatures_count == 2 and report.content_size == 20 << 20
    assert peak < 4 << 20
    with open(path, "r+b") as f:
        f.seek(5 << 20)
        f.write(b"!")
    with open(path, "rb") as doc:
        assert only(validator.validate(sig, doc)) == (FAILED, SubIndication.HASH_FAILURE)


@pytest.mark.parametrize("text", [b"00000101000000+0000", b"00000101000000", b"0000010100-0500"])
def test_signing_time_in_the_year_zero_is_a_format_failure(pki: PKI, validator: Validator, monkeypatch,
                                                           text: bytes) -> None:
    """A GeneralizedTime in the year 0 with an offset or no zone (which asn1crypto reads as its own
    extended_datetime, not a datetime) is unreadable, like every other impossible time: before, it
    became the report's signing_time and the report could not be written as JSON."""
    with pytest.raises(der.MalformedSignature, match="year 0"):
        der.read_time(der.tlv(0x18, text))
    monkeypatch.setattr(cms, "_utc_time", lambda when: der.tlv(0x18, text))
    sig = cms.sign(DOC, pki.citizen.signer())
    report = validator.validate(sig)
    assert only(report) == (FAILED, SubIndication.FORMAT_FAILURE)
    assert "unreadable time value" in report.signers[0].errors[0]
    json.loads(report.to_json())


def test_timestamp_token_dated_in_the_year_zero_is_unreadable_and_the_report_still_serialises(
        pki: PKI, validator: Validator) -> None:
    """The same for a signature timestamp's genTime: before, the token's time became the report's
    timestamp time and `to_json()` raised TypeError on it."""
    when = (NOW - timedelta(days=1)).replace(microsecond=0)
    sig, _ = cms.add_timestamp(cms.sign(DOC, pki.citizen.signer()), pki.tsa(when))
    good = der.tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode())
    assert sig.count(good) == 1
    sig = sig.replace(good, der.tlv(0x18, b"0000010100+0000"))  # same length: the DER stays well formed
    report = validator.validate(sig)
    ts = report.signers[0].timestamp
    assert ts is not None and not ts.valid and ts.time is None and "unreadable time value" in ts.message
    json.loads(report.to_json())
