"""The population registry gateway: the development backend (the shipped fixture plus citizens an
operator added in the instance folder), input validation, and the choice of backend."""
from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from idp.config import ConfigError, Settings
from idp.gateways import GatewayError, GatewayNotConfigured
from idp.gateways.registry import (Citizen, DevelopmentRegistry, HttpRegistry, RegistryInputError,
                                   RegistryMismatch, build_registry, fixture_citizens, parse_passport)


def _settings(tmp_path, **kw) -> Settings:
    return Settings(instance_path=tmp_path, database_url="sqlite://", issuer="http://localhost",
                    secret_key=b"k" * 64, **kw)


@pytest.fixture()
def registry(tmp_path) -> DevelopmentRegistry:
    return DevelopmentRegistry(tmp_path)


@pytest.fixture()
def alisher() -> Citizen:
    return next(c for c in fixture_citizens() if c.first_name == "Alisher")


def test_fixture_has_varied_citizens_in_both_scripts():
    citizens = fixture_citizens()
    assert len(citizens) >= 10
    assert len({c.pinfl for c in citizens}) == len(citizens)
    assert len({(c.passport_series, c.passport_number) for c in citizens}) == len(citizens)
    assert {c.gender for c in citizens} == {"M", "F"}
    for c in citizens:
        assert c.first_name and c.last_name and c.first_name_cyrillic and c.last_name_cyrillic
        assert all("\u0400" <= ch <= "\u04ff" for ch in c.last_name_cyrillic if ch.isalpha())
        assert c.passport_issue_date and c.passport_expiry_date and c.passport_issued_by and c.address
    today = dt.date(2026, 12, 1)
    assert [c for c in citizens if c.passport_expired(today)], "one citizen must hold an expired passport"


def test_lookup_gives_the_registry_record(registry, alisher):
    got = registry.lookup(alisher.pinfl, alisher.passport_series, alisher.passport_number, alisher.birth_date)
    assert got == alisher
    assert registry.by_pinfl(alisher.pinfl) == alisher


def test_no_such_person_and_every_mismatch_are_one_error(registry, alisher):
    other = next(c for c in fixture_citizens() if c.pinfl != alisher.pinfl)
    wrong = [
        ("39999999999999", alisher.passport_series, alisher.passport_number, alisher.birth_date),  # nobody
        (alisher.pinfl, alisher.passport_series, "0000000", alisher.birth_date),                   # passport
        (alisher.pinfl, "ZZ", alisher.passport_number, alisher.birth_date),                        # series
        (alisher.pinfl, alisher.passport_series, alisher.passport_number,
         alisher.birth_date + dt.timedelta(days=1)),                                              # birth date
        (alisher.pinfl, other.passport_series, other.passport_number, other.birth_date),           # someone else's
    ]
    messages = set()
    for query in wrong:
        with pytest.raises(RegistryMismatch) as caught:
            registry.lookup(*query)
        messages.add(str(caught.value))
    with pytest.raises(RegistryMismatch) as caught:
        registry.by_pinfl("39999999999999")
    messages.add(str(caught.value))
    assert len(messages) == 1, messages


@pytest.mark.parametrize("query, field", [
    (("3230194019006", "AB", "1234567", "1994-01-23"), "pinfl"),       # 13 digits
    (("323019401900666", "AB", "1234567", "1994-01-23"), "pinfl"),     # 15
    (("3230194019006٦", "AB", "1234567", "1994-01-23"), "pinfl"),      # an Arabic-Indic digit
    (("32301940190066\n", "AB", "1234567", "1994-01-23"), "pinfl"),
    (("32301940190066", "A1", "1234567", "1994-01-23"), "passport"),
    (("32301940190066", "АВ", "1234567", "1994-01-23"), "passport"),   # Cyrillic look-alikes
    (("32301940190066", "\ufb00", "1234567", "1994-01-23"), "passport"),  # the ligature ﬀ, upper-cased FF
    (("32301940190066", "AB", "123456", "1994-01-23"), "passport"),
    (("32301940190066", "AB", "12345678", "1994-01-23"), "passport"),
    (("32301940190066", "AB", "1234567", "23.01.1994"), "birth_date"),
    (("32301940190066", "AB", "1234567", "1994-02-30"), "birth_date"),
    (("32301940190066", "AB", "1234567", "2999-01-01"), "birth_date"),  # in the future
    (("32301940190066", "AB", "1234567", "1850-01-01"), "birth_date"),
])
def test_bad_input_is_refused_with_the_field_named(registry, query, field):
    with pytest.raises(RegistryInputError) as caught:
        registry.lookup(*query)
    assert caught.value.field == field and field.split("_")[0] in str(caught.value).lower()


def test_passport_is_read_in_the_forms_people_write_it():
    assert parse_passport("AB1234567") == ("AB", "1234567")
    assert parse_passport(" ab 1234567 ") == ("AB", "1234567")
    for bad in ("AB123456", "A1234567", "ABC1234567", "", "AB-1234567x", "\ufb001234567"):  # ﬀ.upper() == FF
        with pytest.raises(RegistryInputError):
            parse_passport(bad)


def _new_citizen(pinfl="51205061234567", passport="FA7654321") -> Citizen:
    series, number = parse_passport(passport)
    return Citizen(pinfl=pinfl, last_name="Toʻxtayeva", first_name="Gulnora", middle_name=None,
                   last_name_cyrillic="Тўхтаева", first_name_cyrillic="Гулнора", middle_name_cyrillic=None,
                   gender="F", birth_date=dt.date(2006, 5, 12), address=None, passport_series=series,
                   passport_number=number, passport_issue_date=None, passport_expiry_date=None,
                   passport_issued_by=None)


def test_added_citizens_are_seen_by_every_worker_and_the_file_is_private(tmp_path):
    first, second = DevelopmentRegistry(tmp_path), DevelopmentRegistry(tmp_path)
    second.by_pinfl(fixture_citizens()[0].pinfl)  # the second worker has read the registry before the add
    new = _new_citizen()
    first.add(new)
    assert second.lookup(new.pinfl, "FA", "7654321", "2006-05-12") == new
    path = tmp_path / "registry.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["citizens"][0]["pinfl"] == new.pinfl
    assert not [p for p in os.listdir(tmp_path) if p not in ("registry.json", "registry.json.lock")]


def test_add_refuses_a_pinfl_or_passport_already_in_the_registry(tmp_path, alisher):
    reg = DevelopmentRegistry(tmp_path)
    with pytest.raises(RegistryInputError, match="PINFL"):
        reg.add(_new_citizen(pinfl=alisher.pinfl))
    with pytest.raises(RegistryInputError, match="passport"):
        reg.add(_new_citizen(passport=alisher.passport_series + alisher.passport_number))
    assert not (tmp_path / "registry.json").exists()


def test_a_broken_instance_file_is_a_gateway_error_not_a_crash(tmp_path, alisher):
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(GatewayError, match="registry.json"):
        DevelopmentRegistry(tmp_path).by_pinfl(alisher.pinfl)


def test_backend_choice(tmp_path):
    assert isinstance(build_registry(_settings(tmp_path, dev=True)), DevelopmentRegistry)
    real = build_registry(_settings(tmp_path, gateway_urls={"registry": "https://registry.example.uz/v1/citizen"},
                                    gateway_tokens={"registry": "t0ken"}))
    assert isinstance(real, HttpRegistry)
    with pytest.raises(GatewayNotConfigured, match="YAGONA_REGISTRY_URL"):
        build_registry(_settings(tmp_path))
    for url in ("http://registry.example.uz/", "ftp://registry.example.uz/", "registry.example.uz"):
        with pytest.raises(ConfigError, match="YAGONA_REGISTRY_URL"):
            build_registry(_settings(tmp_path, gateway_urls={"registry": url}))


def test_the_app_carries_the_registry(app):
    assert isinstance(app.extensions["yagona"].registry, DevelopmentRegistry)
