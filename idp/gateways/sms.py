"""The SMS gateway: `sms_gateway(settings, db).send(phone, text)`.

HTTP backend when YAGONA_SMS_URL is set (YAGONA_SMS_TOKEN as the bearer token), else in
development mode the outbox (`yagona sms outbox`, /dev/outbox). Phones are normalised as
everywhere else (+998 and 9 digits); any other number is refused before anything is sent.
"""
from __future__ import annotations

from ..accounts import normalize_phone
from ..config import Settings
from ..db import Database
from . import choose_backend
from .messages import HttpBackend, MessageGateway, OutboxBackend

CHANNEL = "sms"


def sms_gateway(settings: Settings, db: Database) -> MessageGateway:
    """The configured SMS backend; GatewayNotConfigured when there is none (see choose_backend)."""
    def http(url: str, token: str | None) -> MessageGateway:
        return HttpBackend(url, token, channel=CHANNEL, what="SMS gateway", address=normalize_phone)

    def dev() -> MessageGateway:
        return OutboxBackend(db, CHANNEL, address=normalize_phone)

    return choose_backend(settings, CHANNEL, "SMS gateway", http=http, dev=dev)
