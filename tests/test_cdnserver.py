"""Tests of the test CDN itself (tests/support/cdnserver.py)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
from support import tlsca
from support.cdnserver import (
    CDN,
    Blackhole,
    Proxy,
    bad_status,
    claim_length,
    close_after,
    delay,
    drip,
    endless,
    ignore_range,
    long_range,
    lying_range,
    redirect,
    refused_url,
    reset,
    shifted_range,
    stale,
    stall,
    status,
    truncate,
    wrong_bytes,
)
from support.runtime import random_bytes

DATA = bytes(range(256)) * 40  # 10240 bytes
MakeFiles = Callable[[dict[str, bytes], Path], None]


def get(
    url: str,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


def raw(cdn: CDN, method: str, target: str, headers: dict[str, str] | None = None) -> int:
    """Send a request target verbatim (no client-side normalisation); return the status."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(cdn.url).port, timeout=10)
    try:
        conn.request(method, target, headers=headers or {})
        with conn.getresponse() as r:
            r.read()
            return r.status
    finally:
        conn.close()


@pytest.fixture
def served(cdn: CDN, make_files: MakeFiles) -> CDN:
    assert cdn.root is not None
    make_files({"a.bin": DATA, "sub dir/b.txt": b"hello"}, cdn.root)
    return cdn


def test_get_head_404_and_log(served: CDN) -> None:
    assert served.url.startswith("http://127.0.0.1:") and served.url.endswith("/")
    assert get(served.url_for("a.bin")) == (200, DATA)
    assert get(served.url_for("sub dir/b.txt")) == (200, b"hello")
    assert "sub%20dir/b.txt" in served.url_for("sub dir/b.txt")
    req = urllib.request.Request(served.url_for("a.bin"), method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Length"] == str(len(DATA))
        assert r.read() == b""
    assert get(served.url_for("missing.bin"))[0] == 404
    assert get(served.url)[0] == 404  # directory
    served.add("mem/c.bin", b"in memory")
    assert get(served.url_for("mem/c.bin")) == (200, b"in memory")
    assert served.count("a.bin") == 1 and served.count("a.bin", "HEAD") == 1
    first = served.requests[0]
    assert (first.method, first.path, first.status, first.bytes_sent) == (
        "GET",
        "a.bin",
        200,
        len(DATA),
    )
    assert first.headers["User-Agent"].startswith("Python-urllib")


def test_keep_alive(served: CDN) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(served.url).port, timeout=10)
    try:
        served.fault("a.bin", status(503))
        for expected in (503, 200, 404, 200):
            conn.request("GET", "/a.bin" if expected != 404 else "/nope")
            with conn.getresponse() as r:
                assert r.status == expected
                r.read()
                assert not r.will_close
    finally:
        conn.close()


def test_ranges(served: CDN) -> None:
    url = served.url_for("a.bin")
    assert get(url, {"Range": "bytes=100-"}) == (206, DATA[100:])
    assert get(url, {"Range": "bytes=10-19"}) == (206, DATA[10:20])
    assert get(url, {"Range": "bytes=10000-99999"}) == (206, DATA[10000:])
    assert get(url, {"Range": "bytes=-5"}) == (206, DATA[-5:])
    assert get(url, {"Range": "bytes=10240-"})[0] == 416
    assert get(url, {"Range": "bytes=20000-20001"})[0] == 416
    assert get(url, {"Range": "bytes=5-2"}) == (200, DATA)  # invalid: ignored
    assert get(url, {"Range": "bytes=0-1,5-6"}) == (200, DATA)  # multi-range: ignored
    req = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Range"] == f"bytes 10-19/{len(DATA)}"
        assert r.headers["Accept-Ranges"] == "bytes"
    served.fault("a.bin", ignore_range())
    assert get(url, {"Range": "bytes=100-"}) == (200, DATA)
    assert get(url, {"Range": "bytes=100-"}) == (206, DATA[100:])
    served.range_support = False
    assert get(url, {"Range": "bytes=100-"}) == (200, DATA)


def test_status_faults_are_queued(served: CDN) -> None:
    url = served.url_for("a.bin")
    served.fault("a.bin", status(500), status(429))
    served.fault("/a.bin", status(404))
    assert [get(url)[0] for _ in range(4)] == [500, 429, 404, 200]
    assert [r.status for r in served.requests] == [500, 429, 404, 200]
    assert served.count("a.bin") == 4


def test_truncate(served: CDN) -> None:
    served.fault("a.bin", truncate(100), truncate(10))
    with pytest.raises(http.client.IncompleteRead) as exc:
        get(served.url_for("a.bin"))
    assert exc.value.partial == DATA[:100]
    with pytest.raises(http.client.IncompleteRead) as exc:
        get(served.url_for("a.bin"), {"Range": "bytes=1000-"})
    assert exc.value.partial == DATA[1000:1010]
    assert served.requests[1].status == 206 and served.requests[1].bytes_sent == 10
    assert get(served.url_for("a.bin")) == (200, DATA)


def test_wrong_bytes(served: CDN) -> None:
    served.fault("a.bin", wrong_bytes())
    code, body = get(served.url_for("a.bin"))
    assert code == 200 and len(body) == len(DATA) and body != DATA
    assert bytes(b ^ 0xFF for b in body) == DATA
    assert get(served.url_for("a.bin")) == (200, DATA)


def test_reset(served: CDN) -> None:
    served.fault("a.bin", reset())
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        get(served.url_for("a.bin"))
    assert served.requests[0].status == 0
    assert get(served.url_for("a.bin")) == (200, DATA)


def test_redirect(served: CDN) -> None:
    served.fault("old.bin", redirect("/a.bin"), redirect(served.url_for("sub dir/b.txt"), 301))
    assert get(served.url_for("old.bin")) == (200, DATA)
    assert get(served.url_for("old.bin")) == (200, b"hello")
    assert [(r.path, r.status) for r in served.requests] == [
        ("old.bin", 302),
        ("a.bin", 200),
        ("old.bin", 301),
        ("sub dir/b.txt", 200),
    ]


def test_stall_hits_client_timeout(served: CDN) -> None:
    served.fault("a.bin", stall(30, nbytes=50))
    with urllib.request.urlopen(served.url_for("a.bin"), timeout=0.5) as r:
        assert r.status == 200
        assert r.read(50) == DATA[:50]
        with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on, OSError before
            r.read()


def test_stop_is_prompt_while_stalled() -> None:
    cdn = CDN().start()
    cdn.add("x", DATA)
    cdn.fault("x", stall(120))
    outcome: list[object] = []

    def client() -> None:
        try:
            outcome.append(get(cdn.url_for("x"), timeout=60))
        except Exception as e:
            outcome.append(e)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    for _ in range(200):  # until the stalled response is under way (<= 10 s)
        if cdn.requests and cdn.requests[0].bytes_sent:
            break
        time.sleep(0.05)
    assert cdn.requests[0].bytes_sent == len(DATA) // 2
    url = cdn.url_for("x")
    stopper = threading.Thread(target=cdn.stop, daemon=True)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()
    t.join(10)
    assert not t.is_alive()
    assert isinstance(outcome[0], http.client.IncompleteRead)
    with pytest.raises(urllib.error.URLError):  # connection refused
        get(url, timeout=5)


def test_stop_interrupts_latency_and_idle_connections() -> None:
    cdn = CDN(latency=120).start()
    cdn.add("x", b"x")
    errors: list[BaseException] = []

    def client() -> None:
        try:
            get(cdn.url_for("x"), timeout=60)
        except Exception as e:
            errors.append(e)

    idle = http.client.HTTPConnection("127.0.0.1", urlsplit(cdn.url).port, timeout=10)
    idle.connect()  # an open keep-alive connection with no request on it
    t = threading.Thread(target=client, daemon=True)
    t.start()
    for _ in range(200):
        if cdn.requests:
            break
        time.sleep(0.05)
    start = time.monotonic()
    cdn.stop()
    assert time.monotonic() - start < 10
    t.join(10)
    assert not t.is_alive() and errors
    idle.close()


def test_path_traversal(tmp_path: Path, served: CDN) -> None:
    (tmp_path / "secret.txt").write_bytes(b"secret")
    assert raw(served, "GET", "/a.bin") == 200
    for target in (
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/sub%20dir/../../secret.txt",
        f"/{tmp_path / 'secret.txt'}",
        f"/{'%2F'.join(str(tmp_path / 'secret.txt').split('/'))}",
        "/a.bin%00",
    ):
        assert raw(served, "GET", target) == 404, target


def test_large_file_streams_in_chunks(tmp_path: Path) -> None:
    big = random_bytes(3 << 20, seed=5) + b"tail"
    (tmp_path / "big.bin").write_bytes(big)
    with CDN(tmp_path, chunk=64 << 10) as cdn:
        assert get(cdn.url_for("big.bin")) == (200, big)
        assert get(cdn.url_for("big.bin"), {"Range": f"bytes={1 << 20}-"}) == (206, big[1 << 20 :])


def test_latency() -> None:
    with CDN(latency=0.2) as cdn:
        cdn.add("x", b"x")
        start = time.monotonic()
        assert get(cdn.url_for("x")) == (200, b"x")
        assert time.monotonic() - start >= 0.15


def test_subprocess_mode(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(DATA)
    script = Path(__file__).parent / "support" / "cdnserver.py"
    cmd = [
        sys.executable,
        str(script),
        "--root",
        str(tmp_path),
        "--latency",
        "0.01",
        "--timeout",
        "60",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    killer = threading.Timer(30, proc.kill)  # never hang on readline()
    killer.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("URL http://127.0.0.1:") and line.endswith("/")
        url = line.split(" ", 1)[1]
        assert get(url + "f.bin") == (200, DATA)
        assert get(url + "nope")[0] == 404
    finally:
        killer.cancel()
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


# --------------------------------------------------------------------------- helpers for below

SUBPROCESS = [sys.executable, str(Path(__file__).parent / "support" / "cdnserver.py")]


def connect(server: CDN | Proxy | Blackhole, timeout: float = 5) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*server.address, timeout=timeout)


def fetch(
    conn: http.client.HTTPConnection,
    target: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    """One request on ``conn``: (status, headers, body)."""
    conn.request(method, target, headers=headers or {})
    with conn.getresponse() as r:
        return r.status, dict(r.getheaders()), r.read()


def wait_for(condition: Callable[[], object], timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def stop_promptly(*servers: CDN | Proxy | Blackhole, within: float = 3.0) -> None:
    start = time.monotonic()
    for server in servers:
        server.stop()
    assert time.monotonic() - start < within


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not tlsca.available_backends():
        pytest.skip("neither trustme nor the openssl command is available")
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def tls(tls_dir: Path) -> tuple[ssl.SSLContext, str]:
    """(server context for 127.0.0.1/localhost, CA file) from the module's trusted CA."""
    return tlsca.make_tls(tls_dir)


# --------------------------------------------------------------------------- faults


def test_drip_sends_a_few_bytes_per_tick() -> None:
    data = bytes(range(20))
    with CDN() as cdn:
        cdn.add("x", data)
        cdn.fault("x", drip(4, 0.05))
        conn = connect(cdn)
        try:
            start = time.monotonic()
            conn.request("GET", "/x")
            pieces = []
            with conn.getresponse() as r:
                assert r.status == 200 and r.headers["Content-Length"] == "20"
                while piece := r.read1(100):
                    pieces.append(piece)
            elapsed = time.monotonic() - start
            assert b"".join(pieces) == data
            assert elapsed >= 0.15  # 5 ticks: 4 waits of 0.05 s
            assert len(pieces) >= 2  # arrived bit by bit
            assert fetch(conn, "/x")[::2] == (200, data)  # the connection was kept alive
        finally:
            conn.close()
        assert cdn.connections == 1 and cdn.requests[0].bytes_sent == 20


def test_endless_body_and_stop_while_streaming() -> None:
    with CDN() as cdn:
        cdn.fault("x", endless(b"ab"), endless())
        conn = connect(cdn)
        try:
            conn.request("GET", "/x")
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("Content-Length") is None
            assert r.getheader("Connection") == "close" and r.will_close
            assert r.read(6) == b"ababab"
            got = 0
            while got < 3 << 20:  # well past any real file in these tests
                piece = r.read1(1 << 16)
                assert piece
                got += len(piece)
            r.close()  # client goes away: the server stops sending
            assert wait_for(lambda: cdn.open_connections == 0)
            # a client that stops reading mid-body: the server is blocked writing; stop() ends it
            conn = connect(cdn)
            conn.request("GET", "/x")
            r = conn.getresponse()
            assert r.read(4) == b"\0\0\0\0"
            assert wait_for(lambda: cdn.requests[1].bytes_sent > 1 << 20)
            stop_promptly(cdn)
            r.close()
        finally:
            conn.close()


def test_claim_length() -> None:
    with CDN() as cdn:
        cdn.add("x", DATA)
        cdn.fault("x", claim_length(), claim_length(100), claim_length())
        conn = connect(cdn)
        try:
            conn.request("GET", "/x")
            with conn.getresponse() as r:
                assert r.headers["Content-Length"] == str(2 * len(DATA))
                with pytest.raises(http.client.IncompleteRead) as exc:
                    r.read()
            assert exc.value.partial == DATA
        finally:
            conn.close()
        assert get(cdn.url_for("x")) == (200, DATA[:100])
        with pytest.raises(http.client.IncompleteRead) as exc:
            get(cdn.url_for("x"), {"Range": "bytes=100-199"})
        assert exc.value.partial == DATA[100:200] and exc.value.expected == 100
        assert get(cdn.url_for("x")) == (200, DATA)


def test_lying_range_sends_the_body_from_zero(served: CDN) -> None:
    served.fault("a.bin", lying_range(), lying_range())
    conn = connect(served)
    try:
        code, headers, body = fetch(conn, "/a.bin", {"Range": "bytes=100-199"})
        assert code == 206 and headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
        assert headers["Content-Length"] == "100" and body == DATA[:100]
        assert fetch(conn, "/a.bin")[::2] == (200, DATA)  # no Range: nothing to lie about
        assert fetch(conn, "/a.bin", {"Range": "bytes=100-199"})[::2] == (206, DATA[100:200])
    finally:
        conn.close()


def test_status_with_retry_after_and_headers(served: CDN) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    served.fault(
        "a.bin",
        status(503, retry_after=7),
        status(429, retry_after=date, headers={"X-Why": "busy"}),
        status(500, headers={"Cache-Control": "no-store"}),
    )
    conn = connect(served)
    try:
        code, headers, _ = fetch(conn, "/a.bin")
        assert (code, headers["Retry-After"]) == (503, "7")
        code, headers, _ = fetch(conn, "/a.bin")
        assert (code, headers["Retry-After"], headers["X-Why"]) == (429, date, "busy")
        code, headers, _ = fetch(conn, "/a.bin")
        assert code == 500 and "Retry-After" not in headers
        assert headers["Cache-Control"] == "no-store"
        assert fetch(conn, "/a.bin")[::2] == (200, DATA)
    finally:
        conn.close()


def test_redirect_location_is_sent_verbatim(served: CDN) -> None:
    locations = [
        "ftp://127.0.0.1:21/a.bin",
        "http://localhost:1/x?y=%20z#frag",
        "https://127.0.0.1:9/a%2Fb.bin",
        "//other.invalid:8080/p",
        "../rel?x=1",
    ]
    for location in locations:
        served.fault("old", redirect(location, 307))
    conn = connect(served)
    try:
        for location in locations:
            code, headers, _ = fetch(conn, "/old")
            assert (code, headers["Location"]) == (307, location)
    finally:
        conn.close()


def test_close_after(served: CDN) -> None:
    served.fault("a.bin", close_after())
    with socket.create_connection(served.address, timeout=3) as s:
        s.sendall(b"GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while piece := s.recv(1 << 16):  # ends only if the server closes (else: timeout)
            received += piece
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close" in head
    assert body == DATA
    conn = connect(served)
    try:
        conn.request("GET", "/a.bin")
        with conn.getresponse() as r:
            assert r.read() == DATA and not r.will_close  # one-shot
    finally:
        conn.close()


def test_delay_holds_the_status_line(served: CDN) -> None:
    served.fault("a.bin", delay(30))
    with pytest.raises(socket.timeout):  # the headers come after the client's timeout
        get(served.url_for("a.bin"), timeout=0.3)
    served.fault("a.bin", delay(0.01))
    assert get(served.url_for("a.bin")) == (200, DATA)
    assert [r.path for r in served.requests] == ["a.bin", "a.bin"]


def test_bad_status_line(served: CDN) -> None:
    served.fault("a.bin", bad_status(), bad_status(b"HELLO"))
    for _ in range(2):
        conn = connect(served)
        try:
            with pytest.raises(http.client.BadStatusLine):
                fetch(conn, "/a.bin")
        finally:
            conn.close()
    assert get(served.url_for("a.bin")) == (200, DATA)


def test_shifted_and_long_ranges(served: CDN) -> None:
    served.fault("a.bin", shifted_range(10), long_range(), long_range(5), shifted_range(10))
    conn = connect(served)
    try:
        code, headers, body = fetch(conn, "/a.bin", {"Range": "bytes=100-199"})
        assert code == 206 and headers["Content-Range"] == f"bytes 110-209/{len(DATA)}"
        assert body == DATA[110:210]
        code, headers, body = fetch(conn, "/a.bin", {"Range": "bytes=100-199"})
        assert code == 206 and headers["Content-Range"] == f"bytes 100-199/{len(DATA)}"
        assert body == DATA[100:] and headers["Content-Length"] == str(len(DATA) - 100)
        code, headers, body = fetch(conn, "/a.bin", {"Range": "bytes=100-199"})
        assert headers["Content-Range"] == f"bytes 100-199/{len(DATA)}" and body == DATA[100:205]
        assert fetch(conn, "/a.bin")[::2] == (200, DATA)  # no Range: nothing to shift
        assert fetch(conn, "/a.bin", {"Range": "bytes=100-199"})[::2] == (206, DATA[100:200])
    finally:
        conn.close()


def test_faults_at_a_range_start(served: CDN) -> None:
    served.fault("a.bin", status(503))
    served.fault("a.bin", ignore_range(), status(416), at=100)
    conn = connect(served)
    try:
        assert fetch(conn, "/a.bin", {"Range": "bytes=0-99"})[::2] == (503, b"fault: HTTP 503\n")
        assert fetch(conn, "/a.bin", {"Range": "bytes=0-99"})[::2] == (206, DATA[:100])
        assert fetch(conn, "/a.bin", {"Range": "bytes=100-199"})[::2] == (200, DATA)
        assert fetch(conn, "/a.bin", {"Range": "bytes=100-"})[0] == 416
        assert fetch(conn, "/a.bin", {"Range": "bytes=100-199"})[::2] == (206, DATA[100:200])
    finally:
        conn.close()


def test_validators_if_range_and_stale_copies(served: CDN) -> None:
    other = bytes(reversed(DATA))
    served.add("m.bin", DATA, modified=1_000_000_000)
    conn = connect(served)
    try:
        _, headers, _ = fetch(conn, "/m.bin", {"Range": "bytes=0-0"})
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert etag.startswith('"') and modified == "Sun, 09 Sep 2001 01:46:40 GMT"
        _, root_headers, _ = fetch(conn, "/a.bin", method="HEAD")  # a file under root
        assert root_headers["ETag"].startswith('"') and "Last-Modified" in root_headers
        for validator in (etag, modified):
            ranged = {"Range": "bytes=10-19", "If-Range": validator}
            assert fetch(conn, "/m.bin", ranged)[::2] == (206, DATA[10:20])
        served.fault("m.bin", stale(other))
        code, headers, body = fetch(conn, "/m.bin", {"Range": "bytes=10-19", "If-Range": etag})
        assert (code, body) == (200, other) and headers["ETag"] != etag  # another version
        assert headers["Last-Modified"] != modified
        served.add("m.bin", other)
        for validator in (etag, modified):  # the file changed: If-Range gets all of it
            ranged = {"Range": "bytes=10-19", "If-Range": validator}
            assert fetch(conn, "/m.bin", ranged)[::2] == (200, other)
        served.etag = served.last_modified = False
        _, headers, _ = fetch(conn, "/m.bin", method="HEAD")
        assert "ETag" not in headers and "Last-Modified" not in headers
    finally:
        conn.close()


# --------------------------------------------------------------------------- connections


def test_connect_delay_once_per_connection() -> None:
    with CDN(connect_delay=0.4) as cdn:
        cdn.add("x", b"x")
        conn = connect(cdn)
        try:
            times = []
            for _ in range(2):
                start = time.monotonic()
                assert fetch(conn, "/x")[::2] == (200, b"x")
                times.append(time.monotonic() - start)
        finally:
            conn.close()
        assert times[0] >= 0.35 and times[1] < 0.3
        cdn.connect_delay = 0
        start = time.monotonic()
        assert get(cdn.url_for("x")) == (200, b"x")
        assert time.monotonic() - start < 0.3
        assert cdn.connections == 2


def test_rate_caps_each_connection() -> None:
    data = random_bytes(100 << 10, seed=6)
    with CDN(rate=200 << 10) as cdn:
        cdn.add("x", data)
        start = time.monotonic()
        assert get(cdn.url_for("x")) == (200, data)
        assert time.monotonic() - start >= 0.3  # 0.5 s at the cap
        cdn.rate = 0
        assert get(cdn.url_for("x")) == (200, data)


def test_connection_counter_and_request_conn_ids(served: CDN) -> None:
    conn = connect(served)
    try:
        for _ in range(3):
            assert fetch(conn, "/a.bin")[0] == 200
    finally:
        conn.close()
    assert get(served.url_for("a.bin"))[0] == 200  # urllib: a new connection each time
    assert get(served.url_for("nope"))[0] == 404
    assert served.connections == 3
    ids = [r.conn for r in served.requests]
    assert ids[0] == ids[1] == ids[2] and len({ids[0], ids[3], ids[4]}) == 3
    assert wait_for(lambda: served.open_connections == 0)
    served.reset_counters()
    assert served.connections == 0 and served.requests == []
    assert get(served.url_for("a.bin"))[0] == 200
    assert served.connections == 1 and served.requests[0].conn not in ids  # ids not reused


def test_idle_close_drops_idle_keep_alive_connections() -> None:
    with CDN(idle_close=0.2) as cdn:
        cdn.add("x", b"x")
        conn = connect(cdn)
        try:
            assert fetch(conn, "/x")[0] == 200
            assert fetch(conn, "/x")[0] == 200  # not idle for long: same connection
            time.sleep(0.5)
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                fetch(conn, "/x")  # RemoteDisconnected, reset or broken pipe
        finally:
            conn.close()
        assert cdn.connections == 1 and [r.status for r in cdn.requests] == [200, 200]
        with socket.create_connection(cdn.address, timeout=3) as s:
            start = time.monotonic()
            assert s.recv(1) == b""  # silently closed (FIN, no response)
            assert time.monotonic() - start >= 0.1


def test_max_requests_per_conn() -> None:
    with CDN(max_requests_per_conn=2) as cdn:
        cdn.add("x", b"x")
        conn = connect(cdn)  # http.client reconnects by itself after "Connection: close"
        try:
            closes = []
            for _ in range(4):
                conn.request("GET", "/x")
                with conn.getresponse() as r:
                    r.read()
                    closes.append(r.getheader("Connection"))
        finally:
            conn.close()
        assert closes == [None, "close", None, "close"]
        assert cdn.connections == 2
        ids = [r.conn for r in cdn.requests]
        assert ids[0] == ids[1] != ids[2] == ids[3]


# --------------------------------------------------------------------------- TLS


def test_https(tls: tuple[ssl.SSLContext, str]) -> None:
    server_ctx, cafile = tls
    client = ssl.create_default_context(cafile=cafile)
    with CDN(tls=server_ctx, connect_delay=0.3) as cdn:
        cdn.add("x", DATA)
        assert cdn.url.startswith(f"https://127.0.0.1:{cdn.address[1]}/")
        conn = http.client.HTTPSConnection(*cdn.address, context=client, timeout=5)
        try:
            start = time.monotonic()
            conn.connect()  # the delay comes before the TLS handshake
            assert time.monotonic() - start >= 0.25
            assert fetch(conn, "/x")[::2] == (200, DATA)
            assert fetch(conn, "/x", {"Range": "bytes=10-19"})[::2] == (206, DATA[10:20])
            cdn.fault("x", redirect("http://127.0.0.1:1/x"))  # https -> http, verbatim
            code, headers, _ = fetch(conn, "/x")
            assert (code, headers["Location"]) == (302, "http://127.0.0.1:1/x")
        finally:
            conn.close()
        cdn.connect_delay = 0
        assert get(cdn.url_for("x"), context=client) == (200, DATA)
        assert get(cdn.url_for("x").replace("127.0.0.1", "localhost"), context=client)[0] == 200
        untrusting = http.client.HTTPSConnection(
            *cdn.address, context=ssl.create_default_context(), timeout=5
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            untrusting.request("GET", "/x")
        untrusting.close()
        assert cdn.connections == 4 and cdn.count("x") == 5


def test_tls_certificate_failures(tls_dir: Path, tls: tuple[ssl.SSLContext, str]) -> None:
    client = ssl.create_default_context(cafile=tls[1])
    cases = {
        "unable to get local issuer": tlsca.make_tls(tls_dir, ca="untrusted")[0],
        "expired": tlsca.make_tls(tls_dir, expired=True)[0],
        "mismatch": tlsca.make_tls(tls_dir, hosts=("wrong.invalid",))[0],
    }
    for message, server_ctx in cases.items():
        with CDN(tls=server_ctx) as cdn:
            conn = http.client.HTTPSConnection(*cdn.address, context=client, timeout=5)
            with pytest.raises(ssl.SSLCertVerificationError) as exc:
                conn.connect()
            conn.close()
            assert message in exc.value.verify_message
            assert cdn.connections == 1 and cdn.requests == []


@pytest.mark.parametrize("backend", ["openssl", "trustme"])
def test_tlsca_backends(tmp_path: Path, backend: str) -> None:
    if backend not in tlsca.available_backends():
        pytest.skip(f"{backend} not available")
    ca = tlsca.CA(tmp_path, backend=backend)
    assert ca.backend == backend and ca.pem.is_file()
    for expired in (False, True):
        with CDN(tls=ca.server_context(expired=expired)) as cdn:
            cdn.add("x", b"x")
            if expired:
                with pytest.raises(urllib.error.URLError, match="expired"):
                    get(cdn.url_for("x"), context=ca.client_context(), timeout=5)
            else:
                assert get(cdn.url_for("x"), context=ca.client_context(), timeout=5) == (200, b"x")
    other = "trustme" if backend == "openssl" else "openssl"
    if other in tlsca.available_backends():  # a CA made by one backend is usable by the other
        again = tlsca.CA(tmp_path, backend=other)
        with CDN(tls=again.server_context(("localhost",))) as cdn:
            cdn.add("x", b"x")
            url = cdn.url_for("x").replace("127.0.0.1", "localhost")
            assert get(url, context=ca.client_context(), timeout=5) == (200, b"x")


# --------------------------------------------------------------------------- proxy


def test_proxy_forwards_http_with_keep_alive() -> None:
    with CDN() as cdn, Proxy() as proxy:
        cdn.add("a.bin", DATA)
        url = cdn.url_for("a.bin")
        assert proxy.url == f"http://127.0.0.1:{proxy.address[1]}/"
        conn = connect(proxy)
        try:
            for _ in range(2):
                conn.request("GET", url)
                with conn.getresponse() as r:
                    assert (r.status, r.read(), r.will_close) == (200, DATA, False)
            code, headers, body = fetch(conn, url, method="HEAD")
            assert (code, headers["Content-Length"], body) == (200, str(len(DATA)), b"")
            assert fetch(conn, cdn.url_for("nope"))[0] == 404
            cdn.fault("a.bin", status(503, retry_after=3))
            code, headers, _ = fetch(conn, url)
            assert (code, headers["Retry-After"]) == (503, "3")
            assert fetch(conn, url.replace("127.0.0.1", "localhost"))[::2] == (200, DATA)
            cdn.fault("a.bin", truncate(100))
            with pytest.raises(http.client.IncompleteRead) as exc:
                fetch(conn, url)
            assert exc.value.partial == DATA[:100]
        finally:
            conn.close()
        assert proxy.connections == 1 and cdn.connections == 1
        first = proxy.requests[0]
        assert (first.method, first.target, first.status) == ("GET", url, 200)
        assert first.bytes_sent == len(DATA) and first.conn == proxy.requests[-1].conn
        assert cdn.requests[0].headers["Host"] == f"127.0.0.1:{cdn.address[1]}"
        assert cdn.requests[5].headers["Host"] == f"localhost:{cdn.address[1]}"


def test_proxy_tunnels_https(tls: tuple[ssl.SSLContext, str]) -> None:
    server_ctx, cafile = tls
    with CDN(tls=server_ctx) as cdn, Proxy() as proxy:
        cdn.add("a.bin", DATA)
        client = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection(*proxy.address, context=client, timeout=5)
        conn.set_tunnel("127.0.0.1", cdn.address[1])
        try:
            for _ in range(2):
                assert fetch(conn, "/a.bin")[::2] == (200, DATA)
        finally:
            conn.close()
        assert proxy.connections == 1 and cdn.connections == 1
        [rec] = proxy.requests
        assert (rec.method, rec.target, rec.status) == (
            "CONNECT",
            f"127.0.0.1:{cdn.address[1]}",
            200,
        )
        assert wait_for(lambda: rec.bytes_sent > 2 * len(DATA))  # TLS records included
        assert [r.path for r in cdn.requests] == ["a.bin", "a.bin"]


def test_proxy_basic_auth() -> None:
    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    with CDN() as cdn, Proxy(auth=("user", "pa:ss")) as proxy:
        cdn.add("a.bin", DATA)
        url = cdn.url_for("a.bin")
        conn = connect(proxy)
        try:
            code, headers, _ = fetch(conn, url)
            assert code == 407 and headers["Proxy-Authenticate"].startswith("Basic ")
            assert fetch(conn, url, {"Proxy-Authorization": basic("user", "wrong")})[0] == 407
            assert fetch(conn, url, {"Proxy-Authorization": basic("user", "pa:ss")})[0] == 200
        finally:
            conn.close()
        assert proxy.requests[2].headers["Proxy-Authorization"] == basic("user", "pa:ss")
        assert "Proxy-Authorization" not in cdn.requests[0].headers  # not passed on
        tunnel = connect(proxy)
        tunnel.set_tunnel("127.0.0.1", cdn.address[1])
        with pytest.raises(OSError, match="407"):
            tunnel.connect()
        tunnel.close()
        tunnel = connect(proxy)
        tunnel.set_tunnel(
            "127.0.0.1", cdn.address[1], {"Proxy-Authorization": basic("user", "pa:ss")}
        )
        try:
            assert fetch(tunnel, "/a.bin")[::2] == (200, DATA)  # plain http through CONNECT
        finally:
            tunnel.close()
        assert [r.status for r in proxy.requests] == [407, 407, 200, 407, 200]


def test_proxy_only_forwards_to_loopback() -> None:
    with Proxy() as proxy:
        conn = connect(proxy)
        try:
            for target, code in [
                ("http://example.com/x", 403),
                ("http://10.0.0.1:80/", 403),
                ("http://127.0.0.2/", 403),
                ("http://localhost.example.com/", 403),
                ("https://127.0.0.1/", 400),
                ("/relative", 400),
            ]:
                assert fetch(conn, target)[0] == code, target
        finally:
            conn.close()
        tunnel = connect(proxy)
        tunnel.set_tunnel("example.com", 443)
        with pytest.raises(OSError, match="403"):
            tunnel.connect()
        tunnel.close()
        refused = connect(proxy)
        try:
            assert fetch(refused, refused_url("x"))[0] == 502  # origin down
        finally:
            refused.close()


def test_proxy_stop_is_prompt_while_relaying() -> None:
    cdn, proxy = CDN().start(), Proxy().start()
    try:
        cdn.fault("x", endless())
        conn = connect(proxy)
        conn.request("GET", cdn.url_for("x"))
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") is None
        assert len(r.read(1 << 20)) == 1 << 20
        stop_promptly(proxy, cdn)
        r.close()
        conn.close()
    finally:
        proxy.stop()
        cdn.stop()


# --------------------------------------------------------------------------- dead hosts


def test_refused_url() -> None:
    url = refused_url("a b.bin")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/a%20b.bin")
    port = urlsplit(url).port
    assert port is not None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=3)
    with pytest.raises(urllib.error.URLError) as exc:
        get(url, timeout=3)
    assert isinstance(exc.value.reason, ConnectionRefusedError)


def test_blackhole_read_timeout() -> None:
    with Blackhole() as hole:
        conn = connect(hole, timeout=0.3)
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            fetch(conn, "/x")
        assert time.monotonic() - start >= 0.25
        conn.close()
        assert hole.connections == 1
        with socket.create_connection(hole.address, timeout=3) as s:
            assert wait_for(lambda: hole.connections == 2)  # accepted
            stop_promptly(hole)
            assert s.recv(1) == b""  # closed by stop(), still without a byte


@pytest.mark.skipif(sys.platform != "linux", reason="full listen queues drop SYNs on Linux")
def test_blackhole_connect_timeout() -> None:
    with Blackhole(accept=False) as hole:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.3)
        try:
            with pytest.raises(socket.timeout):
                s.connect(hole.address)
        finally:
            s.close()


# --------------------------------------------------------------------------- stop and subprocess


def test_stop_is_prompt_during_drip_and_endless() -> None:
    cdn = CDN().start()
    cdn.add("d", DATA)
    cdn.fault("d", drip(1, 5.0))
    cdn.fault("e", endless())
    errors: list[BaseException] = []

    def client(name: str) -> None:
        try:
            with urllib.request.urlopen(cdn.url_for(name), timeout=30) as r:
                r.read(10)  # then stop reading: the endless body fills the buffers
                time.sleep(30)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in "de"]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(cdn.requests) == 2 and all(r.bytes_sent for r in cdn.requests))
    stop_promptly(cdn)
    assert cdn.open_connections == 0


@contextlib.contextmanager
def subprocess_server(*args: str, lines: int = 1) -> Iterator[list[str]]:
    """Run cdnserver.py with ``args``; yield its first ``lines`` stdout lines; terminate it."""
    proc = subprocess.Popen([*SUBPROCESS, *args], stdout=subprocess.PIPE, text=True)
    killer = threading.Timer(30, proc.kill)  # never hang on readline()
    killer.start()
    try:
        assert proc.stdout is not None
        yield [proc.stdout.readline().strip() for _ in range(lines)]
    finally:
        killer.cancel()
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.parametrize("how", ["tls-dir", "tls-cert"])
def test_subprocess_mode_new_flags(tmp_path: Path, tls_dir: Path, how: str) -> None:
    (tmp_path / "f.bin").write_bytes(DATA)
    flags = ["--connect-delay", "0.05", "--rate", "10000000", "--idle-close", "5"]
    flags += ["--max-requests-per-conn", "1", "--timeout", "60", "--root", str(tmp_path)]
    ca = tlsca.CA(tls_dir)
    if how == "tls-dir":
        flags += ["--tls-dir", str(tmp_path / "tls")]
    else:
        cert, key = ca.issue()
        flags += ["--tls-cert", str(cert), "--tls-key", str(key)]
    with subprocess_server(*flags, lines=2 if how == "tls-dir" else 1) as lines:
        assert lines[0].startswith("URL https://127.0.0.1:") and lines[0].endswith("/")
        cafile = lines[1].split(" ", 1)[1] if how == "tls-dir" else str(ca.pem)
        client = ssl.create_default_context(cafile=cafile)
        port = urlsplit(lines[0].split(" ", 1)[1]).port
        assert port is not None
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=client, timeout=10)
        try:
            code, headers, body = fetch(conn, "/f.bin")
        finally:
            conn.close()
        assert (code, body, headers["Connection"]) == (200, DATA, "close")


# ---------------------------------------------------------------------------- credentials


def _challenge(url: str) -> tuple[int, str]:
    req = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("WWW-Authenticate", "")


def test_bearer_token_realm_and_header_log(cdn: CDN) -> None:
    """A CDN that asks for a bearer token names its token realm (the OCI distribution
    spec's challenge), hands the token out there, serves the file for it, and logs every
    Authorization header that came."""
    cdn.add("v2/org/data/blobs/sha256:abc", b"blob")
    cdn.bearer, cdn.token_realm = "t0ken", True
    url = cdn.url_for("v2/org/data/blobs/sha256:abc")
    code, challenge = _challenge(url)
    assert code == 401
    assert challenge == (
        f'Bearer realm="{cdn.url}token",service="cdnserver",scope="repository:org/data:pull"'
    )
    code, body = get(f"{cdn.url}token?service=cdnserver&scope=repository:org/data:pull")
    assert code == 200 and json.loads(body)["token"] == "t0ken"
    assert get(url, {"Authorization": "Bearer wrong"})[0] == 401
    assert get(url, {"Authorization": "Bearer t0ken"}) == (200, b"blob")
    assert cdn.seen("authorization") == [None, None, "Bearer wrong", "Bearer t0ken"]
    assert cdn.seen("Authorization", "token") == [None]
    assert [r.path for r in cdn.requests] == ["v2/org/data/blobs/sha256:abc", "token"] + [
        "v2/org/data/blobs/sha256:abc"
    ] * 2


def test_token_realm_with_basic_credentials_and_basic_files(cdn: CDN) -> None:
    cdn.add("f.txt", b"private")
    cdn.bearer, cdn.token_realm, cdn.realm_basic = "t", True, ("u", "p")
    auth = "Basic " + base64.b64encode(b"u:p").decode()
    code, challenge = _challenge(f"{cdn.url}token")
    assert (code, challenge) == (401, 'Basic realm="cdnserver token"')
    assert json.loads(get(f"{cdn.url}token", {"Authorization": auth})[1])["token"] == "t"
    cdn.bearer, cdn.token_realm, cdn.basic = None, False, ("u", "p")
    assert _challenge(cdn.url_for("f.txt")) == (401, 'Basic realm="cdnserver"')
    assert get(cdn.url_for("f.txt"), {"Authorization": auth}) == (200, b"private")
    cdn.bearer, cdn.basic = "t", None  # without a realm: a challenge that names none
    assert _challenge(cdn.url_for("f.txt")) == (401, 'Bearer realm="cdnserver"')


def test_credentials_come_before_faults(cdn: CDN) -> None:
    """A redirect fault is answered only to a request with the right token (a registry
    redirects to its storage only who may read)."""
    cdn.add("f.txt", b"x")
    cdn.bearer = "t"
    cdn.fault("f.txt", redirect("http://127.0.0.1:9/elsewhere"))
    assert get(cdn.url_for("f.txt"))[0] == 401
    req = urllib.request.Request(cdn.url_for("f.txt"), headers={"Authorization": "Bearer t"})
    with pytest.raises(urllib.error.URLError):  # the redirect to a closed port
        urllib.request.urlopen(req, timeout=10)
    assert [r.status for r in cdn.requests] == [401, 302]


def test_subprocess_mode_credentials(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(DATA)
    root = ["--root", str(tmp_path), "--timeout", "60"]
    with subprocess_server(*root, "--bearer", "tk", "--token-realm") as lines:
        url = lines[0].split(" ", 1)[1]
        assert _challenge(url + "f.bin")[1].startswith(f'Bearer realm="{url}token"')
        assert json.loads(get(url + "token")[1])["token"] == "tk"
        assert get(url + "f.bin", {"Authorization": "Bearer tk"}) == (200, DATA)
    with subprocess_server(*root, "--basic", "u:p:w") as lines:
        url = lines[0].split(" ", 1)[1]
        auth = "Basic " + base64.b64encode(b"u:p:w").decode()  # the password may hold ":"
        assert get(url + "f.bin", {"Authorization": auth}) == (200, DATA)
        assert get(url + "f.bin")[0] == 401
