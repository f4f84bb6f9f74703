"""The TSA check in signing/tsa.py uses the one path validator, so it is as strict as signature validation."""
from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from signing_pki import TestTSA, _ku
from test_path import UNKNOWN, leaf, make

from signing import cms
from signing.tsa import TimestampError, verify_timestamp_token
from signing.validate import Validator

DIGEST = hashlib.sha256(b"hujjat").digest()


def _tsa(issuer, *, critical: bool = True, **kw):
    node = leaf(issuer, "Test TSA", ku=_ku(digital_signature=True),
                extra=((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical),), **kw)
    from signing_pki import Party

    return TestTSA(Party(node.key, node.cert, [issuer.cert]))


def test_a_tsa_whose_timestamping_usage_is_not_critical_is_refused():
    """RFC 3161 §2.3: the extended key usage of a TSA certificate MUST be critical."""
    root = make("Root")
    good = _tsa(root)
    assert verify_timestamp_token(good(DIGEST), DIGEST, [root.cert]).policy
    lax = _tsa(root, critical=False)
    with pytest.raises(TimestampError, match="critical"):
        verify_timestamp_token(lax(DIGEST), DIGEST, [root.cert])


def test_the_tsa_chain_gets_the_full_path_checks():
    root = make("Root")
    odd = make("ICA", root, extra=((x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True),))
    tsa = _tsa(odd)
    with pytest.raises(TimestampError, match="critical extension"):
        verify_timestamp_token(tsa(DIGEST), DIGEST, [root.cert], intermediates=[odd.cert])
    weak_root = make("Root2", key=ec.generate_private_key(ec.SECP192R1()))
    with pytest.raises(TimestampError, match="key"):
        verify_timestamp_token(_tsa(weak_root)(DIGEST), DIGEST, [weak_root.cert])


def test_validator_and_tsa_agree_on_a_timestamp():
    """The same token is judged the same way by the signature validator's timestamp check."""
    root = make("Root")
    lax = _tsa(root, critical=False)
    signer = leaf(root)
    sig, _ = cms.add_timestamp(cms.sign(b"doc", cms.Signer(signer.key, signer.cert), detached=True), lax)
    rep = Validator([root.cert], require_revocation=False).validate(sig, b"doc").signers[0]
    assert rep.timestamp is not None and not rep.timestamp.valid
    assert "critical" in rep.timestamp.message
