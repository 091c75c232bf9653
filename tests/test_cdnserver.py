"""Tests of the test CDN itself (tests/cdnserver.py)."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
from cdnserver import (
    CDN,
    ignore_range,
    redirect,
    reset,
    stall,
    status,
    truncate,
    wrong_bytes,
)

DATA = bytes(range(256)) * 40  # 10240 bytes
MakeFiles = Callable[[dict[str, bytes], Path], None]


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
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
        with pytest.raises(TimeoutError):
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
    big = os.urandom(3 << 20) + b"tail"
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
    script = Path(__file__).with_name("cdnserver.py")
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
