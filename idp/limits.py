"""The per-IP rate limiter and its named limits: one Flask-Limiter instance that blueprints use to
declare the limits of their own routes (`@limiter.limit(LOGIN_PER_IP, methods=["POST"])`).

Counters live in Redis when REDIS_URL is set, shared by every worker and machine; in memory for the
embedded one-process default (the app factory sets RATELIMIT_STORAGE_URI). These limits slow one
address; the per-account lockout (idp/attempts.py) stays in the database and holds across addresses.
The instance is per process, so a process serves one app (tests share one storage between apps).
"""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])

#: password spraying: one address trying one or two passwords against many logins, which the
#: per-account lockout never sees (OWASP Authentication Cheat Sheet, "Account lockout")
LOGIN_PER_IP = "30/minute"
#: mass registration, and learning which logins exist from the "login taken" answer
REGISTER_PER_IP = "10/minute"
