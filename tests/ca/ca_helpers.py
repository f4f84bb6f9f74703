"""Helpers for CA, OCSP and TSA tests: CSRs with valid Uzbek subjects, PEM, the OpenSSL CLI."""
from __future__ import annotations

import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from signing import algorithms, oids, x509_signing

PASSWORD = b"ca-test-password"
FAST_KDF = 1000  # tests only; production keeps keystore.pfx.KDF_ROUNDS


def make_csr(
    key=None, *, profile: str = "citizen", **override: str | None
) -> tuple[object, x509.CertificateSigningRequest]:
    """A CSR for a valid citizen/employee subject; keyword args replace (or, with None, drop) attributes."""
    key = key or algorithms.DEFAULT.generate()
    attrs: dict[str, tuple[x509.ObjectIdentifier, str]] = {
        "CN": (NameOID.COMMON_NAME, "Alisher Valiyev"),
        "SURNAME": (NameOID.SURNAME, "Valiyev"),
        "GIVENNAME": (NameOID.GIVEN_NAME, "Alisher"),
        "PINFL": (oids.PINFL, "32301940190066"),
        "C": (NameOID.COUNTRY_NAME, "UZ"),
    }
    if profile == "employee":
        attrs.update({
            "O": (NameOID.ORGANIZATION_NAME, "Toshkent shahar hokimligi"),
            "T": (NameOID.TITLE, "direktor"),
            "TIN": (oids.TIN, "300777132"),
        })
    for name, value in override.items():
        if value is None:
            attrs.pop(name, None)
        else:
            extra = {"O": NameOID.ORGANIZATION_NAME, "TIN": oids.TIN, "T": NameOID.TITLE,
                     "EMAIL": NameOID.EMAIL_ADDRESS}
            oid = attrs[name][0] if name in attrs else extra[name]
            attrs[name] = (oid, value)
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs.values()])
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    return key, x509_signing.sign(builder, key)


def pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, input=input, timeout=30)
