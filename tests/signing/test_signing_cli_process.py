"""The real `imzo` process: one-line errors, nothing half-made on a TSA failure or a signal, --version,
serials that `ca revoke` accepts as `keys list` shows them, and minimum lengths of new passwords."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from keystore.folder import KeysFolder
from keystore.pfx import encrypt_key
from signing import algorithms, oids, x509_signing
from signing.ca import CertificateAuthority

from signing_pki import PKI

PASSWORD = "to'g'ri-parol"
IMZO = Path(sys.executable).with_name("imzo")


def imzo(*args: object, stdin: str = "", cwd: Path | None = None, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess:
    return subprocess.run([str(IMZO), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, **(env or {})})


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture
def signer_pfx(pki: PKI, tmp_path: Path) -> Path:
    path = tmp_path / "citizen.pfx"
    path.write_bytes(encrypt_key(pki.citizen.key, PASSWORD.encode(), pki.citizen.cert, pki.citizen.chain,
                                 kdf_rounds=1000))
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".p7s")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- TSA failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["notaurl", "ftp://127.0.0.1/tsa", "http://", "http://exa mple/"])
def test_a_tsa_url_that_is_not_one_is_a_one_line_usage_error(signer_pfx: Path, tmp_path: Path, url: str) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"ariza")
    for args in (["sign", doc, "--pfx", signer_pfx, "--password-stdin"], ["timestamp", doc]):
        done = imzo(*args, "--tsa-url", url, stdin=PASSWORD + "\n")
        assert done.returncode == 2
        assert "--tsa-url" in one_line(done) and "http" in done.stderr
    assert leftovers(tmp_path) == []


def test_an_unreachable_tsa_leaves_no_signature(signer_pfx: Path, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"ariza" * 1000)
    url = f"http://127.0.0.1:{closed_port()}/tsa"
    for extra in ([], ["--detached"]):
        done = imzo("sign", doc, *extra, "--tsa-url", url, "--pfx", signer_pfx, "--password-stdin",
                    stdin=PASSWORD + "\n")
        assert done.returncode == 1
        assert "TSA" in one_line(done)
        assert leftovers(tmp_path) == []


# --- signals during a big sign ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_big_sign_leaves_no_temporary_file(signer_pfx: Path, tmp_path: Path, signum: int) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(768 << 20)  # sparse: costs no disk until the signature copies it
    proc = subprocess.Popen([str(IMZO), "sign", str(big), "--pfx", str(signer_pfx), "--password-stdin"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(PASSWORD + "\n")
    proc.stdin.flush()
    # wait until the signature is being written (its hidden temporary file exists), then signal
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".big.bin.p7s") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "signing never started writing"
        time.sleep(0.005)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert leftovers(tmp_path) == []


# --- version and usage errors ------------------------------------------------------------------------


def test_version() -> None:
    from importlib.metadata import version

    done = imzo("--version")
    assert done.returncode == 0 and version("yagona") in done.stdout


@pytest.mark.parametrize("args", [["sign"], ["nosuchcommand"], ["verify", "x.p7s", "--bogus"],
                                  ["keys", "new"], ["ca", "revoke"], ["sign", "--detached"]])
def test_usage_errors_are_one_line(args: list[str], tmp_path: Path) -> None:
    done = imzo(*args, cwd=tmp_path)
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("Error: ") and "--help" in line


# --- serials ------------------------------------------------------------------------------------------


def _citizen_csr(key) -> x509.CertificateSigningRequest:
    subject = x509.Name([x509.NameAttribute(o, v) for o, v in (
        (NameOID.COUNTRY_NAME, "UZ"), (NameOID.COMMON_NAME, "Jasur Tursunov"), (NameOID.SURNAME, "Tursunov"),
        (NameOID.GIVEN_NAME, "Jasur"), (oids.PINFL, "30101850123456"))])
    return x509_signing.sign(x509.CertificateSigningRequestBuilder().subject_name(subject), key)


def test_the_serial_keys_list_shows_is_the_one_ca_revoke_takes(tmp_path: Path) -> None:
    ca_pw, key_pw = "operator-secret-pw", "citizen-pw"
    ca = CertificateAuthority.create(tmp_path / "ca", ca_pw.encode(), kdf_rounds=1000)
    key = algorithms.DEFAULT.generate()
    cert = ca.issue(_citizen_csr(key))
    assert cert.serial_number.bit_length() > 64  # the tester's case: longer than 16 hex digits
    KeysFolder(tmp_path / "DSKEYS", kdf_rounds=1000).store("jasur", key, key_pw.encode(), certificate=cert,
                                                           chain=[ca.issuing_certificate])
    listing = imzo("keys", "list", "--keys", tmp_path / "DSKEYS")
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()[:2]
    serial = row[header.index("SERIAL"):].split()[0]
    assert serial == f"{cert.serial_number:x}"
    done = imzo("ca", "revoke", serial, "--ca", tmp_path / "ca", "--password-stdin", stdin=ca_pw + "\n")
    assert done.returncode == 0, done.stderr
    assert serial in imzo("ca", "list", "--ca", tmp_path / "ca").stdout


# --- new passwords ------------------------------------------------------------------------------------

CITIZEN = ["--cn", "Alisher Valiyev", "--surname", "Valiyev", "--given-name", "Alisher", "--pinfl", "32301940190066"]


def test_a_new_key_password_needs_8_characters(tmp_path: Path) -> None:
    keys = tmp_path / "DSKEYS"
    short = imzo("keys", "new", "ali", *CITIZEN, "--keys", keys, "--password-stdin", stdin="1234567\n")
    assert short.returncode == 1 and "at least 8 characters" in one_line(short)
    assert not keys.exists() or not any(keys.iterdir())
    ok = imzo("keys", "new", "ali", *CITIZEN, "--keys", keys, "--csr-out", tmp_path / "ali.csr", "--password-stdin",
              stdin="12345678\n")
    assert ok.returncode == 0, ok.stderr
    before = (keys / "ali.pfx").read_bytes()
    passwd = imzo("keys", "passwd", "ali", "--keys", keys, "--password-stdin", stdin="12345678\nX\n")
    assert passwd.returncode == 1 and "at least 8 characters" in one_line(passwd)
    assert (keys / "ali.pfx").read_bytes() == before


def test_a_new_ca_password_needs_12_characters(tmp_path: Path) -> None:
    short = imzo("ca", "init", "--ca", tmp_path / "ca", "--password-stdin", stdin="12345678901\n")
    assert short.returncode == 1 and "at least 12 characters" in one_line(short)
    assert not (tmp_path / "ca").exists() or not any((tmp_path / "ca").iterdir())


def test_an_imported_pfx_keeps_its_own_password(pki: PKI, tmp_path: Path) -> None:
    made_elsewhere = tmp_path / "eimzo.pfx"
    made_elsewhere.write_bytes(encrypt_key(pki.citizen.key, b"123", pki.citizen.cert, kdf_rounds=1000))
    keys = tmp_path / "DSKEYS"
    kept = imzo("keys", "import-pfx", "mine", made_elsewhere, "--keys", keys, "--password-stdin", stdin="123\n123\n")
    assert kept.returncode == 0, kept.stderr
    changed_short = imzo("keys", "import-pfx", "other", made_elsewhere, "--keys", keys, "--password-stdin",
                         stdin="123\n1234\n")
    assert changed_short.returncode == 1 and "at least 8 characters" in one_line(changed_short)
    assert not (keys / "other.pfx").exists()
