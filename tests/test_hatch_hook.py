"""The Hatch build hook and metadata hook, exercised by building real projects.

Each test copies ``tests/fixtures/hatchproj`` to tmp_path, writes its pyproject/registry,
builds it with a real front-end (build, pip, uv), opens the archives and, where it matters,
installs the wheel into a fresh venv and runs the locator there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import CDN
from support.hatch import (
    BUNDLE,
    DATA,
    DIST,
    IN_WHEEL,
    LOCATOR,
    SDIST_BASE,
    SUMS,
    WHEEL,
    WHEEL_BASE,
    build,
    editable_install,
    fetch_in,
    hatchling_version,
    make_project,
    names,
    py_json,
    run,
    tree,
    uv,
    venv_with,
)

import hatch_datafetch

REGISTRY_JSON = "fixpkg/_datafetch_registry.json"


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in DATA.items():
        cdn.add(name, data)
    return cdn


# ---------------------------------------------------------------------- omit


def test_omit_mode_ships_locator_and_registry_only(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url)
    before = tree(proj)
    build(proj)
    assert before == tree(proj)  # nothing written into the source tree
    assert names(proj / "dist" / f"{DIST}.tar.gz") == SDIST_BASE
    wheel = proj / "dist" / WHEEL
    assert names(wheel) == WHEEL_BASE
    assert served.requests == []  # omit needs no network at all
    z = zipfile.ZipFile(wheel)
    assert {n: z.read(n) for n in LOCATOR} == LOCATOR
    config = json.loads(z.read("fixpkg/_datafetch_registry.json"))
    assert config["files"] == {
        n: {"hash": SUMS[n], "size": len(DATA[n]), "url": None} for n in sorted(DATA)
    }
    assert list(config["files"]) == sorted(DATA)
    assert (config["package"], config["env_var"], config["bundled"]) == (
        "fixpkg",
        "FIXPKG_DATA_DIR",
        False,
    )
    assert config["base_url"] == served.url and config["data_name"] == "fix-pkg-data"

    py = venv_with(tmp_path, wheel)
    path, source, data = fetch_in(py, "images/camera.png")
    assert (source, data) == ("user cache", DATA["images/camera.png"])
    assert path.startswith(str(tmp_path / "xdg-cache" / "fix-pkg-data"))
    assert served.count("images/camera.png") == 1
    envdir = tmp_path / "envdir"
    (envdir / "text").mkdir(parents=True)
    (envdir / "text/poem.txt").write_bytes(DATA["text/poem.txt"])
    path, source, data = fetch_in(py, "text/poem.txt", {"FIXPKG_DATA_DIR": str(envdir)})
    assert (path, source) == (str(envdir / "text/poem.txt"), "$FIXPKG_DATA_DIR")
    assert served.count("text/poem.txt") == 0


# ---------------------------------------------------------------------- bundle


def test_bundle_sdist_and_wheel_then_offline_rebuild(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"sdist": "bundle", "wheel": "bundle"})
    build(proj, "--sdist")
    sdist = proj / "dist" / f"{DIST}.tar.gz"
    assert names(sdist) == sorted(SDIST_BASE + BUNDLE)
    with tarfile.open(sdist) as tf:
        for name, data in DATA.items():
            member = tf.extractfile(f"{DIST}/_datafetch_bundle/{name}")
            assert member is not None and member.read() == data
    served.stop()  # the CDN is gone: the wheel must come from the sdist's bundle
    out = tmp_path / "wheels"
    r = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(out),
            str(sdist),
        ],
        tmp_path,
        {"HATCH_DATAFETCH_OFFLINE": "1"},
    )
    wheel = out / WHEEL
    assert names(wheel) == sorted(WHEEL_BASE + IN_WHEEL), r.stderr
    py = venv_with(tmp_path, wheel)
    path, source, data = fetch_in(py, "deep/a/b/values.bin")
    assert source == "package bundle" and data == DATA["deep/a/b/values.bin"]
    assert "site-packages/fixpkg/deep/a/b/values.bin" in path


def test_default_build_flow_and_reproducible(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"sdist": "bundle", "wheel": "bundle"})
    build(proj, "--outdir", str(tmp_path / "one"))
    build(proj, "--outdir", str(tmp_path / "two"))
    for artifact in (f"{DIST}.tar.gz", WHEEL):
        assert (tmp_path / "one" / artifact).read_bytes() == (
            tmp_path / "two" / artifact
        ).read_bytes()
    assert names(tmp_path / "one" / WHEEL) == sorted(WHEEL_BASE + IN_WHEEL)
    # each file was downloaded once: the build cache is shared and keyed by hash
    assert all(served.count(n) == 1 for n in DATA)


def test_build_log_gives_human_sizes(served: CDN, tmp_path: Path) -> None:
    """Issue 17.13: 170 kB of data is "170 kB" in the build log, not "(0.2 MB)"; 49 bytes
    are "49 B", not "(0.0 MB)"."""
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    r = build(proj, "--wheel")  # hatchling 1.12 shows hook messages on stdout, later on stderr
    assert sum(len(d) for d in DATA.values()) == 170_049
    out = r.stdout + r.stderr
    assert "hatch-datafetch: 3 verified files (170 kB) for the wheel" in out, out
    reg = proj / "registry.toml"
    reg.write_text("\n".join(ln for ln in reg.read_text().splitlines() if "poem" in ln) + "\n")
    reg.write_text("[files]\n" + reg.read_text())
    r = build(proj, "--wheel")
    out = r.stdout + r.stderr
    assert "hatch-datafetch: 1 verified file (49 B) for the wheel" in out, out


@pytest.mark.parametrize("frontend", ["build-wheel", "pip-wheel", "uv-build"])
def test_wheel_from_source_tree_with_each_frontend(
    served: CDN, tmp_path: Path, frontend: str
) -> None:
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    out = tmp_path / "out"
    if frontend == "build-wheel":
        build(proj, "--wheel", "--outdir", str(out))
    elif frontend == "pip-wheel":
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-build-isolation",
                "--no-deps",
                "-w",
                str(out),
                ".",
            ],
            proj,
        )
    else:
        run(
            [
                uv(),
                "build",
                "--wheel",
                "--no-build-isolation",
                "--python",
                sys.executable,
                "--out-dir",
                str(out),
            ],
            proj,
        )
    assert names(out / WHEEL) == sorted(WHEEL_BASE + IN_WHEEL)
    z = zipfile.ZipFile(out / WHEEL)
    assert {n: z.read(f"fixpkg/{n}") for n in DATA} == DATA


def test_editable_install_gets_locator_but_no_data(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    before = tree(proj)
    py = editable_install(tmp_path, proj)
    site = next(py.parent.parent.glob("lib/python*/site-packages"))
    assert tree(proj) == before
    _path, source, data = fetch_in(py, "images/camera.png")
    assert (source, data) == ("user cache", DATA["images/camera.png"])
    installed = sorted(p.name for p in site.rglob("*") if "fixpkg" in str(p) and p.is_file())
    assert "camera.png" not in installed and "lookup.py" in installed
    # the package itself is imported from the source tree
    assert py_json(py, "import json, fixpkg; print(json.dumps(fixpkg.__file__))") == str(
        proj / "src" / "fixpkg" / "__init__.py"
    )


# ---------------------------------------------------------------------- settings


def test_per_target_table_is_merged_over_global(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, target_hook={"wheel": "bundle", "locator": "_files"})
    build(proj, "--wheel")
    got = names(proj / "dist" / WHEEL)
    assert "fixpkg/_files/__init__.py" in got and "fixpkg/_files_registry.json" in got
    assert not any(n.startswith("fixpkg/_datafetch") for n in got)
    assert set(IN_WHEEL) <= set(got)


def test_env_overrides_the_modes(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url)
    build(proj, env={"HATCH_DATAFETCH_WHEEL": "bundle", "HATCH_DATAFETCH_SDIST": "bundle"})
    assert names(proj / "dist" / f"{DIST}.tar.gz") == sorted(SDIST_BASE + BUNDLE)
    assert names(proj / "dist" / WHEEL) == sorted(WHEEL_BASE + IN_WHEEL)


def test_metadata_hook_adds_data_extra(served: CDN, tmp_path: Path) -> None:
    proj = make_project(
        tmp_path,
        served.url,
        {"data-wheel": True, "data-version": "2024.1", "extras": {"plot": ["matplotlib>=3"]}},
    )
    build(proj, "--wheel")
    meta = zipfile.ZipFile(proj / "dist" / WHEEL).read(f"{DIST}.dist-info/METADATA").decode()
    assert "Provides-Extra: data" in meta and "Provides-Extra: plot" in meta
    assert "Requires-Dist: fix-pkg-data==2024.1; extra == 'data'" in meta
    assert "Requires-Dist: matplotlib>=3; extra == 'plot'" in meta


# ---------------------------------------------------------------------- sources and faults


def test_source_dirs_offline_and_mismatch(served: CDN, tmp_path: Path) -> None:
    source = tmp_path / "predownloaded"
    for name, data in DATA.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    env = {"HATCH_DATAFETCH_SOURCE": str(source), "HATCH_DATAFETCH_OFFLINE": "1"}
    build(proj, "--wheel", env=env)
    assert names(proj / "dist" / WHEEL) == sorted(WHEEL_BASE + IN_WHEEL)
    assert served.requests == []
    (source / "text/poem.txt").write_bytes(b"not the poem\n")
    shutil.rmtree(proj / "dist")
    r = build(
        proj, "--wheel", env={**env, "HATCH_DATAFETCH_CACHE": str(tmp_path / "cold")}, ok=False
    )
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert "hash mismatch for 'text/poem.txt'" in err
    assert SUMS["text/poem.txt"] in err
    assert "sha256:" + hashlib.sha256(b"not the poem\n").hexdigest() in err
    assert str(source / "text" / "poem.txt") in err
    assert "Traceback" not in err
    assert not (proj / "dist").exists() or list((proj / "dist").iterdir()) == []


def test_offline_with_missing_files_lists_them_and_remedies(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"sdist": "bundle"})
    r = build(proj, "--sdist", env={"HATCH_DATAFETCH_OFFLINE": "1"}, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    for name in DATA:
        assert f"{name}  {served.url}{name}" in err
    assert "HATCH_DATAFETCH_SOURCE" in err
    assert "hatch-datafetch download --pyproject" in err
    assert "unset HATCH_DATAFETCH_OFFLINE" in err
    assert served.requests == []


@pytest.mark.parametrize("frontend", ["build", "uv-build"])
def test_bundle_wheel_from_an_unbundled_sdist(served: CDN, tmp_path: Path, frontend: str) -> None:
    """Issue 17.1: wheel = "bundle", sdist = "omit", the CDN up: python -m build and uv build
    make the wheel from the sdist, which never downloads, so the sdist step (in the source
    tree) puts the files into the build cache, not into the sdist."""
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    if frontend == "build":
        r = build(proj)
    else:
        cmd = [uv(), "build", "--no-build-isolation", "--python", sys.executable]
        r = run([*cmd, "--out-dir", str(proj / "dist")], proj)
    assert "for the wheel, in the build cache" in r.stdout + r.stderr
    assert names(proj / "dist" / f"{DIST}.tar.gz") == SDIST_BASE  # no data in the sdist
    wheel = zipfile.ZipFile(proj / "dist" / WHEEL)
    assert {n: wheel.read(f"fixpkg/{n}") for n in DATA} == DATA
    assert all(served.count(n) == 1 for n in DATA)


def test_wheel_from_unbundled_sdist_never_downloads(served: CDN, tmp_path: Path) -> None:
    """An sdist made offline (nothing in the build cache): the wheel built from it fails
    without touching the network and says what to do, python -m build --wheel first."""
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    r = build(proj, "--sdist", env={"HATCH_DATAFETCH_OFFLINE": "1"})
    assert "could not put the data into the build cache for the wheel" in r.stdout + r.stderr
    sdist = proj / "dist" / f"{DIST}.tar.gz"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-v", "--no-build-isolation", "--no-deps"]
    r = run([*pip_wheel, "-w", str(tmp_path / "w"), str(sdist)], tmp_path, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "building from an sdist" in err
    for remedy in ("python -m build --wheel", "HATCH_DATAFETCH_WHEEL=omit", 'sdist = "bundle"'):
        assert remedy in err, remedy
    assert served.requests == []


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (
            {"wheel": "yes", "jobs": -1, "data_wheel": True},
            ['expected "omit" or "bundle", got "yes"', "jobs", "did you mean 'data-wheel'"],
        ),
        ({"registry": "missing.toml"}, ["missing.toml", "registry file not found"]),
        (
            {"package": "nosuchpkg"},
            ["package 'nosuchpkg' not found in the project", "hint: set `package`"],
        ),
    ],
)
def test_bad_settings_fail_clearly(
    tmp_path: Path, hook: dict[str, Any], expected: list[str]
) -> None:
    proj = make_project(tmp_path, None, hook)
    r = build(proj, "--wheel", ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    for text in expected:
        assert text.lower() in err.lower(), text


def test_settings_errors_from_the_environment_are_headed_so(tmp_path: Path) -> None:
    """Issue 17.14: a bad HATCH_DATAFETCH_* value is not "settings in pyproject.toml"."""
    proj = make_project(tmp_path, None)
    r = build(proj, "--wheel", env={"HATCH_DATAFETCH_WHEEL": "sideways"}, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    assert "hatch-datafetch: invalid hatch-datafetch settings in the environment:" in err, err
    assert "pyproject.toml" not in err
    assert 'environment variable HATCH_DATAFETCH_WHEEL: expected "omit" or "bundle"' in err


def test_two_base_urls_the_pyproject_wins_and_says_so(served: CDN, tmp_path: Path) -> None:
    """Issue 17.3: the registry and the pyproject both give a base URL and they differ: the
    pyproject's is used (as before), and the build log and ``hatch-datafetch list`` say so,
    once, naming both."""
    placeholder = "https://gitlab.com/org/data/-/raw/v1/"
    proj = make_project(tmp_path, served.url)
    reg = proj / "registry.toml"
    reg.write_text(f'base-url = "{placeholder}"\n' + reg.read_text())
    r = build(proj)
    notes = [ln for ln in (r.stdout + r.stderr).splitlines() if placeholder in ln]
    assert len(notes) == 1, r.stdout + r.stderr
    assert served.url in notes[0] and "pyproject.toml" in notes[0], notes
    assert "registry.toml" in notes[0], notes
    config = json.loads(zipfile.ZipFile(proj / "dist" / WHEEL).read(REGISTRY_JSON))
    assert config["base_url"] == served.url  # the pyproject wins, as before

    cmd = [sys.executable, "-m", "hatch_datafetch", "list", "--pyproject", "pyproject.toml"]
    r = run(cmd, proj)
    assert all(served.url in ln for ln in r.stdout.splitlines()), r.stdout
    notes = [ln for ln in r.stderr.splitlines() if placeholder in ln]
    assert len(notes) == 1 and served.url in notes[0], r.stderr
    # the same URL twice is no news; --base-url on the command line chooses for itself
    reg.write_text(reg.read_text().replace(placeholder, served.url))
    assert run(cmd, proj).stderr == ""
    reg.write_text(reg.read_text().replace(served.url, placeholder, 1))
    assert run([*cmd, "--base-url", served.url], proj).stderr == ""


def test_registry_name_colliding_with_shipped_file(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"wheel": "bundle"})
    served.add("shipped.txt", b"x")
    reg = proj / "registry.toml"
    reg.write_text(
        reg.read_text()
        + f'"shipped.txt" = {{ hash = "sha256:{hashlib.sha256(b"x").hexdigest()}", size = 1 }}\n'
    )
    r = build(proj, "--wheel", ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "collide with files the package already ships" in err
    assert "shipped.txt" in err and "Traceback" not in err


@pytest.mark.parametrize("missing", ["dynamic", "metadata-hook"])
def test_data_wheel_needs_the_extra(served: CDN, tmp_path: Path, missing: str) -> None:
    proj = make_project(
        tmp_path,
        served.url,
        {"data-wheel": True},
        dynamic=missing != "dynamic",
        metadata_hook=missing != "metadata-hook",
    )
    r = build(proj, "--wheel", ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and 'dynamic = ["optional-dependencies"]' in err
    assert "Traceback" not in err
    if missing == "dynamic" and hatchling_version() < (1, 22):
        # hatchling < 1.22 runs metadata hooks even when `dynamic` is empty: the metadata
        # hook's own check stops the build first, with the same remedy
        assert "the datafetch metadata hook sets the project's extras" in err
        return
    assert "has no extra 'data' requiring fix-pkg-data" in err
    assert "[tool.hatch.metadata.hooks.datafetch]" in err


@pytest.mark.parametrize("mistake", ["no-dynamic", "no-metadata-hook", "static-extras"])
def test_data_wheel_extra_mistakes_stop_the_sdist_too(
    served: CDN, tmp_path: Path, mistake: str
) -> None:
    """Issue 17.2: the sdist step already fails, so that no sdist without the data extra is
    left in dist/, ready to upload."""
    proj = make_project(
        tmp_path,
        served.url,
        {"data-wheel": True},
        dynamic=mistake == "no-metadata-hook",
        metadata_hook=mistake != "no-metadata-hook",
    )
    if mistake == "static-extras":
        text = (proj / "pyproject.toml").read_text()
        static = 'requires-python = ">=3.9"\noptional-dependencies = { plot = ["matplotlib"] }'
        (proj / "pyproject.toml").write_text(text.replace('requires-python = ">=3.9"', static))
    r = build(proj, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    assert 'dynamic = ["optional-dependencies"]' in err
    assert "Building sdist..." in err and "Building wheel" not in err, err
    dist = proj / "dist"
    assert not dist.exists() or list(dist.iterdir()) == []


def test_plugin_is_registered() -> None:
    from importlib.metadata import entry_points

    found = entry_points()
    group = found.select(group="hatch") if hasattr(found, "select") else found["hatch"]  # 3.9
    eps = [ep for ep in group if ep.name == "datafetch"]
    assert [ep.value for ep in eps] == ["hatch_datafetch.hooks"]
    assert hatch_datafetch.__version__


def test_source_dir_inside_project_stays_in_sdist(tmp_path: Path) -> None:
    """A data dir inside the project used as HATCH_DATAFETCH_SOURCE keeps its own files."""
    proj = make_project(tmp_path, None, {"sdist": "bundle"})
    for name, data in DATA.items():
        (proj / "cdn" / name).parent.mkdir(parents=True, exist_ok=True)
        (proj / "cdn" / name).write_bytes(data)
    env = {"HATCH_DATAFETCH_SOURCE": str(proj / "cdn"), "HATCH_DATAFETCH_OFFLINE": "1"}
    build(proj, "--sdist", env=env)
    in_cdn = sorted(f"{DIST}/cdn/{n}" for n in DATA)
    assert names(proj / "dist" / f"{DIST}.tar.gz") == sorted(SDIST_BASE + BUNDLE + in_cdn)


def test_names_with_identical_content_are_all_bundled(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"sdist": "bundle", "wheel": "bundle"})
    served.add("text/copy.txt", DATA["text/poem.txt"])
    reg = proj / "registry.toml"
    size = len(DATA["text/poem.txt"])
    reg.write_text(
        reg.read_text()
        + f'"text/copy.txt" = {{ hash = "{SUMS["text/poem.txt"]}", size = {size} }}\n'
    )
    build(proj)
    copy = f"{DIST}/_datafetch_bundle/text/copy.txt"
    assert names(proj / "dist" / f"{DIST}.tar.gz") == sorted([*SDIST_BASE, *BUNDLE, copy])
    wheel = zipfile.ZipFile(proj / "dist" / WHEEL)
    assert wheel.read("fixpkg/text/copy.txt") == wheel.read("fixpkg/text/poem.txt")
    assert names(proj / "dist" / WHEEL) == sorted([*WHEEL_BASE, *IN_WHEEL, "fixpkg/text/copy.txt"])


# ---------------------------------------------------------------------- hygiene (issue 13)


def test_a_failed_build_leaves_no_staging_dir(served: CDN, tmp_path: Path) -> None:
    cache = tmp_path / "build-cache"
    proj = make_project(tmp_path, "http://127.0.0.1:9/", {"wheel": "bundle"})
    r = build(
        proj,
        "--wheel",
        env={"HATCH_DATAFETCH_CACHE": str(cache), "HATCH_DATAFETCH_OFFLINE": "1"},
        ok=False,
    )
    assert r.returncode != 0
    assert list((cache / "staging").rglob("build-*")) == []


def test_build_errors_give_build_advice_only(tmp_path: Path) -> None:
    """Not the run-time advice (pip install pkg[data], set FIXPKG_DATA_DIR), and no "unset
    HATCH_DATAFETCH_OFFLINE" when it is not set."""
    proj = make_project(tmp_path, "http://127.0.0.1:9/", {"wheel": "bundle"})
    r = build(proj, "--wheel", ok=False, env={"HATCH_DATAFETCH_CACHE": str(tmp_path / "c")})
    err = r.stdout + r.stderr
    assert "3 data file(s) for the wheel are not available (downloads failed)" in err
    assert "- http://127.0.0.1:9/text/poem.txt: cannot connect to 127.0.0.1:9" in err
    assert "FIXPKG_DATA_DIR" not in err and "pip install" not in err
    assert "HATCH_DATAFETCH_OFFLINE" not in err
    assert "check the network and the URLs above" in err


def test_own_sdist_and_wheel_carry_the_license(tmp_path: Path) -> None:
    from importlib.metadata import version

    from packaging.version import Version

    if Version(version("hatchling")) < Version("1.27"):  # the matrix's hatchling-min run
        pytest.skip("building hatch-datafetch itself needs hatchling >= 1.27 (PEP 639)")
    root = Path(__file__).parent.parent
    r = run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(root)],
        tmp_path,
    )
    assert r.returncode == 0
    wheel = next(tmp_path.glob("hatch_datafetch-*.whl"))
    sdist = next(tmp_path.glob("hatch_datafetch-*.tar.gz"))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names(wheel))
    assert any(n.endswith("/LICENSE") for n in names(sdist))
    meta = zipfile.ZipFile(wheel).read(
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/METADATA"
    )
    assert b"License-Expression: BSD-3-Clause" in meta


# ---------------------------------------------------------------------- [tool.datafetch] in Hatch


def test_tool_datafetch_without_the_hook_fails_with_the_two_lines(
    served: CDN, tmp_path: Path
) -> None:
    """Issue 18: settings in [tool.datafetch] of a Hatch project that does not enable the
    hook would give a wheel without the locator; the build stops and says what to add
    (hatchling runs none of our code then: the guard of hatch_datafetch_guard.pth does).
    With the two lines the hook reads [tool.datafetch] and the wheel has the locator and
    the data extra."""
    proj = make_project(tmp_path, served.url, metadata_hook=False)
    text = (proj / "pyproject.toml").read_text()
    text = text.replace("[tool.hatch.build.hooks.datafetch]", "[tool.datafetch]")
    (proj / "pyproject.toml").write_text(text + "data-wheel = true\n")
    r = build(proj, ok=False)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert (
        "hatch-datafetch: " + str(proj / "pyproject.toml") + ": pyproject.toml has "
        "[tool.datafetch], but this Hatch project does not enable the datafetch build hook"
    ) in r.stderr
    assert (
        "hint: add these two lines to pyproject.toml (the hook then reads [tool.datafetch]):\n"
        "  [tool.hatch.build.hooks.datafetch]\n"
        "  [tool.hatch.metadata.hooks.datafetch]\n"
    ) in r.stderr
    assert not (proj / "dist").exists() or list((proj / "dist").iterdir()) == []
    # the two lines, appended as the hint says
    with (proj / "pyproject.toml").open("a") as f:
        f.write("[tool.hatch.build.hooks.datafetch]\n[tool.hatch.metadata.hooks.datafetch]\n")
    build(proj, "--wheel")
    z = zipfile.ZipFile(proj / "dist" / WHEEL)
    assert set(WHEEL_BASE) <= set(z.namelist())
    meta = z.read(f"{DIST}.dist-info/METADATA").decode()
    assert "Requires-Dist: fix-pkg-data==1.2.0; extra == 'data'" in meta
    assert json.loads(z.read(REGISTRY_JSON))["base_url"] == served.url


def test_settings_in_both_tables_are_an_error(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url)
    with (proj / "pyproject.toml").open("a") as f:
        f.write('[tool.datafetch]\nregistry = "registry.toml"\n')
    r = build(proj, "--wheel", ok=False)
    assert r.returncode != 0
    assert "settings in both [tool.datafetch] and [tool.hatch.build.hooks.datafetch]" in (
        r.stdout + r.stderr
    )
