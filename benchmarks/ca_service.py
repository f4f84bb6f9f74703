"""CA service benchmark: OCSP answers (one and twenty certificates a request) and timestamps, through
the same core `yagona serve` and `imzo ca serve` use (signing/ca_http.py), against raw ECDSA P-256
signatures measured in the same run.

    .venv/bin/python benchmarks/ca_service.py [--issued 2000] [--seconds 2] [--cpu 0]

Pinned to one core; rates are per CPU second of this process (time.process_time), best of 3
interleaved rounds. The CA has --issued certificates in its index, as a CA in service would: the
delegated responder looks every requested serial up in that index.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ca"))


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of *fn*, run for about *seconds* of CPU after a short warm-up."""
    for _ in range(5):
        fn()
    n, start = 0, time.process_time()
    while True:
        fn()
        n += 1
        spent = time.process_time() - start
        if spent >= seconds:
            return n / spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issued", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp

    from ca_helpers import FAST_KDF, PASSWORD, make_csr
    from signing import algorithms, tsa
    from signing.ca import CertificateAuthority, DelegatedOCSPResponder
    from signing.ca_http import CAServices

    folder = Path(tempfile.mkdtemp()) / "ca"
    authority = CertificateAuthority.create(folder, PASSWORD, kdf_rounds=FAST_KDF)
    csr = make_csr()[1]
    certs = [authority.issue(csr) for _ in range(args.issued)]
    ocsp_key, tsa_key = algorithms.DEFAULT.generate(), algorithms.DEFAULT.generate()
    services = CAServices(
        folder,
        ocsp=DelegatedOCSPResponder(folder, ocsp_key, authority.issue_ocsp_certificate(ocsp_key.public_key())),
        tsa=tsa.TimestampAuthority(tsa_key, authority.issue_tsa_certificate(tsa_key.public_key()),
                                   chain=[authority.issuing_certificate]),
    )

    def request(n: int) -> bytes:
        b = ocsp.OCSPRequestBuilder().add_certificate(certs[0], authority.issuing_certificate, hashes.SHA1())
        der = b.build().public_bytes(serialization.Encoding.DER)
        if n == 1:
            return der
        import subprocess  # cryptography builds one-certificate requests only; openssl builds many

        pem_dir = folder.parent
        (pem_dir / "issuing.pem").write_bytes(authority.issuing_certificate.public_bytes(serialization.Encoding.PEM))
        cert_args = []
        for i, c in enumerate(certs[:n]):
            (pem_dir / f"c{i}.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
            cert_args += ["-cert", str(pem_dir / f"c{i}.pem")]
        subprocess.run(["openssl", "ocsp", "-issuer", str(pem_dir / "issuing.pem"), *cert_args,
                        "-reqout", str(pem_dir / "req.der")], check=True, capture_output=True)
        return (pem_dir / "req.der").read_bytes()

    one, twenty = request(1), request(20)
    query = tsa.build_request(hashlib.sha256(b"hujjat").digest(), nonce=1)
    raw_key = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "raw ECDSA P-256 signature (baseline)": lambda: raw_key.sign(one, ec.ECDSA(hashes.SHA256())),
        "OCSP, 1 certificate": lambda: services.ocsp_post("application/ocsp-request", one),
        "OCSP, 20 certificates": lambda: services.ocsp_post("application/ocsp-request", twenty),
        "timestamp": lambda: services.tsa_post("application/timestamp-query", query),
    }
    best = {name: 0.0 for name in cases}
    for _ in range(3):
        for name, fn in cases.items():
            best[name] = max(best[name], rate(fn, args.seconds / 3))
    base = best["raw ECDSA P-256 signature (baseline)"]
    print(f"CA with {args.issued} issued certificates; per CPU second on one core")
    for name, value in best.items():
        print(f"  {name:40} {value:10.0f}/s   {value / base:6.3f} x baseline")


if __name__ == "__main__":
    main()
