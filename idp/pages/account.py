"""The login page (drawn from the methods table, idp/methods) and the cabinet.

Every form carries a CSRF token (flask-wtf). Errors are shown on the page in the reader's
language and change nothing. Every page and error page of a login keeps its interaction: the
language links keep the query, and an error page links back to the login.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..context import dbs
from ..interactions import current_interaction, requested_id
from ..methods.page import login_page
from ..policy import Login, Reauthenticate, StepUp, what_is_needed

bp = Blueprint("account", __name__)


@bp.app_context_processor
def interaction_link() -> dict:
    """`resume_iid` for every page: the interaction a request names (error pages link back to it)."""
    try:
        return {"resume_iid": requested_id()}
    except RuntimeError:  # rendered outside a request
        return {"resume_iid": None}


@bp.route("/login", methods=["GET"])
def login():
    waiting = current_interaction()
    if waiting is None and "i" in request.args:
        return render_template("error.html", error="request_expired", description=None), 400
    if waiting is not None:
        user = current_user if current_user.is_authenticated else None
        if not isinstance(what_is_needed(dbs(), waiting.row, user), (Login, Reauthenticate, StepUp)):
            return redirect(url_for("authorize.resume", i=waiting.id))  # logged in already: go on
    return login_page(waiting)


@bp.route("/")
@login_required
def cabinet():
    return render_template("cabinet.html", person=current_user.person, session_row=current_user.row)
