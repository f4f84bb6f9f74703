"""Shared fixtures for CA, OCSP and TSA tests: a fresh CA per test (cheap KDF), a tiny HTTP server."""
from __future__ import annotations

from pathlib import Path

import pytest

from ca_helpers import FAST_KDF, PASSWORD, pem
from signing.ca import CertificateAuthority


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "ca", PASSWORD, kdf_rounds=FAST_KDF)


@pytest.fixture
def ca_files(ca: CertificateAuthority, tmp_path: Path) -> dict[str, Path]:
    """root.pem, issuing.pem and chain.pem (issuing+root) for the OpenSSL CLI."""
    out = {"root": tmp_path / "root.pem", "issuing": tmp_path / "issuing.pem", "chain": tmp_path / "chain.pem"}
    out["root"].write_bytes(pem(ca.root_certificate))
    out["issuing"].write_bytes(pem(ca.issuing_certificate))
    out["chain"].write_bytes(pem(ca.issuing_certificate) + pem(ca.root_certificate))
    return out


