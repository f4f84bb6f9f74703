"""Common passwords are refused (NIST SP 800-63B §3.1.1.2: check new passwords against a list of
commonly used or breached values), at registration, at a password change and from the CLI's
rules alike; the list ships with the package."""
from __future__ import annotations

from importlib import resources

import pytest
from sqlalchemy import func, select

from idp.models import Credential, Person
from idp.passwords import password_problem
from idp_helpers import Browser, csrf_from, error_key

TESTERS_PASSWORDS = ["1234567890", "password123", "Password1!", "qwertyuiop"]


def counts(svc) -> tuple[int, int]:
    with svc.db.session() as s:
        return s.scalar(select(func.count(Person.id))), s.scalar(select(func.count(Credential.id)))


@pytest.mark.parametrize("password", [*TESTERS_PASSWORDS, "ＰＡＳＳＷＯＲＤ１２３", "QWERTYUIOP", "iloveyou2026!"])
def test_registration_refuses_a_common_password(app, svc, password):
    client = app.test_client()
    page = client.get("/register?lang=en")
    before = counts(svc)
    resp = client.post("/register?lang=en", data={
        "csrf_token": csrf_from(page.text), "login": "commonpw-user", "phone": "+998901234567",
        "password": password, "password2": password, "accept_terms": "yes"})
    assert resp.status_code == 400 and error_key(resp.text) == "password_common", resp.text[-600:]
    assert "one of the most common" in resp.text and "several unrelated words" in resp.text
    assert counts(svc) == before


def test_password_change_refuses_a_common_password(app, svc, account):
    browser = Browser(app)
    assert browser.login(account).status_code == 302
    before = counts(svc)
    page = browser.get("/password?lang=en")
    resp = browser.client.post("/password?lang=en", data={
        "csrf_token": csrf_from(page.text), "current_password": account.password,
        "new_password": "password123", "new_password2": "password123"})
    assert resp.status_code == 400 and error_key(resp.text) == "password_common"
    assert counts(svc) == before and browser.login(account).status_code == 302  # the old one still works


@pytest.mark.parametrize("password", ["correct horse battery", "Tashkent-2026-spring", "Samarkand-2027-new"])
def test_uncommon_passwords_pass(password):
    assert password_problem(password, "someone") is None


def test_the_list_ships_with_the_package_and_has_ten_thousand_entries():
    text = resources.files("idp").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    header, *entries = text.splitlines()
    assert header.startswith("#") and "zxcvbn" in header and "MIT" in header
    assert len(entries) >= 10_000 and entries[:3] == ["123456", "password", "12345678"]
