"""The IdP serves its CA under /ca (CRLs, OCSP POST and GET, TSA) from a development CA it made in the
instance, without the CA's own key; `openssl ocsp -url` and `openssl ts | curl` against it; the
refusals; the limits with the limiter on; and the in-process validator the e-signature login uses."""
from __future__ import annotations

import base64
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from werkzeug.serving import make_server

from ca_helpers import FAST_KDF, PASSWORD, make_csr, openssl, pem
from ca_served import OCSP_PW, TSA_PW, curl, ocsp_ask, service_pfx, statuses, ts_query_curl
from idp import ca_service
from idp.app import create_app
from idp.config import Settings
from keystore import pfx
from keystore.errors import WrongPassword
from signing import ca_http, cms
from signing.ca import CertificateAuthority
from signing.report import Indication, SubIndication


def _settings(instance: Path, issuer: str, **kw) -> Settings:
    """Settings with a secret of their own, so on a database of their own (the instance's SQLite):
    the suite's shared database holds token-signing keys under the suite's one secret."""
    return Settings(instance_path=instance, database_url=f"sqlite:///{instance / 'yagona.db'}", issuer=issuer,
                    secret_key=secrets.token_hex(32).encode(), dev=True, **kw)


def _dev_ca(settings: Settings) -> CertificateAuthority:
    """The development CA, opened with the password it keeps beside the master secret (as the operator would)."""
    password = (settings.instance_path / ca_service.DEV_PASSWORD_FILE).read_text().strip().encode()
    return CertificateAuthority.open(ca_service.ca_folder(settings), password)


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    """The IdP on a real socket with the limiter on and a development CA made as the first start makes it."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    issuer = f"http://127.0.0.1:{server.server_port}"
    settings = _settings(tmp_path_factory.mktemp("instance"), issuer)
    assert ca_service.ensure_development_ca(settings, kdf_rounds=FAST_KDF) is True
    server.app = create_app(settings, migrate=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    files = tmp_path_factory.mktemp("pem")
    authority = _dev_ca(settings)
    (files / "root.pem").write_bytes(pem(authority.root_certificate))
    (files / "issuing.pem").write_bytes(pem(authority.issuing_certificate))
    yield {"settings": settings, "issuer": issuer, "app": server.app, "ca": authority,
           "root": files / "root.pem", "issuing": files / "issuing.pem"}
    server.shutdown()


def _aia_ocsp(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return next(d.access_location.value for d in aia if d.access_method == x509.AuthorityInformationAccessOID.OCSP)


def _crl_dp(cert: x509.Certificate) -> str:
    return cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value


def test_development_ca_advertises_the_served_urls_and_openssl_ocsp_asks_two_certs(idp, tmp_path):
    ca = idp["ca"]
    good, bad = ca.issue(make_csr()[1]), ca.issue(make_csr()[1])
    assert _aia_ocsp(good) == f"{idp['issuer']}/ca/ocsp" and _crl_dp(good) == f"{idp['issuer']}/ca/crl"
    ca.revoke(bad.serial_number, x509.ReasonFlags.key_compromise)
    out = ocsp_ask(idp["issuing"], idp["root"], _aia_ocsp(good), tmp_path, good, bad)
    assert out.returncode == 0 and b"Response verify OK" in out.stderr, out.stderr
    assert statuses(out.stdout) == [b"good", b"revoked"], out.stdout


def test_openssl_ts_query_through_curl_to_the_idp(idp, tmp_path):
    (tmp_path / "ariza.txt").write_bytes(b"Murojaat: yo'l ta'miri")
    _query, reply = ts_query_curl(tmp_path / "ariza.txt", f"{idp['issuer']}/ca/tsa", tmp_path)
    text = openssl("ts", "-reply", "-in", str(reply), "-text")
    assert b"Status: Granted." in text.stdout, text.stdout + text.stderr
    out = openssl("ts", "-verify", "-data", str(tmp_path / "ariza.txt"), "-in", str(reply),
                  "-CAfile", str(idp["root"]), "-untrusted", str(idp["issuing"]))
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stdout + out.stderr


def test_crls_at_the_distribution_point_and_ocsp_get(idp):
    ca = idp["ca"]
    cert = ca.issue(make_csr()[1])
    served = urllib.request.urlopen(_crl_dp(cert), timeout=10)
    assert served.headers["Content-Type"] == "application/pkix-crl"
    assert x509.load_der_x509_crl(served.read()).issuer == ca.issuing_certificate.subject
    root_crl = urllib.request.urlopen(f"{idp['issuer']}/ca/root-crl", timeout=10).read()
    assert x509.load_der_x509_crl(root_crl).issuer == ca.root_certificate.subject
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuing_certificate, hashes.SHA1()).build()
    encoded = urllib.parse.quote(base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode(), safe="")
    resp = urllib.request.urlopen(f"{idp['issuer']}/ca/ocsp/{encoded}", timeout=10)
    assert resp.headers["Content-Type"] == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(resp.read()).certificate_status is ocsp.OCSPCertStatus.GOOD


def _error(url: str, data: bytes | None = None, content_type: str | None = None) -> urllib.error.HTTPError:
    headers = {"Content-Type": content_type} if content_type else {}
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10)
    return err.value


def test_refusals(idp):
    base = f"{idp['issuer']}/ca"
    big = _error(f"{base}/ocsp", b"\x30" * (ca_http.MAX_OCSP_BODY + 1), "application/ocsp-request")
    assert big.code == 413
    assert ocsp.load_der_ocsp_response(big.read()).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert _error(f"{base}/ocsp", b"\x30\x00", "application/json").code == 415
    assert _error(f"{base}/tsa", b"\x30\x00", "application/ocsp-request").code == 415
    assert _error(f"{base}/tsa", b"\x00" * (ca_http.MAX_TSA_BODY + 1), "application/timestamp-query").code == 413
    bad_get = _error(f"{base}/ocsp/%%%not-base64")
    assert bad_get.code == 400
    assert ocsp.load_der_ocsp_response(bad_get.read()).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    garbage = urllib.request.urlopen(urllib.request.Request(
        f"{base}/ocsp", data=b"\x30\x82\xff\xff garbage", headers={"Content-Type": "application/ocsp-request"}),
        timeout=10).read()
    assert ocsp.load_der_ocsp_response(garbage).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    assert _error(f"{base}/tsa").code == 405


def test_rate_limit_answers_429_with_the_limiter_on(idp):
    limit = ca_http.PER_MINUTE["tsa"]
    codes = []
    for _ in range(2 * limit + 1):  # fixed windows: a minute boundary mid-way allows at most 2x
        codes.append(curl("-X", "POST", "-H", "Content-Type: application/timestamp-query", "--data-binary", "x",
                          f"{idp['issuer']}/ca/tsa").stdout)
        if codes[-1] == b"429":
            break
    assert codes[-1] == b"429", codes
    assert set(codes[:-1]) == {b"200"}  # earlier tests of this module used some of the window
    refused = _error(f"{idp['issuer']}/ca/tsa", b"x", "application/timestamp-query")
    assert refused.code == 429 and refused.headers["Retry-After"]
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert urllib.request.urlopen(f"{idp['issuer']}/ca/crl", timeout=10).status == 200  # limits are per route


def test_the_service_works_without_the_ca_keys(idp, tmp_path):
    """The CA's own PFX files can live elsewhere: the service never opens them."""
    folder = tmp_path / "ca"
    authority = CertificateAuthority.create(folder, PASSWORD, kdf_rounds=FAST_KDF)
    authority.crl()
    authority.root_crl()
    settings = _settings(tmp_path / "inst", "http://localhost", ca_dir=folder)
    keys = service_pfx(authority, tmp_path)
    opened = {kind: pfx.decrypt_key(keys[kind].read_bytes(), pw) for kind, pw in (("ocsp", OCSP_PW), ("tsa", TSA_PW))}
    ca_service.install_keys(settings, opened, kdf_rounds=FAST_KDF)
    for name in ("root.pfx", "issuing.pfx"):
        (folder / name).rename(tmp_path / name)
    services = ca_service.load(settings)
    assert services is not None and services.ocsp is not None and services.tsa is not None
    cert = authority.issue(make_csr()[1])
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, authority.issuing_certificate, hashes.SHA1()).build()
    answer = services.ocsp_post("application/ocsp-request", req.public_bytes(serialization.Encoding.DER))
    assert ocsp.load_der_ocsp_response(answer.body).certificate_status is ocsp.OCSPCertStatus.GOOD
    assert b"-----BEGIN" not in (folder / "service-ocsp.pfx").read_bytes()  # PKCS#12, not a bare PEM key
    with pytest.raises(WrongPassword):
        pfx.decrypt_key((folder / "service-ocsp.pfx").read_bytes(), OCSP_PW)  # no longer under the file's password
    other_secret = settings.with_(secret_key=secrets.token_hex(32).encode())
    with pytest.raises(ca_service.CAServiceError, match="cannot be opened with this instance's secret"):
        ca_service.load(other_secret)


def test_install_keys_refuses_keys_of_another_ca_and_writes_nothing(tmp_path):
    folder = tmp_path / "ca"
    authority = CertificateAuthority.create(folder, PASSWORD, kdf_rounds=FAST_KDF)
    stranger = CertificateAuthority.create(tmp_path / "other", PASSWORD, kdf_rounds=FAST_KDF)
    settings = _settings(tmp_path / "inst", "http://localhost", ca_dir=folder)
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours, theirs = service_pfx(authority, tmp_path / "ours"), service_pfx(stranger, tmp_path / "theirs")
    keys = {"ocsp": pfx.decrypt_key(ours["ocsp"].read_bytes(), OCSP_PW),
            "tsa": pfx.decrypt_key(theirs["tsa"].read_bytes(), TSA_PW)}
    with pytest.raises(ca_service.CAServiceError, match="TSA certificate was not issued by the CA"):
        ca_service.install_keys(settings, keys)
    assert not (folder / "service-ocsp.pfx").exists() and not (folder / "service-tsa.pfx").exists()
    swapped = {"ocsp": pfx.decrypt_key(ours["tsa"].read_bytes(), TSA_PW)}
    with pytest.raises(ca_service.CAServiceError, match="OCSPSigning"):
        ca_service.install_keys(settings, swapped)


def test_yagona_ca_install_keys_command(tmp_path, monkeypatch):
    from idp.cli import main

    folder = tmp_path / "ca"
    authority = CertificateAuthority.create(folder, PASSWORD, kdf_rounds=FAST_KDF)
    keys = service_pfx(authority, tmp_path)
    monkeypatch.setenv("YAGONA_INSTANCE", str(tmp_path / "inst"))
    monkeypatch.setenv("YAGONA_CA_DIR", str(folder))
    monkeypatch.setenv("YAGONA_SECRET_KEY", "k" * 64)
    runner = CliRunner()
    wrong = runner.invoke(main, ["ca", "install-keys", "--ocsp", str(keys["ocsp"]), "--password-stdin"], input="nope\n")
    assert wrong.exit_code != 0 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
    assert not (folder / "service-ocsp.pfx").exists()
    ok = runner.invoke(main, ["ca", "install-keys", "--ocsp", str(keys["ocsp"]), "--tsa", str(keys["tsa"]),
                              "--password-stdin"], input=f"{OCSP_PW.decode()}\n{TSA_PW.decode()}\n")
    assert ok.exit_code == 0, ok.stderr
    services = ca_service.load(_settings(tmp_path / "inst", "http://x", ca_dir=folder)
                               .with_(secret_key=b"k" * 64))
    assert services.ocsp is not None and services.tsa is not None
    assert runner.invoke(main, ["ca", "install-keys"]).exit_code != 0


def test_named_ca_dir_without_a_ca_stops_the_start_and_no_ca_serves_404(tmp_path):
    (tmp_path / "inst").mkdir()
    settings = _settings(tmp_path / "inst", "http://localhost", ca_dir=tmp_path / "empty")
    with pytest.raises(ca_service.CAServiceError, match="holds no CA"):
        create_app(settings, migrate=True)
    client = create_app(settings.with_(ca_dir=None), migrate=True).test_client()  # no instance CA made
    resp = client.post("/ca/ocsp", data=b"\x30\x00", content_type="application/ocsp-request")
    assert resp.status_code == 404 and b"YAGONA_CA_DIR" in resp.data


# ----------------------------------------------------------------- the in-process validator
def _signed_by_new_citizen(ca: CertificateAuthority) -> tuple[bytes, x509.Certificate]:
    key, csr = make_csr()
    cert = ca.issue(csr)
    signer = cms.Signer(key, cert, [ca.issuing_certificate])
    return cms.sign(b"ariza", signer), cert


def test_in_process_validator_checks_revocation_without_http(tmp_path):
    # The development CA of an IdP whose issuer nothing listens on: any HTTP call would fail.
    settings = _settings(tmp_path / "inst", "http://127.0.0.1:9")
    ca_service.ensure_development_ca(settings, kdf_rounds=FAST_KDF)
    services = ca_service.load(settings)
    ca = _dev_ca(settings)
    signature, cert = _signed_by_new_citizen(ca)
    assert _aia_ocsp(cert).startswith("http://127.0.0.1:9/")
    report = ca_service.validator(services).validate(signature, b"ariza")
    assert report.passed, report.to_json()
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise)  # no new CRL published: OCSP sees it at once
    report = ca_service.validator(services).validate(signature, b"ariza")
    assert report.indication is not Indication.TOTAL_PASSED
    assert report.signers[0].sub_indication in (SubIndication.REVOKED_NO_POE, SubIndication.REVOKED), report.to_json()


def test_validator_of_the_running_app(idp):
    from idp.endpoints.ca import services

    signature, _cert = _signed_by_new_citizen(idp["ca"])
    with idp["app"].app_context():
        assert ca_service.validator(services()).validate(signature, b"ariza").passed


# ----------------------------------------------------------------- `yagona serve` as a process
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, proc) -> None:
    """Poll until the server answers (a wait for start-up, not a timing assertion)."""
    import time

    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"yagona serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=10)
            return
        except OSError:  # refused, reset or timed out while the worker starts
            time.sleep(0.2)
    raise AssertionError("yagona serve did not start")


def test_yagona_serve_first_start_serves_a_development_ca(tmp_path):
    import os
    import subprocess
    import sys

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YAGONA_", "DATABASE_URL", "REDIS_URL"))}
    env.update(YAGONA_INSTANCE=str(tmp_path / "instance"), YAGONA_DEV="1")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "yagona"), "serve", "--port", str(port),
                             "--workers", "1", "--no-demo"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(f"{base}/ca/crl", proc)
        settings = Settings(instance_path=tmp_path / "instance", database_url="sqlite://", issuer=base, secret_key=b"")
        ca = _dev_ca(settings)
        (tmp_path / "root.pem").write_bytes(pem(ca.root_certificate))
        (tmp_path / "issuing.pem").write_bytes(pem(ca.issuing_certificate))
        good, bad = ca.issue(make_csr()[1]), ca.issue(make_csr()[1])
        ca.revoke(bad.serial_number, x509.ReasonFlags.affiliation_changed)
        assert _aia_ocsp(good) == f"{base}/ca/ocsp"
        out = ocsp_ask(tmp_path / "issuing.pem", tmp_path / "root.pem", _aia_ocsp(good), tmp_path, good, bad)
        assert out.returncode == 0 and b"Response verify OK" in out.stderr, out.stderr
        assert statuses(out.stdout) == [b"good", b"revoked"], out.stdout
        (tmp_path / "doc.txt").write_bytes(b"hujjat")
        _query, reply = ts_query_curl(tmp_path / "doc.txt", f"{base}/ca/tsa", tmp_path)
        verified = openssl("ts", "-verify", "-data", str(tmp_path / "doc.txt"), "-in", str(reply),
                           "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "issuing.pem"))
        assert b"Verification: OK" in verified.stdout, verified.stdout + verified.stderr
        mode = (tmp_path / "instance" / ca_service.DEV_PASSWORD_FILE).stat().st_mode & 0o777
        assert mode == 0o600
    finally:
        proc.terminate()
        proc.wait(timeout=30)
