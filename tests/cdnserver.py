"""A small, fault-injecting HTTP file server ("CDN") for tests and benchmarks.

Stdlib only, so ``bench/`` scripts can import it after ``sys.path.insert(0, "tests")``.

In-process use::

    with CDN(root, latency=0.01) as cdn:
        cdn.add("a.bin", b"...")                    # in-memory file
        cdn.fault("a.bin", status(503), truncate(10))  # next two requests misbehave
        urlopen(cdn.url_for("a.bin"))

As a separate process (serves until killed or ``--timeout`` s; first stdout line is the URL)::

    python tests/cdnserver.py --root DIR [--latency 0.05] [--port 0]
    URL http://127.0.0.1:PORT/

Behaviour:

* binds to 127.0.0.1 only; GET and HEAD; URL paths are percent-decoded and looked up first among
  ``add()``-ed files, then under ``root``; anything unknown or escaping ``root`` is a 404.
* HTTP/1.1 with keep-alive: every response carries a Content-Length, so connections stay open
  unless the client asks for ``Connection: close``; a response broken on purpose (``truncate``,
  ``stall``, ``reset``) always ends its connection.
* ``Range: bytes=N-``, ``bytes=N-M`` and ``bytes=-N`` get a 206 with Content-Range (416 when
  unsatisfiable) if ``range_support``; other Range forms are ignored (200, full body).
* bodies are streamed in ``chunk``-sized pieces, so huge files use constant memory.
* ``latency`` seconds are waited before every response; waits and stalls end early on ``stop()``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Callable, Literal
from urllib.parse import quote, unquote

__all__ = [
    "CDN",
    "Fault",
    "Request",
    "ignore_range",
    "redirect",
    "reset",
    "stall",
    "status",
    "truncate",
    "wrong_bytes",
]

FaultKind = Literal[
    "status", "truncate", "wrong_bytes", "stall", "reset", "redirect", "ignore_range"
]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, applied to one request. Build it with the helper functions below."""

    kind: FaultKind
    code: int = 0  # status / redirect
    nbytes: int | None = None  # truncate / stall: body bytes sent before breaking off
    seconds: float = 0.0  # stall
    location: str = ""  # redirect


def status(code: int) -> Fault:
    """Answer with HTTP ``code`` and a short text body (the connection is kept alive)."""
    return Fault("status", code=code)


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
    """Answer with ``code`` and ``Location: location`` (absolute URL or path, sent as given)."""
    return Fault("redirect", code=code, location=location)


def ignore_range() -> Fault:
    """Answer a Range request with the full body and status 200."""
    return Fault("ignore_range")


@dataclass
class Request:
    """One logged request. ``status``/``bytes_sent`` are filled in while the response is sent."""

    method: str
    path: str  # percent-decoded, without leading "/" or query: the name given to url_for()
    headers: dict[str, str]
    status: int = 0  # 0 if no status line was sent (reset, or stopped during latency)
    bytes_sent: int = 0  # body bytes written
    target: str = ""  # raw request target as received


_FLIP = bytes(255 - i for i in range(256))
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_Source = tuple[int, Callable[[], IO[bytes]]]  # (size, opener)


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, cdn: CDN, port: int) -> None:
        self.cdn = cdn
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:  # skip HTTPServer's getfqdn(), which may do a slow DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client gone / reset / timeout: expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections and blocked writes end after this
    _rec: Request | None = None

    @property
    def cdn(self) -> CDN:
        assert isinstance(self.server, _Server)
        return self.server.cdn

    def setup(self) -> None:
        super().setup()
        self.cdn._register(self.connection)

    def finish(self) -> None:
        self.cdn._unregister(self.connection)
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

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        if self._rec is not None:
            self._rec.bytes_sent += len(data)

    def _simple(self, code: int, body: bytes, head: bool, headers: dict[str, str]) -> None:
        self.send_response(code)
        for k, v in {"Content-Type": "text/plain", **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self._write(body)

    def _reset(self) -> None:
        self.close_connection = True
        self.cdn._unregister(self.connection)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()  # really closed (RST) once rfile lets go of it
        self.rfile.close()

    def _serve(self, head: bool) -> None:
        cdn, name = self.cdn, _name(self.path)
        self._rec = cdn._log(self.command, name, dict(self.headers.items()), self.path)
        if cdn.latency > 0 and cdn._stopping.wait(cdn.latency):
            self.close_connection = True
            return
        fault = cdn._next_fault(name)
        kind = fault.kind if fault else None
        if fault is not None and fault.kind in ("reset", "status", "redirect"):
            if fault.kind == "reset":
                return self._reset()
            body = f"fault: HTTP {fault.code}\n".encode() if fault.kind == "status" else b""
            headers = {"Location": fault.location} if fault.kind == "redirect" else {}
            return self._simple(fault.code, body, head, headers)
        source = cdn._lookup(name)
        if source is None:
            return self._simple(404, b"not found\n", head, {})
        size, opener = source
        span: tuple[int, int] | None = None
        if cdn.range_support and kind != "ignore_range" and "Range" in self.headers:
            parsed = _parse_range(self.headers["Range"], size)
            if isinstance(parsed, str):  # "unsatisfiable"
                return self._simple(416, b"", head, {"Content-Range": f"bytes */{size}"})
            span = parsed
        start, end = span or (0, size)
        self.send_response(206 if span else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        if cdn.range_support:
            self.send_header("Accept-Ranges", "bytes")
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        limit = end - start
        if fault is not None and kind in ("truncate", "stall"):
            self.close_connection = True
            limit = min(limit, limit // 2 if fault.nbytes is None else fault.nbytes)
        if not head:
            with opener() as f:
                f.seek(start)
                for piece in _chunks(f, limit, cdn.chunk):
                    self._write(piece.translate(_FLIP) if kind == "wrong_bytes" else piece)
        if fault is not None and kind == "stall":
            cdn._stopping.wait(fault.seconds)


def _chunks(f: IO[bytes], limit: int, chunk: int) -> Iterator[bytes]:
    while limit > 0:
        piece = f.read(min(chunk, limit))
        if not piece:
            return
        limit -= len(piece)
        yield piece


class CDN:
    """Threaded HTTP server on 127.0.0.1 serving ``root`` and in-memory files, with faults."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        latency: float = 0.0,
        range_support: bool = True,
        chunk: int = 1 << 20,
        port: int = 0,
    ) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.latency = latency
        self.range_support = range_support
        self.chunk = chunk
        self.port = port
        self.requests: list[Request] = []
        self._files: dict[str, bytes] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("CDN not started")
        return f"http://127.0.0.1:{self._server.server_port}/"

    def url_for(self, name: str) -> str:
        return self.url + quote(name.lstrip("/"))

    def add(self, name: str, data: bytes) -> None:
        with self._lock:
            self._files[name.lstrip("/")] = bytes(data)

    def fault(self, name: str, *actions: Fault) -> None:
        """Queue faults for ``name``; each request (GET or HEAD) to it consumes one."""
        with self._lock:
            self._faults.setdefault(name.lstrip("/"), deque()).extend(actions)

    def count(self, name: str, method: str = "GET") -> int:
        name = name.lstrip("/")
        with self._lock:
            return sum(1 for r in self.requests if r.path == name and r.method == method)

    def start(self) -> CDN:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self, self.port)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="cdn", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; abort stalls, latency waits and open connections; join threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        server.shutdown()  # returns within one poll interval
        with self._lock:
            conns = list(self._conns.items())
            for sock, _ in conns:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for t in [thread] + [t for _, t in conns]:
            t.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> CDN:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- used by the handler ---
    def _register(self, sock: socket.socket) -> None:
        with self._lock:
            if self._stopping.is_set():
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            else:
                self._conns[sock] = threading.current_thread()

    def _unregister(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.pop(sock, None)

    def _log(self, method: str, name: str, headers: dict[str, str], target: str) -> Request:
        rec = Request(method, name, headers, target=target)
        with self._lock:
            self.requests.append(rec)
        return rec

    def _next_fault(self, name: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(name)
            return queue.popleft() if queue else None

    def _lookup(self, name: str) -> _Source | None:
        with self._lock:
            data = self._files.get(name)
        if data is not None:
            return len(data), lambda: io.BytesIO(data)
        if self.root is None or not name or "\0" in name:
            return None
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path.stat().st_size, lambda: path.open("rb")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serve DIR on 127.0.0.1 like a (slow) CDN.")
    p.add_argument("--root", required=True, help="directory to serve")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each response")
    p.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    p.add_argument("--no-range", action="store_true", help="ignore Range headers")
    p.add_argument("--chunk", type=int, default=1 << 20, help="bytes per write")
    p.add_argument("--timeout", type=float, default=3600.0, help="exit after N s (0: never)")
    args = p.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    cdn = CDN(args.root, latency=args.latency, range_support=not args.no_range, chunk=args.chunk)
    with cdn, contextlib.suppress(KeyboardInterrupt):
        print(f"URL {cdn.url}", flush=True)
        end = time.monotonic() + args.timeout if args.timeout > 0 else float("inf")
        while not done.wait(min(1.0, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
