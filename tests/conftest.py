"""Fixtures shared by the whole suite: the database under test.

DATABASE_URL picks the store (CI runs the suite once on SQLite and once on PostgreSQL);
unset, each run gets a fresh SQLite file. A PostgreSQL that cannot be reached fails the run.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'yagona-test.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        try:
            with engine.begin() as conn:  # start from an empty schema every run
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        except Exception as exc:  # unreachable PostgreSQL is a failure, never a skip
            pytest.exit(f"PostgreSQL at {url} is not reachable: {exc}", returncode=3)
        finally:
            engine.dispose()
    return url


class _Served:
    """serve(handler, content_type) -> URL of a tiny HTTP server on 127.0.0.1 (port 0) that POSTs
    each body to *handler* and answers with its bytes (200), or with (status, bytes) or (status, bytes,
    extra headers); `.seen` lists the request content types, `.requests` each request's path and
    headers, `.headers` the headers alone."""

    def __init__(self) -> None:
        self.servers: list[HTTPServer] = []
        self.seen: list[str] = []
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []

    def __call__(self, handler: Callable[[bytes], bytes | tuple], content_type: str) -> str:
        seen, requests, headers = self.seen, self.requests, self.headers

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                seen.append(self.headers.get("Content-Type", ""))
                requests.append({"path": self.path, "headers": dict(self.headers)})
                headers.append(dict(self.headers.items()))
                answer = handler(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                status, extra = 200, {}
                if isinstance(answer, tuple):
                    status, answer, *more = answer
                    extra = more[0] if more else {}
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def serve() -> Iterator[_Served]:
    served = _Served()
    yield served
    for s in served.servers:
        s.shutdown()
        s.server_close()
