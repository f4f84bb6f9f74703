"""`imzo ca serve`: the CA's CRLs, OCSP (POST and GET) and TSA over HTTP from a CA folder alone,
asked by `openssl ocsp -url` and `openssl ts -query | curl`, and its refusals."""
from __future__ import annotations

import base64
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from pathlib import Path

from ca_helpers import make_csr, openssl
from ca_served import OCSP_PW, TSA_PW, curl, ocsp_ask, service_pfx, start_imzo_serve, statuses, ts_query_curl
from signing import ca_http


@pytest.fixture
def served(ca, ca_files, tmp_path):
    keys = service_pfx(ca, tmp_path)
    ca.crl()
    ca.root_crl()
    proc, base = start_imzo_serve(ca.folder, "--ocsp-key", str(keys["ocsp"]), "--tsa-key", str(keys["tsa"]),
                                  "--password-stdin", stdin=OCSP_PW + b"\n" + TSA_PW + b"\n")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_openssl_ocsp_url_with_two_certs_against_imzo_serve(ca, ca_files, tmp_path, served):
    good, bad = ca.issue(make_csr()[1]), ca.issue(make_csr()[1])
    ca.revoke(bad.serial_number, x509.ReasonFlags.key_compromise)
    out = ocsp_ask(ca_files["issuing"], ca_files["root"], f"{served}/ocsp", tmp_path, good, bad)
    assert out.returncode == 0 and b"Response verify OK" in out.stderr, out.stderr
    assert statuses(out.stdout) == [b"good", b"revoked"], out.stdout


def test_openssl_ts_query_through_curl_is_granted_and_verifies(ca_files, tmp_path, served):
    (tmp_path / "ariza.txt").write_bytes(b"Murojaat matni")
    query, reply = ts_query_curl(tmp_path / "ariza.txt", f"{served}/tsa", tmp_path)
    text = openssl("ts", "-reply", "-in", str(reply), "-text")
    assert text.returncode == 0 and b"Status: Granted." in text.stdout, text.stdout + text.stderr
    out = openssl("ts", "-verify", "-data", str(tmp_path / "ariza.txt"), "-in", str(reply),
                  "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]))
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stdout + out.stderr


def test_published_crls_are_served_as_der(ca, served):
    cert = ca.issue(make_csr()[1])
    ca.revoke(cert.serial_number)
    ca.crl()  # the operator publishes a fresh one
    body = urllib.request.urlopen(f"{served}/crl", timeout=10)
    assert body.headers["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(body.read())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    root_crl = x509.load_der_x509_crl(urllib.request.urlopen(f"{served}/root-crl", timeout=10).read())
    assert root_crl.issuer == ca.root_certificate.subject


def test_ocsp_get_in_the_url(ca, served):
    cert = ca.issue(make_csr()[1])
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuing_certificate, hashes.SHA1()).build()
    encoded = urllib.parse.quote(base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode(), safe="")
    resp = urllib.request.urlopen(f"{served}/ocsp/{encoded}", timeout=10)
    assert resp.headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(resp.read()).certificate_status is ocsp.OCSPCertStatus.GOOD


def _http_error(url: str, data: bytes | None = None, content_type: str | None = None) -> urllib.error.HTTPError:
    headers = {"Content-Type": content_type} if content_type else {}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10)
    return err.value


def test_refusals_are_4xx_with_the_protocols_own_error_answer(ca, served):
    big = _http_error(f"{served}/ocsp", b"\x30" * (ca_http.MAX_OCSP_BODY + 1), "application/ocsp-request")
    assert big.code == 413
    assert ocsp.load_der_ocsp_response(big.read()).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    wrong_type = _http_error(f"{served}/ocsp", b"\x30\x00", "application/x-www-form-urlencoded")
    assert wrong_type.code == 415
    bad_b64 = _http_error(f"{served}/ocsp/not*base64!")
    assert bad_b64.code == 400
    assert ocsp.load_der_ocsp_response(bad_b64.read()).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    tsa_type = _http_error(f"{served}/tsa", b"\x30\x00", "text/plain")
    assert tsa_type.code == 415 and tsa_type.headers["Content-Type"] == "application/timestamp-reply"
    assert b"timestamp-query" in tsa_type.read()  # the rejection's statusString says what to send
    big_tsa = _http_error(f"{served}/tsa", b"\x00" * (ca_http.MAX_TSA_BODY + 1), "application/timestamp-query")
    assert big_tsa.code == 413
    assert _http_error(f"{served}/tsa").code == 405  # GET on a POST-only path
    assert _http_error(f"{served}/nothing").code == 404


def test_garbage_gets_protocol_errors_and_the_server_keeps_serving(ca, ca_files, tmp_path, served):
    body = urllib.request.urlopen(urllib.request.Request(
        f"{served}/ocsp", data=b"junk", headers={"Content-Type": "application/ocsp-request"}), timeout=10).read()
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    reply = urllib.request.urlopen(urllib.request.Request(
        f"{served}/tsa", data=b"\x30\x03\x02\x01", headers={"Content-Type": "application/timestamp-query"}),
        timeout=10).read()
    (tmp_path / "bad.tsr").write_bytes(reply)
    text = openssl("ts", "-reply", "-in", str(tmp_path / "bad.tsr"), "-text")
    assert b"Status: Rejected." in text.stdout and b"wrong format" in text.stdout, text.stdout
    cert = ca.issue(make_csr()[1])
    out = ocsp_ask(ca_files["issuing"], ca_files["root"], f"{served}/ocsp", tmp_path, cert)
    assert statuses(out.stdout) == [b"good"], out.stderr


def test_rate_limit_answers_429(served):
    limit = ca_http.PER_MINUTE["crl"]
    codes = []
    for _ in range(2 * limit + 1):  # fixed windows: a minute boundary mid-way allows at most 2x
        codes.append(curl(f"{served}/crl").stdout)
        if codes[-1] == b"429":
            break
    assert codes[-1] == b"429" and set(codes[:-1]) == {b"200"}, codes
    assert len(codes) - 1 >= limit  # never fewer than declared: this test alone asked for CRLs
    tsa = urllib.request.urlopen(urllib.request.Request(
        f"{served}/tsa", data=b"x", headers={"Content-Type": "application/timestamp-query"}), timeout=10)
    assert tsa.status == 200  # the limit is per kind of request


def test_serve_without_service_keys_serves_crls_and_says_what_is_missing(ca, tmp_path):
    ca.crl()
    proc, base = start_imzo_serve(ca.folder)
    try:
        assert urllib.request.urlopen(f"{base}/crl", timeout=10).status == 200
        err = _http_error(f"{base}/ocsp", b"\x30\x00", "application/ocsp-request")
        assert err.code == 404 and b"no OCSP responder key" in err.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_a_wrong_key_password_in_one_line(ca, tmp_path):
    keys = service_pfx(ca, tmp_path)
    out = subprocess.run([str(Path(sys.executable).parent / "imzo"), "ca", "serve", "--ca", str(ca.folder),
                          "--port", "0", "--ocsp-key", str(keys["ocsp"]), "--password-stdin"], input=b"wrong\n",
                         capture_output=True, timeout=60)
    assert out.returncode != 0
    lines = out.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), out.stderr
