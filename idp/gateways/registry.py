"""The population registry: who a person is, as the state keeps it.

A query is a PINFL with the passport series/number and the birth date a person typed; the answer is
the registry's record (`Citizen`) or `RegistryMismatch`. "No such person" and "does not match" are
one error with one message, so the registry cannot be used to learn who exists or which passport a
PINFL holds. `by_pinfl` is for certificate logins, where the certificate already proves the PINFL.
An unreachable or misbehaving registry is a `GatewayError`.

Backends (picked by `build_registry`): `DevelopmentRegistry` — the shipped fixture
`idp/data/registry.json` plus the citizens `yagona registry add` wrote into the instance folder, in
development mode only — and `HttpRegistry`, JSON over HTTPS to YAGONA_REGISTRY_URL.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hmac
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ..config import Settings
from . import GatewayError, choose_backend
from .http_json import check_url, post_json


class RegistryMismatch(Exception):
    """No person in the registry has these details: one error for "no such person" and "does not
    match", so an answer never tells whether a PINFL exists."""

    MESSAGE = "the population registry has no person with this PINFL, passport and birth date"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class RegistryInputError(ValueError):
    """A query or a new record is malformed; `field` names the input to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ASCII only: str.isdigit() and \d take '٣' and other scripts' digits
_PINFL = re.compile(r"[0-9]{14}")
_PASSPORT = re.compile(r"([A-Z]{2}) ?([0-9]{7})")
_SERIES, _NUMBER = re.compile(r"[A-Z]{2}"), re.compile(r"[0-9]{7}")
#: Uzbek Latin: the letters, oʻ/gʻ's turned comma (U+02BB) and the tutuq belgisi (U+02BC) or typed quotes
_LATIN_NAME = re.compile(r"[A-Za-z]+(?:[ \-ʻʼ'‘’`][A-Za-z]+)*[ʻʼ'‘’`]?")  # one separator a step: no backtracking
#: Cyrillic, Uzbek's Ўў Ққ Ғғ Ҳҳ included
_CYRILLIC_NAME = re.compile(r"[Ѐ-ӿ]+(?:[ \-ʼ'’][Ѐ-ӿ]+)*")
_NAME_MAX, _ADDRESS_MAX, _ISSUER_MAX = 100, 500, 200  # the Person columns' widths
_OLDEST = dt.date(1900, 1, 1)
_GENDERS = ("M", "F")


def check_pinfl(value: str) -> str:
    """A PINFL: exactly 14 ASCII digits (outer spaces dropped)."""
    value = value.strip(" ") if isinstance(value, str) else ""
    if not _PINFL.fullmatch(value):
        raise RegistryInputError("pinfl", "a PINFL is 14 digits (0-9)")
    return value


def parse_passport(value: str) -> tuple[str, str]:
    """'AB1234567' or 'ab 1234567' -> ('AB', '1234567'): two Latin letters, then 7 digits."""
    # ASCII before upper(): 'ﬀ'.upper() is 'FF'
    m = _PASSPORT.fullmatch(value.strip(" ").upper()) if isinstance(value, str) and value.isascii() else None
    if not m:
        raise RegistryInputError("passport", "a passport is 2 Latin letters and 7 digits, like AB1234567")
    return m.group(1), m.group(2)


def check_passport(series: str, number: str) -> tuple[str, str]:
    series = series.strip(" ").upper() if isinstance(series, str) and series.isascii() else ""
    number = number.strip(" ") if isinstance(number, str) else ""
    if not _SERIES.fullmatch(series) or not _NUMBER.fullmatch(number):
        raise RegistryInputError("passport", "a passport is 2 Latin letters and 7 digits, like AB1234567")
    return series, number


def check_birth_date(value: dt.date | str, today: dt.date | None = None) -> dt.date:
    """A birth date as a date or YYYY-MM-DD, between 1900 and today."""
    if isinstance(value, str):
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                raise ValueError
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise RegistryInputError("birth_date", "a birth date is a real date written YYYY-MM-DD") from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise RegistryInputError("birth_date", "a birth date is a real date written YYYY-MM-DD")
    if not _OLDEST <= value <= (today or dt.date.today()):
        raise RegistryInputError("birth_date", "a birth date must lie between 1900-01-01 and today")
    return value


def _check_name(field: str, value: str | None, *, cyrillic: bool, required: bool) -> str | None:
    label = field.replace("_", " ")
    if value is None or value == "":
        if required:
            raise RegistryInputError(field, f"the {label} is required")
        return None
    pattern, script = (_CYRILLIC_NAME, "Cyrillic") if cyrillic else (_LATIN_NAME, "Latin")
    if not isinstance(value, str) or len(value) > _NAME_MAX or not pattern.fullmatch(value):
        raise RegistryInputError(field, f"the {label} must be {script} letters (with spaces, hyphens or "
                                        f"apostrophes), at most {_NAME_MAX} characters")
    return value


def _check_text(field: str, value: str | None, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable() or value != value.strip():
        raise RegistryInputError(field, f"the {field.replace('_', ' ')} must be one line of text, at most "
                                        f"{limit} characters")
    return value


def _check_date(field: str, value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RegistryInputError(field, f"the {field.replace('_', ' ')} is a date written YYYY-MM-DD") from None


@dataclass(frozen=True)
class Citizen:
    """The registry's record of a person. Gender is "M" or "F", as Person.gender stores it."""

    pinfl: str
    last_name: str
    first_name: str
    middle_name: str | None
    last_name_cyrillic: str | None
    first_name_cyrillic: str | None
    middle_name_cyrillic: str | None
    gender: str
    birth_date: dt.date
    address: str | None
    passport_series: str
    passport_number: str
    passport_issue_date: dt.date | None
    passport_expiry_date: dt.date | None
    passport_issued_by: str | None

    @property
    def passport(self) -> str:
        return self.passport_series + self.passport_number

    def passport_expired(self, today: dt.date | None = None) -> bool:
        return self.passport_expiry_date is not None and self.passport_expiry_date < (today or dt.date.today())

    def to_json(self) -> dict[str, Any]:
        """The record as the fixture file, the HTTP registry and `registry list --json` write it."""
        out: dict[str, Any] = {"pinfl": self.pinfl, "passport": self.passport}
        for key, value in asdict(self).items():
            if key not in ("pinfl", "passport_series", "passport_number"):
                out[key] = value.isoformat() if isinstance(value, dt.date) else value
        return out

    @classmethod
    def from_json(cls, record: Any) -> Citizen:
        """Read and check one record (RegistryInputError naming the bad field); unknown keys are ignored."""
        if not isinstance(record, dict):
            raise RegistryInputError("record", "a registry record is a JSON object")
        series, number = parse_passport(record.get("passport"))  # type: ignore[arg-type]
        return cls.create(pinfl=record.get("pinfl"), passport_series=series, passport_number=number,
                          **{f.name: record.get(f.name) for f in fields(cls)
                             if f.name not in ("pinfl", "passport_series", "passport_number")})

    @classmethod
    def create(cls, *, pinfl: Any, passport_series: Any, passport_number: Any, birth_date: Any,
               last_name: Any, first_name: Any, middle_name: Any = None, last_name_cyrillic: Any = None,
               first_name_cyrillic: Any = None, middle_name_cyrillic: Any = None, gender: Any = None,
               address: Any = None, passport_issue_date: Any = None, passport_expiry_date: Any = None,
               passport_issued_by: Any = None) -> Citizen:
        """A checked record. Without a gender, the PINFL's first digit gives it (odd: male, even: female)."""
        pinfl = check_pinfl(pinfl)
        if gender in (None, ""):
            if pinfl[0] not in "123456":
                raise RegistryInputError("gender", "give the gender (M or F): this PINFL does not encode it")
            gender = "M" if int(pinfl[0]) % 2 else "F"
        gender = gender.upper() if isinstance(gender, str) else gender
        if gender not in _GENDERS:
            raise RegistryInputError("gender", "the gender is M or F")
        series, number = check_passport(passport_series, passport_number)
        return cls(
            pinfl=pinfl,
            last_name=_check_name("last_name", last_name, cyrillic=False, required=True),  # type: ignore[arg-type]
            first_name=_check_name("first_name", first_name, cyrillic=False, required=True),  # type: ignore[arg-type]
            middle_name=_check_name("middle_name", middle_name, cyrillic=False, required=False),
            last_name_cyrillic=_check_name("last_name_cyrillic", last_name_cyrillic, cyrillic=True, required=False),
            first_name_cyrillic=_check_name("first_name_cyrillic", first_name_cyrillic, cyrillic=True,
                                            required=False),
            middle_name_cyrillic=_check_name("middle_name_cyrillic", middle_name_cyrillic, cyrillic=True,
                                             required=False),
            gender=gender, birth_date=check_birth_date(birth_date),
            address=_check_text("address", address, _ADDRESS_MAX),
            passport_series=series, passport_number=number,
            passport_issue_date=_check_date("passport_issue_date", passport_issue_date),
            passport_expiry_date=_check_date("passport_expiry_date", passport_expiry_date),
            passport_issued_by=_check_text("passport_issued_by", passport_issued_by, _ISSUER_MAX),
        )


class Registry(Protocol):
    def lookup(self, pinfl: str, passport_series: str, passport_number: str,
               birth_date: dt.date | str) -> Citizen:
        """The record whose PINFL, passport and birth date all match, else RegistryMismatch."""

    def by_pinfl(self, pinfl: str) -> Citizen:
        """The record of a PINFL already proven (by a certificate), else RegistryMismatch."""


def _query(pinfl: str, series: str, number: str, birth_date: dt.date | str) -> tuple[str, str, dt.date]:
    pinfl = check_pinfl(pinfl)
    series, number = check_passport(series, number)
    return pinfl, series + number, check_birth_date(birth_date)


def _matches(found: Citizen | None, passport: str, birth_date: dt.date) -> bool:
    """Compare in constant time, and as long for a PINFL nobody holds as for a real one."""
    asked = f"{passport}|{birth_date.isoformat()}".encode()
    held = f"{found.passport}|{found.birth_date.isoformat()}".encode() if found else bytes(len(asked))
    return hmac.compare_digest(asked, held) and found is not None


# -- development backend ---------------------------------------------------------------------------
def _read_records(text: str, source: str) -> list[Citizen]:
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("citizens"), list):
            raise ValueError('expected {"citizens": [...]}')
        return [Citizen.from_json(r) for r in data["citizens"]]
    except (ValueError, RecursionError) as exc:
        raise GatewayError(f"{source} is not a registry file: {exc}") from None


def fixture_citizens() -> list[Citizen]:
    """The test citizens shipped in idp/data/registry.json (documented in its "about" entry)."""
    text = resources.files("idp").joinpath("data/registry.json").read_text(encoding="utf-8")
    return _read_records(text, "idp/data/registry.json")


class DevelopmentRegistry:
    """The fixture plus `instance/registry.json` (citizens added by `yagona registry add`), re-read
    whenever that file changes so every worker on the machine sees an addition at once."""

    FILE = "registry.json"

    def __init__(self, instance_path: Path) -> None:
        self.path = Path(instance_path) / self.FILE
        self._fixture = {c.pinfl: c for c in fixture_citizens()}
        self._added: dict[str, Citizen] = {}
        self._seen: tuple[int, int, int] | None = None

    def added(self) -> list[Citizen]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._added, self._seen = {}, None
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)  # a write replaces the file: a new inode
        if stamp != self._seen:
            self._added = {c.pinfl: c for c in _read_records(self.path.read_text(encoding="utf-8"), str(self.path))}
            self._seen = stamp
        return list(self._added.values())

    def citizens(self) -> list[Citizen]:
        return list(self._fixture.values()) + self.added()

    def _find(self, pinfl: str) -> Citizen | None:
        self.added()
        return self._fixture.get(pinfl) or self._added.get(pinfl)

    def lookup(self, pinfl: str, passport_series: str, passport_number: str,
               birth_date: dt.date | str) -> Citizen:
        pinfl, passport, born = _query(pinfl, passport_series, passport_number, birth_date)
        found = self._find(pinfl)
        if not _matches(found, passport, born):
            raise RegistryMismatch()
        assert found is not None
        return found

    def by_pinfl(self, pinfl: str) -> Citizen:
        found = self._find(check_pinfl(pinfl))
        if found is None:
            raise RegistryMismatch()
        return found

    def add(self, citizen: Citizen) -> None:
        """Add a citizen to the instance file (atomically, mode 0600, under a lock so two `add`s
        cannot lose one another); a PINFL or passport already in the registry is refused."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(self.FILE + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            everyone = self.citizens()
            if any(c.pinfl == citizen.pinfl for c in everyone):
                raise RegistryInputError("pinfl", f"PINFL {citizen.pinfl} is already in the registry")
            if any(c.passport == citizen.passport for c in everyone):
                raise RegistryInputError("passport", f"passport {citizen.passport} is already in the registry")
            records = [c.to_json() for c in self.added()] + [citizen.to_json()]
            tmp = self.path.with_name(f".{self.FILE}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"citizens": records}, fh, ensure_ascii=False, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
        finally:
            os.close(lock)  # releases the lock


# -- HTTP backend -------------------------------------------------------------------------------------
class HttpRegistry:
    """The real registry: POST {"pinfl", "passport", "birth_date"} (or {"pinfl"} alone) as JSON to
    YAGONA_REGISTRY_URL with `Authorization: Bearer YAGONA_REGISTRY_TOKEN`; the answer is 200 with
    {"found": true, "citizen": {record}} or {"found": false}. Anything else is a GatewayError — a 404
    too, so a wrong URL never passes for "no such person"."""

    WHAT = "the population registry"

    def __init__(self, url: str, token: str | None, *, timeout: float = 10.0, max_bytes: int = 64 * 1024) -> None:
        self.url, self.token, self.timeout, self.max_bytes = url, token, timeout, max_bytes

    def _ask(self, query: dict[str, str]) -> Citizen:
        answer = post_json(self.url, self.token, query, what=self.WHAT, timeout=self.timeout,
                           max_bytes=self.max_bytes)
        found = answer.get("found")
        if found is False:
            raise RegistryMismatch()
        if found is not True:
            raise GatewayError(f"{self.WHAT} gave an unexpected answer: no \"found\": true/false")
        try:
            citizen = Citizen.from_json(answer.get("citizen"))
        except RegistryInputError as exc:
            raise GatewayError(f"{self.WHAT} gave an unexpected answer: {exc}") from None
        asked = (query["pinfl"], query.get("passport", citizen.passport),
                 query.get("birth_date", citizen.birth_date.isoformat()))
        if (citizen.pinfl, citizen.passport, citizen.birth_date.isoformat()) != asked:
            raise GatewayError(f"{self.WHAT} answered with a record of another person than the one asked for")
        return citizen

    def lookup(self, pinfl: str, passport_series: str, passport_number: str,
               birth_date: dt.date | str) -> Citizen:
        pinfl, passport, born = _query(pinfl, passport_series, passport_number, birth_date)
        return self._ask({"pinfl": pinfl, "passport": passport, "birth_date": born.isoformat()})

    def by_pinfl(self, pinfl: str) -> Citizen:
        return self._ask({"pinfl": check_pinfl(pinfl)})


def build_registry(settings: Settings) -> Registry:
    """HttpRegistry when YAGONA_REGISTRY_URL is set, the development registry under YAGONA_DEV=1,
    else GatewayNotConfigured."""
    def http(url: str, token: str | None) -> Registry:
        return HttpRegistry(check_url("YAGONA_REGISTRY_URL", url), token)

    return choose_backend(settings, "registry", "population registry", http=http,
                          dev=lambda: DevelopmentRegistry(settings.instance_path))
