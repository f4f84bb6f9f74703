"""The validation report: ETSI EN 319 102-1 indications with E-IMZO-style signer details.

Grouping of sub-indications follows the DSS cookbook (EXPIRED and NOT_YET_VALID are TOTAL-FAILED:
the signature was proven to be made outside the certificate's validity), not pyHanko's, which puts
EXPIRED under INDETERMINATE. Everything serialises to plain JSON through `to_dict()`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Self


class Indication(str, Enum):
    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(str, Enum):
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"

    @property
    def indication(self) -> Indication:
        """The indication this sub-indication belongs to (DSS grouping)."""
        return Indication.TOTAL_FAILED if self in _FAILED else Indication.INDETERMINATE

    @property
    def urn(self) -> str:
        return f"urn:etsi:019102:subindication:{self.value}"


_FAILED = {
    SubIndication.FORMAT_FAILURE,
    SubIndication.HASH_FAILURE,
    SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.REVOKED,
    SubIndication.EXPIRED,
    SubIndication.NOT_YET_VALID,
}


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class CertificateSummary:
    subject: str
    issuer: str
    serial_number: str  #: hex
    not_before: datetime
    not_after: datetime
    sha256: str


@dataclass(frozen=True)
class RevocationSummary:
    subject: str
    status: str  #: "good", "revoked" or "unknown"
    source: str  #: "crl" or "ocsp"
    this_update: datetime | None = None
    next_update: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass
class TimestampSummary:
    valid: bool
    time: datetime | None = None
    tsa: str | None = None
    hash_algorithm: str | None = None
    message: str | None = None
    chain: list[CertificateSummary] = field(default_factory=list)


class _Outcome:
    """What a signer's and a certificate path's reports share: the verdict and how it is failed."""

    indication: Indication
    sub_indication: SubIndication | None
    errors: list[str]

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def fail(self, sub: SubIndication, message: str) -> Self:
        """Record a failure; the sub-indication decides the indication."""
        self.indication = sub.indication
        self.sub_indication = sub
        self.errors.append(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(asdict(self))  # type: ignore[call-overload]  # subclasses are dataclasses
        return plain


@dataclass
class SignerReport(_Outcome):
    """One signer's result and who they are."""

    index: int
    indication: Indication
    sub_indication: SubIndication | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signature_format: str = "CMS"  #: "CAdES-BASELINE-B", "CAdES-BASELINE-T" or plain "CMS"
    name: str | None = None
    pinfl: str | None = None
    tin: str | None = None
    organisation: str | None = None
    subject: str | None = None
    issuer: str | None = None
    serial_number: str | None = None
    signing_time: datetime | None = None  #: claimed by the signer (signing-time attribute)
    timestamp_time: datetime | None = None  #: proven by a valid signature timestamp
    best_signature_time: datetime | None = None
    digest_algorithm: str | None = None
    signature_algorithm: str | None = None
    verified: bool = False  #: digest and signature mathematics hold
    certificate_verified: bool = False  #: path to a trust anchor, constraints and revocation hold
    certificate_valid_at_signing_time: bool | None = None
    chain: list[CertificateSummary] = field(default_factory=list)
    revocation: list[RevocationSummary] = field(default_factory=list)
    timestamp: TimestampSummary | None = None



@dataclass
class PathReport(_Outcome):
    """One certificate's path validation (RFC 5280 §6, validity, revocation): `signing.path.validate_path`."""

    indication: Indication
    validation_time: datetime
    sub_indication: SubIndication | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    subject: str | None = None
    chain: list[CertificateSummary] = field(default_factory=list)  #: the certificate first, trust anchor last
    revocation: list[RevocationSummary] = field(default_factory=list)



@dataclass
class ValidationReport:
    """The whole signature: overall result, then one SignerReport per signer."""

    indication: Indication
    sub_indication: SubIndication | None
    validation_time: datetime
    signers: list[SignerReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    detached: bool | None = None
    content_size: int | None = None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    @property
    def signatures_count(self) -> int:
        return len(self.signers)

    @property
    def valid_signatures_count(self) -> int:
        return sum(1 for s in self.signers if s.passed)

    @classmethod
    def of(cls, signers: list[SignerReport], validation_time: datetime, **kw: Any) -> "ValidationReport":
        """Overall result: TOTAL-PASSED only if every signer passed; else the worst signer's result."""
        worst = next((s for s in signers if s.indication is Indication.TOTAL_FAILED), None) or next(
            (s for s in signers if s.indication is Indication.INDETERMINATE), None
        )
        if worst is None:
            return cls(Indication.TOTAL_PASSED, None, validation_time, signers, **kw)
        return cls(worst.indication, worst.sub_indication, validation_time, signers, **kw)

    @classmethod
    def format_failure(cls, message: str, validation_time: datetime) -> "ValidationReport":
        return cls(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, validation_time, [], [message])

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "validation_time": _iso(self.validation_time),
            "signatures_count": self.signatures_count,
            "valid_signatures_count": self.valid_signatures_count,
            "detached": self.detached,
            "content_size": self.content_size,
            "errors": list(self.errors),
            "signers": [s.to_dict() for s in self.signers],
        }

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)
