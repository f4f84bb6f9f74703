"""The Flask app factory: `create_app()` for `yagona serve`, gunicorn and tests alike."""
from __future__ import annotations

import logging
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, abort, get_flashed_messages, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import i18n
from .accounts import Accounts
from .config import Settings, load_settings
from .context import Services, close_db
from .db import Database
from .gateways.build import build_gateways
from .otp import OneTimeCodes
from .keys import KeyRing
from .limits import limiter
from .methods import METHODS, Method, register as register_methods
from .passwords import Passwords
from .sessions import login_manager
from .tokens import TokenService

log = logging.getLogger("yagona")
csrf = CSRFProtect()
API_PREFIXES = ("/token", "/userinfo", "/revoke", "/introspect", "/jwks", "/.well-known")


def refuse_nul_characters() -> None:
    """No field of ours may hold a NUL (PostgreSQL cannot store one): refuse it before anything
    else looks at the request, CSRF included. Headers too: the User-Agent is stored with a login,
    and not every WSGI server refuses the byte (gunicorn does, werkzeug's does not)."""
    pairs = list(request.args.items(multi=True)) + list(request.headers.items())
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        pairs += request.form.items(multi=True)
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            abort(400, description="the request contains a NUL character")


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(secret)


def create_app(settings: Settings | None = None, *, migrate: bool = False,
               methods: tuple[Method, ...] | None = None) -> Flask:
    """Build the IdP. With migrate=True the database is upgraded first (the embedded run does that).
    *methods*: the login methods (idp/methods), by default the table METHODS."""
    settings = settings or load_settings()
    db = Database(settings.database_url)  # connects on first use
    gateways = build_gateways(settings, db)  # first: without its outside systems the service must not start
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_derive(settings.secret_key, b"yagona flask session"),
        # __Host-: under https a sibling subdomain (another portal) cannot plant or overwrite it
        SESSION_COOKIE_NAME="__Host-yagona_session" if settings.secure_cookies else "yagona_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=settings.session_max_ttl,
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_ENABLED=settings.extra.get("ratelimit", True),
        RATELIMIT_HEADERS_ENABLED=True,
        # Redis unreachable: each worker counts in memory until it is back, rather than failing every login
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    hops = int(os.environ.get("YAGONA_PROXY_HOPS", "0") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    if migrate:
        db.upgrade()
    passwords = Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
    keys = KeyRing(db, settings.secret_key, settings.key_retire_grace)
    keys.ensure()
    app.extensions["yagona"] = Services(
        settings=settings, db=db, keys=keys, passwords=passwords,
        accounts=Accounts(settings, passwords), tokens=TokenService(settings, keys),
        registry=gateways.registry, sms=gateways.sms, email=gateways.email, cards=gateways.cards,
        codes=OneTimeCodes(settings),
    )
    app.teardown_appcontext(close_db)
    app.before_request(refuse_nul_characters)  # first: before CSRF and every view

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    limiter.init_app(app)

    from .endpoints import authorize, discovery, logout, revocation, token, userinfo
    from .pages import account

    for bp in (discovery.bp, authorize.bp, token.bp, userinfo.bp, revocation.bp, logout.bp, account.bp):
        app.register_blueprint(bp)
    register_methods(app, METHODS if methods is None else methods)
    from .endpoints import ca as ca_endpoints  # the CA's CRLs, OCSP and TSA under /ca

    ca_endpoints.init_app(app, settings, csrf)
    for view in ("token.token", "userinfo.userinfo", "revocation.revoke", "revocation.introspect",
                 "authorize.authorize", "logout.logout"):
        csrf.exempt(app.view_functions[view])
    if settings.demo:
        from . import demo

        app.register_blueprint(demo.bp)
    if settings.dev:  # /dev/outbox exists only beside the development gateways
        from .pages import dev

        app.register_blueprint(dev.bp)

    app.jinja_env.globals.update(t=i18n.t, lang=i18n.current_lang, csrf_token=generate_csrf,
                                 flashed=get_flashed_messages, langs=i18n.LANGS,
                                 lang_url=i18n.lang_url)
    _register_error_pages(app)

    @app.after_request
    def security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if settings.secure_cookies:  # an https issuer: browsers must never try plain http first
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # same-origin: our forms send a Referer (flask-wtf checks it under https), portals get none
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; style-src 'self'; frame-ancestors 'none'")
            resp.headers.setdefault("Cache-Control", "no-store")
        if request.args.get("lang") in i18n.LANGS:
            resp.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax",
                            secure=settings.secure_cookies, httponly=True)
        return resp

    return app


def _register_error_pages(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith(API_PREFIXES)

    @app.errorhandler(CSRFError)
    def csrf_error(_e):
        return render_template("error.html", error="csrf_failed", description=None), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        key = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "too_many_requests"}.get(
            e.code or 500, "invalid_request")
        if wants_json():
            error = {429: "slow_down", 413: "invalid_request"}.get(e.code or 400, "invalid_request")
            return jsonify({"error": error, "error_description": e.description}), e.code
        detail = e.description if e.code == 400 else None  # our own aborts say what was wrong
        return render_template("error.html", error=key, description=detail), e.code

    @app.errorhandler(Exception)
    def server_error(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return jsonify({"error": "server_error", "error_description": "internal error"}), 500
        return render_template("error.html", error="server_error", description=None), 500

