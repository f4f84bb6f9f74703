"""Shared fixtures for CA, OCSP and TSA tests: a fresh CA per test (cheap KDF), a tiny HTTP server."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from ca_helpers import FAST_KDF, PASSWORD, pem
from signing.ca import CertificateAuthority


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "ca", PASSWORD, kdf_rounds=FAST_KDF)


@pytest.fixture
def ca_files(ca: CertificateAuthority, tmp_path: Path) -> dict[str, Path]:
    """root.pem, issuing.pem and chain.pem (issuing+root) for the OpenSSL CLI."""
    out = {"root": tmp_path / "root.pem", "issuing": tmp_path / "issuing.pem", "chain": tmp_path / "chain.pem"}
    out["root"].write_bytes(pem(ca.root_certificate))
    out["issuing"].write_bytes(pem(ca.issuing_certificate))
    out["chain"].write_bytes(pem(ca.issuing_certificate) + pem(ca.root_certificate))
    return out


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[bytes], bytes], str], str]]:
    """serve(handler, content_type) -> URL of a tiny HTTP server on 127.0.0.1 (port 0) POSTing bodies to *handler*."""
    servers: list[HTTPServer] = []

    def start(handler: Callable[[bytes], bytes], content_type: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = handler(body)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
