"""Forged, altered, expired, foreign and revoked tokens at /userinfo and /introspect, and
revocation (RFC 7009) scoped to the portal that owns the token.

Every forgery is checked at both doors: /userinfo answers 401 invalid_token, /introspect
answers exactly {"active": false}.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from idp.models import Grant, RefreshToken, RevokedAccessToken
from idp.tokens import token_hash

from idp_helpers import Browser

ISSUER = "http://localhost"


# -- helpers -------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict, dict, bytes]:
    h, p, s = token.split(".")
    return json.loads(unb64url(h)), json.loads(unb64url(p)), unb64url(s)


def compact(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join((b64url(json.dumps(header, separators=(",", ":")).encode()),
                     b64url(json.dumps(payload, separators=(",", ":")).encode()), b64url(signature)))


def hs256(header: dict, payload: dict, key: bytes) -> str:
    signing_input = ".".join((b64url(json.dumps(header, separators=(",", ":")).encode()),
                              b64url(json.dumps(payload, separators=(",", ":")).encode())))
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def es256(header: dict, payload: dict, private_key) -> str:
    """Sign by hand (pyjwt refuses odd headers such as a non-string kid)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = ".".join((b64url(json.dumps(header, separators=(",", ":")).encode()),
                              b64url(json.dumps(payload, separators=(",", ":")).encode())))
    r, s = decode_dss_signature(private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def userinfo(client, token: str):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def introspect(client, portal, token: str, **extra):
    return client.post("/introspect", data={"token": token, **extra}, auth=(portal.client_id, portal.secret))


def revoke(client, portal, token: str, **extra):
    return client.post("/revoke", data={"token": token, **extra}, auth=(portal.client_id, portal.secret))


def assert_refused(browser: Browser, portal, token: str) -> None:
    info = userinfo(browser.client, token)
    assert info.status_code == 401, (info.status_code, info.json)
    assert info.json["error"] in ("invalid_token", "invalid_request")
    assert info.headers["WWW-Authenticate"].startswith("Bearer")
    assert "sub" not in info.json
    resp = introspect(browser.client, portal, token)
    assert resp.status_code == 200
    assert resp.json == {"active": False}


def assert_accepted(browser: Browser, portal, token: str) -> None:
    info = userinfo(browser.client, token)
    assert info.status_code == 200, info.json
    resp = introspect(browser.client, portal, token)
    assert resp.json["active"] is True


@pytest.fixture()
def issued(browser, portal, account) -> dict:
    """A real token response for `portal` (ES256 access token)."""
    body = browser.tokens_for(portal, account)
    assert_accepted(browser, portal, body["access_token"])  # control: the genuine token works
    return body


def active_key(svc, alg: str):
    return svc.keys.active(alg)


def public_forms(key) -> dict[str, bytes]:
    """Ways an attacker might spell our public key as an HMAC secret."""
    pem = key.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = key.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "pem": pem,
        "pem_stripped": pem.strip(),
        "der": der,
        "jwk_compact": json.dumps(key.jwk, separators=(",", ":")).encode(),
        "jwk_default": json.dumps(key.jwk).encode(),
        "jwk_sorted": json.dumps(key.jwk, sort_keys=True, separators=(",", ":")).encode(),
    }


# -- altered signatures and payloads ---------------------------------------------------------

def test_flipped_signature_byte(browser, portal, issued):
    header, payload, sig = parts(issued["access_token"])
    h, p, _ = issued["access_token"].split(".")
    for i in (0, len(sig) // 2, len(sig) - 1):
        flipped = bytearray(sig)
        flipped[i] ^= 0x01
        assert_refused(browser, portal, f"{h}.{p}.{b64url(bytes(flipped))}")


def test_truncated_and_missing_signature(browser, portal, issued):
    h, p, s = issued["access_token"].split(".")
    for token in (f"{h}.{p}.", f"{h}.{p}.{s[:-4]}", f"{h}.{p}", f"{h}.{p}.{s}.{s}"):
        assert_refused(browser, portal, token)


@pytest.mark.parametrize("change", [{"sub": "1000000000"}, {"scope": "openid profile email pinfl passport"},
                                    {"exp": 4102444800}, {"client_id": "yg-other"}, {"gid": "0" * 32}])
def test_payload_changed_under_genuine_signature(browser, portal, issued, change):
    header, payload, sig = parts(issued["access_token"])
    h, _, s = issued["access_token"].split(".")
    forged_payload = b64url(json.dumps({**payload, **change}, separators=(",", ":")).encode())
    assert_refused(browser, portal, f"{h}.{forged_payload}.{s}")


def test_header_changed_under_genuine_signature(browser, portal, issued, svc):
    header, payload, sig = parts(issued["access_token"])
    _, p, s = issued["access_token"].split(".")
    rs_kid = active_key(svc, "RS256").kid
    for change in ({"kid": rs_kid}, {"alg": "RS256"}, {"alg": "ES384"}, {"typ": "JWT"}):
        h = b64url(json.dumps({**header, **change}, separators=(",", ":")).encode())
        assert_refused(browser, portal, f"{h}.{p}.{s}")


# -- alg: none and algorithm confusion -------------------------------------------------------------

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none(browser, portal, issued, alg):
    header, payload, sig = parts(issued["access_token"])
    forged = {**header, "alg": alg}
    assert_refused(browser, portal, compact(forged, payload))
    assert_refused(browser, portal, compact(forged, payload, sig))  # with the old signature kept
    no_kid = {k: v for k, v in forged.items() if k != "kid"}
    assert_refused(browser, portal, compact(no_kid, payload))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
@pytest.mark.parametrize("form", ["pem", "pem_stripped", "der", "jwk_compact", "jwk_default", "jwk_sorted"])
@pytest.mark.parametrize("hmac_alg", ["HS256"])
def test_hs256_signed_with_our_public_key(browser, portal, issued, svc, alg, form, hmac_alg):
    key = active_key(svc, alg)
    header, payload, _ = parts(issued["access_token"])
    forged_header = {"alg": hmac_alg, "typ": header["typ"], "kid": key.kid}
    secret = public_forms(key)[form]
    # control: the forgery is a well-formed HS256 token that a naive verifier would accept
    assert jwt.decode(hs256(forged_header, payload, b"k" * 32), b"k" * 32, algorithms=["HS256"],
                      options={"verify_aud": False})["jti"] == payload["jti"]
    token = hs256(forged_header, {**payload, "sub": "1000000001"}, secret)
    assert_refused(browser, portal, token)
    token = hs256(forged_header, payload, secret)  # even the genuine claims under an HMAC are refused
    assert_refused(browser, portal, token)


def test_hs256_with_published_jwks_key(browser, portal, issued):
    """The key as an attacker reads it from /jwks, kid included."""
    disco = browser.get("/.well-known/openid-configuration").json
    jwks = browser.get(disco["jwks_uri"].replace(ISSUER, "")).json
    header, payload, _ = parts(issued["access_token"])
    assert jwks["keys"], jwks
    for k in jwks["keys"]:
        for secret in (json.dumps(k).encode(), json.dumps(k, separators=(",", ":")).encode()):
            assert_refused(browser, portal, hs256({"alg": "HS256", "typ": "at+jwt", "kid": k["kid"]}, payload, secret))


def test_rs256_token_naming_our_es256_kid(browser, portal, issued, svc):
    """Right kid, wrong algorithm: signed by our own RS256 key but claiming the ES256 key id."""
    es, rs = active_key(svc, "ES256"), active_key(svc, "RS256")
    _, payload, _ = parts(issued["access_token"])
    token = jwt.encode(payload, rs.private, algorithm="RS256", headers={"kid": es.kid, "typ": "at+jwt"})
    assert_refused(browser, portal, token)


def test_embedded_jwk_and_jku_headers_ignored(browser, portal, issued, svc):
    attacker = ec.generate_private_key(ec.SECP256R1())
    attacker_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    _, payload, _ = parts(issued["access_token"])
    kid = active_key(svc, "ES256").kid
    for extra in ({"jwk": attacker_jwk}, {"jku": "https://evil.example/jwks.json"}, {"x5u": "https://evil.example/c"}):
        token = jwt.encode(payload, attacker, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt", **extra})
        assert_refused(browser, portal, token)


# -- keys we do not have, expiry, wrong claims -------------------------------------------------------

def test_unknown_kid(browser, portal, issued, svc):
    header, payload, _ = parts(issued["access_token"])
    # control: the hand signer makes tokens we accept when it holds our key
    assert_accepted(browser, portal, es256(header, payload, active_key(svc, "ES256").private))
    attacker = ec.generate_private_key(ec.SECP256R1())
    for kid in ("unknown-kid", "", None, 123, ["x"], {"kid": "x"}):
        header = {"alg": "ES256", "typ": "at+jwt"}
        if kid is not None:
            header["kid"] = kid
        assert_refused(browser, portal, es256(header, payload, attacker))


def test_our_kid_but_another_key(browser, portal, issued, svc):
    _, payload, _ = parts(issued["access_token"])
    for alg, priv in (("ES256", ec.generate_private_key(ec.SECP256R1())),
                      ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))):
        kid = active_key(svc, alg).kid
        assert_refused(browser, portal, jwt.encode(payload, priv, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"}))


def test_expired_token(browser, portal, issued, svc):
    _, payload, _ = parts(issued["access_token"])
    now = int(time.time())
    expired = svc.keys.sign({**payload, "iat": now - 4000, "exp": now - 3600}, typ="at+jwt")
    assert_refused(browser, portal, expired)


@pytest.mark.parametrize("change", [{"iss": "https://evil.example"}, {"aud": "yg-someone"}, {"aud": None},
                                    {"iss": None}, {"exp": None}, {"gid": None}, {"jti": None}])
def test_our_signature_on_wrong_claims(browser, portal, issued, svc, change):
    _, payload, _ = parts(issued["access_token"])
    claims = {k: v for k, v in {**payload, **change}.items() if v is not None}
    assert_refused(browser, portal, svc.keys.sign(claims, typ="at+jwt"))


def test_our_signature_with_wrong_typ(browser, portal, issued, svc):
    _, payload, _ = parts(issued["access_token"])
    for typ in ("JWT", "id+jwt", "logout+jwt"):
        assert_refused(browser, portal, svc.keys.sign(payload, typ=typ))


def test_id_token_used_as_access_token(browser, portal, issued):
    header, claims, _ = parts(issued["id_token"])
    assert header["typ"] == "JWT" and claims["aud"] == portal.client_id
    assert_refused(browser, portal, issued["id_token"])


def test_refresh_token_used_as_access_token(browser, portal, issued):
    info = userinfo(browser.client, issued["refresh_token"])
    assert info.status_code == 401


@pytest.mark.parametrize("garbage", [
    "garbage", "a.b.c", "..", "...", "e30.e30.e30", "eyJhbGciOiJFUzI1NiJ9.e30.", "\u0430\u0431\u0432.\u0433.\u0434",
    "x" * 9000, "Bearer", "null", "{}", "%00", "eyJ" + "A" * 40 + ".eyJ.",
])
def test_garbage_tokens(browser, portal, garbage):
    info = userinfo(browser.client, garbage)
    assert info.status_code == 401, info.get_data(as_text=True)[:200]
    resp = introspect(browser.client, portal, garbage)
    assert resp.status_code == 200 and resp.json == {"active": False}


def test_no_bearer_token(browser):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}, {"Authorization": "Token x"}):
        info = browser.get("/userinfo", headers=headers)
        assert info.status_code == 401 and info.json["error"] in ("invalid_request", "invalid_token")
        assert info.headers["WWW-Authenticate"].startswith("Bearer")


# -- revocation (RFC 7009) ---------------------------------------------------------------------

def test_revoke_access_token(browser, portal, issued, svc):
    resp = revoke(browser.client, portal, issued["access_token"], token_type_hint="access_token")
    assert resp.status_code == 200 and resp.json == {}
    assert_refused(browser, portal, issued["access_token"])
    jti = parts(issued["access_token"])[1]["jti"]
    with svc.db.session() as s:
        assert s.get(RevokedAccessToken, jti) is not None
    # revoking it again, or without a hint, is still 200 and changes nothing else
    assert revoke(browser.client, portal, issued["access_token"]).status_code == 200


def test_revoke_access_token_without_hint(browser, portal, issued):
    assert revoke(browser.client, portal, issued["access_token"]).status_code == 200
    assert_refused(browser, portal, issued["access_token"])


def test_revoke_refresh_token_revokes_its_grant(browser, portal, issued, svc):
    resp = revoke(browser.client, portal, issued["refresh_token"], token_type_hint="refresh_token")
    assert resp.status_code == 200 and resp.json == {}
    refreshed = browser.token(portal, {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    assert_refused(browser, portal, issued["access_token"])
    assert introspect(browser.client, portal, issued["refresh_token"]).json == {"active": False}
    with svc.db.session() as s:
        rt = s.get(RefreshToken, token_hash(issued["refresh_token"]))
        grant = s.get(Grant, rt.grant_id)
        assert grant.revoked_at is not None and grant.revoked_reason == "revoked_by_client"


def test_revoke_refresh_token_with_wrong_hint_still_works(browser, portal, issued):
    assert revoke(browser.client, portal, issued["refresh_token"], token_type_hint="access_token").status_code == 200
    assert introspect(browser.client, portal, issued["refresh_token"]).json == {"active": False}


def test_revoke_unknown_token_is_200(browser, portal):
    for token in ("nope", "a.b.c", "x" * 600):
        resp = revoke(browser.client, portal, token)
        assert resp.status_code == 200 and resp.json == {}


def test_revoke_needs_client_authentication(browser, portal, issued):
    resp = browser.client.post("/revoke", data={"token": issued["access_token"]})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
    resp = browser.client.post("/revoke", data={"token": issued["access_token"]}, auth=(portal.client_id, "wrong"))
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
    assert_accepted(browser, portal, issued["access_token"])


def test_revoke_missing_token_is_invalid_request(browser, portal):
    resp = browser.client.post("/revoke", data={}, auth=(portal.client_id, portal.secret))
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


def test_introspect_needs_client_authentication(browser, portal, issued):
    resp = browser.client.post("/introspect", data={"token": issued["access_token"]})
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"
    assert "active" not in resp.json


def test_introspect_genuine_tokens(browser, portal, issued, account):
    at = introspect(browser.client, portal, issued["access_token"]).json
    assert at["active"] is True and at["sub"] == account.public_id and at["client_id"] == portal.client_id
    assert at["scope"] == issued["scope"] and at["iss"] == ISSUER
    rt = introspect(browser.client, portal, issued["refresh_token"]).json
    assert rt["active"] is True and rt["token_type"] == "refresh_token" and rt["sub"] == account.public_id


# -- another portal's tokens --------------------------------------------------------------------------

def test_introspection_of_another_portals_token_is_inactive(browser, make_portal, account):
    owner, other = make_portal(), make_portal()
    body = browser.tokens_for(owner, account)
    for token in (body["access_token"], body["refresh_token"], body["id_token"]):
        resp = introspect(browser.client, other, token)
        assert resp.status_code == 200 and resp.json == {"active": False}
    assert introspect(browser.client, owner, body["access_token"]).json["active"] is True


def test_revoke_of_another_portals_token_changes_nothing(browser, make_portal, account, svc):
    owner, other = make_portal(), make_portal()
    body = browser.tokens_for(owner, account)
    for token, hint in ((body["access_token"], "access_token"), (body["refresh_token"], "refresh_token"),
                        (body["access_token"], None), (body["refresh_token"], None)):
        extra = {"token_type_hint": hint} if hint else {}
        resp = revoke(browser.client, other, token, **extra)
        assert resp.status_code == 200 and resp.json == {}
    assert_accepted(browser, owner, body["access_token"])
    assert introspect(browser.client, owner, body["refresh_token"]).json["active"] is True
    jti = parts(body["access_token"])[1]["jti"]
    with svc.db.session() as s:
        assert s.get(RevokedAccessToken, jti) is None
        assert s.scalar(select(Grant.revoked_at).where(Grant.client_id == owner.client_id)) is None
    refreshed = browser.token(owner, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200
