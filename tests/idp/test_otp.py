"""One-time codes (idp/otp.py): every refusal, and the limits holding under parallel requests.

Runs on the suite's database (SQLite, or PostgreSQL with DATABASE_URL), with real threads each on its
own connection: the limits are enforced by single conditional statements, not by Python locks."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import threading

import pytest
from sqlalchemy import select

from idp.gateways.messages import outbox
from idp.gateways.sms import sms_gateway
from idp.models import OneTimeCode
from idp.otp import CODES_PER_WINDOW, MAX_TRIES, OneTimeCodes, OtpError


def new_phone() -> str:
    return f"+99890{secrets.randbelow(10**7):07d}"


@pytest.fixture()
def codes(svc) -> OneTimeCodes:
    return OneTimeCodes(svc.settings)


def refused(fn, *args) -> OtpError:
    with pytest.raises(OtpError) as info:
        fn(*args)
    return info.value


def age(svc, codes, target, **delta) -> None:
    """Move a target's code row back in time, as if *delta* had passed."""
    back = dt.timedelta(**delta)
    with svc.db.session() as s:
        row = s.get(OneTimeCode, codes.row_key(target))
        row.issued_at, row.expires_at, row.window_start = (
            row.issued_at - back, row.expires_at - back, row.window_start - back)


def test_code_is_six_digits_and_checks_once(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        assert len(code) == 6 and code.isdigit()
        codes.check(s, "login", phone, code)
        assert refused(codes.check, s, "login", phone, code).key == "otp_used"


def test_only_a_keyed_hash_is_stored(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        row = s.scalar(select(OneTimeCode).where(OneTimeCode.key == codes.row_key(phone)))
    stored = " ".join(str(v) for v in (row.key, row.code_hash))
    assert code not in stored and phone not in stored and phone[1:] not in stored
    other = OneTimeCodes(svc.settings.with_(secret_key=secrets.token_hex(32).encode()))
    assert other.row_key(phone) != codes.row_key(phone)  # the hashes are keyed by the master secret


def test_wrong_code_is_refused_and_counted(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        error = refused(codes.check, s, "login", phone, wrong)
        assert error.key == "otp_wrong" and error.params == {"left": MAX_TRIES - 1}
        codes.check(s, "login", phone, code)  # still usable after a typo


def test_malformed_code_is_refused_without_a_try(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        for bad in ("", "12345", "1234567", "12a456", "١٢٣٤٥٦", code + "\x00"):
            assert refused(codes.check, s, "login", phone, bad).key == "otp_format"
        tries = s.scalar(select(OneTimeCode.tries).where(OneTimeCode.key == codes.row_key(phone)))
        assert tries == 0
        codes.check(s, "login", phone, f" {code[:3]} {code[3:]} ")  # spaces a person types are fine


def test_expired_code_is_refused(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
    age(svc, codes, phone, minutes=5, seconds=1)
    with svc.db.session() as s:
        assert refused(codes.check, s, "login", phone, code).key == "otp_expired"


def test_code_for_another_phone_or_purpose_never_matches(svc, codes):
    phone, other = new_phone(), new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        codes.issue(s, "login", other)
        assert refused(codes.check, s, "login", other, code).key == "otp_wrong"
        assert refused(codes.check, s, "reset", phone, code).key == "otp_wrong"
        assert refused(codes.check, s, "login", new_phone(), code).key == "otp_wrong"  # no code issued at all
        codes.check(s, "login", phone, code)


def test_sixth_wrong_try_is_refused_even_with_the_right_code(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        lefts = [refused(codes.check, s, "login", phone, wrong).params["left"] for _ in range(MAX_TRIES)]
        assert lefts == [4, 3, 2, 1, 0]
        assert refused(codes.check, s, "login", phone, code).key == "otp_too_many_tries"


def test_resend_too_soon_says_how_long_to_wait(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        first = codes.issue(s, "login", phone)
        error = refused(codes.issue, s, "login", phone)
        assert error.key == "otp_wait" and 55 <= error.params["seconds"] <= 60
        assert refused(codes.issue, s, "reset", phone).key == "otp_wait"  # the cooldown is per phone
        codes.check(s, "login", phone, first)  # the refused resend changed nothing
    age(svc, codes, phone, seconds=61)
    with svc.db.session() as s:
        second = codes.issue(s, "login", phone)
        codes.check(s, "login", phone, second)


def test_a_new_code_replaces_the_old_one(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        first = codes.issue(s, "login", phone)
    age(svc, codes, phone, seconds=61)
    with svc.db.session() as s:
        second = codes.issue(s, "login", phone)
        if first != second:
            assert refused(codes.check, s, "login", phone, first).key == "otp_wrong"
        codes.check(s, "login", phone, second)


def test_too_many_codes_for_one_phone(svc, codes):
    phone = new_phone()
    for _ in range(CODES_PER_WINDOW):
        with svc.db.session() as s:
            codes.issue(s, "login", phone)
        age(svc, codes, phone, seconds=61)
    with svc.db.session() as s:
        error = refused(codes.issue, s, "login", phone)
        assert error.key == "otp_too_many_codes" and 50 <= error.params["minutes"] <= 60
    age(svc, codes, phone, hours=1)
    with svc.db.session() as s:
        codes.issue(s, "login", phone)  # a new hour, a new allowance


def test_bad_purpose_is_refused(svc, codes):
    with svc.db.session() as s, pytest.raises(ValueError):
        codes.issue(s, "log:in", new_phone())


def _in_parallel(svc, n, work):
    barrier, results = threading.Barrier(n), []
    lock = threading.Lock()

    def run():
        with svc.db.session() as s:
            barrier.wait()
            try:
                work(s)
                outcome = "ok"
            except OtpError as exc:
                outcome = exc.key
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_sixteen_parallel_guesses_check_at_most_five(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    results = _in_parallel(svc, 16, lambda s: codes.check(s, "login", phone, wrong))
    assert results.count("otp_wrong") == MAX_TRIES
    assert results.count("otp_too_many_tries") == 16 - MAX_TRIES
    with svc.db.session() as s:
        assert refused(codes.check, s, "login", phone, code).key == "otp_too_many_tries"


def test_sixteen_parallel_right_codes_log_in_once(svc, codes):
    phone = new_phone()
    with svc.db.session() as s:
        code = codes.issue(s, "login", phone)
    results = _in_parallel(svc, 16, lambda s: codes.check(s, "login", phone, code))
    # one wins; the others find it spent, or (arriving before it was spent) its 5 tries taken
    assert results.count("ok") == 1 and set(results) <= {"ok", "otp_used", "otp_too_many_tries"}
    assert results.count("otp_used") >= MAX_TRIES - 1


def test_sixteen_parallel_sends_issue_one_code(svc, codes):
    phone = new_phone()
    results = _in_parallel(svc, 16, lambda s: codes.issue(s, "login", phone))
    assert results.count("ok") == 1 and results.count("otp_wait") == 15


def test_send_puts_the_code_in_the_outbox_and_logs_nothing(svc, codes, caplog):
    gateway = sms_gateway(svc.settings.with_(dev=True), svc.db)
    caplog.set_level(logging.DEBUG)
    with svc.db.session() as s:
        typed = f"9{secrets.randbelow(10)} {secrets.randbelow(10**7):07d}"  # as a person types it
        phone = codes.send(s, gateway, "login", typed, "ru")
        assert phone == "+998" + typed.replace(" ", "")
        [message] = outbox(s, "sms", to=phone)
        [code] = re.findall(r"\b\d{6}\b", message["text"])
        assert "код" in message["text"].lower()
        codes.check(s, "login", phone, code)
    assert code not in caplog.text


def test_send_refuses_a_bad_phone_and_writes_nothing(svc, codes):
    gateway = sms_gateway(svc.settings.with_(dev=True), svc.db)
    with svc.db.session() as s:
        before = s.scalar(select(OneTimeCode.key).order_by(OneTimeCode.issued_at.desc()).limit(1))
        with pytest.raises(Exception) as info:
            codes.send(s, gateway, "login", "+1 555 0100", "uz")
        assert getattr(info.value, "key", None) == "phone_invalid"
        assert s.scalar(select(OneTimeCode.key).order_by(OneTimeCode.issued_at.desc()).limit(1)) == before


def test_sending_through_the_http_gateway_logs_no_code(svc, codes, serve, caplog):
    bodies = []
    url = serve(lambda body: bodies.append(body) or b"{}", "application/json")
    gateway = sms_gateway(svc.settings.with_(gateway_urls={"sms": url}, gateway_tokens={"sms": "s3cret-token"}), svc.db)
    caplog.set_level(logging.DEBUG)
    with svc.db.session() as s:
        phone = codes.send(s, gateway, "register", new_phone(), "en")
    [code] = re.findall(r"\b\d{6}\b", json.loads(bodies[0])["text"])
    with svc.db.session() as s:
        codes.check(s, "register", phone, code)
    assert caplog.records and code not in caplog.text and "s3cret-token" not in caplog.text


def test_db_prune_forgets_dead_codes_and_old_outbox_messages(svc, codes):
    from idp.housekeeping import prune
    from idp.models import OutboxMessage

    dead, live = new_phone(), new_phone()
    with svc.db.session() as s:
        codes.issue(s, "login", dead)
        live_code = codes.issue(s, "login", live)
    age(svc, codes, dead, hours=1, minutes=1)
    gateway = sms_gateway(svc.settings.with_(dev=True), svc.db)
    gateway.send(dead, "old message")
    gateway.send(live, "new message")
    with svc.db.session() as s:
        old = s.scalar(select(OutboxMessage).where(OutboxMessage.to == dead))
        old.sent_at -= dt.timedelta(days=8)
    with svc.db.session() as s:
        counts = prune(s)
    assert counts["one_time_codes"] >= 1 and counts["outbox"] >= 1
    with svc.db.session() as s:
        assert s.get(OneTimeCode, codes.row_key(dead)) is None
        assert [m["text"] for m in outbox(s, "sms", to=dead)] == []
        assert [m["text"] for m in outbox(s, "sms", to=live)] == ["new message"]
        codes.check(s, "login", live, live_code)  # a live code survives
