"""Login methods as plug-ins: each is a `Method` in the table `METHODS`.

A method is a blueprint with its own steps, limits and gateway; it proves who a person is and
ends in one call, `finish.finish_login(interaction, person, method)`. The table drives the login
page (one entry per method that can reach the level still needed), discovery's
`acr_values_supported`, the `amr` in tokens and the per-IP limits on the methods' steps. Adding a
method is adding an entry: no other method changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app

from ..assurance import LEVELS, RANK, satisfies
from ..models import Person


@dataclass(frozen=True)
class Method:
    """What the rest of Yagona knows about one way to log in."""

    #: its name: the credential's `method`, the audit log's and the page's data-method
    name: str
    #: the i18n key of its title on the login page
    label: str
    #: the level (acr) it proves on its own
    acr: str
    #: RFC 8176 authentication method references it proves
    amr: tuple[str, ...]
    blueprint: Blueprint
    #: the template drawn for it on the login page (it gets `iid`, `login_hint`, `login_value`)
    form: str
    #: per-IP limits on its steps' POSTs (Flask-Limiter strings)
    limits: tuple[str, ...] = ()
    #: the level it proves for a person whose passport an operator checked in person, if higher
    verified_acr: str | None = None

    def level_for(self, person: Person) -> str:
        """The level a login by this method reaches for *person*."""
        if self.verified_acr is not None and person.identity_verified_at is not None \
                and RANK[self.verified_acr] > RANK[self.acr]:
            return self.verified_acr
        return self.acr

    def best_level(self) -> str:
        """The most this method can reach for anyone (what the login page offers it for)."""
        return max((self.acr, self.verified_acr or self.acr), key=RANK.__getitem__)

    def reaches(self, level: str, person: Person | None = None) -> bool:
        """Whether a login by this method can meet *level*: for *person* if known, else for anyone."""
        return satisfies(self.level_for(person) if person is not None else self.best_level(), level)


def enabled() -> tuple[Method, ...]:
    """The methods of the running app (create_app's `methods`, by default `METHODS`)."""
    return current_app.extensions["yagona_methods"]


def reachable_levels(methods: tuple[Method, ...]) -> list[str]:
    """The levels some method can reach, lowest first (discovery's acr_values_supported)."""
    return [level for level in LEVELS if any(m.reaches(level) for m in methods)]


def register(app, methods: tuple[Method, ...]) -> None:  # noqa: ANN001 - a Flask app
    """Give *app* its methods: their blueprints, their per-IP limits, the table for the pages."""
    app.extensions["yagona_methods"] = methods
    for method in methods:
        _limit(method)
        app.register_blueprint(method.blueprint)


_limited: set[str] = set()


def _limit(method: Method) -> None:
    """Declare the method's per-IP limits on every POST of its blueprint, once per process: the
    limiter keeps them by blueprint name, for every app the process serves (idp/limits.py)."""
    from ..limits import limiter

    if method.blueprint.name in _limited:
        return
    for limit in method.limits:
        limiter.limit(limit, methods=["POST"])(method.blueprint)
    _limited.add(method.blueprint.name)


from .password import METHOD as PASSWORD  # noqa: E402 - the table needs Method defined first

METHODS: tuple[Method, ...] = (PASSWORD,)
