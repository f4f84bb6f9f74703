"""A person in a real browser (Debian's Chromium driven by Playwright): from the demo portal to
the IdP, registration, login, consent, and back to the portal with their claims; then a wrong
password shown in the page's language."""
from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(locale="uz-UZ")
        yield context.new_page()
        browser.close()


def test_citizen_registers_and_logs_in_to_a_portal(live, page):
    _, issuer = live
    login = f"browser-{secrets.token_hex(3)}"
    page.goto(f"{issuer}/demo")
    page.click("text=Kirish — Yagona")
    assert "/login" in page.url and "Yagona demo portal" in page.content()
    page.click("text=Ro‘yxatdan o‘tish")
    page.fill("input[name=login]", login)
    page.fill("input[name=phone]", "+998 90 555 44 33")
    page.fill("input[name=password]", "mening parolim 2026")
    page.fill("input[name=password2]", "mening parolim 2026")
    page.check("input[name=accept_terms]")
    page.click("button[type=submit]")
    assert "Hisob yaratildi" in page.content()  # back on the login page, request kept
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "mening parolim 2026")
    page.click("button[type=submit]")
    assert "/authorize/consent" in page.content() and "Telefon raqami" in page.content()
    page.click("button[value=allow]")
    page.wait_for_url(f"{issuer}/demo")
    userinfo = page.inner_text("#userinfo")
    assert '"phone_number": "+998905554433"' in userinfo
    assert '"acr": "http://eidas.europa.eu/LoA/low"' in page.inner_text("#id-token")


def test_typo_then_language_switch_still_lands_at_the_portal(live, page, tmp_path):
    """The waiting request is an interaction named in the URL: a wrong password, then the language
    switched on the error page, and the next right password still goes back to the portal."""
    app, issuer = live
    svc = app.extensions["yagona"]
    login = f"switch-{secrets.token_hex(3)}"
    with svc.db.session() as s:
        svc.accounts.register(s, login=login, password="mening parolim 2026", phone="+998905554432",
                              accept_terms=True)
        s.commit()
    page.context.clear_cookies()
    page.goto(f"{issuer}/demo")
    page.click("text=Kirish — Yagona")
    assert "/login?i=" in page.url
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "mening parolim 2025")  # the typo
    page.click("button[type=submit]")
    assert page.inner_text("[role=alert]") == "Login yoki parol noto‘g‘ri."
    page.screenshot(path=str(tmp_path / "1-typo.png"))
    page.click("nav.langs >> text=RU")
    assert "Вход в систему" in page.content() and "i=" in page.url
    page.screenshot(path=str(tmp_path / "2-russian.png"))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "mening parolim 2026")
    page.click("button[type=submit]")
    page.click("button[value=allow]")
    page.wait_for_url(f"{issuer}/demo")
    page.screenshot(path=str(tmp_path / "3-portal.png"))
    assert '"acr": "http://eidas.europa.eu/LoA/low"' in page.inner_text("#id-token")
    assert list(tmp_path.glob("*.png")) and all(p.stat().st_size > 0 for p in tmp_path.glob("*.png"))


def test_wrong_password_is_explained_in_russian(live, page):
    _, issuer = live
    page.goto(f"{issuer}/login?lang=ru")
    page.fill("input[name=login]", "nobody-here")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.inner_text("[role=alert]") == "Неверный логин или пароль."
