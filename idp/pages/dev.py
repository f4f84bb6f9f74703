"""Development-only pages: /dev/outbox lists what the development SMS and e-mail backends "sent",
so a person testing in a browser can read a code without a phone. The blueprint is registered only
in development mode (YAGONA_DEV=1); otherwise the path does not exist (404)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from ..accounts import normalize_phone
from ..context import dbs
from ..errors import UserError
from ..gateways.email import normalize_email
from ..gateways.messages import outbox
from ..i18n import t

bp = Blueprint("dev", __name__, url_prefix="/dev")
#: the newest messages shown per channel
SHOWN = 100


@bp.get("/outbox")
def outbox_page() -> str:
    """Both outboxes, newest first; `?to=` a phone (as a person types it) or an e-mail address."""
    to = (request.args.get("to") or "").strip()
    channels: dict[str, str | None] = {"sms": None, "email": None}
    if to:
        try:
            channels = {"email": normalize_email(to)} if "@" in to else {"sms": normalize_phone(to)}
        except UserError:
            abort(400, description=t("outbox_to_invalid"))
    s = dbs()
    messages = [dict(m, channel=channel) for channel, address in channels.items()
                for m in outbox(s, channel, to=address, limit=SHOWN)]
    messages.sort(key=lambda m: m["sent_at"], reverse=True)  # stable: each channel is newest first already
    return render_template("dev_outbox.html", messages=messages, to=to)
