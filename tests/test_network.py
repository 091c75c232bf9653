"""The download engine on real-CDN behaviour (SPEC §6 "Network behaviour"): kept-alive
connections, TLS trust, proxies, dead hosts, segmented large files. All on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import runtime
from support.cdnserver import CDN, Proxy, close_after, ignore_range, redirect, refused_url
from support.runtime import locator, random_bytes

import hatch_datafetch._runtime as rt
from hatch_datafetch._runtime import DataNotFoundError, Locator
from hatch_datafetch._runtime.retry import DEAD_HOSTS

SMALL = {f"s{i:02d}.bin": random_bytes(10_000 + 1000 * i, seed=100 + i) for i in range(30)}


def make_config(files: dict[str, bytes], base_url: str | None, **extra: Any) -> dict[str, Any]:
    """The shared test config as package ``netpkg``, without data env vars."""
    names = {"data_name": "net-data", "package": "netpkg", "env_var": None, "url_env_var": None}
    return runtime.make_config(files, base_url, **{**names, **extra})


@pytest.fixture(autouse=True)
def no_dead_hosts() -> None:
    DEAD_HOSTS.clear()  # the memory of dead hosts is per process: not across tests


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in SMALL.items():
        cdn.add(name, data)
    return cdn


# ---------------------------------------------------------------------- connections


def test_connections_are_kept_alive_and_reused(served: CDN, tmp_path: Path) -> None:
    loc = locator(make_config(SMALL, served.url), tmp_path)
    paths = loc.fetch_all(jobs=4)
    assert {n: p.read_bytes() for n, p in paths.items()} == SMALL
    assert len(served.requests) == 30
    assert served.connections <= 4  # one per worker, not one per file
    served.reset_counters()
    for name in ("s00.bin", "s01.bin"):  # sequential fetches share one connection
        (tmp_path / "cache").joinpath(loc._cache_path(name)).unlink()
        loc.fetch(name)
    assert served.connections == 1 and len(served.requests) == 2


def test_user_agent_names_the_package_and_the_tool(served: CDN, tmp_path: Path) -> None:
    locator(make_config(SMALL, served.url), tmp_path).fetch("s00.bin")
    agent = served.requests[0].headers["User-Agent"]
    assert agent.startswith("hatch-datafetch/") and "netpkg" in agent


def test_server_dropping_idle_connections(served: CDN, tmp_path: Path) -> None:
    served.idle_close = 0.2
    loc = locator(make_config(SMALL, served.url), tmp_path)
    loc.fetch("s00.bin")
    time.sleep(0.6)  # the server closes the kept-alive connection meanwhile
    assert loc.fetch("s01.bin").read_bytes() == SMALL["s01.bin"]
    assert served.count("s01.bin") == 1 and served.connections == 2


def test_connection_close_is_honoured(served: CDN, tmp_path: Path) -> None:
    served.fault("s00.bin", close_after())
    loc = locator(make_config(SMALL, served.url), tmp_path)
    loc.fetch("s00.bin")
    loc.fetch("s01.bin")
    assert served.connections == 2
    served.reset_counters()
    served.max_requests_per_conn = 2
    loc.fetch_all(tmp_path / "dest", jobs=1)  # 28 downloads (two come from the cache)
    assert len(served.requests) == 28 and served.connections == 14


def test_redirect_to_another_host(served: CDN, tmp_path: Path) -> None:
    with CDN() as other:
        other.add("moved/s00.bin", SMALL["s00.bin"])
        served.fault("s00.bin", redirect(other.url_for("moved/s00.bin"), 301))
        loc = locator(make_config(SMALL, served.url), tmp_path)
        assert loc.fetch("s00.bin").read_bytes() == SMALL["s00.bin"]
        assert other.count("moved/s00.bin") == 1


# ---------------------------------------------------------------------- TLS


def test_https_with_a_test_ca_through_ssl_cert_file(tmp_path: Path) -> None:
    from support import tlsca

    context, cafile = tlsca.make_tls(tmp_path / "ca")
    with CDN(tls=context) as secure:
        for name, data in SMALL.items():
            secure.add(name, data)
        config = make_config(SMALL, secure.url)
        loc = locator(config, tmp_path, environ={"SSL_CERT_FILE": str(cafile)})
        assert loc.fetch_all(jobs=4)["s05.bin"].read_bytes() == SMALL["s05.bin"]
        assert secure.connections <= 4
        with pytest.raises(DataNotFoundError, match="certificate"):  # the default store
            Locator(config, cache_dir=tmp_path / "other", environ={}).fetch("s00.bin")


def test_trust_store_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl
    import types

    dl = locator(make_config({}, None), tmp_path).downloader.client
    monkeypatch.setitem(sys.modules, "truststore", None)
    monkeypatch.setitem(sys.modules, "certifi", None)
    assert isinstance(dl.tls_context(), ssl.SSLContext)  # the stdlib default
    fake = types.SimpleNamespace(where=lambda: ssl.get_default_verify_paths().openssl_cafile)
    monkeypatch.setitem(sys.modules, "certifi", fake)
    dl._tls = None
    calls: list[Any] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda **kw: calls.append(kw) or real())
    dl.tls_context()
    assert calls == [{"cafile": fake.where()}]
    sentinel = object()
    monkeypatch.setitem(
        sys.modules, "truststore", types.SimpleNamespace(SSLContext=lambda proto: sentinel)
    )
    dl._tls = None
    assert dl.tls_context() is sentinel  # truststore first
    dl = locator(
        make_config({}, None), tmp_path, environ={"SSL_CERT_DIR": "/etc/ssl"}
    ).downloader.client
    calls.clear()
    dl.tls_context()
    assert calls == [{"cafile": None, "capath": "/etc/ssl"}]  # the variables beat all


# ---------------------------------------------------------------------- proxies


def test_http_through_a_proxy_with_credentials(served: CDN, tmp_path: Path) -> None:
    with Proxy(auth=("u", "p w")) as proxy:
        url = proxy.url.replace("http://", "http://u:p%20w@")
        loc = locator(make_config(SMALL, served.url), tmp_path, environ={"HTTP_PROXY": url})
        assert loc.fetch_all(jobs=4)["s09.bin"].read_bytes() == SMALL["s09.bin"]
        assert proxy.connections <= 4 and len(proxy.requests) == 30
        assert all(r.target.startswith(served.url) for r in proxy.requests)
        assert all(r.status == 200 for r in proxy.requests)


def test_https_through_a_proxy_tunnel(tmp_path: Path) -> None:
    """A CONNECT tunnel through a plain-HTTP proxy, also when its URL says ``https://`` (as
    urllib reads such a URL; the environment reference says so)."""
    from support import tlsca

    context, cafile = tlsca.make_tls(tmp_path / "ca")
    with CDN(tls=context) as secure:
        for name, data in SMALL.items():
            secure.add(name, data)
        for scheme in ("http", "https"):
            with Proxy() as proxy:
                url = proxy.url.replace("http://", f"{scheme}://")
                env = {"https_proxy": url, "SSL_CERT_FILE": str(cafile)}
                config = make_config(SMALL, secure.url)
                loc = locator(config, tmp_path / scheme, environ=env)
                assert len(loc.fetch_all(jobs=4)) == 30
                assert 1 <= proxy.connections <= 4
                assert {r.method for r in proxy.requests} == {"CONNECT"}


def test_no_proxy_bypasses_the_proxy(served: CDN, tmp_path: Path) -> None:
    with Proxy() as proxy:
        env = {"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.1"}
        loc = locator(make_config(SMALL, served.url), tmp_path, environ=env)
        loc.fetch("s00.bin")
        assert proxy.requests == [] and served.count("s00.bin") == 1
        wrong = {"http_proxy": proxy.url, "HTTP_PROXY": "http://127.0.0.1:9/"}  # lower wins
        assert locator(make_config(SMALL, served.url), tmp_path / "b", environ=wrong).fetch(
            "s01.bin"
        )
        assert len(proxy.requests) == 1


def test_proxy_refusing_credentials_is_a_clear_error(served: CDN, tmp_path: Path) -> None:
    from support import tlsca

    context, cafile = tlsca.make_tls(tmp_path / "ca")
    with CDN(tls=context) as secure, Proxy(auth=("u", "right")) as proxy:
        secure.add("s00.bin", SMALL["s00.bin"])
        env = {"HTTPS_PROXY": proxy.url.replace("//", "//u:wrong@"), "SSL_CERT_FILE": str(cafile)}
        loc = locator(make_config(SMALL, secure.url), tmp_path, environ=env)
        with pytest.raises(DataNotFoundError, match="407"):
            loc.fetch("s00.bin")
        assert secure.requests == []


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypass"),
    [
        ("*", "http://anything.example:8080/", True),
        ("example.org", "https://example.org/", True),
        ("example.org", "https://www.example.org:8443/", True),
        ("example.org", "https://notexample.org/", False),
        (".example.org", "https://example.org/", True),
        (".example.org", "https://a.b.example.org/", True),
        ("*.example.org", "https://a.example.org/", True),
        ("example.org:443", "https://example.org/", True),  # the scheme's port
        ("example.org:443", "https://example.org:443/", True),
        ("example.org:443", "http://example.org/", False),
        ("example.org:8080", "https://example.org/", False),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/", True),
        ("127.0.0.1:8080", "http://127.0.0.1:8081/", False),
        ("127.0.0.1", "http://127.0.0.1:8081/", True),
        ("10.0.0.0/8", "http://10.1.2.3/", True),
        ("10.0.0.0/8", "http://11.1.2.3/", False),
        ("::1", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:9090/", False),
        ("EXAMPLE.org", "http://Example.ORG/", True),
        (" a.example , b.example ", "http://b.example/", True),
        ("a.example b.example", "http://b.example/", True),
        ("example.org:notaport", "http://example.org/", False),
        ("", "http://example.org/", False),
    ],
)
def test_no_proxy_entries(no_proxy: str, url: str, bypass: bool, tmp_path: Path) -> None:
    """NO_PROXY as curl and requests read it: hosts, domain suffixes, ``*``, ``HOST:PORT``
    (both must match), IPv6 with or without brackets, and CIDR blocks for IP addresses."""
    from urllib.parse import urlsplit

    env = {"HTTP_PROXY": "http://proxy.invalid:3128", "HTTPS_PROXY": "http://proxy.invalid:3128"}
    client = locator(make_config({}, None), tmp_path, environ={**env, "NO_PROXY": no_proxy})
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = client.downloader.client.proxy_for(parts.scheme, parts.hostname or "", port)
    assert (proxy is None) is bypass


def test_proxy_urls_that_cannot_work_name_their_variable(tmp_path: Path) -> None:
    from hatch_datafetch._runtime.errors import Fatal

    for value, why in (
        ("http://127.0.0.1:notaport", "port"),
        ("http://127.0.0.1:70000", "port"),
        ("http://:3128", "host"),
        ("socks5h://127.0.0.1:1080", "socks5h"),
    ):
        loc = locator(make_config({}, None), tmp_path, environ={"HTTPS_PROXY": value})
        with pytest.raises(Fatal, match=why) as e:
            loc.downloader.client.proxy_for("https", "example.org", 443)
        assert f"HTTPS_PROXY={value!r}" in str(e.value)
    good = {"HTTPS_PROXY": "proxy.example:3128", "HTTP_PROXY": "http://u:p@proxy.example"}
    client = locator(make_config({}, None), tmp_path, environ=good).downloader.client
    assert client.proxy_for("https", "example.org", 443) == ("proxy.example", 3128, {})
    assert client.proxy_for("http", "example.org", 80) == (
        "proxy.example", 80, {"Proxy-Authorization": "Basic dTpw"}
    )  # fmt: skip


# ---------------------------------------------------------------------- dead hosts


def test_a_dead_host_costs_one_connect_not_one_per_file(served: CDN, tmp_path: Path) -> None:
    dead = refused_url()
    loc = locator(make_config(SMALL, dead, mirrors=[served.url]), tmp_path)
    paths = loc.fetch_all(jobs=1)
    assert len(paths) == 30 and served.count("s00.bin") == 1
    where = loc.where("s00.bin")
    assert [c.status for c in where if c.source == "download"] == ["not needed", "not needed"]
    (Path(loc._cache_path("s00.bin"))).unlink()
    statuses = [c.status for c in loc.where("s00.bin") if c.source == "download"]
    assert statuses[0].startswith("skipped: host down (ConnectionRefusedError")
    assert statuses[1] == "would download"


def test_the_last_url_is_still_tried_on_a_dead_host(tmp_path: Path) -> None:
    dead = refused_url()
    loc = locator(make_config(SMALL, dead), tmp_path)
    for name in ("s00.bin", "s01.bin"):
        with pytest.raises(DataNotFoundError, match=r"cannot connect to 127\.0\.0\.1"):
            loc.fetch(name)


# ---------------------------------------------------------------------- large files


BIG = random_bytes(6 << 20, seed=200)


def test_segmented_download_of_a_large_file(tmp_path: Path) -> None:
    with CDN(rate=8 << 20) as server:
        server.add("big.bin", BIG)
        loc = locator(make_config({"big.bin": BIG}, server.url), tmp_path)
        loc.downloader.segment_min = 1 << 20
        path = loc.fetch_all(jobs=4)["big.bin"]
        assert path.read_bytes() == BIG
        ranges = sorted(r.headers.get("Range", "") for r in server.requests)
        expected = ["bytes=0-0", "bytes=0-1572863", "bytes=1572864-3145727"]
        expected += ["bytes=3145728-4718591", "bytes=4718592-6291455"]
        assert ranges == sorted(expected)
        assert server.connections == 5
    assert not list((tmp_path / "cache").rglob(".*"))  # no part, lock or range record left


def test_large_files_split_into_ranges_of_at_least_16_mib(tmp_path: Path) -> None:
    """The split rule (issue 17, item 15): ``min(segments, size // 16 MiB)`` ranges, so a
    file under 32 MiB is one stream (no probe), 64 MiB come in 4 ranges with ``fetch``
    and 100 MiB in 6 with ``fetch_all(jobs=8)``; bench/run.py line 8c times it."""
    mib = 1 << 20
    files = {
        f"{n}.bin": (bytes(range(256)) * (n * mib // 256))[:-1] + bytes([n]) for n in (31, 64, 100)
    }
    with CDN() as server:
        for name, data in files.items():
            server.add(name, data)
        loc = locator(make_config(files, server.url), tmp_path)
        for name in ("31.bin", "64.bin"):
            assert loc.fetch(name).read_bytes() == files[name]
        assert loc.fetch_all(jobs=8)["100.bin"].read_bytes() == files["100.bin"]
        ranged = {n: sum(1 for r in server.requests if r.path == n) for n in files}
    assert ranged == {"31.bin": 1, "64.bin": 1 + 4, "100.bin": 1 + 6}  # (+1: the probe)


def test_a_server_that_ignores_range_gets_one_stream(tmp_path: Path) -> None:
    with CDN(range_support=False) as server:
        server.add("big.bin", BIG)
        loc = locator(make_config({"big.bin": BIG}, server.url), tmp_path)
        loc.downloader.segment_min = 1 << 20
        assert loc.fetch_all(jobs=4)["big.bin"].read_bytes() == BIG
        assert [r.status for r in server.requests] == [200, 200]
    with CDN() as server:
        server.add("big.bin", BIG)
        server.fault("big.bin", ignore_range())
        loc = locator(make_config({"big.bin": BIG}, server.url), tmp_path / "b")
        loc.downloader.segment_min = 1 << 20
        assert loc.fetch("big.bin").read_bytes() == BIG


def test_bodies_are_read_into_one_buffer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each response's body is read into one buffer (``readinto1``), never with ``read1``,
    which makes a new bytes object of the full size asked for every read and shrinks it to
    what arrived: 1 MiB pieces that fragment the C heap until a long download's peak memory
    has doubled (issue 17, item 28; bench/run.py line 4b measures it)."""
    import http.client

    calls: list[int] = []
    real = http.client.HTTPResponse.read1

    def read1(self: http.client.HTTPResponse, n: int = -1) -> bytes:
        calls.append(n)
        return real(self, n)

    monkeypatch.setattr(http.client.HTTPResponse, "read1", read1)
    with CDN(rate=8 << 20) as server:  # paced: bodies arrive in small pieces
        server.add("big.bin", BIG)
        server.add("s00.bin", SMALL["s00.bin"])
        files = {"big.bin": BIG, "s00.bin": SMALL["s00.bin"]}
        loc = locator(make_config(files, server.url), tmp_path)
        loc.downloader.segment_min = 1 << 20
        paths = loc.fetch_all(jobs=4)
        assert {n: p.read_bytes() for n, p in paths.items()} == files
        server.fault("s00.bin", close_after())  # and a body that ends with the connection
        (tmp_path / "cache").joinpath(loc._cache_path("s00.bin")).unlink()
        assert loc.fetch("s00.bin").read_bytes() == SMALL["s00.bin"]
    assert calls == []


_SEGMENT_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import _runtime
config = json.load(open(sys.argv[2]))
loc = _runtime.Locator(config, cache_dir=sys.argv[3], environ={}, backoff=0.01)
loc.downloader.segment_min = 1 << 20
print(loc.fetch_all(jobs=4)["big.bin"], flush=True)
"""


def _kill_segmented_child(
    tmp_path: Path, files: dict[str, bytes], url: str, some: int
) -> tuple[list[str], dict[str, Any]]:
    """Start :data:`_SEGMENT_CHILD` on a registry of ``files`` (cache ``tmp_path/cache``),
    kill it once a range of its ``.ranges`` record holds more than ``some`` bytes (or after
    30 s); the command that runs it again, and the last record read."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(make_config(files, url)))
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-c", _SEGMENT_CHILD, str(Path(rt.__file__).parent.parent)]
    cmd += [str(config_path), str(cache)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    record: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            r[2] > some for r in record.get("ranges", [])
        ):
            time.sleep(0.1)
            found = list(cache.rglob(".*.ranges"))
            record = json.loads(found[0].read_text()) if found else {}
    finally:
        child.kill()
        child.wait(10)
    return cmd, record


def test_segmented_download_killed_then_resumed(tmp_path: Path) -> None:
    with CDN(rate=300_000) as server:
        server.add("big.bin", BIG)
        cache = tmp_path / "cache"
        cmd, found = _kill_segmented_child(tmp_path, {"big.bin": BIG}, server.url, 1 << 19)
        record: list[Any] = found.get("ranges", [])
        assert len(record) == 4 and all(r[2] > 0 for r in record), record
        sent_before = sum(r.bytes_sent for r in server.requests)
        server.reset_counters()
        server.rate = 0
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
        assert Path(out.strip()).read_bytes() == BIG
        starts = sorted(int(r.headers["Range"][6:].split("-")[0]) for r in server.requests[1:])
        assert all(s >= r[0] + r[2] for s, r in zip(starts, record))  # every range resumed
        assert sent_before + sum(r.bytes_sent for r in server.requests) < len(BIG) * 1.2
    assert not list(cache.rglob(".*"))


def test_a_resumed_download_of_a_file_that_changed_starts_afresh(tmp_path: Path) -> None:
    """The range record keeps the validator its bytes belong to: a rerun after kill -9 that
    finds another ETag starts every range afresh, instead of mixing versions and
    downloading the whole file once more after the hash mismatch."""
    new = bytes(reversed(BIG))
    with CDN(rate=300_000) as server:
        server.add("big.bin", BIG)
        cache = tmp_path / "cache"
        cmd, record = _kill_segmented_child(tmp_path, {"big.bin": new}, server.url, 1 << 18)
        assert record.get("validator", "").startswith('"'), record  # the ETag
        server.reset_counters()
        server.rate = 0
        server.add("big.bin", new)  # the file changed on the server meanwhile
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
        assert Path(out.strip()).read_bytes() == new
        heads = [r.headers.get("Range") for r in server.requests]
        assert heads[0] == "bytes=0-0" and None not in heads  # no one-stream redo
        assert sorted(h.split("-")[0] for h in heads[1:]) == [
            "bytes=0", "bytes=1572864", "bytes=3145728", "bytes=4718592"
        ]  # fmt: skip
    assert not list(cache.rglob(".*"))


def test_kept_alive_connections_are_closed_at_exit(served: CDN, tmp_path: Path) -> None:
    """A program that fetched over HTTP and exits with warnings on sees no ResourceWarning
    about an unclosed socket: the connections kept alive for later files close at exit."""
    from support.runtime import install

    env = install(tmp_path, make_config(SMALL, served.url))
    code = "import demo._datafetch as d; d.fetch('s00.bin'); d.fetch('s01.bin')"
    r = subprocess.run(
        [sys.executable, "-W", "always", "-X", "dev", "-c", code],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "ResourceWarning" not in r.stderr, r.stderr
    assert served.connections == 1  # still one connection for both files
