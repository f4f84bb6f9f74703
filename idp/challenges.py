"""The e-signature login's challenge and response, as e-imzo-server has it.

The service issues a random challenge (`issue`), shown as base64 text; the citizen signs exactly that
text as an ATTACHED CMS with their key (`imzo sign` on a file holding it, `openssl cms -sign
-nodetach`, or the local agent), and `verify` checks the answer: it carries one of our live challenges
for this login, the signature holds, the certificate chains to the service's CA and is not revoked
(`idp.ca_service.validator`: TOTAL-PASSED or nothing), and its subject names a PINFL. Who signed is
the PINFL in the certificate, and with an employee certificate the organisation's TIN.

A challenge is bound to one login (the caller's interaction or browser value), lives 120 seconds and
is answered once; only hashes of the challenge and of the binding are stored. No Flask here: the
login method's pages call these.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from signing import der, encoding, oids
from signing.ca_http import CAServices
from signing.report import SignerReport, SubIndication

from . import ca_service
from .db import rowcount
from .errors import UserError
from .models import SignatureChallenge, utcnow

#: 256 random bits: a challenge can be neither guessed nor prepared before it is issued (replay of
#: an old signature, or a signature made earlier for another purpose, can never match one).
CHALLENGE_BYTES = 32
#: e-imzo-server's challenge lifetime: long enough to sign with `imzo` by hand, short enough that a
#: signed challenge left on a screen or in a download folder is useless soon.
LIFETIME = dt.timedelta(seconds=120)
#: Spent and expired challenges are kept this long (so a late answer still hears "expired", not
#: "not ours"), then `prune` deletes them.
FORGET_AFTER = dt.timedelta(days=1)
#: A login answer carries a 44-byte challenge and a certificate chain; anything bigger is refused
#: unread, so an upload cannot make the service parse megabytes (memory exhaustion).
MAX_SIGNATURE_BYTES = 64 * 1024
MAX_BINDING_CHARS = 512
_CHALLENGE_TEXT_CHARS = len(base64.b64encode(bytes(CHALLENGE_BYTES)))
_PINFL = re.compile(r"[0-9]{14}")
_TIN = re.compile(r"[0-9]{9}")


class Refusal(str, Enum):
    """Why an answer was refused; `esign_<value>` is the page's message id (idp/i18n.py)."""

    MALFORMED = "malformed"  #: not a CMS signature in DER, PEM or base64
    DETACHED = "detached"  #: the challenge is not inside the signature
    NOT_OURS = "not_ours"  #: the signed content is no challenge issued to this login
    EXPIRED = "expired"
    USED = "used"
    INVALID = "invalid"  #: signature mathematics, format, key usage, or more than one signer
    REVOKED = "revoked"
    CERTIFICATE_EXPIRED = "certificate_expired"  #: outside the certificate's validity
    UNTRUSTED = "untrusted"  #: no path to the service's CA
    TRY_LATER = "try_later"  #: revocation status cannot be learned now
    NO_PINFL = "no_pinfl"  #: the certificate names no (single, 14-digit) PINFL


class ChallengeError(UserError):
    """An answer refused: `refusal` says why, `key` is the page message, `detail` is for the log."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"esign_{refusal.value}")
        self.refusal = refusal
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.refusal.value}: {self.detail}"


@dataclass(frozen=True)
class SignedLogin:
    """Who answered a challenge, from the certificate's subject (RFC 5280 attributes, PINFL and TIN
    under the national arc 1.2.860.3.16.1.*)."""

    pinfl: str
    tin: str | None  #: the organisation's TIN: an employee certificate
    last_name: str | None  #: SURNAME
    first_name: str | None  #: GIVENNAME
    common_name: str | None  #: CN
    organisation: str | None  #: O
    title: str | None  #: T, the employee's role
    fingerprint: str  #: SHA-256 of the certificate's DER, hex
    report: SignerReport


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _binding_hash(binding: str) -> str:
    if not isinstance(binding, str) or not 0 < len(binding) <= MAX_BINDING_CHARS:
        raise ValueError(f"a challenge's binding is the login's text value of 1..{MAX_BINDING_CHARS} characters")
    return _hash(binding)


def issue(s: Session, binding: str, *, now: dt.datetime | None = None) -> str:
    """A new challenge for the login *binding* names (an interaction id, a browser value only that
    browser has), as base64 text to show with a copy button; the caller commits. Each call makes a
    new one: route limits (per IP) bound how many a client can ask for, and `prune` clears them."""
    bound = _binding_hash(binding)
    now = now or utcnow()
    challenge = base64.b64encode(secrets.token_bytes(CHALLENGE_BYTES)).decode("ascii")
    s.add(SignatureChallenge(challenge_hash=_hash(challenge), binding_hash=bound, created_at=now,
                             expires_at=now + LIFETIME))
    s.flush()
    return challenge


def verify(s: Session, binding: str, signature_blob: bytes, services: CAServices) -> SignedLogin:
    """Check an answer to a challenge issued to *binding*; the SignedLogin, or ChallengeError.

    *signature_blob* is the CMS as uploaded or pasted: DER, PEM or base64 (`signing.encoding`).
    The challenge is spent (committed at once, by one conditional UPDATE, so of racing answers exactly
    one goes on) before the signature is validated, and stays spent whatever the validation says: a
    challenge is answered once, so it cannot be used to try one key after another. Answers that name
    none of this login's live challenges (malformed, detached, another content, another login's) spend
    nothing.
    """
    bound = _binding_hash(binding)
    try:
        blob = encoding.signature_der(signature_blob, max_bytes=MAX_SIGNATURE_BYTES)
        signed = der.read_signed_data(blob, max_bytes=MAX_SIGNATURE_BYTES)
    except der.MalformedSignature as exc:
        raise ChallengeError(Refusal.MALFORMED, str(exc)) from None
    content = signed.content
    if content is None:
        raise ChallengeError(Refusal.DETACHED, "the signature does not carry the challenge; sign it attached "
                                               "(imzo sign without --detached, openssl cms -sign -nodetach)")
    if len(signed.signer_infos) != 1:
        raise ChallengeError(Refusal.INVALID, f"the signature has {len(signed.signer_infos)} signers; "
                                              "sign the challenge with your key alone")
    row = _challenge_for(s, content, bound)
    now = utcnow()
    if row.used_at is not None:
        raise ChallengeError(Refusal.USED, "this challenge was answered already; ask for a new one")
    if row.expires_at <= now:
        raise ChallengeError(Refusal.EXPIRED, "the challenge expired; ask for a new one and sign it within "
                                              f"{int(LIFETIME.total_seconds())} seconds")
    _spend(s, row.challenge_hash, bound, now)
    report = ca_service.validator(services).validate(blob)
    return _signed_login(report.signers[0] if report.signers else None, report.errors, signed)


def prune(s: Session, now: dt.datetime | None = None) -> int:
    """Delete challenges expired over FORGET_AFTER ago (for `yagona db prune`); return how many."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    return rowcount(s.execute(delete(SignatureChallenge).where(SignatureChallenge.expires_at < cutoff)))


# ------------------------------------------------------------------------------------------------
def _challenge_for(s: Session, content: bytes, bound: str) -> SignatureChallenge:
    """This login's challenge whose text is exactly *content*, or NOT_OURS.

    Found by its SHA-256, as codes and refresh tokens are: lookup timing can tell only about hash
    prefixes, never the challenge. The binding is compared in constant time."""
    not_ours = ChallengeError(Refusal.NOT_OURS, "the signed text is not a challenge issued to this login; "
                                                "sign the challenge shown exactly, without a line break")
    if len(content) != _CHALLENGE_TEXT_CHARS:
        raise not_ours
    row = s.execute(select(SignatureChallenge).where(
        SignatureChallenge.challenge_hash == hashlib.sha256(content).hexdigest())
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.binding_hash, bound):
        raise not_ours
    return row


def _spend(s: Session, challenge_hash: str, bound: str, now: dt.datetime) -> None:
    won = rowcount(s.execute(
        update(SignatureChallenge)
        .where(SignatureChallenge.challenge_hash == challenge_hash, SignatureChallenge.binding_hash == bound,
               SignatureChallenge.used_at.is_(None), SignatureChallenge.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ))
    s.commit()  # spent even if the validation below refuses: one answer per challenge
    if not won:  # a racing answer spent it between our read and this write (or it just expired)
        raise ChallengeError(Refusal.USED, "this challenge was answered already; ask for a new one")


#: ETSI EN 319 102-1 sub-indications -> what the person is told
_REFUSALS = {
    SubIndication.REVOKED: Refusal.REVOKED,
    SubIndication.REVOKED_NO_POE: Refusal.REVOKED,
    SubIndication.REVOKED_CA_NO_POE: Refusal.REVOKED,
    SubIndication.EXPIRED: Refusal.CERTIFICATE_EXPIRED,
    SubIndication.NOT_YET_VALID: Refusal.CERTIFICATE_EXPIRED,
    SubIndication.OUT_OF_BOUNDS_NO_POE: Refusal.CERTIFICATE_EXPIRED,
    SubIndication.TRY_LATER: Refusal.TRY_LATER,
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: Refusal.UNTRUSTED,
    SubIndication.CHAIN_CONSTRAINTS_FAILURE: Refusal.UNTRUSTED,
    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE: Refusal.UNTRUSTED,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE: Refusal.UNTRUSTED,
}


def _signed_login(signer: SignerReport | None, errors: list[str], signed: der.SignedDataView) -> SignedLogin:
    if signer is None:
        raise ChallengeError(Refusal.INVALID, "; ".join(errors) or "the signature has no signer")
    if not signer.passed:
        refusal = _REFUSALS.get(signer.sub_indication, Refusal.INVALID) if signer.sub_indication else Refusal.INVALID
        raise ChallengeError(refusal, "; ".join(signer.errors) or str(signer.indication.value))
    signer_hash = signer.chain[0].sha256 if signer.chain else None
    carried = [c for c in signed.certificates if hashlib.sha256(c).hexdigest() == signer_hash]
    if not carried:
        raise ChallengeError(Refusal.INVALID, "the signature does not carry its signer's certificate")
    fingerprint = hashlib.sha256(carried[0]).hexdigest()
    subject = x509.load_der_x509_certificate(carried[0]).subject
    pinfl = _single(subject, oids.PINFL)
    if pinfl is None or not _PINFL.fullmatch(pinfl):
        raise ChallengeError(Refusal.NO_PINFL, "the certificate names no 14-digit PINFL (1.2.860.3.16.1.2); "
                                               "log in with a citizen's or an employee's certificate")
    tin = _single(subject, oids.TIN)
    if tin is not None and not _TIN.fullmatch(tin):
        raise ChallengeError(Refusal.INVALID, "the certificate's TIN (1.2.860.3.16.1.1) is not 9 digits")
    return SignedLogin(
        pinfl=pinfl, tin=tin, last_name=_single(subject, NameOID.SURNAME),
        first_name=_single(subject, NameOID.GIVEN_NAME), common_name=_single(subject, NameOID.COMMON_NAME),
        organisation=_single(subject, NameOID.ORGANIZATION_NAME), title=_single(subject, NameOID.TITLE),
        fingerprint=fingerprint, report=signer,
    )


def _single(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    """The attribute's one value; a subject naming it twice is refused (which one would be meant?)."""
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    if len(values) > 1:
        raise ChallengeError(Refusal.INVALID, f"the certificate's subject names {oid.dotted_string} "
                                              f"{len(values)} times")
    value = values[0].value
    return value if isinstance(value, str) else None
