"""SMS and e-mail gateways (idp/gateways/): the development outbox, the HTTP backend against a real
local server (good and bad answers), and the choice between them."""
from __future__ import annotations

import json
import secrets
import time

import pytest

from idp.config import ConfigError
from idp.errors import UserError
from idp.gateways import GatewayError, GatewayNotConfigured
from idp.gateways.email import email_gateway
from idp.gateways.messages import HttpBackend, OutboxBackend, outbox
from idp.gateways.sms import sms_gateway


def new_phone() -> str:
    return f"+99891{secrets.randbelow(10**7):07d}"


def test_development_outbox_keeps_messages_newest_first(svc):
    gateway = sms_gateway(svc.settings.with_(dev=True), svc.db)
    assert isinstance(gateway, OutboxBackend)
    phone = new_phone()
    gateway.send(phone[4:], "first")  # normalised like every phone: +998 and 9 digits
    gateway.send(phone, "second")
    with svc.db.session() as s:
        mine = outbox(s, "sms", to=phone)
        assert [m["text"] for m in mine] == ["second", "first"]
        assert all(m["to"] == phone for m in mine)
        assert not outbox(s, "email", to=phone)  # channels are apart


def test_email_outbox(svc):
    gateway = email_gateway(svc.settings.with_(dev=True), svc.db)
    address = f"ali.{secrets.token_hex(3)}@Example.UZ"
    gateway.send(address, "salom")
    with svc.db.session() as s:
        [message] = outbox(s, "email", to=address.lower())
    assert message["to"] == address.lower() and message["text"] == "salom"


@pytest.mark.parametrize("channel, bad", [("sms", "12345"), ("sms", "+7 912 345 67 89"), ("email", "not-an-address"),
                                           ("email", "a@b"), ("email", "ali@example.uz\r\nBcc: x@y.uz")])
def test_bad_address_is_refused_and_nothing_is_sent(svc, channel, bad):
    settings = svc.settings.with_(dev=True)
    gateway = sms_gateway(settings, svc.db) if channel == "sms" else email_gateway(settings, svc.db)
    text = f"never {secrets.token_hex(4)}"
    with pytest.raises(UserError):
        gateway.send(bad, text)
    with svc.db.session() as s:
        assert not [m for m in outbox(s, channel) if m["text"] == text]


def test_without_dev_mode_or_url_the_gateway_refuses_in_one_line(svc):
    for factory, name in ((sms_gateway, "SMS"), (email_gateway, "EMAIL")):
        with pytest.raises(GatewayNotConfigured) as info:
            factory(svc.settings.with_(dev=False, gateway_urls={}), svc.db)
        assert f"YAGONA_{name}_URL" in str(info.value) and "\n" not in str(info.value)


def test_http_backend_posts_json_with_the_bearer_token(svc, serve):
    received = []

    def handler(body: bytes) -> bytes:
        received.append(json.loads(body))
        return b'{"id": "42"}'

    url = serve(handler, "application/json")
    settings = svc.settings.with_(dev=True, gateway_urls={"sms": url + "/send"}, gateway_tokens={"sms": "t0ken"})
    gateway = sms_gateway(settings, svc.db)
    assert isinstance(gateway, HttpBackend)  # a configured URL wins over development mode
    phone = new_phone()
    gateway.send(phone, "Kod: 123456")
    assert received == [{"to": phone, "text": "Kod: 123456"}]
    assert serve.requests[-1]["path"] == "/send"
    assert serve.requests[-1]["headers"]["Authorization"] == "Bearer t0ken"
    assert serve.seen[-1] == "application/json"
    with svc.db.session() as s:
        assert not outbox(s, "sms", to=phone)  # the real backend never writes the outbox


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503, 302])
def test_http_backend_error_answers_are_gateway_errors(svc, serve, status):
    url = serve(lambda body: (status, b'{"error": "nope"}'), "application/json")
    gateway = HttpBackend(url, "t", channel="sms", what="SMS gateway")
    with pytest.raises(GatewayError) as info:
        gateway.send(new_phone(), "Kod: 654321")
    message = str(info.value)
    assert f"HTTP {status}" in message and "SMS gateway" in message
    assert "654321" not in message and "t0ken" not in message


def test_http_backend_timeout_is_a_gateway_error(svc, serve):
    def slow(body: bytes) -> bytes:
        time.sleep(2)
        return b"{}"

    gateway = HttpBackend(serve(slow, "application/json"), None, channel="email", what="e-mail gateway", timeout=0.3)
    with pytest.raises(GatewayError, match="e-mail gateway .* did not answer"):
        gateway.send("ali@example.uz", "salom")


def test_http_backend_unreachable_is_a_gateway_error(svc, serve):
    url = serve(lambda body: b"{}", "application/json")
    serve.servers[-1].shutdown()
    serve.servers[-1].server_close()
    gateway = HttpBackend(url, None, channel="sms", what="SMS gateway", timeout=2)
    with pytest.raises(GatewayError, match="cannot be reached"):
        gateway.send(new_phone(), "x")


@pytest.mark.parametrize("url", ["ftp://sms.example.uz/send", "http://sms.example.uz/send", "sms.example.uz",
                                 "https://user:pass@sms.example.uz/send"])
def test_http_backend_refuses_unsafe_urls(url):
    with pytest.raises(ConfigError):
        HttpBackend(url, "t", channel="sms", what="SMS gateway")


def test_https_and_loopback_http_are_accepted():
    HttpBackend("https://sms.example.uz/send", "t", channel="sms", what="SMS gateway")
    HttpBackend("http://127.0.0.1:9/send", "t", channel="sms", what="SMS gateway")
    HttpBackend("http://localhost:9/send", None, channel="sms", what="SMS gateway")


def test_a_netrc_entry_does_not_replace_the_bearer_token(svc, serve, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    url = serve(lambda body: b"{}", "application/json")
    HttpBackend(url, "t0ken", channel="sms", what="SMS gateway").send(new_phone(), "x")
    assert serve.requests[-1]["headers"]["Authorization"] == "Bearer t0ken"
