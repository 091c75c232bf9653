"""The runtime locator and download engine, against a fault-injecting loopback CDN."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import (
    CDN,
    ignore_range,
    redirect,
    reset,
    stall,
    status,
    truncate,
    wrong_bytes,
)
from support.runtime import (
    RUNTIME,
    copy_runtime,
    install,
    locator,
    make_config,
    random_bytes,
    run_module,
    sha,
)

from hatch_datafetch._runtime import (
    DataNotFoundError,
    DataWarning,
    DownloadError,
    HashMismatchError,
    Locator,
    UnknownFileError,
    fs,
)
from hatch_datafetch._runtime.errors import Fatal
from hatch_datafetch._runtime.locks import FileLock
from hatch_datafetch._runtime.memo import Memo

FILES = {
    "data/camera.png": random_bytes(300_000, seed=1),
    "data/text.txt": b"hello world\n",
    "arrays/deep/nested.npy": random_bytes(5_000, seed=2),
}


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in FILES.items():
        cdn.add(name, data)
    return cdn


def stray_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith((".part", ".lock", ".tmp"))
    )


# ---------------------------------------------------------------------- module hygiene


def test_runtime_module_is_python39_syntax_and_stdlib_only() -> None:
    top = set()
    nodes = [
        n
        for module in sorted(RUNTIME.glob("*.py"))
        for n in ast.walk(ast.parse(module.read_text(), feature_version=(3, 9)))
    ]
    for node in nodes:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top.add(node.module.split(".")[0])
    # imported lazily, each guarded by ImportError
    optional = {"pooch", "tqdm", "xxhash", "truststore", "certifi", "pytest", "fsspec"}
    if sys.version_info < (3, 10):  # no sys.stdlib_module_names; the syntax check passed
        pytest.skip("the stdlib-only check needs Python 3.10+ (sys.stdlib_module_names)")
    assert top - optional <= set(sys.stdlib_module_names)


def test_import_is_light() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _runtime; "
        "print(sorted(m for m in ('urllib.request', 'http.client', 'pooch', 'hashlib', "
        "'json', 'threading') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, str(RUNTIME.parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def _module_map() -> list[str]:
    """The modules in the order the package docstring maps them (bottom up)."""
    doc = ast.get_docstring(ast.parse((RUNTIME / "__init__.py").read_text())) or ""
    block = doc.split("The modules, bottom up", 1)[1]
    lines = block.splitlines()[1:]
    return [ln.split()[0] for ln in lines if ln.startswith("    ") and ln[4:5].strip()]


def test_runtime_package_is_rooms_of_bounded_size() -> None:
    """No module over 800 lines, no class over 400: the shape the package promises."""
    sizes, classes = {}, {}
    for module in sorted(RUNTIME.glob("*.py")):
        source = module.read_text()
        sizes[module.name] = len(source.splitlines())
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                classes[f"{module.name}:{node.name}"] = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    assert len(sizes) >= 15
    assert max(sizes.values()) <= 800, sizes
    assert max(classes.values()) <= 400, classes


def test_package_docstring_maps_every_module_and_imports_run_one_way() -> None:
    """The docstring lists every module; a module imports at load time only modules above
    it in that list (lazy imports inside functions may reach up: a layer on top)."""
    order = _module_map()
    assert sorted(order) == sorted(
        p.stem for p in RUNTIME.glob("*.py") if p.stem not in ("__init__", "__main__")
    )
    for name in order:
        tree = ast.parse((RUNTIME / f"{name}.py").read_text())
        for node in tree.body:  # module level only; `if TYPE_CHECKING:` blocks are not run
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                for target in targets:
                    assert order.index(target) < order.index(name), (name, target)


def test_warm_fetch_imports_only_what_it_uses(tmp_path: Path) -> None:
    """A fetch served from the cache never loads the network, archive or command modules."""
    cache_dir = tmp_path / "cache"
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a")
    config = make_config({"a.txt": b"a"}, src.as_uri())
    Locator(config, cache_dir=cache_dir, environ={}).fetch("a.txt")
    env = install(tmp_path, config)
    code = (
        "import sys, demo._datafetch as d; loc = d.locator(cache_dir=sys.argv[1]); "
        "loc.fetch('a.txt'); print(sorted(m for m in sys.modules if m.startswith('demo.') "
        "or m in ('http.client', 'urllib.request', 'ssl', 'socket', 'tarfile', 'zipfile', "
        "'concurrent.futures', 'threading', 'argparse')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(cache_dir)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    loaded = ast.literal_eval(out.stdout)
    warm = ["chain", "config", "fs", "layout", "lookup", "memo"]  # (no errors: none raised)
    assert loaded == sorted(["demo._datafetch", *(f"demo._datafetch.{m}" for m in warm)])


def test_public_names_resolve(tmp_path: Path) -> None:
    """Everything in ``__all__`` (and ``registry``) imports from the package, as users write it."""
    env = install(tmp_path, make_config(FILES, None))
    code = (
        "from demo._datafetch import fetch, fetch_all, verify, where, registry, locator, "
        "DataNotFoundError, HashMismatchError, DataWarning, VerifyReport\n"
        "import demo._datafetch as d\n"
        "assert all(getattr(d, n) is not None for n in d.__all__)\n"
        "assert issubclass(d.UnknownFileError, d.DataNotFoundError)\n"
        "assert d.locator(jobs=3).jobs == 3 and callable(d.locator)\n"
        "print(sorted(registry))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert ast.literal_eval(r.stdout) == sorted(FILES)


# ---------------------------------------------------------------------- happy paths


def test_fetch_downloads_verifies_and_caches(served: CDN, tmp_path: Path) -> None:
    loc = locator(make_config(FILES, served.url), tmp_path)
    path = loc.fetch("data/camera.png")
    assert path.read_bytes() == FILES["data/camera.png"]
    assert path.name == "camera.png"  # loaders that dispatch on the suffix keep working
    assert path.is_relative_to(tmp_path / "cache")
    assert loc.fetch("data/camera.png") == path
    assert served.count("data/camera.png") == 1
    assert stray_files(tmp_path / "cache") == []


def test_fetch_all_into_dest_lays_out_by_name_and_verify(served: CDN, tmp_path: Path) -> None:
    loc = locator(make_config(FILES, served.url), tmp_path)
    paths = loc.fetch_all(tmp_path / "dest", jobs=4)
    assert sorted(paths) == sorted(FILES)
    for name, data in FILES.items():
        assert (tmp_path / "dest" / name).read_bytes() == data
    report = loc.verify(tmp_path / "dest")
    assert (sorted(report.ok), report.missing, report.bad) == (sorted(FILES), [], [])
    (tmp_path / "dest/data/text.txt").write_bytes(b"HELLO WORLD\n")
    (tmp_path / "dest/data/camera.png").unlink()
    report = loc.verify(tmp_path / "dest")
    assert report.missing == ["data/camera.png"]
    assert [b[0] for b in report.bad] == ["data/text.txt"]
    assert report.bad[0][2] == sha(b"HELLO WORLD\n")
    assert not report


def test_cache_is_shared_by_versions_and_never_overwritten(served: CDN, tmp_path: Path) -> None:
    v1 = make_config(FILES, served.url)
    changed = dict(FILES, **{"data/text.txt": b"version two\n"})
    served.add("v2/data/text.txt", changed["data/text.txt"])
    v2 = make_config(changed, served.url)
    v2["files"]["data/text.txt"]["url"] = served.url_for("v2/data/text.txt")
    a1, b1 = locator(v1, tmp_path), locator(v2, tmp_path)
    same1, same2 = a1.fetch("data/camera.png"), b1.fetch("data/camera.png")
    assert same1 == same2 and served.count("data/camera.png") == 1
    t1, t2 = a1.fetch("data/text.txt"), b1.fetch("data/text.txt")
    assert t1 != t2
    for _ in range(2):  # alternating versions never re-download
        assert a1.fetch("data/text.txt").read_bytes() == b"hello world\n"
        assert b1.fetch("data/text.txt").read_bytes() == b"version two\n"
    assert served.count("data/text.txt") + served.count("v2/data/text.txt") == 2


def test_file_urls_and_url_env_var(tmp_path: Path, served: CDN) -> None:
    mirror = tmp_path / "corp mirror"
    for name, data in FILES.items():
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(data)
    config = make_config(FILES, served.url)
    loc = locator(config, tmp_path, environ={"DEMO_DATA_URL": mirror.as_uri()})
    assert loc.urls("data/text.txt")[0] == (mirror / "data/text.txt").as_uri()
    assert loc.fetch("data/text.txt").read_bytes() == FILES["data/text.txt"]
    assert served.count("data/text.txt") == 0


# ---------------------------------------------------------------------- lookup chain


def test_env_var_dirs_in_order_then_system_dirs(served: CDN, tmp_path: Path) -> None:
    first, second, system = tmp_path / "first", tmp_path / "second", tmp_path / "sys"
    (second / "data").mkdir(parents=True)
    (second / "data/text.txt").write_bytes(FILES["data/text.txt"])
    (system / "data").mkdir(parents=True)
    (system / "data/camera.png").write_bytes(FILES["data/camera.png"])
    env = {"DEMO_DATA_DIR": os.pathsep.join([str(first), "", str(second)])}
    config = make_config(FILES, served.url, system_dirs=[str(system)])
    loc = locator(config, tmp_path, environ=env)
    assert loc.fetch("data/text.txt") == second / "data/text.txt"
    assert loc.fetch("data/camera.png") == system / "data/camera.png"
    (first / "data").mkdir(parents=True)
    (first / "data/text.txt").write_bytes(FILES["data/text.txt"])
    assert loc.fetch("data/text.txt") == first / "data/text.txt"
    assert served.requests == []
    where = loc.where("data/text.txt")
    statuses = [(c.source, c.status) for c in where if c.location]
    assert statuses[:2] == [
        ("$DEMO_DATA_DIR", "ok: fetch() returns this"),
        ("$DEMO_DATA_DIR", "ok (shadowed)"),
    ]
    assert where[-1].source == "download" and where[-1].status == "not needed"


def test_env_var_of_the_real_environment_is_read_at_each_call(
    served: CDN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locator made before the data env var is set (as a package's default locator, made
    at its first call) sees it set, changed and unset at its next fetch, in ``os.environ``
    itself; a warm fetch returns the very path a cold one did."""
    monkeypatch.delenv("DEMO_DATA_DIR", raising=False)
    loc = Locator(make_config(FILES, served.url), cache_dir=tmp_path / "cache", backoff=0.01)
    name = "data/camera.png"
    cached = loc.fetch(name)  # downloaded
    warm = loc.fetch(name)  # vouched for by the memo
    assert (warm, str(warm), warm.parts) == (cached, str(cached), cached.parts)
    envdir = tmp_path / "env"
    (envdir / "data").mkdir(parents=True)
    (envdir / name).write_bytes(FILES[name])
    monkeypatch.setenv("DEMO_DATA_DIR", str(envdir))
    assert loc.fetch(name) == loc.fetch(name) == envdir / name
    monkeypatch.setenv("DEMO_DATA_DIR", str(tmp_path / "elsewhere"))
    assert loc.fetch(name) == cached
    monkeypatch.setenv("DEMO_DATA_DIR", os.pathsep.join([str(tmp_path / "elsewhere"), str(envdir)]))
    assert loc.fetch(name) == envdir / name
    monkeypatch.delenv("DEMO_DATA_DIR")
    assert loc.fetch(name) == cached
    assert served.count(name) == 1


def test_system_dir_prefix_placeholder_and_share_default(served: CDN, tmp_path: Path) -> None:
    config = make_config(FILES, served.url, system_dirs=["{prefix}/no/such/dir"])
    loc = locator(config, tmp_path)
    sources = [c.location for c in loc.where("data/text.txt") if c.source == "system dir"]
    assert sources == [
        os.path.join(sys.prefix, "no/such/dir", "data", "text.txt"),
        os.path.join(sys.prefix, "share", "demo-data", "data", "text.txt"),
    ]


def test_invalid_local_copy_is_skipped_with_warning(served: CDN, tmp_path: Path) -> None:
    bad = tmp_path / "envdir"
    (bad / "data").mkdir(parents=True)
    (bad / "data/text.txt").write_bytes(b"tampered\n")
    loc = locator(make_config(FILES, served.url), tmp_path, environ={"DEMO_DATA_DIR": str(bad)})
    with pytest.warns(DataWarning, match="does not match"):
        path = loc.fetch("data/text.txt")
    assert path.read_bytes() == FILES["data/text.txt"]
    assert path.is_relative_to(tmp_path / "cache")


def test_edited_file_is_rehashed_and_rejected(
    served: CDN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    envdir = tmp_path / "envdir"
    (envdir / "data").mkdir(parents=True)
    target = envdir / "data/camera.png"
    target.write_bytes(FILES["data/camera.png"])
    config = make_config(FILES, served.url)
    env = {"DEMO_DATA_DIR": str(envdir)}
    assert locator(config, tmp_path, environ=env).fetch("data/camera.png") == target

    hashed: list[str] = []
    real = fs.hash_regular
    monkeypatch.setattr(fs, "hash_regular", lambda p, a: hashed.append(str(p)) or real(p, a))
    # a new Locator reads the memo from disk, as a new process would: no re-hash
    monkeypatch.setattr(Memo, "_all", {})
    assert locator(config, tmp_path, environ=env).fetch("data/camera.png") == target
    assert hashed == []
    # same size, new bytes: the stat signature changes, so it is re-hashed and rejected
    data = bytearray(FILES["data/camera.png"])
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.warns(DataWarning):
        path = locator(config, tmp_path, environ=env).fetch("data/camera.png")
    assert hashed == [str(target)]
    assert path != target and path.read_bytes() == FILES["data/camera.png"]


def test_unknown_name_suggests_close_match(tmp_path: Path) -> None:
    loc = locator(make_config(FILES, None), tmp_path)
    with pytest.raises(UnknownFileError, match=r"Did you mean 'data/camera\.png'"):
        loc.fetch("data/camra.png")


def test_not_found_message_says_what_to_do(tmp_path: Path) -> None:
    loc = locator(make_config(FILES, None, extra="data"), tmp_path)
    with pytest.raises(DataNotFoundError) as e:
        loc.fetch("data/text.txt")
    msg = str(e.value)
    assert "pip install 'demo[data]'" in msg
    assert "python -m demo._datafetch download --dest DIR" in msg
    assert "export DEMO_DATA_DIR=DIR" in msg


# ---------------------------------------------------------------------- faults


def test_wrong_bytes_raise_and_leave_nothing(served: CDN, tmp_path: Path) -> None:
    served.fault("data/camera.png", wrong_bytes())
    loc = locator(make_config(FILES, served.url), tmp_path)
    with pytest.raises(HashMismatchError) as e:
        loc.fetch("data/camera.png")
    msg = str(e.value)
    assert sha(FILES["data/camera.png"]) in msg and served.url_for("data/camera.png") in msg
    assert e.value.actual == sha(bytes(255 - b for b in FILES["data/camera.png"]))
    assert (
        not (tmp_path / "cache").exists()
        or [
            p
            for p in (tmp_path / "cache").rglob("*")
            if p.is_file() and p.name not in ("verified.json", "CACHEDIR.TAG")
        ]
        == []
    )
    loc.fetch_all(tmp_path / "dest", names=["data/text.txt"])
    served.fault("data/camera.png", wrong_bytes())
    with pytest.raises(HashMismatchError):
        loc.fetch_all(tmp_path / "dest", names=["data/camera.png"])
    assert sorted(p.name for p in (tmp_path / "dest").rglob("*")) == ["data", "text.txt"]


def test_server_errors_then_success(served: CDN, tmp_path: Path) -> None:
    served.fault("data/camera.png", status(500), status(503), reset())
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("data/camera.png").read_bytes() == FILES["data/camera.png"]
    assert served.count("data/camera.png") == 4


def test_persistent_errors_give_download_error(served: CDN, tmp_path: Path) -> None:
    served.fault("data/text.txt", *[status(500)] * 10)
    loc = locator(make_config(FILES, served.url), tmp_path, retries=2)
    with pytest.raises(DownloadError, match="HTTP 500") as e:
        loc.fetch("data/text.txt")
    assert "every download failed" in str(e.value)
    assert served.count("data/text.txt") == 3  # one try + two retries, bounded


def test_truncated_body_resumes_with_range(served: CDN, tmp_path: Path) -> None:
    served.fault("data/camera.png", truncate(100_000))
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("data/camera.png").read_bytes() == FILES["data/camera.png"]
    gets = [r for r in served.requests if r.path == "data/camera.png"]
    assert [r.headers.get("Range") for r in gets] == [None, "bytes=100000-"]
    assert gets[1].status == 206


def test_truncated_body_without_range_support_restarts(served: CDN, tmp_path: Path) -> None:
    served.fault("data/camera.png", truncate(100_000), ignore_range())
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("data/camera.png").read_bytes() == FILES["data/camera.png"]
    assert served.count("data/camera.png") == 2


def test_stalled_read_times_out_and_retries(served: CDN, tmp_path: Path) -> None:
    served.fault("data/camera.png", stall(30, nbytes=1000))
    loc = locator(make_config(FILES, served.url), tmp_path, timeout=0.5)
    assert loc.fetch("data/camera.png").read_bytes() == FILES["data/camera.png"]
    assert served.count("data/camera.png") == 2


def test_404_falls_through_to_mirror(served: CDN, tmp_path: Path) -> None:
    mirror = CDN()
    mirror.add("m/data/text.txt", FILES["data/text.txt"])
    with mirror:
        served.fault("data/text.txt", status(404))
        config = make_config(FILES, served.url, mirrors=[mirror.url + "m/"])
        loc = locator(config, tmp_path)
        assert loc.fetch("data/text.txt").read_bytes() == FILES["data/text.txt"]
        assert served.count("data/text.txt") == 1  # a 404 is not retried
        assert mirror.count("m/data/text.txt") == 1


def test_mismatch_on_primary_then_good_mirror(served: CDN, tmp_path: Path) -> None:
    mirror = CDN()
    mirror.add("data/text.txt", FILES["data/text.txt"])
    with mirror:
        served.fault("data/text.txt", wrong_bytes())
        loc = locator(make_config(FILES, served.url, mirrors=[mirror.url]), tmp_path)
        assert loc.fetch("data/text.txt").read_bytes() == FILES["data/text.txt"]


def test_https_to_http_redirect_is_refused(tmp_path: Path) -> None:
    dl = locator(make_config(FILES, None), tmp_path).downloader.client
    with pytest.raises(Fatal, match="refused redirect"):
        dl.redirect("https://example.invalid/a", "http://example.invalid/a")
    ok = dl.redirect("https://example.invalid/a", "https://mirror.invalid/a")
    assert ok == "https://mirror.invalid/a"


def test_http_redirect_is_followed(served: CDN, tmp_path: Path) -> None:
    served.fault("data/text.txt", redirect(served.url_for("arrays/deep/nested.npy")))
    served.fault("arrays/deep/nested.npy", redirect("/other/text.txt"))
    served.add("other/text.txt", FILES["data/text.txt"])
    loc = locator(make_config(FILES, served.url), tmp_path)
    assert loc.fetch("data/text.txt").read_bytes() == FILES["data/text.txt"]


# ---------------------------------------------------------------------- processes


def _child_script(config_path: Path, cache: Path, name: str, timeout: float = 10.0) -> list[str]:
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(RUNTIME.parent)!r})
        import _runtime
        config = json.load(open({str(config_path)!r}))
        loc = _runtime.Locator(config, cache_dir={str(cache)!r}, environ={{}},
                               timeout={timeout}, backoff=0.01)
        print(loc.fetch({name!r}), flush=True)
        """
    )
    return [sys.executable, "-c", code]


def test_kill_9_mid_download_leaves_no_file_and_rerun_completes(
    served: CDN, tmp_path: Path
) -> None:
    big = random_bytes(3 << 20, seed=3)
    served.add("big.bin", big)
    served.fault("big.bin", stall(60, nbytes=1 << 20))
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(make_config({"big.bin": big}, served.url)))
    cache = tmp_path / "cache"
    child = subprocess.Popen(_child_script(config_path, cache, "big.bin", timeout=60))
    try:
        deadline = time.monotonic() + 20
        parts: list[Path] = []
        while time.monotonic() < deadline:
            parts = [p for p in cache.rglob("*.part") if p.stat().st_size >= 1 << 20]
            if parts:
                break
            time.sleep(0.05)
        assert parts, "the child never started writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    final = parts[0].with_name("big.bin")
    assert not final.exists()
    loc = locator(make_config({"big.bin": big}, served.url), tmp_path)
    assert loc.fetch("big.bin") == final and final.read_bytes() == big
    resumed = [r for r in served.requests if r.path == "big.bin"][-1]
    assert resumed.headers.get("Range") == f"bytes={1 << 20}-"  # it picked up the part file
    assert stray_files(cache) == []


def test_four_processes_one_download(served: CDN, tmp_path: Path) -> None:
    served.latency = 0.3
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(make_config(FILES, served.url)))
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            _child_script(config_path, cache, "data/camera.png"), stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert len(set(outs)) == 1
    assert Path(outs[0]).read_bytes() == FILES["data/camera.png"]
    assert served.count("data/camera.png") == 1
    assert stray_files(cache) == []


def test_pooch_importable_or_not_gives_identical_paths(served: CDN, tmp_path: Path) -> None:
    pytest.importorskip("pooch")
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(make_config(FILES, served.url)))
    results = []
    for block in (False, True):
        cache = tmp_path / "cache"
        script = _child_script(config_path, cache, "data/camera.png")
        if block:
            script[2] = "import sys; sys.modules['pooch'] = None\n" + script[2]
        out = subprocess.run(script, capture_output=True, text=True, check=True).stdout.strip()
        results.append((out, Path(out).read_bytes()))
        Path(out).unlink()
    assert results[0] == results[1]


def test_ftp_urls_go_through_pooch(tmp_path: Path) -> None:
    pytest.importorskip("pooch")
    ftpserver = pytest.importorskip("pyftpdlib.servers")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler

    root = tmp_path / "ftproot"
    (root / "data").mkdir(parents=True)
    (root / "data/text.txt").write_bytes(FILES["data/text.txt"])
    auth = DummyAuthorizer()
    auth.add_anonymous(str(root))
    handler = type("H", (FTPHandler,), {"authorizer": auth})
    server = ftpserver.ThreadedFTPServer(("127.0.0.1", 0), handler)
    import threading

    t = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    t.start()
    try:
        port = server.socket.getsockname()[1]
        config = make_config(FILES, f"ftp://127.0.0.1:{port}/")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            path = locator(config, tmp_path).fetch("data/text.txt")
        assert path.read_bytes() == FILES["data/text.txt"]
        assert str(path) == locator(config, tmp_path)._cache_path("data/text.txt")
    finally:
        server.close_all()
        t.join(10)


# ---------------------------------------------------------------------- module CLI


@pytest.fixture
def installed_locator(tmp_path: Path, served: CDN) -> tuple[Path, dict[str, str]]:
    """The runtime module as a wheel ships it, with its registry JSON beside it."""
    pkg = tmp_path / "site" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    copy_runtime(pkg / "_datafetch")
    config = make_config(FILES, served.url, locator="_datafetch", extra="data")
    (pkg / "_datafetch_registry.json").write_text(json.dumps(config))
    env = dict(os.environ, PYTHONPATH=str(pkg.parent))
    return pkg.parent, env


def test_module_cli_download_verify_list_where(
    installed_locator: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = installed_locator
    dest = tmp_path / "dl"
    r = run_module(env, "download", "--dest", str(dest), "--jobs", "4")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"export DEMO_DATA_DIR={dest}"
    assert run_module(env, "verify", str(dest)).returncode == 0
    (dest / "data/text.txt").write_text("changed")
    r = run_module(env, "verify", str(dest))
    assert r.returncode == 1
    assert r.stdout == (
        f"bad      data/text.txt  expected {sha(FILES['data/text.txt'])}, got {sha(b'changed')}\n"
    )
    r = run_module(env, "list")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3
    r = run_module(env, "where", "data/camera.png")
    assert r.returncode == 0 and "would download" in r.stdout
    env_with_dir = dict(env, DEMO_DATA_DIR=str(dest))
    r = run_module(env_with_dir, "where", "data/camera.png")
    assert "ok: fetch() returns this" in r.stdout
    code = "import demo._datafetch as d; print(d.fetch('data/camera.png')); print(len(d.registry))"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_with_dir
    )
    assert r.stdout.split() == [str(dest / "data/camera.png"), "3"]


def test_module_cli_exit_codes(
    installed_locator: tuple[Path, dict[str, str]], served: CDN, tmp_path: Path
) -> None:
    _, env = installed_locator
    assert run_module(env).returncode == 2
    assert run_module(env, "download").returncode == 2  # --dest missing
    r = run_module(env, "download", "--dest", str(tmp_path / "x"), "--file", "nope.txt")
    assert r.returncode == 2 and "not in the demo-data registry" in r.stderr
    assert run_module(env, "verify", str(tmp_path / "nowhere")).returncode == 2
    served.fault("data/text.txt", *[status(500)] * 10)
    r = run_module(
        env, "download", "--dest", str(tmp_path / "y"), "--file", "data/text.txt", "--retries", "1"
    )
    assert r.returncode == 1 and "HTTP 500" in r.stderr
    assert served.count("data/text.txt") == 2  # --retries 1: one retry
    assert not (tmp_path / "y" / "data" / "text.txt").exists()


def test_unwritable_cache_says_what_to_do(served: CDN, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    config = make_config(FILES, served.url)
    loc = Locator(config, cache_dir=blocker / "cache", environ={}, backoff=0.01)
    with pytest.raises(DataNotFoundError, match="cannot write to") as e:
        loc.fetch("data/text.txt")
    assert "export DEMO_DATA_DIR=DIR" in str(e.value)
    assert served.requests == []


def test_where_explains_switched_off_sources(tmp_path: Path) -> None:
    config = make_config(FILES, "https://cdn.invalid/", data_package="demo_data", extra="data")
    where = locator(config, tmp_path).where("data/text.txt")
    assert [(c.source, c.status) for c in where[:3]] == [
        ("package bundle", "not configured"),
        ("companion data package demo_data", "not installed (pip install 'demo[data]')"),
        ("$DEMO_DATA_DIR", "not set"),
    ]
    assert (where[-1].location, where[-1].status) == (
        "https://cdn.invalid/data/text.txt",
        "would download",
    )


def test_file_lock_excludes_threads_and_refuses_reentry(tmp_path: Path) -> None:
    import threading

    path = str(tmp_path / ".x.lock")
    order: list[str] = []
    with FileLock(path):
        with pytest.raises(RuntimeError, match="already locked by this thread"):
            FileLock(path).__enter__()

        def other() -> None:
            with FileLock(path):
                order.append("other")

        t = threading.Thread(target=other)
        t.start()
        t.join(0.3)
        assert t.is_alive() and order == []  # waits for us
        order.append("first")
    t.join(10)
    assert order == ["first", "other"]
    assert not os.path.exists(path)  # removed on release


def test_verify_without_dir_checks_the_lookup_chain(served: CDN, tmp_path: Path) -> None:
    envdir = tmp_path / "envdir"
    (envdir / "data").mkdir(parents=True)
    (envdir / "data/text.txt").write_bytes(FILES["data/text.txt"])
    (envdir / "data/camera.png").write_bytes(b"corrupt")
    loc = locator(make_config(FILES, served.url), tmp_path, environ={"DEMO_DATA_DIR": str(envdir)})
    report = loc.verify()
    assert report.ok == ["data/text.txt"]
    assert report.missing == ["arrays/deep/nested.npy"]
    assert [(n, p) for n, p, _ in report.bad] == [
        ("data/camera.png", str(envdir / "data/camera.png"))
    ]
    assert served.requests == []  # verify never downloads
    with pytest.warns(DataWarning):
        paths = loc.fetch_all(jobs=3)  # into the cache: the bad copy is skipped
    assert paths["data/text.txt"] == envdir / "data/text.txt"
    assert paths["data/camera.png"].is_relative_to(tmp_path / "cache")
    assert {n: p.read_bytes() for n, p in paths.items()} == FILES
    report = loc.verify()  # a valid copy now exists on the chain (the cache)
    assert (sorted(report.ok), report.missing, report.bad) == (sorted(FILES), [], [])


# ---------------------------------------------------------------------- what users hit (17)


def test_offline_switch_is_read_at_each_fetch(
    served: CDN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17.26: a test's monkeypatch.setenv after the first fetch still counts."""
    loc = Locator(make_config(FILES, served.url), cache_dir=tmp_path / "cache", backoff=0.01)
    assert loc.fetch("data/text.txt").read_bytes() == FILES["data/text.txt"]
    monkeypatch.setenv("HATCH_DATAFETCH_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="offline"):
        loc.fetch("data/camera.png")
    assert served.count("data/camera.png") == 0
    monkeypatch.delenv("HATCH_DATAFETCH_OFFLINE")
    assert loc.fetch("data/camera.png").read_bytes() == FILES["data/camera.png"]


def test_unknown_offline_value_warns_once_naming_the_accepted_values(
    served: CDN, tmp_path: Path
) -> None:
    """Issue 17.8: the build rejects HATCH_DATAFETCH_OFFLINE=maybe; the locator reads it the
    same way: not a switch it knows, so it warns (once) and downloads as if it were unset."""
    from hatch_datafetch.errors import SettingsError
    from hatch_datafetch.settings import BuildEnvironment

    with pytest.raises(SettingsError, match="1/0, true/false, yes/no or on/off"):
        BuildEnvironment.from_env({"HATCH_DATAFETCH_OFFLINE": "maybe"})
    env = {"HATCH_DATAFETCH_OFFLINE": "maybe"}
    loc = locator(make_config(FILES, served.url), tmp_path, environ=env)
    with pytest.warns(DataWarning) as caught:
        loc.fetch("data/text.txt")
        loc.fetch("data/camera.png")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "HATCH_DATAFETCH_OFFLINE='maybe'" in messages[0]
    assert "1/0, true/false, yes/no or on/off" in messages[0]
    for value in ("0", "off", "No", " false "):
        assert not locator(make_config(FILES, None), tmp_path, environ={"x": "", **{
            "HATCH_DATAFETCH_OFFLINE": value}}).offline  # fmt: skip
    for value in ("1", "ON", "yes", " true"):
        assert locator(make_config(FILES, None), tmp_path, environ={
            "HATCH_DATAFETCH_OFFLINE": value}).offline  # fmt: skip


def test_where_lists_every_source_in_lookup_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17.10: a source with nothing to look at stands where it is looked at, not first."""
    config = make_config(
        FILES, "https://cdn.invalid/", data_package="demo_data", extra="data", bundled=True,
        system_dirs=[str(tmp_path / "sys")],
    )  # fmt: skip
    install(tmp_path, config)  # the package demo, in bundle mode, without its data
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    where = [(c.source, c.status) for c in locator(config, tmp_path).where("data/text.txt")]
    assert where == [
        ("package bundle", "missing"),
        ("companion data package demo_data", "not installed (pip install 'demo[data]')"),
        ("$DEMO_DATA_DIR", "not set"),
        ("system dir", "missing"),
        ("system dir", "missing"),
        ("$HATCH_DATAFETCH_READONLY_CACHES", "not set"),
        ("user cache", "missing"),
        ("download", "would download"),
    ]


def test_data_warnings_point_at_the_callers_line(tmp_path: Path) -> None:
    """Issue 17.11: a skipped bad copy warns at the user's call, not inside the locator."""
    bad = tmp_path / "envdir"
    (bad / "data").mkdir(parents=True)
    (bad / "data/text.txt").write_bytes(b"tampered\n")
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data/text.txt").write_bytes(FILES["data/text.txt"])
    env = install(tmp_path, make_config(FILES, src.as_uri()))
    env["DEMO_DATA_DIR"] = str(bad)
    user = tmp_path / "user_code.py"
    user.write_text("import demo._datafetch as d\n\nprint(d.fetch('data/text.txt'))\n")
    r = subprocess.run(
        [sys.executable, "-W", "always", str(user)], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    assert f"{user}:3: DataWarning: skipping {bad / 'data/text.txt'}" in r.stderr, r.stderr


def test_md5_and_sha1_hash_on_a_fips_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17.12: FIPS-mode OpenSSL refuses md5/sha1 unless usedforsecurity=False (as pooch
    1.9 does, #511). The refusal is what such a Python's hashlib.new does; emulated here."""
    import hashlib

    real = hashlib.new

    def fips_new(name: str, data: bytes = b"", **kw: Any) -> Any:
        if name.lower() in ("md5", "sha1") and kw.get("usedforsecurity", True):
            raise ValueError("[digital envelope routines] unsupported (FIPS mode)")
        return real(name, data, **kw)

    monkeypatch.setattr(hashlib, "new", fips_new)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"legacy registry\n")
    config = make_config({"a.txt": b""}, src.as_uri())
    digest = real("md5", b"legacy registry\n").hexdigest()
    config["files"]["a.txt"] = {"hash": f"md5:{digest}", "size": 16, "url": None}
    assert locator(config, tmp_path).fetch("a.txt").read_bytes() == b"legacy registry\n"
    assert fs.hash_file(src / "a.txt", "sha1").startswith("sha1:")


def test_mismatch_advice_fits_the_case(served: CDN, tmp_path: Path) -> None:
    """Issue 17.9: no "delete it" when nothing was kept; a download that mismatches says the
    server or the registry is out of date and which to update; a local copy names its path."""
    served.add("data/text.txt", b"HELLO WORLD\n")  # the server holds another version
    loc = locator(make_config(FILES, served.url), tmp_path)
    with pytest.raises(HashMismatchError) as e:
        loc.fetch("data/text.txt")
    msg = str(e.value)
    assert "Delete it" not in msg and "Nothing was kept" in msg, msg
    assert f"{served.url}data/text.txt" in msg
    assert "update the registry" in msg and "the file on the server" in msg
    assert stray_files(tmp_path / "cache") == []  # indeed nothing was kept
    mirror = make_config(FILES, served.url, mirrors=[served.url + "data/../"])
    with pytest.raises(HashMismatchError) as e:
        locator(mirror, tmp_path / "two").fetch("data/text.txt")
    assert "every URL" in str(e.value) and "Nothing was kept" in str(e.value)
    source = tmp_path / "source"
    (source / "data").mkdir(parents=True)
    (source / "data/text.txt").write_bytes(b"stale local copy\n")
    strict = locator(make_config(FILES, None), tmp_path / "b", sources=[source], strict=True)
    with pytest.raises(HashMismatchError) as e:
        strict.fetch("data/text.txt")
    msg = str(e.value)
    assert str(source / "data/text.txt") in msg and "delete or fix that file" in msg


def test_a_fetch_loop_writes_the_memo_in_proportion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17.22: each fetch recorded its hash by rewriting the whole memo (quadratic in a
    loop: 3.8 ms a call over the first 1,000 files, 12 ms over the next 2,000). Now a fetch
    appends its entry to the journal; the table is rewritten only when the journal outgrows
    half of it, and a fresh process still trusts every file without hashing it."""
    from hatch_datafetch._runtime import layout, memo

    files = {f"f{i:04d}.bin": str(i).encode() * 20 for i in range(600)}
    src = tmp_path / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    rewrites: list[int] = []
    real = layout.write_json
    monkeypatch.setattr(memo, "write_json", lambda *a, **k: rewrites.append(1) or real(*a, **k))
    loc = locator(make_config(files, src.as_uri()), tmp_path)
    for name in files:
        loc.fetch(name)
    assert len(rewrites) <= 8, len(rewrites)  # was one per fetch: 600
    cache = tmp_path / "cache"
    assert len((cache / "verified.log").read_bytes().split()) < 600
    monkeypatch.setattr(Memo, "_all", {})  # a new process: the memo read from disk
    hashed: list[str] = []
    real_hash = fs.hash_regular
    monkeypatch.setattr(fs, "hash_regular", lambda p, a: hashed.append(str(p)) or real_hash(p, a))
    fresh = locator(make_config(files, src.as_uri()), tmp_path)
    assert all(fresh.fetch(name).read_bytes() == data for name, data in files.items())
    assert hashed == []
