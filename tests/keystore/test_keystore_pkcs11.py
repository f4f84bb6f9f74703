"""The PKCS#11 backend against a real SoftHSM2 token: keys stay on the token and sign like software keys."""
from __future__ import annotations

import hashlib
import subprocess

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute

from keystore.errors import KeyNotFound, KeystoreError, WrongPassword
from keystore.pkcs11 import Token
from signing import algorithms, tsa
from signing.ca import CertificateAuthority


@pytest.fixture
def token(softhsm):
    with Token(softhsm.label, softhsm.pin, softhsm.module) as t:
        yield t


def test_ec_key_on_token_signs_through_the_algorithm_registry(token, request):
    key = token.generate_key(f"ec-{request.node.name[-8:]}", "ecdsa-p256")
    alg = algorithms.for_key(key)
    assert alg.name == "ecdsa-p256"
    sig = alg.sign(key, b"service seal")
    alg.verify(key.public_key(), sig, b"service seal")
    with pytest.raises(InvalidSignature):
        alg.verify(key.public_key(), sig, b"other data")


def test_rsa_pss_key_on_token_signs_through_the_algorithm_registry(token):
    key = token.generate_key("rsa-seal", "rsa-pss-3072")
    alg = algorithms.for_key(key)
    assert alg.name == "rsa-pss-3072" and key.key_size == 3072
    alg.verify(key.public_key(), alg.sign(key, b"data"), b"data")


def test_private_key_never_leaves_the_token(token):
    key = token.generate_key("sealed", "ecdsa-p256")
    with pytest.raises(KeystoreError, match="stays on the token"):
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(KeystoreError, match="stays on the token"):
        key.private_numbers()
    assert key._priv[Attribute.EXTRACTABLE] is False and key._priv[Attribute.SENSITIVE] is True


def test_key_persists_across_sessions(softhsm):
    with Token(softhsm.label, softhsm.pin, softhsm.module) as t:
        pub = t.generate_key("persistent", "ecdsa-p256").public_key()
    with Token(softhsm.label, softhsm.pin, softhsm.module) as t:
        assert t.key("persistent").public_key() == pub
        assert "persistent" in t.labels()


def test_timestamp_authority_with_a_token_key_passes_openssl(token, tmp_path):
    ca = CertificateAuthority.create(tmp_path / "ca", b"pw", kdf_rounds=1000)
    key = token.generate_key("tsa", "ecdsa-p256")
    authority = tsa.TimestampAuthority(key, ca.issue_tsa_certificate(key.public_key()), chain=[ca.issuing_certificate])
    digest = hashlib.sha256(b"document").digest()
    (tmp_path / "r.tsr").write_bytes(authority.respond(tsa.build_request(digest, nonce=9)))
    (tmp_path / "root.pem").write_bytes(ca.root_certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "int.pem").write_bytes(ca.issuing_certificate.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "ts", "-verify", "-digest", digest.hex(), "-in", str(tmp_path / "r.tsr"),
                          "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "int.pem")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stderr


def test_wrong_pin_unknown_token_and_unknown_key_are_refused(softhsm, token):
    # `token` holds the process's login, so the token itself would not check a PIN now: we do.
    with pytest.raises(WrongPassword, match="PIN does not open token 'yagona-test'"):
        Token(softhsm.label, "0000", softhsm.module)
    second = Token(softhsm.label, softhsm.pin, softhsm.module)
    second.close()
    with pytest.raises(KeystoreError, match="session on token 'yagona-test' is closed"):
        second.labels()
    with pytest.raises(KeyNotFound, match="no PKCS#11 token labelled 'nope'"):
        Token("nope", softhsm.pin, softhsm.module)
    with pytest.raises(KeyNotFound, match="no key labelled 'ghost'"):
        token.key("ghost")


def test_duplicate_label_and_unknown_kind_are_refused(token):
    token.generate_key("dup", "ecdsa-p256")
    with pytest.raises(KeystoreError, match="already has a key labelled 'dup'"):
        token.generate_key("dup", "ecdsa-p256")
    with pytest.raises(KeystoreError, match="choose one of ecdsa-p256, rsa-pss-3072"):
        token.generate_key("gost", "gost-2012")
    assert token.labels().count("dup") == 1


def test_wrong_pin_is_refused_by_the_token_itself(softhsm):
    with pytest.raises(WrongPassword, match="PIN does not open"):
        Token(softhsm.label, "9999", softhsm.module)


def test_bad_module_path_is_refused(softhsm, tmp_path):
    (tmp_path / "fake.so").write_bytes(b"not a library")
    with pytest.raises(KeystoreError, match="cannot load the PKCS#11 module"):
        Token(softhsm.label, softhsm.pin, str(tmp_path / "fake.so"))
