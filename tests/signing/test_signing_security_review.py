"""Security review: each test is an attack that once worked (a forged or stale proof accepted, or a hang).

Every test here failed before the fix committed with it.
"""
from __future__ import annotations

import contextlib
import signal
from datetime import timedelta
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing import cms
from signing.report import Indication, SubIndication
from signing.validate import Validator

from signing_pki import NOW, PKI, Party, certificate, name

DOC = b"Murojaat: ko'cha chirog'ini tuzatib bering.\n"


class TookTooLong(BaseException):
    """Not an Exception, so the validator's catch-all for hostile input cannot swallow it."""


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the test run) if the block takes longer than *seconds*."""

    def expire(signum, frame):  # noqa: ANN001
        raise TookTooLong(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    late = ""
    try:
        yield
    except TookTooLong as exc:
        late = str(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if late:  # failed outside the except block: the interrupted frame's traceback confuses pytest
        pytest.fail(late, pytrace=False)


def only(report):
    assert len(report.signers) == 1
    s = report.signers[0]
    return s.indication, s.sub_indication


# --- path building: a handful of certificates that all issue each other -----------------------------


def test_mutually_issuing_certificates_do_not_hang_path_building(pki: PKI) -> None:
    """20 self-issued CA certificates under one key: every one 'issues' every other, so a depth-first
    search without a budget walks 20^8 paths. A 10 kB signature used to pin a validator for hours."""
    k = ec.generate_private_key(ec.SECP256R1())
    loop = []
    for _ in range(20):
        b = (x509.CertificateBuilder().subject_name(name("Loop CA")).issuer_name(name("Loop CA"))
             .public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
        loop.append(b.sign(k, hashes.SHA256()))
    lk = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(name("Leaf", pinfl="31234567890123"), lk, Party(k, loop[0]))
    sig = cms.sign(DOC, cms.Signer(lk, leaf, loop))
    v = Validator([pki.root.cert], crls=pki.crls)
    with within(5):
        report = v.validate(sig)
    assert only(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    # and the real chain still builds
    assert v.validate(cms.sign(DOC, pki.citizen.signer())).passed


# --- DER: an object identifier of a million bytes ---------------------------------------------------


def _tlv(tag: int, body: bytes) -> bytes:
    from signing import der

    return der.tlv(tag, body)


@pytest.mark.parametrize("where", ["contentType", "eContentType", "BER"])
def test_huge_object_identifier_is_refused_quickly(pki: PKI, where: str) -> None:
    """An OID's arcs were accumulated into one Python int, quadratic in its length: a 400 kB OID
    (well under the 64 MiB limit) took ~20 s, a few MB hours."""
    huge = _tlv(0x06, b"\x81" * 400_000 + b"\x01")
    if where == "contentType":
        blob = _tlv(0x30, huge + _tlv(0xA0, b""))
    else:
        sd = _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x31, b"") + _tlv(0x30, huge) + _tlv(0x31, b""))
        body = _tlv(0x06, bytes.fromhex("2a864886f70d010702")) + _tlv(0xA0, sd)
        # BER (indefinite length) goes through asn1crypto, whose OID parsing is quadratic too
        blob = b"\x30\x80" + body + b"\x00\x00" if where == "BER" else _tlv(0x30, body)
    v = Validator([pki.root.cert], crls=pki.crls)
    with within(3):
        report = v.validate(blob)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_huge_object_identifier_in_timestamp_token_or_request_is_refused_quickly(pki: PKI) -> None:
    """The RFC 3161 client and authority parse with asn1crypto: a 900 kB OID inside a token (or a
    64 kB one in a request sent to our TSA) cost a minute (a second) of CPU."""
    from signing import tsa

    huge = _tlv(0x06, b"\x81" * 900_000 + b"\x01")
    token = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010702")) + _tlv(0xA0, _tlv(0x30, huge)))
    with within(3):
        with pytest.raises(tsa.TimestampError):
            tsa.verify_timestamp_token(token, b"\0" * 32, [pki.root.cert])
        with pytest.raises(tsa.TimestampError):
            tsa.parse_response(_tlv(0x30, _tlv(0x30, _tlv(0x02, b"\0")) + token))
    authority = tsa.TimestampAuthority(pki.tsa_party.key, pki.tsa_party.cert)
    request = _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x30, _tlv(0x30, _tlv(0x06, b"\x81" * 60_000 + b"\x01"))
                                                      + _tlv(0x04, b"\0" * 32)))
    with within(0.5):
        answer = authority.respond(request)
    with pytest.raises(tsa.TimestampError, match="refused"):
        tsa.parse_response(answer)


# --- RFC 3161 client: a citizen's certificate acting as the TSA's CA ---------------------------------


def test_timestamp_token_chained_through_an_end_entity_is_refused(pki: PKI) -> None:
    """verify_timestamp_token walked issuer links checking only signatures and validity: any citizen
    could certify a 'TSA' key of their own and stamp any time they liked (here 300 days back)."""
    from signing import tsa
    from signing_pki import TestTSA, _ku

    from cryptography.x509.oid import ExtendedKeyUsageOID

    fake_key = ec.generate_private_key(ec.SECP256R1())
    fake_tsa = certificate(name("Totally A TSA"), fake_key, pki.citizen, key_usage=_ku(digital_signature=True),
                           eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True,
                           not_before=NOW - timedelta(days=3650))
    stamper = TestTSA(Party(fake_key, fake_tsa, [pki.citizen.cert, pki.issuing.cert]), NOW - timedelta(days=300))
    digest = b"\x11" * 32
    token = stamper(digest)
    with pytest.raises(tsa.TimestampError, match="not a CA"):
        tsa.verify_timestamp_token(token, digest, [pki.root.cert])
    # the validator already refused it: a signature timestamp from this 'TSA' gives no proof of time
    sig, _ = cms.add_timestamp(cms.sign(DOC, pki.expired.signer()), stamper)
    report = Validator([pki.root.cert], crls=pki.crls).validate(sig)
    assert not report.passed and not report.signers[0].timestamp.valid


# --- revocation: answers cached per issuer name, not per issuer ----------------------------------------


def _leaf_with_serial(pki: PKI, issuer: Party, serial: int, cn: str) -> Party:
    from signing_pki import _ku

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name(cn, pinfl="31234567890123"))
            .issuer_name(issuer.cert.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_ku(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                           critical=False)
            .sign(issuer.key, hashes.SHA256()))
    return Party(key, cert, [issuer.cert])


def test_revocation_answer_for_one_issuer_is_not_reused_for_another_with_the_same_name(pki: PKI) -> None:
    """Revocation answers were cached by (issuer name, serial). A second CA with the same name (a key
    rollover, or another trusted CA that chose the name) issuing the same serial got 'good' cached,
    and the revoked certificate of the first CA then passed."""
    twin_key = ec.generate_private_key(ec.SECP256R1())
    twin = Party(twin_key, certificate(pki.issuing.cert.subject, twin_key, pki.root, ca=True, path_length=0))
    serial = x509.random_serial_number()
    victim = _leaf_with_serial(pki, pki.issuing, serial, "STOLEN KEY")
    other = _leaf_with_serial(pki, twin, serial, "SAME SERIAL ELSEWHERE")
    crls = [PKI.make_crl(pki.issuing, {serial: NOW - timedelta(days=1)}), PKI.make_crl(twin, {}), pki.root_crl]
    v = Validator([pki.root.cert], crls=crls)
    assert v.validate(cms.sign(DOC, other.signer())).passed
    report = v.validate(cms.sign(DOC, victim.signer()))
    assert only(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)


# --- OCSP: stale, foreign or expired-responder answers --------------------------------------------


def _ocsp_answer(pki: PKI, *, signer: Party, this_update, next_update, certs=(), by_hash=None):
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import ocsp

    def fetch(request_der: bytes, url: str | None) -> bytes:
        req = ocsp.load_der_ocsp_request(request_der)
        issuer = pki.root if req.serial_number == pki.issuing.cert.serial_number else pki.issuing
        cert = next(p.cert for p in vars(pki).values()
                    if hasattr(p, "cert") and p.cert.serial_number == req.serial_number)
        b = ocsp.OCSPResponseBuilder()
        common = dict(cert_status=ocsp.OCSPCertStatus.GOOD, this_update=this_update, next_update=next_update,
                      revocation_time=None, revocation_reason=None)
        if by_hash is not None:
            b = b.add_response_by_hash(issuer_name_hash=by_hash[0], issuer_key_hash=by_hash[1],
                                       serial_number=req.serial_number, algorithm=hashes.SHA1(), **common)
        else:
            b = b.add_response(cert=cert, issuer=issuer.cert, algorithm=hashes.SHA1(), **common)
        signing = signer if issuer is pki.issuing else pki.root
        b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, signing.cert)
        if certs and signing is signer:
            b = b.certificates(list(certs))
        return b.sign(signing.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    return fetch


def test_replayed_ocsp_answer_without_next_update_is_not_fresh(pki: PKI) -> None:
    """An answer without nextUpdate was taken whatever its thisUpdate: a 'good' answer recorded a month
    ago, before the key was reported stolen, could be replayed forever (OCSP has no nonce here)."""
    fetch = _ocsp_answer(pki, signer=pki.issuing, this_update=NOW - timedelta(days=30), next_update=None)
    v = Validator([pki.root.cert], ocsp_fetcher=fetch)
    assert only(v.validate(cms.sign(DOC, pki.revoked_early.signer()))) == (
        Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_ocsp_answer_from_an_expired_delegated_responder_is_not_trusted(pki: PKI) -> None:
    """The delegated responder's certificate was checked for the issuer's signature and the OCSPSigning
    EKU but not for validity: the key of a long-expired responder (thrown away, maybe leaked) still
    vouched for a revoked certificate."""
    from signing_pki import _ku

    from cryptography.x509.oid import ExtendedKeyUsageOID

    rk = ec.generate_private_key(ec.SECP256R1())
    old = Party(rk, certificate(name("Old OCSP Responder"), rk, pki.issuing, key_usage=_ku(digital_signature=True),
                                eku=[ExtendedKeyUsageOID.OCSP_SIGNING],
                                not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=400)))
    fetch = _ocsp_answer(pki, signer=old, this_update=NOW - timedelta(minutes=1),
                         next_update=NOW + timedelta(hours=1), certs=[old.cert])
    v = Validator([pki.root.cert], ocsp_fetcher=fetch)
    assert only(v.validate(cms.sign(DOC, pki.revoked_early.signer()))) == (
        Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_ocsp_answer_about_another_issuers_certificate_is_not_used(pki: PKI) -> None:
    """Single responses were matched by serial number alone; one whose CertID names another issuer
    (same serial, different CA) was taken as the status of the certificate asked about."""
    fetch = _ocsp_answer(pki, signer=pki.issuing, this_update=NOW - timedelta(minutes=1),
                         next_update=NOW + timedelta(hours=1), by_hash=(b"\x01" * 20, b"\x02" * 20))
    v = Validator([pki.root.cert], ocsp_fetcher=fetch)
    assert only(v.validate(cms.sign(DOC, pki.revoked_early.signer()))) == (
        Indication.INDETERMINATE, SubIndication.TRY_LATER)


# --- CRLs: an older list, a delta list, a list that never expires ------------------------------------


def _crl_without_next_update(ca: Party, last_update):
    """cryptography refuses to build one, so asn1crypto does (RFC 5280 makes nextUpdate OPTIONAL in ASN.1)."""
    from asn1crypto import crl as a_crl, x509 as a_x509

    tbs = a_crl.TbsCertList({
        "version": "v2", "signature": {"algorithm": "sha256_ecdsa"},
        "issuer": a_x509.Name.load(ca.cert.subject.public_bytes()),
        "this_update": a_x509.Time(name="utc_time", value=last_update),
    })
    sig = ca.key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    der_ = a_crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                                  "signature": sig}).dump()
    return x509.load_der_x509_crl(der_)


def _crl(ca: Party, revoked: dict, *, last_update, next_update, delta: bool = False):
    if next_update is None:
        return _crl_without_next_update(ca, last_update)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject).last_update(last_update)
         .add_extension(x509.CRLNumber(int(last_update.timestamp())), critical=False))
    if next_update is not None:
        b = b.next_update(next_update)
    if delta:
        b = b.add_extension(x509.DeltaCRLIndicator(1), critical=True)
    for serial, when in revoked.items():
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                      .revocation_date(when).build())
    return b.sign(ca.key, hashes.SHA256())


def test_older_crl_added_later_does_not_hide_a_revocation(pki: PKI) -> None:
    """The CRL added last was consulted first, whatever its thisUpdate: feeding the validator a CRL from
    before the revocation (still inside its nextUpdate) made a revoked certificate good again."""
    serial = pki.revoked_early.cert.serial_number
    fresh = _crl(pki.issuing, {serial: NOW - timedelta(days=20)}, last_update=NOW - timedelta(hours=1),
                 next_update=NOW + timedelta(days=7))
    old = _crl(pki.issuing, {}, last_update=NOW - timedelta(days=25), next_update=NOW + timedelta(days=5))
    v = Validator([pki.root.cert], crls=[fresh, pki.root_crl])
    v.add_crl(old)
    assert only(v.validate(cms.sign(DOC, pki.revoked_early.signer()))) == (
        Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)


@pytest.mark.parametrize("kind", ["delta", "no next update"])
def test_delta_crl_or_crl_without_next_update_is_not_proof_of_good_status(pki: PKI, kind: str) -> None:
    """A delta CRL lists only what changed since its base, so 'not listed' there proves nothing (its
    deltaCRLIndicator is critical: RFC 5280 says do not use it); a CRL without nextUpdate (which RFC
    5280 requires) was fresh and cached forever."""
    crl = _crl(pki.issuing, {}, last_update=NOW - timedelta(days=60),
               next_update=NOW + timedelta(days=7) if kind == "delta" else None, delta=kind == "delta")
    v = Validator([pki.root.cert], crls=[crl, pki.root_crl])
    assert only(v.validate(cms.sign(DOC, pki.revoked_early.signer()))) == (
        Indication.INDETERMINATE, SubIndication.TRY_LATER)


# --- signed attributes: a signer without them over something other than id-data ----------------------


def test_timestamp_token_without_signed_attributes_gives_no_proof_of_time(pki: PKI) -> None:
    """RFC 5652 5.3: signed attributes MUST be present unless the content is id-data, and RFC 3161 wants
    the signing-certificate attribute in them. A TSTInfo signed bare (no content-type binding, nothing
    naming the TSA certificate) was taken as proof of time."""
    from asn1crypto import cms as a_cms, tsp as a_tsp, x509 as a_x509
    from cryptography.hazmat.primitives import serialization

    tsa = pki.old_tsa_party
    a_cert = a_x509.Certificate.load(tsa.cert.public_bytes(serialization.Encoding.DER))

    def bare(digest: bytes, hash_name: str = "sha256") -> bytes:
        tst = a_tsp.TSTInfo({"version": "v1", "policy": "1.2.860.3.16.99.1", "serial_number": 7,
                             "message_imprint": {"hash_algorithm": {"algorithm": hash_name}, "hashed_message": digest},
                             "gen_time": NOW - timedelta(days=400)})
        signature = tsa.key.sign(tst.dump(), ec.ECDSA(hashes.SHA256()))
        return a_cms.ContentInfo({"content_type": "signed_data", "content": a_cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": tst},
            "certificates": [a_cert],
            "signer_infos": [{
                "version": "v1",
                "sid": a_cms.SignerIdentifier(name="issuer_and_serial_number", value={
                    "issuer": a_cert.issuer, "serial_number": a_cert.serial_number}),
                "digest_algorithm": {"algorithm": "sha256"},
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }],
        })}).dump()

    sig, _ = cms.add_timestamp(cms.sign(DOC, pki.expired.signer()), bare)
    report = Validator([pki.root.cert], crls=pki.crls).validate(sig)
    assert not report.signers[0].timestamp.valid
    assert only(report) == (Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE)


# --- imzo keys export: the output file -----------------------------------------------------------------


def test_keys_export_does_not_clobber_an_existing_file(pki: PKI, tmp_path, monkeypatch) -> None:
    """`imzo keys export` opened OUT with O_TRUNC and wrote in place: exporting onto another key's file
    (a slip of the tab key: `export ali DSKEYS/bob.pfx`) destroyed bob's only key, and a crash midway
    left a half-written PFX."""
    from click.testing import CliRunner

    from keystore.folder import KeysFolder
    from signing.imzo import keys as keys_cli, main

    monkeypatch.setattr(keys_cli, "KDF_ROUNDS", 1000)
    folder = KeysFolder(tmp_path / "DSKEYS", kdf_rounds=1000)
    folder.store("ali", pki.citizen.key, b"ali-pw", certificate=pki.citizen.cert)
    folder.store("bob", pki.employee.key, b"bob-pw", certificate=pki.employee.cert)
    bob_before = (tmp_path / "DSKEYS" / "bob.pfx").read_bytes()
    r = CliRunner().invoke(main, ["keys", "export", "ali", str(tmp_path / "DSKEYS" / "bob.pfx"),
                                  "--keys", str(tmp_path / "DSKEYS"), "--password-stdin"], input="ali-pw\nexport-pw\n")
    assert r.exit_code != 0 and "exists" in r.output and "Traceback" not in r.output
    assert (tmp_path / "DSKEYS" / "bob.pfx").read_bytes() == bob_before
    assert folder.open("bob", b"bob-pw").certificate == pki.employee.cert
    out = tmp_path / "ali-copy.pfx"
    r = CliRunner().invoke(main, ["keys", "export", "ali", str(out), "--keys", str(tmp_path / "DSKEYS"),
                                  "--password-stdin"], input="ali-pw\nexport-pw\n")
    assert r.exit_code == 0, r.output
    assert out.stat().st_mode & 0o077 == 0 and not list(tmp_path.glob(".ali-copy.pfx.*"))


# --- the CA: a weak key in a CSR ---------------------------------------------------------------------


def test_ca_refuses_a_small_rsa_key_and_the_validator_refuses_its_signatures(pki: PKI, tmp_path) -> None:
    """'rsa-pss-3072' matched any RSA key, so the CA certified a 1024-bit (or 512-bit) key from a CSR:
    a key anyone with a cluster can factor, then sign as that citizen (and the citizen can deny any
    signature). The validator accepted such signatures too."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from signing import x509_signing
    from signing.ca import CertificateAuthority, CertificateRequestError
    from signing.oids import PINFL

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "UZ"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Alisher Valiyev"),
                         x509.NameAttribute(NameOID.SURNAME, "Valiyev"),
                         x509.NameAttribute(NameOID.GIVEN_NAME, "Alisher"),
                         x509.NameAttribute(PINFL, "32301940190066")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(weak, hashes.SHA256())
    ca = CertificateAuthority.create(tmp_path / "ca", b"ca-pw", kdf_rounds=1000)
    with pytest.raises(CertificateRequestError):
        ca.issue(csr)
    assert ca.issued() == []
    # a weak key certified by some other trusted CA does not make a valid signature either
    leaf = certificate(name("WEAK RSA", pinfl="31234567890123"), weak, pki.issuing)
    from cryptography.hazmat.primitives.asymmetric import padding

    alg = x509_signing.algorithms.Algorithm(
        name="test-rsa-pkcs1", digest_name="sha256", signature_oid="1.2.840.113549.1.1.11",
        asn1_signature_name="sha256_rsa", generate=lambda: weak,
        sign=lambda key, data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        verify=lambda pub, sig, data: pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256()),
        matches=lambda k: False)
    sig = cms.sign(DOC, cms.Signer(weak, leaf, [pki.issuing.cert], algorithm=alg))
    report = Validator([pki.root.cert], crls=pki.crls).validate(sig)
    assert only(report) == (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)


def test_rsa_pss_with_sha1_inside_its_parameters_is_refused(pki: PKI) -> None:
    """SHA-1 was refused as the digest algorithm but not as the RSA-PSS hash inside the signature
    parameters: the signed attributes were then protected only by SHA-1 (chosen-prefix collisions)."""
    from asn1crypto import algos as a_algos
    from cryptography.hazmat.primitives.asymmetric import padding

    from signing import algorithms

    pss1 = padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20)
    alg = algorithms.Algorithm(
        name="test-pss-sha1", digest_name="sha256", signature_oid="1.2.840.113549.1.1.10",
        asn1_signature_name="rsassa_pss", generate=lambda: None,
        sign=lambda key, data: key.sign(data, pss1, hashes.SHA1()),
        verify=lambda pub, sig, data: pub.verify(sig, data, pss1, hashes.SHA1()), matches=lambda k: False,
        signature_parameters=a_algos.RSASSAPSSParams({
            "hash_algorithm": {"algorithm": "sha1"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}},
            "salt_length": 20}).dump())
    sig = cms.sign(DOC, cms.Signer(pki.rsa.key, pki.rsa.cert, pki.rsa.chain, algorithm=alg))
    report = Validator([pki.root.cert], crls=pki.crls).validate(sig)
    assert not report.passed
    assert report.signers[0].sub_indication in (SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
                                                SubIndication.FORMAT_FAILURE)


def test_two_ca_inits_racing_do_not_overwrite_each_other(tmp_path, monkeypatch) -> None:
    """`create` looked for ca.json before taking the folder lock: a second `imzo ca init` that started
    while the first ran overwrote the first CA's keys and index after it had been created (and perhaps
    its root handed out)."""
    from signing import ca as ca_mod

    folder = tmp_path / "ca"
    real_locked = ca_mod.locked
    first: list = []

    @contextlib.contextmanager
    def racing(path):  # the other init wins the lock just before us
        if not first:
            monkeypatch.setattr(ca_mod, "locked", real_locked)
            first.append(ca_mod.CertificateAuthority.create(folder, b"first", kdf_rounds=1000))
        with real_locked(path):
            yield

    monkeypatch.setattr(ca_mod, "locked", racing)
    with pytest.raises(ca_mod.CAError, match="already holds a CA"):
        ca_mod.CertificateAuthority.create(folder, b"second", kdf_rounds=1000)
    opened = ca_mod.CertificateAuthority.open(folder, b"first")
    assert opened.root_certificate == first[0].root_certificate


# --- caches an attacker fills ------------------------------------------------------------------------


def test_certificates_from_hostile_signatures_do_not_pile_up_in_a_long_lived_validator(pki: PKI) -> None:
    """Every certificate in every signature was parsed into a ~7 kB cache entry kept until 100,000 of
    them: a few hundred 200 kB signatures full of throwaway certificates grew one service validator by
    close to a gigabyte (per worker)."""
    from cryptography.hazmat.primitives import serialization

    base = bytearray(pki.citizen.cert.public_bytes(serialization.Encoding.DER))
    v = Validator([pki.root.cert], crls=pki.crls)
    n = 0
    for _ in range(12):
        junk = []
        for _ in range(500):
            n += 1
            base[-2:] = n.to_bytes(2, "big")  # a different (wrongly signed) certificate each time
            junk.append(x509.load_der_x509_certificate(bytes(base)))
        v.validate(cms.sign(DOC, cms.Signer(pki.employee.key, pki.employee.cert, [pki.issuing.cert] + junk)))
    assert len(v._certs) <= 5_000 and len(v._builder._issued) <= 5_000
    assert v.validate(cms.sign(DOC, pki.citizen.signer())).passed


# --- the imzo command: passwords that are not UTF-8 ---------------------------------------------------


def test_password_on_stdin_that_is_not_utf8_is_a_one_line_error_not_a_traceback(pki: PKI, tmp_path) -> None:
    """A password line that is not UTF-8 (a latin-1 terminal, a script) crashed every command that reads
    one with a UnicodeEncodeError traceback."""
    import os
    import subprocess
    import sys

    from keystore.pfx import encrypt_key

    pfx = tmp_path / "ali.pfx"
    pfx.write_bytes(encrypt_key(pki.citizen.key, b"parol", pki.citizen.cert, kdf_rounds=1000))
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "IMZO_KEYS": str(tmp_path / "keys")}
    code = "import sys; from signing.imzo import main; sys.argv = ['imzo'] + sys.argv[1:]; main()"
    r = subprocess.run([sys.executable, "-c", code, "keys", "import-pfx", "ali", str(pfx), "--password-stdin"],
                       input=b"parol-\xe7\nnew-password\n", capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.returncode == 1 and r.stderr.startswith(b"Error: ") and r.stderr.count(b"\n") == 1
    assert b"parol" not in r.stdout + r.stderr


# --- an attached signature checked against a different document ---------------------------------------


@pytest.mark.parametrize("as_stream", [False, True])
def test_attached_signature_whose_embedded_document_was_not_signed_fails(pki: PKI, as_stream: bool, tmp_path) -> None:
    """With a document passed in, an attached signature was checked against that document only: one
    carrying a different, unsigned document inside (what other tools, and `cms.content_of`, show) was
    reported TOTAL-PASSED and 'attached'."""
    import hashlib

    evil = b"Men barcha mol-mulkimni Eshmatga beraman.\n"
    sig = cms.sign_digest(hashlib.sha256(DOC).digest(), pki.citizen.signer(), content=evil)
    assert cms.content_of(sig) == evil
    v = Validator([pki.root.cert], crls=pki.crls)
    if as_stream:
        (tmp_path / "doc").write_bytes(DOC)
        with open(tmp_path / "doc", "rb") as f:
            report = v.validate(sig, f)
    else:
        report = v.validate(sig, DOC)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert v.validate(cms.sign(DOC, pki.citizen.signer()), DOC).passed  # the same document is fine


# --- DER: millions of tiny elements ------------------------------------------------------------------


@pytest.mark.parametrize("ber", [False, True])
def test_millions_of_tiny_elements_do_not_eat_memory(pki: PKI, ber: bool) -> None:
    """Every SET/SEQUENCE was split into a Python list of all its children before any count was checked:
    an 8 MB blob of two-byte NULLs in digestAlgorithms took 800 MB (a 64 MB one, the size limit, ~6 GB);
    through the BER path asn1crypto took even more."""
    import tracemalloc

    body = b"\x05\x00" * 1_000_000
    sd = _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x31, body)
              + _tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d010701"))) + _tlv(0x31, b""))
    inner = _tlv(0x06, bytes.fromhex("2a864886f70d010702")) + _tlv(0xA0, sd)
    blob = b"\x30\x80" + inner + b"\x00\x00" if ber else _tlv(0x30, inner)
    v = Validator([pki.root.cert], crls=pki.crls)
    tracemalloc.start()
    try:  # the bound is on memory; the timer only stops a hang (tracemalloc makes the parse slow on a busy machine)
        with within(60):
            report = v.validate(blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert peak < 40 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


# --- imzo verify: what a certificate's name can do to a terminal -------------------------------------


def test_verify_output_cannot_be_rewritten_by_control_characters_in_a_name(pki: PKI, tmp_path) -> None:
    """`imzo verify` printed the signer's name as the certificate spelt it, before any trust check: a
    self-made certificate whose CN holds a newline and ANSI escapes (clear screen, home) made a failed
    signature show a clean 'TOTAL-PASSED' to the clerk reading the terminal."""
    from click.testing import CliRunner
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    from signing.imzo import main

    k = ec.generate_private_key(ec.SECP256R1())
    cn = "\x1b[2J\x1b[HTOTAL-PASSED: 1 of 1 signature(s) valid"
    org = "\nsigner 1: TOTAL-PASSED  ALIYEV VALI"
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    me = Party(k, certificate(subject, k, None))
    (tmp_path / "doc.p7s").write_bytes(cms.sign(DOC, me.signer()))
    (tmp_path / "root.pem").write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    r = CliRunner().invoke(main, ["verify", str(tmp_path / "doc.p7s"), "--trust", str(tmp_path / "root.pem"),
                                  "--no-revocation"], color=True)  # keep escapes, as a terminal would
    assert r.exit_code == 3
    assert "\x1b" not in r.output
    assert not any(line.startswith(("TOTAL-PASSED", "signer 1: TOTAL-PASSED")) for line in r.output.splitlines())


# --- PFX: the file chooses how long opening it takes -----------------------------------------------


@pytest.mark.parametrize("where", ["mac", "key bag"])
def test_pfx_asking_for_billions_of_kdf_rounds_is_refused_at_once(pki: PKI, tmp_path, where: str) -> None:
    """The MAC and key-encryption iteration counts come from the file: a 'key file' someone sends you
    with 2,000,000,000 rounds kept `imzo keys import-pfx` / `imzo sign --pfx` busy for hours."""
    from asn1crypto import pkcs12 as a_pkcs12

    from keystore import pfx
    from keystore.errors import CorruptKeystore

    blob = pfx.encrypt_key(pki.citizen.key, b"parol", pki.citizen.cert, kdf_rounds=1000)
    p = a_pkcs12.Pfx.load(blob)
    if where == "mac":
        p["mac_data"]["iterations"] = 2_000_000_000
        blob = p.dump(force=True)
    else:
        safe = p.authenticated_safe
        for ci in safe:
            if ci["content_type"].native == "data":
                bags = a_pkcs12.SafeContents.load(ci["content"].native)
                params = bags[0]["bag_value"]["encryption_algorithm"]["parameters"]
                params["key_derivation_func"]["parameters"]["iteration_count"] = 2_000_000_000
                ci["content"] = a_pkcs12.SafeContents.load(bags.dump(force=True)).dump()
        p["auth_safe"]["content"] = safe.dump(force=True)
        blob = p.dump(force=True)
    with within(5):
        with pytest.raises(CorruptKeystore, match="rounds"):
            pfx.decrypt_key(blob, b"parol")
