"""Walking the IdP's login and consent pages over real HTTP, the way a person's browser does."""
from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests


def walk_login(browser: requests.Session, url: str, login: str, password: str, stop_at: str) -> tuple[str, list[str]]:
    """Follow redirects from *url*, fill the login form and allow consent; return the first URL
    under *stop_at* the IdP redirects to, and the scopes the consent page listed (if one was shown)."""
    shown: list[str] = []
    step: str | tuple[str, dict] = url
    for _ in range(12):
        resp = browser.get(step, allow_redirects=False) if isinstance(step, str) else \
            browser.post(step[0], data=step[1], allow_redirects=False)
        if resp.status_code in (301, 302, 303):
            step = urljoin(resp.url, resp.headers["Location"])
            if step.startswith(stop_at):
                return step, shown
            continue
        assert resp.status_code == 200, resp.text[:400]
        form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', resp.text).group(1)}
        iid = re.search(r'name="i" value="([^"]+)"', resp.text)
        if iid:
            form["i"] = iid.group(1)
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', resp.text).group(1))
        if 'name="password"' in resp.text:
            form.update(login=login, password=password)
        else:
            shown = re.findall(r'data-scope="([^"]+)"', resp.text)
            form["decision"] = "allow"
        step = (urljoin(resp.url, action), form)
    raise AssertionError("login did not finish")
