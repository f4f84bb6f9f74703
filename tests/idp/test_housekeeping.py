"""`yagona db prune` removes what can no longer matter and nothing that still can."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from idp.housekeeping import prune
from idp.models import AuthorizationCode, Grant, RefreshToken


def test_prune_keeps_live_grants_and_removes_dead_ones(browser, portal, account, svc):
    live = browser.tokens_for(portal, account)
    old = browser.tokens_for(portal, account)
    with svc.db.session() as s:
        old_rt = svc.tokens.find_refresh(s, old["refresh_token"])[1]
        grant = s.get(Grant, old_rt.id)
        grant.revoked_at = grant.created_at - dt.timedelta(days=30)
        for code in s.scalars(select(AuthorizationCode).where(AuthorizationCode.grant_id == grant.id)):
            code.expires_at = code.created_at - dt.timedelta(days=30)
    with svc.db.session() as s:
        counts = prune(s)
    assert counts["grants"] >= 1 and counts["refresh_tokens"] >= 1 and counts["authorization_codes"] >= 1
    with svc.db.session() as s:
        assert s.get(Grant, old_rt.id) is None
        assert s.scalar(select(func.count()).select_from(RefreshToken)
                        .where(RefreshToken.grant_id == old_rt.id)) == 0
    refreshed = browser.token(portal, {"grant_type": "refresh_token", "refresh_token": live["refresh_token"]})
    assert refreshed.status_code == 200  # the live family is untouched
