"""Sign X.509 structures (certificates, CRLs, CSRs) with whatever key the algorithm registry knows.

cryptography wants a hash for ECDSA and RSA, none for Ed25519, and an explicit padding for
RSA-PSS. Those facts follow from the algorithm's signature OID, so they live here once.
"""
from __future__ import annotations

from typing import Any, overload

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from . import algorithms, oids

_PURE_SIGNATURE_OIDS = {oids.ED25519, oids.ED448}  # the hash is built in


def signature_hash(key: object) -> hashes.HashAlgorithm | None:
    """The hash cryptography's X.509 builders need for *key* (None for Ed25519)."""
    alg = algorithms.for_key(key)
    if alg.signature_oid in _PURE_SIGNATURE_OIDS:
        return None
    return alg.hash_algorithm()


@overload
def sign(builder: x509.CertificateBuilder, key: Any) -> x509.Certificate: ...
@overload
def sign(builder: x509.CertificateRevocationListBuilder, key: Any) -> x509.CertificateRevocationList: ...
@overload
def sign(builder: x509.CertificateSigningRequestBuilder, key: Any) -> x509.CertificateSigningRequest: ...


def sign(builder: Any, key: Any) -> Any:
    """Call ``builder.sign`` with the hash and padding the key's registered algorithm uses."""
    alg = algorithms.for_key(key)
    if alg.signature_oid == oids.RSA_PSS:
        pss = padding.PSS(mgf=padding.MGF1(alg.hash_algorithm()), salt_length=alg.hash_algorithm().digest_size)
        return builder.sign(key, alg.hash_algorithm(), rsa_padding=pss)
    return builder.sign(key, signature_hash(key))
