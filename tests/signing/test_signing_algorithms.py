"""The algorithm registry refuses a key of another kind with a readable error, not a stray TypeError."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing import algorithms


@pytest.mark.parametrize("alg", [algorithms.ED25519, algorithms.RSA_PSS_3072], ids=lambda a: a.name)
def test_sign_with_a_key_of_another_algorithm_is_refused(alg: algorithms.Algorithm) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(algorithms.UnknownAlgorithm, match=f"^{alg.name} cannot use a "):
        alg.sign(key, b"appeal")


def test_verify_with_a_key_of_another_algorithm_is_refused() -> None:
    pub = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(algorithms.UnknownAlgorithm, match="^ecdsa-p256 cannot use a "):
        algorithms.ECDSA_P256.verify(pub, b"\x30\x00", b"appeal")


def test_each_registered_algorithm_signs_and_verifies_its_own_keys() -> None:
    for alg in algorithms.REGISTRY.values():
        key = alg.generate()
        assert alg.matches(key)
        alg.verify(key.public_key(), alg.sign(key, b"appeal"), b"appeal")
