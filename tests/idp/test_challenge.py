"""The e-signature login's challenge: issued random and bound to one login, signed as an attached CMS
by a certificate of the service's CA (our CMS code, `imzo sign`, `openssl cms -sign` PEM), checked
with the in-process validator, answered once; and every refusal, each with its own reason and
leaving nothing changed that it should not."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import threading

import pytest
from sqlalchemy import select

from ca_helpers import make_csr
from esign_helpers import EsignCA, Holder
from idp import challenges
from idp.challenges import ChallengeError, Refusal, SignedLogin
from idp.models import SignatureChallenge, utcnow
from signing import cms, oids
from signing.report import Indication


@pytest.fixture(scope="module")
def esign(tmp_path_factory) -> EsignCA:
    return EsignCA.make(tmp_path_factory.mktemp("esign-ca"))


@pytest.fixture()
def binding() -> str:
    return secrets.token_urlsafe(24)


def issue(svc, binding: str, **kw) -> str:
    with svc.db.session() as s:
        return challenges.issue(s, binding, **kw)


def verify(svc, binding: str, blob: bytes, esign: EsignCA) -> SignedLogin:
    with svc.db.session() as s:
        return challenges.verify(s, binding, blob, esign.services)


def refusal(svc, binding: str, blob: bytes, esign: EsignCA) -> Refusal:
    with pytest.raises(ChallengeError) as caught:
        verify(svc, binding, blob, esign)
    assert caught.value.key == f"esign_{caught.value.refusal.value}"
    return caught.value.refusal


def stored(svc, challenge: str) -> SignatureChallenge | None:
    digest = hashlib.sha256(challenge.encode()).hexdigest()
    with svc.db.session() as s:
        return s.scalar(select(SignatureChallenge).where(SignatureChallenge.challenge_hash == digest))


# ------------------------------------------------------------------------------- issuing
def test_a_challenge_is_random_base64_stored_only_as_a_hash_and_lives_120_seconds(svc, binding):
    first, second = issue(svc, binding), issue(svc, binding)
    assert first != second
    assert len(base64.b64decode(first, validate=True)) >= 16  # at least 128 random bits
    row = stored(svc, first)
    assert row is not None and row.used_at is None
    assert row.expires_at - row.created_at == dt.timedelta(seconds=120)
    assert first not in (row.challenge_hash, row.binding_hash) and binding != row.binding_hash


@pytest.mark.parametrize("bad", ["", "x" * 513, None, b"bytes"])
def test_a_binding_must_be_given_as_text(svc, bad):
    with svc.db.session() as s, pytest.raises(ValueError):
        challenges.issue(s, bad)


# ------------------------------------------------------------------------------- signed three ways
def test_a_citizen_signs_the_challenge_with_our_cms_code(svc, esign, binding):
    citizen = esign.citizen(pinfl="32301940190066")
    challenge = issue(svc, binding)
    login = verify(svc, binding, citizen.sign(challenge), esign)
    assert login.pinfl == "32301940190066" and login.tin is None
    assert (login.last_name, login.first_name, login.common_name) == ("Valiyev", "Alisher", "Alisher Valiyev")
    assert login.organisation is None and login.title is None
    assert login.fingerprint == citizen.fingerprint
    assert login.report.indication is Indication.TOTAL_PASSED
    assert stored(svc, challenge).used_at is not None


def test_imzo_sign_on_a_file_holding_the_challenge_as_the_file_or_pasted_base64(svc, esign, binding, tmp_path):
    citizen = esign.citizen()
    challenge = issue(svc, binding)
    p7s = citizen.imzo_sign(challenge, tmp_path)
    assert verify(svc, binding, p7s, esign).pinfl == citizen.cert.subject.get_attributes_for_oid(oids.PINFL)[0].value
    challenge = issue(svc, binding)
    pasted = base64.encodebytes(citizen.imzo_sign(challenge, tmp_path))  # with line breaks, as a copy has
    assert verify(svc, binding, pasted, esign).fingerprint == citizen.fingerprint


def test_openssl_cms_sign_pem(svc, esign, binding, tmp_path):
    citizen = esign.citizen()
    challenge = issue(svc, binding)
    signed = citizen.openssl_sign(challenge, tmp_path)
    assert signed.startswith(b"-----BEGIN CMS-----")
    assert verify(svc, binding, signed, esign).fingerprint == citizen.fingerprint


def test_an_employee_certificate_gives_the_organisation(svc, esign, binding):
    employee = esign.employee(tin="300777132")
    login = verify(svc, binding, employee.sign(issue(svc, binding)), esign)
    assert (login.tin, login.organisation, login.title) == ("300777132", "Toshkent shahar hokimligi", "direktor")


# ------------------------------------------------------------------------------- refusals
def test_a_replayed_signature_is_refused(svc, esign, binding):
    citizen = esign.citizen()
    signed = citizen.sign(issue(svc, binding))
    verify(svc, binding, signed, esign)
    assert refusal(svc, binding, signed, esign) is Refusal.USED


def test_an_expired_challenge_is_refused_and_stays_unused(svc, esign, binding):
    challenge = issue(svc, binding, now=utcnow() - dt.timedelta(seconds=121))
    assert refusal(svc, binding, esign.citizen().sign(challenge), esign) is Refusal.EXPIRED
    assert stored(svc, challenge).used_at is None


def test_a_challenge_of_another_binding_is_not_ours_and_is_not_spent_by_it(svc, esign, binding):
    citizen = esign.citizen()
    challenge = issue(svc, binding)
    signed = citizen.sign(challenge)
    assert refusal(svc, secrets.token_urlsafe(24), signed, esign) is Refusal.NOT_OURS
    assert stored(svc, challenge).used_at is None
    assert verify(svc, binding, signed, esign).fingerprint == citizen.fingerprint  # its own login still can


def test_a_detached_signature_is_refused_and_the_challenge_stays_usable(svc, esign, binding, tmp_path):
    citizen = esign.citizen()
    challenge = issue(svc, binding)
    assert refusal(svc, binding, citizen.sign(challenge, detached=True), esign) is Refusal.DETACHED
    assert refusal(svc, binding, citizen.openssl_sign(challenge, tmp_path, detached=True), esign) is Refusal.DETACHED
    assert stored(svc, challenge).used_at is None
    assert verify(svc, binding, citizen.sign(challenge), esign).fingerprint == citizen.fingerprint


@pytest.mark.parametrize("content", [
    lambda ch: ch + "\n",  # `echo` into a file adds a line break: not exactly the challenge
    lambda ch: ch[:-2],
    lambda ch: ch.lower(),
    lambda ch: base64.b64decode(ch),  # the random bytes, not the text shown
    lambda ch: "Men 1000000 so'm qarz oldim",
])
def test_content_that_is_not_exactly_the_challenge_is_refused(svc, esign, binding, content):
    challenge = issue(svc, binding)
    assert refusal(svc, binding, esign.citizen().sign(content(challenge)), esign) is Refusal.NOT_OURS
    assert stored(svc, challenge).used_at is None


def test_a_revoked_certificate_is_refused(svc, esign, binding):
    citizen = esign.citizen()
    verify(svc, binding, citizen.sign(issue(svc, binding)), esign)
    esign.revoke(citizen)  # no new CRL: the in-process OCSP answer knows at once
    assert refusal(svc, binding, citizen.sign(issue(svc, binding)), esign) is Refusal.REVOKED


def test_an_expired_certificate_is_refused(svc, esign, binding):
    key, csr = make_csr(PINFL="32301940190066")
    expired = esign.authority.issue(csr, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=10), days=1)
    holder = Holder(key, expired, esign.chain())
    assert refusal(svc, binding, holder.sign(issue(svc, binding)), esign) is Refusal.CERTIFICATE_EXPIRED


def test_a_certificate_of_another_ca_is_untrusted(svc, esign, binding, tmp_path):
    stranger = EsignCA.make(tmp_path / "other").citizen()
    assert refusal(svc, binding, stranger.sign(issue(svc, binding)), esign) is Refusal.UNTRUSTED


def test_a_certificate_without_pinfl_is_refused(svc, esign, binding):
    holder = esign.without_pinfl()
    signed = holder.sign(issue(svc, binding))
    assert refusal(svc, binding, signed, esign) is Refusal.NO_PINFL


def test_a_tampered_signature_is_invalid(svc, esign, binding):
    signed = bytearray(esign.citizen().sign(issue(svc, binding)))
    signed[-5] ^= 0x01  # inside the signature value, the last field
    assert refusal(svc, binding, bytes(signed), esign) is Refusal.INVALID


def test_two_signers_are_refused_before_the_challenge_is_spent(svc, esign, binding):
    challenge = issue(svc, binding)
    both = cms.cosign(esign.citizen().sign(challenge), esign.citizen().signer())
    assert refusal(svc, binding, both, esign) is Refusal.INVALID
    assert stored(svc, challenge).used_at is None


@pytest.mark.parametrize("blob", [b"", b"not a signature", b"\x30\x03\x02\x01", b"A" * (1 << 20),
                                  b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"])
def test_what_is_not_a_signature_is_malformed(svc, esign, binding, blob):
    assert refusal(svc, binding, blob, esign) is Refusal.MALFORMED


def test_a_bad_answer_spends_the_challenge(svc, esign, binding):
    """One answer per challenge: a revoked certificate's try cannot be followed by another key's."""
    revoked, good = esign.citizen(), esign.citizen()
    esign.revoke(revoked)
    challenge = issue(svc, binding)
    assert refusal(svc, binding, revoked.sign(challenge), esign) is Refusal.REVOKED
    assert refusal(svc, binding, good.sign(challenge), esign) is Refusal.USED


def test_two_racing_verifications_of_one_challenge_one_wins(svc, esign, binding):
    signed = esign.citizen().sign(issue(svc, binding))
    barrier = threading.Barrier(4)
    results: list[object] = []

    def submit() -> None:
        with svc.db.session() as s:
            barrier.wait()
            try:
                results.append(challenges.verify(s, binding, signed, esign.services))
            except ChallengeError as exc:
                results.append(exc.refusal)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 4
    assert sum(isinstance(r, SignedLogin) for r in results) == 1
    assert sorted(r.value for r in results if isinstance(r, Refusal)) == ["used"] * 3


# ------------------------------------------------------------------------------- housekeeping
def test_prune_forgets_challenges_expired_a_day_ago(svc, binding):
    old = issue(svc, binding, now=utcnow() - dt.timedelta(days=2))
    fresh = issue(svc, binding)
    with svc.db.session() as s:
        assert challenges.prune(s) >= 1
    assert stored(svc, old) is None and stored(svc, fresh) is not None


def test_every_refusal_has_a_message_in_every_language():
    from idp.i18n import LANGS, MESSAGES

    for refusal in Refusal:
        texts = MESSAGES[f"esign_{refusal.value}"]
        assert set(texts) == set(LANGS) and all(texts.values()), refusal
