"""Scopes and the claims each one releases (OIDC Core 5.4, plus the PINFL and passport scopes
state portals need). Consent is asked per scope, so the citizen sees exactly what is shared."""
from __future__ import annotations

from typing import Any

from . import legal
from .models import Person, epoch

#: scope -> the claims it releases
SCOPES: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "family_name", "given_name", "middle_name", "birthdate", "gender", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "pinfl": ("pinfl",),
    "passport": ("passport_series", "passport_number", "passport_issued_by", "passport_issue_date",
                 "passport_expiry_date"),
    #: the organisations the person represents (idp/legal.py), ours and in OneID's legal_info shape
    "legal_entities": ("legal_entities", "legal_info"),
    #: OIDC Core 11: a refresh token that works while the user is away. Every portal gets one anyway,
    #: so the scope releases no claim; the consent page names it (Core 11: the OP MUST obtain consent)
    "offline_access": (),
}
DEFAULT_CLIENT_SCOPES = ("openid", "profile", "email", "phone")
#: scopes any portal may ask for without registering them
EVERY_CLIENT_SCOPES = ("offline_access",)


def parse_scope(scope: str | None) -> list[str]:
    """The scope values we know, in request order, without duplicates. Values we do not know are
    ignored, not refused (OIDC Core 3.1.2.1: SHOULD be ignored), at /authorize and at refresh alike,
    so a portal that also asks for another provider's scope can still log its users in and refresh."""
    seen: list[str] = []
    for s in (scope or "").split():
        if s in SCOPES and s not in seen:
            seen.append(s)
    return seen


def claims_for(person: Person, scopes: list[str]) -> dict[str, Any]:
    """The userinfo claims the granted scopes release; absent data is left out, not sent empty."""
    gender = {"M": "male", "F": "female"}.get(person.gender or "")
    values: dict[str, Any] = {
        "sub": person.public_id,
        "name": person.full_name or None,
        "family_name": person.last_name,
        "given_name": person.first_name,
        "middle_name": person.middle_name,
        "birthdate": person.birth_date.isoformat() if person.birth_date else None,
        "gender": gender,
        "updated_at": epoch(person.updated_at) if person.updated_at else None,
        "email": person.email,
        "email_verified": bool(person.email_verified) if person.email else None,
        "phone_number": person.phone,
        "phone_number_verified": bool(person.phone_verified) if person.phone else None,
        "address": {"formatted": person.address} if person.address else None,
        "pinfl": person.pinfl,
        "passport_series": person.passport_series,
        "passport_number": person.passport_number,
        "passport_issued_by": person.passport_issued_by,
        "passport_issue_date": person.passport_issue_date.isoformat() if person.passport_issue_date else None,
        "passport_expiry_date": person.passport_expiry_date.isoformat() if person.passport_expiry_date else None,
    }
    if "legal_entities" in scopes:  # a query: made only when the portal may see its answer
        values.update(legal.claims(person))
    out: dict[str, Any] = {}
    for scope in scopes:
        for claim in SCOPES.get(scope, ()):
            if values.get(claim) is not None:
                out[claim] = values[claim]
    return out
