"""The HTTP registry backend against a real HTTP server on 127.0.0.1: good answers, and every
kind of bad one ending in a GatewayError that says what happened (never a crash, never a match).

The suite's `serve` fixture always answers 200; a registry also answers 404, 500, slowly or too much,
so this file runs its own small server."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from idp.gateways import GatewayError
from idp.gateways.registry import HttpRegistry, RegistryMismatch, fixture_citizens

Answer = tuple[int, str, bytes]


class Registry:
    """A stand-in population registry: `answer(request_json) -> (status, content type, body)`."""

    def __init__(self) -> None:
        self.answer: Callable[[dict], Answer] = lambda body: (500, "text/plain", b"not set")
        self.requests: list[tuple[dict, str | None]] = []
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                outer.requests.append((body, self.headers.get("Authorization")))
                status, ctype, data = outer.answer(body)
                time.sleep(outer.delay)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/citizen"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture()
def remote() -> Iterator[Registry]:
    r = Registry()
    yield r
    r.server.shutdown()
    r.server.server_close()


CITIZEN = fixture_citizens()[0]
QUERY = (CITIZEN.pinfl, CITIZEN.passport_series, CITIZEN.passport_number, CITIZEN.birth_date)


def _found(citizen=CITIZEN) -> Callable[[dict], Answer]:
    return lambda body: (200, "application/json", json.dumps({"found": True, "citizen": citizen.to_json()}).encode())


def test_a_match_gives_the_citizen_and_sends_the_bearer_token(remote):
    remote.answer = _found()
    reg = HttpRegistry(remote.url, "s3cret-token")
    assert reg.lookup(*QUERY) == CITIZEN
    assert reg.by_pinfl(CITIZEN.pinfl) == CITIZEN
    (asked, auth), (by_pinfl, _) = remote.requests
    assert auth == "Bearer s3cret-token"
    assert asked == {"pinfl": CITIZEN.pinfl, "passport": CITIZEN.passport_series + CITIZEN.passport_number,
                     "birth_date": CITIZEN.birth_date.isoformat()}
    assert by_pinfl == {"pinfl": CITIZEN.pinfl}


def test_not_found_is_the_one_mismatch_error(remote):
    remote.answer = lambda body: (200, "application/json", b'{"found": false}')
    with pytest.raises(RegistryMismatch):
        HttpRegistry(remote.url, None).lookup(*QUERY)
    with pytest.raises(RegistryMismatch):
        HttpRegistry(remote.url, None).by_pinfl(CITIZEN.pinfl)


def test_a_record_for_someone_else_is_never_taken(remote):
    remote.answer = _found(fixture_citizens()[1])
    with pytest.raises(GatewayError, match="another person"):
        HttpRegistry(remote.url, None).lookup(*QUERY)
    with pytest.raises(GatewayError, match="another person"):
        HttpRegistry(remote.url, None).by_pinfl(CITIZEN.pinfl)


@pytest.mark.parametrize("status, ctype, body, message", [
    (404, "application/json", b'{"found": false}', "HTTP 404"),      # a wrong URL is not "no such person"
    (500, "text/html", b"<h1>Internal Server Error</h1>", "HTTP 500"),
    (302, "text/plain", b"", "HTTP 302"),
    (200, "application/json", b"{garbage", "not JSON"),
    (200, "text/html", b"<html>login</html>", "not JSON"),
    (200, "application/json", b"[1, 2]", "unexpected"),
    (200, "application/json", b'{"found": "yes"}', "unexpected"),
    (200, "application/json", b'{"found": true}', "unexpected"),
    (200, "application/json", b'{"found": true, "citizen": {"pinfl": 5}}', "unexpected"),
    (200, "application/json", b"[" * 60000, "not JSON"),  # nested past the parser's recursion limit, under the size cap
    (200, "application/json", b"[" * 10, "not JSON"),
    (200, "application/json", b'{"found": false, "pad": "' + b"x" * 300_000 + b'"}', "larger than"),
])
def test_bad_answers_are_gateway_errors(remote, status, ctype, body, message):
    remote.answer = lambda _body: (status, ctype, body)
    with pytest.raises(GatewayError, match=message) as caught:
        HttpRegistry(remote.url, "s3cret-token").lookup(*QUERY)
    assert "s3cret-token" not in str(caught.value)


def test_a_registry_that_does_not_answer_in_time(remote):
    remote.answer = _found()
    remote.delay = 3
    with pytest.raises(GatewayError, match="did not answer"):
        HttpRegistry(remote.url, None, timeout=0.5).lookup(*QUERY)


def test_a_registry_dripping_its_answer_is_cut_off_at_the_deadline():
    """Each byte arrives well within the read timeout, the whole answer never does: the deadline
    covers the exchange, not each read."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.05):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    threading.Thread(target=drip, daemon=True).start()
    try:
        with pytest.raises(GatewayError, match="did not answer"):
            HttpRegistry(f"http://127.0.0.1:{listener.getsockname()[1]}/", None, timeout=1).by_pinfl(CITIZEN.pinfl)
    finally:
        stop.set()
        listener.close()


def test_an_unreachable_registry(remote):
    url = remote.url
    remote.server.shutdown()
    remote.server.server_close()
    with pytest.raises(GatewayError, match="cannot reach"):
        HttpRegistry(url, None).lookup(*QUERY)
