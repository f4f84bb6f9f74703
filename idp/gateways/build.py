"""Build every gateway at start, so a service without its outside systems refuses to start (one line
naming the missing setting) instead of failing at a citizen's first login."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from .registry import Registry, build_registry


@dataclass(frozen=True)
class Gateways:
    registry: Registry


def build_gateways(settings: Settings) -> Gateways:
    """Each gateway's backend as settings choose it; GatewayNotConfigured names the first one missing."""
    return Gateways(
        registry=build_registry(settings),
    )
