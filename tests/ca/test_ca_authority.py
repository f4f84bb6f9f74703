"""The certificate authority: create/open, issuing from CSRs per profile, refusals, revocation, CRLs."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keystore.errors import WrongPassword
from signing import algorithms, oids
from signing.ca import CAError, CertificateAuthority, CertificateRequestError, RevocationError, load_csr

from ca_helpers import FAST_KDF, PASSWORD, make_csr, openssl, pem


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != ".lock"}


def test_create_then_open_gives_same_chain(ca, tmp_path):
    again = CertificateAuthority.open(tmp_path / "ca", PASSWORD)
    assert again.root_certificate == ca.root_certificate
    assert again.issuing_certificate == ca.issuing_certificate
    ca.issuing_certificate.verify_directly_issued_by(ca.root_certificate)
    bc = ca.issuing_certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0


def test_ca_key_files_are_encrypted_pkcs12_openssl_can_read(ca, tmp_path):
    blob = (tmp_path / "ca" / "issuing.pfx").read_bytes()
    assert b"PRIVATE KEY" not in blob
    out = openssl("pkcs12", "-in", str(tmp_path / "ca" / "issuing.pfx"), "-info", "-nokeys",
                  "-passin", "pass:" + PASSWORD.decode())
    assert out.returncode == 0, out.stderr
    assert b"PBES2" in out.stderr and b"AES-256-CBC" in out.stderr
    bad = openssl("pkcs12", "-in", str(tmp_path / "ca" / "issuing.pfx"), "-nokeys", "-passin", "pass:nope")
    assert bad.returncode != 0


def test_open_with_wrong_password_is_refused(ca, tmp_path):
    with pytest.raises(WrongPassword, match="password"):
        CertificateAuthority.open(tmp_path / "ca", b"not-the-password")


def test_open_without_a_ca_says_to_init(tmp_path):
    with pytest.raises(CAError, match="imzo ca init"):
        CertificateAuthority.open(tmp_path / "nothing", PASSWORD)


def test_create_refuses_a_folder_that_already_holds_a_ca(ca, tmp_path):
    before = _snapshot(tmp_path / "ca")
    with pytest.raises(CAError, match="already holds a CA"):
        CertificateAuthority.create(tmp_path / "ca", PASSWORD, kdf_rounds=FAST_KDF)
    assert _snapshot(tmp_path / "ca") == before


def test_create_refuses_unknown_algorithm(tmp_path):
    with pytest.raises(algorithms.UnknownAlgorithm, match="ecdsa-p256"):
        CertificateAuthority.create(tmp_path / "x", PASSWORD, algorithm="gost", kdf_rounds=FAST_KDF)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("alg", ["ecdsa-p256", "ed25519", "rsa-pss-3072"])
def test_every_registered_algorithm_makes_a_working_ca(tmp_path, alg):
    ca = CertificateAuthority.create(tmp_path / alg, PASSWORD, algorithm=alg, kdf_rounds=FAST_KDF)
    key, csr = make_csr(algorithms.get(alg).generate())
    cert = ca.issue(csr)
    cert.verify_directly_issued_by(ca.issuing_certificate)
    assert algorithms.for_key(cert.public_key()).name == alg


def test_citizen_certificate_carries_pinfl_and_nonrepudiation(ca, ca_files, tmp_path):
    key, csr = make_csr()
    cert = ca.issue(csr)
    assert cert.subject.get_attributes_for_oid(oids.PINFL)[0].value == "32301940190066"
    assert cert.subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Valiyev"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.public_key() == key.public_key()
    (tmp_path / "leaf.pem").write_bytes(pem(cert))
    out = openssl("verify", "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]),
                  str(tmp_path / "leaf.pem"))
    assert out.returncode == 0 and b"OK" in out.stdout, out.stderr
    text = openssl("x509", "-in", str(tmp_path / "leaf.pem"), "-noout", "-subject").stdout
    assert b"1.2.860.3.16.1.2 = 32301940190066" in text


def test_employee_certificate_names_organisation_tin_and_title(ca):
    _, csr = make_csr(profile="employee")
    cert = ca.issue(csr, profile="employee", days=30)
    assert cert.subject.get_attributes_for_oid(oids.TIN)[0].value == "300777132"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Toshkent shahar hokimligi"
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "direktor"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30)


def test_not_before_and_validity_capped_by_issuing_ca(ca):
    _, csr = make_csr()
    start = datetime(2027, 1, 1, tzinfo=timezone.utc)
    cert = ca.issue(csr, not_before=start, days=3650)
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc <= ca.issuing_certificate.not_valid_after_utc


@pytest.mark.parametrize(
    ("profile", "override", "message"),
    [
        ("citizen", {"PINFL": "1234567890123"}, "PINFL must be exactly 14 digits"),
        ("citizen", {"PINFL": "1234567890123X"}, "PINFL must be exactly 14 digits"),
        ("citizen", {"PINFL": None}, "lacks PINFL"),
        ("citizen", {"SURNAME": None}, "lacks SURNAME"),
        ("citizen", {"CN": None}, "lacks CN"),
        ("citizen", {"O": "Some LLC"}, "citizen certificate names no organisation"),
        ("citizen", {"EMAIL": "a@b.uz"}, "1.2.840.113549.1.9.1 is not accepted"),
        ("citizen", {"C": "KZ"}, "C must be UZ"),
        ("citizen", {"GIVENNAME": "x" * 200}, "GIVENNAME must be 1..128"),
        ("employee", {"TIN": None}, "lacks TIN"),
        ("employee", {"TIN": "30077713"}, "TIN must be exactly 9 digits"),
        ("employee", {"T": None}, "lacks T"),
        ("employee", {"O": None}, "lacks O"),
    ],
)
def test_subject_that_does_not_fit_the_profile_is_refused(ca, tmp_path, profile, override, message):
    _, csr = make_csr(profile=profile, **override)
    before = _snapshot(tmp_path / "ca")
    with pytest.raises(CertificateRequestError, match=message):
        ca.issue(csr, profile=profile)
    assert _snapshot(tmp_path / "ca") == before


def test_duplicate_and_multivalued_attributes_are_refused(ca):
    key = algorithms.DEFAULT.generate()
    dup = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "A"), x509.NameAttribute(NameOID.SURNAME, "B"),
        x509.NameAttribute(NameOID.GIVEN_NAME, "C"), x509.NameAttribute(oids.PINFL, "12345678901234"),
        x509.NameAttribute(oids.PINFL, "43210987654321"),
    ])
    csr = x509.CertificateSigningRequestBuilder().subject_name(dup).sign(key, algorithms.DEFAULT.hash_algorithm())
    with pytest.raises(CertificateRequestError, match="PINFL twice"):
        ca.issue(csr)
    multi = x509.Name([x509.RelativeDistinguishedName([
        x509.NameAttribute(NameOID.COMMON_NAME, "A"), x509.NameAttribute(NameOID.SURNAME, "B")])])
    csr = x509.CertificateSigningRequestBuilder().subject_name(multi).sign(key, algorithms.DEFAULT.hash_algorithm())
    with pytest.raises(CertificateRequestError, match="multi-valued"):
        ca.issue(csr)


def test_unknown_profile_and_bad_validity_are_refused(ca):
    _, csr = make_csr()
    with pytest.raises(CAError, match="unknown profile 'admin'"):
        ca.issue(csr, profile="admin")
    with pytest.raises(CAError, match="1..3650 days"):
        ca.issue(csr, days=0)


def test_load_csr_accepts_pem_and_der():
    _, csr = make_csr()
    assert load_csr(csr.public_bytes(serialization.Encoding.PEM)).subject == csr.subject
    assert load_csr(csr.public_bytes(serialization.Encoding.DER)).subject == csr.subject


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00garbage\xff" * 10, "not a PKCS#10 certificate request"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "not a PKCS#10"),
        (b"0" * (64 * 1024 + 1), "refusing anything over 65536"),
    ],
)
def test_garbage_and_huge_csrs_are_refused(data, message):
    with pytest.raises(CertificateRequestError, match=message):
        load_csr(data)


def test_truncated_csr_is_refused():
    _, csr = make_csr()
    der = csr.public_bytes(serialization.Encoding.DER)
    with pytest.raises(CertificateRequestError, match="not a PKCS#10"):
        load_csr(der[: len(der) // 2])


def test_csr_with_a_forged_signature_is_refused(ca, tmp_path):
    _, csr = make_csr()
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    with pytest.raises(CertificateRequestError, match="signature does not verify|cannot check"):
        load_csr(bytes(der))


def test_revocation_shows_in_crl_with_reason_and_openssl_verifies_it(ca, ca_files, tmp_path):
    _, csr1 = make_csr()
    _, csr2 = make_csr()
    kept, gone = ca.issue(csr1), ca.issue(csr2)
    ca.revoke(gone.serial_number, x509.ReasonFlags.key_compromise)
    crl = ca.crl()
    assert crl.is_signature_valid(ca.issuing_certificate.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(gone.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(kept.serial_number) is None
    assert ca.crl().extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "gone.pem").write_bytes(pem(gone))
    (tmp_path / "kept.pem").write_bytes(pem(kept))
    args = ["verify", "-crl_check", "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]),
            "-CRLfile", str(tmp_path / "crl.pem")]
    assert openssl(*args, str(tmp_path / "kept.pem")).returncode == 0
    bad = openssl(*args, str(tmp_path / "gone.pem"))
    assert bad.returncode != 0 and b"revoked" in bad.stdout + bad.stderr


def test_revocation_survives_reopen_and_status_reports_it(ca, tmp_path):
    _, csr = make_csr()
    cert = ca.issue(csr)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    ca.revoke(cert.serial_number, x509.ReasonFlags.superseded, at=when)
    status = CertificateAuthority.open(tmp_path / "ca", PASSWORD).status(cert.serial_number)
    assert (status.state, status.revoked_at, status.reason) == ("revoked", when, x509.ReasonFlags.superseded)
    assert ca.status(12345).state == "unknown"
    [row] = ca.issued()
    assert row.serial == cert.serial_number and row.revoked_at == when


def test_revocation_refusals_change_nothing(ca, tmp_path):
    _, csr = make_csr()
    cert = ca.issue(csr)
    before = _snapshot(tmp_path / "ca")
    with pytest.raises(RevocationError, match="no certificate with serial 3039"):
        ca.revoke(12345)
    with pytest.raises(RevocationError, match="not a revocation reason"):
        ca.revoke(cert.serial_number, x509.ReasonFlags.remove_from_crl)
    assert _snapshot(tmp_path / "ca") == before
    ca.revoke(cert.serial_number)
    with pytest.raises(RevocationError, match="already revoked"):
        ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise)


def test_crash_while_writing_the_index_leaves_the_old_index(ca, tmp_path, monkeypatch):
    _, csr = make_csr()
    before = _snapshot(tmp_path / "ca")

    def boom(src, dst):
        raise OSError("disk died")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk died"):
        ca.issue(csr)
    monkeypatch.undo()
    assert _snapshot(tmp_path / "ca") == before  # no half index, no stray temp file
    assert ca.issued() == []


def test_tsa_and_ocsp_service_certificates_have_critical_eku(ca):
    key = algorithms.DEFAULT.generate()
    tsa = ca.issue_tsa_certificate(key.public_key())
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ocsp_cert = ca.issue_ocsp_certificate(key.public_key())
    eku = ocsp_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ocsp_cert.extensions.get_extension_for_class(x509.OCSPNoCheck)


def test_ocsp_and_crl_urls_go_into_issued_certificates(tmp_path):
    ca = CertificateAuthority.create(tmp_path / "u", PASSWORD, ocsp_url="http://ocsp.example.uz",
                                     crl_url="http://ca.example.uz/crl", kdf_rounds=FAST_KDF)
    cert = ca.issue(make_csr()[1])
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://ocsp.example.uz"
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp[0].full_name[0].value == "http://ca.example.uz/crl"


def test_root_crl_numbers_grow_and_openssl_accepts_the_full_crl_chain(ca, ca_files, tmp_path):
    first, second = ca.root_crl(), ca.root_crl()
    number = lambda c: c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert number(second) == number(first) + 1
    assert second.is_signature_valid(ca.root_certificate.public_key())
    cert = ca.issue(make_csr()[1])
    (tmp_path / "crls.pem").write_bytes(second.public_bytes(serialization.Encoding.PEM)
                                        + ca.crl().public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(pem(cert))
    out = openssl("verify", "-crl_check_all", "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]),
                  "-CRLfile", str(tmp_path / "crls.pem"), str(tmp_path / "leaf.pem"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_future_revocation_time_is_refused(ca):
    cert = ca.issue(make_csr()[1])
    with pytest.raises(RevocationError, match="is in the future"):
        ca.revoke(cert.serial_number, at=datetime.now(timezone.utc) + timedelta(days=1))
    assert ca.status(cert.serial_number).state == "good"


def test_parallel_issuing_from_two_ca_objects_loses_no_record(ca, tmp_path):
    import threading

    other = CertificateAuthority.open(tmp_path / "ca", PASSWORD)  # a second "process" on the same folder
    csrs = [make_csr()[1] for _ in range(16)]
    issued: list[x509.Certificate] = []
    lock = threading.Lock()

    def work(authority, batch):
        for csr in batch:
            cert = authority.issue(csr)
            with lock:
                issued.append(cert)

    threads = [threading.Thread(target=work, args=(a, csrs[i::4])) for i, a in enumerate([ca, other, ca, other])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(issued) == 16
    assert {r.serial for r in ca.issued()} == {c.serial_number for c in issued}


def test_load_crl_reads_pem_and_der_and_refuses_garbage(ca):
    from signing.crl import CRLError, load_crl

    the_crl = ca.crl()
    assert load_crl(the_crl.public_bytes(serialization.Encoding.PEM)) == the_crl
    assert load_crl(the_crl.public_bytes(serialization.Encoding.DER)) == the_crl
    with pytest.raises(CRLError, match="not a certificate revocation list"):
        load_crl(the_crl.public_bytes(serialization.Encoding.DER)[:-10])
    with pytest.raises(CRLError, match="refusing anything over"):
        load_crl(b"0" * ((16 << 20) + 1))
