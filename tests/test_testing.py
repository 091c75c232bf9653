"""Data in test suites and on users' machines (SPEC §6 offline switch and cache commands, §11):
the offline switch, the pytest plugin every locator is, and the cache commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest
from support.cdnserver import CDN, status
from support.runtime import install, make_config, random_bytes, sha

from hatch_datafetch._runtime import DataNotFoundError, Locator, fs, locks

FILES = {
    "images/camera.png": random_bytes(50_000, seed=300),
    "tables/t.csv": b"a,b\n1,2\n",
    "text/poem.txt": b"Roses are red\n",
}


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in FILES.items():
        cdn.add(name, data)
    return cdn


# ---------------------------------------------------------------------- offline switch


def test_offline_switch_fails_at_once_with_the_places_and_remedies(
    served: CDN, tmp_path: Path
) -> None:
    env = {"HATCH_DATAFETCH_OFFLINE": "1"}
    loc = Locator(make_config(FILES, served.url, extra="data"), cache_dir=tmp_path, environ=env)
    with pytest.raises(DataNotFoundError) as e:
        loc.fetch("text/poem.txt")
    message = str(e.value)
    assert "offline (HATCH_DATAFETCH_OFFLINE is set)" in message
    assert "Looked in:" in message and "$DEMO_DATA_DIR: not set" in message
    assert f"download {served.url}text/poem.txt: skipped: offline" in message
    assert "pip install 'demo[data]'" in message and "unset HATCH_DATAFETCH_OFFLINE" in message
    assert served.requests == []
    envdir = tmp_path / "envdir"
    (envdir / "text").mkdir(parents=True)
    (envdir / "text/poem.txt").write_bytes(FILES["text/poem.txt"])
    loc = Locator(
        make_config(FILES, served.url),
        cache_dir=tmp_path,
        environ={**env, "DEMO_DATA_DIR": str(envdir)},
    )
    assert loc.fetch("text/poem.txt") == envdir / "text/poem.txt"  # local copies still count


def test_offline_switch_off_values(served: CDN, tmp_path: Path) -> None:
    for value in ("0", "", "no", "false"):
        loc = Locator(
            make_config(FILES, served.url),
            cache_dir=tmp_path / value,
            environ={"HATCH_DATAFETCH_OFFLINE": value},
        )
        assert loc.fetch("tables/t.csv").read_bytes() == FILES["tables/t.csv"]


def test_offline_process_without_network(served: CDN, tmp_path: Path) -> None:
    """Under ``unshare -n`` (no network at all) a fetch fails, naming the cause, at once."""
    env = install(tmp_path, make_config(FILES, "http://data.example.org/v1/"))
    code = "import demo._datafetch as d\ntry:\n d.fetch('tables/t.csv')\n"
    code += "except LookupError as e:\n print(e)"
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if r.returncode != 0:
        pytest.skip("unshare -n is not available here")
    r = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "cannot connect to data.example.org:80" in r.stdout, r.stdout + r.stderr
    assert "every download failed" in r.stdout


# ---------------------------------------------------------------------- the pytest plugin


CONFTEST = 'pytest_plugins = ["demo._datafetch"]\n'
TESTS = """
import pytest

@pytest.mark.datafetch("images/camera.png", "tables/t.csv")
def test_marked(datafetch):
    assert datafetch("tables/t.csv").read_bytes() == b"a,b\\n1,2\\n"

def test_fixture(datafetch):
    assert datafetch("text/poem.txt").read_text().startswith("Roses")

def test_no_data():
    assert 1 + 1 == 2
"""


def suite(tmp_path: Path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    (d / "conftest.py").write_text(CONFTEST)
    (d / "test_data.py").write_text(TESTS)
    return d


def run_pytest(d: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on the suite, with no plugin of this venv but those the suite names (its
    conftest's ``pytest_plugins``, and ``-p xdist`` where a test asks for it): hypothesis'
    and the others' would only slow each run down."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(d), *args]
    env = {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=d)


def test_plugin_skips_fails_and_passes(served: CDN, tmp_path: Path) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    d = suite(tmp_path)
    r = run_pytest(d, env)
    assert "3 passed" in r.stdout, r.stdout + r.stderr
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty")
    r = run_pytest(d, {**env, "HATCH_DATAFETCH_OFFLINE": "1"})
    assert "1 passed, 2 skipped" in r.stdout, r.stdout
    assert (
        "datafetch: cannot get 'images/camera.png' (offline switch HATCH_DATAFETCH_OFFLINE is "
        "set); looked in package bundle: not configured; companion data package None: not "
        "installed; $DEMO_DATA_DIR: not set" in r.stdout
    )
    r = run_pytest(d, {**env, "HATCH_DATAFETCH_OFFLINE": "1"}, "--datafetch=require")
    assert r.returncode == 1 and "1 failed, 1 passed, 1 error" in r.stdout  # marker: in setup
    assert "datafetch: cannot get 'text/poem.txt'" in r.stdout and "Traceback" not in r.stdout
    r = run_pytest(d, {**env, "HATCH_DATAFETCH_OFFLINE": "1", "HATCH_DATAFETCH_REQUIRE": "1"})
    assert r.returncode == 1 and "1 failed, 1 passed, 1 error" in r.stdout


def test_plugin_reason_names_a_network_error_and_a_hash_mismatch(
    served: CDN, tmp_path: Path
) -> None:
    config = make_config(FILES, served.url)
    config["files"]["text/poem.txt"]["hash"] = sha(b"another poem")
    env = install(tmp_path, config)
    served.fault("images/camera.png", *[status(503)] * 20)
    d = suite(tmp_path)
    r = run_pytest(d, env, "--datafetch-retries", "1")
    assert "2 skipped" in r.stdout, r.stdout
    assert "(network error: " in r.stdout and "HTTP 503" in r.stdout
    assert served.count("images/camera.png") == 2  # --datafetch-retries 1: one retry
    assert "cannot get 'text/poem.txt' (hash mismatch: got sha256:" in r.stdout


def test_prefetch_downloads_the_selected_tests_files_in_parallel(
    served: CDN, tmp_path: Path
) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    d = suite(tmp_path)
    served.latency = 0.2
    r = run_pytest(d, env, "--datafetch=prefetch", "-k", "marked or no_data")
    assert "datafetch: prefetched 2 of 2 data files" in r.stdout, r.stdout
    assert "2 passed, 1 deselected" in r.stdout
    assert sorted(req.path for req in served.requests) == ["images/camera.png", "tables/t.csv"]
    served.reset_counters()
    r = run_pytest(d, {**env, "XDG_CACHE_HOME": str(tmp_path / "off")}, "--datafetch=prefetch")
    assert "3 passed" in r.stdout  # the fixture's file is fetched when the test asks


@pytest.mark.slow
def test_plugin_under_xdist_downloads_each_file_once(served: CDN, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    env = install(tmp_path, make_config(FILES, served.url))
    d = suite(tmp_path)
    many = "".join(
        f'\n@pytest.mark.datafetch("images/camera.png")\ndef test_{i}(datafetch):\n    pass\n'
        for i in range(8)
    )
    (d / "test_more.py").write_text("import pytest\n" + many)
    served.latency = 0.2
    r = run_pytest(d, env, "-p", "xdist", "-n", "2", "--datafetch=prefetch")
    assert "11 passed" in r.stdout, r.stdout + r.stderr
    assert served.count("images/camera.png") == 1
    assert served.count("tables/t.csv") == 1


def test_loading_the_plugin_imports_nothing_heavy(tmp_path: Path) -> None:
    env = install(tmp_path, make_config(FILES, None))
    code = (
        "import sys, demo._datafetch\n"
        "print(sorted(m for m in ('pytest', '_pytest', 'http.client', 'urllib.request') "
        "if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "[]", r.stderr


# ---------------------------------------------------------------------- cache commands


def cache_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo._datafetch", "cache", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def populated(served: CDN, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An installed locator whose user cache holds the registry's files, a file of an older
    registry, a part file of a running download, a stale part, a stale lock, and a link out
    of the cache."""
    env = install(tmp_path, make_config(FILES, served.url))
    old = {**FILES, "old.bin": b"from an older release"}
    served.add("old.bin", old["old.bin"])
    old_env = install(tmp_path / "old", make_config(old, served.url))
    old_env["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    for e in (env, old_env):
        r = subprocess.run(
            [sys.executable, "-c", "import demo._datafetch as d; d.fetch_all()"], env=e
        )
        assert r.returncode == 0
    cache = Path(env["XDG_CACHE_HOME"]) / "demo-data"
    camera = Path(
        Locator(make_config(FILES, None), cache_dir=cache)._cache_path("images/camera.png")
    )
    running = camera.parent / f".camera.png.{fs.host()}-{os.getpid()}-aa.part"
    running.write_bytes(b"partial")
    locks.ACTIVE_PARTS.add(str(running))  # a download of this (live) process
    (camera.parent / f".camera.png.{fs.host()}-999999-bb.part").write_bytes(b"left over")
    (camera.parent / ".camera.png.lock").write_text("process 999999")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (cache / "sha256" / "zz").symlink_to(outside, target_is_directory=True)
    return env, cache


def test_cache_tag_list_and_size(populated: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, cache = populated
    assert (
        (cache / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    )
    r = cache_cli(env, "list", "--json")
    entries = json.loads(r.stdout)
    kinds = sorted(e["kind"] for e in entries)
    assert kinds == ["data"] * 4 + ["link", "lock", "memo", "part", "part", "tag"]
    named = {n for e in entries for n in e["names"]}
    assert named == set(FILES)
    assert next(e for e in entries if e["kind"] == "data" and not e["names"])["size"] == 21
    assert sorted(e["live"] for e in entries if e["kind"] == "part") == [False, True]
    r = cache_cli(env, "size")
    assert r.returncode == 0 and str(cache) in r.stdout
    # counts and bytes say which is which: the files this registry names, and the rest
    # (an older registry's file, part files, the lock, the memo, the tag)
    data = [e for e in entries if e["kind"] == "data"]
    named_bytes = sum(e["size"] for e in data if e["names"])
    total = sum(e["size"] for e in entries)
    mine = len([e for e in data if e["names"]])
    others = len(entries) - mine
    assert r.stdout.strip() == (
        f"{cache}: {len(entries)} files, {total:,} bytes; {mine} files "
        f"({named_bytes:,} bytes) named by this registry, {others} others "
        f"({total - named_bytes:,} bytes)"
    )


def test_cache_prune_and_clear_leave_links_and_running_downloads_alone(
    populated: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, cache = populated
    # the "running" part belongs to a live process: the test process itself
    running = next(cache.rglob(f".camera.png.*-{os.getpid()}-aa.part"))
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.argv = ["x", "cache", "prune", "--json"]
        import demo._datafetch as d
        import demo._datafetch.locks as f
        f.ACTIVE_PARTS.add({str(running)!r})
        sys.exit(d.main(["cache", "prune", "--json"]))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    out = json.loads(r.stdout)
    removed = sorted(Path(p).name for p in out["removed"])
    assert removed == sorted(
        ["old.bin", ".camera.png.lock", f".camera.png.{fs.host()}-999999-bb.part"]
    ), removed
    assert (tmp_path / "outside" / "precious.txt").read_text() == "keep me"
    assert (cache / "sha256" / "zz").is_symlink()
    r = cache_cli(env, "clear")
    assert r.returncode == 0
    left = sorted(
        p.relative_to(cache).as_posix()
        for p in cache.rglob("*")
        if p.is_symlink() or not p.is_dir()
    )
    assert left == ["CACHEDIR.TAG", running.relative_to(cache).as_posix(), "sha256/zz"]
    assert (tmp_path / "outside" / "precious.txt").exists()


def test_cache_export_then_import_on_an_air_gapped_machine(served: CDN, tmp_path: Path) -> None:
    env = install(tmp_path, make_config(FILES, served.url))
    r = subprocess.run(
        [sys.executable, "-c", "import demo._datafetch as d; d.fetch_all()"], env=env
    )
    assert r.returncode == 0
    archive = tmp_path / "data.tar.gz"
    r = cache_cli(env, "export", str(archive))
    assert r.returncode == 0 and "exported 3 of 3 files" in r.stdout
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(FILES)
    served.stop()
    gapped = {**env, "XDG_CACHE_HOME": str(tmp_path / "gapped"), "HATCH_DATAFETCH_OFFLINE": "1"}
    r = cache_cli(gapped, "import", str(archive))
    assert r.returncode == 0 and "imported 3 files" in r.stdout, r.stderr
    code = "import demo._datafetch as d; print(d.fetch('images/camera.png'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=gapped)
    assert Path(r.stdout.strip()).read_bytes() == FILES["images/camera.png"]
    # a tampered archive: wrong bytes, a link, a name outside the registry
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for name, data in (("tables/t.csv", b"tampered"), ("../../evil.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            import io

            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("text/poem.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    fresh = {**gapped, "XDG_CACHE_HOME": str(tmp_path / "fresh")}
    r = cache_cli(fresh, "import", str(bad))
    assert r.returncode == 1
    assert "tables/t.csv: hash mismatch" in r.stderr
    assert "../../evil.txt: not a file of this registry" in r.stderr
    assert "text/poem.txt: not a regular file" in r.stderr
    assert not (tmp_path / "evil.txt").exists()
    assert [
        p for p in (tmp_path / "fresh").rglob("*") if p.is_file() and p.name != "CACHEDIR.TAG"
    ] == []


def test_tool_cli_cache_commands(served: CDN, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    reg = proj / "registry.toml"
    lines = ["[files]"] + [f'"{n}" = {{ hash = "{sha(d)}" }}' for n, d in FILES.items()]
    reg.write_text(f'base-url = "{served.url}"\n' + "\n".join(lines) + "\n")
    (proj / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\n[tool.datafetch]\nregistry = "registry.toml"\n'
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    Locator(
        json.loads(json.dumps(make_config(FILES, served.url))),
        cache_dir=tmp_path / "xdg" / "demo-data",
    ).fetch_all()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hatch_datafetch",
            "cache",
            "size",
            "--pyproject",
            str(proj / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert f"{tmp_path / 'xdg' / 'demo-data'}: 5 files" in r.stdout  # 3 data, memo, tag
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hatch_datafetch",
            "cache",
            "list",
            "--json",
            "--pyproject",
            str(proj / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert {n for e in json.loads(r.stdout) for n in e["names"]} == set(FILES)


def test_offline_misses_touch_nothing(tmp_path: Path) -> None:
    loc = Locator(
        make_config(FILES, "http://127.0.0.1:9/"),
        cache_dir=tmp_path / "c",
        environ={"HATCH_DATAFETCH_OFFLINE": "1"},
    )
    for _ in range(100):
        with pytest.raises(DataNotFoundError):
            loc.fetch("images/camera.png")
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------- the example's own suite


@pytest.mark.slow
def test_example_project_suite_online_offline_and_required(tmp_path: Path) -> None:
    """The three runs of docs/howto/testing.md on example_project/tests (and one with no
    network at all)."""
    import shutil

    from support.hatch import editable_install

    proj = tmp_path / "example_project"
    shutil.copytree(
        Path(__file__).parent.parent / "example_project",
        proj,
        ignore=shutil.ignore_patterns(".demo", "dist", "__pycache__"),
    )
    py = editable_install(tmp_path, proj)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HATCH_DATAFETCH", "EXAMPLE"))}
    base["XDG_CACHE_HOME"] = str(tmp_path / "xdg")

    def suite(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(py), "-m", "pytest", "-p", "no:cacheprovider", "-rs", "tests", *args]
        return subprocess.run(
            cmd, cwd=proj, capture_output=True, text=True, env={**base, **env}, timeout=300
        )

    offline = suite(HATCH_DATAFETCH_OFFLINE="1")
    assert offline.returncode == 0 and "2 passed, 7 skipped" in offline.stdout, offline.stdout
    assert "datafetch: cannot get 'images/camera.png' (offline switch" in offline.stdout
    required = suite("--datafetch=require", HATCH_DATAFETCH_OFFLINE="1")
    assert required.returncode == 1 and "7 error" in required.stdout, required.stdout
    online = suite(EXAMPLE_PKG_DATA_URL=(proj / "cdn").as_uri() + "/")
    assert online.returncode == 0 and "9 passed" in online.stdout, online.stdout
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        base["XDG_CACHE_HOME"] = str(tmp_path / "empty")
        cmd = [str(py), "-m", "pytest", "-p", "no:cacheprovider", "-rs", "tests"]
        r = subprocess.run(
            ["unshare", "-n", *cmd], cwd=proj, capture_output=True, text=True, env=base
        )
        assert r.returncode == 0 and "2 passed, 7 skipped" in r.stdout, r.stdout
        assert "(network error: " in r.stdout


def test_skips_name_the_test_not_the_plugin(served: CDN, tmp_path: Path) -> None:
    """Issue 17.11: pytest's skip summary points at the test that needed the file."""
    env = install(tmp_path, make_config(FILES, served.url))
    env["HATCH_DATAFETCH_OFFLINE"] = "1"
    d = suite(tmp_path)
    r = run_pytest(d, env)
    skipped = [ln for ln in r.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert len(skipped) == 2, r.stdout
    assert all("test_data.py:" in ln and "_datafetch" not in ln.split(": ")[0] for ln in skipped)
    assert {ln.split()[2] for ln in skipped} == {"test_data.py:4:", "test_data.py:8:"}, skipped


@pytest.mark.slow
def test_require_switch_holds_under_prefetch(served: CDN, tmp_path: Path) -> None:
    """Issue 17.20: HATCH_DATAFETCH_REQUIRE=1 with --datafetch=prefetch (and xdist) fails the
    data tests when the CDN is down, instead of skipping them all and exiting 0."""
    pytest.importorskip("xdist")
    env = install(tmp_path, make_config(FILES, served.url))
    d = suite(tmp_path)
    served.stop()
    args = ("-p", "xdist", "-n", "2", "--datafetch=prefetch", "--datafetch-retries", "0")
    r = run_pytest(d, {**env, "HATCH_DATAFETCH_REQUIRE": "1"}, *args)
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed, 1 error" in r.stdout, r.stdout
    r = run_pytest(d, env, *args)  # without the switch: skipped, as before
    assert r.returncode == 0 and "1 passed, 2 skipped" in r.stdout, r.stdout


def test_cache_import_caps_each_member_and_reads_a_truncated_archive_cleanly(
    tmp_path: Path,
) -> None:
    """Issue 17.23: a member far larger than its registry entry is refused before a byte of
    it is written (shown on a 2 MiB tmpfs cache: the old code wrote it, to ENOSPC); a
    truncated .tar.gz is a clear error, not a traceback, and what came before it is kept."""
    import gzip
    import io
    import shutil

    files = {"small.txt": b"ten bytes\n", "other.txt": b"other file\n"}
    env = install(tmp_path, make_config(files, None))
    cache = Path(env["XDG_CACHE_HOME"])
    cache.mkdir(parents=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs as the cache")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(cache)])
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        bomb = tmp_path / "bomb.tar.gz"
        with tarfile.open(bomb, "w:gz") as tar:
            info = tarfile.TarInfo("small.txt")
            info.size = 64 << 20  # 64 MiB of zeros (64 KiB compressed) for a 10-byte entry
            tar.addfile(info, io.BytesIO(bytes(info.size)))
            info = tarfile.TarInfo("other.txt")
            info.size = len(files["other.txt"])
            tar.addfile(info, io.BytesIO(files["other.txt"]))
        r = cache_cli(env, "import", str(bomb))
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert "small.txt: 67,108,864 bytes, the registry says 10; not imported" in r.stderr
        assert "imported 1 file" in r.stderr
        assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == [
            "CACHEDIR.TAG",
            "other.txt",
            "verified.log",
        ]
        good = tmp_path / "good.tar.gz"
        with tarfile.open(good, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        raw = gzip.decompress(good.read_bytes())
        cut = tmp_path / "cut.tar.gz"
        cut.write_bytes(gzip.compress(raw)[:-40])  # the gzip stream ends early
        r = cache_cli(env, "import", str(cut))
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert f"{cut} is not a readable tar archive" in r.stderr
    finally:
        subprocess.run(["umount", str(cache)])


def test_cache_clear_racing_fetch_never_raises_a_raw_os_error(tmp_path: Path) -> None:
    """Issue 17.24: `cache clear` while fetch() runs (2 of 200 fetches raised a raw
    FileNotFoundError): a fetch returns a verified path or says what went wrong."""
    import threading

    from hatch_datafetch._runtime.cache import Cache

    files = {f"d{i % 4}/f{i:03d}.bin": random_bytes(2_000, seed=i) for i in range(200)}
    src = tmp_path / "src"
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    config = make_config(files, src.as_uri())
    loc = Locator(config, cache_dir=tmp_path / "cache", environ={})
    stop = threading.Event()

    def clear() -> None:
        while not stop.is_set():
            Cache(loc).prune(everything=True)

    clearer = threading.Thread(target=clear)
    clearer.start()
    raised: list[BaseException] = []
    try:
        for _ in range(3):
            for name in files:
                try:
                    loc.fetch(name)
                except DataNotFoundError:
                    pass  # said what went wrong (a clear raced with this download)
                except BaseException as e:
                    raised.append(e)
    finally:
        stop.set()
        clearer.join(30)
    assert raised == [], raised[:3]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_part_files_of_a_zombie_or_a_reused_pid_are_left_over(tmp_path: Path) -> None:
    """Issue 17.27: a part file named after a killed but unreaped child, or after a PID that
    now belongs to a process started later than the part was last written, is a left-over:
    listed so, pruned, and its bytes adopted by the next download; a live writer's is not."""
    from hatch_datafetch._runtime.cache import Cache
    from hatch_datafetch._runtime.transfer import PartFile

    files = {"f.bin": random_bytes(1_000, seed=5)}
    loc = Locator(make_config(files, None), cache_dir=tmp_path / "cache", environ={})
    final = Path(loc._cache_path("f.bin"))
    final.parent.mkdir(parents=True)
    zombie = subprocess.Popen(["true"])  # exits at once; not waited for: a zombie
    time.sleep(0.5)
    writing = subprocess.Popen(["sleep", "60"])  # started before its part file was written
    time.sleep(0.1)
    parts = {
        "zombie": final.parent / f".f.bin.{fs.host()}-{zombie.pid}-aa.part",
        "live": final.parent / f".f.bin.{fs.host()}-{writing.pid}-bb.part",
    }
    for part in parts.values():
        part.write_bytes(files["f.bin"][:300])
    newer = subprocess.Popen(["sleep", "60"])  # a PID in use, but by a process started later
    parts["reused"] = final.parent / f".f.bin.{fs.host()}-{newer.pid}-cc.part"
    parts["reused"].write_bytes(files["f.bin"][:300])
    hour_ago = time.time() - 3600
    os.utime(parts["reused"], (hour_ago, hour_ago))
    try:
        live = {Path(e.path).name: e.live for e in Cache(loc).entries() if e.kind == "part"}
        assert live == {
            parts["zombie"].name: False,
            parts["live"].name: True,
            parts["reused"].name: False,
        }
        adopted = PartFile(str(final))
        assert adopted.adopt_or_create() == 300  # a left-over's bytes are resumed
        removed = {Path(e.path).name for e in Cache(loc).prune()}
        assert parts["live"].name not in removed and parts["live"].exists()
        assert not parts["zombie"].exists() and not parts["reused"].exists()
        adopted.discard()
    finally:
        for p in (writing, newer):
            p.kill()
            p.wait()
        zombie.wait()
