"""The per-IP rate limiter: one Flask-Limiter instance that blueprints use to declare the limits of
their own routes (`@limiter.limit(...)`). Counters live in Redis when REDIS_URL is set, shared by
every worker; in memory for the embedded one-process default."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])
