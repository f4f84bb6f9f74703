"""`yagona registry`: the development population registry's citizens (development mode only).

    yagona registry list [--json]
    yagona registry add --pinfl P --passport AB1234567 --birth-date YYYY-MM-DD --first-name F --last-name L
                        [--middle-name M] [--first-name-cyrillic …] [--last-name-cyrillic …]
                        [--middle-name-cyrillic …] [--gender M|F] [--address …]
                        [--passport-issue-date …] [--passport-expiry-date …] [--passport-issued-by …] [--json]

Added citizens go to instance/registry.json, which every worker re-reads when it changes. Outside
development mode (YAGONA_DEV=1), or with a real registry configured, both commands refuse in one line.
"""
from __future__ import annotations

import json

import click

from .config import ConfigError, Settings, load_settings
from .gateways import GatewayError
from .gateways.registry import Citizen, DevelopmentRegistry, RegistryInputError, parse_passport


def _development_registry() -> DevelopmentRegistry:
    try:
        settings: Settings = load_settings(create=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.gateway_urls.get("registry"):
        raise click.ClickException("YAGONA_REGISTRY_URL is set: the population registry is the real one, and "
                                   "`yagona registry` works only on the development registry")
    if not settings.dev:
        raise click.ClickException("the development registry exists only in development mode: "
                                   "run with YAGONA_DEV=1 (as `python3 dev.py serve` does)")
    return DevelopmentRegistry(settings.instance_path)


@click.group("registry")
def registry() -> None:
    """The development population registry (YAGONA_DEV=1)."""


@registry.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of records")
def list_(as_json: bool) -> None:
    """The test citizens (the shipped fixture, then those added here), to register or log in as."""
    reg = _development_registry()
    try:
        everyone, added = reg.citizens(), reg.added()
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([c.to_json() for c in everyone], ensure_ascii=False, indent=1))
        return
    for c in everyone:
        names = " ".join(p for p in (c.last_name, c.first_name, c.middle_name) if p)
        cyrillic = " ".join(p for p in (c.last_name_cyrillic, c.first_name_cyrillic, c.middle_name_cyrillic) if p)
        note = " (passport expired)" if c.passport_expired() else ""
        note += " (added)" if c in added else ""
        click.echo(f"{c.pinfl}  {c.passport}  {c.birth_date.isoformat()}  {c.gender}  {names}"
                   + (f" / {cyrillic}" if cyrillic else "") + note)


@registry.command("add")
@click.option("--pinfl", required=True, help="14 digits")
@click.option("--passport", required=True, help="series and number, like AB1234567")
@click.option("--birth-date", required=True, help="YYYY-MM-DD")
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--middle-name")
@click.option("--first-name-cyrillic")
@click.option("--last-name-cyrillic")
@click.option("--middle-name-cyrillic")
@click.option("--gender", help="M or F [default: from the PINFL's first digit]")
@click.option("--address")
@click.option("--passport-issue-date", help="YYYY-MM-DD")
@click.option("--passport-expiry-date", help="YYYY-MM-DD")
@click.option("--passport-issued-by")
@click.option("--json", "as_json", is_flag=True, help="print the record added as JSON")
def add(pinfl: str, passport: str, birth_date: str, as_json: bool, **names: str | None) -> None:
    """Add a test citizen to the development registry (kept in the instance folder)."""
    reg = _development_registry()
    try:
        series, number = parse_passport(passport)
        citizen = Citizen.create(pinfl=pinfl, passport_series=series, passport_number=number,
                                 birth_date=birth_date, **names)
        reg.add(citizen)
    except (RegistryInputError, GatewayError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {reg.path}: {exc.strerror}") from None
    if as_json:
        click.echo(json.dumps(citizen.to_json(), ensure_ascii=False))
    else:
        click.echo(f"added {citizen.pinfl} {citizen.passport} {citizen.last_name} {citizen.first_name} "
                   f"to {reg.path}")
