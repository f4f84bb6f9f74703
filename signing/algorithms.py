"""One registry of signature algorithms, so a national algorithm can be added in one place.

Every signer and verifier in `signing/` asks this module how to generate, sign and verify,
and which OIDs to write; nothing else branches on key types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)

from . import oids
from .errors import SigningError


class UnknownAlgorithm(SigningError):
    """The key or OID belongs to no algorithm in the registry."""


@dataclass(frozen=True)
class Algorithm:
    """How one signature algorithm is generated, used and named."""

    name: str  #: registry name: "ecdsa-p256", "ed25519", "rsa-pss-3072"
    digest_name: str  #: asn1crypto digest name used in CMS: "sha256"
    signature_oid: str  #: OID written in SignerInfo.signatureAlgorithm
    asn1_signature_name: str  #: asn1crypto SignedDigestAlgorithm name
    generate: Callable[[], CertificateIssuerPrivateKeyTypes]
    sign: Callable[[PrivateKeyTypes, bytes], bytes]
    #: verify(public_key, signature, data); raises cryptography.exceptions.InvalidSignature
    verify: Callable[[PublicKeyTypes, bytes, bytes], None]
    matches: Callable[[object], bool]  #: does this key (private or public) belong here?
    #: DER of the AlgorithmIdentifier parameters written after signature_oid, or None for absent
    signature_parameters: bytes | None = None

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[self.digest_name]


#: Smallest RSA modulus signed, certified or accepted
MIN_RSA_BITS = 2048
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _wrong_key(algorithm: str, key: object) -> UnknownAlgorithm:
    return UnknownAlgorithm(f"{algorithm} cannot use a {type(key).__name__} key")


def _ecdsa_p256_sign(key: PrivateKeyTypes, data: bytes) -> bytes:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise _wrong_key("ecdsa-p256", key)
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _ecdsa_p256_verify(pub: PublicKeyTypes, sig: bytes, data: bytes) -> None:
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise _wrong_key("ecdsa-p256", pub)
    pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))


def _ed25519_sign(key: PrivateKeyTypes, data: bytes) -> bytes:
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise _wrong_key("ed25519", key)
    return key.sign(data)


def _ed25519_verify(pub: PublicKeyTypes, sig: bytes, data: bytes) -> None:
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise _wrong_key("ed25519", pub)
    pub.verify(sig, data)


def _rsa_pss_sign(key: PrivateKeyTypes, data: bytes) -> bytes:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _wrong_key("rsa-pss-3072", key)
    return key.sign(data, _PSS, hashes.SHA256())


def _rsa_pss_verify(pub: PublicKeyTypes, sig: bytes, data: bytes) -> None:
    if not isinstance(pub, rsa.RSAPublicKey):
        raise _wrong_key("rsa-pss-3072", pub)
    pub.verify(sig, data, _PSS, hashes.SHA256())


ECDSA_P256 = Algorithm(
    name="ecdsa-p256",
    digest_name="sha256",
    signature_oid=oids.ECDSA_SHA256,
    asn1_signature_name="sha256_ecdsa",
    generate=lambda: ec.generate_private_key(ec.SECP256R1()),
    sign=_ecdsa_p256_sign,
    verify=_ecdsa_p256_verify,
    matches=lambda k: isinstance(k, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey))
    and isinstance(k.curve, ec.SECP256R1),
)

ED25519 = Algorithm(
    name="ed25519",
    digest_name="sha512",  # RFC 8419: the CMS message digest for Ed25519 is SHA-512
    signature_oid=oids.ED25519,
    asn1_signature_name="ed25519",
    generate=ed25519.Ed25519PrivateKey.generate,
    sign=_ed25519_sign,
    verify=_ed25519_verify,
    matches=lambda k: isinstance(k, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)),
)

RSA_PSS_3072 = Algorithm(
    name="rsa-pss-3072",
    digest_name="sha256",
    signature_oid=oids.RSA_PSS,
    asn1_signature_name="rsassa_pss",
    generate=lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
    sign=_rsa_pss_sign,
    verify=_rsa_pss_verify,
    # we make 3072-bit keys; smaller ones from elsewhere down to 2048 (NIST SP 800-57) only, never 512/1024
    matches=lambda k: isinstance(k, (rsa.RSAPrivateKey, rsa.RSAPublicKey)) and k.key_size >= MIN_RSA_BITS,
    # RSASSA-PSS-params: SHA-256, MGF1 with SHA-256, salt 32, trailer 1 (RFC 4055)
    signature_parameters=bytes.fromhex(
        "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648016503040201"
        "0500a203020120"
    ),
)

DEFAULT = ECDSA_P256
REGISTRY: dict[str, Algorithm] = {a.name: a for a in (ECDSA_P256, ED25519, RSA_PSS_3072)}


def get(name: str) -> Algorithm:
    """The algorithm registered under *name*; raises UnknownAlgorithm with the choices."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown algorithm {name!r}; choose one of {', '.join(REGISTRY)}") from None


def for_key(key: object) -> Algorithm:
    """The algorithm a private or public key belongs to."""
    for alg in REGISTRY.values():
        if alg.matches(key):
            return alg
    raise UnknownAlgorithm(f"no registered algorithm for a {type(key).__name__} key")


def register(alg: Algorithm) -> None:
    """Add an algorithm (a national one, say) to the registry."""
    REGISTRY[alg.name] = alg
