"""`yagona users list | show | block | unblock | unlock | set-password | close`: an operator helping
a citizen, through the real command against the suite's database, with the app on the same database
for what the citizen sees (login, portal tokens)."""
from __future__ import annotations

import json
import secrets
import subprocess

import pytest
from sqlalchemy import select

from idp.errors import UserError
from idp.models import AuditEvent, Person
from idp_helpers import PASSWORD, Account



@pytest.fixture()
def citizen(run) -> Account:
    """A person made by `yagona users add`, with a PINFL and a phone of their own."""
    login = f"fuqaro-{secrets.token_hex(4)}"
    pinfl = f"4{secrets.randbelow(10**13):013d}"
    phone = f"+99893{secrets.randbelow(10**7):07d}"
    out = run("users", "add", login, "--phone", phone, "--pinfl", pinfl, "--first-name", "Dilnoza",
              "--last-name", "Yusupova", "--json", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    acc = Account(login, PASSWORD, json.loads(out.stdout)["sub"], 0)
    acc.pinfl, acc.phone = pinfl, phone  # type: ignore[attr-defined]
    return acc


def _refused(out: subprocess.CompletedProcess, words: str) -> None:
    assert out.returncode != 0, out.stdout
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert words in out.stderr, out.stderr


def _audit(svc, sub: str) -> list[tuple[str, dict]]:
    with svc.db.session() as s:
        person_id = s.scalar(select(Person.id).where(Person.public_id == sub))
        return [(e.kind, e.detail) for e in s.scalars(select(AuditEvent).where(AuditEvent.person_id == person_id)
                                                      .order_by(AuditEvent.id))]


def _state(svc, sub: str) -> str:
    with svc.db.session() as s:
        return s.scalar(select(Person.state).where(Person.public_id == sub))


def _can_log_in(svc, login: str, password: str) -> str:
    """'ok', or the message key the login refuses with."""
    with svc.db.session() as s:
        try:
            svc.accounts.authenticate(s, login, password)
        except UserError as err:
            return err.key
    return "ok"


def _portal_session(browser, portal, citizen) -> str:
    """Log the citizen in through a portal; returns the refresh token."""
    return browser.tokens_for(portal, citizen)["refresh_token"]


def _refresh_works(browser, portal, refresh: str) -> bool:
    return browser.token(portal, {"grant_type": "refresh_token", "refresh_token": refresh}).status_code == 200


def _logged_in(browser) -> bool:
    return browser.get("/").status_code == 200


def test_show_finds_by_login_sub_pinfl_and_phone_and_never_prints_a_hash(run, citizen, svc):
    refs = (citizen.login.upper(), citizen.public_id, citizen.pinfl, citizen.phone, "+998 " + citizen.phone[4:])
    shown = [json.loads(run("users", "show", ref, "--json").stdout) for ref in refs]
    assert {p["sub"] for p in shown} == {citizen.public_id}
    person = shown[0]
    assert person["login"] == citizen.login and person["pinfl"] == citizen.pinfl and person["phone"] == citizen.phone
    assert person["state"] == "active" and person["last_login_at"] is None
    assert person["first_name"] == "Dilnoza" and person["last_name"] == "Yusupova"
    assert [c["method"] for c in person["credentials"]] == ["password"]
    assert person["lockout"] == {"failed_attempts": 0, "locked_until": None, "locked": False}
    text = run("users", "show", citizen.login)
    assert text.returncode == 0 and citizen.public_id in text.stdout and "active" in text.stdout
    for out in (json.dumps(shown), text.stdout):
        assert "argon2" not in out and "secret_hash" not in out and PASSWORD not in out
    assert {k for k, _ in _audit(svc, citizen.public_id) if k.startswith("operator.")} == {"operator.viewed"}


def test_list_shows_people_newest_first_and_filters_by_state(run, citizen, svc):
    listed = json.loads(run("users", "list", "--json").stdout)
    assert listed[0]["sub"] == citizen.public_id and listed[0]["login"] == citizen.login
    assert listed[0]["state"] == "active" and "credentials" not in listed[0]
    assert citizen.login in run("users", "list").stdout
    assert run("users", "block", citizen.login).returncode == 0
    blocked = json.loads(run("users", "list", "--state", "blocked", "--json").stdout)
    assert citizen.public_id in {p["sub"] for p in blocked} and {p["state"] for p in blocked} == {"blocked"}
    assert len(json.loads(run("users", "list", "--limit", "1", "--json").stdout)) == 1
    _refused(run("users", "list", "--state", "sleeping"), "sleeping")
    _refused(run("users", "list", "--limit", "0"), "0")


@pytest.mark.parametrize("command", ["show", "block", "unblock", "unlock", "close", "set-password"])
def test_unknown_person_is_refused(run, command):
    extra = ["--yes"] if command == "close" else []
    _refused(run("users", command, "nobody-" + secrets.token_hex(3), *extra, stdin="new long password 1\n"),
             "no person")


def test_a_shared_phone_names_no_one(run, citizen):
    out = run("users", "add", f"second-{secrets.token_hex(3)}", "--phone", citizen.phone, stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    _refused(run("users", "block", citizen.phone), "names 2 people")
    assert json.loads(run("users", "show", f"login:{citizen.login}", "--json").stdout)["state"] == "active"


def test_block_ends_sessions_and_portal_grants_and_unblock_lets_in_again(run, citizen, svc, browser, portal):
    refresh = _portal_session(browser, portal, citizen)
    assert _logged_in(browser)
    _refused(run("users", "block", citizen.login, "--reason", "x" * 201), "at most 200")
    assert _state(svc, citizen.public_id) == "active" and _logged_in(browser)  # the refusal changed nothing
    out = run("users", "block", citizen.public_id, "--reason", "stolen phone reported", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "blocked" and result["sessions_ended"] == 1 and result["grants_revoked"] == 1
    assert not _refresh_works(browser, portal, refresh) and not _logged_in(browser)
    # a blocked account answers like a wrong password
    assert _can_log_in(svc, citizen.login, PASSWORD) == "login_failed"
    _refused(run("users", "block", citizen.login), "already blocked")

    out = run("users", "unblock", citizen.login)
    assert out.returncode == 0 and "active" in out.stdout, out.stderr
    assert _can_log_in(svc, citizen.login, PASSWORD) == "ok"
    _refused(run("users", "unblock", citizen.login), "not blocked")
    events = [(k, d) for k, d in _audit(svc, citizen.public_id) if k.startswith("operator.")]
    assert [k for k, _ in events] == ["operator.blocked", "operator.unblocked"]
    assert events[0][1]["reason"] == "stolen phone reported" and events[0][1]["operator"]


def test_unlock_clears_the_password_lockout(run, citizen, svc):
    for _ in range(svc.settings.lockout_threshold):
        assert _can_log_in(svc, citizen.login, "a wrong password") == "login_failed"
    assert _can_log_in(svc, citizen.login, PASSWORD) == "account_locked"
    lockout = json.loads(run("users", "show", citizen.login, "--json").stdout)["lockout"]
    assert lockout["locked"] and lockout["failed_attempts"] == svc.settings.lockout_threshold

    out = run("users", "unlock", citizen.login, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["was_locked"] is True
    assert json.loads(run("users", "show", citizen.login, "--json").stdout)["lockout"]["locked"] is False
    assert _can_log_in(svc, citizen.login, PASSWORD) == "ok"
    assert "operator.unlocked" in [k for k, _ in _audit(svc, citizen.public_id)]


def test_set_password_applies_the_rules_and_logs_out_everywhere(run, citizen, svc, browser, portal):
    refresh = _portal_session(browser, portal, citizen)
    _refused(run("users", "set-password", citizen.login, stdin="short\n"), "at least 10")
    _refused(run("users", "set-password", citizen.login, stdin=f"x{citizen.login}x123\n"), "login")
    _refused(run("users", "set-password", citizen.login, stdin=""), "stdin")
    assert _can_log_in(svc, citizen.login, PASSWORD) == "ok"  # the refusals changed nothing
    assert _refresh_works(browser, portal, refresh) and _logged_in(browser)
    assert "operator.password_set" not in [k for k, _ in _audit(svc, citizen.public_id)]

    new = "a fresh passphrase 42"
    out = run("users", "set-password", citizen.login, "--json", stdin=new + "\n")
    assert out.returncode == 0, out.stderr
    assert new not in out.stdout + out.stderr and json.loads(out.stdout)["grants_revoked"] >= 1
    assert _can_log_in(svc, citizen.login, PASSWORD) == "login_failed"
    assert _can_log_in(svc, citizen.login, new) == "ok"
    assert not _logged_in(browser)
    events = _audit(svc, citizen.public_id)
    assert "operator.password_set" in [k for k, _ in events]
    assert new not in json.dumps([d for _, d in events])


def test_close_is_final_and_asks_to_be_sure(run, citizen, svc, browser, portal):
    refresh = _portal_session(browser, portal, citizen)
    _refused(run("users", "close", citizen.login), "--yes")
    assert _state(svc, citizen.public_id) == "active" and _refresh_works(browser, portal, refresh)

    out = run("users", "close", citizen.login, "--yes", "--reason", "citizen asked", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "closed"
    assert _state(svc, citizen.public_id) == "closed" and not _logged_in(browser)
    assert _can_log_in(svc, citizen.login, PASSWORD) == "login_failed"  # a closed account answers like a wrong password
    _refused(run("users", "close", citizen.login, "--yes"), "already closed")
    for command in ("block", "unblock", "unlock", "set-password"):
        _refused(run("users", command, citizen.login, stdin="another long password\n"), "closed")
    assert _state(svc, citizen.public_id) == "closed"
    assert [k for k, _ in _audit(svc, citizen.public_id) if k.startswith("operator.")] == ["operator.closed"]
