"""What an authorization request still needs from the person: the one place that decides.

The authorize endpoint, the login pages and the consent form all ask `what_is_needed`, so no way
on from a waiting request (back from a login, the consent form, a second tab) can skip a login
the request asked for. prompt=none answers with the need's `error` (OIDC Core §3.1.2.6).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from .assurance import satisfies
from .models import Consent as ConsentRow, Interaction, epoch
from .sessions import SessionUser


@dataclass(frozen=True)
class Login:
    """Nobody is logged in, or someone other than the person the portal's id_token_hint names."""

    error: ClassVar[str] = "login_required"


@dataclass(frozen=True)
class Reauthenticate:
    """A login exists but the portal wants a new one: prompt=login / select_account, or the login
    is older than max_age (OIDC Core §3.1.2.1)."""

    error: ClassVar[str] = "login_required"


@dataclass(frozen=True)
class StepUp:
    """The login reached `have`; the portal needs `acr` (acr_values, or its registered minimum)."""

    acr: str
    have: str
    error: ClassVar[str] = "login_required"


@dataclass(frozen=True)
class HintMismatch:
    """A login made for this request is someone else than the id_token_hint names: the portal
    gets login_required, never a code for the wrong person (OIDC Core §3.1.2.1)."""

    error: ClassVar[str] = "login_required"


@dataclass(frozen=True)
class Consent:
    """The person has not (yet) let this portal see these scopes, or the portal said prompt=consent."""

    error: ClassVar[str] = "consent_required"


@dataclass(frozen=True)
class Done:
    """Nothing more is needed: issue the code."""

    error: ClassVar[str] = ""


Need = Union[Login, Reauthenticate, StepUp, HintMismatch, Consent, Done]


def what_is_needed(s: Session, req: Interaction, user: SessionUser | None, *, consented: bool = False) -> Need:
    """Decide for *req* (stored or not yet) and the browser's login *user*. *consented*: the person
    has just answered this request's consent form (prompt=consent is then met)."""
    if user is None:
        return Login()
    auth_time = epoch(user.row.auth_time)
    # a login made after the request arrived is as fresh as any login can be
    fresh = user.row.auth_time >= req.created_at
    if req.hint_sub is not None and user.person.public_id != req.hint_sub:
        return HintMismatch() if fresh else Login()
    if not fresh and ("login" in req.prompt or "select_account" in req.prompt):
        return Reauthenticate()
    if not fresh and req.max_age is not None and time.time() - auth_time > req.max_age:
        return Reauthenticate()
    if not satisfies(user.row.acr, req.acr_needed):
        return StepUp(req.acr_needed, user.row.acr)
    if consented:
        return Done()
    row = s.scalar(select(ConsentRow).where(ConsentRow.person_id == user.person.id,
                                         ConsentRow.client_id == req.client_id))
    if "consent" in req.prompt or row is None or not set(req.scope) <= set(row.scopes):
        return Consent()
    return Done()
