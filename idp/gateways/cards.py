"""The card processor (UzCard, Humo): who holds a card, and which phone the bank has for it.

`holder(pan, expiry)` answers a `CardHolder` or refuses with one of the `CardRefused` errors (blocked,
expired, no phone on file, unknown card — a wrong expiry is an unknown card, as banks answer it); a
processor that fails or answers nonsense is a GatewayError. The refusals are UserErrors whose keys are
page texts. A number and an expiry are all it takes to ask, so a caller counts each question per card
and per address (idp/attempts.py) before asking: the processor must not become a card-testing oracle.

Backends, picked by `card_processor(settings)` through `choose_backend`:
- `HttpCardProcessor` for YAGONA_CARDS_URL: POST {"pan", "expiry"} as JSON with the bearer token
  YAGONA_CARDS_TOKEN; the answer is {"state": "good"|"blocked"|"expired"|"unknown", "holder", "phone"}.
- `DevelopmentCards` (YAGONA_DEV=1 only): the documented test cards in idp/data/cards.json, plus the
  ones an operator added with `yagona cards add` into the instance folder (dev-cards.json, 0600).
"""
from __future__ import annotations

import hmac
import json
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from keystore.files import atomic_write, locked

from ..accounts import normalize_phone
from ..cards import parse_expiry, parse_pan
from ..config import Settings
from ..errors import UserError
from . import GatewayError, GatewayNotConfigured, choose_backend

STATES = ("good", "blocked", "expired")
#: a holder name as banks emboss it: Latin capitals, apostrophes, hyphens, spaces
_HOLDER = re.compile(r"[A-Z][A-Z'ʻʼ‘’`\- ]{0,63}")
ADDED_FILE = "dev-cards.json"


class CardRefused(UserError):
    """The processor knows why this card cannot be used; `key` is the page text saying so."""

    key_name = "card_unknown"

    def __init__(self) -> None:
        super().__init__(self.key_name)


class CardUnknown(CardRefused):
    """No such card, or not with this expiry."""

    key_name = "card_unknown"


class CardBlocked(CardRefused):
    key_name = "card_blocked"


class CardExpired(CardRefused):
    """The bank holds the card as expired (reissued, closed), whatever the date typed."""

    key_name = "card_expired"


class CardNoPhone(CardRefused):
    """The bank has no phone for the card, so no code can prove the person holds it."""

    key_name = "card_no_phone"


_REFUSALS: dict[str, type[CardRefused]] = {"blocked": CardBlocked, "expired": CardExpired, "unknown": CardUnknown}


@dataclass(frozen=True)
class CardHolder:
    """The processor's answer for a usable card: the holder's name as the bank has it and the phone
    (+998901234567) the confirmation code goes to."""

    name: str
    phone: str
    state: str = "good"


class CardProcessor(Protocol):
    def holder(self, pan: str, expiry: str) -> CardHolder:
        """The holder of the card *pan* (16 digits) expiring *expiry* ("MM/YY"), or a CardRefused."""
        ...


def _usable(state: str, name: str, phone: str | None) -> CardHolder:
    """One reading of a processor's answer for every backend: a refusal, or the holder (state "good")."""
    if state != "good":
        raise _REFUSALS[state]()
    if not phone:
        raise CardNoPhone()
    return CardHolder(name, phone)


def normalize_holder(name: str) -> str:
    """A holder name as a card carries it (upper case, single spaces), or ValueError saying what is wrong."""
    folded = " ".join((name or "").upper().split())
    if not _HOLDER.fullmatch(folded):
        raise ValueError("the holder must be a name in Latin letters, as on the card (at most 64 characters)")
    return folded


# --- development backend -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DevCard:
    """A card of the development processor. Its PAN is a test number that reaches no bank."""

    pan: str = field(repr=False)
    expiry: str
    holder: str
    phone: str | None
    state: str = "good"

    @classmethod
    def checked(cls, pan: str, expiry: str, holder: str, phone: str | None, state: str = "good", *,
                filed: bool = False) -> DevCard:
        """A test card from an operator's words, or ValueError saying what to fix. *filed*: read back
        from a file, where a card may have expired since (the login refuses the past date itself)."""
        try:
            pan, expiry = parse_pan(pan), parse_expiry(expiry, past_ok=filed)
        except UserError as err:
            raise ValueError(f"{err.key.replace('_', ' ')}: use a UzCard (8600…) or Humo (9860…) number "
                             "with a valid check digit and an expiry MM/YY not in the past") from None
        try:
            phone = normalize_phone(phone) if phone else None
        except UserError:
            raise ValueError("the phone must be +998 and 9 digits") from None
        if state not in STATES:
            raise ValueError(f"the state must be one of {', '.join(STATES)}")
        return cls(pan, expiry, normalize_holder(holder), phone, state)


def _fixture_cards() -> list[DevCard]:
    data = json.loads((resources.files("idp") / "data" / "cards.json").read_text("utf-8"))
    return [DevCard.checked(c["pan"], c["expiry"], c["holder"], c.get("phone"), c.get("state", "good"), filed=True)
            for c in data["cards"]]


class DevelopmentCards:
    """The development card processor: the shipped test cards and the operator's own."""

    def __init__(self, instance_path: Path) -> None:
        self.folder = Path(instance_path)
        self.added_path = self.folder / ADDED_FILE

    def _added(self) -> list[DevCard]:
        try:
            raw = self.added_path.read_text("utf-8")
        except FileNotFoundError:
            return []
        try:
            return [DevCard.checked(**c, filed=True) for c in json.loads(raw)["cards"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise GatewayError(f"{self.added_path} is not a valid test-card file ({exc}); fix or remove it") from None

    def cards(self) -> list[DevCard]:
        """Every test card: the shipped ones first, then the added ones in the order added."""
        return _fixture_cards() + self._added()

    def add(self, card: DevCard) -> None:
        """Add *card* (atomically, the file 0600), refusing a number that is already a test card."""
        with locked(self.folder):
            added = self._added()
            if any(c.pan == card.pan for c in _fixture_cards() + added):
                raise ValueError(f"card ****{card.pan[-4:]} is already a test card")
            body = json.dumps({"cards": [asdict(c) for c in [*added, card]]}, indent=2, ensure_ascii=False)
            atomic_write(self.added_path, body.encode() + b"\n", 0o600)

    def holder(self, pan: str, expiry: str) -> CardHolder:
        found = None
        for card in self.cards():  # every card compared, in constant time: no early answer
            same = hmac.compare_digest(card.pan, pan) & hmac.compare_digest(card.expiry, expiry)
            found = card if same else found
        if found is None:
            raise CardUnknown()
        return _usable(found.state, found.holder, found.phone)


# --- HTTP backend ------------------------------------------------------------------------------------

class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused, not followed: urllib would resend the bearer token (and the card number)
    to wherever the answer points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class HttpCardProcessor:
    """The real processor behind YAGONA_CARDS_URL. Every failure is a GatewayError naming the URL and
    the cause, never the card number."""

    #: an answer is a few hundred bytes; a bigger one is refused unread (memory exhaustion)
    MAX_ANSWER = 16 * 1024

    def __init__(self, url: str, token: str | None, *, timeout: float = 10.0) -> None:
        try:
            parts = urlsplit(url)
            local = parts.hostname in ("127.0.0.1", "::1", "localhost")
        except ValueError:  # "http://[::1" and the like
            raise GatewayNotConfigured(f"YAGONA_CARDS_URL is not a URL: {url!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or (parts.scheme == "http" and not local):
            # the card number and the token would cross the network in clear text
            raise GatewayNotConfigured(f"YAGONA_CARDS_URL must be an https URL (http only on localhost), not {url!r}")
        self.url, self.token, self.timeout = url, token, timeout

    def holder(self, pan: str, expiry: str) -> CardHolder:
        answer = self._post({"pan": pan, "expiry": expiry})
        state, name, phone = answer.get("state"), answer.get("holder"), answer.get("phone")
        if state != "good" and state not in _REFUSALS:
            raise GatewayError(f"card processor {self.url} answered an unknown state")
        if state != "good":  # a refused card needs no holder: the answer's other fields are not read
            raise _REFUSALS[state]()
        try:
            name = normalize_holder(name if isinstance(name, str) else "")
            phone = normalize_phone(phone) if isinstance(phone, str) and phone else None
        except (ValueError, UserError):
            raise GatewayError(f"card processor {self.url} answered a holder name or phone we cannot use") from None
        return _usable(state, name, phone)

    def _post(self, body: dict[str, str]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        deadline = time.monotonic() + self.timeout
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                raw = b""
                while len(raw) <= self.MAX_ANSWER:  # a slow drip is cut at the deadline, a flood at the cap
                    if time.monotonic() > deadline:
                        raise GatewayError(f"card processor {self.url} did not answer within {self.timeout:g} s")
                    chunk = response.read1(4096)  # one socket read: read() would wait for all 4096
                    if not chunk:
                        break
                    raw += chunk
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"card processor {self.url} answered HTTP {exc.code}") from None
        except (socket.timeout, TimeoutError):
            raise GatewayError(f"card processor {self.url} did not answer within {self.timeout:g} s") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GatewayError(f"card processor {self.url} cannot be reached ({exc.__class__.__name__})") from None
        if len(raw) > self.MAX_ANSWER:
            raise GatewayError(f"card processor {self.url} answered more than {self.MAX_ANSWER} bytes")
        try:
            answer = json.loads(raw)
        except ValueError:
            raise GatewayError(f"card processor {self.url} answered something that is not JSON") from None
        if not isinstance(answer, dict):
            raise GatewayError(f"card processor {self.url} answered JSON that is not an object")
        return answer


def card_processor(settings: Settings) -> CardProcessor:
    """The configured card processor (HTTP), the development one in development mode, or
    GatewayNotConfigured in one line."""
    def http(url: str, token: str | None) -> CardProcessor:
        return HttpCardProcessor(url, token)

    def dev() -> CardProcessor:
        return DevelopmentCards(settings.instance_path)

    return choose_backend(settings, "cards", "card processor", http=http, dev=dev)
