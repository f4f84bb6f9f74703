"""Password-protected PKCS#12 (PFX) blobs: the on-disk form of every private key we keep.

Keys are encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) and the MAC uses SHA-256,
the same protection OpenSSL 3 uses by default, so `openssl pkcs12` can open our files and we
can open theirs. A private key is never written unencrypted.
"""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12
from cryptography.hazmat.primitives.serialization.pkcs12 import PBES

from .errors import CorruptKeystore, WrongPassword

#: PBKDF2 iterations; OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600,000.
KDF_ROUNDS = 600_000
MAX_PFX_BYTES = 1 << 20
#: Most key-derivation or MAC rounds a PFX may ask for: the count is the file's to choose, and
#: two billion rounds keep a CPU busy for hours before the password is even checked.
MAX_KDF_ROUNDS = 10_000_000


def encrypt_key(
    key: PrivateKeyTypes,
    password: bytes,
    cert: x509.Certificate | None = None,
    chain: list[x509.Certificate] | None = None,
    name: str | None = None,
    kdf_rounds: int = KDF_ROUNDS,
) -> bytes:
    """Serialise *key* (and its certificate and chain) as a PKCS#12 blob locked by *password*."""
    if not password:
        raise ValueError("a key file needs a non-empty password")
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(kdf_rounds)
        .key_cert_algorithm(PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    if not isinstance(key, (rsa.RSAPrivateKey, dsa.DSAPrivateKey, ec.EllipticCurvePrivateKey,
                            ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raise TypeError(f"a {type(key).__name__} cannot be kept in a PKCS#12 file; use an RSA, EC or EdDSA key")
    return pkcs12.serialize_key_and_certificates(
        name.encode() if name else None, key, cert, chain or None, encryption
    )


def decrypt_key(
    blob: bytes, password: bytes
) -> tuple[PrivateKeyTypes, x509.Certificate | None, list[x509.Certificate]]:
    """Open a PKCS#12 blob; return (private key, certificate or None, extra certificates)."""
    if len(blob) > MAX_PFX_BYTES:
        raise CorruptKeystore(f"key file is {len(blob)} bytes; a PFX over {MAX_PFX_BYTES} bytes is refused")
    rounds = _most_rounds(blob)
    if rounds > MAX_KDF_ROUNDS:
        raise CorruptKeystore(f"the key file asks for {rounds} key-derivation rounds; over {MAX_KDF_ROUNDS} is refused")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(blob, password)
    except ValueError as exc:
        # cryptography reports a bad MAC and a malformed file with the same exception type;
        # a well-formed file whose MAC fails is a wrong password.
        if _looks_like_pkcs12(blob):
            raise WrongPassword("the password does not open this key file") from exc
        raise CorruptKeystore("the key file is damaged or is not a PKCS#12 (PFX) file") from exc
    if key is None:
        raise CorruptKeystore("the PKCS#12 file holds no private key")
    return key, cert, list(extra)


def _most_rounds(blob: bytes) -> int:
    """The largest iteration count in the PFX's MAC and encryption parameters (0 if it cannot tell)."""
    from asn1crypto import pkcs12 as a_pkcs12

    counts = [0]
    try:
        pfx = a_pkcs12.Pfx.load(blob)
        if pfx["mac_data"].native is not None:
            counts.append(int(pfx["mac_data"]["iterations"].native or 0))
        for ci in pfx.authenticated_safe:
            kind = ci["content_type"].native
            if kind == "encrypted_data":
                counts.append(ci["content"]["encrypted_content_info"]["content_encryption_algorithm"].kdf_iterations)
            elif kind == "data":
                for bag in a_pkcs12.SafeContents.load(ci["content"].native):
                    if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                        counts.append(bag["bag_value"]["encryption_algorithm"].kdf_iterations)
    except Exception:  # noqa: BLE001 - unreadable here: cryptography gives the precise error
        pass
    return max(counts)


def _looks_like_pkcs12(blob: bytes) -> bool:
    try:
        from asn1crypto import pkcs12 as a_pkcs12

        pfx = a_pkcs12.Pfx.load(blob, strict=True)
        pfx["auth_safe"]["content"].native  # noqa: B018 - forces a full parse
        return pfx["mac_data"].native is not None
    except Exception:  # any parse failure means "not a PFX"
        return False
