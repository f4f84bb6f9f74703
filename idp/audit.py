"""Audit trail: who did what, when, from where. Never records a secret."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from .models import AuditEvent

log = logging.getLogger("yagona.audit")


def audit(s: Session, kind: str, *, person_id: int | None = None, client_id: str | None = None,
          ip: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Record an event in the same transaction as the change it describes, and log it."""
    if ip is None:
        try:
            from flask import has_request_context, request

            if has_request_context():
                ip = request.remote_addr
        except ImportError:  # pragma: no cover
            pass
    s.add(AuditEvent(kind=kind, person_id=person_id, client_id=client_id, ip=ip, detail=detail or {}))
    log.info("%s person=%s client=%s ip=%s %s", kind, person_id, client_id, ip, detail or "")
