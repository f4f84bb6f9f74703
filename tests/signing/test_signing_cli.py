"""`imzo sign | cosign | join | timestamp | verify` on real files, real PFX keys and a real TSA over HTTP."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from keystore.folder import KeysFolder
from keystore.pfx import encrypt_key
from signing import algorithms, cms, der, tsa
from signing.imzo import main
from signing.imzo import sign as sign_cli

from signing_pki import PKI

PASSWORD = "to'g'ri-parol"
DOC = b"Murojaat matni: iltimos, hovlimizdagi suv quvurini tuzating.\n" * 100


@pytest.fixture
def env(pki: PKI, tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / name for name in ("doc.txt", "root.pem", "crl.pem", "root-crl.pem", "other.pem",
                                                "citizen.pfx", "employee.pfx")}
    files["doc.txt"].write_bytes(DOC)
    files["root.pem"].write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    files["other.pem"].write_bytes(pki.other_root.cert.public_bytes(serialization.Encoding.PEM))
    files["crl.pem"].write_bytes(pki.crl.public_bytes(serialization.Encoding.PEM))
    files["root-crl.pem"].write_bytes(pki.root_crl.public_bytes(serialization.Encoding.DER))
    for who in ("citizen", "employee"):
        party = getattr(pki, who)
        files[f"{who}.pfx"].write_bytes(encrypt_key(party.key, PASSWORD.encode(), party.cert, party.chain,
                                                    kdf_rounds=1000))
    return files


def imzo(*args: object, password: str | None = PASSWORD) -> object:
    stdin = None if password is None else password + "\n"
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


def verify_args(env: dict[str, Path]) -> list[object]:
    return ["--trust", env["root.pem"], "--crl", env["crl.pem"], "--crl", env["root-crl.pem"]]


def test_sign_attached_then_verify(env) -> None:
    r = imzo("sign", env["doc.txt"], "--pfx", env["citizen.pfx"], "--password-stdin")
    assert r.exit_code == 0, r.output
    assert "attached" in r.output and "ALIYEV VALI" in r.output and PASSWORD not in r.output
    sig = env["doc.txt"].with_name("doc.txt.p7s")
    assert cms.content_of(sig.read_bytes()) == DOC
    v = imzo("verify", sig, *verify_args(env), password=None)
    assert v.exit_code == 0, v.output
    assert v.output.startswith("TOTAL-PASSED: 1 of 1 signature(s) valid (attached")
    assert "PINFL 31234567890123" in v.output and "CAdES-BASELINE-B" in v.output


def test_sign_detached_verify_json_and_altered_document(env) -> None:
    out = env["doc.txt"].with_name("doc.sig")
    r = imzo("sign", env["doc.txt"], "--detached", "-o", out, "--pfx", env["employee.pfx"], "--password-stdin")
    assert r.exit_code == 0, r.output
    assert cms.content_of(out.read_bytes()) is None
    v = imzo("verify", env["doc.txt"], out, *verify_args(env), "--json", password=None)
    assert v.exit_code == 0
    report = json.loads(v.output)
    assert report["indication"] == "TOTAL-PASSED" and report["signers"][0]["tin"] == "301234567"
    env["doc.txt"].write_bytes(DOC + b"P.S.")
    bad = imzo("verify", env["doc.txt"], out, *verify_args(env), password=None)
    assert bad.exit_code == 1
    assert bad.output.startswith("TOTAL-FAILED/HASH_FAILURE") and "changed after signing" in bad.output


def test_verify_exit_codes(env, pki: PKI) -> None:
    sig = env["doc.txt"].with_name("x.p7s")
    sig.write_bytes(cms.sign(DOC, pki.citizen.signer()))
    wrong_root = imzo("verify", sig, "--trust", env["other.pem"], "--crl", env["crl.pem"], password=None)
    assert wrong_root.exit_code == 3 and "INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND" in wrong_root.output
    no_crl = imzo("verify", sig, "--trust", env["root.pem"], password=None)
    assert no_crl.exit_code == 3 and "TRY_LATER" in no_crl.output
    relaxed = imzo("verify", sig, "--trust", env["root.pem"], "--no-revocation", password=None)
    assert relaxed.exit_code == 0 and "warning: revocation" in relaxed.output
    sig.write_bytes(b"\x30\x82\xff\xff garbage")
    garbage = imzo("verify", sig, *verify_args(env), password=None)
    assert garbage.exit_code == 1 and garbage.output.startswith("TOTAL-FAILED/FORMAT_FAILURE")
    assert "Traceback" not in garbage.output
    usage = imzo("verify", sig, password=None)
    assert usage.exit_code == 2 and "--trust" in usage.output
    bad_crl = imzo("verify", sig, "--trust", env["root.pem"], "--crl", env["doc.txt"], password=None)
    assert bad_crl.exit_code == 1 and "is not a CRL" in bad_crl.output


def test_wrong_password_writes_nothing(env) -> None:
    r = imzo("sign", env["doc.txt"], "--pfx", env["citizen.pfx"], "--password-stdin", password="wrong")
    assert r.exit_code == 1 and "password does not open" in r.output and "wrong" not in r.output.replace(
        "password does not open", "")
    assert not env["doc.txt"].with_name("doc.txt.p7s").exists()
    refuse = imzo("sign", env["doc.txt"], password=None)
    assert refuse.exit_code == 2 and "--key NAME or --pfx FILE" in refuse.output


def test_existing_output_is_not_overwritten(env) -> None:
    out = env["doc.txt"].with_name("doc.txt.p7s")
    out.write_bytes(b"keep me")
    r = imzo("sign", env["doc.txt"], "--pfx", env["citizen.pfx"], "--password-stdin")
    assert r.exit_code == 1 and "--force" in r.output and out.read_bytes() == b"keep me"
    r = imzo("sign", env["doc.txt"], "--force", "--pfx", env["citizen.pfx"], "--password-stdin")
    assert r.exit_code == 0 and out.read_bytes() != b"keep me"


def test_sign_with_key_from_keys_folder(env, pki: PKI, tmp_path: Path) -> None:
    folder = KeysFolder(tmp_path / "DSKEYS", kdf_rounds=1000)
    folder.store("vali", pki.citizen.key, PASSWORD.encode(), certificate=pki.citizen.cert, chain=pki.citizen.chain)
    r = imzo("sign", env["doc.txt"], "--key", "vali", "--keys", tmp_path / "DSKEYS", "--password-stdin")
    assert r.exit_code == 0, r.output
    missing = imzo("sign", env["doc.txt"], "--force", "--key", "nobody", "--keys", tmp_path / "DSKEYS",
                   "--password-stdin")
    assert missing.exit_code == 1 and "no key named 'nobody'" in missing.output


def test_cosign_and_join(env) -> None:
    first = env["doc.txt"].with_name("doc.txt.p7s")
    assert imzo("sign", env["doc.txt"], "--pfx", env["citizen.pfx"], "--password-stdin").exit_code == 0
    r = imzo("cosign", first, "--pfx", env["employee.pfx"], "--password-stdin")
    assert r.exit_code == 0 and "now has 2 signers" in r.output
    v = imzo("verify", first, *verify_args(env), password=None)
    assert v.exit_code == 0 and "2 of 2 signature(s) valid" in v.output
    # two detached signatures made apart, joined
    a, b = env["doc.txt"].with_name("a.sig"), env["doc.txt"].with_name("b.sig")
    imzo("sign", env["doc.txt"], "--detached", "-o", a, "--pfx", env["citizen.pfx"], "--password-stdin")
    imzo("sign", env["doc.txt"], "--detached", "-o", b, "--pfx", env["employee.pfx"], "--password-stdin")
    joined = env["doc.txt"].with_name("ab.sig")
    r = imzo("join", a, b, "-o", joined, password=None)
    assert r.exit_code == 0 and "2 signers" in r.output
    assert imzo("verify", env["doc.txt"], joined, *verify_args(env), password=None).exit_code == 0
    # a detached signature over another document is refused, and nothing is written
    other = env["doc.txt"].with_name("other.txt")
    other.write_bytes(b"something else")
    c = env["doc.txt"].with_name("c.sig")
    imzo("sign", other, "--detached", "-o", c, "--pfx", env["employee.pfx"], "--password-stdin")
    refused = imzo("join", a, c, "-o", env["doc.txt"].with_name("ac.sig"), password=None)
    assert refused.exit_code == 1 and "different documents" in refused.output
    assert not env["doc.txt"].with_name("ac.sig").exists()
    bad = imzo("cosign", a, "--content", other, "--pfx", env["employee.pfx"], "--password-stdin")
    assert bad.exit_code == 1 and "not the one signer 1 signed" in bad.output


@pytest.fixture
def tsa_url(pki: PKI, serve) -> str:
    key = algorithms.DEFAULT.generate()
    from signing_pki import certificate, name, _ku
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert = certificate(name("HTTP TSA"), key, pki.issuing, key_usage=_ku(digital_signature=True),
                       eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True)
    authority = tsa.TimestampAuthority(key, cert, chain=[pki.issuing.cert])
    return serve(authority.respond, "application/timestamp-reply") + "/tsa"


def test_timestamp_over_http(env, tsa_url: str) -> None:
    sig = env["doc.txt"].with_name("doc.txt.p7s")
    assert imzo("sign", env["doc.txt"], "--pfx", env["citizen.pfx"], "--password-stdin").exit_code == 0
    r = imzo("timestamp", sig, "--tsa-url", tsa_url, password=None)
    assert r.exit_code == 0 and "timestamped signer(s) 1" in r.output
    again = imzo("timestamp", sig, "--tsa-url", tsa_url, password=None)
    assert again.exit_code == 0 and "nothing changed" in again.output
    v = imzo("verify", sig, *verify_args(env), "--json", password=None)
    signer = json.loads(v.output)["signers"][0]
    assert v.exit_code == 0 and signer["signature_format"] == "CAdES-BASELINE-T" and signer["timestamp_time"]
    # sign and stamp in one go
    out = env["doc.txt"].with_name("t.sig")
    r = imzo("sign", env["doc.txt"], "--detached", "-o", out, "--tsa-url", tsa_url, "--pfx", env["citizen.pfx"],
             "--password-stdin")
    assert r.exit_code == 0, r.output
    assert cms.has_signature_timestamp(der.read_signed_data(out.read_bytes()).signer_infos[0])
    plain = env["doc.txt"].with_name("plain.sig")
    imzo("sign", env["doc.txt"], "--detached", "-o", plain, "--pfx", env["citizen.pfx"], "--password-stdin")
    before = plain.read_bytes()
    down = imzo("timestamp", plain, "--tsa-url", "http://127.0.0.1:9/nothing", password=None)
    assert down.exit_code == 1 and "could not reach the TSA" in down.output
    assert plain.read_bytes() == before


def test_progress_bar_on_big_files(env, monkeypatch) -> None:
    monkeypatch.setattr(sign_cli, "PROGRESS_FROM", 1024)
    r = CliRunner().invoke(main, ["sign", str(env["doc.txt"]), "--pfx", str(env["citizen.pfx"]), "--password-stdin"],
                           input=PASSWORD + "\n")
    assert r.exit_code == 0 and "signing doc.txt" in r.stderr


def test_prompted_password_is_hidden(env) -> None:
    r = CliRunner().invoke(main, ["sign", str(env["doc.txt"]), "--pfx", str(env["citizen.pfx"])],
                           input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "Key password" in r.output and PASSWORD not in r.output


def test_verify_asks_the_ocsp_responder_named_in_the_certificate(tmp_path: Path, serve) -> None:
    """`imzo verify --ocsp` over real HTTP to part A's responder, whose URL the CA wrote into the certificate."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from signing import oids, x509_signing
    from signing.ca import CertificateAuthority

    holder: dict[str, CertificateAuthority] = {}
    url = serve(lambda body: holder["ca"].ocsp_respond(body), "application/ocsp-response")
    ca = holder["ca"] = CertificateAuthority.create(tmp_path / "ca", b"ca-pw", kdf_rounds=1000, ocsp_url=f"{url}/ocsp")
    key = algorithms.DEFAULT.generate()
    subject = x509.Name([x509.NameAttribute(o, v) for o, v in (
        (NameOID.COUNTRY_NAME, "UZ"), (NameOID.COMMON_NAME, "Jasur Tursunov"), (NameOID.SURNAME, "Tursunov"),
        (NameOID.GIVEN_NAME, "Jasur"), (oids.PINFL, "30101850123456"))])
    cert = ca.issue(x509_signing.sign(x509.CertificateSigningRequestBuilder().subject_name(subject), key))
    doc, sig, root = tmp_path / "a.txt", tmp_path / "a.txt.p7s", tmp_path / "root.pem"
    doc.write_bytes(DOC)
    sig.write_bytes(cms.sign(DOC, cms.Signer(key, cert, [ca.issuing_certificate]), detached=True))
    root.write_bytes(ca.root_certificate.public_bytes(serialization.Encoding.PEM))
    # the issuing CA certificate names no responder: its status comes from the root's CRL (ARL)
    arl = tmp_path / "root-crl.pem"
    arl.write_bytes(ca.root_crl().public_bytes(serialization.Encoding.PEM))
    ok = imzo("verify", doc, sig, "--trust", root, "--crl", arl, "--ocsp", "--json", password=None)
    assert ok.exit_code == 0, ok.output
    assert [r["source"] for r in json.loads(ok.output)["signers"][0]["revocation"]] == ["ocsp", "crl"]
    assert serve.seen and set(serve.seen) == {"application/ocsp-request"}
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise)
    revoked = imzo("verify", doc, sig, "--trust", root, "--crl", arl, "--ocsp", password=None)
    assert revoked.exit_code == 3 and "INDETERMINATE/REVOKED_NO_POE" in revoked.output
