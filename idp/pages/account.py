"""Login, registration, password change and the cabinet for the password method.

Every form carries a CSRF token (flask-wtf). Errors are shown on the page in the reader's
language and change nothing.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..context import dbs, services
from ..endpoints.authorize import parked
from ..clients import get_client
from ..errors import UserError
from ..limits import LOGIN_PER_IP, REGISTER_PER_IP, limiter
from ..sessions import end_other_sessions, start_session

bp = Blueprint("account", __name__)


def _next_url(rid: str | None) -> str:
    return url_for("authorize.resume", authz=rid) if rid and parked(rid) else url_for("account.cabinet")


def _login_context(rid: str | None) -> dict:
    req = parked(rid) if rid else None
    client = get_client(dbs(), req.client_id) if req else None
    return {"rid": rid if req else None, "client": client, "required_acr": req.acr if req else None,
            "login_hint": req.login_hint if req else None}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_PER_IP, methods=["POST"])
def login():
    rid = request.values.get("authz")
    ctx = _login_context(rid)
    if request.method == "GET":
        return render_template("login.html", **ctx)
    s = dbs()
    login_name = request.form.get("login", "")
    try:
        person = services().accounts.authenticate(s, login_name, request.form.get("password", ""))
    except UserError as err:
        s.rollback()
        return render_template("login.html", error=err, login_value=login_name[:64], **ctx), 400
    start_session(person, "password")
    return redirect(_next_url(ctx["rid"]))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_PER_IP, methods=["POST"])
def register():
    rid = request.values.get("authz")
    ctx = _login_context(rid)
    if request.method == "GET":
        return render_template("register.html", form={}, **ctx)
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
        return render_template("register.html", error=err, form=kept, **ctx), 400
    s.commit()
    flash("registered")
    return redirect(url_for("account.login", authz=ctx["rid"]) if ctx["rid"] else url_for("account.login"))


@bp.route("/")
@login_required
def cabinet():
    return render_template("cabinet.html", person=current_user.person, session_row=current_user.row)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
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
