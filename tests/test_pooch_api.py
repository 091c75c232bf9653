"""Code written against pooch's own API runs on ``as_pooch()`` (SPEC §13).

Every test here is written as a pooch user writes it: ``pup = create(path=..., base_url=...,
registry=..., urls=...)``, then ``fetch`` with and without processors, ``is_available``,
``abspath``, ``get_url`` and the registry edits pooch users make. Each runs twice: with
``pooch.create`` and with :func:`as_pooch_create`, which answers the same arguments with a
locator's ``as_pooch()`` over the runtime JSON a build makes of that registry (archives
unpacked as the registry says). Both must give the same contents and return shapes.
``test_without_pooch_installed`` runs this module again in a process where pooch cannot be
imported: the ``as_pooch`` half passes, pooch's processors aside.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Callable
from urllib.request import urlopen

import pytest
from support.cdnserver import CDN
from support.runtime import random_bytes

from hatch_datafetch._runtime import Locator

try:
    import pooch
except ImportError:  # the second run of this module, without pooch
    pooch = None

BLOCKED = "HDF_TEST_POOCH_BLOCKED"  # set in the run without pooch


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TINY = b"# A tiny data file for test purposes only\n1  2  3  4  5  6\n"
STORE = {
    "store/tiny-data.txt": TINY,
    "store/subdir/tiny-data.txt": TINY + b"7 8\n",
    "README.txt": b"read me\n",
}
PLAIN_ZIP = {"a.txt": b"a\n", "b/c.txt": b"c\n"}
FILES = {
    "tiny-data.txt": TINY,
    "sub/values.bin": random_bytes(20_000, seed=7),
    "store.zip": _zip(STORE),
    "store.tar.gz": _tar_gz(STORE),
    "tiny-data.txt.gz": gzip.compress(TINY, mtime=0),
    "plain.zip": _zip(PLAIN_ZIP),
    "elsewhere.csv": b"x,y\n1,2\n",
}
#: how the hatch-datafetch registry unpacks entries (pooch's registry cannot say it): kind
#: and members, as `make-registry --unpack` writes them; plain.zip stays an archive
UNPACK = {
    "store.zip": ("zip", STORE),
    "store.tar.gz": ("tar", STORE),
    "tiny-data.txt.gz": ("gzip", {"tiny-data.txt": TINY}),
}
CUSTOM = "mirror/renamed.csv"  # where elsewhere.csv is served: its own URL


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def registry() -> dict[str, str]:
    """pooch's registry: bare sha256, and one md5 with its prefix."""
    out = {name: sha(data) for name, data in FILES.items()}
    out["elsewhere.csv"] = "md5:" + hashlib.md5(FILES["elsewhere.csv"]).hexdigest()
    return out


def as_pooch_create(
    path: Any,
    base_url: str,
    version: str | None = None,
    version_dev: str = "master",
    env: str | None = None,
    registry: dict[str, str] | None = None,
    urls: dict[str, str] | None = None,
    retry_if_failed: int = 0,
    allow_updates: bool | str = True,
) -> Any:
    """``pooch.create``'s arguments answered by ``as_pooch()``: the runtime JSON of the same
    registry (what a build writes into the wheel), its cache at ``path``."""
    if version is not None:
        base_url = base_url.format(version=version)
        path = os.path.join(os.fspath(path), version)
    files: dict[str, Any] = {}
    for name, digest in (registry or {}).items():
        spec: dict[str, Any] = {"hash": digest if ":" in digest else f"sha256:{digest}"}
        spec["url"] = (urls or {}).get(name)
        if name in UNPACK:
            kind, members = UNPACK[name]
            spec["unpack"] = kind
            spec["members"] = {m: f"sha256:{sha(d)}" for m, d in members.items()}
        files[name] = spec
    config = {"base_url": base_url, "files": files, "data_name": "demo-data", "env_var": env}
    loc = Locator(config, cache_dir=path, environ=dict(os.environ), backoff=0.01, timeout=5)
    return loc.as_pooch()


FACTORIES = [pytest.param(as_pooch_create, id="as_pooch")]
if pooch is not None:
    FACTORIES.insert(0, pytest.param(pooch.create, id="pooch"))

needs_pooch = pytest.mark.skipif(pooch is None, reason="pooch's processors need pooch")


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in FILES.items():
        cdn.add(f"data/{name}" if name != "elsewhere.csv" else CUSTOM, data)
    return cdn


@pytest.fixture(params=FACTORIES)
def create(request: pytest.FixtureRequest) -> Callable[..., Any]:
    factory: Callable[..., Any] = request.param
    return factory


@pytest.fixture
def pup(create: Callable[..., Any], served: CDN, tmp_path: Path) -> Any:
    """What every pooch user writes first."""
    return create(
        path=tmp_path / "cache",
        base_url=served.url + "data/",
        registry=registry(),
        urls={"elsewhere.csv": served.url + CUSTOM},
    )


def tree(paths: list[str], members: dict[str, bytes]) -> dict[str, bytes]:
    """member -> bytes of the paths a processor returned (each path ends with a member)."""
    out = {}
    for path in paths:
        posix = path.replace(os.sep, "/")
        member = max((m for m in members if posix.endswith("/" + m)), key=len)
        out[member] = Path(path).read_bytes()
    return out


# ---------------------------------------------------------------------- fetch


def test_fetch_returns_an_absolute_str_path_to_the_verified_bytes(pup: Any, served: CDN) -> None:
    for name in ("tiny-data.txt", "sub/values.bin", "elsewhere.csv"):
        path = pup.fetch(name)
        assert isinstance(path, str) and os.path.isabs(path)
        assert Path(path).read_bytes() == FILES[name]
        assert pup.fetch(name) == path
    assert served.count("data/sub/values.bin") == 1  # the second fetch used the copy
    assert served.count(CUSTOM) == 1


def test_an_archive_without_a_processor_is_the_archive(pup: Any) -> None:
    path = pup.fetch("store.zip")
    assert isinstance(path, str)
    assert Path(path).read_bytes() == FILES["store.zip"]
    assert zipfile.ZipFile(path).read("README.txt") == STORE["README.txt"]


def test_a_name_not_in_the_registry_is_a_value_error(pup: Any) -> None:
    for call in (pup.fetch, pup.get_url, pup.is_available):
        with pytest.raises(ValueError, match="not in the registry"):
            call("nope.txt")


def test_get_url_abspath_and_the_registry_as_pooch_has_them(
    pup: Any, served: CDN, tmp_path: Path
) -> None:
    assert pup.get_url("tiny-data.txt") == served.url + "data/tiny-data.txt"
    assert pup.get_url("elsewhere.csv") == served.url + CUSTOM
    assert pup.base_url == served.url + "data/"
    assert pup.abspath == tmp_path / "cache"
    assert isinstance(pup.path, Path)
    assert pup.registry_files == list(registry())
    assert pup.registry["elsewhere.csv"] == registry()["elsewhere.csv"]
    assert pup.urls == {"elsewhere.csv": served.url + CUSTOM}


def test_is_available_asks_the_server_without_downloading(pup: Any, served: CDN) -> None:
    assert pup.is_available("sub/values.bin") is True
    pup.registry["gone.txt"] = sha(b"gone")
    assert pup.is_available("gone.txt") is False
    assert not pup.abspath.exists() or not list(pup.abspath.rglob("values.bin"))
    pup.fetch("sub/values.bin")  # (still to be downloaded)


def test_a_hash_mismatch_is_a_value_error(pup: Any) -> None:
    pup.registry["tiny-data.txt"] = sha(b"something else")
    with pytest.raises(ValueError):
        pup.fetch("tiny-data.txt")


# ---------------------------------------------------------------------- registry edits


def test_registry_edits_as_pooch_users_make_them(pup: Any, served: CDN, tmp_path: Path) -> None:
    served.add("extra/new.txt", b"new\n")
    pup.registry["new.txt"] = sha(b"new\n")
    pup.urls["new.txt"] = served.url + "extra/new.txt"
    assert Path(pup.fetch("new.txt")).read_bytes() == b"new\n"

    served.add("v2/tiny-data.txt", b"version 2\n")
    pup.base_url = served.url + "v2/"
    pup.registry["tiny-data.txt"] = sha(b"version 2\n")
    assert Path(pup.fetch("tiny-data.txt")).read_bytes() == b"version 2\n"

    del pup.registry["sub/values.bin"]
    with pytest.raises(ValueError):
        pup.fetch("sub/values.bin")

    served.add("v2/spaced name.txt", b"spaced\n")
    served.add("extra/listed.txt", b"listed\n")
    listing = tmp_path / "more-registry.txt"
    spaced, listed = sha(b"spaced\n"), sha(b"listed\n").upper()
    listing.write_text(
        "# a comment line\n"
        f'"spaced name.txt" {spaced}\n'
        f"listed.txt SHA256:{listed} {served.url}extra/listed.txt\n"
    )
    pup.load_registry(listing)
    assert Path(pup.fetch("spaced name.txt")).read_bytes() == b"spaced\n"
    assert Path(pup.fetch("listed.txt")).read_bytes() == b"listed\n"
    assert pup.urls["listed.txt"] == f"{served.url}extra/listed.txt"
    with open(listing, encoding="utf-8") as f:  # an open file, as pooch takes it too
        pup.load_registry(f)
    bad = tmp_path / "bad.txt"
    bad.write_text("a.txt\n")
    with pytest.raises(OSError, match="expected 2 or 3 elements in line 1"):
        pup.load_registry(bad)


def test_setting_path_lays_files_out_by_name(pup: Any, tmp_path: Path) -> None:
    """scikit-image's download_all(directory): ``path`` set, then fetch."""
    pup.path = tmp_path / "somewhere"
    path = pup.fetch("sub/values.bin")
    assert path == str(tmp_path / "somewhere" / "sub" / "values.bin")
    assert Path(path).read_bytes() == FILES["sub/values.bin"]


# ---------------------------------------------------------------------- processors and downloaders


def test_a_processor_function_is_called_as_pooch_calls_it(pup: Any) -> None:
    seen: list[tuple[str, str, Any]] = []

    def processor(fname: str, action: str, p: Any) -> str:
        seen.append((fname, action, p))
        return fname + ".processed"

    first = pup.fetch("tiny-data.txt", processor=processor)
    second = pup.fetch("tiny-data.txt", processor=processor)
    assert [(a, p is pup) for _, a, p in seen] == [("download", True), ("fetch", True)]
    assert first == second == seen[0][0] + ".processed"
    assert Path(seen[0][0]).read_bytes() == TINY
    assert Path(seen[0][0]).is_relative_to(pup.abspath)  # a writable place


def test_a_downloader_is_called_only_when_no_copy_is_found(pup: Any) -> None:
    calls = []

    def downloader(url: str, output_file: str, p: Any) -> None:
        calls.append(url)
        with urlopen(url) as resp:  # the pooch downloader protocol, with the stdlib
            Path(output_file).write_bytes(resp.read())

    path = pup.fetch("sub/values.bin", downloader=downloader)
    assert Path(path).read_bytes() == FILES["sub/values.bin"]
    assert pup.fetch("sub/values.bin", downloader=downloader) == path
    assert calls == [pup.get_url("sub/values.bin")]


@needs_pooch
def test_unzip_and_untar_return_every_member_path(pup: Any) -> None:
    for name in ("store.zip", "store.tar.gz"):
        processor = pooch.Unzip() if name.endswith(".zip") else pooch.Untar()
        paths = pup.fetch(name, processor=processor)
        assert isinstance(paths, list) and all(isinstance(p, str) for p in paths)
        assert tree(paths, STORE) == STORE
        assert sorted(pup.fetch(name, processor=processor)) == sorted(paths)


@needs_pooch
def test_unzip_members_selects_as_pooch_does(pup: Any) -> None:
    paths = pup.fetch("store.zip", processor=pooch.Unzip(members=["store/subdir"]))
    assert tree(paths, STORE) == {"store/subdir/tiny-data.txt": STORE["store/subdir/tiny-data.txt"]}
    paths = pup.fetch("store.tar.gz", processor=pooch.Untar(members=["README.txt"]))
    assert tree(paths, STORE) == {"README.txt": STORE["README.txt"]}


@needs_pooch
def test_extract_dir_puts_the_members_beside_the_archive(pup: Any) -> None:
    paths = pup.fetch("store.zip", processor=pooch.Unzip(extract_dir="unpacked-here"))
    assert tree(paths, STORE) == STORE
    wanted = {os.path.join("unpacked-here", *m.split("/")) for m in STORE}
    assert {next(w for w in wanted if p.endswith(os.sep + w)) for p in paths} == wanted


@needs_pooch
def test_decompress_returns_the_decompressed_path(pup: Any) -> None:
    path = pup.fetch("tiny-data.txt.gz", processor=pooch.Decompress())
    assert isinstance(path, str) and Path(path).read_bytes() == TINY
    named = pup.fetch("tiny-data.txt.gz", processor=pooch.Decompress(name="tiny.txt"))
    assert os.path.basename(named) == "tiny.txt" and Path(named).read_bytes() == TINY


@needs_pooch
def test_pooch_processor_on_an_archive_the_registry_does_not_unpack(pup: Any) -> None:
    paths = pup.fetch("plain.zip", processor=pooch.Unzip())
    assert tree(paths, PLAIN_ZIP) == PLAIN_ZIP


def test_as_pooch_also_knows_the_members_of_an_unpacked_archive(
    served: CDN, tmp_path: Path
) -> None:
    """Beyond pooch: ``ARCHIVE/member`` names one verified member, as the locator does."""
    pup = as_pooch_create(tmp_path / "cache", served.url + "data/", registry=registry())
    path = pup.fetch("store.zip/store/subdir/tiny-data.txt")
    assert Path(path).read_bytes() == STORE["store/subdir/tiny-data.txt"]
    assert pup.get_url("store.zip/README.txt") == served.url + "data/store.zip"
    assert pup.is_available("store.zip/README.txt") is True
    seen = pup.fetch("store.zip/README.txt", processor=lambda f, a, p: (Path(f).read_bytes(), a))
    assert seen == (STORE["README.txt"], "fetch")


# ---------------------------------------------------------------------- side by side


@needs_pooch
def test_same_contents_and_shapes_as_pooch_on_the_same_registry(
    served: CDN, tmp_path: Path
) -> None:
    def run(create: Callable[..., Any], where: str) -> list[Any]:
        p = create(
            path=tmp_path / where,
            base_url=served.url + "data/",
            registry=registry(),
            urls={"elsewhere.csv": served.url + CUSTOM},
        )
        out: list[Any] = []
        for name in ("tiny-data.txt", "sub/values.bin", "elsewhere.csv", "store.zip"):
            out.append(("str", Path(p.fetch(name)).read_bytes()))
        for name, proc, members in (
            ("store.zip", pooch.Unzip(), STORE),
            ("store.tar.gz", pooch.Untar(), STORE),
            ("plain.zip", pooch.Unzip(), PLAIN_ZIP),
            ("store.zip", pooch.Unzip(members=["store/"]), STORE),
        ):
            paths = p.fetch(name, processor=proc)
            out.append((type(paths).__name__, tree(paths, members)))
        got = p.fetch("tiny-data.txt.gz", processor=pooch.Decompress())
        out.append((type(got).__name__, Path(got).read_bytes()))
        out.append((p.is_available("tiny-data.txt"), p.registry_files, type(p.abspath)))
        return out

    assert run(as_pooch_create, "ours") == run(pooch.create, "pooch")


# ---------------------------------------------------------------------- without pooch


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get(BLOCKED)), reason="this is the run without pooch")
def test_without_pooch_installed(tmp_path: Path) -> None:
    """This module again, in a process where ``import pooch`` fails: every as_pooch test
    passes, except those that need pooch's processors (skipped)."""
    code = (
        "import sys; sys.modules['pooch'] = None\n"  # as if it were not installed
        "import pytest\n"
        "sys.exit(pytest.main(sys.argv[1:]))\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, BLOCKED: "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    r = subprocess.run(
        [sys.executable, "-c", code, "-q", "-p", "no:cacheprovider", "-rs",
         str(Path(__file__).resolve()), "--basetemp", str(tmp_path / "t")],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    summary = r.stdout.strip().splitlines()[-1]
    assert "failed" not in summary and "error" not in summary, r.stdout
    assert "[pooch]" not in r.stdout  # the pooch.create half is not even collected
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 9, r.stdout
    assert "pooch's processors need pooch" in r.stdout


def test_the_one_line_in_an_installed_package(served: CDN, tmp_path: Path) -> None:
    """``POOCH = pkg._datafetch.as_pooch()`` in place of ``pooch.create(...)``, in a package
    laid out as a wheel installs it; the rest of the code unchanged."""
    from support.runtime import install, make_config

    config = make_config({"tiny-data.txt": TINY}, served.url + "data/")
    env = install(tmp_path, config)
    code = (
        "import demo._datafetch as d\n"
        "POOCH = d.as_pooch()\n"
        "path = POOCH.fetch('tiny-data.txt')\n"
        f"print(type(path).__name__, open(path, 'rb').read() == {TINY!r}, POOCH.registry_files)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["str", "True", "['tiny-data.txt']"]
