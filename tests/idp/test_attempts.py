"""The guess counters themselves: forgotten after a quiet day, pruned once forgotten, unlocked by
an operator."""
from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy import select, update

from idp import attempts
from idp.errors import UserError
from idp.housekeeping import prune
from idp.models import Attempt, utcnow


def counter(svc, login: str) -> Attempt | None:
    with svc.db.session() as s:
        return s.get(Attempt, svc.accounts.attempts.key("password", login))


def test_a_quiet_day_forgets_the_count_and_prune_deletes_it(svc):
    login, kept = f"quiet-{secrets.token_hex(4)}", f"busy-{secrets.token_hex(4)}"
    with svc.db.session() as s:
        for name in (login, kept):
            for _ in range(3):
                svc.accounts.attempts.reserve(s, "password", name)
        s.execute(update(Attempt).where(Attempt.key == svc.accounts.attempts.key("password", login))
                  .values(last_at=utcnow() - attempts.FORGET_AFTER - dt.timedelta(seconds=1)))
    with svc.db.session() as s:
        assert svc.accounts.attempts.reserve(s, "password", login).count == 1  # forgotten: starts again
        s.execute(update(Attempt).where(Attempt.key == svc.accounts.attempts.key("password", login))
                  .values(last_at=utcnow() - attempts.FORGET_AFTER - dt.timedelta(seconds=1)))
    with svc.db.session() as s:
        assert prune(s)["attempts"] >= 1  # what `yagona db prune` runs
    assert counter(svc, login) is None and counter(svc, kept).count == 3


def test_unlock_lets_a_locked_login_try_again(svc):
    login = f"locked-{secrets.token_hex(4)}"
    with svc.db.session() as s:
        for _ in range(svc.settings.lockout_threshold):
            svc.accounts.attempts.reserve(s, "password", login)
        with pytest.raises(UserError) as refused:
            svc.accounts.attempts.reserve(s, "password", login)
        assert refused.value.key == "account_locked" and refused.value.params == {"minutes": 1}
        svc.accounts.attempts.unlock(s, "password", login)
    with svc.db.session() as s:
        assert svc.accounts.attempts.reserve(s, "password", login).count == 1


def test_the_table_names_no_login(svc):
    login = f"secret-name-{secrets.token_hex(4)}"
    with svc.db.session() as s:
        svc.accounts.attempts.reserve(s, "password", login)
        keys = s.scalars(select(Attempt.key)).all()
    assert all(login not in k for k in keys) and svc.accounts.attempts.key("password", login) in keys
