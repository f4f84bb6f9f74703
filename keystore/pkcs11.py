"""A PKCS#11 token (an HSM; SoftHSM2 in tests) for the service's own keys.

Keys are generated on the token as non-extractable, sensitive objects and never leave it. A key
object from this module subclasses cryptography's private-key interface, so code that signs
through `signing.algorithms` (the TSA, CMS signing) uses a token key exactly like a software key:
``algorithms.for_key(key).sign(key, data)``. Asking for its private bytes raises KeystoreError.

Supported: ``ecdsa-p256`` (CKM_ECDSA over a digest computed here) and ``rsa-pss-3072``
(CKM_SHA*_RSA_PKCS_PSS, or PKCS#1 v1.5). These names match the signing algorithm registry;
keystore cannot import it (dependencies point keystore ← signing), so the mapping to PKCS#11
mechanisms lives here.
"""
from __future__ import annotations

import glob
import hashlib
import hmac
import os
import threading
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.util.ec import encode_named_curve_parameters

from .errors import KeyNotFound, KeystoreError, WrongPassword

MODULE_ENV = "YAGONA_PKCS11_MODULE"
_MODULE_GLOBS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/*/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
KINDS = ("ecdsa-p256", "rsa-pss-3072")

#: (module, token label) -> [sha256 of the PIN that logged in, open sessions]; see Token.__init__.
_LOGINS: dict[tuple[str, str], list[Any]] = {}
_LOGINS_LOCK = threading.Lock()

_PSS_MECHANISMS = {
    "sha256": (Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.SHA256, pkcs11.MGF.SHA256),
    "sha384": (Mechanism.SHA384_RSA_PKCS_PSS, Mechanism.SHA384, pkcs11.MGF.SHA384),
    "sha512": (Mechanism.SHA512_RSA_PKCS_PSS, Mechanism.SHA512, pkcs11.MGF.SHA512),
}
_PKCS1_MECHANISMS = {
    "sha256": Mechanism.SHA256_RSA_PKCS,
    "sha384": Mechanism.SHA384_RSA_PKCS,
    "sha512": Mechanism.SHA512_RSA_PKCS,
}


def find_module() -> str:
    """Path of the PKCS#11 module: $YAGONA_PKCS11_MODULE, else the first SoftHSM2 library found."""
    env = os.environ.get(MODULE_ENV)
    if env:
        if not os.path.isfile(env):
            raise KeystoreError(f"{MODULE_ENV}={env} is not a file; point it at the token's PKCS#11 library")
        return env
    for pattern in _MODULE_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    raise KeystoreError(f"no PKCS#11 module found; install softhsm2 or set {MODULE_ENV}")


class Token:
    """A logged-in session on one token, found by label. Use as a context manager, or call close()."""

    def __init__(self, label: str, pin: str, module: str | None = None) -> None:
        self.label = label
        self._lock = threading.RLock()
        self._session: pkcs11.Session | None = None
        try:
            lib = pkcs11.lib(module or find_module())
        except (RuntimeError, OSError) as exc:
            raise KeystoreError(f"cannot load the PKCS#11 module: {exc}") from None
        try:
            token = lib.get_token(token_label=label)
        except p11e.NoSuchToken:
            raise KeyNotFound(f"no PKCS#11 token labelled {label!r}; create it (softhsm2-util --init-token)") from None
        except p11e.MultipleTokensReturned:
            raise KeystoreError(f"more than one token is labelled {label!r}; give each a unique label") from None
        self._login_key = (module or find_module(), label)
        pin_hash = hashlib.sha256(pin.encode()).digest()
        try:
            with _LOGINS_LOCK:
                try:
                    self._session = token.open(user_pin=pin, rw=True)
                except p11e.UserAlreadyLoggedIn:
                    # PKCS#11 logs in per process, not per session: another Token here holds the login,
                    # so the token will not check this PIN. Check it against the one that logged in.
                    known = _LOGINS.get(self._login_key)
                    if known is None or not hmac.compare_digest(known[0], pin_hash):
                        raise p11e.PinIncorrect() from None
                    self._session = token.open(rw=True)
                entry = _LOGINS.setdefault(self._login_key, [pin_hash, 0])
                entry[1] += 1
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
            raise WrongPassword(f"the PIN does not open token {label!r}") from None
        except p11e.PinLocked:
            raise WrongPassword(
                f"token {label!r} is locked after too many wrong PINs; reset it with the SO PIN") from None
        except p11e.PKCS11Error as exc:
            raise KeystoreError(f"cannot open token {label!r}: {type(exc).__name__}") from None

    def __enter__(self) -> "Token":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock, _LOGINS_LOCK:
            if self._session is None:
                return
            self._session.close()
            self._session = None
            entry = _LOGINS.get(self._login_key)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:  # the last session closed: the token logged us out
                    del _LOGINS[self._login_key]

    def labels(self) -> list[str]:
        """Labels of the private keys on the token."""
        with self._lock:
            return sorted(k.label for k in self._open_session().get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))

    def generate_key(self, label: str, kind: str = "ecdsa-p256") -> "HsmEcKey | HsmRsaKey":
        """Make a non-extractable key pair named *label* on the token; refuses a label in use."""
        if kind not in KINDS:
            raise KeystoreError(f"cannot make a {kind!r} key on a token; choose one of {', '.join(KINDS)}")
        if not label or len(label) > 64:
            raise KeystoreError("a token key needs a label of 1..64 characters")
        private = {Attribute.TOKEN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
        public = {Attribute.TOKEN: True, Attribute.VERIFY: True}
        with self._lock:
            if label in self.labels():
                raise KeystoreError(f"token {self.label!r} already has a key labelled {label!r}")
            try:
                if kind == "ecdsa-p256":
                    params = self._open_session().create_domain_parameters(
                        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
                    )
                    params.generate_keypair(store=True, label=label, public_template=public, private_template=private)
                else:
                    self._open_session().generate_keypair(
                        KeyType.RSA, 3072, store=True, label=label, public_template=public, private_template=private
                    )
            except p11e.PKCS11Error as exc:
                raise KeystoreError(f"the token could not make a {kind} key: {type(exc).__name__}") from None
        return self.key(label)

    def key(self, label: str) -> "HsmEcKey | HsmRsaKey":
        """The private key labelled *label*; KeyNotFound if the token has none."""
        with self._lock:
            try:
                priv = self._open_session().get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
                pub = self._open_session().get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
            except p11e.NoSuchKey:
                raise KeyNotFound(f"token {self.label!r} has no key labelled {label!r}") from None
            except p11e.MultipleObjectsReturned:
                raise KeystoreError(f"token {self.label!r} has several keys labelled {label!r}") from None
            if priv.key_type == KeyType.EC:
                return HsmEcKey(self, priv, _ec_public_key(pub))
            if priv.key_type == KeyType.RSA:
                numbers = rsa.RSAPublicNumbers(
                    int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"), int.from_bytes(pub[Attribute.MODULUS], "big")
                )
                return HsmRsaKey(self, priv, numbers.public_key())
        raise KeystoreError(f"key {label!r} on token {self.label!r} is of a type we cannot sign with")

    def _open_session(self) -> Any:
        if self._session is None:
            raise KeystoreError(f"the session on token {self.label!r} is closed; open the Token again")
        return self._session

    def _sign(self, priv: Any, data: bytes, mechanism: Mechanism, param: Any = None) -> bytes:
        with self._lock:
            self._open_session()
            try:
                return bytes(priv.sign(data, mechanism=mechanism, mechanism_param=param))
            except p11e.PKCS11Error as exc:
                raise KeystoreError(f"the token refused to sign: {type(exc).__name__}") from None


def _ec_public_key(pub: Any) -> ec.EllipticCurvePublicKey:
    point = bytes(pub[Attribute.EC_POINT])
    if point[:1] == b"\x04" and len(point) != 65:  # DER OCTET STRING around the point (SoftHSM's form)
        point = point[2:] if point[1] < 0x80 else point[2 + (point[1] & 0x7F):]
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


class _Unextractable:
    """What token keys answer when asked for their secret parts."""

    def private_numbers(self) -> Any:
        raise KeystoreError("the private key stays on the token; it cannot be exported")

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise KeystoreError("the private key stays on the token; it cannot be exported")

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class HsmEcKey(_Unextractable, ec.EllipticCurvePrivateKey):
    """A P-256 key on a token, usable wherever cryptography's EC private key is used to sign."""

    def __init__(self, token: Token, priv: Any, public: ec.EllipticCurvePublicKey) -> None:
        self._token, self._priv, self._public = token, priv, public
        self.label: str = priv.label

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        raise KeystoreError("token keys here are for signing only")

    def sign(
        self, data: bytes | bytearray | memoryview, signature_algorithm: ec.EllipticCurveSignatureAlgorithm
    ) -> bytes:
        """ECDSA signature (DER, as cryptography returns it) over *data*, computed on the token."""
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise KeystoreError("a P-256 token key signs with ECDSA only")
        digest = _digest(data, signature_algorithm.algorithm)
        raw = self._token._sign(self._priv, digest, Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


class HsmRsaKey(_Unextractable, rsa.RSAPrivateKey):
    """An RSA key on a token that signs with PSS or PKCS#1 v1.5."""

    def __init__(self, token: Token, priv: Any, public: rsa.RSAPublicKey) -> None:
        self._token, self._priv, self._public = token, priv, public
        self.label: str = priv.label

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def decrypt(self, ciphertext: bytes, padding: Any) -> bytes:
        raise KeystoreError("token keys here are for signing only")

    def sign(self, data: bytes, padding_: padding.AsymmetricPadding, algorithm: Any) -> bytes:
        """RSA signature over *data* (hashed on the token) with PSS or PKCS#1 v1.5 padding."""
        if isinstance(algorithm, utils.Prehashed):
            raise KeystoreError("token RSA keys sign whole messages, not pre-hashed digests")
        name = algorithm.name
        if isinstance(padding_, padding.PSS):
            if name not in _PSS_MECHANISMS:
                raise KeystoreError(f"PSS with {name} is not supported on the token")
            mech, hash_mech, mgf = _PSS_MECHANISMS[name]
            salt = padding_._salt_length  # noqa: SLF001 - cryptography exposes no getter
            salt = salt if isinstance(salt, int) else algorithm.digest_size
            return self._token._sign(self._priv, data, mech, (hash_mech, mgf, salt))
        if isinstance(padding_, padding.PKCS1v15) and name in _PKCS1_MECHANISMS:
            return self._token._sign(self._priv, data, _PKCS1_MECHANISMS[name])
        raise KeystoreError(f"unsupported RSA padding {type(padding_).__name__} with {name}")


def _digest(data: bytes | bytearray | memoryview, algorithm: Any) -> bytes:
    if isinstance(algorithm, utils.Prehashed):
        return bytes(data)
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()
