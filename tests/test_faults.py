"""The locator under hostile files and failing networks: the guarantees of SPEC §10.

Every test is a reliability probe (tests/support/reliability.py): it drives the real locator (in
process, or the stdlib CLI that every wheel ships, in a subprocess) against the loopback
test CDN, and ends by checking that no bad file stands at a final path. Cases that could
hang the old engine run in a subprocess or thread with a bound. The README's reliability
table is made from these results.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import runtime
from support.cdnserver import (
    CDN,
    bad_status,
    claim_length,
    delay,
    drip,
    endless,
    ignore_range,
    long_range,
    lying_range,
    redirect,
    shifted_range,
    stale,
    stall,
    status,
    truncate,
)
from support.reliability import probe
from support.runtime import (
    RUNTIME,
    install,
    interruptible,
    make_config,
    random_bytes,
    run_module,
    sha,
)

from hatch_datafetch._runtime import (
    DataNotFoundError,
    HashMismatchError,
    Locator,
    NoSpaceError,
    fs,
    layout,
    retry,
)
from hatch_datafetch.registry import check_name, parse_text

FILES = {
    "f.bin": random_bytes(200_000, seed=11),
    "sub/g.bin": random_bytes(50_000, seed=12),
    "h.txt": b"a small text file\n",
}
Check = Callable[..., None]


def locator(config: dict[str, Any], tmp_path: Path, **kw: Any) -> Locator:
    """The shared test Locator, with retries that back off at most 0.05 s."""
    kw.setdefault("max_backoff", 0.05)
    return runtime.locator(config, tmp_path, **kw)


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in FILES.items():
        cdn.add(name, data)
    return cdn


def bounded(func: Callable[[], Any], seconds: float = 60) -> Any:
    """Run ``func`` in a thread; fail (instead of hanging) if it takes over ``seconds``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def part_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".*.part"))


def ctrl_c_while_streaming(
    cmd: list[str], env: dict[str, str], root: Path, parts: int = 1
) -> tuple[int, str, float]:
    """Start ``cmd``, wait (up to 30 s) until ``parts`` part files exist under ``root``, let
    the bodies stream for 0.5 s, then press Ctrl-C (SIGINT): the exit status, stderr and the
    seconds from the signal to the exit (the child is killed if it outlives 10 s)."""
    child = interruptible(cmd, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(part_files(root)) < parts:
            time.sleep(0.05)
        assert len(part_files(root)) >= parts, f"no {parts} part file(s) under {root} in 30 s"
        time.sleep(0.5)  # every worker is streaming a dripping body now
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = child.communicate(timeout=10)
        return child.returncode, err, time.monotonic() - sent
    finally:
        child.kill()


# ---------------------------------------------------------------------- 1. no write through links


@probe(
    "a symlink planted at DEST/.f.bin.part, pointing at a user's file; then `download --dest`",
    "the user's file is untouched; DEST/f.bin is a verified regular file",
)
def test_planted_part_symlink_is_never_written(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / ".f.bin.part").symlink_to(victim)
    r = run_module(env, "download", "--dest", str(dest))
    assert r.returncode == 0, r.stderr
    assert victim.read_bytes() == b"precious"
    assert not (dest / "f.bin").is_symlink() and (dest / "f.bin").read_bytes() == FILES["f.bin"]
    final_files(dest, files=FILES)


@probe(
    "a symlink planted where a killed download's part file would be adopted",
    "an error naming the link; the user's file is untouched",
)
def test_planted_adoptable_part_symlink_is_an_error(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dest = tmp_path / "dest"
    dest.mkdir()
    link = dest / f".f.bin.{fs.host()}-999999-0a0a.part"  # looks like a dead download's
    link.symlink_to(victim)
    r = run_module(env, "download", "--dest", str(dest), "--file", "f.bin")
    assert r.returncode == 1 and str(link) in r.stderr and "Traceback" not in r.stderr
    assert victim.read_bytes() == b"precious"
    assert not (dest / "f.bin").exists()
    final_files(dest, files=FILES)


@probe(
    "a dangling symlink planted at DEST/.f.bin.lock",
    "an error naming the link; nothing is created where it points",
)
def test_dangling_lock_symlink_is_an_error(served: CDN, tmp_path: Path, final_files: Check) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()  # the link's directory exists: following the link would create a file
    (dest / ".f.bin.lock").symlink_to(outside / "created-by-the-download")
    r = run_module(env, "download", "--dest", str(dest), "--file", "f.bin")
    assert r.returncode == 1 and ".f.bin.lock" in r.stderr and "symbolic link" in r.stderr
    assert list(outside.iterdir()) == []
    assert served.requests == []
    final_files(dest, files=FILES)


@probe(
    "the same in the user cache: a lock symlink, and a cache directory that is a symlink",
    "errors naming the link; nothing is written outside the cache",
)
def test_links_in_the_user_cache_are_refused(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    loc = locator(make_config(FILES, served.url), tmp_path)
    cache_file = Path(loc._cache_path("f.bin"))
    cache_file.parent.mkdir(parents=True)
    (cache_file.parent / ".f.bin.lock").symlink_to(tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError, match="symbolic link"):
        loc.fetch("f.bin")
    assert not (tmp_path / "nowhere").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    two = Path(loc._cache_path("h.txt")).parent.parent  # cache/sha256/XX
    two.parent.mkdir(parents=True, exist_ok=True)
    two.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DataNotFoundError, match="symbolic link"):
        loc.fetch("h.txt")
    assert list(elsewhere.iterdir()) == []
    assert loc.fetch("sub/g.bin").read_bytes() == FILES["sub/g.bin"]  # others still work
    final_files(tmp_path / "cache", elsewhere, files=FILES)


@probe(
    "a tampered runtime JSON: hash `sha256:../../../x`, a name `../escape.txt`",
    "a ValueError naming the entry before any path is made; nothing written anywhere",
)
def test_tampered_runtime_json_never_becomes_a_path(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    config = make_config(FILES, served.url)
    config["files"]["f.bin"]["hash"] = "sha256:../../../x"
    config["files"]["../escape.txt"] = {"hash": sha(b"x"), "size": 1, "url": None}
    loc = locator(config, tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="invalid hash"):
        loc.fetch("f.bin")
    with pytest.raises(ValueError, match=r"'\.\.' segment"):
        loc.fetch("../escape.txt")
    with pytest.raises(ValueError, match="invalid hash"):
        loc.fetch_all(tmp_path / "dest", names=["f.bin", "../escape.txt"])
    assert sorted(tmp_path.rglob("*")) == before  # nothing was written anywhere
    assert served.requests == []
    final_files(tmp_path, files={})


# ---------------------------------------------------------------------- 2. bounded time


@probe(
    "a server that drips 1 byte every 0.2 s (timeout 1 s, 1 retry)",
    "each attempt aborted after 1 s of less than 1 KiB; the error says stalled",
)
def test_drip_is_aborted(served: CDN, tmp_path: Path, final_files: Check) -> None:
    served.fault("f.bin", drip(1, 0.2), drip(1, 0.2))
    loc = locator(make_config(FILES, served.url), tmp_path, timeout=1.0, retries=1)
    with pytest.raises(DataNotFoundError, match="stalled") as e:
        bounded(lambda: loc.fetch("f.bin"), 30)
    assert "allow network access" in str(e.value)
    assert served.count("f.bin") == 2
    assert part_files(tmp_path / "cache") == []
    final_files(tmp_path / "cache", files=FILES)


_HOLDER = """
import fcntl, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"process {os.getpid()} on {socket.gethostname()}".encode())
print("locked", flush=True)
time.sleep(120)
"""


@probe(
    "a second process waits on the lock of a download that hangs (timeout 1 s)",
    "it says whom it waits for, and gives up naming that process after 7 s",
)
@pytest.mark.slow
def test_lock_waiter_gives_up_on_a_stuck_holder(
    served: CDN, tmp_path: Path, final_files: Check, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("fcntl")
    loc = locator(make_config(FILES, served.url), tmp_path, timeout=1.0)
    cache_file = Path(loc._cache_path("f.bin"))
    cache_file.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(cache_file.parent / ".f.bin.lock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataNotFoundError, match=f"process {holder.pid} on") as e:
            bounded(lambda: loc.fetch("f.bin"), 60)
        assert "shown no progress" in str(e.value)
        assert f"waiting for process {holder.pid}" in caplog.text
    finally:
        holder.kill()
        holder.wait()
    assert served.requests == []
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "Ctrl-C during `download --jobs 4` of four dripping files",
    "exit 130 within 2 s; the part files stay and a rerun resumes them",
)
def test_ctrl_c_stops_every_worker(served: CDN, tmp_path: Path, final_files: Check) -> None:
    big = {f"big{i}.bin": random_bytes(400_000, seed=20 + i) for i in range(4)}
    for name, data in big.items():
        served.add(name, data)
        served.fault(name, drip(2000, 0.05))
    env = install(tmp_path, make_config(big, served.url))
    dest = tmp_path / "dest"
    cmd = [sys.executable, "-m", "demo._datafetch", "download", "--dest", str(dest), "--jobs", "4"]
    code, err, took = ctrl_c_while_streaming(cmd, env, dest, parts=4)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert took < 10
    kept = {p.name.split(".")[1]: p.stat().st_size for p in part_files(dest)}
    assert sorted(kept) == ["big0", "big1", "big2", "big3"] and all(kept.values())
    served.reset_counters()
    r = run_module(env, "download", "--dest", str(dest), "--jobs", "4")
    assert r.returncode == 0, r.stderr
    ranges = sorted(r.headers.get("Range", "") for r in served.requests)
    assert all(x.startswith("bytes=") for x in ranges), ranges  # every file resumed
    assert {n: (dest / n).read_bytes() for n in big} == big
    assert part_files(dest) == []
    final_files(dest, files=big)


@probe(
    "Ctrl-C during a single-thread download: `download --jobs 1`, and a plain fetch()",
    "exit 130 / KeyboardInterrupt; the part file stays and the rerun resumes it with Range",
)
def test_ctrl_c_keeps_a_single_thread_downloads_part_file(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    big = {"big.bin": random_bytes(400_000, seed=31)}
    served.add("big.bin", big["big.bin"])
    env = install(tmp_path, make_config(big, served.url))
    dest = tmp_path / "dest"
    cache = Path(env["XDG_CACHE_HOME"]) / "demo-data"
    fetch = "import demo._datafetch as d; d.fetch('big.bin')"
    runs = {
        "download --jobs 1": ([sys.executable, "-m", "demo._datafetch", "download", "--dest",
                               str(dest), "--jobs", "1"], dest),
        "fetch()": ([sys.executable, "-c", fetch], cache),
    }  # fmt: skip
    for what, (cmd, root) in runs.items():
        served.fault("big.bin", drip(2000, 0.05))
        code, err, _ = ctrl_c_while_streaming(cmd, env, root)
        if what == "fetch()":
            assert "KeyboardInterrupt" in err, err
        else:
            assert code == 130 and "part files are kept" in err, err
        kept = part_files(root)
        assert len(kept) == 1 and kept[0].stat().st_size > 0, (what, kept)
        served.reset_counters()
        if what == "fetch()":
            r = subprocess.run([sys.executable, "-c", fetch], env=env, capture_output=True)
        else:
            r = run_module(env, "download", "--dest", str(dest), "--jobs", "1")
        assert r.returncode == 0, r.stderr
        assert [q.headers.get("Range", "")[:6] for q in served.requests] == ["bytes="], what
        assert part_files(root) == []
    assert (dest / "big.bin").read_bytes() == big["big.bin"]
    final_files(dest, cache, files=big)


_ONE_TRY = """
import json, sys
sys.path.insert(0, sys.argv[1])
import _runtime
config = json.load(open(sys.argv[2]))
loc = _runtime.Locator(config, cache_dir=sys.argv[3], environ={}, retries=0)
try:
    print(loc.fetch(sys.argv[4]), flush=True)
except LookupError as e:
    print("FAILED", str(e).splitlines()[0], flush=True)
"""


@probe(
    "a second process waits on the lock of a download that then fails (the holder cleans up)",
    "the waiter tries the URLs itself and gets the file, 3 of 3 trials",
)
def test_a_waiter_takes_over_when_the_holder_fails(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(make_config(FILES, served.url)))
    for trial in range(3):
        cache = tmp_path / f"cache{trial}"
        served.reset_counters()
        served.fault("f.bin", stall(1.0))  # the holder's only try: half the body, then a close
        cmd = [sys.executable, "-c", _ONE_TRY, str(RUNTIME.parent), str(config_path), str(cache)]
        holder = subprocess.Popen([*cmd, "f.bin"], stdout=PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(cache.rglob(".f.bin.lock")):
            time.sleep(0.02)
        waiter = subprocess.Popen([*cmd, "f.bin"], stdout=PIPE, text=True)
        out_holder, _ = holder.communicate(timeout=60)
        out_waiter, _ = waiter.communicate(timeout=60)
        assert out_holder.startswith("FAILED"), out_holder
        assert not out_waiter.startswith("FAILED"), out_waiter
        assert Path(out_waiter.strip()).read_bytes() == FILES["f.bin"]
        assert served.count("f.bin") == 2  # the holder's try, then the waiter's own
        final_files(cache, files=FILES)


# ---------------------------------------------------------------------- 3. bounded space


@probe(
    "an endless body for a file with no size (pooch-style registry), max-size 1 MiB",
    "stopped at 1 MiB, not retried, part file removed; the error names max-size",
)
def test_endless_body_stops_at_max_size(served: CDN, tmp_path: Path, final_files: Check) -> None:
    config = make_config(FILES, served.url, max_size=1 << 20)
    config["files"]["f.bin"]["size"] = None
    served.fault("f.bin", endless(b"z"))
    loc = locator(config, tmp_path)
    with pytest.raises(DataNotFoundError, match=r"more than 1,048,576 bytes \(max-size\)"):
        bounded(lambda: loc.fetch("f.bin"), 60)
    assert served.count("f.bin") == 1
    assert part_files(tmp_path / "cache") == []
    final_files(tmp_path / "cache", files=FILES)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs; needs root), unmounted afterwards."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@probe(
    "a 3 MB download onto a 1 MiB file system (a real tmpfs), size unknown",
    "stops at ENOSPC without retrying, removes the part file, names the directory and free bytes",
)
def test_disk_full_stops_at_once(
    served: CDN, tmp_path: Path, tiny_disk: Path, final_files: Check
) -> None:
    data = random_bytes(3_000_000, seed=30)
    served.add("huge.bin", data)
    files = {"huge.bin": data}
    config = make_config(files, served.url)
    config["files"]["huge.bin"]["size"] = None
    loc = Locator(config, cache_dir=tiny_disk / "cache", environ={}, backoff=0.01)
    with pytest.raises(NoSpaceError) as e:
        loc.fetch("huge.bin")
    message = str(e.value)
    assert "no space left in" in message and str(tiny_disk / "cache") in message
    assert "bytes are free" in message and "allow network access" not in message
    assert served.count("huge.bin") == 1
    assert part_files(tiny_disk) == []
    final_files(tiny_disk, files=files)


@probe(
    "a 3 MB download with a known size onto a 1 MiB file system",
    "refused before any byte is fetched, naming bytes needed and free",
)
def test_disk_too_small_is_refused_before_downloading(
    served: CDN, tmp_path: Path, tiny_disk: Path, final_files: Check
) -> None:
    data = random_bytes(3_000_000, seed=31)
    served.add("huge.bin", data)
    files = {"huge.bin": data}
    loc = Locator(make_config(files, served.url), cache_dir=tiny_disk / "cache", environ={})
    with pytest.raises(NoSpaceError, match="needs 3,000,000 more bytes"):
        loc.fetch("huge.bin")
    assert served.requests == []
    final_files(tiny_disk, files=files)


_FSIZE = """
import resource, sys, runpy
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
sys.argv = ["demo._datafetch", *sys.argv[1:]]
runpy.run_module("demo._datafetch", run_name="__main__")
"""


@probe(
    "the download CLI under a 1 MiB file-size limit (RLIMIT_FSIZE) for a 3 MB file",
    "EFBIG: exit 1 at once, no retry, part file removed, no network advice",
)
def test_file_size_limit_stops_at_once(served: CDN, tmp_path: Path, final_files: Check) -> None:
    pytest.importorskip("resource")
    data = random_bytes(3_000_000, seed=32)
    served.add("huge.bin", data)
    files = {"huge.bin": data}
    config = make_config(files, served.url)
    config["files"]["huge.bin"]["size"] = None
    env = install(tmp_path, config)
    dest = tmp_path / "dest"
    r = subprocess.run(
        [sys.executable, "-c", _FSIZE, "download", "--dest", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert "file-size limit" in r.stderr and "allow network access" not in r.stderr
    assert served.count("huge.bin") == 1
    assert part_files(dest) == []
    final_files(dest, files=files)


# ---------------------------------------------------------------------- 4. retries


@probe(
    "503 with Retry-After: 2, then the file",
    "backs off the 2 s the server asked for (not its own 0.01 s), then succeeds",
)
def test_retry_after_is_honoured(
    served: CDN, tmp_path: Path, final_files: Check, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(retry.Cancel, "sleep", lambda self, s, beat: waits.append(s))
    served.fault("h.txt", status(503, retry_after=2))
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("h.txt").read_bytes() == FILES["h.txt"]
    assert len(waits) == 1 and waits[0] >= 2.0
    assert served.count("h.txt") == 2
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "503 with Retry-After: 3600",
    "fails at once, naming the 3600 s it was asked to wait",
)
def test_long_retry_after_fails_naming_it(served: CDN, tmp_path: Path, final_files: Check) -> None:
    served.fault("h.txt", status(503, retry_after=3600))
    loc = locator(make_config(FILES, served.url), tmp_path)
    with pytest.raises(DataNotFoundError, match="retry after 3600 s"):
        bounded(lambda: loc.fetch("h.txt"), 30)
    assert served.count("h.txt") == 1
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "404, then a 408 and a 429, then the file",
    "the 404 is not retried (the mirror is tried); 408 and 429 are retried",
)
def test_status_codes_by_kind(served: CDN, tmp_path: Path, final_files: Check) -> None:
    with CDN() as mirror:
        mirror.add("h.txt", FILES["h.txt"])
        served.fault("h.txt", status(404))
        mirror.fault("h.txt", status(408), status(429))
        loc = locator(make_config(FILES, served.url, mirrors=[mirror.url]), tmp_path)
        assert loc.fetch("h.txt").read_bytes() == FILES["h.txt"]
        assert (served.count("h.txt"), mirror.count("h.txt")) == (1, 3)
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "an https server whose certificate no trusted CA signed",
    "not retried (one connection); the error names SSL_CERT_FILE / SSL_CERT_DIR",
)
def test_certificate_failure_is_not_retried(tmp_path: Path, final_files: Check) -> None:
    from support import tlsca

    context, _ = tlsca.make_tls(tmp_path / "ca", ca="untrusted")
    _, trusted = tlsca.make_tls(tmp_path / "ca")
    with CDN(tls=context) as secure:
        secure.add("h.txt", FILES["h.txt"])
        loc = locator(
            make_config(FILES, secure.url), tmp_path, environ={"SSL_CERT_FILE": str(trusted)}
        )
        with pytest.raises(DataNotFoundError, match="SSL_CERT_FILE") as e:
            loc.fetch("h.txt")
        assert "certificate" in str(e.value)
        assert secure.connections == 1
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "redirects to ftp://127.0.0.1:21/ and from https to http",
    "both refused; the http server is never contacted",
)
def test_redirects_only_to_http_and_never_down(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    from support import tlsca

    served.fault("h.txt", redirect("ftp://127.0.0.1:21/h.txt"))
    loc = locator(make_config(FILES, served.url), tmp_path)
    with pytest.raises(DataNotFoundError, match="only http and https are followed"):
        loc.fetch("h.txt")
    context, cafile = tlsca.make_tls(tmp_path / "ca")
    plain_before = served.count("f.bin")
    with CDN(tls=context) as secure:
        secure.fault("f.bin", redirect(served.url_for("f.bin")))
        loc = locator(
            make_config(FILES, secure.url), tmp_path, environ={"SSL_CERT_FILE": str(cafile)}
        )
        with pytest.raises(DataNotFoundError, match="refused redirect from https"):
            loc.fetch("f.bin")
    assert served.count("f.bin") == plain_before == 0
    final_files(tmp_path / "cache", files=FILES)


# ---------------------------------------------------------------------- 5. special files


_SPECIAL = """
import sys, warnings
import demo._datafetch as d
warnings.simplefilter("ignore")
print("verify", d.verify(sys.argv[1]).bad)
print("where", [c.status for c in d.where("f.bin")])
print("fetch", open(d.fetch("f.bin"), "rb").read() == open(sys.argv[2], "rb").read())
"""


@probe(
    "a FIFO and a symlink to /dev/zero in the env-var dir and a verify dir",
    "reported bad, never read; fetch skips them and downloads",
)
def test_fifos_and_devices_are_bad_never_read(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    envdir = tmp_path / "envdir"
    (envdir / "sub").mkdir(parents=True)
    os.mkfifo(envdir / "f.bin")
    (envdir / "sub" / "g.bin").symlink_to("/dev/zero")
    (envdir / "h.txt").write_bytes(FILES["h.txt"])
    truth = tmp_path / "truth.bin"
    truth.write_bytes(FILES["f.bin"])
    env["DEMO_DATA_DIR"] = str(envdir)
    r = subprocess.run(
        [sys.executable, "-c", _SPECIAL, str(envdir), str(truth)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert "'f.bin'" in lines["verify"] and "'sub/g.bin'" in lines["verify"]
    assert "not a regular file" in lines["verify"]
    assert "bad: not a regular file" in lines["where"]
    assert lines["fetch"] == "True"
    r = run_module(env, "verify", str(envdir), timeout=60)
    assert r.returncode == 1
    assert "bad      f.bin  expected" in r.stdout and "bad      sub/g.bin  expected" in r.stdout
    assert r.stdout.count("got not a regular file") == 2
    final_files(tmp_path / "xdg", files=FILES)


# ---------------------------------------------------------------------- 6. the memo


@probe(
    "verified.json and its journal with malformed entries (a number, a table, a short list, "
    "wrong types; junk and a torn last line in the journal)",
    "ignored, never a traceback; dropped from the table when the journal is compacted into it",
)
def test_malformed_memo_entries_are_ignored(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    from hatch_datafetch._runtime.memo import Memo

    memo = tmp_path / "cache" / "verified.json"
    journal = memo.with_name("verified.log")
    memo.parent.mkdir(parents=True)
    junk = {"/a": 5, "/b": {}, "/c": [1, 2], "/d": [1, 2, 3, "x", "y"], "/e": "s", "/f": None}
    memo.write_text(json.dumps(junk))
    journal.write_text('garbage\n[1, 2]\n{"/g": [1, 2, 3, 4]}\n{"/h": [1, 2, 3, 4, "sha')
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("h.txt").read_bytes() == FILES["h.txt"]
    last = json.loads(journal.read_bytes().split()[-1])  # on a line of its own
    assert list(last) == [os.path.abspath(loc._cache_path("h.txt"))]
    Memo.at(str(memo))._compact()
    stored = json.loads(memo.read_text())
    assert stored.pop("format") == 1
    assert list(stored) == [os.path.abspath(loc._cache_path("h.txt"))]
    assert not journal.exists()  # appends from now on start a new journal
    memo.write_text("[1, 2, 3]")
    assert locator(make_config(FILES, served.url), tmp_path).fetch("h.txt").exists()
    memo.write_text("{not json")
    assert locator(make_config(FILES, served.url), tmp_path).fetch("h.txt").exists()
    final_files(tmp_path / "cache", files=FILES)


_MEMO_WRITER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import _runtime
config = json.load(open(sys.argv[2]))
loc = _runtime.Locator(config, cache_dir=sys.argv[3], environ={})
loc.fetch(sys.argv[4])
"""


@probe(
    "two locators in one process and six processes at once record verified files",
    "every entry survives in the memo (table and journal); every journal line is whole",
)
def test_memo_writers_never_lose_entries(tmp_path: Path, final_files: Check) -> None:
    files = {f"m{i}.bin": random_bytes(10_000, seed=40 + i) for i in range(8)}
    source = tmp_path / "src"
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    config = make_config(files, source.as_uri())
    a, b = locator(config, tmp_path), locator(config, tmp_path)
    a.fetch("m0.bin")
    b.fetch("m1.bin")
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _MEMO_WRITER,
                str(RUNTIME.parent),
                str(config_path),
                str(tmp_path / "cache"),
                f"m{i}.bin",
            ]
        )
        for i in range(2, 8)
    ]
    assert [p.wait(60) for p in procs] == [0] * 6
    from hatch_datafetch._runtime.memo import Memo

    lines = (tmp_path / "cache" / "verified.log").read_bytes().split()
    assert all(isinstance(json.loads(line), dict) for line in lines)  # none torn or mixed
    stored = Memo(str(tmp_path / "cache" / "verified.json"))._load()  # as a new process reads it
    stored = {k: v for k, v in stored.items() if layout.memo_entry_ok(v)}
    assert sorted(stored) == sorted(
        os.path.abspath(locator(config, tmp_path)._cache_path(n)) for n in files
    )
    final_files(tmp_path / "cache", files=files)


# ---------------------------------------------------------------------- 7. smaller faults


@probe(
    "a reset mid-body, then a 206 whose Content-Range is right but whose body starts at 0",
    "the hash mismatch triggers one fresh download without Range, which succeeds",
)
def test_lying_range_gets_a_fresh_restart(served: CDN, tmp_path: Path, final_files: Check) -> None:
    served.fault("f.bin", truncate(50_000), lying_range())
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("f.bin").read_bytes() == FILES["f.bin"]
    heads = [r.headers.get("Range") for r in served.requests if r.path == "f.bin"]
    assert heads == [None, "bytes=50000-", None]
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "a Content-Length twice the body, with and without the size in the registry",
    "the file is downloaded once, not twice, and verified",
)
def test_content_length_twice_the_body(served: CDN, tmp_path: Path, final_files: Check) -> None:
    size = len(FILES["f.bin"])
    served.fault("f.bin", claim_length())
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("f.bin").read_bytes() == FILES["f.bin"]
    assert sum(r.bytes_sent for r in served.requests) == size
    config = make_config(FILES, served.url)
    config["files"]["f.bin"]["size"] = None
    served.reset_counters()
    served.fault("f.bin", claim_length())
    dest = tmp_path / "dest"
    fresh = locator(config, tmp_path / "second")  # a cold cache
    assert fresh.fetch_all(dest, names=["f.bin"])["f.bin"].exists()
    assert sum(r.bytes_sent for r in served.requests) == size
    assert [r.status for r in served.requests] == [200, 416]
    final_files(tmp_path / "cache", tmp_path / "second", dest, files=FILES)


BAD_NAMES = [
    ("a/" + "x" * 300 + ".bin", "segment of 304 bytes"),
    ("CON", "Windows device name 'CON'"),
    ("data/aux.txt", "Windows device name 'aux'"),
    ("com1.tar.gz", "Windows device name 'com1'"),
    ("dir./x.bin", "ending in a dot or space"),
    ("x /y.bin", "ending in a dot or space"),
    ("\u202egnp.exe", "bidirectional control character U+202E"),
    ("data/a:b.txt", "contains ':'"),
]


@probe(
    "registry names no common file system stores: 300-byte segment, CON, aux.txt, "
    "trailing dot, bidi override, NFC/NFD and case twins",
    "rejected with the line and the reason, at build time and by the locator",
)
def test_unstorable_names_are_rejected(tmp_path: Path, final_files: Check) -> None:
    for name, reason in BAD_NAMES:
        with pytest.raises(ValueError, match=re.escape(reason)):
            check_name(name)
        text = f"ok.txt {'a' * 64}\n{shlex.quote(name)} {'b' * 64}\n"
        with pytest.raises(ValueError, match=f"<string>:2: .*{re.escape(reason)}"):
            parse_text(text)
        config = make_config({}, "http://127.0.0.1:9/")
        config["files"][name] = {"hash": sha(b"x"), "size": 1, "url": None}
        with pytest.raises(ValueError, match=re.escape(reason)):
            locator(config, tmp_path).fetch(name)
    nfc, nfd = unicodedata.normalize("NFC", "é.txt"), unicodedata.normalize("NFD", "é.txt")
    with pytest.raises(ValueError, match=r"<string>:2: .*only by Unicode normalisation"):
        parse_text(f"{nfc} {'a' * 64}\n{nfd} {'b' * 64}\n")
    final_files(tmp_path, files={})


@probe(
    "a runtime JSON whose hashes are upper case",
    "files still verify",
)
def test_upper_case_hash_matches(served: CDN, tmp_path: Path, final_files: Check) -> None:
    config = make_config(FILES, served.url)
    for spec in config["files"].values():
        spec["hash"] = spec["hash"].upper().replace("SHA256", "sha256")
    loc = locator(config, tmp_path)
    assert loc.fetch("h.txt").read_bytes() == FILES["h.txt"]
    assert loc.fetch("h.txt") == Path(loc._cache_path("h.txt"))
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "advice after a hash mismatch, a disk error, and with no env var configured",
    "no network advice where the network is not the problem; no 'the data directory variable'",
)
def test_advice_fits_the_failure(served: CDN, tmp_path: Path, final_files: Check) -> None:
    served.fault("h.txt", *[status(500)] * 3)
    config = make_config(FILES, served.url, env_var=None)
    loc = locator(config, tmp_path, retries=1)
    with pytest.raises(DataNotFoundError) as e:
        loc.fetch("h.txt")
    assert "allow network access" in str(e.value)  # a network failure: network advice
    assert "the data directory variable" not in str(e.value) and "export" not in str(e.value)
    assert "python -m demo._datafetch download --dest DIR" in str(e.value)
    bad = make_config(FILES, served.url)
    bad["files"]["f.bin"]["hash"] = sha(b"something else")
    with pytest.raises(HashMismatchError) as m:
        locator(bad, tmp_path).fetch("f.bin")
    assert "allow network access" not in str(m.value)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache should be")
    loc = Locator(make_config(FILES, served.url), cache_dir=blocker / "cache", environ={})
    with pytest.raises(DataNotFoundError, match="cannot write to") as w:
        loc.fetch("h.txt")
    assert "allow network access" not in str(w.value)
    env = install(tmp_path, make_config(FILES, served.url, env_var=None))
    r = run_module(env, "download", "--dest", str(tmp_path / "d"), "--file", "h.txt")
    assert r.returncode == 0 and "export" not in r.stdout
    final_files(tmp_path / "cache", tmp_path / "d", files=FILES)


# ---------------------------------------------------------------------- 8. connections (issue 17)


@probe(
    "the headers of the first GET come after the 0.5 s timeout; then fetch_all(jobs=1) the same",
    "that connection is closed, the retry reaches the server on a new one and every file verifies",
)
def test_a_timed_out_exchange_never_reuses_its_connection(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    served.fault("f.bin", delay(3))
    loc = locator(make_config(FILES, served.url), tmp_path, timeout=0.5, retries=2)
    assert bounded(lambda: loc.fetch("f.bin"), 30).read_bytes() == FILES["f.bin"]
    assert served.count("f.bin") == 2 and served.connections == 2
    served.reset_counters()
    served.fault("f.bin", delay(3))
    fresh = locator(make_config(FILES, served.url), tmp_path / "b", timeout=0.5, retries=2)
    paths = bounded(lambda: fresh.fetch_all(tmp_path / "dest", jobs=1), 30)
    assert {n: p.read_bytes() for n, p in paths.items()} == FILES
    assert len(served.requests) == len(FILES) + 1  # every file reached the server
    final_files(tmp_path / "cache", tmp_path / "b", tmp_path / "dest", files=FILES)


@probe(
    "a status line that cannot be parsed (`HTTP/1.1 2OO OK`), then the file",
    "the connection is replaced, not reused: the retry reaches the server and verifies",
)
def test_a_bad_status_line_never_reuses_its_connection(
    served: CDN, tmp_path: Path, final_files: Check
) -> None:
    served.fault("f.bin", bad_status())
    loc = locator(make_config(FILES, served.url), tmp_path, retries=2)
    assert bounded(lambda: loc.fetch("f.bin"), 30).read_bytes() == FILES["f.bin"]
    assert loc.fetch("h.txt").read_bytes() == FILES["h.txt"]
    assert served.count("f.bin") == 2 and served.count("h.txt") == 1
    final_files(tmp_path / "cache", files=FILES)


@probe(
    "HTTP_PROXY=http://127.0.0.1:notaport, https_proxy=socks5://…; NO_PROXY entries with a port",
    "an error naming the variable, its value and the form expected, no traceback; "
    "NO_PROXY=127.0.0.1:PORT bypasses the proxy for that port only",
)
def test_proxy_settings_are_read_like_curl(served: CDN, tmp_path: Path, final_files: Check) -> None:
    from support.cdnserver import Proxy

    bad = {"HTTP_PROXY": "http://127.0.0.1:notaport"}
    loc = locator(make_config(FILES, served.url), tmp_path, environ=bad)
    with pytest.raises(DataNotFoundError) as e:
        loc.fetch("h.txt")
    assert "HTTP_PROXY='http://127.0.0.1:notaport'" in str(e.value)
    assert "port" in str(e.value) and "http://[USER:PASSWORD@]HOST[:PORT]" in str(e.value)
    env = install(tmp_path, make_config(FILES, served.url))
    r = run_module({**env, "http_proxy": "socks5://127.0.0.1:1080"}, "download", "--dest",
                   str(tmp_path / "cli"))  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "http_proxy='socks5://127.0.0.1:1080'" in r.stderr and "socks5" in r.stderr
    assert served.requests == []
    port = served.address[1]
    with Proxy() as proxy:
        for no_proxy, direct in ((f"127.0.0.1:{port}", True), ("127.0.0.1:1", False),
                                 (f"example.org, localhost:{port} ,127.0.0.1", True)):  # fmt: skip
            env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy}
            before = len(proxy.requests)
            cache = tmp_path / "loops" / f"{before}-{direct}"
            assert locator(make_config(FILES, served.url), cache, environ=env).fetch("h.txt")
            assert (len(proxy.requests) == before) is direct, no_proxy
    final_files(tmp_path / "cache", tmp_path / "cli", tmp_path / "loops", files=FILES)


# ---------------------------------------------------------------------- 9. ranges (issue 17)

BIG = {"big.bin": random_bytes(6 << 20, seed=21)}  # 4 ranges of 1.5 MiB with segment_min 1 MiB
STEP = 1572864


def segmented(cdn: CDN, tmp_path: Path, **kw: Any) -> Locator:
    """A locator whose fetch of big.bin (6 MiB) comes in 4 ranges starting at k * STEP."""
    loc = locator(make_config(BIG, cdn.url), tmp_path, **kw)
    loc.downloader.segment_min = 1 << 20
    return loc


def range_starts(cdn: CDN) -> list[int | None]:
    """The first byte each GET of big.bin asked for (None: no Range), the probe left out."""
    heads = [r.headers.get("Range") for r in cdn.requests if r.path == "big.bin"][1:]
    return sorted((int(h[6:].split("-")[0]) if h else None for h in heads), key=str)


@probe(
    "in a download of 4 ranges: one answered with a 200 and the whole file, one with a "
    "Content-Range starting elsewhere, one with a 416",
    "only those 3 ranges are asked again, the good one is kept; the file verifies",
)
def test_odd_range_answers_are_retried_alone(cdn: CDN, tmp_path: Path, final_files: Check) -> None:
    cdn.add("big.bin", BIG["big.bin"])
    cdn.fault("big.bin", ignore_range(), at=STEP)
    cdn.fault("big.bin", shifted_range(1000), at=2 * STEP)
    cdn.fault("big.bin", status(416, headers={"Content-Range": "bytes */6291456"}), at=3 * STEP)
    loc = segmented(cdn, tmp_path)
    assert bounded(lambda: loc.fetch("big.bin"), 60).read_bytes() == BIG["big.bin"]
    assert range_starts(cdn) == sorted([0, STEP, STEP, 2 * STEP, 2 * STEP, 3 * STEP, 3 * STEP])
    final_files(tmp_path / "cache", files=BIG)


@probe(
    "in a download of 4 ranges, one 206 whose body runs on to the end of the file",
    "the range takes the bytes it asked for and drops that connection; the file verifies",
)
def test_an_over_long_range_is_cut(cdn: CDN, tmp_path: Path, final_files: Check) -> None:
    cdn.add("big.bin", BIG["big.bin"])
    cdn.fault("big.bin", long_range(), at=STEP)
    loc = segmented(cdn, tmp_path)
    assert bounded(lambda: loc.fetch("big.bin"), 60).read_bytes() == BIG["big.bin"]
    assert range_starts(cdn) == [0, STEP, 2 * STEP, 3 * STEP]
    final_files(tmp_path / "cache", files=BIG)


@probe(
    "in a download of 4 ranges, every answer for one range is a 200 with the whole file",
    "after 2 such answers that range's bytes come from one stream without Range; the 3 good "
    "ranges are kept; the file verifies",
)
def test_a_range_the_server_will_not_serve_comes_in_one_stream(
    cdn: CDN, tmp_path: Path, final_files: Check
) -> None:
    cdn.add("big.bin", BIG["big.bin"])
    cdn.fault("big.bin", *[ignore_range()] * 5, at=2 * STEP)
    loc = segmented(cdn, tmp_path)
    assert bounded(lambda: loc.fetch("big.bin"), 60).read_bytes() == BIG["big.bin"]
    assert range_starts(cdn) == sorted([0, STEP, 2 * STEP, 2 * STEP, 3 * STEP, None], key=str)
    final_files(tmp_path / "cache", files=BIG)


@probe(
    "the file changes on the server between its ranges (a stale node answers the probe and "
    "one range): with an ETag, then with only a Last-Modified",
    "If-Range gets the new file as a 200: the download restarts fresh in one stream and "
    "verifies, no hash mismatch",
)
def test_a_file_that_changes_between_ranges_restarts_fresh(
    cdn: CDN, tmp_path: Path, final_files: Check
) -> None:
    old = bytes(reversed(BIG["big.bin"]))  # another version, the same size
    for etag in (True, False):
        cdn.reset_counters()
        cdn.etag = etag
        cdn.add("big.bin", BIG["big.bin"], modified=time.time() - 3600)
        cdn.fault("big.bin", stale(old))  # the probe
        cdn.fault("big.bin", stale(old), at=STEP)
        loc = segmented(cdn, tmp_path / str(etag))
        path = bounded(lambda loc=loc: loc.fetch("big.bin"), 60)
        assert path.read_bytes() == BIG["big.bin"]
        probe_answer = cdn.requests[0]
        validators = {r.headers.get("If-Range") for r in cdn.requests[1:] if "Range" in r.headers}
        assert len(validators) == 1 and None not in validators
        assert (validators.pop()[0] == '"') is etag  # the ETag, else the Last-Modified date
        fresh = [r for r in cdn.requests if "Range" not in r.headers]  # the one stream
        assert probe_answer.status == 206 and [r.bytes_sent for r in fresh] == [6 << 20]
        final_files(tmp_path / str(etag), files=BIG)


# ---------------------------------------------------------------------- property-based

_PIECES = ["a", "Z", "0", ".", "..", "-", " ", "\\", ":", "\x00", "\x1f", "\u202e", "é", "e\u0301"]
_SEGMENTS = st.lists(st.sampled_from(_PIECES), min_size=0, max_size=4).map("".join)
_NAMES = st.one_of(
    st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join),
    st.text(max_size=30),
    st.sampled_from(["/etc/passwd", "C:x", "a/../../b", "CON.txt", "x" * 300]),
)


@probe(
    "hypothesis: 400 generated names (dots, slashes, backslashes, colons, controls, bidi)",
    "each is rejected with a reason, or joins to a path inside the target",
)
def test_generated_names_stay_inside(tmp_path: Path, final_files: Check) -> None:
    root = os.path.realpath(tmp_path / "root")

    @settings(max_examples=400, deadline=None)
    @given(_NAMES)
    def check(name: str) -> None:
        problem = fs.name_problem(name)
        try:
            check_name(name)
            registry_ok = True
        except ValueError:
            registry_ok = False
        assert registry_ok == (problem is None)
        try:
            path = fs.safe_join(root, name)
        except ValueError:
            assert problem is not None
            return
        assert problem is None and os.path.realpath(path).startswith(root + os.sep)

    check()
    final_files(tmp_path, files={})


_HASHES = st.one_of(
    st.just("good"),
    st.text(max_size=20),
    st.sampled_from(["sha256:../../x", "SHA256:" + "A" * 64, "md5:" + "0" * 32, "xxh64:zz"]),
)


@probe(
    "hypothesis: 60 generated runtime JSONs (names and hash strings), fetched with file:// URLs",
    "nothing is written outside the destination and the cache; every file there verified",
)
def test_generated_runtime_json_writes_only_inside(tmp_path: Path, final_files: Check) -> None:
    work = tmp_path / "a" / "b" / "c" / "work"  # deep: an escape would land inside tmp_path
    work.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")

    def around() -> list[Path]:
        return sorted(p for p in tmp_path.rglob("*") if work not in (p, *p.parents))

    before = around()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(_NAMES, _HASHES, min_size=1, max_size=4))
    def check(entries: dict[str, str]) -> None:
        import shutil

        shutil.rmtree(work)
        work.mkdir()
        src, dest = work / "src", work / "dest"
        good: dict[str, bytes] = {}
        files: dict[str, Any] = {}
        for name, value in entries.items():
            data = name.encode("utf-8", "replace") + b"\n"
            files[name] = {"hash": sha(data) if value == "good" else value, "size": None}
            if value == "good" and fs.name_problem(name) is None:
                try:
                    (src / name).parent.mkdir(parents=True, exist_ok=True)
                    (src / name).write_bytes(data)
                    good[name] = data
                except OSError:
                    pass
        config = {"format": 1, "base_url": src.as_uri(), "files": files, "data_name": "x"}
        loc = Locator(config, cache_dir=work / "cache", environ={}, retries=0)
        try:
            loc.fetch_all(dest)
        except (LookupError, ValueError, OSError):
            pass
        assert {p.name for p in work.iterdir()} <= {"cache", "dest", "src"}
        assert around() == before
        from support.reliability import bad_final_files

        assert bad_final_files([dest, work / "cache"], good) == []

    check()
    final_files(outside, files={"keep.txt": b"keep"})


# ---------------------------------------------------------------------- heavy: many processes


_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import _runtime
config = json.load(open(sys.argv[2]))
loc = _runtime.Locator(config, cache_dir=sys.argv[3], environ={}, timeout=30, backoff=0.01)
print(loc.fetch(sys.argv[4]), flush=True)
"""


def child(config_path: Path, cache: Path, name: str) -> list[str]:
    return [sys.executable, "-c", _CHILD, str(RUNTIME.parent), str(config_path), str(cache), name]


@pytest.mark.slow
@probe(
    "8 processes fetch one cold 100 MB file at once (server capped at 100 MB/s)",
    "one download; all 8 get the same verified path",
)
def test_eight_processes_one_download(tmp_path: Path, final_files: Check) -> None:
    data = bytes(range(256)) * (100_000_000 // 256)
    root = tmp_path / "root"
    root.mkdir()
    (root / "big.bin").write_bytes(data)
    files = {"big.bin": data}
    with CDN(root, rate=100_000_000) as server:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(make_config(files, server.url)))
        cache = tmp_path / "cache"
        procs = [
            subprocess.Popen(child(config_path, cache, "big.bin"), stdout=PIPE, text=True)
            for _ in range(8)
        ]
        outs = [p.communicate(timeout=300)[0].strip() for p in procs]
        assert [p.returncode for p in procs] == [0] * 8
        sent = sum(r.bytes_sent for r in server.requests)  # in parallel ranges
        assert sent < 1.5 * len(data)  # one download, not eight
    assert len(set(outs)) == 1
    assert part_files(cache) == [] and not list(cache.rglob(".*.lock"))
    final_files(cache, files=files)


@pytest.mark.slow
@probe(
    "20 times kill -9 at random moments of a 30 MB download (server capped at 20 MB/s)",
    "never a bad final file; each rerun resumes exactly where the killed one stopped",
)
def test_kill_9_at_random_points(tmp_path: Path, final_files: Check) -> None:
    import random

    data = random_bytes(30_000_000, seed=50)
    root = tmp_path / "root"
    root.mkdir()
    (root / "big.bin").write_bytes(data)
    files = {"big.bin": data}
    rng = random.Random(7)
    cache = tmp_path / "cache"
    with CDN(root, rate=20_000_000) as server:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(make_config(files, server.url)))
        left = 0  # bytes the previous killed run left in its part file
        for _ in range(20):
            server.reset_counters()
            proc = subprocess.Popen(child(config_path, cache, "big.bin"), stdout=subprocess.PIPE)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.kill()
            proc.wait(30)
            first = server.requests[0] if server.requests else None
            if first is not None and 0 < left < len(data):
                assert first.headers.get("Range") == f"bytes={left}-"
            final_files(cache, files=files)
            parts = part_files(cache)
            assert len(parts) <= 1
            left = parts[0].stat().st_size if parts else 0
        proc = subprocess.Popen(child(config_path, cache, "big.bin"), stdout=subprocess.PIPE)
        assert proc.wait(120) == 0
    assert part_files(cache) == []
    final_files(cache, files=files)
