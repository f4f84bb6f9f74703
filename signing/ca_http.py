"""The CA's services over HTTP, without a web framework: CRLs, OCSP (RFC 6960) and a TSA (RFC 3161).

One core, two doors. `CAServices` turns a request (method, path, content type, body) into an
`Answer` (status, content type, bytes); `make_server` serves it with the standard library for
`imzo ca serve`, and the idp mounts the same methods in a Flask blueprint (idp/endpoints/ca.py).
Both doors use the paths under PREFIX, the body caps and the per-IP limits defined here.

    GET  /ca/crl            the issuing CA's newest published CRL (DER, application/pkix-crl)
    GET  /ca/root-crl       the root's newest published CRL
    POST /ca/ocsp           application/ocsp-request -> application/ocsp-response
    GET  /ca/ocsp/{base64}  the same, the request in the URL (RFC 6960 Appendix A.1)
    POST /ca/tsa            application/timestamp-query -> application/timestamp-reply (RFC 3161 §3.4)

The service holds no CA key: CRLs are the files `imzo ca crl` publishes into the CA folder, OCSP
is signed by a delegated responder key and timestamps by the TSA key. Protocol errors are protocol
answers (malformedRequest, a TimeStampResp rejection) so clients can read them; refusals at the
HTTP level (size, content type, method, rate) carry a 4xx status as well.
"""
from __future__ import annotations

import base64
import binascii
import logging
import socketserver
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server as _wsgi_make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from cryptography.x509 import ocsp

from . import ocsp as ocsp_mod
from .ca import ISSUING_CRL_FILE, ROOT_CRL_FILE, DelegatedOCSPResponder
from .tsa import TimestampAuthority, _rejection as tsa_rejection

log = logging.getLogger(__name__)

PREFIX = "/ca"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"
PKIX_CRL = "application/pkix-crl"  # RFC 2585 §4.2

#: Body caps. An OCSP request for a few certificates is a few hundred bytes (a signed one with its
#: chain a few kB) and a timestamp query under 200: anything bigger is someone filling our memory.
MAX_OCSP_BODY = 16 << 10
MAX_TSA_BODY = 8 << 10
#: An OCSP request in a GET URL; RFC 5019 expects GET only for requests under 255 bytes.
MAX_OCSP_GET_CHARS = 4 << 10
#: Requests per minute per client address. OCSP and CRLs are cheap reads validators repeat;
#: each timestamp costs a signature, so a flood of them is the cheapest way to burn our CPU.
PER_MINUTE = {"crl": 120, "ocsp": 300, "tsa": 60}


@dataclass(frozen=True)
class Answer:
    """What to send back: HTTP status, content type, body, and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _text(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (message + "\n").encode(), headers)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class CAServices:
    """The HTTP-independent handling of one CA folder's CRLs, OCSP and TSA.

    *ocsp* and *tsa* are optional: a service without one answers its path with 404 and says why.
    """

    def __init__(
        self, folder: Path, *, ocsp: DelegatedOCSPResponder | None = None, tsa: TimestampAuthority | None = None
    ) -> None:
        self.folder = Path(folder)
        self.ocsp = ocsp
        self.tsa = tsa

    # ------------------------------------------------------------------ the routes
    def crl(self, *, root: bool = False) -> Answer:
        """The newest CRL `imzo ca crl` published (issuing CA's, or with *root* the root's)."""
        path = self.folder / (ROOT_CRL_FILE if root else ISSUING_CRL_FILE)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            flag = " --root" if root else ""
            return _text(404, f"no CRL published yet; the operator runs `imzo ca crl{flag}`")
        return Answer(200, PKIX_CRL, body)

    def refuse_length(self, kind: str, content_length: int | None) -> Answer | None:
        """A refusal when a POST body is absent or over its cap, before anything reads it; else None."""
        cap = MAX_OCSP_BODY if kind == "ocsp" else MAX_TSA_BODY
        if content_length is None:
            return self._refuse(kind, 411, "send the request with a Content-Length")
        if content_length > cap:
            return self._refuse(kind, 413, f"the request is {content_length} bytes; the limit is {cap}")
        return None

    def ocsp_post(self, content_type: str | None, body: bytes) -> Answer:
        """RFC 6960 Appendix A.1 POST: a DER OCSPRequest in, a DER OCSPResponse out."""
        if self.ocsp is None:
            return _text(404, "this service has no OCSP responder key; the operator installs one")
        if _media_type(content_type) != OCSP_REQUEST:
            return self._refuse("ocsp", 415, f"send the request as {OCSP_REQUEST}")
        if len(body) > MAX_OCSP_BODY:
            return self._refuse("ocsp", 413, f"the request is over {MAX_OCSP_BODY} bytes")
        return Answer(200, OCSP_RESPONSE, self.ocsp.respond(body))

    def ocsp_get(self, encoded: str) -> Answer:
        """RFC 6960 Appendix A.1 GET: the base64 of the DER request is the last part of the path."""
        if self.ocsp is None:
            return _text(404, "this service has no OCSP responder key; the operator installs one")
        if len(encoded) > MAX_OCSP_GET_CHARS:
            return self._refuse("ocsp", 414, f"the request in the URL is over {MAX_OCSP_GET_CHARS} characters; POST it")
        try:
            der = base64.b64decode(encoded.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return self._refuse("ocsp", 400, "the URL does not end in the base64 of a DER OCSP request")
        return Answer(200, OCSP_RESPONSE, self.ocsp.respond(der))

    def tsa_post(self, content_type: str | None, body: bytes) -> Answer:
        """RFC 3161 §3.4: a DER TimeStampReq in, a DER TimeStampResp out."""
        if self.tsa is None:
            return _text(404, "this service has no timestamp key; the operator installs one")
        if _media_type(content_type) != TIMESTAMP_QUERY:
            return self._refuse("tsa", 415, f"send the query as {TIMESTAMP_QUERY}")
        if len(body) > MAX_TSA_BODY:
            return self._refuse("tsa", 413, f"the query is over {MAX_TSA_BODY} bytes")
        return Answer(200, TIMESTAMP_REPLY, self.tsa.respond(body))

    def _refuse(self, kind: str, status: int, message: str) -> Answer:
        """An HTTP-level refusal whose body is still the protocol's own error answer."""
        if kind == "ocsp":
            body = ocsp_mod.unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
            return Answer(status, OCSP_RESPONSE, body, (("X-Error", message),))
        return Answer(status, TIMESTAMP_REPLY, tsa_rejection("bad_data_format", message), (("X-Error", message),))

    # ------------------------------------------------------------------ routing, for the stdlib door
    def route(self, method: str, path: str) -> tuple[str, Callable[..., Answer]] | Answer:
        """(limit kind, handler) for *path*, or the 404/405 Answer. Handlers take (content_type, body)."""
        if not path.startswith(PREFIX + "/"):
            return _text(404, f"not found; the CA's services are under {PREFIX}/")
        rest = path[len(PREFIX):]
        if rest in ("/crl", "/root-crl"):
            if method not in ("GET", "HEAD"):
                return _text(405, "use GET", (("Allow", "GET, HEAD"),))
            root = rest == "/root-crl"
            return "crl", lambda _ct, _body: self.crl(root=root)
        if rest in ("/ocsp", "/tsa"):
            if method != "POST":
                return _text(405, "use POST", (("Allow", "POST"),))
            return (("ocsp", self.ocsp_post) if rest == "/ocsp" else ("tsa", self.tsa_post))
        if rest.startswith("/ocsp/"):
            if method not in ("GET", "HEAD"):
                return _text(405, "use GET", (("Allow", "GET, HEAD"),))
            encoded = rest[len("/ocsp/"):]
            return "ocsp", lambda _ct, _body: self.ocsp_get(encoded)
        return _text(404, "not found; paths: /ca/crl /ca/root-crl /ca/ocsp /ca/tsa")


@dataclass
class RateLimiter:
    """Fixed one-minute windows of requests per (client address, kind), in memory.

    The idp uses Flask-Limiter (Redis-backed across workers); this is the stdlib door's own.
    """

    per_minute: dict[str, int] = field(default_factory=lambda: dict(PER_MINUTE))
    _counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, client: str, kind: str) -> bool:
        window = int(time.time() // 60)
        with self._lock:
            if len(self._counts) > 100_000:  # one window's worth of distinct clients at most
                self._counts = {k: v for k, v in self._counts.items() if k[2] == window}
            key = (client, kind, window)
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key] <= self.per_minute[kind]


def wsgi_app(services: CAServices, limiter: RateLimiter | None = None) -> WSGIApplication:
    """A WSGI application serving *services* under PREFIX, with body caps and per-IP limits."""
    limiter = limiter or RateLimiter()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        found = services.route(method, environ.get("PATH_INFO", ""))
        kind = None
        if isinstance(found, Answer):
            answer = found
        else:
            kind, handler = found
            if not limiter.allow(environ.get("REMOTE_ADDR", ""), kind):
                answer = _text(429, f"too many requests; at most {limiter.per_minute[kind]} a minute",
                               (("Retry-After", "60"),))
            else:
                answer = _call(services, kind, handler, method, environ)
        cache = "max-age=300" if kind == "crl" and answer.status == 200 else "no-store"
        headers = [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body))),
                   ("Cache-Control", cache), *answer.headers]
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Error')}", headers)
        return [b"" if method == "HEAD" else answer.body]

    return app


def _call(services: CAServices, kind: str, handler: Callable[..., Answer], method: str,
          environ: WSGIEnvironment) -> Answer:
    body = b""
    if method == "POST":
        try:
            length: int | None = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            length = None
        refusal = services.refuse_length(kind, length)
        if refusal is not None:
            return refusal
        body = environ["wsgi.input"].read(length)
    try:
        return handler(environ.get("CONTENT_TYPE"), body)
    except Exception:  # a bug must not leave the client hanging or leak a traceback
        log.exception("CA service failed on %s %s", method, environ.get("PATH_INFO"))
        return _text(500, "internal error")


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
            413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type", 429: "Too Many Requests",
            500: "Internal Server Error"}


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        log.info("%s %s", self.address_string(), format % args)


def make_server(services: CAServices, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """A threaded stdlib HTTP server for *services* (port 0: any free port; see server.server_port)."""
    return _wsgi_make_server(host, port, wsgi_app(services), server_class=_ThreadingServer, handler_class=_Handler)
