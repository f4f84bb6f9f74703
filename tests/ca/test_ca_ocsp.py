"""The OCSP responder (RFC 6960): `openssl ocsp` over HTTP gets good/revoked; bad requests get error statuses."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from ca_helpers import FAST_KDF, PASSWORD, make_csr, openssl, pem
from keystore import pfx
from signing import algorithms
from signing.ca import CAError, CertificateAuthority, DelegatedOCSPResponder


def _ask(ca_files, tmp_path, url: str, cert: x509.Certificate) -> bytes:
    leaf = tmp_path / f"{cert.serial_number:x}.pem"
    leaf.write_bytes(pem(cert))
    out = openssl("ocsp", "-issuer", str(ca_files["issuing"]), "-cert", str(leaf), "-url", url,
                  "-CAfile", str(ca_files["root"]), "-verify_other", str(ca_files["issuing"]), "-timeout", "10")
    assert out.returncode == 0, out.stderr
    assert b"Response verify OK" in out.stderr, out.stderr
    return out.stdout


def test_openssl_ocsp_gets_good_then_revoked_from_our_responder(ca, ca_files, tmp_path, serve):
    url = serve(ca.ocsp_respond, "application/ocsp-response")
    cert = ca.issue(make_csr()[1])
    assert b": good" in _ask(ca_files, tmp_path, url, cert)
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise)
    answer = _ask(ca_files, tmp_path, url, cert)
    assert b": revoked" in answer and b"keyCompromise" in answer


def test_issuing_ca_status_is_answered_by_the_root(ca, ca_files, tmp_path, serve):
    url = serve(ca.ocsp_respond, "application/ocsp-response")
    leaf = tmp_path / "issuing-leaf.pem"
    leaf.write_bytes(pem(ca.issuing_certificate))
    out = openssl("ocsp", "-issuer", str(ca_files["root"]), "-cert", str(leaf), "-url", url,
                  "-CAfile", str(ca_files["root"]))
    assert out.returncode == 0 and b": good" in out.stdout and b"Response verify OK" in out.stderr, out.stderr


SHA1 = hashes.SHA1()  # what openssl ocsp and most clients still put in CertID


def _request(cert, issuer, *, nonce: bytes | None = None, algo: hashes.HashAlgorithm = SHA1) -> bytes:
    b = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algo)
    if nonce is not None:
        b = b.add_extension(x509.OCSPNonce(nonce), critical=False)
    return b.build().public_bytes(serialization.Encoding.DER)


def test_library_answer_is_signed_echoes_nonce_and_says_unknown_for_strangers(ca, tmp_path):
    cert = ca.issue(make_csr()[1])
    req = _request(cert, ca.issuing_certificate, nonce=b"n" * 16, algo=hashes.SHA256())
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(req))
    assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
    issuer_key = ca.issuing_certificate.public_key()
    algorithms.for_key(issuer_key).verify(issuer_key, resp.signature, resp.tbs_response_bytes)
    # A certificate with our issuer's name and key but a serial we never issued.
    other = CertificateAuthority.create(tmp_path / "other", PASSWORD, kdf_rounds=FAST_KDF).issue(make_csr()[1])
    fake = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        _request_hashes(ca, cert)[0], _request_hashes(ca, cert)[1], other.serial_number, hashes.SHA1()
    ).build().public_bytes(serialization.Encoding.DER)
    assert ocsp.load_der_ocsp_response(ca.ocsp_respond(fake)).certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def _request_hashes(ca, cert):
    req = ocsp.load_der_ocsp_request(_request(cert, ca.issuing_certificate))
    return req.issuer_name_hash, req.issuer_key_hash


def test_request_about_another_issuer_is_unauthorized(ca, tmp_path):
    other = CertificateAuthority.create(tmp_path / "other", PASSWORD, kdf_rounds=FAST_KDF)
    cert = other.issue(make_csr()[1])
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(_request(cert, other.issuing_certificate)))
    assert resp.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def _valid_request(ca) -> bytes:
    return _request(ca.issue(make_csr()[1]), ca.issuing_certificate)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda der: b"", id="empty"),
        pytest.param(lambda der: b"\x30\x82\xff\xff garbage", id="garbage"),
        pytest.param(lambda der: der[: len(der) - 7], id="truncated"),
        pytest.param(lambda der: der + b"\x00", id="trailing-byte"),
        pytest.param(lambda der: b"\x30\x84\x00\x10\x00\x00" + b"A" * (1 << 20), id="huge"),
        pytest.param(lambda der: "not bytes", id="not-bytes"),
    ],
)
def test_bad_ocsp_requests_get_malformed_request(ca, mangle):
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(mangle(_valid_request(ca))))
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_oversized_nonce_is_malformed(ca):
    cert = ca.issue(make_csr()[1])
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(_request(cert, ca.issuing_certificate, nonce=b"x" * 200)))
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_bad_request_over_http_gets_malformed_from_openssl_view(ca, serve):
    import urllib.request

    url = serve(ca.ocsp_respond, "application/ocsp-response")
    body = urllib.request.urlopen(urllib.request.Request(url, data=b"junk", method="POST"), timeout=10).read()
    assert ocsp.load_der_ocsp_response(body).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


@pytest.mark.parametrize("alg", ["ed25519", "rsa-pss-3072"])
def test_openssl_ocsp_with_other_ca_algorithms(tmp_path, serve, alg):
    authority = CertificateAuthority.create(tmp_path / alg, PASSWORD, algorithm=alg, kdf_rounds=FAST_KDF)
    files = {"root": tmp_path / "r.pem", "issuing": tmp_path / "i.pem"}
    files["root"].write_bytes(pem(authority.root_certificate))
    files["issuing"].write_bytes(pem(authority.issuing_certificate))
    url = serve(authority.ocsp_respond, "application/ocsp-response")
    cert = authority.issue(make_csr(algorithms.get(alg).generate())[1])
    authority.revoke(cert.serial_number, x509.ReasonFlags.cessation_of_operation)
    answer = _ask(files, tmp_path, url, cert)
    assert b": revoked" in answer and b"cessationOfOperation" in answer


def test_delegated_responder_answers_without_the_ca_password(ca, ca_files, tmp_path, serve):
    key = algorithms.DEFAULT.generate()
    blob = pfx.encrypt_key(key, b"ocsp-pw", ca.issue_ocsp_certificate(key.public_key()), kdf_rounds=FAST_KDF)
    responder = DelegatedOCSPResponder.from_pfx(tmp_path / "ca", blob, b"ocsp-pw")
    url = serve(responder.respond, "application/ocsp-response")
    cert = ca.issue(make_csr()[1])
    assert b": good" in _ask(ca_files, tmp_path, url, cert)
    ca.revoke(cert.serial_number, x509.ReasonFlags.affiliation_changed)
    answer = _ask(ca_files, tmp_path, url, cert)  # the index is read per request: revocation shows at once
    assert b": revoked" in answer and b"affiliationChanged" in answer
    resp = ocsp.load_der_ocsp_response(responder.respond(_request(cert, ca.issuing_certificate)))
    assert resp.certificates[0].extensions.get_extension_for_class(x509.OCSPNoCheck)


def test_delegated_responder_refuses_a_certificate_without_ocsp_signing(ca, tmp_path):
    key = algorithms.DEFAULT.generate()
    with pytest.raises(CAError, match="lacks the OCSPSigning"):
        DelegatedOCSPResponder(tmp_path / "ca", key, ca.issue_tsa_certificate(key.public_key()))
    other = CertificateAuthority.create(tmp_path / "other", PASSWORD, kdf_rounds=FAST_KDF)
    with pytest.raises(CAError, match="not an OCSP-signing certificate from this CA"):
        DelegatedOCSPResponder(tmp_path / "ca", key, other.issue_ocsp_certificate(key.public_key()))


# ----------------------------------------------------------------- several certificates in one request
def _ask_many(ca_files, tmp_path, url: str, *certs: x509.Certificate) -> bytes:
    args = ["ocsp", "-issuer", str(ca_files["issuing"])]
    for c in certs:
        leaf = tmp_path / f"{c.serial_number:x}.pem"
        leaf.write_bytes(pem(c))
        args += ["-cert", str(leaf)]
    out = openssl(*args, "-url", url, "-CAfile", str(ca_files["root"]), "-verify_other", str(ca_files["issuing"]),
                  "-timeout", "10")
    assert out.returncode == 0, out.stderr
    assert b"Response verify OK" in out.stderr, out.stderr
    return out.stdout


def _status_lines(answer: bytes, *certs: x509.Certificate) -> list[bytes]:
    """openssl prints one 'FILE: status' line per -cert, in order."""
    lines = [ln for ln in answer.splitlines() if b".pem: " in ln]
    assert len(lines) == len(certs), answer
    return [ln.split(b": ", 1)[1] for ln in lines]


def test_openssl_ocsp_with_two_certs_gets_an_answer_for_each(ca, ca_files, tmp_path, serve):
    url = serve(ca.ocsp_respond, "application/ocsp-response")
    good, bad = ca.issue(make_csr()[1]), ca.issue(make_csr()[1])
    ca.revoke(bad.serial_number, x509.ReasonFlags.key_compromise)
    answer = _ask_many(ca_files, tmp_path, url, good, bad)
    assert _status_lines(answer, good, bad) == [b"good", b"revoked"], answer
    assert b"keyCompromise" in answer


def test_delegated_responder_answers_each_of_several_certs(ca, ca_files, tmp_path, serve):
    key = algorithms.DEFAULT.generate()
    blob = pfx.encrypt_key(key, b"ocsp-pw", ca.issue_ocsp_certificate(key.public_key()), kdf_rounds=FAST_KDF)
    responder = DelegatedOCSPResponder.from_pfx(tmp_path / "ca", blob, b"ocsp-pw")
    url = serve(responder.respond, "application/ocsp-response")
    certs = [ca.issue(make_csr()[1]) for _ in range(3)]
    ca.revoke(certs[1].serial_number, x509.ReasonFlags.superseded)
    assert _status_lines(_ask_many(ca_files, tmp_path, url, *certs), *certs) == [b"good", b"revoked", b"good"]


def _openssl_request(ca_files, tmp_path, certs, *extra: str) -> bytes:
    args = ["ocsp", "-issuer", str(ca_files["issuing"])]
    for c in certs:
        leaf = tmp_path / f"q{c.serial_number:x}.pem"
        leaf.write_bytes(pem(c))
        args += ["-cert", str(leaf)]
    out = openssl(*args, *extra, "-reqout", str(tmp_path / "req.der"))
    assert out.returncode == 0, out.stderr
    return (tmp_path / "req.der").read_bytes()


def test_several_certs_each_keep_their_own_cert_id_and_the_nonce_is_echoed(ca, ca_files, tmp_path):
    certs = [ca.issue(make_csr()[1]) for _ in range(2)]
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(_openssl_request(ca_files, tmp_path, certs)))
    assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert [r.serial_number for r in resp.responses] == [c.serial_number for c in certs]
    assert all(r.certificate_status is ocsp.OCSPCertStatus.GOOD for r in resp.responses)
    assert resp.extensions.get_extension_for_class(x509.OCSPNonce)  # openssl sends a nonce by default
    issuer_key = ca.issuing_certificate.public_key()
    algorithms.for_key(issuer_key).verify(issuer_key, resp.signature, resp.tbs_response_bytes)


def test_a_stranger_among_our_certs_is_unknown_and_a_request_of_only_strangers_unauthorized(ca, ca_files, tmp_path):
    other = CertificateAuthority.create(tmp_path / "other", PASSWORD, kdf_rounds=FAST_KDF)
    stranger = other.issue(make_csr()[1])
    ours = ca.issue(make_csr()[1])
    (tmp_path / "other-issuing.pem").write_bytes(pem(other.issuing_certificate))
    out = openssl("ocsp", "-issuer", str(ca_files["issuing"]), "-cert", str(_write(tmp_path, ours)),
                  "-issuer", str(tmp_path / "other-issuing.pem"), "-cert", str(_write(tmp_path, stranger)),
                  "-reqout", str(tmp_path / "mixed.der"))
    assert out.returncode == 0, out.stderr
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond((tmp_path / "mixed.der").read_bytes()))
    assert [r.certificate_status for r in resp.responses] == [ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.UNKNOWN]
    only = _request(stranger, other.issuing_certificate)
    assert ocsp.load_der_ocsp_response(ca.ocsp_respond(only)).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def _write(tmp_path, cert) -> object:
    path = tmp_path / f"w{cert.serial_number:x}.pem"
    path.write_bytes(pem(cert))
    return path


def test_too_many_certs_in_one_request_is_malformed(ca, ca_files, tmp_path):
    from signing.ocsp import MAX_CERTS_PER_REQUEST

    cert = ca.issue(make_csr()[1])
    req = _openssl_request(ca_files, tmp_path, [cert] * (MAX_CERTS_PER_REQUEST + 1), "-no_nonce")
    resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(req))
    assert resp.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    at_limit = _openssl_request(ca_files, tmp_path, [cert] * MAX_CERTS_PER_REQUEST, "-no_nonce")
    answered = ocsp.load_der_ocsp_response(ca.ocsp_respond(at_limit))
    assert len(list(answered.responses)) == MAX_CERTS_PER_REQUEST
