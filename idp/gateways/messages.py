"""What the SMS and e-mail gateways share: one interface, `send(to, text)`, and its two backends.

The development backend is an outbox: a database table (`outbox`) rather than a file, so every
worker, every machine on a shared PostgreSQL, the `yagona sms outbox` command and the /dev/outbox
page see the same messages, with the database's own locking instead of ours. The HTTP backend posts
`{"to": ..., "text": ...}` as JSON to the configured URL with the bearer token; any 2xx answer means
the message was accepted, anything else is a GatewayError.

A message carries one-time codes: no backend logs a text, and no error message quotes one.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import requests.auth
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..config import ConfigError
from ..db import Database, rowcount
from ..models import OutboxMessage
from . import GatewayError

#: seconds to connect and to wait for each answer: a stalled gateway must not hold a worker thread
TIMEOUT = 10.0


class MessageGateway(Protocol):
    """Sends one short text to one address (a phone for SMS, an e-mail address for e-mail)."""

    def send(self, to: str, text: str) -> None: ...


class OutboxBackend:
    """The development backend: each message is a row of the `outbox` table, committed at once."""

    def __init__(self, db: Database, channel: str, address: Callable[[str], str] = str.strip) -> None:
        self.db, self.channel, self.address = db, channel, address

    def send(self, to: str, text: str) -> None:
        to = self.address(to)
        with self.db.session() as s:
            s.add(OutboxMessage(channel=self.channel, to=to, text=text))


class HttpBackend:
    """The real gateway over HTTP(S): POST JSON {"to", "text"} with `Authorization: Bearer TOKEN`."""

    def __init__(self, url: str, token: str | None, *, channel: str, what: str,
                 address: Callable[[str], str] = str.strip, timeout: float = TIMEOUT) -> None:
        check_url(url, what)
        self.url, self.token, self.channel, self.what = url, token, channel, what
        self.address, self.timeout = address, timeout
        self.origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"

    def send(self, to: str, text: str) -> None:
        to = self.address(to)
        try:
            # no redirects: the bearer token goes to the configured host only
            with requests.post(self.url, json={"to": to, "text": text}, auth=_Bearer(self.token),
                               timeout=self.timeout, allow_redirects=False, stream=True) as answer:
                status = answer.status_code
        except requests.Timeout:
            raise GatewayError(f"the {self.what} at {self.origin} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise GatewayError(f"the {self.what} at {self.origin} cannot be reached "
                               f"({exc.__class__.__name__})") from None
        if not 200 <= status < 300:
            raise GatewayError(f"the {self.what} at {self.origin} answered HTTP {status}")


class _Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer TOKEN` (none without a token). Given as `auth`, so requests does not
    replace it with credentials for the host found in a ~/.netrc."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.token:
            r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def check_url(url: str, what: str) -> None:
    """Refuse a gateway URL that would leak the bearer token or the codes: plain http except to this
    machine, credentials in the URL (they end up in logs), anything but http(s)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the {what} URL must be an https:// URL, not {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"the {what} URL must not carry a user or password: use its _TOKEN setting")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ConfigError(f"the {what} URL must use https (plain http only to this machine): {parts.hostname}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def outbox(s: Session, channel: str, to: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The development outbox of *channel*, newest first: [{"to", "text", "sent_at"}] with sent_at
    as ISO 8601 UTC ("2026-12-02T05:30:00Z") — the `yagona sms outbox --json` contract."""
    query = select(OutboxMessage).where(OutboxMessage.channel == channel)
    if to is not None:
        query = query.where(OutboxMessage.to == to)
    rows = s.scalars(query.order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc()).limit(limit))
    return [{"to": m.to, "text": m.text, "sent_at": m.sent_at.replace(microsecond=0).isoformat() + "Z"} for m in rows]


def prune(s: Session, before: dt.datetime) -> int:
    """Delete development outbox messages sent before *before*; return how many (`yagona db prune`)."""
    return rowcount(s.execute(delete(OutboxMessage).where(OutboxMessage.sent_at < before)))
