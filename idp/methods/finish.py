"""The one exit of every login method."""
from __future__ import annotations

from flask import redirect, url_for
from werkzeug.wrappers import Response

from ..interactions import Waiting
from ..models import Person
from ..sessions import start_session
from . import Method


def finish_login(interaction: Waiting | None, person: Person, method: Method, *, acr: str | None = None,
                 amr: list[str] | tuple[str, ...] | None = None, org_tin: str | None = None) -> Response:
    """Log the browser in as *person*, proved by *method* (at *acr* / *amr* when the method knows
    better than its table entry, e.g. a qualified certificate), then go on: back to the waiting
    request, where the policy decides what comes next (the portal, consent, a step-up), or to the
    cabinet when the login was not for a portal. *org_tin*: the organisation an employee
    certificate's login was made for (idp/legal.py), named in the tokens."""
    if interaction is not None:
        interaction.row.step = "authenticated"  # committed with the login session
    start_session(person, acr or method.level_for(person), list(amr or method.amr), org_tin=org_tin)
    if interaction is None:
        return redirect(url_for("account.cabinet"))
    return redirect(url_for("authorize.resume", i=interaction.id))
