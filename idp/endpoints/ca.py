"""/ca: the CA's CRLs, OCSP and TSA, the same core as `imzo ca serve` (signing/ca_http.py) in Flask.

Machines call these, not browsers: no CSRF (nothing here acts on a session), a body cap per
route, and per-IP limits declared on each route (counters in Redis when configured).
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from signing import ca_http
from signing.ca_http import Answer, CAServices

from .. import ca_service
from ..config import Settings
from ..limits import limiter

bp = Blueprint("ca", __name__, url_prefix=ca_http.PREFIX)
_EXTENSION = "yagona_ca"


def init_app(app: Flask, settings: Settings, csrf: CSRFProtect) -> None:
    """Load the CA services (None without a CA: /ca answers 404) and mount the routes, CSRF-exempt."""
    app.extensions[_EXTENSION] = ca_service.load(settings)
    app.register_blueprint(bp)
    csrf.exempt(bp)


def services() -> CAServices | None:
    """The app's CA services; `ca_service.validator(services())` checks signatures against its CA."""
    return current_app.extensions.get(_EXTENSION)


def _limit(kind: str) -> str:
    return f"{ca_http.PER_MINUTE[kind]}/minute"


def _send(answer: Answer, *, cacheable: bool = False) -> Response:
    resp = Response(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers:
        resp.headers[name] = value
    resp.headers["Cache-Control"] = "max-age=300" if cacheable and answer.status == 200 else "no-store"
    return resp


def _no_ca() -> Response:
    return Response("this Yagona serves no CA; set YAGONA_CA_DIR to a CA folder\n", 404,
                    content_type="text/plain; charset=utf-8")


def _post(kind: str) -> Response:
    """Refuse a missing or oversized body before reading it, then hand it to the core."""
    svc = services()
    if svc is None:
        return _no_ca()
    refusal = svc.refuse_length(kind, request.content_length)
    if refusal is not None:
        return _send(refusal)
    handle = svc.ocsp_post if kind == "ocsp" else svc.tsa_post
    return _send(handle(request.content_type, request.get_data(cache=False)))


@bp.get("/crl")
@limiter.limit(_limit("crl"))
def crl() -> Response:
    svc = services()
    return _send(svc.crl(), cacheable=True) if svc else _no_ca()


@bp.get("/root-crl")
@limiter.limit(_limit("crl"))
def root_crl() -> Response:
    svc = services()
    return _send(svc.crl(root=True), cacheable=True) if svc else _no_ca()


@bp.post("/ocsp")
@limiter.limit(_limit("ocsp"))
def ocsp_post() -> Response:
    return _post("ocsp")


@bp.get("/ocsp/<path:encoded>")
@limiter.limit(_limit("ocsp"))
def ocsp_get(encoded: str) -> Response:
    svc = services()
    return _send(svc.ocsp_get(encoded)) if svc else _no_ca()


@bp.post("/tsa")
@limiter.limit(_limit("tsa"))
def tsa() -> Response:
    return _post("tsa")


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Response:
    """Plain text for machines (429 from the limiter, 405, 413), never the HTML error page."""
    resp = Response(f"{e.description}\n", e.code or 400, content_type="text/plain; charset=utf-8")
    if e.code == 429:
        resp.headers["Retry-After"] = "60"
    return resp
