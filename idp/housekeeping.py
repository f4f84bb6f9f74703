"""Pruning of rows that can no longer matter, so token tables do not grow without bound
(Hydra's token tables reached 17 GB without a janitor). Run `yagona db prune` from cron."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from . import attempts, challenges, interactions, otp
from .gateways import messages
from .db import rowcount
from .models import AuthorizationCode, Grant, LoginSession, RefreshToken, RevokedAccessToken, utcnow

#: how long spent or revoked records are kept for investigations before they go
KEEP = dt.timedelta(days=7)


def prune(s: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete expired codes, dead refresh tokens and grants, expired revocation entries and
    ended sessions older than KEEP. Returns the number of rows deleted per table."""
    now = now or utcnow()
    cutoff = now - KEEP
    dead_grants = select(Grant.id).where(or_(Grant.expires_at < cutoff, Grant.revoked_at < cutoff))
    counts = {
        "authorization_codes": rowcount(s.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff))),
        "refresh_tokens": rowcount(s.execute(delete(RefreshToken).where(or_(
            RefreshToken.expires_at < cutoff, RefreshToken.used_at < cutoff,
            RefreshToken.grant_id.in_(dead_grants))))),
        "revoked_access_tokens": rowcount(s.execute(
            delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now))),
        "login_sessions": rowcount(s.execute(delete(LoginSession).where(or_(
            LoginSession.ended_at < cutoff, LoginSession.last_seen_at < cutoff)))),
        "attempts": attempts.prune(s, now),
        "one_time_codes": otp.prune(s, now),
        "outbox": messages.prune(s, cutoff),
        "signature_challenges": challenges.prune(s, now),
        "interactions": interactions.prune(s, now),
    }
    counts["grants"] = rowcount(s.execute(delete(Grant).where(Grant.id.in_(dead_grants.scalar_subquery()))
                                          .execution_options(synchronize_session=False)))
    return counts
