"""RFC 3161 timestamps: openssl ts -verify accepts ours; the client checks tokens; bad requests are refused."""
from __future__ import annotations

import hashlib

import pytest
from asn1crypto import tsp

from ca_helpers import FAST_KDF, PASSWORD, make_csr, openssl
from signing import algorithms, tsa
from signing.ca import CertificateAuthority
from signing.tsa import TimestampAuthority, TimestampError, request_timestamp, verify_timestamp_token

DIGEST = hashlib.sha256(b"Murojaat: suv ta'minoti haqida").digest()


def _authority(ca: CertificateAuthority, alg: str = "ecdsa-p256") -> TimestampAuthority:
    key = algorithms.get(alg).generate()
    return TimestampAuthority(key, ca.issue_tsa_certificate(key.public_key()), chain=[ca.issuing_certificate])


@pytest.fixture
def authority(ca) -> TimestampAuthority:
    return _authority(ca)


def test_openssl_ts_verify_accepts_our_response(ca, ca_files, tmp_path, authority):
    (tmp_path / "resp.tsr").write_bytes(authority.respond(tsa.build_request(DIGEST, nonce=42)))
    out = openssl("ts", "-verify", "-digest", DIGEST.hex(), "-in", str(tmp_path / "resp.tsr"),
                  "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]))
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stderr
    wrong = openssl("ts", "-verify", "-digest", hashlib.sha256(b"other").hexdigest(), "-in", str(tmp_path / "resp.tsr"),
                    "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]))
    assert wrong.returncode != 0


def test_openssl_cms_verify_accepts_an_rsa_pss_token(ca, ca_files, tmp_path):
    # `openssl ts` verifies through the old PKCS7 code, which knows no RSASSA-PSS; `openssl cms` does.
    token = request_timestamp(DIGEST, authority=_authority(ca, "rsa-pss-3072"))
    (tmp_path / "token.der").write_bytes(token.der)
    out = openssl("cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "token.der"),
                  "-CAfile", str(ca_files["root"]),
                  "-purpose", "any", "-out", str(tmp_path / "tstinfo.der"))
    assert out.returncode == 0 and b"Verification successful" in out.stderr, out.stderr


def test_openssl_ts_verify_accepts_a_token_we_fetched_over_http(ca, ca_files, authority, tmp_path, serve):
    url = serve(authority.respond, "application/timestamp-reply")
    token = request_timestamp(DIGEST, url=url, trust_roots=[ca.root_certificate])
    (tmp_path / "token.der").write_bytes(token.der)
    out = openssl("ts", "-verify", "-token_in", "-digest", DIGEST.hex(), "-in", str(tmp_path / "token.der"),
                  "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]))
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stderr


def test_openssl_made_request_is_answered(ca, ca_files, authority, tmp_path):
    (tmp_path / "data.txt").write_bytes(b"hello")
    q = openssl("ts", "-query", "-data", str(tmp_path / "data.txt"), "-sha512", "-cert",
                "-out", str(tmp_path / "q.tsq"))
    assert q.returncode == 0, q.stderr
    (tmp_path / "r.tsr").write_bytes(authority.respond((tmp_path / "q.tsq").read_bytes()))
    out = openssl("ts", "-verify", "-queryfile", str(tmp_path / "q.tsq"), "-in", str(tmp_path / "r.tsr"),
                  "-CAfile", str(ca_files["root"]), "-untrusted", str(ca_files["issuing"]))
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stderr


@pytest.mark.parametrize("alg", ["ecdsa-p256", "ed25519", "rsa-pss-3072"])
def test_client_token_verifies_against_the_root(ca, alg):
    token = request_timestamp(DIGEST, authority=_authority(ca, alg))
    info = verify_timestamp_token(token.der, DIGEST, [ca.root_certificate])
    assert info.gen_time == token.gen_time and info.gen_time.tzinfo is not None
    assert info.policy == "1.2.860.3.2.11.1" and info.hash_name == "sha256"
    assert info.tsa_certificate.subject.rfc4514_string().startswith("CN=Yagona Timestamp Authority")


def test_token_over_another_digest_is_refused(ca, authority):
    token = request_timestamp(DIGEST, authority=authority)
    with pytest.raises(TimestampError, match="different digest"):
        token.verify(hashlib.sha256(b"forged").digest(), [ca.root_certificate])


def test_token_from_an_untrusted_ca_is_refused(ca, authority, tmp_path):
    stranger = CertificateAuthority.create(tmp_path / "stranger", PASSWORD, kdf_rounds=FAST_KDF)
    token = request_timestamp(DIGEST, authority=authority)
    with pytest.raises(TimestampError, match="does not chain to a trusted root"):
        token.verify(DIGEST, [stranger.root_certificate])
    with pytest.raises(TimestampError, match="no trust roots"):
        verify_timestamp_token(token.der, DIGEST, [])


def test_altered_token_is_refused(ca, authority):
    token = request_timestamp(DIGEST, authority=authority)
    serial = token.info.serial_number.to_bytes(16, "big").lstrip(b"\x00")
    i = token.der.index(serial)
    tampered = token.der[:i] + bytes([serial[0] ^ 1]) + token.der[i + 1:]
    with pytest.raises(TimestampError, match="message-digest does not match"):
        verify_timestamp_token(tampered, DIGEST, [ca.root_certificate])


def test_token_signed_by_a_non_tsa_certificate_is_refused(ca):
    key, csr = make_csr()
    with pytest.raises(TimestampError, match="timeStamping"):
        TimestampAuthority(key, ca.issue(csr))


@pytest.mark.parametrize("data", [b"", b"\x01\x02garbage", b"\x30\x03\x02\x01"],
                         ids=["empty", "garbage", "truncated-header"])
def test_garbage_requests_are_rejected_with_bad_data_format(authority, data, tmp_path):
    (tmp_path / "r.tsr").write_bytes(authority.respond(data))
    shown = openssl("ts", "-reply", "-in", str(tmp_path / "r.tsr"), "-text")
    assert shown.returncode == 0, shown.stderr
    assert b"Status: Rejected." in shown.stdout
    assert b"Failure info: the data submitted has the wrong format" in shown.stdout
    with pytest.raises(TimestampError, match=r"refused: rejection \[bad_data_format\]"):
        tsa.parse_response(authority.respond(data))


def test_truncated_and_huge_requests_are_rejected(authority):
    good = tsa.build_request(DIGEST, nonce=1)
    with pytest.raises(TimestampError, match="not a DER TimeStampReq"):
        tsa.parse_response(authority.respond(good[:-3]))
    with pytest.raises(TimestampError, match="the limit is 65536"):
        tsa.parse_response(authority.respond(b"\x30\x83\x10\x00\x00" + b"\x00" * (1 << 20)))


def test_weak_hash_wrong_length_and_foreign_policy_are_rejected(authority):
    sha1 = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha1"}, "hashed_message": b"\x00" * 20}}).dump()
    with pytest.raises(TimestampError, match=r"\[bad_alg\].*sha1 is not accepted"):
        tsa.parse_response(authority.respond(sha1))
    short = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x00" * 20}}).dump()
    with pytest.raises(TimestampError, match="sha256 digest is 32 bytes, got 20"):
        tsa.parse_response(authority.respond(short))
    policy = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": DIGEST}, "req_policy": "1.2.3.4"}).dump()
    with pytest.raises(TimestampError, match=r"\[unaccepted_policy\]"):
        tsa.parse_response(authority.respond(policy))


def test_client_refuses_data_instead_of_digest_and_two_targets(authority):
    with pytest.raises(TimestampError, match="pass the digest, not the data"):
        request_timestamp(b"the whole document", authority=authority)
    with pytest.raises(TimestampError, match="exactly one of url= or authority="):
        request_timestamp(DIGEST)


def test_client_reports_an_unreachable_tsa(serve):
    with pytest.raises(TimestampError, match="could not reach the TSA"):
        request_timestamp(DIGEST, url="http://127.0.0.1:9/tsa", timeout=2)


def test_client_refuses_a_response_for_another_request(authority, serve):
    stale = authority.respond(tsa.build_request(DIGEST, nonce=7))
    url = serve(lambda body: stale, "application/timestamp-reply")
    with pytest.raises(TimestampError, match="different nonce"):
        request_timestamp(DIGEST, url=url)
    url = serve(lambda body: b"<html>proxy error</html>", "text/html")
    with pytest.raises(TimestampError, match="not a DER TimeStampResp"):
        request_timestamp(DIGEST, url=url)


def test_authority_from_the_pfx_that_imzo_ca_tsa_cert_writes(ca, ca_files, tmp_path):
    from keystore import pfx

    key = algorithms.DEFAULT.generate()
    cert = ca.issue_tsa_certificate(key.public_key())
    blob = pfx.encrypt_key(key, b"tsa-pw", cert, [ca.issuing_certificate, ca.root_certificate], kdf_rounds=FAST_KDF)
    authority = TimestampAuthority.from_pfx(blob, b"tsa-pw")
    token = request_timestamp(DIGEST, authority=authority, trust_roots=[ca.root_certificate])
    (tmp_path / "t.der").write_bytes(token.der)
    out = openssl("ts", "-verify", "-token_in", "-digest", DIGEST.hex(), "-in", str(tmp_path / "t.der"),
                  "-CAfile", str(ca_files["root"]))  # the issuing CA travels inside the token
    assert out.returncode == 0 and b"Verification: OK" in out.stdout, out.stderr


def test_token_without_embedded_certificates_verifies_with_given_intermediates(ca, authority):
    nonce_req = tsa.build_request(DIGEST, nonce=3, cert_req=False)
    token_der = tsa.parse_response(authority.respond(nonce_req))
    with pytest.raises(TimestampError, match="neither in the token nor among the certificates given"):
        verify_timestamp_token(token_der, DIGEST, [ca.root_certificate])
    info = verify_timestamp_token(token_der, DIGEST, [ca.root_certificate],
                                  intermediates=[authority.certificate, ca.issuing_certificate])
    assert info.nonce == 3
