"""The password method (the "ID account"): its login step, registration and password change.

The rules live in idp/accounts.py; these are its pages. The login form posts to /login, where
outside testers' scripts have always sent it.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..assurance import LOW, SUBSTANTIAL
from ..clients import get_client
from ..context import dbs, services
from ..errors import UserError
from ..interactions import count_attempt, current_interaction
from ..limits import LOGIN_PER_IP, REGISTER_PER_IP, limiter
from ..sessions import end_other_sessions
from . import Method

bp = Blueprint("password", __name__)


@bp.route("/login", methods=["POST"])
def login():
    waiting = current_interaction()
    s = dbs()
    login_name = request.form.get("login", "")
    try:
        person = services().accounts.authenticate(s, login_name, request.form.get("password", ""))
    except UserError as err:
        s.rollback()
        count_attempt(s, waiting)
        return login_page(waiting, error=err, method=METHOD, login_value=login_name[:64], status=400)
    return finish_login(waiting, person, METHOD)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_PER_IP, methods=["POST"])
def register():
    """Registration; started from a waiting request, it returns to that request's login page."""
    waiting = current_interaction()
    iid = waiting.id if waiting else None
    client = get_client(dbs(), waiting.row.client_id) if waiting else None
    if request.method == "GET":
        return render_template("register.html", form={}, iid=iid, client=client)
    f = request.form
    s = dbs()
    try:
        if f.get("password", "") != f.get("password2", ""):
            raise UserError("password_mismatch")
        services().accounts.register(
            s, login=f.get("login", ""), password=f.get("password", ""), phone=f.get("phone", ""),
            email=f.get("email"), accept_terms=f.get("accept_terms") == "yes",
        )
    except UserError as err:
        s.rollback()
        kept = {k: f.get(k, "")[:100] for k in ("login", "phone", "email")}
        return render_template("register.html", error=err, form=kept, iid=iid, client=client), 400
    s.commit()
    flash("registered")
    return redirect(url_for("account.login", i=iid) if iid else url_for("account.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change():
    if request.method == "GET":
        return render_template("password.html")
    s = dbs()
    f = request.form
    try:
        if f.get("new_password", "") != f.get("new_password2", ""):
            raise UserError("password_mismatch")
        services().accounts.change_password(s, current_user.person, f.get("current_password", ""),
                                            f.get("new_password", ""))
    except UserError as err:
        s.rollback()
        return render_template("password.html", error=err), 400
    end_other_sessions(current_user, "password_changed")
    s.commit()
    flash("password_changed")
    return redirect(url_for("account.cabinet"))


#: low on its own; substantial once an operator checked the person's passport in person
METHOD = Method(name="password", label="method_password", acr=LOW, amr=("pwd",), blueprint=bp,
                form="methods/password.html", limits=(LOGIN_PER_IP,), verified_acr=SUBSTANTIAL)

from .finish import finish_login  # noqa: E402 - finish imports this package's Method
from .page import login_page  # noqa: E402
