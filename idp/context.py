"""Per-app services and the per-request database session, reachable from any view."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session

from .accounts import Accounts
from .config import Settings
from .db import Database
from .gateways.cards import CardProcessor
from .gateways.messages import MessageGateway
from .gateways.registry import Registry
from .keys import KeyRing
from .otp import OneTimeCodes
from .passwords import Passwords
from .tokens import TokenService


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: KeyRing
    passwords: Passwords
    accounts: Accounts
    tokens: TokenService
    registry: Registry
    sms: MessageGateway
    email: MessageGateway
    cards: CardProcessor
    codes: OneTimeCodes


def services() -> Services:
    return current_app.extensions["yagona"]


def dbs() -> Session:
    """The request's session; views commit explicitly, teardown rolls back whatever they did not."""
    if "db" not in g:
        g.db = services().db.sessions()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    s = g.pop("db", None)
    if s is not None:
        s.rollback()
        s.close()
