"""The e-mail gateway: `email_gateway(settings, db).send(address, text)`, the SMS gateway's shape.

HTTP backend when YAGONA_EMAIL_URL is set (YAGONA_EMAIL_TOKEN as the bearer token; the mail
service composes the message), else in development mode the outbox (`yagona email outbox`).
"""
from __future__ import annotations

from ..accounts import EMAIL_RE
from ..config import Settings
from ..db import Database
from ..errors import UserError
from . import choose_backend
from .messages import HttpBackend, MessageGateway, OutboxBackend

CHANNEL = "email"


def normalize_email(address: str) -> str:
    """' ali@Example.UZ' becomes 'ali@example.uz' (domains are case-blind, RFC 5321 2.4); anything but
    one address on one line (no header injection) within RFC 5321's 254 characters is refused."""
    candidate = (address or "").strip()
    if len(candidate) > 254 or not EMAIL_RE.fullmatch(candidate):
        raise UserError("email_invalid")
    local, domain = candidate.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def email_gateway(settings: Settings, db: Database) -> MessageGateway:
    """The configured e-mail backend; GatewayNotConfigured when there is none (see choose_backend)."""
    def http(url: str, token: str | None) -> MessageGateway:
        return HttpBackend(url, token, channel=CHANNEL, what="e-mail gateway", address=normalize_email)

    def dev() -> MessageGateway:
        return OutboxBackend(db, CHANNEL, address=normalize_email)

    return choose_backend(settings, CHANNEL, "e-mail gateway", http=http, dev=dev)
