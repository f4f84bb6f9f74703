"""Build every gateway at start, so a service without its outside systems refuses to start (one line
naming the missing setting) instead of failing at a citizen's first login."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..db import Database
from .cards import CardProcessor, card_processor
from .email import email_gateway
from .messages import MessageGateway
from .registry import Registry, build_registry
from .sms import sms_gateway


@dataclass(frozen=True)
class Gateways:
    registry: Registry
    sms: MessageGateway
    email: MessageGateway
    cards: CardProcessor


def build_gateways(settings: Settings, db: Database) -> Gateways:
    """Each gateway's backend as settings choose it; GatewayNotConfigured names the first one missing.
    Nothing here connects anywhere (the database engine connects on first use)."""
    return Gateways(
        registry=build_registry(settings),
        sms=sms_gateway(settings, db),
        email=email_gateway(settings, db),
        cards=card_processor(settings),
    )
