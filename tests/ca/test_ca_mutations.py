"""Every byte-flipped, truncated input gets our own error (or a proper error response), never a library traceback."""
from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from ca_helpers import make_csr
from keystore import pfx
from keystore.errors import KeystoreError
from signing import algorithms, tsa
from signing.ca import CertificateRequestError, load_csr

DIGEST = hashlib.sha256(b"x").digest()
ROUNDS = 150


def _mutations(data: bytes, seed: int):
    rng = random.Random(seed)
    for i in range(ROUNDS):
        b = bytearray(data)
        kind = i % 3
        if kind == 0:
            pos = rng.randrange(len(b))
            b[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b = b[: rng.randrange(len(b))]
        else:
            pos = rng.randrange(len(b))
            b[pos] = rng.randrange(256)
        yield bytes(b)


def test_mutated_tokens_raise_timestamp_error_only(ca):
    key = algorithms.DEFAULT.generate()
    authority = tsa.TimestampAuthority(key, ca.issue_tsa_certificate(key.public_key()), chain=[ca.issuing_certificate])
    token = tsa.request_timestamp(DIGEST, authority=authority)
    accepted = 0
    for der in _mutations(token.der, 1):
        try:
            tsa.verify_timestamp_token(der, DIGEST, [ca.root_certificate])
            accepted += 1
        except tsa.TimestampError:
            pass
    # a flip may land in an unsigned part (e.g. an unused certificate byte), never in what is signed
    assert accepted < ROUNDS // 10


def test_mutated_tsa_requests_always_get_a_response(ca):
    key = algorithms.DEFAULT.generate()
    authority = tsa.TimestampAuthority(key, ca.issue_tsa_certificate(key.public_key()))
    for der in _mutations(tsa.build_request(DIGEST, nonce=99), 2):
        answer = authority.respond(der)
        try:
            tsa.parse_response(answer)
        except tsa.TimestampError as exc:
            assert "refused" in str(exc)


def test_mutated_ocsp_requests_always_get_an_ocsp_response(ca):
    cert = ca.issue(make_csr()[1])
    good = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuing_certificate, hashes.SHA1()).build()
    for der in _mutations(good.public_bytes(serialization.Encoding.DER), 3):
        resp = ocsp.load_der_ocsp_response(ca.ocsp_respond(der))
        assert resp.response_status in set(ocsp.OCSPResponseStatus)


def test_mutated_csrs_raise_certificate_request_error_only(ca):
    _, csr = make_csr()
    for der in _mutations(csr.public_bytes(serialization.Encoding.DER), 4):
        try:
            ca.issue(load_csr(der))
        except CertificateRequestError:
            pass


@pytest.mark.filterwarnings("ignore:PKCS#12 bundle could not be parsed as DER")
def test_mutated_pfx_raise_keystore_error_or_open_the_same_key():
    key = algorithms.DEFAULT.generate()
    blob = pfx.encrypt_key(key, b"pw", kdf_rounds=1)
    for seed in range(5, 9):
        for der in _mutations(blob, seed):
            try:
                opened, _, _ = pfx.decrypt_key(der, b"pw")
            except KeystoreError:
                continue
            # A flip the MAC does not cover (outer encoding that OpenSSL parses leniently) may still
            # open; then it must be the very same key, never a different one.
            assert opened.public_key() == key.public_key()
