"""The `yagona` command: run the service and administer it.

A stable contract operators and tools script against:

    yagona serve --host H --port P          # instance folder: $YAGONA_INSTANCE (./instance)
    yagona init                             # make the instance folder without serving
    yagona db upgrade
    yagona users add LOGIN --phone PHONE    # password on stdin
    yagona users list [--state S] | show PERSON | block PERSON | unblock PERSON | unlock PERSON
    yagona users set-password PERSON        # password on stdin
    yagona users close PERSON --yes         # final
    yagona clients add NAME --redirect-uri URI [--redirect-uri URI ...] [--json]
    yagona clients list [--json] | yagona clients remove CLIENT_ID
    yagona keys rotate [--alg ES256|RS256] | yagona keys list [--json]
    yagona registry list [--json] | yagona registry add --pinfl P --passport AB1234567 ...   # YAGONA_DEV=1 only

Only `serve` and `init` create an instance; every other command needs an existing one (or
DATABASE_URL and YAGONA_SECRET_KEY). Errors print one line and exit non-zero; nothing is half-written.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys

import click
from sqlalchemy import select

from .assurance import LEVELS, uri as acr_uri
from .config import ConfigError, Settings, load_settings
from .db import Database


def _settings(host: str = "127.0.0.1", port: int = 8000, *, create: bool = False) -> Settings:
    """The settings; only `serve` and `init` may create a missing instance (create=True)."""
    try:
        return load_settings(host=host, port=port, create=create)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _db(settings: Settings) -> Database:
    db = Database(settings.database_url)
    try:
        db.upgrade()
    except Exception as exc:  # an unreachable or wrong database: say so in one line
        raise click.ClickException(f"cannot open the database {_redact(settings.database_url)}: "
                                   f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
    return db


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable DATABASE_URL)"


class OneLineErrors(click.Group):
    """Usage errors are one line too ("Error: …", no usage banner), as the contract promises;
    a sub-command's own parse errors surface through invoke()."""

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.ctx = None
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None
            raise


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Yagona: single sign-on and e-signatures for e-government portals."""
    from .logs import configure

    configure(os.environ.get("YAGONA_LOG_LEVEL", "INFO"))  # control characters escaped: no forged lines
    logging.getLogger("alembic").setLevel(logging.WARNING)


# -- serve -------------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="gunicorn workers [default: cores]")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo/--no-demo", default=None,
              help="register a demo portal client and serve /demo [default: on with the embedded SQLite store]")
def serve(host: str, port: int, workers: int | None, threads: int, demo: bool | None) -> None:
    """Run the identity provider (gunicorn, the same app factory as any WSGI server)."""
    settings = _settings(host, port, create=True)
    if demo is None:
        demo = settings.database_url.startswith("sqlite")
    settings = settings.with_(demo=demo)
    from .gateways.build import build_gateways

    try:
        build_gateways(settings, Database(settings.database_url))  # refuse before the database or the CA is touched
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    db = _db(settings)
    from .app import create_app
    from .ca_service import embedded, ensure_development_ca

    if embedded(settings):
        ensure_development_ca(settings)  # the laptop run: a CA in the instance, served under /ca
    create_app(settings)  # generates keys on first start, before workers fork
    if demo:
        from .demo import ensure_demo_client

        info, new = ensure_demo_client(settings, db)
        _print_demo(settings, info, new)
    click.echo(f"Yagona issuer {settings.issuer} — database {_redact(settings.database_url)} — "
               f"instance {settings.instance_path}")
    os.environ["YAGONA_DEMO"] = "1" if demo else "0"
    _run_gunicorn(settings, host, port, workers or (os.cpu_count() or 1), threads)


def _print_demo(settings: Settings, info: dict, new: bool) -> None:
    click.echo("")
    click.echo("Demo portal client" + (" (registered now)" if new else "") + ":")
    click.echo(f"  client_id     {info['client_id']}")
    if new:
        click.echo(f"  client_secret {info['client_secret']}   (shown once; kept in the instance folder for /demo)")
    click.echo(f"  redirect_uri  {info['redirect_uri']}")
    click.echo(f"Try it: open {settings.issuer}/demo, register an account and log in.")
    click.echo("")


def _run_gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", "idp.logs.GunicornLogger")  # escapes every atom: no forged lines
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss')  # no query: no codes in logs
            self.cfg.set("timeout", 60)

        def load(self):
            from .app import create_app

            return create_app(settings)

    Server().run()


# -- init --------------------------------------------------------------------------------------
@main.command()
def init() -> None:
    """Make the instance (secret, database, signing keys) here or in $YAGONA_INSTANCE; keep an existing one."""
    from .keys import KeyRing

    settings = _settings(create=True)
    KeyRing(_db(settings), settings.secret_key, settings.key_retire_grace).ensure()
    click.echo(f"Yagona instance {settings.instance_path} is ready — database {_redact(settings.database_url)}")


# -- db ----------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to the newest schema."""
    settings = _settings()
    _db(settings)
    click.echo(f"database {_redact(settings.database_url)} is at the newest schema")


@db.command("prune")
def db_prune() -> None:
    """Delete expired codes, spent tokens, dead grants and old sessions (run it daily)."""
    from .housekeeping import prune

    database = _db(_settings())
    with database.session() as s:
        counts = prune(s)
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


# -- users -------------------------------------------------------------------------------------
@main.group()
def users() -> None:
    """Accounts (for operators and tests)."""


@users.command("add")
@click.argument("login")
@click.option("--phone", required=True)
@click.option("--email")
@click.option("--pinfl")
@click.option("--first-name")
@click.option("--last-name")
@click.option("--middle-name")
@click.option("--json", "as_json", is_flag=True)
def users_add(login: str, phone: str, email: str | None, pinfl: str | None, first_name: str | None,
              last_name: str | None, middle_name: str | None, as_json: bool) -> None:
    """Create a password account; the password is read from the first line of stdin."""
    from .accounts import Accounts
    from .errors import UserError

    password = _password_from_stdin("users add LOGIN --phone ...")
    if pinfl is not None and not re.fullmatch(r"[0-9]{14}", pinfl):  # ASCII: str.isdigit() takes '٣' too
        raise click.ClickException("--pinfl must be 14 digits")
    settings = _settings()
    database = _db(settings)
    accounts = Accounts(settings, _passwords(settings))
    try:
        with database.session() as s:
            person = accounts.register(s, login=login, password=password, phone=phone, email=email,
                                       accept_terms=True, pinfl=pinfl, first_name=first_name,
                                       last_name=last_name, middle_name=middle_name)
            public_id = person.public_id
    except UserError as err:
        raise click.ClickException(_user_error_text(err)) from None
    except Exception as exc:
        if exc.__class__.__name__ == "IntegrityError":
            raise click.ClickException("that PINFL or login is already registered") from None
        raise
    click.echo(json.dumps({"login": login.lower(), "sub": public_id}) if as_json else
               f"created {login.lower()} (sub {public_id})")


PERSON_HELP = "PERSON is a login, sub, PINFL or phone (or one prefixed: login:, sub:, pinfl:, phone:)"


def _password_from_stdin(usage: str) -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException(f"give the password on stdin, e.g.: echo \"$PW\" | yagona {usage}")
    return password


def _passwords(settings: Settings):
    from .passwords import Passwords

    return Passwords(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)


def _user_error_text(err) -> str:
    from .i18n import MESSAGES

    return MESSAGES.get(err.key, {}).get("en", err.key).format(**err.params)


def _operator() -> str:
    """Who runs the command, for the audit log: the operating-system account."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers)
        return f"uid {os.getuid()}"


def _attempts():
    """The guess counters, keyed under this instance's master secret (idp/attempts.py)."""
    from .attempts import Attempts

    return Attempts(_settings())


def _operate(action, *args, **kwargs) -> dict:
    """Run one operator action from idp.operators in one transaction; its refusals become one line."""
    from .errors import UserError
    from .operators import OperatorError

    database = _db(_settings())
    try:
        with database.session() as s:
            return action(s, *args, operator=_operator(), **kwargs)
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    except UserError as err:
        raise click.ClickException(_user_error_text(err)) from None


def _print_result(verb: str, result: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    facts = [f"{k.replace('_', ' ')} {v}" for k, v in result.items() if k not in ("sub", "state")]
    click.echo(f"{verb} sub {result['sub']} (now {result['state']})" + (": " + ", ".join(facts) if facts else ""))


@users.command("list", epilog=PERSON_HELP)
@click.option("--state", type=click.Choice(["pending", "active", "blocked", "closed"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
def users_list(state: str | None, limit: int, as_json: bool) -> None:
    """The newest accounts (sub, login, name, phone, state)."""
    from .operators import list_people

    rows = _operate(list_people, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['sub']}  {r['login'] or '-'}  {r['state']}  {r['phone'] or '-'}  {r['name'] or ''}".rstrip())


@users.command("show", epilog=PERSON_HELP)
@click.argument("person")
@click.option("--json", "as_json", is_flag=True)
def users_show(person: str, as_json: bool) -> None:
    """Profile, state, credentials, lockout and last login of one person (never a password hash)."""
    from .operators import show

    info = _operate(show, person, attempts=_attempts())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        if key == "credentials":
            value = "; ".join(f"{c['method']} {c['identifier'] or ''} (last used {c['last_used_at'] or 'never'})"
                              for c in value) or "none"
        elif key == "lockout":
            value = (f"locked until {value['locked_until']}" if value["locked"] else "not locked") + \
                f", {value['failed_attempts']} failed attempts"
        click.echo(f"{key:22}{'-' if value is None else value}")


def _reason_option(f):
    return click.option("--reason", help="why, for the audit log (at most 200 characters)")(f)


@users.command("block", epilog=PERSON_HELP)
@click.argument("person")
@_reason_option
@click.option("--json", "as_json", is_flag=True)
def users_block(person: str, reason: str | None, as_json: bool) -> None:
    """Stop a person logging in: ends their sessions and revokes their portals' tokens."""
    from .operators import block

    _print_result("blocked", _operate(block, person, reason=reason), as_json)


@users.command("unblock", epilog=PERSON_HELP)
@click.argument("person")
@_reason_option
@click.option("--json", "as_json", is_flag=True)
def users_unblock(person: str, reason: str | None, as_json: bool) -> None:
    """Let a blocked person log in again."""
    from .operators import unblock

    _print_result("unblocked", _operate(unblock, person, reason=reason), as_json)


@users.command("unlock", epilog=PERSON_HELP)
@click.argument("person")
@_reason_option
@click.option("--json", "as_json", is_flag=True)
def users_unlock(person: str, reason: str | None, as_json: bool) -> None:
    """End a password lockout (after failed logins) at once."""
    from .operators import unlock

    _print_result("unlocked", _operate(unlock, person, attempts=_attempts(), reason=reason), as_json)


@users.command("set-password", epilog=PERSON_HELP)
@click.argument("person")
@_reason_option
@click.option("--json", "as_json", is_flag=True)
def users_set_password(person: str, reason: str | None, as_json: bool) -> None:
    """Set a new password, read from the first line of stdin; logs the person out everywhere."""
    from .operators import set_password

    password = _password_from_stdin("users set-password PERSON")
    _print_result("new password for", _operate(set_password, person, password, _passwords(_settings()),
                                               attempts=_attempts(), reason=reason), as_json)


@users.command("close", epilog=PERSON_HELP)
@click.argument("person")
@_reason_option
@click.option("--yes", is_flag=True, help="confirm: closing is final")
@click.option("--json", "as_json", is_flag=True)
def users_close(person: str, reason: str | None, yes: bool, as_json: bool) -> None:
    """Close an account for good (ends sessions, revokes portals' tokens; the login stays taken)."""
    from .operators import close

    if not yes:
        raise click.ClickException("closing an account is final: add --yes to confirm")
    _print_result("closed", _operate(close, person, reason=reason), as_json)


# -- clients -----------------------------------------------------------------------------------
@main.group()
def clients() -> None:
    """Portals that log citizens in through Yagona."""


@clients.command("add")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-uri", "post_logout_uris", multiple=True)
@click.option("--scope", "scopes", multiple=True, help="allowed scope (repeat); default: openid profile email phone")
@click.option("--min-acr", default="low", show_default=True, type=click.Choice([*LEVELS, *map(acr_uri, LEVELS)]))
@click.option("--id-token-alg", default="ES256", show_default=True, type=click.Choice(["ES256", "RS256"]))
@click.option("--json", "as_json", is_flag=True, help="print JSON (client_id, client_secret, ...)")
def clients_add(name: str, redirect_uris: tuple[str, ...], post_logout_uris: tuple[str, ...],
                scopes: tuple[str, ...], min_acr: str, id_token_alg: str, as_json: bool) -> None:
    """Register a portal. The secret is printed once and stored only as a hash."""
    from .clients import ClientConfigError, add_client, client_info

    database = _db(_settings())
    expanded = [sc for item in scopes for sc in item.replace(",", " ").split()]
    try:
        with database.session() as s:
            new = add_client(s, name, list(redirect_uris), list(post_logout_uris), expanded or None, min_acr,
                             id_token_alg)
            info = client_info(new.client)
    except ClientConfigError as exc:
        raise click.ClickException(str(exc)) from None
    info["client_secret"] = new.secret
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(f"client_id     {info['client_id']}\nclient_secret {new.secret}\n"
                   "(the secret is shown only now; store it in the portal's configuration)")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True)
def clients_list(as_json: bool) -> None:
    """List registered portals."""
    from .clients import client_info
    from .models import Client

    database = _db(_settings())
    with database.session() as s:
        rows = [client_info(c) for c in s.scalars(select(Client).order_by(Client.created_at))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['client_id']}  {r['name']}  min_acr={r['min_acr']}  scopes={' '.join(r['scopes'])}  "
                   f"redirect={' '.join(r['redirect_uris'])}")


@clients.command("remove")
@click.argument("client_id")
def clients_remove(client_id: str) -> None:
    """Remove a portal and everything issued to it."""
    from .clients import remove_client

    database = _db(_settings())
    with database.session() as s:
        if not remove_client(s, client_id):
            raise click.ClickException(f"no client {client_id!r}; see `yagona clients list`")
    click.echo(f"removed {client_id}")


# -- keys --------------------------------------------------------------------------------------
@main.group()
def keys() -> None:
    """Token-signing keys."""


def _keyring():
    from .keys import KeyRing

    settings = _settings()
    return KeyRing(_db(settings), settings.secret_key, settings.key_retire_grace)


@keys.command("rotate")
@click.option("--alg", default="ES256", show_default=True, type=click.Choice(["ES256", "RS256"]))
def keys_rotate(alg: str) -> None:
    """Add a new signing key; the old one stays published until its tokens expire."""
    kid = _keyring().rotate(alg)
    click.echo(f"new {alg} key {kid} is active; the previous one stays in the JWKS for the grace period")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """List signing keys and their state (active, published, expired)."""
    ring = _keyring()
    ring.ensure()
    rows = ring.listing()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['kid']}  {r['alg']}  {r['state']}  created {r['created_at']}")


from .ca_cli import ca as _ca_group  # noqa: E402 - `yagona ca ...` lives in its own module

main.add_command(_ca_group)
from .cards_cli import cards as _cards_group  # noqa: E402 - `yagona cards ...`: development test cards
main.add_command(_cards_group)

from .sms_cli import email as _email_group, sms as _sms_group  # noqa: E402 - `yagona sms|email outbox`

main.add_command(_sms_group)
main.add_command(_email_group)

if __name__ == "__main__":  # pragma: no cover
    main()

from .registry_cli import registry as _registry_group  # noqa: E402 - `yagona registry ...` lives in its own module

main.add_command(_registry_group)
