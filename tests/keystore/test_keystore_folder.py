"""The keys folder: PFX files OpenSSL can read, wrong/corrupt refusals that change nothing, import/export."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from keystore import pfx
from keystore.errors import CorruptKeystore, KeyNotFound, KeystoreError, WrongPassword
from keystore.folder import KeysFolder
from signing import algorithms

PW = b"correct horse"
FAST_KDF = 1000


def _cert_for(key, cn: str = "Alisher Valiyev") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(x509.ObjectIdentifier("1.2.860.3.16.1.2"), "32301940190066")])
    now = datetime.now(timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))


def _csr_for(key) -> x509.CertificateSigningRequest:
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pending Person")]))
            .sign(key, hashes.SHA256()))


@pytest.fixture
def folder(tmp_path) -> KeysFolder:
    return KeysFolder(tmp_path / "DSKEYS", kdf_rounds=FAST_KDF)


def _snapshot(f: KeysFolder):
    return {p.name: p.read_bytes() for p in sorted(f.path.iterdir()) if p.name != ".lock"}


def test_store_open_sign_round_trip(folder):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW, certificate=_cert_for(key))
    opened = folder.open("ali", PW)
    sig = opened.sign(b"appeal", algorithms.for_key(opened.private_key))
    algorithms.DEFAULT.verify(key.public_key(), sig, b"appeal")
    assert opened.certificate.subject == _cert_for(key).subject


def test_pfx_on_disk_is_aes256_pbes2_and_openssl_reads_it(folder):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW, certificate=_cert_for(key))
    path = folder.path / "ali.pfx"
    raw = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert raw not in path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    info = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-info", "-noout", "-passin", "pass:" + PW.decode()],
                          capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "PBES2, PBKDF2, AES-256-CBC" in info.stderr and "MAC: sha256" in info.stderr
    keyout = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-nocerts", "-nodes",
                             "-passin", "pass:" + PW.decode()],
                            capture_output=True)
    loaded = serialization.load_pem_private_key(keyout.stdout[keyout.stdout.index(b"-----BEGIN"):], None)
    assert loaded.public_key() == key.public_key()


def test_default_kdf_rounds_stay_strong():
    assert pfx.KDF_ROUNDS >= 600_000
    assert KeysFolder("/nonexistent").kdf_rounds == pfx.KDF_ROUNDS


def test_list_shows_pending_and_issued_keys_without_a_password(folder):
    k1, k2 = algorithms.DEFAULT.generate(), algorithms.DEFAULT.generate()
    folder.store("pending", k1, PW, csr=_csr_for(k1))
    folder.store("issued", k2, PW, certificate=_cert_for(k2))
    rows = {e.name: e for e in folder.list()}
    assert rows["pending"].state == "pending" and rows["pending"].subject.rfc4514_string() == "CN=Pending Person"
    assert rows["issued"].state == "issued" and rows["issued"].pinfl == "32301940190066"
    assert "1.2.860.3.16.1.2=32301940190066" in rows["issued"].alias()
    assert KeysFolder(folder.path / "missing").list() == []


def test_wrong_password_is_refused_and_nothing_changes(folder):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW)
    before = _snapshot(folder)
    with pytest.raises(WrongPassword, match="password does not open"):
        folder.open("ali", b"wrong")
    with pytest.raises(WrongPassword):
        folder.change_password("ali", b"wrong", b"new password")
    with pytest.raises(WrongPassword):
        folder.export("ali", b"wrong")
    assert _snapshot(folder) == before


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"this is not a pfx at all", id="garbage"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_corrupt_pfx_is_refused_as_corrupt(folder, mangle):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW)
    path = folder.path / "ali.pfx"
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(CorruptKeystore, match="damaged or is not a PKCS#12"):
        folder.open("ali", PW)


def test_huge_pfx_is_refused_without_reading_it(folder):
    (folder.path).mkdir(parents=True)
    (folder.path / "big.pfx").write_bytes(b"\x30" * (pfx.MAX_PFX_BYTES + 1))
    with pytest.raises(CorruptKeystore, match="is refused"):
        folder.open("big", PW)


def test_missing_key_bad_name_and_duplicate_are_refused(folder):
    key = algorithms.DEFAULT.generate()
    with pytest.raises(KeyNotFound, match="no key named 'nobody'"):
        folder.open("nobody", PW)
    with pytest.raises(KeystoreError, match="not allowed"):
        folder.open("../etc/passwd", PW)
    folder.store("ali", key, PW)
    before = _snapshot(folder)
    with pytest.raises(KeystoreError, match="already exists"):
        folder.store("ali", algorithms.DEFAULT.generate(), PW)
    with pytest.raises(KeystoreError, match="non-empty password"):
        folder.store("empty", key, b"")
    assert _snapshot(folder) == before


def test_change_password(folder):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW)
    folder.change_password("ali", PW, b"new secret")
    assert folder.open("ali", b"new secret").private_key.public_key() == key.public_key()
    with pytest.raises(WrongPassword):
        folder.open("ali", PW)
    with pytest.raises(KeystoreError, match="non-empty"):
        folder.change_password("ali", b"new secret", b"")


def test_import_certificate_replaces_csr_and_refuses_a_foreign_certificate(folder):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW, csr=_csr_for(key))
    other = ec.generate_private_key(ec.SECP256R1())
    before = _snapshot(folder)
    with pytest.raises(KeystoreError, match="is for another key"):
        folder.import_certificate("ali", PW, _cert_for(other))
    assert _snapshot(folder) == before
    cert = _cert_for(key)
    entry = folder.import_certificate("ali", PW, cert)
    assert entry.state == "issued" and entry.certificate == cert
    assert not (folder.path / "ali.csr").exists()
    assert folder.open("ali", PW).certificate == cert


def test_export_then_import_elsewhere_with_new_password(folder, tmp_path):
    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW, certificate=_cert_for(key))
    blob = folder.export("ali", PW, b"transfer")
    other = KeysFolder(tmp_path / "usb", kdf_rounds=FAST_KDF)
    other.import_pfx("ali-copy", blob, b"transfer", new_password=b"mine now")
    assert other.open("ali-copy", b"mine now").private_key.public_key() == key.public_key()
    with pytest.raises(WrongPassword):
        other.import_pfx("x", blob, b"nope")
    assert [e.name for e in other.list()] == ["ali-copy"]


def test_import_pfx_made_by_openssl(folder, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (tmp_path / "c.pem").write_bytes(_cert_for(key).public_bytes(serialization.Encoding.PEM))
    made = subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(tmp_path / "k.pem"),
                           "-in", str(tmp_path / "c.pem"),
                           "-passout", "pass:fromopenssl", "-out", str(tmp_path / "e.pfx")], capture_output=True)
    assert made.returncode == 0, made.stderr
    entry = folder.import_pfx("eimzo", (tmp_path / "e.pfx").read_bytes(), b"fromopenssl")
    assert entry.state == "issued" and entry.pinfl == "32301940190066"


def test_crash_mid_password_change_keeps_the_old_file(folder, monkeypatch):
    import os

    key = algorithms.DEFAULT.generate()
    folder.store("ali", key, PW)
    before = _snapshot(folder)
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("power cut")))
    with pytest.raises(OSError, match="power cut"):
        folder.change_password("ali", PW, b"new secret")
    monkeypatch.undo()
    assert _snapshot(folder) == before
    assert folder.open("ali", PW)
