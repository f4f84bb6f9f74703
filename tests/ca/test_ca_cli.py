"""`imzo ca` and `imzo keys` end to end: init, key + CSR, issue, import, list, revoke, CRL; one-line refusals."""
from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509 import ocsp

from signing.imzo import keys as keys_cli
from signing.imzo import main

CA_PW = "ca-secret-pw"
KEY_PW = "key-secret-pw"
CITIZEN = ["--cn", "Alisher Valiyev", "--surname", "Valiyev", "--given-name", "Alisher", "--pinfl", "32301940190066"]


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    monkeypatch.setattr(keys_cli, "KDF_ROUNDS", 1000)


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("IMZO_CA", str(tmp_path / "ca"))
    monkeypatch.setenv("IMZO_KEYS", str(tmp_path / "DSKEYS"))
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def _error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code != 0 and len(lines) == 1, result.stderr
    return lines[0]


def test_full_flow_init_new_issue_import_list_revoke(run, tmp_path):
    assert run("ca", "init", "--password-stdin", input=CA_PW + "\n").exit_code == 0
    r = run("keys", "new", "ali", *CITIZEN, "--csr-out", str(tmp_path / "ali.csr"), "--password-stdin",
            input=KEY_PW + "\n")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "DSKEYS" / "ali.pfx").exists() and (tmp_path / "DSKEYS" / "ali.csr").exists()
    assert "pending" in run("keys", "list").stdout

    r = run("ca", "issue", str(tmp_path / "ali.csr"), "--out", str(tmp_path / "ali.pem"), "--password-stdin",
            input=CA_PW + "\n")
    assert r.exit_code == 0, r.stderr
    chain = x509.load_pem_x509_certificates((tmp_path / "ali.pem").read_bytes())
    assert len(chain) == 3
    serial = f"{chain[0].serial_number:x}"
    assert serial in r.stderr

    r = run("keys", "import", "ali", str(tmp_path / "ali.pem"), "--password-stdin", input=KEY_PW + "\n")
    assert r.exit_code == 0, r.stderr
    listing = run("keys", "list").stdout
    assert "issued" in listing and "32301940190066" in listing and "Alisher Valiyev" in listing

    # the PFX now holds key + certificate + chain, and OpenSSL opens it with the key password
    out = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "DSKEYS" / "ali.pfx"), "-nokeys",
                          "-passin", "pass:" + KEY_PW], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.count("BEGIN CERTIFICATE") == 3, out.stderr

    revoked = run("ca", "revoke", serial, "--reason", "key_compromise", "--password-stdin", input=CA_PW + "\n")
    assert revoked.exit_code == 0
    assert "revoked:key_compromise" in run("ca", "list").stdout
    r = run("ca", "crl", "--out", str(tmp_path / "crl.pem"), "--password-stdin", input=CA_PW + "\n")
    assert r.exit_code == 0
    the_crl = x509.load_pem_x509_crl((tmp_path / "crl.pem").read_bytes())
    assert the_crl.get_revoked_certificate_by_serial_number(chain[0].serial_number) is not None
    root = run("ca", "root").stdout
    assert x509.load_pem_x509_certificate(root.encode()) == chain[2]


def test_employee_key_and_certificate(run, tmp_path):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    r = run("keys", "new", "work", *CITIZEN, "--tin", "300777132", "--org", "Hokimlik", "--title", "direktor",
            "--password-stdin", input=KEY_PW + "\n")
    assert r.exit_code == 0, r.stderr
    (tmp_path / "work.csr").write_text(r.stdout)
    r = run("ca", "issue", str(tmp_path / "work.csr"), "--profile", "employee", "--password-stdin", input=CA_PW + "\n")
    assert r.exit_code == 0, r.stderr
    subject = x509.load_pem_x509_certificates(r.stdout.encode())[0].subject
    assert "1.2.860.3.16.1.1=300777132" in subject.rfc4514_string()


def test_cli_default_kdf_is_the_strong_one():
    from keystore import pfx

    assert pfx.KDF_ROUNDS >= 600_000


def test_hidden_prompt_never_echoes_the_password(run):
    r = run("ca", "init", input=f"{CA_PW}\n{CA_PW}\n")
    assert r.exit_code == 0, r.stderr
    assert CA_PW not in r.output and CA_PW not in r.stderr


def test_tsa_cert_writes_a_pfx_openssl_opens(run, tmp_path):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    r = run("ca", "tsa-cert", str(tmp_path / "tsa.pfx"), "--password-stdin", input=f"{CA_PW}\ntsa-key-pw\n")
    assert r.exit_code == 0, r.stderr
    out = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "tsa.pfx"), "-nokeys", "-clcerts",
                          "-passin", "pass:tsa-key-pw"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cert = x509.load_pem_x509_certificate(out.stdout[out.stdout.index("-----BEGIN"):].encode())
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).critical


def test_ocsp_respond_command_answers_and_refuses_garbage(run, tmp_path):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    (tmp_path / "junk.der").write_bytes(b"junk")
    r = run("ca", "ocsp-respond", "--in", str(tmp_path / "junk.der"), "--out", str(tmp_path / "resp.der"),
            "--password-stdin", input=CA_PW + "\n")
    assert r.exit_code == 0, r.stderr
    resp = ocsp.load_der_ocsp_response((tmp_path / "resp.der").read_bytes())
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


# ------------------------------------------------------------------- refusals: one line, non-zero, nothing written
def test_wrong_ca_password_is_one_line(run, tmp_path):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    r = run("ca", "crl", "--password-stdin", input="wrong\n")
    assert _error_line(r) == "Error: the password does not open this key file"


def test_bad_pinfl_is_refused_before_any_key_is_made(run, tmp_path):
    args = [a if a != "32301940190066" else "123" for a in CITIZEN]
    r = run("keys", "new", "ali", *args, "--password-stdin", input=KEY_PW + "\n")
    assert "PINFL must be exactly 14 digits" in _error_line(r)
    assert not (tmp_path / "DSKEYS").exists() or not list((tmp_path / "DSKEYS").glob("*.pfx"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage that is no CSR", "not a PKCS#10 certificate request"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n", "not a PKCS#10"),
        (b"A" * (64 * 1024 + 10), "over 65536 bytes is refused"),
    ],
    ids=["garbage", "truncated", "huge"],
)
def test_bad_csr_is_refused_without_touching_the_ca(run, tmp_path, content, message):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    before = (tmp_path / "ca" / "index.json").read_bytes()
    (tmp_path / "bad.csr").write_bytes(content)
    r = run("ca", "issue", str(tmp_path / "bad.csr"), "--password-stdin", input=CA_PW + "\n")
    assert message in _error_line(r)
    assert (tmp_path / "ca" / "index.json").read_bytes() == before


def test_wrong_key_password_on_import_and_unknown_key(run, tmp_path):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    r = run("keys", "new", "ali", *CITIZEN, "--csr-out", str(tmp_path / "ali.csr"), "--password-stdin",
            input=KEY_PW + "\n")
    run("ca", "issue", str(tmp_path / "ali.csr"), "--out", str(tmp_path / "ali.pem"), "--password-stdin",
        input=CA_PW + "\n")
    r = run("keys", "import", "ali", str(tmp_path / "ali.pem"), "--password-stdin", input="wrong\n")
    assert _error_line(r) == "Error: the password does not open this key file"
    assert "pending" in run("keys", "list").stdout
    r = run("keys", "import", "nobody", str(tmp_path / "ali.pem"), "--password-stdin", input=KEY_PW + "\n")
    assert "no key named 'nobody'" in _error_line(r)


def test_corrupt_pfx_is_one_line(run, tmp_path):
    run("keys", "new", "ali", *CITIZEN, "--password-stdin", input=KEY_PW + "\n")
    pfx_path = tmp_path / "DSKEYS" / "ali.pfx"
    pfx_path.write_bytes(pfx_path.read_bytes()[:100])
    r = run("keys", "passwd", "ali", "--password-stdin", input=f"{KEY_PW}\nnew-key-pw\n")
    assert "damaged or is not a PKCS#12" in _error_line(r)


def test_passwd_and_export(run, tmp_path):
    run("keys", "new", "ali", *CITIZEN, "--password-stdin", input=KEY_PW + "\n")
    assert run("keys", "passwd", "ali", "--password-stdin", input=f"{KEY_PW}\nnew-key-pw\n").exit_code == 0
    r = run("keys", "export", "ali", str(tmp_path / "copy.pfx"), "--password-stdin", input="new-key-pw\nexport-pw\n")
    assert r.exit_code == 0, r.stderr
    out = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "copy.pfx"), "-info", "-noout",
                          "-passin", "pass:export-pw"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "AES-256-CBC" in out.stderr


def test_revoke_refusals(run):
    run("ca", "init", "--password-stdin", input=CA_PW + "\n")
    assert "not a hex number" in _error_line(run("ca", "revoke", "xyz", "--password-stdin", input=CA_PW + "\n"))
    revoked = run("ca", "revoke", "abc", "--password-stdin", input=CA_PW + "\n")
    assert "no certificate with serial abc" in _error_line(revoked)


def test_commands_without_a_ca_say_to_init(run):
    assert "imzo ca init" in _error_line(run("ca", "root"))
    assert "imzo ca init" in _error_line(run("ca", "list"))
    assert "already holds a CA" not in run("ca", "init", "--password-stdin", input=CA_PW + "\n").stderr
    assert "already holds a CA" in _error_line(run("ca", "init", "--password-stdin", input=CA_PW + "\n"))
