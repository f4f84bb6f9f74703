"""`yagona sms outbox` and `yagona email outbox`: the development backends' messages, for a tester
who has no phone to receive the code (a stable contract):

    yagona sms outbox [--phone +998901234567] [--limit N] [--json]
    yagona email outbox [--to ADDRESS] [--limit N] [--json]

Newest first; `--json` prints a list of {"to", "text", "sent_at"} (ISO 8601 UTC). Outside development
mode (YAGONA_DEV=1) there is no outbox, and the commands refuse in one line.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import click

from .accounts import normalize_phone
from .errors import UserError
from .gateways.email import normalize_email
from .gateways.messages import outbox

_limit = click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
_as_json = click.option("--json", "as_json", is_flag=True, help='print [{"to", "text", "sent_at"}]')


@click.group("sms")
def sms() -> None:
    """The development SMS outbox."""


@click.group("email")
def email() -> None:
    """The development e-mail outbox."""


@sms.command("outbox")
@click.option("--phone", help="only messages to this phone (+998901234567)")
@_limit
@_as_json
def sms_outbox(phone: str | None, limit: int, as_json: bool) -> None:
    """Text messages the development SMS backend took, newest first."""
    _show("sms", "--phone", phone, normalize_phone, "a phone is +998 and 9 digits", limit, as_json)


@email.command("outbox")
@click.option("--to", "address", help="only messages to this address")
@_limit
@_as_json
def email_outbox(address: str | None, limit: int, as_json: bool) -> None:
    """Messages the development e-mail backend took, newest first."""
    _show("email", "--to", address, normalize_email, "give one e-mail address", limit, as_json)


def _show(channel: str, option: str, to: str | None, normalize: Callable[[str], str], hint: str,
          limit: int, as_json: bool) -> None:
    from .cli import _db, _settings  # the shared one-line refusals; imported late: cli imports us

    settings = _settings()
    if not settings.dev:
        raise click.ClickException(f"there is no {channel} outbox outside development mode: it exists only when "
                                   "the service runs with YAGONA_DEV=1 (and no YAGONA_"
                                   f"{channel.upper()}_URL); set YAGONA_DEV=1 to read it")
    if to is not None:
        try:
            to = normalize(to)
        except UserError:
            raise click.BadParameter(hint, param_hint=option) from None
    with _db(settings).session() as s:
        messages = outbox(s, channel, to=to, limit=limit)
    if as_json:
        click.echo(json.dumps(messages, ensure_ascii=False, indent=2))
        return
    for m in messages:
        click.echo(f"{m['sent_at']}  {m['to']}  {m['text']}")
