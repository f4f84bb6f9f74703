"""Gateways to the outside systems Yagona cannot reach on a laptop: the population registry, the SMS
and e-mail senders, the card processor.

Each gateway is a small interface with two backends: a development one that works end to end on one
machine (a fixture registry, an outbox a person can read, test cards), used only in development
mode (YAGONA_DEV=1), and an HTTP one for the real system (YAGONA_<NAME>_URL, YAGONA_<NAME>_TOKEN).
`choose_backend` is the one rule that picks between them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..config import ConfigError, Settings

T = TypeVar("T")


class GatewayError(Exception):
    """An outside system failed or answered something we cannot use; the message says which and why
    (for the operator's log: it never carries a code, a card number or a password)."""


class GatewayNotConfigured(ConfigError):
    """A gateway has neither a real backend configured nor development mode to fall back on."""


def choose_backend(settings: Settings, name: str, what: str, *, http: Callable[[str, str | None], T],
                   dev: Callable[[], T]) -> T:
    """The HTTP backend when YAGONA_<NAME>_URL is set, else the development backend in development
    mode, else GatewayNotConfigured naming the setting (so a production start fails at once, in one
    line, instead of texting codes into a development outbox)."""
    url = settings.gateway_urls.get(name)
    if url:
        return http(url, settings.gateway_tokens.get(name))
    if settings.dev:
        return dev()
    raise GatewayNotConfigured(f"no {what} is configured: set YAGONA_{name.upper()}_URL (and "
                               f"YAGONA_{name.upper()}_TOKEN), or run in development mode with YAGONA_DEV=1")
