"""Interop both ways: the OpenSSL CLI and pyHanko accept our signatures; we accept theirs."""
from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as a_cms
from asn1crypto import keys as a_keys
from asn1crypto import x509 as a_x509
from cryptography.hazmat.primitives import serialization

from signing import cms, der
from signing.report import Indication, SubIndication
from signing.validate import Validator

from signing_pki import NOW, PKI, Party

DOC = "Ariza: yer uchastkasi bo'yicha ma'lumot so'rayman.\r\n".encode() * 50


def pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def openssl(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)


@pytest.fixture
def files(pki: PKI, tmp_path: Path) -> dict[str, Path]:
    out = {"root": tmp_path / "root.pem", "other": tmp_path / "other.pem", "doc": tmp_path / "doc.txt",
           "chain": tmp_path / "chain.pem"}
    out["root"].write_bytes(pem(pki.root.cert))
    out["other"].write_bytes(pem(pki.other_root.cert))
    out["chain"].write_bytes(pem(pki.issuing.cert))
    out["doc"].write_bytes(DOC)
    return out


def openssl_verify(sig: bytes, files: dict[str, Path], tmp_path: Path, *, detached: bool, root: str = "root"
                   ) -> subprocess.CompletedProcess:
    path = tmp_path / "sig.p7s"
    path.write_bytes(sig)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", path, "-CAfile", files[root],
            "-out", tmp_path / "out"]
    if detached:
        args += ["-content", files["doc"]]
    return openssl(*args)


# --- OpenSSL accepts ours -----------------------------------------------------------------------------


# OpenSSL 3.0's CMS code has no Ed25519 (it cannot sign or verify one of its own: "no default digest",
# "eddsa_digest_signverify_init: invalid digest"); our Ed25519 CMS is checked against pyHanko below.
@pytest.mark.parametrize("who", ["citizen", "employee", "rsa"])
@pytest.mark.parametrize("detached", [False, True])
def test_openssl_verifies_our_signatures(pki: PKI, files, tmp_path: Path, who: str, detached: bool) -> None:
    sig = cms.sign(DOC, getattr(pki, who).signer(), detached=detached)
    done = openssl_verify(sig, files, tmp_path, detached=detached)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Verification successful" in done.stderr
    assert (tmp_path / "out").read_bytes() == DOC


def test_openssl_verifies_cosigned_and_timestamped(pki: PKI, files, tmp_path: Path) -> None:
    both = cms.cosign(cms.sign(DOC, pki.citizen.signer()), pki.employee.signer())
    stamped, _ = cms.add_timestamp(both, pki.tsa())
    done = openssl_verify(stamped, files, tmp_path, detached=False)
    assert done.returncode == 0, done.stderr.decode()
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "sig.p7s").stdout.decode()
    assert printed.count("id-smime-aa-timeStampToken") == 2
    # two signers and, inside each timestamp token, the TSA's own
    assert printed.count("id-smime-aa-signingCertificateV2") == 4


def test_openssl_refuses_ours_with_the_wrong_root(pki: PKI, files, tmp_path: Path) -> None:
    done = openssl_verify(cms.sign(DOC, pki.citizen.signer()), files, tmp_path, detached=False, root="other")
    assert done.returncode != 0 and b"unable to get local issuer certificate" in done.stderr


def test_openssl_refuses_ours_when_content_altered(pki: PKI, files, tmp_path: Path) -> None:
    sig = cms.sign(DOC, pki.citizen.signer(), detached=True)
    files["doc"].write_bytes(DOC + b"x")
    done = openssl_verify(sig, files, tmp_path, detached=True)
    assert done.returncode != 0 and b"content verify error" in done.stderr


# --- we accept OpenSSL's ----------------------------------------------------------------------------


def _party_files(party: Party, tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "signer.pem", tmp_path / "signer.key"
    cert.write_bytes(pem(party.cert))
    key.write_bytes(party.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return cert, key


@pytest.mark.parametrize("flags,detached", [
    ([], False),
    (["-nodetach"], False),
    ([], True),
    (["-cades"], True),
    (["-stream"], False),  # indefinite-length BER
    (["-noattr"], True),  # no signed attributes: the signature is over the content itself
    (["-md", "sha384", "-keyid"], False),  # subjectKeyIdentifier sid, SHA-384
])
@pytest.mark.parametrize("who", ["citizen", "rsa"])
def test_we_validate_openssl_signatures(pki: PKI, validator: Validator, files, tmp_path: Path, flags: list[str],
                                        detached: bool, who: str) -> None:
    cert, key = _party_files(getattr(pki, who), tmp_path)
    out = tmp_path / "openssl.p7s"
    args = ["cms", "-sign", "-binary", "-in", files["doc"], "-signer", cert, "-inkey", key, "-certfile",
            files["chain"], "-outform", "DER", "-out", out, *flags]
    if not detached and "-nodetach" not in flags:
        args.append("-nodetach")
    done = openssl(*args)
    assert done.returncode == 0, done.stderr.decode()
    sig = out.read_bytes()
    if "-stream" in flags:
        assert b"\x30\x80" in sig[:4]
    report = validator.validate(sig, DOC if detached else None)
    assert report.passed, report.to_json(indent=1)
    s = report.signers[0]
    assert s.pinfl == getattr(pki, who).cert.subject.get_attributes_for_oid(
        __import__("signing.oids", fromlist=["PINFL"]).PINFL)[0].value
    assert s.signature_format == ("CAdES-BASELINE-B" if "-cades" in flags else "CMS")
    # and altering the document is caught in their format too
    if detached:
        bad = validator.validate(sig, DOC[:-1] + b"?")
    else:
        bad = validator.validate(sig.replace(DOC[:40], DOC[:39] + b"?"))
    assert bad.signers and bad.signers[0].sub_indication in (SubIndication.HASH_FAILURE,
                                                            SubIndication.SIG_CRYPTO_FAILURE)
    assert bad.indication is Indication.TOTAL_FAILED


# --- pyHanko, both ways -----------------------------------------------------------------------------


def _asn1(cert) -> a_x509.Certificate:
    return a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def pyhanko_signer(pki: PKI, party: Party):
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = a_keys.PrivateKeyInfo.load(party.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return signers.SimpleSigner(signing_cert=_asn1(party.cert), signing_key=key,
                                cert_registry=SimpleCertificateStore.from_certs([_asn1(pki.issuing.cert)]))


@pytest.mark.parametrize("detached", [True, False])
@pytest.mark.parametrize("cades", [True, False])
def test_we_validate_pyhanko_signatures(pki: PKI, validator: Validator, detached: bool, cades: bool) -> None:
    signer = pyhanko_signer(pki, pki.employee)
    info = asyncio.run(signer.async_sign_general_data(DOC, "sha256", detached=detached, use_cades=cades))
    sig = info.dump()
    report = validator.validate(sig, DOC if detached else None)
    assert report.passed, report.to_json(indent=1)
    assert report.signers[0].tin == "301234567"
    assert report.signers[0].signature_format == "CAdES-BASELINE-B"  # pyHanko always adds signing-certificate-v2


@pytest.mark.parametrize("who", ["citizen", "ed25519", "rsa"])
def test_pyhanko_validates_ours(pki: PKI, who: str) -> None:
    from asn1crypto import crl as a_crl
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    sig = cms.sign(DOC, getattr(pki, who).signer(), detached=True)
    stamped, _ = cms.add_timestamp(sig, pki.tsa(NOW - timedelta(minutes=1)))
    crls = [a_crl.CertificateList.load(c.public_bytes(serialization.Encoding.DER)) for c in pki.crls]
    ctx = ValidationContext(trust_roots=[_asn1(pki.root.cert)], crls=crls, revocation_mode="hard-fail")
    for blob in (sig, stamped):
        signed_data = a_cms.ContentInfo.load(blob)["content"]
        status = asyncio.run(async_validate_detached_cms(DOC, signed_data, signer_validation_context=ctx,
                                                         ts_validation_context=ctx))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    # and pyHanko refuses ours over a different document
    bad = asyncio.run(async_validate_detached_cms(DOC + b"x", a_cms.ContentInfo.load(sig)["content"],
                                                  signer_validation_context=ctx))
    assert not bad.intact


def test_our_view_matches_asn1crypto_on_foreign_input(pki: PKI) -> None:
    """Our schema reader and asn1crypto agree on what a pyHanko signature contains."""
    signer = pyhanko_signer(pki, pki.citizen)
    blob = asyncio.run(signer.async_sign_general_data(DOC, "sha256", detached=False, use_cades=True)).dump()
    ours = der.read_signed_data(blob)
    theirs = a_cms.ContentInfo.load(blob)["content"]
    assert ours.content == theirs["encap_content_info"]["content"].native
    assert [c for c in ours.certificates] == [c.dump() for c in theirs["certificates"]]
    assert ours.signer_infos[0].signature == theirs["signer_infos"][0]["signature"].native


def test_we_validate_openssl_rsa_pss_signatures(pki: PKI, validator: Validator, files, tmp_path: Path) -> None:
    cert, key = _party_files(pki.rsa, tmp_path)
    out = tmp_path / "pss.p7s"
    done = openssl("cms", "-sign", "-binary", "-in", files["doc"], "-signer", cert, "-inkey", key, "-certfile",
                   files["chain"], "-outform", "DER", "-out", out, "-keyopt", "rsa_padding_mode:pss",
                   "-keyopt", "rsa_pss_saltlen:64")
    assert done.returncode == 0, done.stderr.decode()
    si = der.read_signed_data(out.read_bytes()).signer_infos[0]
    assert si.signature_oid == "1.2.840.113549.1.1.10"
    report = validator.validate(out.read_bytes(), DOC)
    assert report.passed, report.to_json(indent=1)
    assert report.signers[0].signature_algorithm == "rsassa-pss"
