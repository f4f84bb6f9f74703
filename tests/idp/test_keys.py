"""Token-signing keys: encrypted at rest, rotated with a grace period, refused when unusable."""
from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import select

from idp.keys import KeyRing, TokenError
from idp.models import SigningKey, utcnow


def test_keys_are_stored_encrypted(svc):
    with svc.db.session() as s:
        rows = s.scalars(select(SigningKey)).all()
    assert rows
    for row in rows:
        assert b"PRIVATE KEY" not in row.pfx
        assert row.pfx[:1] == b"\x30"  # DER PKCS#12, opened only with the instance secret


def test_rotation_keeps_old_key_until_grace_ends(svc):
    ring: KeyRing = svc.keys
    old = ring.active("ES256").kid
    token = ring.sign({"iss": "x", "iat": 1, "exp": 2**31})
    new = ring.rotate("ES256")
    assert new != old and ring.active("ES256").kid == new
    kids = {k["kid"] for k in ring.jwks()["keys"]}
    assert {old, new} <= kids
    assert ring.verify(token, typ="JWT")["iss"] == "x"  # tokens signed before rotation still verify
    with svc.db.session() as s:  # the grace period ends
        s.get(SigningKey, old).publish_until = utcnow() - dt.timedelta(seconds=1)
    ring._loaded_at = 0.0
    assert old not in {k["kid"] for k in ring.jwks()["keys"]}
    with pytest.raises(TokenError, match="unknown key"):
        ring.verify(token, typ="JWT")


def test_wrong_instance_secret_refuses_to_start(svc):
    stranger = KeyRing(svc.db, secrets.token_hex(32).encode(), 3600)
    with pytest.raises(RuntimeError, match="YAGONA_SECRET_KEY"):
        stranger.ensure()


def test_weaker_than_owasp_argon2_is_refused():
    from idp.passwords import Passwords

    with pytest.raises(ValueError, match="weaker than every OWASP setting"):
        Passwords(memory_kib=4096, time_cost=3, parallelism=1)
    Passwords(memory_kib=7168, time_cost=5, parallelism=1)  # the default row is accepted


def test_a_key_rotated_by_another_worker_is_accepted_at_once(svc):
    """Worker B rotates and signs; worker A, whose cache is fresh, must not refuse B's token."""
    worker_a = svc.keys
    worker_a.jwks()  # A's cache is warm
    worker_b = KeyRing(svc.db, svc.settings.secret_key, 3600)
    worker_b.rotate("ES256")
    token = worker_b.sign({"iss": "x", "iat": 1, "exp": 2**31})
    import time

    time.sleep(1.1)  # A looks again at most once a second for an unknown kid
    assert worker_a.verify(token, typ="JWT")["iss"] == "x"
