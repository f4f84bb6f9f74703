"""Bank cards (UzCard, Humo) as the card login sees them: the number and expiry a person types, the
keyed fingerprint we keep instead of the number, and the match of the bank's holder name to the
population registry's.

The card number (PAN) is never stored and never logged: a `Card` prints as `UzCard ****0004`, and what
an account keeps is `card_reference()` — an HMAC-SHA256 of the PAN under a key derived from the master
secret (the same card is found again; a leaked database does not give card numbers, which a plain hash
would, the PAN space of one card scheme being small enough to enumerate) and the last four digits for
display (PCI DSS v4.0 req. 3.3-3.5: at most the last four shown, the PAN unreadable where stored).
The fingerprint is also the identifier a card's guesses are counted under (idp/attempts.py, method
"card"), so the counters table names no card either.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import UserError

#: the card schemes a citizen may use, by the first four digits of the number (ISO/IEC 7812 IIN)
SCHEMES = {"8600": "UzCard", "9860": "Humo"}
PAN_DIGITS = 16
#: longer input is refused before any regular expression sees it (a form field is not a megabyte)
MAX_INPUT = 64
#: no card is issued for longer: a far-future expiry is a typo (or a probe), not a card
MAX_YEARS_AHEAD = 20

_SEPARATORS = re.compile(r"[\s\-]")
_PAN = re.compile(r"[0-9]{16}")  # ASCII only: str.isdigit() would take '٣' too
_EXPIRY = re.compile(r"(0[1-9]|1[0-2])\s*/?\s*([0-9]{2})")


@dataclass(frozen=True)
class Card:
    """A card number and expiry that passed every check we can make without the bank."""

    pan: str = field(repr=False)
    #: "MM/YY", as printed on the card
    expiry: str

    @property
    def last4(self) -> str:
        return self.pan[-4:]

    @property
    def scheme(self) -> str:
        return SCHEMES[self.pan[:4]]

    def __repr__(self) -> str:  # never the PAN, whatever logs or prints a card
        return f"Card({self.scheme} ****{self.last4}, {self.expiry})"

    __str__ = __repr__


@dataclass(frozen=True)
class CardReference:
    """What an account keeps of a card: the keyed fingerprint (to find it again) and the last four
    digits with the scheme (to show it: "UzCard ****0004")."""

    fingerprint: str
    last4: str
    scheme: str


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812-1 Annex B check digit (Luhn): catches every single-digit typo and most swaps."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def parse_pan(number: str) -> str:
    """The 16 digits of a UzCard or Humo number typed with or without spaces and dashes.

    UserError: card_number_invalid (not 16 digits), card_number_mistyped (Luhn), card_not_accepted
    (another scheme: the message names the accepted ones)."""
    if not isinstance(number, str) or len(number) > MAX_INPUT:
        raise UserError("card_number_invalid")
    digits = _SEPARATORS.sub("", number)
    if not _PAN.fullmatch(digits):
        raise UserError("card_number_invalid")
    if not luhn_ok(digits):
        raise UserError("card_number_mistyped")
    if digits[:4] not in SCHEMES:
        raise UserError("card_not_accepted")
    return digits


def parse_expiry(text: str, *, today: dt.date | None = None, past_ok: bool = False) -> str:
    """"MM/YY" (also "MMYY", "MM / YY") of a card valid this month or later, as "MM/YY".

    A card is valid to the last day of its expiry month. UserError: card_expiry_invalid, card_expired
    (not with *past_ok*: a card kept on file may expire after it was filed)."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        raise UserError("card_expiry_invalid")
    m = _EXPIRY.fullmatch(text.strip())
    if not m:
        raise UserError("card_expiry_invalid")
    month, year = int(m.group(1)), 2000 + int(m.group(2))
    today = today or dt.datetime.now(dt.timezone.utc).date()
    if (year, month) < (today.year, today.month) and not past_ok:
        raise UserError("card_expired")
    if year > today.year + MAX_YEARS_AHEAD:
        raise UserError("card_expiry_invalid")
    return f"{month:02d}/{year % 100:02d}"


def parse_card(number: str, expiry: str, *, today: dt.date | None = None) -> Card:
    """A `Card` from what a person typed, or UserError saying what to correct."""
    return Card(parse_pan(number), parse_expiry(expiry, today=today))


def _fingerprint_key(secret: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"yagona card fingerprints").derive(secret)


def card_fingerprint(secret: bytes, pan: str) -> str:
    """HMAC-SHA256 (hex) of the card's 16 digits under a key derived from the master *secret*."""
    return hmac.new(_fingerprint_key(secret), parse_pan(pan).encode(), hashlib.sha256).hexdigest()


def card_reference(secret: bytes, card: Card) -> CardReference:
    """What to store for *card*: its fingerprint, last four digits and scheme — never the PAN."""
    return CardReference(card_fingerprint(secret, card.pan), card.last4, card.scheme)


# --- the holder's name -------------------------------------------------------------------------------

#: the apostrophe in o', g' and the tutuq belgisi, as keyboards, banks and registries write it
_APOSTROPHES = "'`ʻʼ‘’´ʹ′"
#: Uzbek Cyrillic to Uzbek Latin (the 1995 alphabet), for registry names given in Cyrillic
_CYRILLIC = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "YO", "Ж": "J", "З": "Z", "И": "I",
    "Й": "Y", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R", "С": "S", "Т": "T",
    "У": "U", "Ф": "F", "Х": "X", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SH", "Ъ": "", "Ы": "I", "Ь": "",
    "Э": "E", "Ю": "YU", "Я": "YA", "Ў": "O", "Қ": "Q", "Ғ": "G", "Ҳ": "H",
    # the 1993 Uzbek Latin alphabet, still on some older cards
    "Ş": "SH", "Ç": "CH", "Ğ": "G", "Ö": "O", "Ñ": "NG",
}
#: spellings of one sound that banks, Russian-style transliteration (Алиев → ALIEV) and Uzbek Latin
#: (ALIYEV) use for the same name, each folded to one form; order matters (DZH before ZH)
_FOLDS = (("DZH", "J"), ("DJ", "J"), ("ZH", "J"), ("KH", "X"), ("Q", "K"), ("W", "V"), ("YE", "E"),
          ("IU", "YU"), ("IA", "YA"))
_WORD = re.compile(r"[A-Z]+")


def name_words(name: str) -> list[str]:
    """The words of a person's name, folded so that spellings of the same name compare equal:
    upper case, Cyrillic transliterated, apostrophes dropped (G'/Gʻ/G`/G’ → G, O' → O), hyphens joined,
    and the Russian/Uzbek/bank spellings of one sound made one (KH/X, Q/K, YE/E, DJ/J, IU/YU ...)."""
    text = unicodedata.normalize("NFKC", name or "")[:MAX_INPUT * 4].upper()
    text = "".join(_CYRILLIC.get(ch, ch) for ch in text)
    text = "".join(ch for ch in text if ch not in _APOSTROPHES and ch != "-")
    words = []
    for word in _WORD.findall(text):
        for spelled, folded in _FOLDS:
            word = word.replace(spelled, folded)
        words.append(word)
    return words


def holder_matches(holder: str, *, first_name: str, last_name: str, middle_name: str | None = None) -> bool:
    """Is the name on the card (as the bank gives it: Latin capitals, either order, often without the
    patronymic) the registry's person? The first and last names must both be there, once each; any
    other word must be part of the patronymic. A bank's spelling differs from the registry's
    (ALIEV / ALIYEV, G'ANI / GʻANI / GANI, KHOLMATOV / XOLMATOV), so both are folded first."""
    card = name_words(holder)
    first, last = name_words(first_name), name_words(last_name)
    if not card or not first or not last:
        return False
    rest = list(card)
    for part in (*first, *last):
        if part not in rest:
            return False
        rest.remove(part)
    patronymic = set(name_words(middle_name or ""))
    return all(word in patronymic for word in rest)
