"""`yagona sms outbox` / `yagona email outbox` as real processes, and the development outbox page."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from idp.app import create_app
from idp.config import GATEWAYS
from idp.gateways.email import email_gateway
from idp.gateways.sms import sms_gateway

YAGONA = str(Path(sys.executable).with_name("yagona"))


@pytest.fixture()
def run(database_url, settings, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url, "YAGONA_INSTANCE": str(tmp_path / "instance"),
           "YAGONA_SECRET_KEY": settings.secret_key.decode(), "YAGONA_DEV": "1"}

    def run(*args: str, dev: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([YAGONA, *args], capture_output=True, text=True, timeout=120,
                              env={**env, "YAGONA_DEV": "1" if dev else "0"})

    return run


@pytest.fixture()
def sent(svc):
    """Two messages to one phone, one to another, one e-mail."""
    gateway = sms_gateway(svc.settings.with_(dev=True), svc.db)
    phone, other = (f"+99893{secrets.randbelow(10**7):07d}" for _ in range(2))
    gateway.send(phone, "Yagona: kod 111111")
    gateway.send(other, "Yagona: kod 222222")
    gateway.send(phone, "Yagona: kod 333333")
    address = f"u{secrets.token_hex(3)}@example.uz"
    email_gateway(svc.settings.with_(dev=True), svc.db).send(address, "Yagona: kod 444444")
    return phone, other, address


def test_sms_outbox_json_newest_first_for_one_phone(run, sent):
    phone, other, _ = sent
    out = run("sms", "outbox", "--phone", phone[4:], "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [m["text"] for m in listed] == ["Yagona: kod 333333", "Yagona: kod 111111"]
    assert set(listed[0]) == {"to", "text", "sent_at"} and listed[0]["to"] == phone
    assert listed[0]["sent_at"].endswith("Z")
    everything = json.loads(run("sms", "outbox", "--json").stdout)
    assert {m["to"] for m in everything} >= {phone, other}
    assert "444444" not in json.dumps(everything)  # e-mail is not SMS


def test_sms_outbox_text(run, sent):
    phone, _, _ = sent
    out = run("sms", "outbox", "--phone", phone)
    assert out.returncode == 0 and out.stdout.index("333333") < out.stdout.index("111111")


def test_email_outbox(run, sent):
    _, _, address = sent
    listed = json.loads(run("email", "outbox", "--to", address, "--json").stdout)
    assert listed == [{"to": address, "text": "Yagona: kod 444444", "sent_at": listed[0]["sent_at"]}]


def test_outbox_refused_outside_development_mode(run, sent):
    for channel in ("sms", "email"):
        out = run(channel, "outbox", "--json", dev=False)
        assert out.returncode != 0 and not out.stdout
        assert "YAGONA_DEV=1" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_outbox_refuses_a_bad_phone_in_one_line(run):
    out = run("sms", "outbox", "--phone", "12345")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "+998" in out.stderr


def test_outbox_page_is_404_without_development_mode(settings):
    # outside development mode every outside system needs its real backend (nothing is called here)
    real = {name: "http://127.0.0.1:9/" for name in GATEWAYS}
    client = create_app(settings.with_(dev=False, gateway_urls=real)).test_client()
    assert client.get("/dev/outbox").status_code == 404


@pytest.mark.parametrize("lang, title", [("uz", "SMS va xatlar"), ("ru", "SMS и письма"), ("en", "SMS and e-mail")])
def test_outbox_page_in_development_mode(settings, sent, lang, title):
    phone, other, address = sent
    client = create_app(settings.with_(dev=True)).test_client()
    page = client.get(f"/dev/outbox?lang={lang}&to={phone[4:]}")
    assert page.status_code == 200 and title in page.text
    assert "333333" in page.text and "111111" in page.text and "222222" not in page.text
    assert page.text.index("333333") < page.text.index("111111")
    assert "444444" in client.get(f"/dev/outbox?to={address}").text
    bad = client.get("/dev/outbox?to=%3Cscript%3E")
    assert bad.status_code == 400 and "<script>" not in bad.text
