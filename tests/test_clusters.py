"""Cluster caches (SPEC §14, issue 20): ``HATCH_DATAFETCH_CACHE_DIR``, read-only caches
(``HATCH_DATAFETCH_READONLY_CACHES``) and a cache shared by the users of one group.

The tests of two users switch uids with ``setpriv`` (util-linux) as root and run Debian's
``/usr/bin/python3`` (pyenv's Pythons live under ``/root``, mode 0700), on a copy of the
locator in a directory every user can read; they skip where that is not possible.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import CDN, refused_url
from support.runtime import install, locator, make_config, random_bytes, run_module, sha

from hatch_datafetch._runtime import fs, locks
from hatch_datafetch._runtime.layout import Layout, write_json
from hatch_datafetch._runtime.memo import Memo
from hatch_datafetch._runtime.transfer import PartFile

SYSTEM_PYTHON = "/usr/bin/python3"
USERS = (23401, 23402)  # two uids, no passwd entries needed
GROUP = 23400  # their shared group


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


MEMBERS = {"a.txt": b"alpha\n" * 100, "sub/b.bin": random_bytes(20_000, seed=9)}
FILES = {f"set/f{i:02d}.bin": random_bytes(20_000 + i * 1000, seed=i) for i in range(12)}
FILES["big.bin"] = random_bytes(1_500_000, seed=99)
FILES["images.zip"] = _zip(MEMBERS)


def config_for(base_url: str | None) -> dict[str, Any]:
    config = make_config(FILES, base_url)
    entry = config["files"]["images.zip"]
    entry.update(unpack="zip", members={m: sha(d) for m, d in MEMBERS.items()})
    return config


def serve(cdn: CDN) -> CDN:
    for name, data in FILES.items():
        cdn.add(name, data)
    return cdn


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``root`` (and root): type and mode, owner, size, mtime, ctime and
    the bytes' hash: any write, chmod, create or remove changes it."""
    out = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        out[str(path.relative_to(root))] = (
            st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- the cache dir


def test_cache_dir_moves_fetch_and_every_cache_command(tmp_path: Path) -> None:
    moved = tmp_path / "scratch" / "cache"  # made by the locator
    with serve(CDN(tmp_path)) as cdn:
        env = install(tmp_path, config_for(cdn.url))
        env["HATCH_DATAFETCH_CACHE_DIR"] = str(moved)
        code = "import demo._datafetch as d; print(d.fetch('set/f01.bin')); d.fetch_all()"
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
    root = moved / "demo-data"
    assert Path(r.stdout.strip()).parents[3] == root  # <root>/sha256/<xx>/<hex>/f01.bin
    assert not (tmp_path / "xdg").exists()  # the user cache was never touched

    def cache(*args: str) -> Any:
        r = run_module(env, "cache", *args, "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    size = cache("size")
    assert size["root"] == str(root) and size["named"] == sum(
        len(d)
        for n, d in FILES.items()
        if n != "images.zip"  # unpacked: the tree counts
    )
    listed = cache("list")
    assert listed and all(e["path"].startswith(str(root) + os.sep) for e in listed)
    assert cache("export", str(tmp_path / "all.tar"))["names"]
    assert cache("clear")["root"] == str(root)
    assert not [p for p in root.rglob("*") if p.is_file() and p.name != "CACHEDIR.TAG"]
    imported = cache("import", str(tmp_path / "all.tar"))
    assert sorted(imported["names"]) == sorted(
        [n for n in FILES if n != "images.zip"] + [f"images.zip/{m}" for m in MEMBERS]
    )
    assert cache("prune")["removed"] == []
    # --cache-dir names a cache root itself, whatever the variable says
    other = tmp_path / "other-root"
    r = run_module(env, "cache", "size", "--json", "--cache-dir", str(other))
    assert json.loads(r.stdout)["root"] == str(other)
    assert not (tmp_path / "xdg").exists()


def test_cache_dir_moves_the_tools_caches(tmp_path: Path) -> None:
    from hatch_datafetch.settings import default_build_cache

    env = {"HATCH_DATAFETCH_CACHE_DIR": str(tmp_path / "c"), "XDG_CACHE_HOME": "/x"}
    assert default_build_cache(env) == tmp_path / "c" / "hatch-datafetch" / "build"
    env["HATCH_DATAFETCH_CACHE"] = str(tmp_path / "b")  # the build cache's own variable wins
    assert default_build_cache(env) == tmp_path / "b"

    reg = tmp_path / "reg.toml"
    reg.write_text('[files]\n"a.txt" = { hash = "sha256:' + "0" * 64 + '" }\n')
    full = dict(os.environ, HATCH_DATAFETCH_CACHE_DIR=str(tmp_path / "moved"))
    r = subprocess.run(
        [sys.executable, "-m", "hatch_datafetch", "cache", "size", "--json", "--registry",
         str(reg)],
        capture_output=True, text=True, env=full, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert Path(json.loads(r.stdout)["root"]).parent == tmp_path / "moved"


# --------------------------------------------------------------------------- read-only caches


def _fill_store(tmp_path: Path) -> Path:
    """A site store: ``<store>/demo-data`` filled by fetch_all, then made read-only."""
    store = tmp_path / "store"
    with serve(CDN(tmp_path)) as cdn:
        env = install(tmp_path, config_for(cdn.url))
        env["HATCH_DATAFETCH_CACHE_DIR"] = str(store)
        r = subprocess.run(
            [sys.executable, "-c", "import demo._datafetch as d; d.fetch_all()"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)
    return store


READER = """
import json, sys
import demo._datafetch as d
paths = {n: str(p) for n, p in d.fetch_all().items()}
paths["images.zip/sub/b.bin"] = str(d.fetch("images.zip/sub/b.bin"))
where = [[c.source, c.location, c.status] for c in d.where("set/f03.bin")]
print(json.dumps({"paths": paths, "where": where, "verify": bool(d.verify())}))
"""


def _read_store(env: dict[str, str], prefix: list[str] | None = None) -> dict[str, Any]:
    r = subprocess.run(
        [*(prefix or []), sys.executable, "-c", READER],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no warning: nothing failed to be written, nothing was skipped
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def test_readonly_cache_serves_files_and_is_never_written(tmp_path: Path) -> None:
    store = _fill_store(tmp_path)
    before = snapshot(store)
    env = install(tmp_path, config_for(refused_url()))  # no server: only the store can serve
    env.update(HATCH_DATAFETCH_READONLY_CACHES=os.pathsep.join([str(tmp_path / "none"),
               str(store)]), HATCH_DATAFETCH_CACHE_DIR=str(tmp_path / "mine"))  # fmt: skip
    for _ in range(2):  # cold (hashed, then remembered in the user cache's memo), then warm
        out = _read_store(env)
        root = str(store / "demo-data") + os.sep
        assert all(p.startswith(root) for p in out["paths"].values()), out["paths"]
        assert out["paths"]["images.zip"].endswith(os.path.join("images.zip.d"))
        assert out["verify"] is True
        where = {source: (location, status) for source, location, status in out["where"]}
        assert where["read-only cache"][1] == "ok: fetch() returns this"
        assert where["user cache"][1] == "missing"
        labels = [s for s, _, _ in out["where"]]
        assert labels.index("read-only cache") < labels.index("user cache")
    # running as root, any write (even to a read-only tree) would have happened: none did
    assert snapshot(store) == before
    assert [p.name for p in (tmp_path / "mine" / "demo-data").iterdir()] == ["verified.log"]


def test_readonly_cache_on_a_read_only_mount(tmp_path: Path) -> None:
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root, Linux and unshare(1) for a private read-only bind mount")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind "$0/a" "$0/b" && mount -o remount,bind,ro '
         '"$0/b"', str(tmp_path)], capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"no read-only bind mount here: {probe.stderr.decode().strip()}")
    store = _fill_store(tmp_path)
    subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)  # the mount says read-only
    before = snapshot(store)
    mount = tmp_path / "mnt"
    mount.mkdir()
    env = install(tmp_path, config_for(refused_url()))
    env.update(HATCH_DATAFETCH_READONLY_CACHES=str(mount),
               HATCH_DATAFETCH_CACHE_DIR=str(tmp_path / "mine"))  # fmt: skip
    script = (
        f'mount --bind "{store}" "{mount}" && mount -o remount,bind,ro "{mount}" && '
        f'touch "{mount}/x" 2>/dev/null && exit 99; exec "$@"'
    )
    out = _read_store(env, ["unshare", "-m", "sh", "-c", script, "sh"])
    assert all(p.startswith(str(mount) + os.sep) for p in out["paths"].values())
    assert snapshot(store) == before


def test_where_and_fetch_prefer_the_readonly_cache_to_the_user_cache(tmp_path: Path) -> None:
    store = _fill_store(tmp_path)
    env = {"HATCH_DATAFETCH_READONLY_CACHES": str(store)}
    loc = locator(config_for(refused_url()), tmp_path, environ=env)
    assert str(loc.fetch("big.bin")).startswith(str(store))
    assert not loc.cache_root.startswith(str(store))
    rows = [(c.source, c.status) for c in loc.where("big.bin")]
    assert rows[-3:] == [
        ("read-only cache", "ok: fetch() returns this"),
        ("user cache", "missing"),
        ("download", "not needed"),
    ]
    # read when the locator is made, as HATCH_DATAFETCH_CACHE_DIR is: a later change is
    # seen by the next locator
    env["HATCH_DATAFETCH_READONLY_CACHES"] = str(tmp_path / "elsewhere")
    assert str(loc.fetch("big.bin")).startswith(str(store))
    later = locator(config_for(refused_url()), tmp_path, environ=env)
    row = [(c.source, c.status) for c in later.where("big.bin")][-3]
    assert row == ("read-only cache", "missing")
    env["HATCH_DATAFETCH_READONLY_CACHES"] = str(store)
    # a bad copy there is skipped with a warning, and the file downloaded into the user cache
    bad = Path(loc.where("set/f00.bin")[-3].location)
    subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
    bad.write_bytes(b"corrupt")
    with serve(CDN(tmp_path)) as cdn:
        loc = locator(config_for(cdn.url), tmp_path, environ=env)
        with pytest.warns(UserWarning, match="read-only cache"):
            got = loc.fetch("set/f00.bin")
    assert got.read_bytes() == FILES["set/f00.bin"] and str(got).startswith(loc.cache_root)


# --------------------------------------------------------------------------- a group's cache


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("shared", [True, False])
def test_what_the_locator_creates_is_shared_with_the_group(
    tmp_path: Path, shared: bool, umask_022: None
) -> None:
    """Directories, part files, locks, the memo, its journal, CACHEDIR.TAG and JSON files:
    group-writable in a group-writable root (setgid kept), the umask's modes elsewhere."""
    root = tmp_path / "cache"
    root.mkdir()
    os.chmod(root, 0o2775 if shared else 0o755)
    fmode, dmode = (0o664, 0o2775) if shared else (0o644, 0o755)
    layout = Layout(str(root / "demo-data"))
    layout.tag()
    final = layout.file(sha(b"x"), "a/x.bin")
    fs.ensure_dirs(layout.root, os.path.dirname(final))
    part = PartFile(final)
    part.adopt_or_create()
    lock = locks.FileLock(final + ".lock")
    memo = Memo(layout.memo)
    with lock:
        memo.record(final, os.stat(part.path), sha(b"x"))
        memo.flush()  # the journal
        write_json(part.record, {"format": 1})  # a range record (any JSON file)
        made = [Path(p) for p in (part.path, final + ".lock", part.record, memo.log)]
        made.append(Path(layout.root, "CACHEDIR.TAG"))
        modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in made}
        memo._compact()  # the memo itself, under its lock (the journal goes)
        modes["verified.json"] = oct(stat.S_IMODE(os.stat(layout.memo).st_mode))
        assert modes == {name: oct(fmode) for name in modes} and len(modes) == 6
    part.discard()
    dirs = [Path(final).parents[i] for i in range(4)]  # <hex>, <hex[:2]>, <alg>, the root
    assert {str(d): oct(stat.S_IMODE(d.stat().st_mode)) for d in dirs} == {
        str(d): oct(dmode) for d in dirs
    }


def _switch_users_or_skip() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux to run processes under two other uids")
    if not shutil.which("setpriv") or not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"needs setpriv (util-linux) and {SYSTEM_PYTHON} (Debian: python3)")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory other uids can reach: pytest's tmp_path is below /tmp/pytest-of-root,
    mode 0700."""
    d = Path(tempfile.mkdtemp(prefix="hdf-cluster-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


FETCHER = """
import json, os, sys
os.umask(int(sys.argv[1], 8))
import demo._datafetch as d
if len(sys.argv) > 2:
    print(json.dumps(str(d.fetch(sys.argv[2]))))
else:
    print(json.dumps({n: str(p) for n, p in d.fetch_all(jobs=4).items()}))
"""


def as_user(uid: int, umask: str, *args: str) -> list[str]:
    """Run FETCHER as ``uid``, whose own group is ``uid`` (as with user private groups) and
    who is also in GROUP: files get GROUP only through the setgid directory."""
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", f"--groups={GROUP}",
        SYSTEM_PYTHON, "-c", FETCHER, umask, *args,
    ]  # fmt: skip


@pytest.mark.slow
def test_two_users_of_one_group_share_one_cache(open_dir: Path) -> None:
    """Two uids of one group, each with its own umask, fetch the same registry at the same
    time into one setgid cache: no permission error, each file downloaded once, every file
    and directory group-writable with the shared group, the umask deciding the rest. Then a
    download one of them left (killed) is resumed by the other."""
    _switch_users_or_skip()
    shared = open_dir / "cache"
    shared.mkdir()
    os.chown(shared, 0, GROUP)
    os.chmod(shared, 0o2775)
    cluster = {"HATCH_DATAFETCH_CACHE_DIR": str(shared), "PYTHONDONTWRITEBYTECODE": "1",
               "HOME": str(open_dir / "nohome")}  # fmt: skip
    with serve(CDN(open_dir, latency=0.02)) as cdn:
        env = install(open_dir, config_for(cdn.url))
        env.update(cluster)
        umasks = {USERS[0]: "022", USERS[1]: "077"}
        procs = [
            subprocess.Popen(as_user(u, umasks[u]), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for u in USERS
        ]  # fmt: skip
        results = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, results):
            said = [line for line in err.splitlines() if not line.startswith("waiting for ")]
            assert p.returncode == 0 and said == [], err  # (one waits for the other's files)
            assert set(json.loads(out)) == set(FILES)
        assert {n: cdn.count(n) for n in FILES} == {n: 1 for n in FILES}
    root = shared / "demo-data"
    entries = [root, *root.rglob("*")]
    owners = {p.lstat().st_uid for p in entries}
    assert owners <= set(USERS) and len(entries) > 20
    for p in entries:
        st = p.lstat()
        other = 0o005 if umasks[st.st_uid] == "022" else 0
        want = (0o2770 | other) if p.is_dir() else (0o660 | other & 0o004)
        assert (str(p), st.st_gid, oct(stat.S_IMODE(st.st_mode))) == (str(p), GROUP, oct(want))
    assert (root / "verified.log").exists()

    # a download killed half-way by one user is resumed by the other
    big = random_bytes(3_000_000, seed=123)
    files = {**FILES, "huge.bin": big}
    with CDN(open_dir, rate=1_000_000) as cdn:
        cdn.add("huge.bin", big)
        config = config_for(cdn.url)
        config["files"]["huge.bin"] = {"hash": sha(big), "size": len(big), "url": None}
        env = install(open_dir, config)
        env.update(cluster)
        first = subprocess.Popen(as_user(USERS[0], "022", "huge.bin"), env=env,
                                 stdout=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 30
        parts: list[Path] = []
        while time.monotonic() < deadline and not (
            parts and parts[0].exists() and parts[0].stat().st_size > 500_000
        ):
            parts = list(root.rglob("*.part"))
            time.sleep(0.02)
        first.kill()
        first.wait(10)
        assert len(parts) == 1, parts
        left = parts[0].stat().st_size
        cdn.reset_counters()
        r = subprocess.run(as_user(USERS[1], "077", "huge.bin"), env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert Path(json.loads(r.stdout)).read_bytes() == files["huge.bin"]
        assert [q.headers.get("Range") for q in cdn.requests] == [f"bytes={left}-"]
    assert list(root.rglob("*.part")) == []


def test_a_lock_another_user_left_without_group_write_still_locks(open_dir: Path) -> None:
    """A lock file of an older locator (0644, another owner) in a shared directory: opened
    read-only, flock works on it, and the lock is taken (correctness never needed it)."""
    _switch_users_or_skip()
    shared = open_dir / "cache"
    shared.mkdir()
    os.chown(shared, 0, GROUP)
    os.chmod(shared, 0o2775)
    lock = shared / ".a.bin.lock"
    lock.write_text("process 1 on elsewhere\n")
    os.chown(lock, USERS[0], GROUP)
    os.chmod(lock, 0o644)
    site = open_dir / "site"
    shutil.copytree(Path(fs.__file__).parent, site / "rt")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from rt.locks import FileLock\n"
        "with FileLock(sys.argv[2]) as held: print(held.fd >= 0)"
    )
    cmd = ["setpriv", f"--reuid={USERS[1]}", f"--regid={USERS[1]}", f"--groups={GROUP}",
           SYSTEM_PYTHON, "-c", code, str(site), str(lock)]  # fmt: skip
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "True\n", "")
    assert not lock.exists()  # released and removed, as any lock
