"""`yagona cards`: the development card processor's test cards, so a tester can log in by card.

    yagona cards list [--json]
    yagona cards add --pan NUMBER --expiry MM/YY --holder "ALIYEV VALI" [--phone +998…] [--state good|blocked|expired]

Development mode only (YAGONA_DEV=1, and no YAGONA_CARDS_URL): a real processor's cards are the bank's,
and these commands print card numbers, which nothing else in Yagona does. Added cards go to the
instance folder (dev-cards.json, mode 0600); the shipped ones are in idp/data/cards.json.
"""
from __future__ import annotations

import json
from dataclasses import asdict

import click

from .config import ConfigError, load_settings
from .gateways import GatewayError
from .gateways.cards import STATES, DevCard, DevelopmentCards, card_processor


def _development_cards() -> DevelopmentCards:
    try:
        settings = load_settings(create=False)
        if not settings.dev:
            raise click.ClickException("yagona cards works only in development mode (YAGONA_DEV=1): "
                                       "a real card processor's cards are the bank's")
        processor = card_processor(settings)
    except ConfigError as exc:  # no instance here, or a YAGONA_CARDS_URL that is refused
        raise click.ClickException(str(exc)) from None
    if not isinstance(processor, DevelopmentCards):
        raise click.ClickException("YAGONA_CARDS_URL is set: cards are the real processor's, not test cards")
    return processor


def _grouped(pan: str) -> str:
    return " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))


@click.group("cards")
def cards() -> None:
    """The development card processor's test cards (YAGONA_DEV=1 only)."""


@cards.command("list")
@click.option("--json", "as_json", is_flag=True, help="a JSON list of {pan, expiry, holder, phone, state}")
def cards_list(as_json: bool) -> None:
    """List the test cards: the shipped ones, then the added ones."""
    try:
        found = _development_cards().cards()
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], indent=2, ensure_ascii=False))
        return
    for c in found:
        click.echo(f"{_grouped(c.pan)}  {c.expiry}  {c.state:<7}  {c.phone or 'no phone':<13}  {c.holder}")


@cards.command("add")
@click.option("--pan", required=True, help="16 digits, UzCard 8600… or Humo 9860…, with a valid check digit")
@click.option("--expiry", required=True, help="MM/YY, not in the past")
@click.option("--holder", required=True, help='the name as the bank has it, Latin letters: "ALIYEV VALI"')
@click.option("--phone", help="+998901234567 the bank holds; omit for a card with no phone on file")
@click.option("--state", type=click.Choice(STATES), default="good", show_default=True,
              help="what the processor answers for the card")
def cards_add(pan: str, expiry: str, holder: str, phone: str | None, state: str) -> None:
    """Add a test card to the development card processor."""
    processor = _development_cards()
    if not processor.folder.is_dir():
        raise click.ClickException(f"no instance folder {processor.folder} to keep added cards in: run 'yagona init'")
    try:
        card = DevCard.checked(pan, expiry, holder, phone, state)
        processor.add(card)
    except (ValueError, GatewayError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added test card ****{card.pan[-4:]} ({card.expiry}, {card.state}, "
               f"{card.phone or 'no phone'}) held by {card.holder}")
