"""A tiny demo portal inside the embedded run, so a newcomer can log in at once.

It is a real relying party of its own issuer: authorization request with PKCE, state and
nonce, code exchange over HTTP, ID-token check against the JWKS, userinfo. Served at /demo
only when the demo is on (the default for the embedded SQLite run).

What it received (ID-token claims, userinfo: personal data) stays on the server, in files of the
instance folder beside the demo's client secret, so every worker finds them; the signed, readable
session cookie carries only a random id.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import requests
from flask import Blueprint, redirect, render_template, request, session

from .config import Settings
from .context import services
from .db import Database

bp = Blueprint("demo", __name__)
DEMO_NAME = "Yagona demo portal"
#: a result is kept as long as an idle browser session of the IdP lives
RESULT_TTL = 30 * 60
RESULT_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def _info_path(settings: Settings) -> Path:
    return settings.instance_path / "demo-client.json"


def ensure_demo_client(settings: Settings, db: Database) -> tuple[dict, bool]:
    """Register the demo client once; return its details and whether it is new."""
    from .clients import add_client, get_client

    path = _info_path(settings)
    redirect_uri = f"{settings.issuer}/demo/callback"
    if path.exists():
        info = json.loads(path.read_text())
        with db.session() as s:
            client = get_client(s, info["client_id"])
            if client is not None and redirect_uri in client.redirect_uris:
                return info, False
    with db.session() as s:
        new = add_client(s, DEMO_NAME, [redirect_uri], [f"{settings.issuer}/demo"],
                         ["openid", "profile", "email", "phone"])
        info = {"client_id": new.client.client_id, "client_secret": new.secret, "redirect_uri": redirect_uri}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    return info, True


def _client() -> dict:
    return json.loads(_info_path(services().settings).read_text())


def _results_dir() -> Path:
    return services().settings.instance_path / "demo-results"


def save_result(result: dict) -> str:
    """Keep *result* on the server (0600, written whole or not at all); return its random id.
    Results older than RESULT_TTL are deleted on the way."""
    folder = _results_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    for old in folder.glob("*.json"):
        try:
            if old.stat().st_mtime < time.time() - RESULT_TTL:
                old.unlink()
        except FileNotFoundError:  # another worker pruned it first
            pass
    rid = secrets.token_urlsafe(16)
    tmp = folder / f"{rid}.tmp"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            json.dump(result, fh)
        os.replace(tmp, folder / f"{rid}.json")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rid


def load_result(rid: object) -> dict | None:
    """The result kept under *rid*, or None if the id is malformed, unknown or expired."""
    if not isinstance(rid, str) or not RESULT_ID.fullmatch(rid):
        return None
    path = _results_dir() / f"{rid}.json"
    try:
        if path.stat().st_mtime < time.time() - RESULT_TTL:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@bp.route("/demo")
def home():
    return render_template("demo.html", result=load_result(session.get("demo_result")))


@bp.route("/demo/login")
def login():
    info, iss = _client(), services().settings.issuer
    verifier = secrets.token_urlsafe(48)
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    session["demo"] = {"state": state, "nonce": nonce, "verifier": verifier}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": info["client_id"], "redirect_uri": info["redirect_uri"],
              "scope": "openid profile phone email", "state": state, "nonce": nonce,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    return redirect(f"{iss}/authorize?{urlencode(params)}")


@bp.route("/demo/callback")
def callback():
    info, iss = _client(), services().settings.issuer
    pending = session.pop("demo", None)
    # as bytes: compare_digest raises TypeError on a non-ASCII str (a 500 from ?state=é)
    if not pending or not hmac.compare_digest(pending["state"].encode(), request.args.get("state", "").encode()):
        return render_template("error.html", error="invalid_request", description="demo: state mismatch"), 400
    if "error" in request.args:
        description = f"demo: {request.args['error']}: {request.args.get('error_description')}"
        return render_template("error.html", error="invalid_request", description=description), 400
    tokens = requests.post(f"{iss}/token", timeout=10, auth=(info["client_id"], info["client_secret"]), data={
        "grant_type": "authorization_code", "code": request.args.get("code", ""),
        "redirect_uri": info["redirect_uri"], "code_verifier": pending["verifier"]}).json()
    if "id_token" not in tokens:
        return render_template("error.html", error="invalid_request", description=f"demo: {tokens}"), 400
    jwks = jwt.PyJWKClient(f"{iss}/jwks")
    key = jwks.get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], key.key, algorithms=["ES256", "RS256"], audience=info["client_id"],
                        issuer=iss)
    if claims.get("nonce") != pending["nonce"]:
        return render_template("error.html", error="invalid_request", description="demo: nonce mismatch"), 400
    userinfo = requests.get(f"{iss}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    session["demo_result"] = save_result({"id_token": claims, "userinfo": userinfo})
    return redirect("/demo")
