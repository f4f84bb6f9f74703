"""Log lines a request cannot forge: control characters in every logged field are escaped.

Paths are logged URL-decoded, and user agents, referers and forwarded addresses are whatever the
client sent, so `%0d%0a` would start a forged log line and `%1b[31m` would drive the terminal of
whoever reads the log (CWE-117). Every record goes out as one line; a traceback follows it with
each line indented, so a line that starts in the first column always starts a real record.

`yagona serve` uses both parts; another WSGI server runs gunicorn with
`--logger-class idp.logs.GunicornLogger`.
"""
from __future__ import annotations

import copy
import logging
import re
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger

#: C0 and C1 controls and DEL; the Unicode line and paragraph separators (some log viewers break
#: lines there); the bidirectional overrides and isolates, which reorder what a reader sees
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape(text: str) -> str:
    """*text* with control characters written as `\\r`, `\\n`, `\\t`, `\\xNN` or `\\uNNNN`.
    Idempotent: escaping twice changes nothing more, so layers may each escape."""
    return CONTROL.sub(_escaped, text)


class EscapingFormatter(logging.Formatter):
    """Formats a record with *inner* (by default FORMAT), then escapes the line; the traceback or
    stack, if any, follows with every line indented and escaped."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = copy.copy(record)  # the caller's record stays as it was, for other handlers
        line.msg, line.args = record.getMessage(), None
        line.exc_info = line.exc_text = line.stack_info = None
        parts = [escape(self.inner.format(line))]
        if record.exc_info:
            parts.append(_indented(self.inner.formatException(record.exc_info)))
        elif record.exc_text:
            parts.append(_indented(record.exc_text))
        if record.stack_info:
            parts.append(_indented(self.inner.formatStack(record.stack_info)))
        return "\n".join(parts)


def _indented(text: str) -> str:
    # splitlines() breaks at every separator a reader might see, \r and \x85 included
    return "\n".join("    " + escape(line) for line in text.splitlines())


def escape_handlers(*loggers: logging.Logger) -> None:
    """Wrap the formatter of every handler of *loggers* in an EscapingFormatter."""
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, EscapingFormatter):
                handler.setFormatter(EscapingFormatter(handler.formatter))


def configure(level: str) -> None:
    """The service's own logging: one escaped line per record on stderr."""
    logging.basicConfig(level=level, format=FORMAT)
    escape_handlers(logging.getLogger())


class GunicornLogger(Logger):
    """gunicorn's error and access logs, escaped: every access-log atom (request line, path, query,
    user agent, referer, headers) and every error-log record. The application's records reach
    the root logger; if nothing handles them yet, they get an escaped handler too."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
            root.setLevel(self.loglevel)
        escape_handlers(self.error_log, self.access_log, root)

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: escape(v) if isinstance(v, str) else v for k, v in atoms.items()}
