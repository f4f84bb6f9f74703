"""CMS signing: attached, detached, streamed files, co-signing, joining, and their refusals."""
from __future__ import annotations

import hashlib
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from keystore.pfx import encrypt_key
from signing import algorithms, cms, der
from signing.errors import SigningError
from signing.report import Indication, SubIndication
from signing.validate import Validator

from signing_pki import PKI

DOC = b"Appeal no. 17: please repair the street light on Navoi ko'chasi.\n"


def test_signed_attributes_are_cades_bes(pki: PKI) -> None:
    when = datetime(2026, 5, 4, 3, 2, 1, tzinfo=timezone.utc)
    view = der.read_signed_data(cms.sign(DOC, pki.citizen.signer(), signing_time=when))
    si = view.signer_infos[0]
    oids = [a.oid for a in si.signed_attrs]
    assert sorted(oids) == sorted([
        "1.2.840.113549.1.9.3",  # content-type
        "1.2.840.113549.1.9.4",  # message-digest
        "1.2.840.113549.1.9.5",  # signing-time
        "1.2.840.113549.1.9.16.2.47",  # signing-certificate-v2
    ])
    # DER SET OF: attributes sorted by their encodings
    encoded = [a.der for a in si.signed_attrs]
    assert encoded == sorted(encoded)
    assert der.read_time(si.signed_attribute("1.2.840.113549.1.9.5").values[0]) == when
    assert der.read_octets(si.signed_attribute("1.2.840.113549.1.9.4").values[0]) == hashlib.sha256(DOC).digest()
    assert view.content == DOC and view.version == 1 and si.version == 1


@pytest.mark.parametrize("who,digest,sig_oid", [
    ("citizen", "sha256", "1.2.840.10045.4.3.2"),
    ("ed25519", "sha512", "1.3.101.112"),
    ("rsa", "sha256", "1.2.840.113549.1.1.10"),
])
def test_each_registered_algorithm_signs(pki: PKI, validator: Validator, who: str, digest: str, sig_oid: str) -> None:
    sig = cms.sign(DOC, getattr(pki, who).signer(), detached=True)
    si = der.read_signed_data(sig).signer_infos[0]
    assert (si.digest_name, si.signature_oid) == (digest, sig_oid)
    assert validator.validate(sig, DOC).passed


def test_detached_and_attached_differ_only_by_content(pki: PKI) -> None:
    s = pki.citizen.signer()
    assert cms.content_of(cms.sign(DOC, s)) == DOC
    assert cms.content_of(cms.sign(DOC, s, detached=True)) is None


def test_key_must_match_certificate(pki: PKI) -> None:
    with pytest.raises(SigningError, match="does not belong to the certificate"):
        cms.Signer(pki.employee.key, pki.citizen.cert)


def test_signer_from_pfx(pki: PKI) -> None:
    blob = encrypt_key(pki.citizen.key, b"secret", pki.citizen.cert, [pki.issuing.cert], kdf_rounds=1000)
    signer = cms.Signer.from_pfx(blob, b"secret")
    assert signer.certificates_der == pki.citizen.signer().certificates_der
    bare = encrypt_key(pki.citizen.key, b"secret", kdf_rounds=1000)
    with pytest.raises(SigningError, match="holds no certificate"):
        cms.Signer.from_pfx(bare, b"secret")


def test_sign_stream_keeps_memory_bounded(pki: PKI, validator: Validator) -> None:
    """50 MiB streamed through a generator: the signer never holds more than a chunk."""
    chunk = bytes(range(256)) * 4096  # 1 MiB
    total = 50

    def chunks():
        for _ in range(total):
            yield chunk

    tracemalloc.start()
    try:
        sig = cms.sign_stream(chunks(), pki.citizen.signer())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024
    si = der.read_signed_data(sig).signer_infos[0]
    expected = hashlib.sha256()
    for _ in range(total):
        expected.update(chunk)
    assert der.read_octets(si.signed_attribute(cms.MESSAGE_DIGEST).values[0]) == expected.digest()


@pytest.mark.parametrize("detached", [True, False])
def test_sign_file_streams_in_constant_memory(pki: PKI, validator: Validator, tmp_path: Path, detached: bool) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(24):
            f.write(bytes([i]) * (1 << 20))
    out = tmp_path / "big.p7s"
    seen = []
    tracemalloc.start()
    try:
        size = cms.sign_file(src, pki.citizen.signer(), out, detached=detached, progress=seen.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * 1024 * 1024
    assert size == out.stat().st_size
    assert sum(seen) == src.stat().st_size * (1 if detached else 2)
    data = src.read_bytes()
    sig = out.read_bytes()
    assert (size < 4096) is detached
    assert validator.validate(sig, data if detached else None).passed
    assert set(tmp_path.iterdir()) == {src, out}  # no temporary file left behind


def test_sign_file_failure_leaves_nothing(pki: PKI, tmp_path: Path) -> None:
    out = tmp_path / "x.p7s"
    with pytest.raises(FileNotFoundError):
        cms.sign_file(tmp_path / "missing.txt", pki.citizen.signer(), out)
    assert list(tmp_path.iterdir()) == []

    def boom(f) -> None:
        f.write(b"partial")
        raise SigningError("disk full")

    with pytest.raises(SigningError):
        cms.write_atomically(out, boom)
    assert list(tmp_path.iterdir()) == []


# --- co-signing and joining -------------------------------------------------------------------------


def test_cosign_attached_keeps_first_signer_valid(pki: PKI, validator: Validator) -> None:
    first = cms.sign(DOC, pki.citizen.signer())
    both = cms.cosign(first, pki.employee.signer())
    report = validator.validate(both)
    assert report.passed and report.signatures_count == 2
    assert [s.pinfl for s in report.signers] == ["31234567890123", "42345678901234"]
    assert cms.content_of(both) == DOC
    # certificates are merged without duplicates: two leaves, one issuing CA
    assert len(der.read_signed_data(both).certificates) == 3


def test_cosign_detached_needs_the_same_document(pki: PKI, validator: Validator) -> None:
    first = cms.sign(DOC, pki.citizen.signer(), detached=True)
    with pytest.raises(SigningError, match="detached; pass the signed document"):
        cms.cosign(first, pki.employee.signer())
    with pytest.raises(cms.ContentMismatch, match="not the one signer 1 signed"):
        cms.cosign(first, pki.employee.signer(), content=DOC + b"x")
    both = cms.cosign(first, pki.ed25519.signer(), content=DOC)
    report = validator.validate(both, DOC)
    assert report.passed and report.signatures_count == 2
    # Ed25519 brought SHA-512 into digestAlgorithms
    assert len(der.read_signed_data(both).digest_algorithms) == 2


def test_cosign_attached_refuses_a_different_document(pki: PKI) -> None:
    with pytest.raises(cms.ContentMismatch, match="differs from the one inside"):
        cms.cosign(cms.sign(DOC, pki.citizen.signer()), pki.employee.signer(), content=b"other")


def test_join_two_signatures_over_the_same_document(pki: PKI, validator: Validator) -> None:
    a = cms.sign(DOC, pki.citizen.signer(), detached=True)
    b = cms.sign(DOC, pki.employee.signer())
    joined = cms.join(a, b)
    assert cms.content_of(joined) == DOC  # attached because one input was
    report = validator.validate(joined)
    assert report.passed and [s.name for s in report.signers] == ["ALIYEV VALI", "KARIMOVA NODIRA"]
    # joining detached with detached keeps it detached; joining again does not duplicate signers
    c = cms.sign(DOC, pki.employee.signer(), detached=True)
    dd = cms.join(a, c)
    assert cms.content_of(dd) is None and validator.validate(dd, DOC).signatures_count == 2
    assert validator.validate(cms.join(dd, dd), DOC).signatures_count == 2


def test_join_refuses_different_documents(pki: PKI) -> None:
    a = cms.sign(DOC, pki.citizen.signer())
    b = cms.sign(DOC + b"!", pki.employee.signer())
    with pytest.raises(cms.ContentMismatch, match="different documents"):
        cms.join(a, b)
    with pytest.raises(cms.ContentMismatch, match="message digests differ"):
        cms.join(cms.sign(DOC, pki.citizen.signer(), detached=True),
                 cms.sign(DOC + b"!", pki.employee.signer(), detached=True))
    with pytest.raises(SigningError, match="different digest algorithms"):
        cms.join(cms.sign(DOC, pki.citizen.signer(), detached=True),
                 cms.sign(DOC, pki.ed25519.signer(), detached=True))
    # with the document given, different digest algorithms are fine
    joined = cms.join(cms.sign(DOC, pki.citizen.signer(), detached=True),
                      cms.sign(DOC, pki.ed25519.signer(), detached=True), content=DOC)
    assert len(der.read_signed_data(joined).signer_infos) == 2


def test_join_refuses_garbage(pki: PKI) -> None:
    with pytest.raises(der.MalformedSignature):
        cms.join(b"garbage", cms.sign(DOC, pki.citizen.signer()))


def test_make_attached(pki: PKI, validator: Validator) -> None:
    det = cms.sign(DOC, pki.citizen.signer(), detached=True)
    att = cms.make_attached(det, DOC)
    assert cms.content_of(att) == DOC and validator.validate(att).passed
    with pytest.raises(cms.ContentMismatch):
        cms.make_attached(det, b"not it")


def test_a_registered_national_algorithm_signs_and_verifies(pki: PKI, validator: Validator) -> None:
    """The registry is the only place an algorithm is described: a new one works end to end."""
    from cryptography.hazmat.primitives import hashes

    from signing_pki import Party, certificate, name

    p384 = algorithms.Algorithm(
        name="ecdsa-p384-test", digest_name="sha384", signature_oid="1.2.840.10045.4.3.3",
        asn1_signature_name="sha384_ecdsa", generate=lambda: ec.generate_private_key(ec.SECP384R1()),
        sign=lambda k, d: k.sign(d, ec.ECDSA(hashes.SHA384())),
        verify=lambda p, s, d: p.verify(s, d, ec.ECDSA(hashes.SHA384())),
        matches=lambda k: isinstance(k, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey))
        and isinstance(k.curve, ec.SECP384R1),
    )
    algorithms.register(p384)
    try:
        key = p384.generate()
        party = Party(key, certificate(name("P384 SIGNER", pinfl="14141414141414"), key, pki.issuing),
                      [pki.issuing.cert])
        sig = cms.sign(DOC, party.signer())
        si = der.read_signed_data(sig).signer_infos[0]
        assert (si.digest_name, si.signature_oid) == ("sha384", "1.2.840.10045.4.3.3")
        assert validator.validate(sig).passed
    finally:
        del algorithms.REGISTRY["ecdsa-p384-test"]


def test_tampered_after_cosign_fails_only_where_it_should(pki: PKI, validator: Validator) -> None:
    both = cms.cosign(cms.sign(DOC, pki.citizen.signer()), pki.employee.signer())
    report = validator.validate(both.replace(b"street light", b"street LIGHT"))
    assert [s.sub_indication for s in report.signers] == [SubIndication.HASH_FAILURE] * 2
    assert report.indication is Indication.TOTAL_FAILED


def test_file_changed_between_passes_is_refused(pki: PKI, tmp_path: Path) -> None:
    src = tmp_path / "doc.bin"
    src.write_bytes(b"a" * 4096)
    out = tmp_path / "doc.p7s"
    calls = []

    def tamper(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:  # after the hashing pass read its only chunk, before the copy pass
            src.write_bytes(b"b" * 4096)

    with pytest.raises(SigningError, match="changed while it was being signed"):
        cms.sign_file(src, pki.citizen.signer(), out, progress=tamper)
    assert not out.exists() and set(tmp_path.iterdir()) == {src}


HSM_SCRIPT = r'''
import os, subprocess, sys, tempfile
root = tempfile.mkdtemp()
os.mkdir(os.path.join(root, "tokens"))
conf = os.path.join(root, "softhsm2.conf")
with open(conf, "w") as f:
    f.write(f"directories.tokendir = {root}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
os.environ["SOFTHSM2_CONF"] = conf
made = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "cms", "--pin", "1234",
                       "--so-pin", "5678"], capture_output=True, text=True)
assert made.returncode == 0, made.stderr
sys.path.insert(0, sys.argv[1])
from signing_pki import PKI, certificate, name
from keystore.pkcs11 import Token
from signing import cms, der
from signing.validate import Validator
pki = PKI()
with Token("cms", "1234") as token:
    key = token.generate_key("officer")
    cert = certificate(name("HSM OFFICER", pinfl="15151515151515"), key, pki.issuing)
    sig = cms.sign(b"answer to appeal 17", cms.Signer(key, cert, [pki.issuing.cert]))
report = Validator([pki.root.cert], crls=pki.crls).validate(sig)
assert report.passed, report.to_json()
print("signed on the token:", report.signers[0].name, der.read_signed_data(sig).signer_infos[0].signature_oid)
'''


def test_cms_signing_with_a_pkcs11_key_that_stays_on_the_token() -> None:
    """Part A's SoftHSM keys sign CMS through the same registry (a fresh process: SoftHSM reads its config once)."""
    import subprocess
    import sys

    here = Path(__file__).parent
    done = subprocess.run([sys.executable, "-c", HSM_SCRIPT, str(here)], capture_output=True, text=True, timeout=120,
                          cwd=here.parent.parent)
    assert done.returncode == 0, done.stderr
    assert "signed on the token: HSM OFFICER 1.2.840.10045.4.3.2" in done.stdout
