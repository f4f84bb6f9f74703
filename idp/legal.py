"""Legal entities: the organisations a person represents, and the one a login was made for.

Representation is proven the way E-IMZO proves it: an employee certificate, issued by a trusted CA
to the person's PINFL, names the organisation's TIN (1.2.860.3.16.1.1), its name (O) and the
person's title (T). Each login with one records the link or refreshes it (a renamed organisation, a
new title) — `link_from_certificate`. The first organisation recorded is the person's basic one.

Portals see the links only under the `legal_entities` scope, with the person's consent (`claims`,
called by idp/scopes.py): as `legal_entities` and, so that portals moving from OneID keep working,
in OneID's `legal_info` shape. A login made with an employee certificate is a login on behalf of its
organisation: `token_claims` names it in the tokens as OneID's `pkcs_legal_tin`, which OneID sends
exactly then (auth_method LEPKCSMETHOD) — one name for one fact, the one those portals already read.
"""
from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

from .models import Person, PersonOrganisation, utcnow

if TYPE_CHECKING:
    from .challenges import SignedLogin

#: the token claim naming the organisation a login was made for (OneID's name for it)
ORG_TIN_CLAIM = "pkcs_legal_tin"
_NAME_CHARS = 200


class LegalEntityError(Exception):
    """A link that must not be recorded; the message says why."""


def link_from_certificate(s: Session, person: Person, login: SignedLogin) -> PersonOrganisation | None:
    """Record or refresh the organisation *login*'s employee certificate names for *person*; None for
    a citizen's certificate (no TIN). The caller commits.

    The certificate must be this person's (same PINFL): the login method found the person by it, and
    checking again here keeps an organisation from ever being linked to someone else by a slip."""
    if login.tin is None:
        return None
    if person.pinfl is None or not hmac.compare_digest(person.pinfl, login.pinfl):
        raise LegalEntityError("the certificate's PINFL is not this person's; link an organisation only to "
                               "the person the certificate was issued to")
    now = utcnow()
    # a certificate naming no organisation (O) leaves the TIN as its name
    name = (login.organisation or login.tin)[:_NAME_CHARS]
    role = login.title[:_NAME_CHARS] if login.title else None
    first = not s.scalar(select(exists().where(PersonOrganisation.person_id == person.id,
                                               PersonOrganisation.is_basic.is_(True))))
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    # two logins of one person racing with the same certificate: one inserts, both then refresh
    s.execute(insert(PersonOrganisation).values(
        person_id=person.id, tin=login.tin, name=name, role=role, is_basic=first,
        certificate_fingerprint=login.fingerprint, created_at=now, confirmed_at=now,
    ).on_conflict_do_nothing(index_elements=[PersonOrganisation.person_id, PersonOrganisation.tin]))
    row = s.execute(select(PersonOrganisation).where(
        PersonOrganisation.person_id == person.id, PersonOrganisation.tin == login.tin)
        .execution_options(populate_existing=True)).scalar_one()
    row.name, row.role = name, role
    row.certificate_fingerprint, row.confirmed_at = login.fingerprint, now
    s.flush()
    return row


def organisations(s: Session, person_id: int) -> list[PersonOrganisation]:
    """The organisations a person represents, the basic one first."""
    return list(s.scalars(select(PersonOrganisation).where(PersonOrganisation.person_id == person_id)
                          .order_by(PersonOrganisation.is_basic.desc(), PersonOrganisation.tin)))


def claims(person: Person) -> dict[str, Any]:
    """The `legal_entities` scope's claims for *person* (a row of a live session): our list, and the
    same in OneID's `legal_info` shape; None (left out) when the person represents no organisation.

    OneID's entries carry the organisation's TIN as both `tin` and `le_tin` and its name as both
    `acron_UZ` and `le_name`: public integrations read one or the other, and we hold one of each."""
    s = object_session(person)
    rows = organisations(s, person.id) if s is not None else []
    if not rows:
        return {"legal_entities": None, "legal_info": None}
    return {
        "legal_entities": [{"tin": o.tin, "name": o.name, "role": o.role, "is_basic": o.is_basic} for o in rows],
        "legal_info": [{"is_basic": o.is_basic, "tin": o.tin, "acron_UZ": o.name, "le_tin": o.tin,
                        "le_name": o.name} for o in rows],
    }


def token_claims(org_tin: str | None) -> dict[str, str]:
    """What the ID and access tokens of a grant say about the organisation its login was made for."""
    return {ORG_TIN_CLAIM: org_tin} if org_tin else {}
