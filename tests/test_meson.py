"""The meson helper (SPEC §8), exercised by building a real meson-python project.

``tests/fixtures/mesonproj`` is a ``pure: false`` package with a C extension whose meson.build
carries the block of ``hatch-datafetch meson-snippet --package fixpkg``. Each build test copies
it to tmp_path, writes pyproject.toml and a registry of files served by the loopback CDN,
``git init``s it (meson dist archives git HEAD), builds with ``python -m build``/pip, opens
the archives and runs the locator in fresh venvs. The data model is test_hatch_hook's, so
the Hatch and meson wheels of one registry can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import CDN
from support.hatch import (
    DATA,
    LOCATOR,
    build,
    editable_install,
    fetch_in,
    names,
    run,
    venv_with,
)
from support.hatch import make_project as make_hatch_project
from support.meson import (
    BUNDLE,
    DIST,
    EPOCH,
    EXAMPLE,
    EXT,
    FIXTURE,
    IN_WHEEL,
    REPO,
    SDIST_BASE,
    WHEEL_BASE,
    gen_runtime,
    hdf,
    make_project,
    one,
    source_tree,
)

from hatch_datafetch.meson import OPTIONS, render_snippet
from hatch_datafetch.staging import BUNDLE_DIR, runtime_files


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in DATA.items():
        cdn.add(name, data)
    return cdn


# ---------------------------------------------------------------------- one source


def test_meson_files_and_snippet_come_from_one_source() -> None:
    assert (REPO / "meson" / "datafetch.meson").read_text() == render_snippet()
    assert (REPO / "meson" / "meson.options").read_text() == OPTIONS
    code, out, _ = hdf("meson-snippet")
    assert (code, out) == (0, render_snippet())
    assert hdf("meson-snippet", "--options")[1] == OPTIONS
    # the fixture and the example carry the block verbatim
    assert render_snippet("fixpkg") in (FIXTURE / "src/fixpkg/meson.build").read_text()
    assert (FIXTURE / "meson.options").read_text() == OPTIONS
    example = (EXAMPLE / "src/example_meson_pkg/meson.build").read_text()
    assert render_snippet("example_meson_pkg") in example
    assert (EXAMPLE / "meson.options").read_text() == OPTIONS
    # so does the guide that shows it (its walk-through's pure-Python mypkg)
    guide = (REPO / "docs" / "howto" / "meson-python.md").read_text()
    assert render_snippet("mypkg", pure=True) in guide
    assert OPTIONS in guide
    assert "datafetch_check = run_command(" not in (REPO / "README.md").read_text()


def test_snippet_for_a_nested_pure_package() -> None:
    code, out, _ = hdf("meson-snippet", "--subdir", "skimage/data", "--pure", "true")
    assert (
        code == 0 and out == hdf("meson-snippet", "--package", "skimage.data", "--pure", "true")[1]
    )
    assert "install_dir: datafetch_py.get_install_dir(pure: true) / 'skimage/data'," in out
    assert "output: 'data'," in out  # the staged directory, installed into skimage/
    assert "install_dir: datafetch_py.get_install_dir(pure: true) / 'skimage'," in out
    assert "'--package', 'skimage.data', '--locator', '_datafetch'" in out
    code, _, err = hdf("meson-snippet", "--package", "a.b", "--subdir", "a/c")
    assert code == 2 and "name different packages" in err


# ---------------------------------------------------------------------- sdist -> wheels


@pytest.mark.slow
def test_sdist_bundle_then_offline_wheels_from_it(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"sdist": "bundle"})
    before = source_tree(proj)
    build(proj, "--sdist", "--outdir", str(tmp_path / "one"))
    build(proj, "--sdist", "--outdir", str(tmp_path / "two"))
    assert source_tree(proj) == before  # nothing left in the source tree
    sdist = tmp_path / "one" / f"{DIST}.tar.gz"
    assert names(sdist) == sorted(SDIST_BASE + BUNDLE)
    assert sdist.read_bytes() == (tmp_path / "two" / sdist.name).read_bytes()  # reproducible
    with tarfile.open(sdist) as tf:
        for name, data in DATA.items():
            member = tf.getmember(f"{DIST}/{BUNDLE_DIR}/{name}")
            assert (member.mtime, member.mode) == (EPOCH, 0o644)
            f = tf.extractfile(member)
            assert f is not None and f.read() == data
        tf.extractall(tmp_path / "unpacked", filter="data")
    assert all(served.count(n) == 1 for n in DATA)  # the second sdist used the build cache

    served.stop()  # from here on, only the sdist's bundle can provide the files
    unpacked = tmp_path / "unpacked" / DIST
    wheels = {}
    for mode in ("omit", "bundle"):
        out = tmp_path / f"wheel-{mode}"
        build(unpacked, "--wheel", f"-Csetup-args=-Ddata-mode={mode}", "--outdir", str(out))
        wheels[mode] = one(out, "*.whl")
    assert names(wheels["omit"]) == WHEEL_BASE
    assert names(wheels["bundle"]) == sorted(WHEEL_BASE + IN_WHEEL)
    for mode, wheel in wheels.items():
        z = zipfile.ZipFile(wheel)
        assert {n: z.read(n) for n in LOCATOR} == LOCATOR
        config = z.read("fixpkg/_datafetch_registry.json")
        assert (
            config == gen_runtime(proj, tmp_path / f"gen-{mode}", mode)["_datafetch_registry.json"]
        )
        assert json.loads(config)["bundled"] == (mode == "bundle")
    assert {n: zipfile.ZipFile(wheels["bundle"]).read(f"fixpkg/{n}") for n in DATA} == DATA

    envdir = tmp_path / "envdir"
    (envdir / "text").mkdir(parents=True)
    (envdir / "text/poem.txt").write_bytes(DATA["text/poem.txt"])
    py = venv_with(tmp_path, wheels["omit"], name="venv-omit")
    path, source, data = fetch_in(py, "text/poem.txt", {"FIXPKG_DATA_DIR": str(envdir)})
    assert (path, source, data) == (
        str(envdir / "text/poem.txt"),
        "$FIXPKG_DATA_DIR",
        DATA["text/poem.txt"],
    )
    py = venv_with(tmp_path, wheels["bundle"], name="venv-bundle")
    path, source, data = fetch_in(py, "deep/a/b/values.bin")
    assert (source, data) == ("package bundle", DATA["deep/a/b/values.bin"])
    assert "site-packages/fixpkg/deep/a/b/values.bin" in path
    check = "import fixpkg, zlib; assert fixpkg.checksum(b'xyz') == zlib.adler32(b'xyz')"
    run([str(py), "-c", check], tmp_path)  # the extension module works too

    # the companion data wheel, for any backend: from the unpacked sdist, CDN still stopped
    r = run(
        [sys.executable, "-m", "hatch_datafetch", "build-data-wheel", "-o", str(tmp_path / "dw")],
        unpacked,
        {"HATCH_DATAFETCH_CACHE": str(tmp_path / "empty-cache")},
    )
    data_wheel = tmp_path / "dw" / "fix_pkg_data-1.2.0-py3-none-any.whl"
    assert r.stdout.strip() == str(data_wheel)
    z = zipfile.ZipFile(data_wheel)
    assert {n: z.read(f"fixpkg_data/{n}") for n in DATA} == DATA


def test_unbundled_sdist_cannot_give_a_bundle_wheel(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url)  # sdist = "omit" (default)
    r = build(proj, "-Csetup-args=-Ddata-mode=bundle", ok=False)  # sdist, then wheel from it
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    assert 'sdist = "omit": the sdist carries the registry, not the data' in err
    assert "3 data file(s) are not available (building from an sdist, which never downloads)" in err
    assert "HATCH_DATAFETCH_SDIST=bundle" in err and "-Ddata-mode=omit" in err
    assert served.requests == []


# ---------------------------------------------------------------------- options and tags


@pytest.mark.slow
def test_omit_option_and_install_tags_keep_the_locator(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"}, git=False)
    tags = "-Cinstall-args=--tags=runtime,python-runtime"
    build(proj, "--wheel", "-Csetup-args=-Ddata-mode=omit", tags, "--outdir", str(tmp_path / "a"))
    assert names(one(tmp_path / "a", "*.whl")) == WHEEL_BASE
    assert served.requests == []  # omit mode declares no staging target: nothing was fetched
    # why it must not: tags filter what is installed, not what is built
    build(proj, "--wheel", "-Cinstall-args=--tags=runtime", "--outdir", str(tmp_path / "b"))
    assert names(one(tmp_path / "b", "*.whl")) == sorted(
        [EXT, *(n for n in WHEEL_BASE if ".dist-info/" in n)]
    )
    assert all(served.count(n) == 1 for n in DATA)  # staged, then dropped
    build(proj, "--wheel", tags, "--outdir", str(tmp_path / "c"))  # bundle, from pyproject
    wheel = one(tmp_path / "c", "*.whl")
    assert names(wheel) == sorted(WHEEL_BASE + IN_WHEEL)
    assert json.loads(zipfile.ZipFile(wheel).read("fixpkg/_datafetch_registry.json"))["bundled"]


@pytest.mark.parametrize(
    ("setting", "env", "expected"),
    [
        (
            "-Ddata-mode=sideways",
            {},
            'Value "sideways" (of type "string") for option "data-mode" is not one of the '
            'choices. Possible choices are (as string): "auto", "omit", "bundle".',
        ),
        (
            None,
            {"HATCH_DATAFETCH_WHEEL": "sideways"},
            'environment variable HATCH_DATAFETCH_WHEEL: expected "omit" or "bundle", '
            'got "sideways"',
        ),
        ({"wheel": "yes", "jobz": 2}, {}, "tool.datafetch.jobz: unknown key; did you mean 'jobs'"),
        (
            {"package": "otherpkg"},
            {},
            "meson.build installs the locator into package 'fixpkg', but",
        ),
    ],
    ids=["meson-option", "env", "pyproject", "package-mismatch"],
)
def test_bad_values_fail_at_configure_time(
    tmp_path: Path, setting: Any, env: dict[str, str], expected: str
) -> None:
    proj = make_project(tmp_path, None, setting if isinstance(setting, dict) else None, git=False)
    args = [f"-Csetup-args={setting}"] if isinstance(setting, str) else []
    r = build(proj, "--wheel", *args, env=env, ok=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and expected in out, out
    assert "ERROR" in out and "Traceback" not in out
    steps = [line for line in out.splitlines() if line.startswith("+ ")]  # meson-python's log
    assert len(steps) == 1 and " setup " in steps[0]  # it stopped at configure: ninja never ran


def test_settings_errors_in_line_order_headed_by_where_they_come_from(tmp_path: Path) -> None:
    """Issue 17.14: problems are listed in the order of their lines in pyproject.toml, and
    the header names the environment when a problem comes from it."""
    proj = make_project(tmp_path, None, {"jobs": 0, "wheel": "yes", "jobz": 2}, git=False)
    text = (proj / "pyproject.toml").read_text().splitlines()
    at = {
        key: text.index(line) + 1
        for line in text
        for key in ("jobs", "wheel", "jobz")
        if line.startswith(f"{key} =")
    }
    assert at["jobs"] < at["wheel"] < at["jobz"]
    out = "\n".join(build(proj, "--wheel", ok=False).stdout.splitlines())
    header = f"invalid hatch-datafetch settings in {proj / 'pyproject.toml'}:"
    assert header in out, out
    listed = [ln.split(":")[1] for ln in out.splitlines() if ln.strip().startswith("- pyproject")]
    assert listed == [str(at["jobs"]), str(at["wheel"]), str(at["jobz"])], out

    env = {"HATCH_DATAFETCH_WHEEL": "sideways"}
    out = build(proj, "--wheel", env=env, ok=False).stdout
    assert f"settings in {proj / 'pyproject.toml'} and the environment:" in out, out

    proj = make_project(tmp_path / "ok", None, git=False)
    out = build(proj, "--wheel", env=env, ok=False).stdout
    assert "invalid hatch-datafetch settings in the environment:" in out, out
    assert "settings in pyproject.toml" not in out and "pyproject.toml:" not in out


def test_offline_without_files_names_them_and_the_remedies(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"}, git=False)
    nodownload = "-Csetup-args=--wrap-mode=nodownload"
    r = build(proj, "--wheel", nodownload, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    assert "3 data file(s) are not available (meson --wrap-mode=nodownload)" in err
    for name in DATA:
        assert f"{name}  {served.url}{name}" in err
    assert "set HATCH_DATAFETCH_SOURCE=DIR" in err
    assert f"hatch-datafetch download --pyproject {proj / 'pyproject.toml'}" in err
    assert "configure without --wrap-mode=nodownload" in err
    assert "-Csetup-args=-Ddata-mode=omit" in err
    assert served.requests == []
    # remedy 1: pre-downloaded files, still offline
    source = tmp_path / "predownloaded"
    for name, data in DATA.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    env = {"HATCH_DATAFETCH_SOURCE": str(source)}
    build(proj, "--wheel", nodownload, "--outdir", str(tmp_path / "out"), env=env)
    assert names(one(tmp_path / "out", "*.whl")) == sorted(WHEEL_BASE + IN_WHEEL)
    assert served.requests == []


# ---------------------------------------------------------------------- editable


def test_editable_install_finds_data(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, git=False)
    py = editable_install(tmp_path, proj)
    _path, source, data = fetch_in(py, "images/camera.png")
    assert (source, data) == ("user cache", DATA["images/camera.png"])
    # meson-python's loader imports the locator from the build dir, where its JSON lies
    code = "import json, fixpkg._datafetch as d; print(json.dumps(d.__file__))"
    located = Path(json.loads(run([str(py), "-c", code], tmp_path).stdout))
    assert proj / "build" in located.parents
    assert located.parent.name == "_datafetch"  # the locator package
    assert (located.parent.parent / "_datafetch_registry.json").is_file()
    # a registry change is picked up by the rebuild on import (the depfile names the registry)
    served.add("new.txt", b"new\n")
    with (proj / "registry.toml").open("a") as f:
        f.write(f'"new.txt" = {{ hash = "sha256:{hashlib.sha256(b"new").hexdigest()}" }}\n')
    r = run([str(py), "-c", "import fixpkg._datafetch as d; print(sorted(d.registry))"], tmp_path)
    assert "'new.txt'" in r.stdout


def test_editable_install_in_bundle_mode_serves_the_staged_files(
    served: CDN, tmp_path: Path
) -> None:
    """meson-python's editable loader gives no single package directory; the locator
    resolves bundled files through importlib.resources instead."""
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"}, git=False)
    py = editable_install(tmp_path, proj)
    served.stop()
    path, source, data = fetch_in(py, "deep/a/b/values.bin")
    assert (source, data) == ("package bundle", DATA["deep/a/b/values.bin"])
    assert proj / "build" in Path(path).parents


# ---------------------------------------------------------------------- same as Hatch


def test_generated_files_match_the_hatch_wheel(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, git=False)
    for mode in ("omit", "bundle"):
        hatch = make_hatch_project(tmp_path, served.url, {"wheel": mode}, name=f"hatch-{mode}")
        build(hatch, "--wheel")
        z = zipfile.ZipFile(one(hatch / "dist", "*.whl"))
        generated = gen_runtime(proj, tmp_path / f"gen-{mode}", mode)
        expected = [n.removeprefix("fixpkg/") for n in LOCATOR] + ["_datafetch_registry.json"]
        assert sorted(generated) == sorted(expected)
        assert generated == {n: z.read(f"fixpkg/{n}") for n in generated}


# ---------------------------------------------------------------------- commands


def test_mode_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = make_project(tmp_path, None, git=False)
    pyproject = str(proj / "pyproject.toml")

    def mode(*args: str) -> tuple[int, str, str]:
        return hdf("mode", "--pyproject", pyproject, *args)

    assert mode()[:2] == (0, "omit\n")
    assert mode("--option", "bundle")[:2] == (0, "bundle\n")
    monkeypatch.setenv("HATCH_DATAFETCH_WHEEL", "bundle")
    assert mode("--option", "auto")[:2] == (0, "bundle\n")
    assert mode("--option", "omit")[:2] == (0, "omit\n")  # an explicit option wins
    code, _, err = mode("--option", "sideways")
    assert code == 2 and "data-mode: expected one of auto, omit, bundle, got 'sideways'" in err
    code, _, err = mode("--wrap-mode", "nodl")
    assert code == 2 and "--wrap-mode: expected one of default," in err
    code, _, err = mode("--locator", "_data")
    assert code == 2 and "meson.build declares the locator module '_data'" in err
    assert "hatch-datafetch meson-snippet --pyproject" in err
    code, _, err = hdf("mode", "--pyproject", str(tmp_path / "nope.toml"))
    assert code == 2 and "nope.toml not found" in err and "Traceback" not in err


def test_gen_runtime_writes_depfile(tmp_path: Path) -> None:
    proj = make_project(tmp_path, None, git=False)
    out, dep = tmp_path / "out dir", tmp_path / "gen.d"
    code, _, err = hdf(
        "gen-runtime",
        "--pyproject",
        str(proj / "pyproject.toml"),
        "-o",
        str(out),
        "--depfile",
        str(dep),
    )
    assert code == 0, err
    assert {n: (out / "_datafetch" / n).read_bytes() for n in runtime_files()} == runtime_files()
    assert sorted(p.name for p in (out / "_datafetch").iterdir()) == sorted(runtime_files())
    target, deps = dep.read_text().split(": ")
    assert target == str(out / "_datafetch").replace(" ", "\\ ")
    assert deps.split()[:2] == [str(proj / "pyproject.toml"), str(proj / "registry.toml")]
    assert [Path(d).name for d in deps.split()[2:]] == sorted(runtime_files())
    # a rerun replaces the package as a whole: no module of an older tool stays behind
    (out / "_datafetch" / "old_module.py").write_text("stale")
    assert hdf("gen-runtime", "--pyproject", str(proj / "pyproject.toml"), "-o", str(out))[0] == 0
    assert sorted(p.name for p in (out / "_datafetch").iterdir()) == sorted(runtime_files())


def test_stage_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = make_project(tmp_path, "http://127.0.0.1:9/", git=False)  # nothing listens there
    pyproject = str(proj / "pyproject.toml")
    out = tmp_path / "build" / "fixpkg"
    # offline, nothing anywhere: fails, leaves nothing behind
    code, _, err = hdf(
        "stage", "--pyproject", pyproject, "-o", str(out), "--wrap-mode", "nodownload"
    )
    assert code == 1 and "3 data file(s) are not available" in err and "Traceback" not in err
    assert not (tmp_path / "build").exists() or list((tmp_path / "build").iterdir()) == []
    source = tmp_path / "src"
    for name, data in DATA.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    monkeypatch.setenv("HATCH_DATAFETCH_SOURCE", str(source))
    code, _, err = hdf(
        "stage", "--pyproject", pyproject, "-o", str(out), "--wrap-mode", "nodownload"
    )
    assert code == 0, err
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == DATA
    (out / "stale.txt").write_text("from an older registry")
    assert hdf("stage", "--pyproject", pyproject, "-o", str(out))[0] == 0
    assert not (out / "stale.txt").exists()  # replaced as a whole
    assert sorted(p.name for p in out.parent.iterdir()) == [
        ".fixpkg.hatch-datafetch-stage",
        "fixpkg",
    ]
    # a directory not made by stage (a meson build sub-directory) is never clobbered
    foreign = tmp_path / "build" / "other"
    foreign.mkdir()
    code, _, err = hdf("stage", "--pyproject", pyproject, "-o", str(foreign))
    assert code == 2 and "was not made by `hatch-datafetch stage`" in err
    assert "meson.build of the package itself" in err


def test_dist_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = hdf("dist")
    assert code == 2 and "meson.add_dist_script" in err
    proj = make_project(tmp_path, "http://127.0.0.1:9/", git=False)
    monkeypatch.setenv("MESON_PROJECT_DIST_ROOT", str(proj))
    code, _, err = hdf("dist")
    assert code == 0 and 'sdist = "omit"' in err and not (proj / BUNDLE_DIR).exists()
    monkeypatch.setenv("HATCH_DATAFETCH_SDIST", "bundle")
    code, _, err = hdf("dist", "--wrap-mode", "nodownload")
    assert code == 1 and "(meson --wrap-mode=nodownload)" in err
    assert "HATCH_DATAFETCH_SDIST=omit" in err and not (proj / BUNDLE_DIR).exists()
    source = tmp_path / "src"
    for name, data in DATA.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    monkeypatch.setenv("HATCH_DATAFETCH_SOURCE", str(source))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    os.utime(proj / "pyproject.toml", (1600000000, 1600000000))  # as git archive sets it
    code, _, err = hdf("dist", "--wrap-mode", "nodownload")
    assert code == 0, err
    files = {p.relative_to(proj / BUNDLE_DIR).as_posix(): p for p in (proj / BUNDLE_DIR).rglob("*")}
    assert {n: p.read_bytes() for n, p in files.items() if p.is_file()} == DATA
    assert {p.stat().st_mtime for p in files.values()} == {1600000000}
    assert {p.stat().st_mode & 0o777 for p in files.values() if p.is_file()} == {0o644}
    code, _, err = hdf("dist")
    assert code == 2 and "must not be committed to git" in err


# ---------------------------------------------------------------------- the example


def test_example_meson_project_builds_offline(tmp_path: Path) -> None:
    registry = (EXAMPLE / "registry.toml").read_text()
    assert registry == (REPO / "example_project" / "registry.toml").read_text()
    proj = tmp_path / "example"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns("build", "dist", ".mesonpy-*"))
    env = {"HATCH_DATAFETCH_SOURCE": str(REPO / "example_project" / "cdn")}
    nodownload = "-Csetup-args=--wrap-mode=nodownload"
    build(proj, "--wheel", nodownload, "-Csetup-args=-Ddata-mode=bundle", env=env)
    wheel = one(proj / "dist", "*.whl")
    got = names(wheel)
    for line in registry.splitlines():
        if line.startswith('"'):
            assert f"example_meson_pkg/{json.loads(line.split(' = ')[0])}" in got
    py = venv_with(tmp_path, wheel)
    r = run([str(py), "-m", "example_meson_pkg"], tmp_path)
    assert "package bundle" in r.stdout


def test_tool_datafetch_without_the_helper_points_to_it(tmp_path: Path) -> None:
    """Issue 18: a meson-python project with [tool.datafetch] whose meson.build does not
    call the helper would build a wheel without the locator; the build stops at once."""
    proj = tmp_path / "proj"
    (proj / "fixpkg").mkdir(parents=True)
    (proj / "fixpkg" / "__init__.py").write_text("")
    (proj / "meson.build").write_text(
        "project('fix-pkg', version: '1.2.0')\n"
        "py = import('python').find_installation()\n"
        "py.install_sources('fixpkg/__init__.py', subdir: 'fixpkg')\n"
    )
    (proj / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["meson-python", "hatch-datafetch"]\n'
        'build-backend = "mesonpy"\n[project]\nname = "fix-pkg"\nversion = "1.2.0"\n'
        '[tool.datafetch]\nregistry = "registry.toml"\npackage = "fixpkg"\n'
    )
    r = run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "."], proj, ok=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "no meson.build of this meson-python project calls the hatch-datafetch helper" in (
        r.stderr
    )
    assert "hint: paste the block that `hatch-datafetch meson-snippet --package PKG` prints" in (
        r.stderr
    )
