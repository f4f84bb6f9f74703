"""The card processor gateway (idp/gateways/cards.py): the development test cards and each refusal,
the HTTP backend against a real local server (good and bad answers), and the choice between them."""
from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from idp.accounts import normalize_phone
from idp.cards import holder_matches, parse_card
from idp.config import Settings
from idp.errors import UserError
from idp.gateways import GatewayError, GatewayNotConfigured
from idp.gateways.cards import (CardBlocked, CardExpired, CardHolder, CardNoPhone, CardRefused, CardUnknown,
                                DevelopmentCards, HttpCardProcessor, DevCard, card_processor)

VALI = {"first_name": "Vali", "last_name": "Aliyev", "middle_name": "G'aniyevich"}
CITIZENS = [VALI, {"first_name": "Nodira", "last_name": "Karimova", "middle_name": "Alisher qizi"},
            {"first_name": "Sardor", "last_name": "Toshmatov", "middle_name": "Bahodirovich"}]


@pytest.fixture()
def dev(tmp_path) -> DevelopmentCards:
    return DevelopmentCards(tmp_path)


def _holder(processor, number: str, expiry: str) -> CardHolder:
    card = parse_card(number, expiry)
    return processor.holder(card.pan, card.expiry)


# --- development backend -----------------------------------------------------------------------------

def test_the_good_test_cards_give_the_holder_and_the_phone(dev):
    uzcard = _holder(dev, "8600 1200 0000 0011", "12/40")
    humo = _holder(dev, "9860 1200 0000 0014", "06/41")
    assert uzcard == CardHolder("ALIYEV VALI", "+998901234567", "good")
    assert humo.phone == "+998901234567" and holder_matches(humo.name, **VALI)


@pytest.mark.parametrize("number,expiry,refusal,key", [
    ("8600 1200 0000 0029", "12/40", CardBlocked, "card_blocked"),
    ("8600 1200 0000 0037", "12/40", CardExpired, "card_expired"),
    ("9860 1200 0000 0022", "12/40", CardNoPhone, "card_no_phone"),
    ("8600 1200 0000 0052", "12/40", CardUnknown, "card_unknown"),   # valid number, no such card
    ("8600 1200 0000 0011", "11/40", CardUnknown, "card_unknown"),   # a good card with the wrong expiry
])
def test_each_refusal_is_its_own_error_with_a_page_text(dev, number, expiry, refusal, key):
    with pytest.raises(refusal) as err:
        _holder(dev, number, expiry)
    assert isinstance(err.value, CardRefused) and isinstance(err.value, UserError) and err.value.key == key
    from idp.i18n import MESSAGES
    assert set(MESSAGES[key]) == {"uz", "ru", "en"}


def test_another_persons_card_names_its_holder_who_is_not_the_citizen(dev):
    other = _holder(dev, "8600 1200 0000 0045", "12/40")
    assert other.name == "KARIMOVA NODIRA" and not holder_matches(other.name, **VALI)


def test_the_fixture_holds_every_kind_of_card_and_only_registry_citizens():
    cards = DevelopmentCards(Path("/nonexistent")).cards()
    assert {c.state for c in cards} == {"good", "blocked", "expired"}
    assert any(c.phone is None for c in cards)
    assert {c.pan[:4] for c in cards if c.state == "good" and c.phone} == {"8600", "9860"}
    for c in cards:
        assert any(holder_matches(c.holder, **person) for person in CITIZENS), c.holder
        assert c.pan not in repr(c)


def test_an_added_card_is_found_and_the_file_is_private(dev, tmp_path):
    card = DevCard.checked("8600-1200-0000-0052", "01/33", "sardor toshmatov", "+998 93 123 45 62")
    dev.add(card)
    assert _holder(dev, "8600120000000052", "01/33") == CardHolder("SARDOR TOSHMATOV", "+998931234562")
    path = tmp_path / "dev-cards.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [c.pan for c in dev.cards()][-1] == "8600120000000052"
    assert list(tmp_path.glob(".dev-cards.json.*")) == []  # no temp file left behind


@pytest.mark.parametrize("args,words", [
    (("8600120000000011", "12/40", "ALIYEV VALI", "+998901234567"), "already a test card"),
    (("8600120000000012", "12/40", "ALIYEV VALI", "+998901234567"), "mistyped"),
    (("4111111111111111", "12/40", "ALIYEV VALI", "+998901234567"), "not accepted"),
    (("8600120000000052", "01/20", "ALIYEV VALI", "+998901234567"), "expired"),
    (("8600120000000052", "12/40", "АЛИЕВ ВАЛИ", "+998901234567"), "Latin letters"),
    (("8600120000000052", "12/40", "ALIYEV VALI", "+99890123456"), r"\+998"),
    (("8600120000000052", "12/40", "ALIYEV VALI", "+998٩٠١٢٣٤٥٦٧"), r"\+998"),
    (("8600120000000052", "12/40", "ALIYEV VALI", "+998901234567", "stolen"), "good, blocked, expired"),
])
def test_a_bad_added_card_is_refused_and_nothing_is_written(dev, tmp_path, args, words):
    with pytest.raises(ValueError, match=words):
        dev.add(DevCard.checked(*args))
    assert not (tmp_path / "dev-cards.json").exists()


def test_a_broken_added_file_is_a_gateway_error_naming_it(dev, tmp_path):
    (tmp_path / "dev-cards.json").write_text('{"cards": [{"pan": "1"}]}')
    with pytest.raises(GatewayError, match="dev-cards.json"):
        _holder(dev, "8600 1200 0000 0011", "12/40")


def test_a_phone_takes_ascii_digits_only():
    with pytest.raises(UserError):
        normalize_phone("+998٩٠١٢٣٤٥٦٧")


# --- choosing the backend ----------------------------------------------------------------------------

def _settings(tmp_path, **kw) -> Settings:
    return Settings(instance_path=tmp_path, database_url="sqlite://", issuer="http://localhost",
                    secret_key=b"k" * 32, **kw)


def test_the_backend_is_http_when_configured_development_only_in_dev_mode_else_refused(tmp_path):
    assert isinstance(card_processor(_settings(tmp_path, dev=True)), DevelopmentCards)
    http = card_processor(_settings(tmp_path, dev=True, gateway_urls={"cards": "https://cards.example.uz/holder"},
                                    gateway_tokens={"cards": "t0ken"}))
    assert isinstance(http, HttpCardProcessor) and http.token == "t0ken"
    with pytest.raises(GatewayNotConfigured, match="YAGONA_CARDS_URL"):
        card_processor(_settings(tmp_path))


@pytest.mark.parametrize("url,words", [("http://cards.example.uz/holder", "https"), ("ftp://127.0.0.1/x", "https"),
                                       ("cards.example.uz", "https"), ("https:///holder", "https"),
                                       ("http://[::1/holder", "not a URL")])
def test_a_clear_text_or_broken_processor_url_is_refused(tmp_path, url, words):
    with pytest.raises(GatewayNotConfigured, match=words):
        card_processor(_settings(tmp_path, gateway_urls={"cards": url}))


# --- HTTP backend ------------------------------------------------------------------------------------

def _json(answer: object):
    return lambda body: json.dumps(answer).encode()


def test_http_good_answer_sends_the_card_and_the_token(serve):
    bodies = []

    def processor(body: bytes) -> bytes:
        bodies.append(json.loads(body))
        return json.dumps({"state": "good", "holder": "Aliyev  Vali", "phone": "998901234567"}).encode()

    url = serve(processor, "application/json")
    holder = _holder(HttpCardProcessor(url + "/holder", "s3cret"), "8600 1200 0000 0011", "12/40")
    assert holder == CardHolder("ALIYEV VALI", "+998901234567", "good")
    assert bodies == [{"pan": "8600120000000011", "expiry": "12/40"}]
    assert serve.headers[0]["Authorization"] == "Bearer s3cret"
    assert serve.seen == ["application/json"]


@pytest.mark.parametrize("answer,refusal", [
    ({"state": "blocked"}, CardBlocked), ({"state": "expired"}, CardExpired), ({"state": "unknown"}, CardUnknown),
    ({"state": "good", "holder": "ALIYEV VALI", "phone": None}, CardNoPhone),
    ({"state": "good", "holder": "ALIYEV VALI"}, CardNoPhone),
])
def test_http_refusals_are_the_same_errors(serve, answer, refusal):
    with pytest.raises(refusal):
        _holder(HttpCardProcessor(serve(_json(answer), "application/json"), None), "8600120000000011", "12/40")


@pytest.mark.parametrize("handler,words", [
    (lambda body: b"<html>oops</html>", "not JSON"),
    (_json(["good"]), "not an object"),
    (_json({"state": "stolen"}), "unknown state"),
    (_json({"state": "good", "holder": "ALIYEV VALI", "phone": "+7 999 123 45 67"}), "holder name or phone"),
    (_json({"state": "good", "holder": "ALIYEV VALI", "phone": "+998٩٠١٢٣٤٥٦٧"}), "holder name or phone"),
    (_json({"state": "good", "holder": "<script>", "phone": "+998901234567"}), "holder name or phone"),
    (_json({"state": "good", "holder": 42, "phone": "+998901234567"}), "holder name or phone"),
    (lambda body: b'{"state": "good", "holder": "' + b"A" * 20_000 + b'"}', "more than 16384 bytes"),
    (lambda body: (500, b"{}", {}), "HTTP 500"),
    (lambda body: (401, b"{}", {}), "HTTP 401"),
])
def test_http_bad_answers_are_gateway_errors_without_the_card_number(serve, handler, words):
    processor = HttpCardProcessor(serve(handler, "application/json"), "s3cret")
    with pytest.raises(GatewayError, match=words) as err:
        _holder(processor, "8600 1200 0000 0011", "12/40")
    assert "8600120000000011" not in str(err.value) and "s3cret" not in str(err.value)


def test_http_redirect_is_not_followed_so_the_token_and_card_stay_put(serve):
    elsewhere = serve(_json({"state": "good", "holder": "ALIYEV VALI", "phone": "+998901234567"}), "application/json")
    url = serve(lambda body: (307, b"", {"Location": elsewhere + "/steal"}), "application/json")
    with pytest.raises(GatewayError, match="HTTP 307"):
        _holder(HttpCardProcessor(url, "s3cret"), "8600 1200 0000 0011", "12/40")
    assert len(serve.headers) == 1  # only the first server was asked


def test_http_silence_is_a_gateway_error(serve):
    def slow(body: bytes) -> bytes:
        time.sleep(1.5)
        return b"{}"

    with pytest.raises(GatewayError, match="did not answer within 0.3 s"):
        _holder(HttpCardProcessor(serve(slow, "application/json"), None, timeout=0.3), "8600120000000011", "12/40")


def test_http_unreachable_processor_is_a_gateway_error(tmp_path):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GatewayError, match="cannot be reached"):
        _holder(HttpCardProcessor(f"http://127.0.0.1:{port}/holder", None), "8600120000000011", "12/40")
    assert os.listdir(tmp_path) == []


def test_http_slow_drip_is_cut_at_the_deadline():
    """An answer sent a byte at a time would otherwise hold a worker for as long as the processor likes."""
    import socket
    import threading

    answer = json.dumps({"state": "good", "holder": "ALIYEV VALI", "phone": "+998901234567"}).encode() + b" " * 200
    listener = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(answer))
            try:
                for byte in answer:
                    conn.sendall(bytes([byte]))
                    sent[0] += 1
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up: that is the point

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/holder"
    try:
        with pytest.raises(GatewayError, match="did not answer within 0.5 s"):
            _holder(HttpCardProcessor(url, None, timeout=0.5), "8600120000000011", "12/40")
        server.join(30)
    finally:
        listener.close()
    assert sent[0] < len(answer)  # the client hung up mid-answer instead of reading it to the end


def test_no_card_number_reaches_the_log(dev, serve, caplog):
    caplog.set_level("DEBUG")
    url = serve(_json({"state": "blocked"}), "application/json")
    for processor in (dev, HttpCardProcessor(url, "s3cret")):
        for number in ("8600120000000011", "8600120000000029", "8600120000000052"):
            try:
                processor.holder(number, "12/40")
            except (CardRefused, GatewayError) as err:
                assert number not in f"{err!r} {err}"
    assert "860012000000" not in caplog.text and "s3cret" not in caplog.text


def test_a_filed_card_past_its_expiry_stays_listed_and_is_refused_by_the_date_check(dev, tmp_path):
    (tmp_path / "dev-cards.json").write_text(json.dumps({"cards": [
        {"pan": "8600120000000052", "expiry": "01/21", "holder": "ALIYEV VALI", "phone": "+998901234567",
         "state": "good"}]}))
    assert [c.expiry for c in dev.cards()][-1] == "01/21"
    assert _holder(dev, "8600 1200 0000 0011", "12/40").name == "ALIYEV VALI"  # the other cards still answer
    with pytest.raises(UserError) as err:
        parse_card("8600120000000052", "01/21")
    assert err.value.key == "card_expired"
