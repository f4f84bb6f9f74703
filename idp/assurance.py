"""Levels of assurance (`acr`) on the eIDAS scale, and which method proves how much.

Portals ask for a minimum with `acr_values` or register one for their client; Yagona steps
the user up to a method that meets it. `amr` uses RFC 8176 values.
"""
from __future__ import annotations

LOW, SUBSTANTIAL, HIGH = "low", "substantial", "high"
LEVELS = (LOW, SUBSTANTIAL, HIGH)
RANK = {level: i for i, level in enumerate(LEVELS)}

#: the level each method reaches on its own; the password method reaches "substantial" once
#: an operator verified the passport (see `level_for`)
METHOD_LEVEL = {"password": LOW, "sms": LOW, "uzcard": SUBSTANTIAL, "eimzo": HIGH}
METHOD_AMR = {"password": ["pwd"], "sms": ["sms", "otp"], "uzcard": ["otp", "sms"], "eimzo": ["swk", "pop"]}


def satisfies(acr: str, required: str) -> bool:
    return RANK.get(acr, -1) >= RANK[required]


def higher(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def requested_level(acr_values: str | None, client_min: str) -> str:
    """The minimum a request needs: the lowest level it lists (any listed one is acceptable),
    never below the client's registered minimum. Unknown values are ignored (OIDC: voluntary)."""
    listed = [v for v in (acr_values or "").split() if v in RANK]
    asked = min(listed, key=RANK.__getitem__) if listed else LOW
    return higher(asked, client_min)


def level_for(method: str, identity_verified: bool) -> str:
    level = METHOD_LEVEL[method]
    if method == "password" and identity_verified:
        return SUBSTANTIAL
    return level
