"""Card numbers and expiries as typed, the keyed fingerprint kept instead of the number, and the match
of a bank's holder name to the registry's names (idp/cards.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from idp.cards import (Card, card_fingerprint, card_reference, holder_matches, luhn_ok, name_words, parse_card,
                       parse_expiry, parse_pan)
from idp.errors import UserError

UZCARD, HUMO = "8600120000000011", "9860120000000014"
TODAY = dt.date(2026, 12, 2)


def _refused(key: str, fn, *args, **kwargs) -> None:
    with pytest.raises(UserError) as err:
        fn(*args, **kwargs)
    assert err.value.key == key


@pytest.mark.parametrize("typed", [UZCARD, "8600 1200 0000 0011", "8600-1200-0000-0011", " 8600 1200 0000 0011 "])
def test_a_number_is_read_with_or_without_spaces_and_dashes(typed):
    assert parse_pan(typed) == UZCARD
    assert parse_pan(HUMO) == HUMO


@pytest.mark.parametrize("typed", ["8600120000000012", "8600120000000101", "9860120000000041"])
def test_a_luhn_invalid_number_is_a_typo(typed):
    assert not luhn_ok(typed)
    _refused("card_number_mistyped", parse_pan, typed)


@pytest.mark.parametrize("typed", ["4111111111111111", "5555555555554444", "6200000000000005"])
def test_other_schemes_are_refused_naming_the_accepted_ones(typed):
    assert luhn_ok(typed)
    _refused("card_not_accepted", parse_pan, typed)
    from idp.i18n import MESSAGES
    assert all("UzCard" in text and "Humo" in text for text in MESSAGES["card_not_accepted"].values())


@pytest.mark.parametrize("typed", ["", "860012000000001", "86001200000000110", "8600 1200 0000 001X",
                                   "٨٦٠٠١٢٠٠٠٠٠٠٠٠١١", "8600.1200.0000.0011", "8" * 10_000, None])
def test_not_sixteen_ascii_digits_is_refused(typed):
    _refused("card_number_invalid", parse_pan, typed)


@pytest.mark.parametrize("typed,canonical", [("12/26", "12/26"), ("1226", "12/26"), (" 01 / 30 ", "01/30"),
                                             ("12/46", "12/46")])
def test_an_expiry_this_month_or_later_is_accepted(typed, canonical):
    assert parse_expiry(typed, today=TODAY) == canonical


@pytest.mark.parametrize("typed", ["11/26", "01/20", "12/25"])
def test_a_past_expiry_is_refused(typed):
    _refused("card_expired", parse_expiry, typed, today=TODAY)


@pytest.mark.parametrize("typed", ["13/27", "00/27", "1/27", "12/2027", "12-27", "aa/bb", "12/47", "", "1" * 1000])
def test_a_malformed_or_absurd_expiry_is_refused(typed):
    _refused("card_expiry_invalid", parse_expiry, typed, today=TODAY)


def test_a_card_never_prints_its_number():
    card = parse_card("8600 1200 0000 0011", "12/40", today=TODAY)
    assert (card.pan, card.expiry, card.last4, card.scheme) == (UZCARD, "12/40", "0011", "UzCard")
    for shown in (repr(card), str(card), f"{card}", repr([card]), repr({"card": card})):
        assert UZCARD not in shown and "0011" in shown, shown
    assert parse_card(HUMO, "01/31", today=TODAY).scheme == "Humo"


def test_the_fingerprint_finds_the_same_card_and_nothing_else():
    secret, other = b"s" * 32, b"t" * 32
    assert card_fingerprint(secret, UZCARD) == card_fingerprint(secret, "8600 1200 0000 0011")
    assert card_fingerprint(secret, UZCARD) != card_fingerprint(secret, HUMO)
    assert card_fingerprint(secret, UZCARD) != card_fingerprint(other, UZCARD)
    ref = card_reference(secret, Card(UZCARD, "12/40"))
    assert (ref.fingerprint, ref.last4, ref.scheme) == (card_fingerprint(secret, UZCARD), "0011", "UzCard")
    assert len(ref.fingerprint) == 64
    # what an account stores: no PAN, not even its first twelve digits
    for value in (ref.fingerprint, ref.last4, ref.scheme, repr(ref)):
        assert UZCARD not in value and UZCARD[:12] not in value
    _refused("card_number_mistyped", card_fingerprint, secret, "8600120000000012")


# --- the holder's name --------------------------------------------------------------------------------

VALI = {"first_name": "VALI", "last_name": "ALIYEV", "middle_name": "G'ANIYEVICH"}
NODIRA = {"first_name": "NODIRA", "last_name": "KARIMOVA", "middle_name": "ALISHER QIZI"}


@pytest.mark.parametrize("holder", ["ALIYEV VALI", "VALI ALIYEV", "vali aliyev", "ALIEV VALI", "VALI  ALIYEV",
                                    "ALIYEV VALI G'ANIYEVICH", "ALIYEV VALI GʻANIYEVICH", "ALIYEV VALI G`ANIYEVICH",
                                    "ALIYEV VALI G’ANIYEVICH", "ALIYEV VALI GANIYEVICH", "АЛИЕВ ВАЛИ"])
def test_the_bank_spelling_of_the_registry_name_matches(holder):
    assert holder_matches(holder, **VALI)


@pytest.mark.parametrize("holder,names", [
    ("QODIROV O'TKIR", {"first_name": "Oʻtkir", "last_name": "Qodirov"}),
    ("KODIROV OTKIR", {"first_name": "O'tkir", "last_name": "Qodirov"}),
    ("SHOKIROV CHORI", {"first_name": "Чори", "last_name": "Шокиров"}),
    ("ŞOKIROV ÇORI", {"first_name": "Chori", "last_name": "Shokirov"}),
    ("KHOLMATOV JAMSHID", {"first_name": "Jamshid", "last_name": "Xolmatov"}),
    ("XOLMATOV DJAMSHID", {"first_name": "Jamshid", "last_name": "Xolmatov"}),
    ("G'OZIYEV G'AYRAT", {"first_name": "Ғайрат", "last_name": "Ғозиев"}),
    ("KARIMOVA NODIRA", NODIRA),
    ("NODIRA KARIMOVA ALISHER QIZI", NODIRA),
    ("ABDUL-AZIZ RAHIMOV", {"first_name": "Abdulaziz", "last_name": "Rahimov"}),
    ("MARIAM YUSUPOVA", {"first_name": "Maryam", "last_name": "Iusupova"}),
])
def test_transliteration_variants_match(holder, names):
    assert holder_matches(holder, **names)


@pytest.mark.parametrize("holder,names", [
    ("KARIMOVA NODIRA", VALI),                       # another person's card
    ("ALIYEV VALI", NODIRA),
    ("ALIYEV", VALI),                                # the first name missing
    ("VALI", VALI),
    ("ALIYEV VALIJON", VALI),                        # a different first name
    ("ALIYEVA VALI", VALI),
    ("ALIYEV VALI KARIMOVICH", VALI),                # a word that is not the patronymic
    ("ALIYEV ALIYEV", {"first_name": "Aliyev", "last_name": "Vali"}) ,  # each name once
    ("", VALI),
    ("''' ---", VALI),
    ("ALIYEV VALI", {"first_name": "", "last_name": "ALIYEV"}),
])
def test_another_name_does_not_match(holder, names):
    assert not holder_matches(holder, **names)


def test_name_words_folds_the_apostrophes_and_spellings():
    assert name_words("G'ANIYEV Oʻg`li") == name_words("GʻANIEV O'G'LI") == ["GANIEV", "OGLI"]
    assert name_words("Qo'shqoq Kholmatov") == name_words("Кўшқоқ Холматов")


def test_a_filed_expiry_may_be_past_but_must_still_be_well_formed():
    assert parse_expiry("01/21", today=TODAY, past_ok=True) == "01/21"
    _refused("card_expiry_invalid", parse_expiry, "13/21", today=TODAY, past_ok=True)
