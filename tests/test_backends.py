"""Any PEP 517 backend (SPEC §12, issue 18): ``build-backend = "hatch_datafetch.build"``
wrapping setuptools, flit-core, poetry-core, pdm-backend and scikit-build-core.

Each backend's fixture project (``tests/fixtures/backends/``, pure Python, with
``data-wheel = true`` and ``sdist = "bundle"``) is built once per module for real with
``python -m build`` against a test CDN that is then stopped; the tests read those artifacts,
install them and the project itself with pip, ``uv pip`` and ``pip install -e``, and rebuild
the sdist with no network at all.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.backends import (
    BACKENDS,
    INNER,
    call,
    can_unshare,
    clean_env,
    make_project,
    need,
    outer_venv,
    twine_check,
)
from support.cdnserver import CDN
from support.hatch import (
    BUNDLE,
    DATA,
    DATA_WHEEL,
    DIST,
    LOCATOR,
    SDIST_BASE,
    WHEEL,
    WHEEL_BASE,
    fetch_in,
    names,
    py_json,
    tree,
    uv,
)

from hatch_datafetch._toml import tomllib

BIN = Path(sys.executable).parent
EPOCH = (2023, 11, 14, 22, 13, 20)  # SOURCE_DATE_EPOCH=1700000000

#: What each backend adds to the sdist and the wheel of the same package.
SDIST_MORE = {
    "setuptools": ["setup.cfg"]
    + [
        f"src/fix_pkg.egg-info/{n}"
        for n in ("PKG-INFO", "SOURCES.txt", "dependency_links.txt", "top_level.txt")
    ],
    "scikit-build-core": ["CMakeLists.txt"],
}
WHEEL_MORE = {
    "setuptools": [f"{DIST}.dist-info/top_level.txt"],
    "pdm": [f"{DIST}.dist-info/entry_points.txt"],
}
REGISTRY_JSON = "fixpkg/_datafetch_registry.json"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")


def assert_untouched(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Nothing of hatch-datafetch's written into the source tree: what is new is the inner
    backend's own (setuptools writes ``*.egg-info/`` and ``build/``, pdm-backend
    ``.pdm-build/``)."""
    new = {n for n in after if n not in before}
    assert all(".egg-info/" in n or n.startswith(("build/", ".pdm-build/")) for n in new), new
    assert {n: after[n] for n in before} == before


@dataclass
class Built:
    backend: str
    proj: Path
    dist: Path
    tmp: Path


def build_project(backend: str, tmp: Path) -> Built:
    """``python -m build`` of the backend's fixture (sdist with the data bundled, the wheel
    from it, the data wheel), with the CDN stopped afterwards: what follows has no data
    server."""
    need(INNER[backend][0], f"{INNER[backend][1]} (test extra) is not installed")
    env = clean_env(HATCH_DATAFETCH_CACHE=str(tmp / "build-cache"), XDG_CACHE_HOME=str(tmp / "xdg"))
    with CDN(tmp / "cdn") as cdn:
        for name, data in DATA.items():
            cdn.add(name, data)
        proj = make_project(tmp, backend, cdn.url, {"data-wheel": True, "sdist": "bundle"})
        before = tree(proj)
        call([sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."], proj, env)
    assert_untouched(before, tree(proj))
    return Built(backend, proj, proj / "dist", tmp)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_end_to_end(backend: str, tmp_path: Path) -> None:
    """Done when of issue 18, for one backend, on one build (each step a function below):
    python -m build -> sdist + wheel + data wheel (exact contents, RECORD, twine,
    check-wheel-contents); prepared metadata with the extra; pip install . and uv pip
    install . without the data; pip install -e . with a working locator; pip install
    --no-index --find-links dist 'fix-pkg[data]' serving every file with the CDN stopped;
    the bundle sdist rebuilt offline (unshare -n, when root) into the same wheel."""
    built = build_project(backend, tmp_path)
    check_artifacts(built)
    check_record(built)
    check_prepared_metadata(built, tmp_path / "metadata")
    check_install_from_source(built, tmp_path / "pip", "pip")
    check_install_from_source(built, tmp_path / "uv", "uv")
    check_editable_install(built, tmp_path / "editable")
    check_data_extra_from_dist(built, tmp_path / "extra")
    if can_unshare():  # root, as CI is: elsewhere the rest still runs
        check_offline_rebuild(built, tmp_path / "offline")


def check_artifacts(built: Built) -> None:
    assert sorted(p.name for p in built.dist.iterdir()) == sorted(
        [f"{DIST}.tar.gz", WHEEL, DATA_WHEEL]
    )
    more = [f"{DIST}/{n}" for n in SDIST_MORE.get(built.backend, [])]
    sdist = built.dist / f"{DIST}.tar.gz"
    assert names(sdist) == sorted(SDIST_BASE + BUNDLE + more)
    with tarfile.open(sdist) as tf:
        # dynamic optional-dependencies as written, even where the backend saw another
        # pyproject.toml (flit-core: then the project's own, byte for byte)
        member = tf.extractfile(f"{DIST}/pyproject.toml")
        assert member is not None
        pyproject = member.read()
        assert tomllib.loads(pyproject.decode())["project"]["dynamic"] == ["optional-dependencies"]
        if built.backend == "flit":
            assert pyproject == (built.proj / "pyproject.toml").read_bytes()
        pkg_info = tf.extractfile(f"{DIST}/PKG-INFO")
        assert pkg_info is not None
        assert "Provides-Extra: data\n" in pkg_info.read().decode()
        for m in tf.getmembers():
            assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (1700000000, 0, 0, "", "")
            assert m.mode == (0o755 if m.isdir() else 0o644), m.name

    wheel = built.dist / WHEEL
    expected = sorted(
        WHEEL_BASE + [f"{DIST}.dist-info/{n}" for n in ()] + WHEEL_MORE.get(built.backend, [])
    )
    assert names(wheel) == expected
    z = zipfile.ZipFile(wheel)
    assert {n: z.read(n) for n in LOCATOR} == LOCATOR
    config = json.loads(z.read(REGISTRY_JSON))
    assert (config["package"], config["env_var"], config["bundled"]) == (
        "fixpkg",
        "FIXPKG_DATA_DIR",
        False,
    )
    assert sorted(config["files"]) == sorted(DATA)
    meta = z.read(f"{DIST}.dist-info/METADATA").decode()
    assert "Provides-Extra: data\n" in meta
    assert "Requires-Dist: fix-pkg-data==1.2.0; extra == 'data'\n" in meta
    # the order a wheel is expected in: the package, then .dist-info with RECORD last
    order = z.namelist()
    first_info = next(i for i, n in enumerate(order) if ".dist-info/" in n)
    assert all(".dist-info/" in n for n in order[first_info:]) and order[-1].endswith("/RECORD")
    assert {(i.date_time, i.external_attr >> 16) for i in z.infolist()} == {(EPOCH, 0o100644)}
    data_wheel = zipfile.ZipFile(built.dist / DATA_WHEEL)
    assert {n: data_wheel.read(f"fixpkg_data/{n}") for n in DATA} == DATA

    paths = [str(p) for p in sorted(built.dist.iterdir())]
    assert twine_check(paths, built.tmp) >= 1  # all 3 where twine knows the metadata version
    wheels = [p for p in paths if p.endswith(".whl")]
    r = call([str(BIN / "check-wheel-contents"), *wheels], built.tmp, clean_env())
    assert r.stdout.count(": OK") == 2, r.stdout


def check_record(built: Built) -> None:
    import base64
    import hashlib

    z = zipfile.ZipFile(built.dist / WHEEL)
    rows = z.read(f"{DIST}.dist-info/RECORD").decode().splitlines()
    record = {r.rsplit(",", 2)[0]: r.rsplit(",", 2)[1:] for r in rows}
    assert sorted(record) == sorted(z.namelist())
    for name in z.namelist():
        if name.endswith("/RECORD"):
            assert record[name] == ["", ""]
            continue
        data = z.read(name)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert record[name] == [f"sha256={digest}", str(len(data))], name


def check_prepared_metadata(built: Built, tmp_path: Path) -> None:
    """pip's resolver reads prepare_metadata_for_build_wheel (and _editable)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, pyproject_hooks as h; c = h.BuildBackendHookCaller(sys.argv[1], "
        "'hatch_datafetch.build', runner=h.quiet_subprocess_runner); "
        "print(c.prepare_metadata_for_build_wheel(sys.argv[2])); "
        "print(c.prepare_metadata_for_build_editable(sys.argv[3]))"
    )
    wheel_md, editable_md = tmp_path / "w", tmp_path / "e"
    wheel_md.mkdir()
    editable_md.mkdir()
    r = call(
        [sys.executable, "-c", code, str(built.proj), str(wheel_md), str(editable_md)],
        tmp_path,
        clean_env(HATCH_DATAFETCH_OFFLINE="1"),
    )
    for directory, dist_info in zip((wheel_md, editable_md), r.stdout.split()):
        meta = (directory / dist_info / "METADATA").read_text()
        assert "Provides-Extra: data\n" in meta
        assert "Requires-Dist: fix-pkg-data==1.2.0; extra == 'data'\n" in meta


def check_data_extra_from_dist(built: Built, tmp_path: Path) -> None:
    """``pip install --no-index --find-links dist 'fix-pkg[data]'``: the CDN is stopped."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    py = outer_venv(tmp_path / "v")
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "xdg"), HATCH_DATAFETCH_OFFLINE="1")
    pip = [str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(built.dist)]
    call([*pip, "fix-pkg[data]"], tmp_path, env)
    for name, data in DATA.items():
        _path, source, got = fetch_in(py, name, env)
        assert (source, got) == ("companion data package fixpkg_data", data)


def check_install_from_source(built: Built, tmp_path: Path, installer: str) -> None:
    """``pip install .`` and ``uv pip install .``: data-wheel = true and no CDN, yet the
    install works and brings the locator, not the data."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    py = outer_venv(tmp_path / "v")
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "xdg"), UV_CACHE_DIR=str(tmp_path / "uv"))
    if installer == "pip":
        cmd = [str(py), "-m", "pip", "install", "--no-build-isolation", "--no-deps", "."]
    else:
        cmd = [
            uv(),
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--python",
            str(py),
            ".",
        ]
    r = call(cmd, built.proj, env)
    assert "Traceback" not in r.stdout + r.stderr
    code = "import json, fixpkg._datafetch as d; print(json.dumps(sorted(d.registry)))"
    assert py_json(py, code, env) == sorted(DATA)
    assert call([str(py), "-c", "import fixpkg_data"], tmp_path, env, ok=False).returncode != 0
    site = next((tmp_path / "v").glob("lib/python*/site-packages"))
    assert (site / "fixpkg" / "_datafetch" / "lookup.py").is_file()
    assert not (site / "fixpkg" / "images").exists()


def check_editable_install(built: Built, tmp_path: Path) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    before = tree(built.proj)
    py = outer_venv(tmp_path / "v")
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "xdg"), HATCH_DATAFETCH_OFFLINE="1")
    pip = [str(py), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "-e", "."]
    call(pip, built.proj, env)
    assert_untouched(before, tree(built.proj))
    envdir = tmp_path / "envdir"
    for name, data in DATA.items():
        (envdir / name).parent.mkdir(parents=True, exist_ok=True)
        (envdir / name).write_bytes(data)
    path, source, data = fetch_in(py, "images/camera.png", {**env, "FIXPKG_DATA_DIR": str(envdir)})
    assert (path, source, data) == (
        str(envdir / "images/camera.png"),
        "$FIXPKG_DATA_DIR",
        DATA["images/camera.png"],
    )
    # the package itself comes from the source tree, the locator from site-packages
    where = "import json, fixpkg; print(json.dumps(fixpkg.__file__))"
    assert py_json(py, where, env) == str(built.proj / "src" / "fixpkg" / "__init__.py")


def check_offline_rebuild(built: Built, tmp_path: Path) -> None:
    """``unshare -n``: no network at all. The sdist alone rebuilds into the very wheel of
    dist/, byte for byte."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sdist = built.dist / f"{DIST}.tar.gz"
    env = clean_env(
        XDG_CACHE_HOME=str(tmp_path / "xdg"), HATCH_DATAFETCH_CACHE=str(tmp_path / "empty")
    )
    pip = ["unshare", "-n", sys.executable, "-m", "pip", "wheel", "-q", "--no-index"]
    pip += ["--no-build-isolation", "--no-deps"]
    call([*pip, "-w", str(tmp_path / "omit"), str(sdist)], tmp_path, env)
    assert (tmp_path / "omit" / WHEEL).read_bytes() == (built.dist / WHEEL).read_bytes()


# ---------------------------------------------------------------------- one backend's details


def test_flit_alone_rejects_the_dynamic_extras(tmp_path: Path) -> None:
    """Why flit-core gets a view of the project: by itself it stops at
    ``dynamic = ["optional-dependencies"]`` (the other four accept it)."""
    need("flit_core", "flit-core (test extra) is not installed")
    proj = make_project(tmp_path, "flit", None)
    text = (proj / "pyproject.toml").read_text()
    (proj / "pyproject.toml").write_text(
        text.replace(
            'build-backend = "hatch_datafetch.build"', 'build-backend = "flit_core.buildapi"'
        )
    )
    r = call(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "."],
        proj,
        clean_env(),
        ok=False,
    )
    assert r.returncode != 0 and "flit only supports dynamic metadata" in r.stdout + r.stderr


def wrapped(tmp_path: Path, settings: dict[str, object] | None = None) -> Path:
    return make_project(tmp_path, "setuptools", "http://127.0.0.1:9/", settings)


def set_backend(proj: Path, backend: str) -> None:
    text = (proj / "pyproject.toml").read_text()
    text = re.sub(r'(?m)^backend = ".*"$', f'backend = "{backend}"', text)
    (proj / "pyproject.toml").write_text(text)


def build_fails(proj: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "build", "--no-isolation", *args, "."]
    r = call(cmd, proj, clean_env(), ok=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    return out


def test_unknown_backend_is_a_clear_error(tmp_path: Path) -> None:
    proj = wrapped(tmp_path)
    set_backend(proj, "nosuch.backend")
    out = build_fails(proj, "--wheel")
    assert (
        "hatch-datafetch: cannot import the build backend 'nosuch.backend' ([tool.datafetch] "
        "backend): no module named 'nosuch'"
    ) in out
    assert "hint: add the package that provides it to [build-system] requires" in out


def test_hatchling_and_meson_python_are_pointed_to_their_own_integration(tmp_path: Path) -> None:
    proj = wrapped(tmp_path)
    set_backend(proj, "hatchling.build")
    out = build_fails(proj, "--sdist")
    assert "'hatchling.build': Hatch projects use the build hook, not this wrapper" in out
    assert "[tool.hatch.build.hooks.datafetch]\n" in out
    assert "[tool.hatch.metadata.hooks.datafetch]\n" in out
    set_backend(proj, "mesonpy")
    out = build_fails(proj, "--sdist")
    assert "'mesonpy': meson-python projects use the meson helper" in out
    assert "hatch-datafetch meson-snippet --package PKG" in out


def test_static_extras_and_the_data_extra_are_an_error(tmp_path: Path) -> None:
    proj = wrapped(tmp_path, {"data-wheel": True})
    text = (proj / "pyproject.toml").read_text()
    text = text.replace('dynamic = ["optional-dependencies"]\n', "")
    text = text.replace(
        "[tool.setuptools.packages.find]",
        '[project.optional-dependencies]\nplot = ["matplotlib"]\n\n[tool.setuptools.packages.find]',
    )
    (proj / "pyproject.toml").write_text(text)
    out = build_fails(proj, "--sdist")
    assert (
        "data-wheel = true, but [project] does not list optional-dependencies in `dynamic`" in out
    )
    assert not (proj / "dist").exists() or not list((proj / "dist").glob("*.tar.gz"))


def test_in_tree_backend_from_backend_path(tmp_path: Path) -> None:
    """``backend-path``: an in-tree backend (here a thin module over setuptools)."""
    proj = wrapped(tmp_path, {"backend-path": ["_build"]})
    set_backend(proj, "intree_backend")
    (proj / "_build").mkdir()
    (proj / "_build" / "intree_backend.py").write_text(
        "from setuptools.build_meta import *  # noqa\n"
    )
    call([sys.executable, "-m", "build", "--no-isolation", "--wheel", "."], proj, clean_env())
    assert "fixpkg/_datafetch/__init__.py" in names(proj / "dist" / WHEEL)


def test_metadata_without_a_description_gets_the_extras_as_headers(tmp_path: Path) -> None:
    """A project with no readme: setuptools' METADATA and PKG-INFO are headers only (no blank
    line, no body); the extras are added as headers, not after a blank line where pip reads
    them as the description (and says the package "does not provide the extra")."""
    from email.parser import Parser

    proj = wrapped(tmp_path, {"extras": {"plot": ["matplotlib>=3.5"]}})
    text = (proj / "pyproject.toml").read_text()
    (proj / "pyproject.toml").write_text(text.replace('readme = "README.md"\n', ""))
    call([sys.executable, "-m", "build", "--no-isolation", "."], proj, clean_env())
    with zipfile.ZipFile(proj / "dist" / WHEEL) as zf:
        metadata = zf.read(f"{DIST}.dist-info/METADATA").decode()
    with tarfile.open(proj / "dist" / f"{DIST}.tar.gz") as tf:
        member = tf.extractfile(f"{DIST}/PKG-INFO")
        assert member is not None
        pkg_info = member.read().decode()
    for text in (metadata, pkg_info):
        headers = Parser().parsestr(text)
        assert headers.get_all("Provides-Extra") == ["plot"], text
        assert headers.get_all("Requires-Dist") == ["matplotlib>=3.5; extra == 'plot'"], text
        assert headers.get_payload() == "" and text.endswith("'plot'\n"), text
