"""OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS."""
from __future__ import annotations

from flask import Blueprint

from ..assurance import uri
from ..methods import enabled, reachable_levels
from ..context import services
from ..grants import GRANTS
from ..keys import SUPPORTED_ALGS
from ..legal import ORG_TIN_CLAIM
from ..scopes import SCOPES
from .api import json_response

bp = Blueprint("discovery", __name__)


def metadata() -> dict:
    iss = services().settings.issuer
    claims = sorted({c for cs in SCOPES.values() for c in cs} | {"iss", "aud", "exp", "iat", "auth_time", "nonce",
                                                                  "acr", "amr", "sid", "at_hash", "azp",
                                                                  ORG_TIN_CLAIM})
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/authorize",
        "token_endpoint": f"{iss}/token",
        "userinfo_endpoint": f"{iss}/userinfo",
        "jwks_uri": f"{iss}/jwks",
        "revocation_endpoint": f"{iss}/revoke",
        "introspection_endpoint": f"{iss}/introspect",
        "end_session_endpoint": f"{iss}/logout",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANTS),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        # the levels the login methods can reach, lowest first, as eIDAS URIs (idp/assurance.py)
        "acr_values_supported": [uri(level) for level in reachable_levels(enabled())],
        "claims_supported": claims,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["uz", "ru", "en"],
        "claims_locales_supported": ["uz", "ru", "en"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


@bp.route("/.well-known/openid-configuration")
def openid_configuration():
    resp = json_response(metadata())
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.route("/jwks")
def jwks():
    resp = json_response(services().keys.jwks())
    resp.headers["Cache-Control"] = "public, max-age=60"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
