"""Security review: each test is an attack that once worked (a forged or stale proof accepted, or a hang).

Every test here failed before the fix committed with it.
"""
from __future__ import annotations

import contextlib
import signal
from datetime import timedelta
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing import cms
from signing.report import Indication, SubIndication
from signing.validate import Validator

from signing_pki import NOW, PKI, Party, certificate, name

DOC = b"Murojaat: ko'cha chirog'ini tuzatib bering.\n"


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the test run) if the block takes longer than *seconds*."""

    def expire(signum, frame):  # noqa: ANN001
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def only(report):
    assert len(report.signers) == 1
    s = report.signers[0]
    return s.indication, s.sub_indication


# --- path building: a handful of certificates that all issue each other -----------------------------


def test_mutually_issuing_certificates_do_not_hang_path_building(pki: PKI) -> None:
    """20 self-issued CA certificates under one key: every one 'issues' every other, so a depth-first
    search without a budget walks 20^8 paths. A 10 kB signature used to pin a validator for hours."""
    k = ec.generate_private_key(ec.SECP256R1())
    loop = []
    for _ in range(20):
        b = (x509.CertificateBuilder().subject_name(name("Loop CA")).issuer_name(name("Loop CA"))
             .public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
        loop.append(b.sign(k, hashes.SHA256()))
    lk = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(name("Leaf", pinfl="31234567890123"), lk, Party(k, loop[0]))
    sig = cms.sign(DOC, cms.Signer(lk, leaf, loop))
    v = Validator([pki.root.cert], crls=pki.crls)
    with within(5):
        report = v.validate(sig)
    assert only(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    # and the real chain still builds
    assert v.validate(cms.sign(DOC, pki.citizen.signer())).passed
