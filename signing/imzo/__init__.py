"""`imzo`: the command citizens and officers use for keys, signatures and checks.

Each sub-module adds its commands to `main` when it is imported, which happens when one of its
commands is asked for (COMMAND_MODULES): keys (key files and CSRs), ca (the operator's certificate
authority), sign (sign, cosign, join, timestamp, verify, extract).

Every error, usage errors included, is one line on stderr. SIGTERM and SIGHUP unwind like an error,
so the temporary file of a signature being written is removed and no half-made output is left.
"""
from __future__ import annotations

import importlib
import signal
import sys
import threading
from typing import Any, NoReturn

import click

#: Signals that end a command cleanly: a closed terminal (HUP) and a polite kill (TERM).
CLEAN_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A signal asked us to stop; raised where the program is, so `finally` and cleanup blocks run.

    A BaseException, so that no `except Exception` (or `except OSError`) on the way swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: object) -> NoReturn:
    for s in CLEAN_EXIT_SIGNALS:  # a second signal must not interrupt the cleanup of the first
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


#: The module under signing/imzo/ that defines each top-level command. A command's module is imported
#: only when that command runs (or help lists them all): `imzo sign` of a big file must not spend its
#: start-up importing the validator and the CA. A new top-level command is added here.
COMMAND_MODULES = {"keys": "keys", "ca": "ca", "sign": "sign", "cosign": "sign", "join": "sign",
                   "timestamp": "sign", "verify": "sign", "extract": "sign"}


class ImzoGroup(click.Group):
    """click.Group whose usage errors are one line, which turns SIGTERM/SIGHUP into a clean exit, and
    which imports each command's module only when it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"{__name__}.{COMMAND_MODULES[name]}")  # its decorators register it
        return super().get_command(ctx, name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        catch = threading.current_thread() is threading.main_thread()
        before = {s: signal.signal(s, _stop) for s in CLEAN_EXIT_SIGNALS} if catch else {}
        try:
            return super().main(*args, **kwargs)
        except Interrupted as exc:
            name = signal.Signals(exc.signum).name
            click.echo(f"Error: interrupted by {name}; no output file was left", err=True)
            sys.exit(128 + exc.signum)
        finally:
            for s, handler in before.items():
                if handler is not None:  # None: installed outside Python, nothing we can put back
                    signal.signal(s, handler)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None


class OneLineUsageError(click.ClickException):
    """A usage error shown as `Error: <what> (see 'imzo CMD --help')`; exit status 2 as click's."""

    exit_code = 2


def _one_line(exc: click.UsageError) -> OneLineUsageError:
    where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else " (see 'imzo --help')"
    return OneLineUsageError(exc.format_message().replace("\n", " ") + where)


@click.group(cls=ImzoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yagona", prog_name="imzo")
def main() -> None:
    """Keys, signatures and signature checks for Yagona (E-IMZO style)."""

