"""A fault-injecting HTTP(S) file server ("CDN"), a proxy and dead hosts, for tests and benchmarks.

Stdlib only, so ``bench/`` scripts can import it after ``sys.path.insert(0, "tests/support")``.

In-process use::

    with CDN(root, latency=0.01) as cdn:
        cdn.add("a.bin", b"...")                    # in-memory file
        cdn.fault("a.bin", status(503), truncate(10))  # next two requests misbehave
        urlopen(cdn.url_for("a.bin"))

As a separate process (serves until killed or ``--timeout`` s; first stdout line is the URL)::

    python tests/support/cdnserver.py --root DIR [--latency 0.05] [--port 0] [--connect-delay 0.1]
        [--rate BYTES_PER_S] [--idle-close S] [--max-requests-per-conn N]
        [--tls-cert PEM --tls-key PEM | --tls-dir DIR] [--bearer TOKEN [--token-realm]]
        [--basic USER:PASSWORD]
    URL http://127.0.0.1:PORT/          (https://... with TLS)
    CA DIR/ca.pem                       (second line, only with --tls-dir: the CA to trust)

Behaviour:

* binds to 127.0.0.1 only; GET and HEAD; URL paths are percent-decoded and looked up first among
  ``add()``-ed files, then under ``root``; anything unknown or escaping ``root`` is a 404.
* HTTP/1.1 with keep-alive: every response carries a Content-Length, so connections stay open
  unless the client asks for ``Connection: close``; a response broken on purpose (``truncate``,
  ``stall``, ``reset``, ``endless``, ``claim_length``, ``close_after``) always ends its connection.
* ``Range: bytes=N-``, ``bytes=N-M`` and ``bytes=-N`` get a 206 with Content-Range (416 when
  unsatisfiable) if ``range_support``; other Range forms are ignored (200, full body).
* validators: every file is served with an ``ETag`` (unless ``etag`` is false) and a
  ``Last-Modified`` (unless ``last_modified`` is false; ``add(name, data, modified=EPOCH)`` sets
  it, else the time of ``add()`` or the file's mtime). A Range request whose ``If-Range`` is
  not the current ETag or Last-Modified (exact match) gets a 200 with the whole file.
* bodies are streamed in ``chunk``-sized pieces, so huge files use constant memory.
* ``latency`` seconds are waited before every response; waits and stalls end early on ``stop()``.

Faults, queued per file name with ``cdn.fault(name, ...)``; each request (GET or HEAD) to that name
consumes one (``cdn.fault(name, ..., at=N)``: only a Range request whose first byte is N consumes
them, before the name's other faults): ``status(code, retry_after=, headers=)``, ``truncate(n)``,
``wrong_bytes()``, ``stall(s, n)``, ``reset()``, ``redirect(location, code)`` (Location sent
verbatim: any scheme, host or port), ``ignore_range()``, ``lying_range()`` (206 with a correct
Content-Range but the body from byte 0), ``drip(n, interval)`` (n body bytes every interval
seconds), ``endless(pattern)`` (200 without Content-Length, body never ends), ``claim_length(n)``
(Content-Length says n, default twice the body; the real body is sent, then the connection
closed), ``close_after()`` (a normal response with ``Connection: close``, then the server
closes), ``delay(s)`` (s seconds before the status line, then a normal answer),
``bad_status(line)`` (a status line that cannot be parsed, then close), ``shifted_range(n)`` (a
206 for the range n bytes further on, Content-Range and body alike), ``long_range(n)`` (a 206
whose Content-Range is the range asked but whose body goes on n bytes further, default to the
end of the file) and ``stale(data)`` (this answer comes from ``data``, with its own ETag and
Last-Modified: a node holding another version of the file).

Connection-level behaviour (constructor keywords, also attributes that may be changed while
running, and CLI flags):

* ``connect_delay`` s are waited on each new connection before its first request is read (before
  the TLS handshake with ``tls``): a slow TCP/TLS handshake. ``latency`` still applies per request.
* ``rate`` bytes/s caps each connection's body bytes (small paced writes; 0 = unlimited).
* ``idle_close`` s: a connection waiting that long for its next request is closed silently (FIN,
  no response), like a load balancer dropping idle keep-alive connections (0 = 60 s).
* ``max_requests_per_conn``: the Nth response on a connection says ``Connection: close``, then
  the server closes it (0 = unlimited).
* ``tls``: a server-side ``ssl.SSLContext`` (read at ``start()``): serve https. ``tlsca.py``
  beside this file makes throwaway CAs and certificates for it.
* ``bearer``: every file asks for ``Authorization: Bearer <bearer>`` (else a 401 with a
  ``WWW-Authenticate: Bearer`` challenge); ``basic=(user, password)``: for Basic credentials
  (401 ``Basic realm="cdnserver"`` otherwise). With ``token_realm``, the Bearer challenge is
  the OCI distribution spec's (``realm="<url>token",service="cdnserver",scope="..."``) and
  ``GET /token?service=...&scope=...`` hands out ``{"token": bearer}`` (an anonymous token
  flow), asking for ``realm_basic=(user, password)`` first when set. A request whose
  credentials are wrong gets the same 401. Faults come after these checks.
* every request's headers are logged (``Request.headers``); ``cdn.seen(header)`` lists one
  header's value per logged request (None where absent), e.g. every ``Authorization`` sent.
* ``cdn.connections`` counts accepted TCP connections, ``Request.conn`` tells which one (ids count
  from 1 and are never reused); ``reset_counters()`` zeroes the count and clears ``requests``;
  ``open_connections`` is how many are open now; ``address`` is ``("127.0.0.1", port)``.
* TCP_NODELAY is set, like real servers: small writes are not held back by Nagle's algorithm.

Also here: ``Proxy`` (a loopback forward proxy: absolute-URI requests and CONNECT tunnels, counts
connections, logs requests, optional basic auth, only forwards to 127.0.0.1/localhost),
``Blackhole`` (accepts connections and never answers; or, with ``accept=False``, never completes
a TCP handshake) and ``refused_url()`` (a URL whose connections are refused).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import http.client
import io
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any, Callable, Literal, TypeVar, Union
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "CDN",
    "Blackhole",
    "Fault",
    "Proxy",
    "ProxyRequest",
    "Request",
    "bad_status",
    "claim_length",
    "close_after",
    "delay",
    "drip",
    "endless",
    "ignore_range",
    "long_range",
    "lying_range",
    "redirect",
    "refused_url",
    "reset",
    "shifted_range",
    "stale",
    "stall",
    "status",
    "truncate",
    "wrong_bytes",
]

FaultKind = Literal[
    "status",
    "truncate",
    "wrong_bytes",
    "stall",
    "reset",
    "redirect",
    "ignore_range",
    "lying_range",
    "drip",
    "endless",
    "claim_length",
    "close_after",
    "delay",
    "bad_status",
    "shifted_range",
    "long_range",
    "stale",
]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, applied to one request. Build it with the helper functions below."""

    kind: FaultKind
    code: int = 0  # status / redirect
    nbytes: int | None = None  # truncate / stall: body bytes sent; drip: per tick; claim_length
    seconds: float = 0.0  # stall; drip: interval
    location: str = ""  # redirect
    headers: tuple[tuple[str, str], ...] = ()  # status / redirect: extra response headers
    pattern: bytes = b""  # endless; bad_status: the line; stale: the body


def status(
    code: int,
    retry_after: float | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Fault:
    """Answer with HTTP ``code`` and a short text body (the connection is kept alive).

    ``retry_after`` is sent as ``Retry-After`` (seconds, or an HTTP-date string sent verbatim);
    ``headers`` are added to the response as given.
    """
    extra = list((headers or {}).items())
    if retry_after is not None:
        value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        extra.insert(0, ("Retry-After", value))
    return Fault("status", code=code, headers=tuple(extra))


def truncate(nbytes: int) -> Fault:
    """Normal headers (full Content-Length, 200/206) but only ``nbytes`` of body, then close."""
    return Fault("truncate", nbytes=nbytes)


def wrong_bytes() -> Fault:
    """Normal response (200, or 206 for a range) whose body has every bit flipped."""
    return Fault("wrong_bytes")


def stall(seconds: float, nbytes: int | None = None) -> Fault:
    """Normal headers, ``nbytes`` of body (default: half of it), wait ``seconds``, then close.

    The wait ends early when the server stops. Also applies to HEAD (headers, wait, close).
    """
    return Fault("stall", nbytes=nbytes, seconds=seconds)


def reset() -> Fault:
    """Abort the connection (TCP RST) without sending anything."""
    return Fault("reset")


def redirect(location: str, code: int = 302) -> Fault:
    """Answer with ``code`` and ``Location: location``, sent verbatim (any URL or path)."""
    return Fault("redirect", code=code, location=location)


def ignore_range() -> Fault:
    """Answer a Range request with the full body and status 200."""
    return Fault("ignore_range")


def lying_range() -> Fault:
    """Answer a Range request with 206 and a correct Content-Range, but the body from byte 0.

    Content-Length is the length of the requested range. Without a Range header: a normal 200.
    """
    return Fault("lying_range")


def drip(nbytes: int = 1, interval: float = 0.2) -> Fault:
    """Normal headers (full Content-Length), then ``nbytes`` of body every ``interval`` s.

    Goes on until the body is done (the connection stays open), the client goes away or the
    server stops.
    """
    if nbytes < 1 or interval < 0:
        raise ValueError("drip needs nbytes >= 1 and interval >= 0")
    return Fault("drip", nbytes=nbytes, seconds=interval)


def endless(pattern: bytes = b"\0") -> Fault:
    """Status 200, no Content-Length, ``Connection: close``, and ``pattern`` repeated forever.

    Ends when the client closes or the server stops. Range headers are ignored.
    """
    if not pattern:
        raise ValueError("endless needs a non-empty pattern")
    return Fault("endless", pattern=bytes(pattern))


def claim_length(nbytes: int | None = None) -> Fault:
    """Normal response whose Content-Length says ``nbytes`` (default: twice the real length).

    The real body (or range) is sent, then the connection closed, so a larger claim looks like a
    truncated body; with a smaller one the client reads only ``nbytes`` and sees no error.
    """
    return Fault("claim_length", nbytes=nbytes)


def close_after() -> Fault:
    """A normal response carrying ``Connection: close``; the server then closes the connection."""
    return Fault("close_after")


def delay(seconds: float) -> Fault:
    """Wait ``seconds`` before the status line (the wait ends early on stop), then answer
    normally: a response whose headers come after the client's timeout."""
    return Fault("delay", seconds=seconds)


def bad_status(line: bytes = b"HTTP/1.1 2OO OK") -> Fault:
    """Send ``line`` as the status line (one that cannot be parsed), a blank line, then close."""
    return Fault("bad_status", pattern=bytes(line))


def shifted_range(nbytes: int = 1) -> Fault:
    """Answer a Range request with a 206 for the range ``nbytes`` further on: Content-Range,
    Content-Length and body all describe that other range (cut at the end of the file).
    Without a Range header: a normal 200."""
    return Fault("shifted_range", nbytes=nbytes)


def long_range(nbytes: int | None = None) -> Fault:
    """Answer a Range request with a 206 whose Content-Range is the range asked, but whose body
    (and Content-Length) go on ``nbytes`` further (default: to the end of the file)."""
    return Fault("long_range", nbytes=nbytes)


def stale(data: bytes) -> Fault:
    """Answer this request from ``data`` instead of the file's current content, with the ETag
    and Last-Modified of ``data`` (If-Range is checked against them): a CDN node that still
    holds another version of the file."""
    return Fault("stale", pattern=bytes(data))


@dataclass
class Request:
    """One logged request. ``status``/``bytes_sent`` are filled in while the response is sent."""

    method: str
    path: str  # percent-decoded, without leading "/" or query: the name given to url_for()
    headers: dict[str, str]
    status: int = 0  # 0 if no status line was sent (reset, or stopped during latency)
    bytes_sent: int = 0  # body bytes written
    target: str = ""  # raw request target as received
    conn: int = 0  # id of the TCP connection that carried it (1, 2, ... in accept order)


@dataclass
class ProxyRequest:
    """One request a ``Proxy`` received (``status`` is what it answered, 200 for a tunnel)."""

    method: str
    target: str  # absolute URI, or "host:port" for CONNECT, as received
    headers: dict[str, str]  # as received, including Proxy-Authorization
    status: int = 0
    bytes_sent: int = 0  # body bytes written to the client (tunnel: bytes from the origin)
    conn: int = 0  # id of the client connection


_FLIP = bytes(255 - i for i in range(256))
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_LOOPBACK_NAMES = ("127.0.0.1", "localhost")
_S = TypeVar("_S", bound="_Service")


@dataclass(frozen=True)
class _Source:
    """A file as served: its size, how to open it, its validators."""

    size: int
    open: Callable[[], IO[bytes]]
    etag: str
    modified: float  # Last-Modified, seconds since the epoch (whole seconds)


def _memory_source(data: bytes, modified: float) -> _Source:
    import hashlib

    etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
    return _Source(len(data), lambda: io.BytesIO(data), etag, float(int(modified)))


def _http_date(seconds: float) -> str:
    from email.utils import formatdate

    return formatdate(seconds, usegmt=True)


class _Stopped(OSError):
    """The server is stopping (or the client is gone): abandon this connection quietly."""


def _name(target: str) -> str:
    return unquote(target.split("?", 1)[0].split("#", 1)[0]).lstrip("/")


def _parse_range(value: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """(start, end_exclusive), None to ignore the header, or "unsatisfiable" (416)."""
    m = _RANGE.fullmatch(value.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return None
    if m.group(1) == "":  # suffix: last N bytes
        n = int(m.group(2))
        return (max(0, size - n), size) if n > 0 and size > 0 else "unsatisfiable"
    start, last = int(m.group(1)), int(m.group(2) or size - 1)
    if m.group(2) and last < start:
        return None  # invalid: ignored, as RFC 9110 says
    return (start, min(last + 1, size)) if start < size else "unsatisfiable"


def _shutdown(sock: socket.socket) -> None:
    """shutdown(SHUT_RDWR), which wakes up a thread blocked on it; errors ignored.

    Called on the plain socket class so an SSLSocket keeps its TLS state for the thread using it.
    """
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded TCP server on 127.0.0.1 that tells its owner about every connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        owner: _Service,
        handler: type[socketserver.BaseRequestHandler],
        port: int,
        tls: ssl.SSLContext | None = None,
        backlog: int = 128,
    ) -> None:
        self.owner = owner
        self.tls = tls
        self.request_queue_size = backlog
        super().__init__(("127.0.0.1", port), handler)

    def server_bind(self) -> None:  # no getfqdn(), which may do a slow DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.tls is not None:  # the handshake happens in the connection's thread
            try:
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except BaseException:
                sock.close()
                raise
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        if self.owner._register(request, t):
            t.start()
        else:
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._unregister(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client gone / reset / timeout: expected
            super().handle_error(request, client_address)


class _Service:
    """Start/stop, connection bookkeeping and the context manager shared by the servers here."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0  # TCP connections accepted (since creation or reset_counters())
        self._conn_seq = 0
        self._conns: dict[socket.socket, tuple[threading.Thread, int]] = {}
        self._extra: set[socket.socket] = set()  # other sockets to shut down on stop()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> _Server:
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int]:
        """("127.0.0.1", port) while started."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return "127.0.0.1", self._server.server_port

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet closed."""
        with self._lock:
            return len(self._conns)

    @property
    def url(self) -> str:
        scheme = "http" if self._server is None or self._server.tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.address[1]}/"

    def start(self: _S) -> _S:
        if self._server is None:
            self._stopping.clear()
            self._server = self._make_server()
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                args=(0.05,),
                name=type(self).__name__.lower(),
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; abort waits, drips and endless bodies and open connections; join."""
        server, thread = self._server, self._thread
        if server is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if thread is not None:
            server.shutdown()  # returns within one poll interval
        with self._lock:
            conns = list(self._conns.items())
            for sock in [s for s, _ in conns] + list(self._extra):
                _shutdown(sock)
        server.server_close()
        threads = ([thread] if thread is not None else []) + [t for _, (t, _) in conns]
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def reset_counters(self) -> None:
        """Zero ``connections`` and clear the request log."""
        with self._lock:
            self.connections = 0
            self._requests().clear()

    def _requests(self) -> list[Any]:
        return []

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- used by the server and handlers ---
    def _register(self, sock: socket.socket, thread: threading.Thread) -> bool:
        with self._lock:
            self.connections += 1
            self._conn_seq += 1
            if self._stopping.is_set():
                return False
            self._conns[sock] = (thread, self._conn_seq)
            return True

    def _unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.pop(sock, None)

    def _conn_id(self, sock: socket.socket) -> int:
        with self._lock:
            entry = self._conns.get(sock)
        return entry[1] if entry else 0

    def _watch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                if self._stopping.is_set():
                    _shutdown(sock)
                self._extra.add(sock)

    def _unwatch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._extra.discard(sock)


_Rec = Union[Request, ProxyRequest]


class _BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections and blocked writes end after this
    disable_nagle_algorithm = True  # small writes (drip, headers) go out at once
    _rec: _Rec | None = None
    conn_id = 0

    @property
    def owner(self) -> _Service:
        assert isinstance(self.server, _Server)
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        self.conn_id = self.owner._conn_id(self.request)

    def handle(self) -> None:
        try:
            self.before_first_request()
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()
        except _Stopped:
            self.close_connection = True

    def before_first_request(self) -> None:
        pass

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        pass

    def parse_request(self) -> bool:
        self._rec = None  # a new request on a kept-alive connection: not logged yet
        return super().parse_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._rec is not None:
            self._rec.status = code
        super().send_response(code, message)

    def _sleep(self, seconds: float) -> None:
        """Wait, or raise _Stopped as soon as the server stops."""
        if seconds > 0 and self.owner._stopping.wait(seconds):
            raise _Stopped("server stopping")

    def _write(self, data: bytes | memoryview) -> None:
        self.wfile.write(data)
        if self._rec is not None:
            self._rec.bytes_sent += len(data)

    def _simple(self, code: int, body: bytes, head: bool, headers: Mapping[str, str]) -> None:
        self.send_response(code)
        for k, v in {"Content-Type": "text/plain", **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self._write(body)


class _Handler(_BaseHandler):
    _next_send = 0.0  # rate limit: when the next piece may be written
    _responses = 0  # responses started on this connection

    @property
    def cdn(self) -> CDN:
        owner = self.owner
        assert isinstance(owner, CDN)
        return owner

    def before_first_request(self) -> None:
        self._sleep(self.cdn.connect_delay)

    def handle_one_request(self) -> None:
        idle = self.cdn.idle_close
        self.connection.settimeout(idle if idle > 0 else self.timeout)
        super().handle_one_request()  # closes the connection when the wait for a request times out

    def parse_request(self) -> bool:
        self.connection.settimeout(self.timeout)  # a request line came in: back to normal
        return super().parse_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responses += 1
        super().send_response(code, message)

    def end_headers(self) -> None:
        limit = self.cdn.max_requests_per_conn
        if limit > 0 and self._responses >= limit and not self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _write(self, data: bytes | memoryview) -> None:
        rate = self.cdn.rate
        if rate <= 0:
            return super()._write(data)
        view = memoryview(data)
        step = max(1, int(rate // 50))  # pieces of ~20 ms, so the cap is smooth
        for i in range(0, len(view), step):
            piece = view[i : i + step]
            now = time.monotonic()
            if self._next_send > now:
                self._sleep(self._next_send - now)
            super()._write(piece)
            self._next_send = max(self._next_send, now) + len(piece) / rate

    def _reset(self) -> None:
        self.close_connection = True
        self.cdn._unregister(self.connection)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # really closed (RST) once rfile lets go of it
        self.rfile.close()

    def _serve(self, head: bool) -> None:
        cdn, name = self.cdn, _name(self.path)
        self._rec = cdn._log(
            Request(
                self.command, name, dict(self.headers.items()), target=self.path, conn=self.conn_id
            )
        )
        self._sleep(cdn.latency)
        if cdn.token_realm and name == "token":
            return self._token(head)
        if not self._authorized(head):
            return
        asked = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        fault = cdn._next_fault(name, int(asked[1]) if asked and asked[1] else None)
        kind = fault.kind if fault else None
        if fault is not None and kind == "delay":
            self._sleep(fault.seconds)
        if fault is not None and fault.kind in ("reset", "status", "redirect", "endless"):
            if fault.kind == "reset":
                return self._reset()
            if fault.kind == "endless":
                return self._endless(fault.pattern, head)
            body = f"fault: HTTP {fault.code}\n".encode() if fault.kind == "status" else b""
            headers = dict(fault.headers)
            if fault.kind == "redirect":
                headers["Location"] = fault.location
            return self._simple(fault.code, body, head, headers)
        if fault is not None and kind == "bad_status":
            self.close_connection = True
            return self._write(fault.pattern + b"\r\n\r\n")
        source = cdn._lookup(name)
        if source is None:
            return self._simple(404, b"not found\n", head, {})
        if fault is not None and kind == "stale":
            source = _memory_source(fault.pattern, source.modified - 86400)
        size, opener = source.size, source.open
        span: tuple[int, int] | None = None
        if cdn.range_support and kind != "ignore_range" and "Range" in self.headers:
            parsed = _parse_range(self.headers["Range"], size)
            if_range = self.headers.get("If-Range")
            if isinstance(parsed, str):  # "unsatisfiable"
                return self._simple(416, b"", head, {"Content-Range": f"bytes */{size}"})
            if if_range is None or if_range in (source.etag, _http_date(source.modified)):
                span = parsed
        start, end = span or (0, size)
        shown = (start, end)  # what Content-Range says
        if span and fault is not None and kind == "shifted_range":
            shift = fault.nbytes or 0
            start, end = min(size - 1, start + shift), min(size, end + shift)
            shown = (start, end)
        if span and fault is not None and kind == "long_range":
            end = size if fault.nbytes is None else min(size, end + fault.nbytes)
        limit = end - start
        claimed = limit
        if fault is not None and kind == "claim_length":
            claimed = 2 * limit if fault.nbytes is None else fault.nbytes
        self.send_response(206 if span else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(claimed))
        if cdn.range_support:
            self.send_header("Accept-Ranges", "bytes")
        if cdn.etag:
            self.send_header("ETag", source.etag)
        if cdn.last_modified:
            self.send_header("Last-Modified", _http_date(source.modified))
        if span:
            self.send_header("Content-Range", f"bytes {shown[0]}-{shown[1] - 1}/{size}")
        if kind == "close_after":
            self.send_header("Connection", "close")
        self.end_headers()
        if fault is not None and kind in ("truncate", "stall"):
            limit = min(limit, limit // 2 if fault.nbytes is None else fault.nbytes)
        if kind in ("truncate", "stall", "claim_length"):
            self.close_connection = True
        if kind == "lying_range":
            start = 0
        if not head:
            per_tick = fault.nbytes if fault is not None and kind == "drip" else None
            with opener() as f:
                f.seek(start)
                for i, piece in enumerate(_chunks(f, limit, per_tick or cdn.chunk)):
                    if per_tick and i:
                        assert fault is not None
                        self._sleep(fault.seconds)
                    self._write(piece.translate(_FLIP) if kind == "wrong_bytes" else piece)
        if fault is not None and kind == "stall":
            cdn._stopping.wait(fault.seconds)

    def _authorized(self, head: bool) -> bool:
        """Whether the request carries the credentials the CDN asks for; else answer 401."""
        cdn, given = self.cdn, self.headers.get("Authorization", "").strip()
        if cdn.bearer is not None and given != f"Bearer {cdn.bearer}":
            if cdn.token_realm:
                m = re.match(r"v2/(.+)/(?:blobs|manifests)/", _name(self.path))
                scope = f"repository:{m[1] if m else _name(self.path)}:pull"
                realm = f'realm="{cdn.url}token",service="cdnserver",scope="{scope}"'
            else:
                realm = 'realm="cdnserver"'
            self._simple(401, b"unauthorized\n", head, {"WWW-Authenticate": f"Bearer {realm}"})
            return False
        if cdn.basic is not None and given != _basic(*cdn.basic):
            challenge = {"WWW-Authenticate": 'Basic realm="cdnserver"'}
            self._simple(401, b"unauthorized\n", head, challenge)
            return False
        return True

    def _token(self, head: bool) -> None:
        """The token realm: ``{"token": bearer}``, for ``realm_basic`` credentials if set."""
        import json

        cdn = self.cdn
        if cdn.realm_basic is not None and self.headers.get("Authorization") != _basic(
            *cdn.realm_basic
        ):
            challenge = {"WWW-Authenticate": 'Basic realm="cdnserver token"'}
            return self._simple(401, b"unauthorized\n", head, challenge)
        body = json.dumps({"token": cdn.bearer, "access_token": cdn.bearer, "expires_in": 300})
        self._simple(200, body.encode(), head, {"Content-Type": "application/json"})

    def _endless(self, pattern: bytes, head: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        size = max(1, min(self.cdn.chunk, 64 << 10))
        block = (pattern * (size // len(pattern) + 1))[:size]
        while not self.cdn._stopping.is_set():
            self._write(block)  # a client that stops reading: blocks until stop() or timeout
        raise _Stopped("server stopping")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _chunks(f: IO[bytes], limit: int, chunk: int) -> Iterator[bytes]:
    while limit > 0:
        piece = f.read(min(chunk, limit))
        if not piece:
            return
        limit -= len(piece)
        yield piece


class CDN(_Service):
    """Threaded HTTP(S) server on 127.0.0.1 serving ``root`` and in-memory files, with faults."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        latency: float = 0.0,
        range_support: bool = True,
        chunk: int = 1 << 20,
        port: int = 0,
        connect_delay: float = 0.0,
        rate: float = 0.0,
        idle_close: float = 0.0,
        max_requests_per_conn: int = 0,
        tls: ssl.SSLContext | None = None,
        etag: bool = True,
        last_modified: bool = True,
        bearer: str | None = None,
        token_realm: bool = False,
        realm_basic: tuple[str, str] | None = None,
        basic: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(port)
        self.bearer, self.token_realm, self.realm_basic = bearer, token_realm, realm_basic
        self.basic = basic
        self.root = Path(root).resolve() if root is not None else None
        self.etag = etag
        self.last_modified = last_modified
        self.latency = latency
        self.range_support = range_support
        self.chunk = chunk
        self.connect_delay = connect_delay
        self.rate = rate
        self.idle_close = idle_close
        self.max_requests_per_conn = max_requests_per_conn
        self.tls = tls
        self.requests: list[Request] = []
        self._files: dict[str, _Source] = {}
        self._faults: dict[tuple[str, int | None], deque[Fault]] = {}

    def _make_server(self) -> _Server:
        return _Server(self, _Handler, self.port, tls=self.tls)

    def _requests(self) -> list[Any]:
        return self.requests

    def url_for(self, name: str) -> str:
        return self.url + quote(name.lstrip("/"))

    def add(self, name: str, data: bytes, modified: float | None = None) -> None:
        """Serve ``data`` as ``name`` (replacing what was there), last modified at ``modified``
        (seconds since the epoch; default: now)."""
        source = _memory_source(bytes(data), time.time() if modified is None else modified)
        with self._lock:
            self._files[name.lstrip("/")] = source

    def fault(self, name: str, *actions: Fault, at: int | None = None) -> None:
        """Queue faults for ``name``; each request (GET or HEAD) to it consumes one. With
        ``at``, only Range requests whose first byte is ``at`` consume these (before any
        fault queued without ``at``)."""
        with self._lock:
            self._faults.setdefault((name.lstrip("/"), at), deque()).extend(actions)

    def seen(self, header: str, name: str | None = None) -> list[str | None]:
        """The value of ``header`` in each logged request (to ``name`` only, when given),
        None where the request did not carry it; header names ignore case."""
        want = header.lower()
        with self._lock:
            requests = [r for r in self.requests if name is None or r.path == name.lstrip("/")]
        return [
            next((v for k, v in r.headers.items() if k.lower() == want), None) for r in requests
        ]

    def count(self, name: str, method: str = "GET") -> int:
        name = name.lstrip("/")
        with self._lock:
            return sum(1 for r in self.requests if r.path == name and r.method == method)

    # --- used by the handler ---
    def _log(self, rec: Request) -> Request:
        with self._lock:
            self.requests.append(rec)
        return rec

    def _next_fault(self, name: str, start: int | None = None) -> Fault | None:
        with self._lock:
            for key in ((name, start), (name, None)) if start is not None else ((name, None),):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
            return None

    def _lookup(self, name: str) -> _Source | None:
        with self._lock:
            source = self._files.get(name)
        if source is not None:
            return source
        if self.root is None or not name or "\0" in name:
            return None
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        st = path.stat()
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
        return _Source(st.st_size, lambda: path.open("rb"), etag, float(int(st.st_mtime)))


# ---------------------------------------------------------------------------- forward proxy

_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)


def _is_loopback_name(host: str) -> bool:
    return host.strip("[]").lower() in _LOOPBACK_NAMES


class _ProxyHandler(_BaseHandler):
    rbufsize = 0  # unbuffered: nothing the client sends after CONNECT is stuck in a buffer

    @property
    def proxy(self) -> Proxy:
        owner = self.owner
        assert isinstance(owner, Proxy)
        return owner

    def setup(self) -> None:
        super().setup()
        self._origins: dict[int, http.client.HTTPConnection] = {}  # by port, kept alive
        self._watched: dict[int, socket.socket] = {}  # by port: the origin socket stop() ends

    def finish(self) -> None:
        for conn in self._origins.values():
            conn.close()
        for sock in self._watched.values():
            self.proxy._unwatch(sock)
        super().finish()

    def _read_body(self) -> bytes:
        left, parts = int(self.headers.get("Content-Length") or 0), []
        while left > 0:
            piece = self.rfile.read(min(left, 64 << 10))
            if not piece:
                raise ConnectionError("client closed during the request body")
            parts.append(piece)
            left -= len(piece)
        return b"".join(parts)

    def _start(self) -> bool:
        """Log the request; answer 407 and return False if it lacks the right credentials."""
        self._rec = self.proxy._log(
            ProxyRequest(self.command, self.path, dict(self.headers.items()), conn=self.conn_id)
        )
        auth = self.proxy.auth
        if auth is None:
            return True
        want = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        scheme, _, given = self.headers.get("Proxy-Authorization", "").strip().partition(" ")
        if scheme.lower() == "basic" and given.strip() == want:
            return True
        realm = {"Proxy-Authenticate": 'Basic realm="cdnserver proxy"'}
        self._simple(407, b"proxy authentication required\n", self.command == "HEAD", realm)
        return False

    def _forward(self) -> None:
        head = self.command == "HEAD"
        if not self._start():
            return
        try:
            parts = urlsplit(self.path)
            port = parts.port or 80
        except ValueError:
            return self._simple(400, b"proxy: bad target\n", head, {})
        if parts.scheme != "http" or not parts.hostname:
            return self._simple(400, b"proxy: expected an absolute http:// URL\n", head, {})
        if not _is_loopback_name(parts.hostname):
            return self._simple(403, b"proxy: only 127.0.0.1 and localhost\n", head, {})
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return self._simple(501, b"proxy: chunked request bodies unsupported\n", head, {})
        body = self._read_body()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        drop = _HOP_BY_HOP | {
            v.strip().lower() for v in self.headers.get("Connection", "").split(",")
        }
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in drop]
        if "Host" not in self.headers:
            headers.append(("Host", parts.netloc))
        conn = self._origins.get(port)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.proxy.timeout)
            self._origins[port] = conn
        for attempt in (0, 1):
            reused = conn.sock is not None
            try:
                if not reused:
                    conn.connect()
                    self.proxy._unwatch(self._watched.pop(port, None))
                    self._watched[port] = sock = conn.sock
                    self.proxy._watch(sock)
                conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body or None)
                resp = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                retry = reused and self.command in ("GET", "HEAD")  # stale kept-alive origin
                if attempt == 0 and retry and not self.proxy._stopping.is_set():
                    continue
                return self._simple(502, f"proxy: origin failed: {e!r}\n".encode(), head, {})
        self._relay(conn, resp, head)

    def _relay(
        self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, head: bool
    ) -> None:
        drop = _HOP_BY_HOP | {"content-length"}
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in drop:
                self.send_header(k, v)
        if head or resp.status in (204, 304):
            length = resp.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            resp.read()
            resp.close()
            return
        expected = resp.length  # None: close-delimited (or chunked) at the origin
        if expected is None:
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(expected))
        self.end_headers()
        sent = 0
        try:
            while not self.proxy._stopping.is_set():
                piece = resp.read1(64 << 10)
                if not piece:
                    break
                self._write(piece)
                sent += len(piece)
        except (OSError, http.client.HTTPException):
            expected = -1  # broken: close both sides
        if expected is not None and sent == expected:
            resp.close()  # the origin connection may serve the next request
        else:  # close-delimited, or the origin broke off, or we stop: close both sides
            self.close_connection = True
            resp.close()
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _forward

    def do_CONNECT(self) -> None:
        if not self._start():
            return
        host, sep, port = self.path.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            return self._simple(400, b"proxy: expected CONNECT host:port\n", False, {})
        if not _is_loopback_name(host):
            return self._simple(403, b"proxy: only 127.0.0.1 and localhost\n", False, {})
        try:
            upstream = socket.create_connection(("127.0.0.1", int(port)), self.proxy.timeout)
        except OSError as e:
            return self._simple(502, f"proxy: origin failed: {e!r}\n".encode(), False, {})
        self.proxy._watch(upstream)
        try:
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            self._tunnel(self.connection, upstream)
        finally:
            self.proxy._unwatch(upstream)
            upstream.close()

    def _tunnel(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        reading = [client, upstream]
        while reading and not self.proxy._stopping.is_set():
            ready, _, _ = select.select(reading, [], [], 0.05)
            for sock in ready:
                try:
                    data = sock.recv(64 << 10)
                except OSError:
                    return  # reset: give up on both directions
                if data:
                    peer[sock].sendall(data)
                    if sock is upstream and self._rec is not None:
                        self._rec.bytes_sent += len(data)
                else:  # half close: pass it on
                    reading.remove(sock)
                    with contextlib.suppress(OSError):
                        peer[sock].shutdown(socket.SHUT_WR)


class Proxy(_Service):
    """Loopback HTTP forward proxy: absolute-URI requests and CONNECT tunnels.

    Forwards only to 127.0.0.1 / localhost (anything else gets a 403, without a DNS lookup),
    keeping connections alive on both sides where it can (one origin connection per client
    connection and origin port). ``auth=(user, password)`` requires basic
    ``Proxy-Authorization`` (407 with ``Proxy-Authenticate`` otherwise). ``connections`` counts
    client connections; ``requests`` logs what the clients sent (``ProxyRequest``).
    """

    def __init__(
        self, *, auth: tuple[str, str] | None = None, port: int = 0, timeout: float = 30.0
    ) -> None:
        super().__init__(port)
        self.auth = auth
        self.timeout = timeout  # connecting to / reading from the origin
        self.requests: list[ProxyRequest] = []

    def _make_server(self) -> _Server:
        return _Server(self, _ProxyHandler, self.port)

    def _requests(self) -> list[Any]:
        return self.requests

    def _log(self, rec: ProxyRequest) -> ProxyRequest:
        with self._lock:
            self.requests.append(rec)
        return rec


# ---------------------------------------------------------------------------- dead hosts


class _SilentHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(60)
        with contextlib.suppress(OSError):
            while sock.recv(64 << 10):  # read and drop until the client goes or stop()
                pass


class Blackhole(_Service):
    """A TCP server on 127.0.0.1 that never sends a byte (``url`` is an http:// URL to it).

    ``accept=True`` (default): connections are accepted and whatever the client sends is read and
    dropped, so clients run into their read timeout. ``accept=False``: the listen queue is kept
    full, so new connections never complete (connect timeout; Linux behaviour, other systems may
    refuse instead). ``connections`` counts accepted connections; ``stop()`` closes them all.
    """

    def __init__(self, *, port: int = 0, accept: bool = True) -> None:
        super().__init__(port)
        self.accept = accept
        self._fillers: list[socket.socket] = []

    def _make_server(self) -> _Server:
        return _Server(self, _SilentHandler, self.port, backlog=128 if self.accept else 0)

    def start(self) -> Blackhole:
        if self.accept or self._server is not None:
            return super().start()
        self._stopping.clear()
        self._server = self._make_server()
        for _ in range(16):  # fill the accept queue (backlog 0 holds one) with our own sockets
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.2)
            try:
                s.connect(self.address)
            except OSError:
                s.close()
                break
            self._fillers.append(s)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        for s in self._fillers:
            s.close()
        self._fillers.clear()


_RESERVED: list[socket.socket] = []


@atexit.register
def _release_reserved() -> None:
    for s in _RESERVED:
        s.close()


def refused_url(path: str = "") -> str:
    """``http://127.0.0.1:PORT/path`` where nothing listens: connecting is refused at once.

    The port stays bound (never listening) by this process, so no other server can take it.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _RESERVED.append(s)
    return f"http://127.0.0.1:{s.getsockname()[1]}/{quote(path.lstrip('/'))}"


# ---------------------------------------------------------------------------- subprocess mode


def _tls_from_args(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, str | None]:
    if args.tls_dir:
        try:
            import tlsca
        except ImportError:  # run as a script from elsewhere, or imported without tests/ on path
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import tlsca
        ctx, cafile = tlsca.make_tls(args.tls_dir)
        return ctx, cafile
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        return ctx, None
    return None, None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serve DIR on 127.0.0.1 like a (slow) CDN.")
    p.add_argument("--root", required=True, help="directory to serve")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    p.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    p.add_argument("--no-range", action="store_true", help="ignore Range headers")
    p.add_argument("--chunk", type=int, default=1 << 20, help="bytes per write")
    p.add_argument("--timeout", type=float, default=3600.0, help="exit after N s (0: never)")
    p.add_argument(
        "--connect-delay", type=float, default=0.0, help="seconds before a new connection's first"
    )
    p.add_argument("--rate", type=float, default=0.0, help="bytes/s per connection (0: no cap)")
    p.add_argument(
        "--idle-close", type=float, default=0.0, help="close connections idle for N s (0: 60)"
    )
    p.add_argument(
        "--max-requests-per-conn", type=int, default=0, help="close after N responses (0: never)"
    )
    p.add_argument("--tls-cert", help="serve https with this certificate chain (PEM)")
    p.add_argument("--tls-key", help="private key (PEM) for --tls-cert (default: in it)")
    p.add_argument(
        "--tls-dir", help="serve https with a throwaway CA made in DIR (tlsca.py); prints CA line"
    )
    p.add_argument("--bearer", metavar="TOKEN", help="files ask for this bearer token")
    p.add_argument(
        "--token-realm", action="store_true", help="hand the token out at /token (OCI token flow)"
    )
    p.add_argument("--basic", metavar="USER:PASSWORD", help="files ask for these credentials")
    args = p.parse_args(argv)
    if args.token_realm and not args.bearer:
        p.error("--token-realm needs --bearer")
    if args.tls_key and not args.tls_cert:
        p.error("--tls-key needs --tls-cert")
    if args.tls_cert and args.tls_dir:
        p.error("--tls-cert and --tls-dir exclude each other")
    tls, cafile = _tls_from_args(args)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    cdn = CDN(
        args.root,
        latency=args.latency,
        range_support=not args.no_range,
        chunk=args.chunk,
        port=args.port,
        connect_delay=args.connect_delay,
        rate=args.rate,
        idle_close=args.idle_close,
        max_requests_per_conn=args.max_requests_per_conn,
        tls=tls,
        bearer=args.bearer,
        token_realm=args.token_realm,
        basic=tuple(args.basic.split(":", 1)) if args.basic else None,  # type: ignore[arg-type]
    )
    with cdn, contextlib.suppress(KeyboardInterrupt):
        print(f"URL {cdn.url}", flush=True)
        if cafile:
            print(f"CA {cafile}", flush=True)
        end = time.monotonic() + args.timeout if args.timeout > 0 else float("inf")
        while not done.wait(min(1.0, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
