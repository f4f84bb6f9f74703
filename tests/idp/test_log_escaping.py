"""Log injection (CWE-117): a request cannot forge a log line or write terminal escapes, neither in
gunicorn's access log of a really served instance nor through the service's own loggers."""
from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from idp.logs import EscapingFormatter, escape

BIN = Path(sys.executable).parent
FORGED = "/x%0d%0a127.0.0.1%20%22GET%20/admin%22%20200%0a%1b[31mred%1b[0m%e2%80%a8%7f"
RAW = ("\r", "\n", "\x1b", "\x7f", "\u2028")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send(port: int, target: str, headers: bytes = b"") -> bytes:
    """One raw HTTP/1.1 request (requests would re-encode the target and refuse odd headers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode() + headers + b"\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def _wait_until_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/jwks", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.3)
    raise AssertionError("the server did not start")


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YAGONA_SECRET_KEY", "YAGONA_ISSUER"}}
    env.update(YAGONA_INSTANCE=str(tmp_path / "inst"), YAGONA_DEV="1")
    return env


def _lines_for(log: str, marker: str) -> list[str]:
    return [line for line in log.splitlines() if marker in line]


def test_yagona_serve_access_log_escapes_the_decoded_path(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "yagona"), "serve", "--port", str(port), "--workers", "1", "--threads", "1",
                             "--no-demo"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="surrogateescape")
    try:
        _wait_until_up(port, proc)
        assert b" 404 " in _send(port, FORGED).split(b"\r\n")[0] + b" "
        _send(port, "/after-the-forged-one")
    finally:
        log = _stop(proc)
    assert not any(c in log for c in RAW[2:]), repr(log[-2000:])
    forged = _lines_for(log, "/x")
    assert len(forged) == 1, log[-2000:]
    assert "\\r\\n127.0.0.1" in forged[0] and "\\x1b[31mred" in forged[0] and "\\x7f" in forged[0]
    assert "\\x80" in forged[0]  # PATH_INFO is bytes as latin-1 (PEP 3333): U+2028's bytes, each one safe
    assert not any(line.startswith("127.0.0.1 \"GET /admin") for line in log.splitlines())
    assert len(_lines_for(log, "/after-the-forged-one")) == 1


def test_gunicorn_with_the_logger_class_escapes_request_line_agent_and_referer(tmp_path):
    """Any WSGI deployment: `gunicorn --logger-class idp.logs.GunicornLogger`, here with an access-log
    format that carries the raw request line, the user agent and the referer."""
    env = _env(tmp_path)
    upgrade = subprocess.run([str(BIN / "yagona"), "init"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "1",
                             "--logger-class", "idp.logs.GunicornLogger", "--access-logfile", "-",
                             "--access-logformat", 'R=%(r)s U=%(U)s A="%(a)s" F="%(f)s"',
                             "idp.app:create_app()"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="surrogateescape")
    try:
        _wait_until_up(port, proc)
        # headers cannot carry C0 controls past gunicorn's parser, but tab and the 8-bit C1 controls
        # pass: CSI (0x9b) is ESC [ to many terminals, NEL (0x85) a line break to some readers
        _send(port, "/ua-check%1b[2J", b"User-Agent: agent\x9b2J\x85end\tx\r\nReferer: https://r.example/\x9b5m\r\n")
    finally:
        log = _stop(proc)
    lines = _lines_for(log, "ua-check")
    assert len(lines) == 1, log[-2000:]
    line = lines[0]
    assert not any(c in log for c in ("\x1b", "\x9b", "\x85", "\t")), repr(line)
    assert "U=/ua-check\\x1b[2J" in line and "R=GET /ua-check%1b[2J HTTP/1.1" in line
    assert 'A="agent\\x9b2J\\x85end\\tx"' in line and 'F="https://r.example/\\x9b5m"' in line


# -- the service's own loggers -----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    ("a\r\nb", "a\\r\\nb"), ("\x1b[31m", "\\x1b[31m"), ("\t\x00\x7f", "\\t\\x00\\x7f"), ("\x85", "\\x85"),
    ("\u2028\u2029", "\\u2028\\u2029"), ("\u202etxt.exe", "\\u202etxt.exe"),
    ("Ўзбекистон — ok ☺ \\n", "Ўзбекистон — ok ☺ \\n"),
])
def test_escape(raw, shown):
    assert escape(raw) == shown
    assert escape(shown) == shown  # idempotent


@pytest.fixture()
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter())
    log = logging.getLogger("yagona.test-escaping")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log, stream
    log.removeHandler(handler)


def test_a_record_is_one_line_whatever_its_arguments(captured):
    log, stream = captured
    log.info("unhandled error on %s %s", "GET", "/p\r\n2026-12-01 INFO yagona: forged\x1b[2J")
    out = stream.getvalue()
    assert out.count("\n") == 1 and "\x1b" not in out and "\r" not in out
    assert "/p\\r\\n2026-12-01 INFO yagona: forged\\x1b[2J" in out


def test_a_traceback_follows_indented_so_it_cannot_forge_a_record(captured):
    log, stream = captured
    try:
        raise ValueError("bad value\n2026-12-01 00:00:00 INFO yagona.audit: login.succeeded\x1b[0m\u2028x")
    except ValueError:
        log.exception("failed on %s", "/q\n")
    first, *rest = stream.getvalue().rstrip("\n").split("\n")
    assert "failed on /q\\n" in first
    assert rest and all(line.startswith("    ") for line in rest), rest
    assert any("ValueError: bad value" in line for line in rest)
    assert "\x1b" not in stream.getvalue() and "\u2028" not in stream.getvalue()


def test_yagona_command_configures_escaped_logging():
    """The `yagona` group sets the root logger up with the escaping formatter (as `serve` uses it)."""
    code = ("import logging; from idp.cli import main; main(['db', '--help'], standalone_mode=False); "
            "logging.getLogger('yagona').warning('x %s', 'a\\r\\nb\\x1b[31m')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "x a\\r\\nb\\x1b[31m" in out.stderr and "\x1b" not in out.stderr, out.stderr
