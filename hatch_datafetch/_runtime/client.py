"""The HTTP client: kept-alive connections, proxies, TLS, redirects. http.client underneath.

One :class:`Client` per locator holds one connection per (worker thread, scheme, host,
port), kept alive between files (a cold ``fetch_all`` opens about ``jobs`` connections); a
connection whose exchange did not complete (a timeout, a reset, an unreadable status line, an
error while reading the body) is closed and replaced, never reused. https is verified with the
best trust store available; ``HTTP(S)_PROXY``/``NO_PROXY`` are honoured, https through a proxy
by CONNECT; a redirect may only go to http(s) and never from https to http. Credentials
(:mod:`.auth`) go to the origin of the URL asked for, never to another host a redirect leads
to. Every connect and read is bounded by ``timeout`` and wakes up for Ctrl-C.
It knows nothing of files: :meth:`Client.get` hands the final response to a callback.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager

from .auth import origin_of
from .errors import Denied, Fatal, Retry
from .fs import Cancel
from .retry import DEAD_HOSTS, connect_error, describe_error, host_down

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from .auth import Auth

MAX_REDIRECTS = 10
DRAIN = 64 << 10  # an error body up to this size is read to keep the connection


_CLIENTS: Any = None  # weakref.WeakSet of the live clients, closed at exit


def _close_at_exit(client: Client) -> None:
    """Kept-alive sockets are closed when the interpreter exits, not left to the garbage
    collector (which warns about each, under -W default or -X dev)."""
    global _CLIENTS
    if _CLIENTS is None:
        import atexit
        import weakref

        _CLIENTS = weakref.WeakSet()
        atexit.register(lambda: [c.close_all() for c in list(_CLIENTS)])
    _CLIENTS.add(client)


class Client:
    """Connections of one locator (see the module docstring)."""

    def __init__(
        self,
        *,
        timeout: float,
        user_agent: str,
        environ: Mapping[str, str],
        cancel: Cancel,
        auth: Auth | None = None,
    ) -> None:
        self.timeout, self.user_agent, self.environ = timeout, user_agent, environ
        self.cancel, self.auth = cancel, auth
        self._proxies: dict[str, tuple[str, str]] | None = None
        self._tls: Any = None
        self._conns: dict[tuple[int, str, str, int], Any] = {}  # (thread, scheme, host, port)
        cancel.hooks.append(self.shutdown)
        _close_at_exit(self)

    def close_all(self) -> None:
        """Close every kept-alive connection (at interpreter exit)."""
        for key in list(self._conns):
            conn = self._conns.pop(key, None)
            if conn is not None:
                conn.close()

    def shutdown(self) -> None:
        """Ctrl-C: shut every socket down, so that blocked reads return at once."""
        import socket

        for conn in list(self._conns.values()):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def get(
        self,
        url: str,
        byte_range: str | None,
        handle: Callable[[Any], None],
        *,
        last: bool = True,
        if_range: str | None = None,
    ) -> str:
        """GET ``url`` (with a ``Range`` header when ``byte_range``, and ``If-Range`` when
        ``if_range``), following redirects, and let ``handle`` read the final response;
        network errors become :class:`Retry`. Returns the URL that answered. Credentials
        go to the origin of ``url`` only (:meth:`send`): a redirect to another host (a
        registry's storage) gets no ``Authorization``."""
        home = origin_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
            if byte_range:
                headers["Range"] = byte_range
                if if_range:
                    headers["If-Range"] = if_range
            own = home is not None and origin_of(url) == home
            conn, resp = self.send(url, headers, own=own, last=last)
            with self.closed_on_failure(conn):
                location = resp.getheader("Location")
                if resp.status in (301, 302, 303, 307, 308) and location:
                    url = self.redirect(url, location)
                    self.finish(conn, resp)
                    continue
                handle(resp)
                self.finish(conn, resp)
                return url
        raise Fatal(f"more than {MAX_REDIRECTS} redirects")

    @contextmanager
    def closed_on_failure(self, conn: Any) -> Iterator[None]:
        """The exchange on ``conn`` inside it: if it fails, ``conn`` is closed (a connection
        whose exchange did not complete is never reused), and a network error becomes
        :class:`Retry`."""
        import http.client

        try:
            yield
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise Retry(describe_error(e, self.timeout)) from None
        except BaseException:
            conn.close()
            raise

    def send(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        own: bool = True,
        last: bool = True,
        method: str = "GET",
        body: Any = None,
    ) -> tuple[Any, Any]:
        """:meth:`request` with the ``Authorization`` that :attr:`auth` has for ``url``
        (when ``own``: not on a redirect's hop to another origin); a 401 is answered
        (:meth:`.auth.Auth.answer`) and the request sent again, at most twice. Returns the
        connection and the response that is not such a 401; network errors are Retry."""
        import http.client

        start = body.tell() if hasattr(body, "seek") else None
        answered = 0
        while True:
            auth = self.auth if own else None
            sent = auth.header(url) if auth is not None else None
            full = {**headers, "Authorization": sent} if sent is not None else headers
            if start is not None:
                body.seek(start)
            try:
                conn, resp = self.request(url, full, last=last, method=method, body=body)
            except (OSError, http.client.HTTPException) as e:
                raise Retry(describe_error(e, self.timeout)) from None
            if resp.status != 401 or auth is None:
                return conn, resp
            with self.closed_on_failure(conn):
                values = resp.headers.get_all("WWW-Authenticate") or []
                self.finish(conn, resp)
                answered += 1
                if answered > 2:  # (a fresh token refused again)
                    raise Denied(auth.refused(url, sent, values))
                auth.answer(self, url, sent, values)

    def redact(self, text: str) -> str:
        """``text`` without the credentials of :attr:`auth` (for messages)."""
        return text if self.auth is None else self.auth.redact(text)

    def request(
        self,
        url: str,
        headers: Mapping[str, str],
        last: bool = True,
        method: str = "GET",
        body: Any = None,
    ) -> tuple[Any, Any]:
        """Send a request (a GET; ``method`` and ``body``, bytes or a file object read from
        its position, for the uploads of ``hatch-datafetch push``) on this thread's
        kept-alive connection to the URL's host; return the connection and its response.
        A kept-alive connection the server dropped while idle is replaced once by a fresh
        one. A host that cannot be connected to is remembered as down for a while: unless
        this is the ``last`` URL, it is skipped at once."""
        import http.client
        import ssl

        self.cancel.check()
        start = body.tell() if hasattr(body, "seek") else None
        for fresh in (False, True):
            conn, reused = self._connection(url, fresh)
            target = (conn.host, conn.port)
            if not reused:
                down = host_down(target)
                if down and not last:
                    raise Fatal(f"skipped: {target[0]}:{target[1]} is down ({down[1]})")
                try:
                    conn.connect()
                except ssl.SSLCertVerificationError as e:
                    conn.close()
                    raise Fatal(
                        f"TLS certificate not trusted: {e.verify_message or e}; if a proxy or "
                        "firewall re-signs TLS, point SSL_CERT_FILE or SSL_CERT_DIR at its CA"
                    ) from None
                except ssl.SSLError as e:
                    conn.close()
                    raise Retry(f"TLS handshake failed: {e}") from None
                except OSError as e:
                    conn.close()
                    raise connect_error(e, target, self.timeout, last) from None
                DEAD_HOSTS.pop(target, None)
            try:
                extra = getattr(conn, "proxy_headers", None)
                sent = {**headers, **extra} if extra else headers
                if start is not None:
                    body.seek(start)
                conn.request(method, request_target(url, conn), body=body, headers=sent)
                return conn, conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if not reused:
                    raise
            except BaseException:
                # an exchange that did not complete (headers after the timeout, a status line
                # that cannot be parsed, Ctrl-C): http.client would refuse the next request on
                # this connection ("Request-sent"), and its bytes are unknown: never reuse it
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, url: str, fresh: bool) -> tuple[Any, bool]:
        import _thread
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (_thread.get_ident(), parts.scheme, parts.hostname or "", port)
        conn = self._conns.get(key)
        if conn is not None and not fresh and conn.sock is not None:
            return conn, True
        if conn is not None:
            conn.close()
        conn = self._new_connection(parts.scheme, parts.hostname or "", port)
        self._conns[key] = conn
        return conn, False

    def _new_connection(self, scheme: str, host: str, port: int) -> Any:
        """A connection to the host, or to its proxy (plain HTTP: absolute-form requests;
        https: a CONNECT tunnel), with proxy credentials from the proxy URL."""
        plain, tls = connection_classes()
        proxy = self.proxy_for(scheme, host, port)
        conn: Any
        if proxy is None:
            conn = (
                plain(host, port)
                if scheme != "https"
                else tls(host, port, context=self.tls_context())
            )
        elif scheme != "https":
            conn = plain(proxy[0], proxy[1])
            conn.absolute_form, conn.proxy_headers = True, proxy[2]
        else:
            conn = tls(proxy[0], proxy[1], context=self.tls_context())
            conn.set_tunnel(host, port, headers=proxy[2])
        conn.timeout, conn.client = self.timeout, self
        return conn

    def proxy_for(
        self, scheme: str, host: str, port: int
    ) -> tuple[str, int, dict[str, str]] | None:
        """The proxy for a request to ``scheme://host:port``: ``(host, port, headers)`` from
        ``HTTP_PROXY``/``HTTPS_PROXY`` (lower case first, as urllib reads them; with
        ``Proxy-Authorization`` from the URL's credentials), or None without one or when
        ``NO_PROXY`` matches (:func:`no_proxy_matches`). A value that cannot work is a
        :class:`Fatal` error naming the variable."""
        if self._proxies is None:
            proxies: dict[str, tuple[str, str]] = {}  # "http" -> (variable, value)
            for name, value in self.environ.items():  # lower case wins, as in urllib
                if value and name.lower().endswith("_proxy"):
                    key = name[:-6].lower()
                    if name.islower() or key not in proxies:
                        proxies[key] = (name, value)
            if "REQUEST_METHOD" in self.environ:  # CGI: HTTP_PROXY may come from a header
                proxies.pop("http", None)
            self._proxies = proxies
        setting = self._proxies.get(scheme)
        if setting is None or not setting[1].strip():
            return None
        no_proxy = self._proxies.get("no")
        if no_proxy is not None and no_proxy_matches(no_proxy[1], host, port):
            return None
        return parse_proxy(*setting)

    def tls_context(self) -> Any:
        """Verify always: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else the system
        store through truststore, else certifi's bundle, else the stdlib default."""
        if self._tls is None:
            import ssl

            cafile = self.environ.get("SSL_CERT_FILE") or None
            capath = self.environ.get("SSL_CERT_DIR") or None
            if cafile or capath:
                self._tls = ssl.create_default_context(cafile=cafile, capath=capath)
            else:
                try:
                    import truststore  # type: ignore[import-not-found, unused-ignore]

                    self._tls = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                except ImportError:
                    try:
                        import certifi  # type: ignore[import-not-found, unused-ignore]

                        self._tls = ssl.create_default_context(cafile=certifi.where())
                    except ImportError:
                        self._tls = ssl.create_default_context()
        return self._tls

    def finish(self, conn: Any, resp: Any) -> None:
        """Read what is left of a response so the connection can be reused: a body of at
        most :data:`DRAIN` bytes, announced by its Content-Length, that comes within
        ``timeout`` s; else (a larger or unknown rest, a drip, an error) close it."""
        import http.client
        import time

        if resp.will_close or (resp.isclosed() and resp.length):  # (a body cut short)
            conn.close()
            return
        if resp.isclosed():
            return
        if resp.length is None or resp.length > DRAIN:  # (a chunked body has no length)
            conn.close()
            return
        deadline = time.monotonic() + self.timeout
        view = memoryview(bytearray(max(1, resp.length)))
        try:
            while resp.length:
                if time.monotonic() > deadline or not resp.readinto1(view):
                    conn.close()
                    return
            resp.read()  # nothing left: marks the response complete
        except (OSError, http.client.HTTPException):
            conn.close()

    def redirect(self, url: str, location: str) -> str:
        from urllib.parse import urljoin, urlsplit

        new = urljoin(url, location)
        scheme = urlsplit(new).scheme
        if scheme not in ("http", "https"):
            raise Fatal(f"refused redirect to {new}: only http and https are followed")
        if url.startswith("https:") and scheme != "https":
            raise Fatal(f"refused redirect from https to {new}")
        return new

    def close_threads(self, threads: set[int]) -> None:
        """Close the connections of these (finished, or to be stopped) worker threads."""
        import socket

        for key in [k for k in self._conns if k[0] in threads]:
            conn = self._conns.pop(key, None)
            sock = getattr(conn, "sock", None)
            if sock is not None:  # a worker may still read from it: wake it up
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if conn is not None:
                conn.close()


PROXY_FORM = "http://[USER:PASSWORD@]HOST[:PORT]"


def parse_proxy(variable: str, value: str) -> tuple[str, int, dict[str, str]]:
    """``(host, port, headers)`` of a proxy URL (port 80 by default, ``Proxy-Authorization``
    from its credentials); a :class:`Fatal` error naming ``variable`` when it cannot work."""
    from urllib.parse import unquote, urlsplit

    text = value.strip()
    p = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = p.port
        problem = "" if port is None or 0 < port < 65536 else "its port is 0"
    except ValueError:
        port, problem = None, "its port is not a number from 1 to 65535"
    if p.scheme not in ("http", "https"):
        problem = f"{p.scheme}:// proxies are not supported (only http://)"
    elif not p.hostname:
        problem = "it names no host"
    if problem:
        raise Fatal(f"{variable}={value!r} is not a proxy URL this downloader can use: "
                    f"{problem}; expected {PROXY_FORM}")  # fmt: skip
    headers: dict[str, str] = {}
    if p.username is not None:
        import base64

        creds = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(creds).decode()
    return p.hostname or "", port or 80, headers


def no_proxy_matches(no_proxy: str, host: str, port: int) -> bool:
    """Whether a ``NO_PROXY`` list (commas or spaces between entries) covers ``host:port``, as
    curl and requests read it: ``*`` covers every host; ``example.org``, ``.example.org`` and
    ``*.example.org`` cover that domain and its subdomains; an entry with a port
    (``example.org:443``, ``127.0.0.1:8080``, ``[::1]:8080``) covers only that port (the
    scheme's default when the URL has none); an IP block (``10.0.0.0/8``) covers the IP
    addresses in it. Names are compared without DNS lookups, ignoring case."""
    host = host.strip("[]").rstrip(".").lower()
    for entry in no_proxy.replace(",", " ").lower().split():
        if entry == "*":
            return True
        name, want = entry, None
        if entry.startswith("["):  # [v6] or [v6]:port
            name, _, rest = entry[1:].partition("]")
            if rest[:1] == ":":
                want = rest[1:]
        elif entry.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
            name, want = entry.split(":")
        if want is not None and (not want.isdigit() or int(want) != port):
            continue
        if "/" in name:
            if _in_block(host, name):
                return True
            continue
        name = name.lstrip("*").strip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _in_block(host: str, block: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(block, strict=False)
    except ValueError:  # not an IP address, or not a block
        return False


def content_length(resp: Any) -> int | None:
    length = resp.getheader("Content-Length")
    return int(length) if length and length.isdigit() else None


def content_range(value: str) -> tuple[int, int, int]:
    """``(start, end, total)`` of ``bytes START-END/TOTAL`` or ``bytes */TOTAL`` (-1 for
    any part that is missing or unreadable)."""
    try:
        spec, _, total = value.split()[1].partition("/")
        start, _, end = spec.partition("-")
        return (
            int(start) if start != "*" else -1,
            int(end) if end else -1,
            int(total) if total.isdigit() else -1,
        )
    except (IndexError, ValueError):
        return -1, -1, -1


def request_target(url: str, conn: Any) -> str:
    """The request target: the path (and query), or the whole URL for a plain-HTTP proxy."""
    from urllib.parse import urlsplit

    if getattr(conn, "absolute_form", False):
        return url.split("#", 1)[0]
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


CLASSES: tuple[Any, Any] | None = None


def connection_classes() -> tuple[Any, Any]:
    """``http.client`` connection classes whose connect step is cancellable (made once)."""
    global CLASSES
    if CLASSES is None:
        import http.client

        class Response(http.client.HTTPResponse):
            def readinto1(self, b: Any) -> int:
                """Up to ``len(b)`` body bytes into ``b`` with at most one read of the
                socket, like ``read1`` but into the caller's buffer: ``read1(n)`` makes a
                new bytes object of size ``n`` for every read and shrinks it to what
                arrived, which fragments the C heap of a long download until its peak
                memory has doubled. Chunked bodies go through ``read1``."""
                if self.fp is None or self._method == "HEAD":  # type: ignore[attr-defined]
                    return 0
                if self.chunked:
                    return super().readinto1(b)
                view = memoryview(b).cast("B")
                if self.length is not None and len(view) > self.length:
                    view = view[: self.length]
                if not view:
                    return 0
                n: int = self.fp.readinto1(view)
                if not n:
                    self._close_conn()  # type: ignore[attr-defined]
                elif self.length is not None:
                    self.length -= n
                    if not self.length:
                        self._close_conn()  # type: ignore[attr-defined]
                return n

        class Plain(http.client.HTTPConnection):
            response_class = Response
            absolute_form = False
            proxy_headers: dict[str, str] | None = None
            client: Client

            def connect(self) -> None:
                self.sock = connect_socket(self.client.cancel, self.host, self.port, self.timeout)
                if self._tunnel_host:  # type: ignore[attr-defined]
                    self._tunnel()  # type: ignore[attr-defined]

        class TLS(http.client.HTTPSConnection, Plain):
            pass

        CLASSES = Plain, TLS
    return CLASSES


def connect_socket(cancel: Cancel, host: str, port: int, timeout: float | None) -> Any:
    """A connected TCP socket; the wait for the handshake checks for Ctrl-C every 0.25 s."""
    import select
    import socket
    import time

    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            deadline = time.monotonic() + (timeout or 60.0)
            while code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                cancel.check()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"connecting to {host}:{port} timed out")
                _, writable, _ = select.select([], [sock], [], min(left, 0.25))
                if writable:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except BaseException as e:
            sock.close()
            if not isinstance(e, OSError):
                raise
            error = e
    raise error or OSError(f"cannot resolve {host}")
