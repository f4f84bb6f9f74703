"""Helpers for the served CA tests: service keys in PFX files, a running `imzo ca serve`, openssl/curl calls."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ca_helpers import FAST_KDF, openssl, pem
from keystore import pfx
from signing import algorithms
from signing.ca import CertificateAuthority

OCSP_PW = b"ocsp-file-pw"
TSA_PW = b"tsa-file-pw"


def service_pfx(ca: CertificateAuthority, tmp_path: Path) -> dict[str, Path]:
    """The delegated OCSP and TSA key files `imzo ca ocsp-cert` / `tsa-cert` would write."""
    out = {}
    for kind, password in (("ocsp", OCSP_PW), ("tsa", TSA_PW)):
        key = algorithms.DEFAULT.generate()
        issue = ca.issue_ocsp_certificate if kind == "ocsp" else ca.issue_tsa_certificate
        blob = pfx.encrypt_key(key, password, issue(key.public_key()), [ca.issuing_certificate, ca.root_certificate],
                               kdf_rounds=FAST_KDF)
        out[kind] = tmp_path / f"{kind}.pfx"
        out[kind].write_bytes(blob)
    return out


def start_imzo_serve(folder: Path, *args: str, stdin: bytes = b"") -> tuple[subprocess.Popen, str]:
    """`imzo ca serve --port 0` as a real process; returns it and its base URL (…/ca) once it listens."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "imzo"), "ca", "serve", "--ca", str(folder), "--port", "0", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    proc.stdin.write(stdin)
    proc.stdin.close()
    line = proc.stderr.readline().decode()
    match = re.search(r"(http://127\.0\.0\.1:\d+/ca)/crl", line)
    if not match:
        proc.kill()
        raise AssertionError(f"imzo ca serve did not start: {line}{proc.stderr.read().decode()}")
    return proc, match.group(1)


def ocsp_ask(issuing: Path, root: Path, url: str, tmp_path: Path, *certs) -> subprocess.CompletedProcess:
    """`openssl ocsp -issuer … -cert A -cert B … -url URL`, verifying the answer to *root*."""
    args = ["ocsp", "-issuer", str(issuing)]
    for c in certs:
        leaf = tmp_path / f"{c.serial_number:x}.pem"
        leaf.write_bytes(pem(c))
        args += ["-cert", str(leaf)]
    return openssl(*args, "-url", url, "-CAfile", str(root), "-verify_other", str(issuing), "-timeout", "10")


def statuses(stdout: bytes) -> list[bytes]:
    """The status word of each `FILE.pem: status` line openssl ocsp prints, in order."""
    return [ln.split(b": ", 1)[1] for ln in stdout.splitlines() if re.match(rb"^\S+\.pem: ", ln)]


def ts_query_curl(data: Path, url: str, tmp_path: Path) -> tuple[Path, Path]:
    """`openssl ts -query -data F -sha256 -cert | curl --data-binary @- …`; returns (query, reply) files."""
    query, reply = tmp_path / "q.tsq", tmp_path / "r.tsr"
    q = openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query))
    assert q.returncode == 0, q.stderr
    pipe = subprocess.run(
        f"openssl ts -query -data '{data}' -sha256 -cert | curl -sS -f --data-binary @- "
        f"-H 'Content-Type: application/timestamp-query' -o '{reply}' '{url}'",
        shell=True, capture_output=True, timeout=30,
    )
    assert pipe.returncode == 0, pipe.stderr
    return query, reply


def curl(*args: str) -> subprocess.CompletedProcess:
    """curl printing the HTTP status on the last line of stdout (-w)."""
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args], capture_output=True,
                          timeout=30)
