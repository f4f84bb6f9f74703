"""Levels of assurance (`acr`) on the eIDAS scale (Regulation (EU) 910/2014 art. 8).

Stored and compared by short name (low, substantial, high); portals see the eIDAS URIs
(`http://eidas.europa.eu/LoA/low` ...) in tokens and discovery, and may ask with either form
in `acr_values` or register either with `--min-acr`. Which method proves which level, and its
RFC 8176 `amr`, is the methods table's business (idp/methods).
"""
from __future__ import annotations

LOW, SUBSTANTIAL, HIGH = "low", "substantial", "high"
LEVELS = (LOW, SUBSTANTIAL, HIGH)
RANK = {level: i for i, level in enumerate(LEVELS)}
URI_PREFIX = "http://eidas.europa.eu/LoA/"


def uri(level: str) -> str:
    """The eIDAS URI portals see for a level (`acr` claims, `acr_values_supported`)."""
    return URI_PREFIX + level


def short(value: str) -> str | None:
    """The level a short name or an eIDAS URI names, or None for anything else."""
    name = value[len(URI_PREFIX):] if value.startswith(URI_PREFIX) else value
    return name if name in RANK else None


def satisfies(acr: str, required: str) -> bool:
    return RANK.get(acr, -1) >= RANK[required]


def higher(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def requested_level(acr_values: str | None, client_min: str) -> str:
    """The minimum a request needs: the lowest level it lists (any listed one is acceptable),
    never below the client's registered minimum. Unknown values are ignored (OIDC Core 3.1.2.1:
    acr_values is a voluntary claim)."""
    listed = [level for level in map(short, (acr_values or "").split()) if level is not None]
    asked = min(listed, key=RANK.__getitem__) if listed else LOW
    return higher(asked, short(client_min) or LOW)
