"""The login page, drawn from the methods table: one entry per method that can reach the level
the waiting request still needs; a step-up says why a stronger method is asked for."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ..assurance import LOW
from ..clients import get_client
from ..context import dbs
from ..errors import UserError
from ..interactions import Waiting
from ..policy import StepUp, what_is_needed
from . import Method, enabled


def offered(waiting: Waiting | None) -> tuple[list[Method], StepUp | None]:
    """The methods the login page offers for *waiting*, and the step-up it is (if it is one).
    On a step-up the person is known, so a method is offered only if it reaches the level for them."""
    user = current_user if current_user.is_authenticated else None
    need = what_is_needed(dbs(), waiting.row, user) if waiting is not None else None
    step_up = need if isinstance(need, StepUp) else None
    level = waiting.row.acr_needed if waiting is not None else LOW
    person = user.person if step_up is not None and user is not None else None
    return [m for m in enabled() if m.reaches(level, person)], step_up


def login_page(waiting: Waiting | None, *, error: UserError | None = None, method: Method | None = None,
               login_value: str | None = None, status: int = 200):
    """The login page for *waiting* (or a plain login); *error* is shown at *method*'s form."""
    methods, step_up = offered(waiting)
    row = waiting.row if waiting is not None else None
    return render_template(
        "login.html", methods=methods, step_up=step_up, iid=waiting.id if waiting else None,
        client=get_client(dbs(), row.client_id) if row is not None else None,
        required_acr=row.acr_needed if row is not None else None,
        login_hint=row.login_hint if row is not None else None,
        error=error, error_method=method.name if method else None, login_value=login_value,
    ), status
