"""The companion ``<name>-data`` wheel and ``pip install pkg[data]`` end to end (SPEC §5)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import CDN
from support.hatch import (
    DATA,
    DATA_DIST,
    DATA_WHEEL,
    DIST,
    SUMS,
    WHEEL,
    build,
    fetch_in,
    make_project,
    names,
    run,
    uv,
    venv_with,
)
from support.runtime import random_bytes

DATA_NAMES = sorted(
    [
        "fixpkg_data/__init__.py",
        "fixpkg_data/_manifest.json",
        *(f"fixpkg_data/{n}" for n in DATA),
        f"{DATA_DIST}/METADATA",
        f"{DATA_DIST}/WHEEL",
        f"{DATA_DIST}/RECORD",
    ]
)


@pytest.fixture
def served(cdn: CDN) -> CDN:
    for name, data in DATA.items():
        cdn.add(name, data)
    return cdn


@pytest.fixture
def built(served: CDN, tmp_path: Path) -> Path:
    """``python -m build`` of the fixture with data-wheel = true: the dist/ directory."""
    proj = make_project(tmp_path, served.url, {"data-wheel": True, "sdist": "bundle"})
    r = build(proj)
    assert f"built data wheel {proj / 'dist' / DATA_WHEEL}" in r.stderr + r.stdout
    return proj / "dist"


def pip_install_extra(tmp_path: Path, name: str, dist: Path, requirement: str) -> Path:
    """A fresh venv and ``pip install --no-index --find-links DIST REQUIREMENT`` into it; its
    python. The pip is this environment's, aimed at the venv with ``--python`` (pip ≥ 22.3):
    the same resolver and installer as a pip inside the venv, without seeding one there
    (ensurepip costs about 3 CPU-seconds a venv)."""
    run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / name)], tmp_path)
    py = tmp_path / name / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index"]
    run([*pip, "--find-links", str(dist), requirement], tmp_path)
    return py


def test_three_artifacts_that_pass_the_checkers(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == sorted([f"{DIST}.tar.gz", WHEEL, DATA_WHEEL])
    assert names(built / DATA_WHEEL) == DATA_NAMES
    bin_dir = Path(sys.executable).parent
    for wheel in (WHEEL, DATA_WHEEL):
        r = run([str(bin_dir / "check-wheel-contents"), str(built / wheel)], built)
        assert r.stdout.strip().endswith("OK"), r.stdout
    r = run([str(bin_dir / "twine"), "check", "--strict", str(built / DATA_WHEEL)], built)
    assert "PASSED" in r.stdout
    z = zipfile.ZipFile(built / DATA_WHEEL)
    assert z.read("fixpkg_data/__init__.py").decode().endswith("__version__ = '1.2.0'\n")
    for name, data in DATA.items():
        assert z.read(f"fixpkg_data/{name}") == data
    info = {i.filename: i for i in z.infolist()}
    # a .png is stored as it is; random bytes are stored after a sample did not compress;
    # text is deflated
    assert info["fixpkg_data/images/camera.png"].compress_type == zipfile.ZIP_STORED
    assert info["fixpkg_data/deep/a/b/values.bin"].compress_type == zipfile.ZIP_STORED
    assert info["fixpkg_data/_manifest.json"].compress_type == zipfile.ZIP_DEFLATED
    meta = zipfile.ZipFile(built / WHEEL).read(f"{DIST}.dist-info/METADATA").decode()
    assert "Requires-Dist: fix-pkg-data==1.2.0; extra == 'data'" in meta


@pytest.mark.slow
def test_pip_install_extra_uses_the_data_wheel_offline(
    built: Path, served: CDN, tmp_path: Path
) -> None:
    py = pip_install_extra(tmp_path, "pipvenv", built, "fix-pkg[data]")
    served.stop()  # everything must come from the data wheel now
    for name, data in DATA.items():
        path, source, got = fetch_in(py, name)
        assert (source, got) == ("companion data package fixpkg_data", data)
        assert f"site-packages/fixpkg_data/{name}" in path

    # a byte changed in an installed data file: that copy is skipped with a warning
    site = next((tmp_path / "pipvenv").glob("lib/python*/site-packages"))
    poem = site / "fixpkg_data" / "text" / "poem.txt"
    poem.write_bytes(poem.read_bytes().replace(b"wheel", b"WHEEL"))
    code = (
        "import warnings, fixpkg._datafetch as d\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    try:\n"
        "        d.fetch('text/poem.txt')\n"
        "    except d.DataNotFoundError as e:\n"
        "        print('NOTFOUND')\n"
        "print([str(x.message) for x in w])\n"
    )
    r = run([str(py), "-c", code], tmp_path)
    assert "NOTFOUND" in r.stdout  # CDN stopped, nothing else holds it
    assert f"skipping {poem}" in r.stdout and "does not match" in r.stdout


def test_uv_pip_install_and_uninstall_falls_back(built: Path, served: CDN, tmp_path: Path) -> None:
    before = len(served.requests)  # the build itself downloaded each file once
    py = venv_with(tmp_path, name="uvvenv")
    run(
        [
            uv(),
            "pip",
            "install",
            "-q",
            "--offline",
            "--no-index",
            "--find-links",
            str(built),
            "--python",
            str(py),
            "fix-pkg[data]",
        ],
        tmp_path,
    )
    _, source, data = fetch_in(py, "images/camera.png")
    assert (source, data) == ("companion data package fixpkg_data", DATA["images/camera.png"])
    assert len(served.requests) == before
    run([uv(), "pip", "uninstall", "-q", "--python", str(py), "fix-pkg-data"], tmp_path)
    _, source, data = fetch_in(py, "images/camera.png")
    assert (source, data) == ("user cache", DATA["images/camera.png"])
    assert served.count("images/camera.png") == 2


def test_without_the_extra_fetch_downloads(built: Path, served: CDN, tmp_path: Path) -> None:
    before = served.count("text/poem.txt")  # the build itself downloaded it once
    py = venv_with(tmp_path, built / WHEEL)
    _, source, data = fetch_in(py, "text/poem.txt")
    assert (source, data) == ("user cache", DATA["text/poem.txt"])
    assert served.count("text/poem.txt") == before + 1


def test_reproducible_and_cli_gives_same_bytes_offline_from_sdist(
    built: Path, served: CDN, tmp_path: Path
) -> None:
    proj = built.parent
    build(proj, "--wheel", "--outdir", str(tmp_path / "again"))
    assert (tmp_path / "again" / DATA_WHEEL).read_bytes() == (built / DATA_WHEEL).read_bytes()
    # the CLI, from the unpacked sdist, with the CDN gone
    served.stop()
    with tarfile.open(built / f"{DIST}.tar.gz") as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / DIST
    r = run(
        [sys.executable, "-m", "hatch_datafetch", "build-data-wheel", "-o", str(tmp_path / "cli")],
        unpacked,
        {"HATCH_DATAFETCH_CACHE": str(tmp_path / "empty-cache")},
    )
    assert r.stdout.strip() == str(tmp_path / "cli" / DATA_WHEEL)
    assert (tmp_path / "cli" / DATA_WHEEL).read_bytes() == (built / DATA_WHEEL).read_bytes()


def test_pip_wheel_skips_the_data_wheel_with_a_message(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"data-wheel": True})
    out = tmp_path / "out"
    r = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-v",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(out),
            ".",
        ],
        proj,
    )
    assert sorted(p.name for p in out.iterdir()) == [WHEEL]
    assert "not building the data wheel under pip" in r.stdout + r.stderr
    assert served.requests == []


@pytest.mark.slow
def test_data_version_apart_from_code(served: CDN, tmp_path: Path) -> None:
    proj = make_project(tmp_path, served.url, {"data-wheel": True, "data-version": "2024.6"})
    build(proj, "--wheel")
    dist = proj / "dist"
    assert (dist / "fix_pkg_data-2024.6-py3-none-any.whl").exists()
    py = pip_install_extra(tmp_path, "v", dist, "fix-pkg[data]")
    _, source, _ = fetch_in(py, "deep/a/b/values.bin")
    assert source == "companion data package fixpkg_data"
    r = run([str(py), "-c", "import fixpkg_data; print(fixpkg_data.__version__)"], tmp_path)
    assert r.stdout.strip() == "2024.6"


def test_build_data_wheel_errors(tmp_path: Path) -> None:
    proj = make_project(tmp_path, "http://127.0.0.1:9/", {"data-wheel": True})
    r = subprocess.run(
        [sys.executable, "-m", "hatch_datafetch", "build-data-wheel", "-o", str(tmp_path / "o")],
        cwd=proj,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "HATCH_DATAFETCH_OFFLINE": "1"},
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.startswith("ERROR ") and "not available" in r.stderr
    for name in DATA:
        assert name in r.stderr
    assert SUMS  # the registry the project was made with
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


@pytest.mark.slow
def test_example_project_with_data_wheel(tmp_path: Path) -> None:
    """The README's example project, data-wheel switched on by env, built offline."""
    proj = tmp_path / "example_project"
    shutil.copytree(
        Path(__file__).parent.parent / "example_project",
        proj,
        ignore=shutil.ignore_patterns(".demo", "dist"),
    )
    env = {
        "HATCH_DATAFETCH_DATA_WHEEL": "1",
        "HATCH_DATAFETCH_OFFLINE": "1",
        "HATCH_DATAFETCH_SOURCE": str(proj / "cdn"),
    }
    build(proj, env=env)
    dist = proj / "dist"
    wheels = ["example_pkg-1.0.0-py3-none-any.whl", "example_pkg_data-1.0.0-py3-none-any.whl"]
    assert sorted(p.name for p in dist.iterdir()) == sorted(["example_pkg-1.0.0.tar.gz", *wheels])
    bin_dir = Path(sys.executable).parent
    paths = [str(dist / w) for w in wheels]
    run([str(bin_dir / "twine"), "check", "--strict", *paths], tmp_path)
    r = run([str(bin_dir / "check-wheel-contents"), *paths], tmp_path)
    assert r.stdout.count(": OK") == 2, r.stdout
    py = pip_install_extra(tmp_path, "v", dist, "example-pkg[data]")
    r = run([str(py), "-m", "example_pkg"], tmp_path)
    assert r.stdout.count("from  companion data package example_pkg_data") == 5, r.stdout


# ---------------------------------------------------------------------- every installer (issue 13)


def outer_venv(tmp_path: Path, name: str) -> Path:
    """A venv (no pip) that sees the test environment's packages (hatchling, this tool) via a
    .pth, for --no-build-isolation installs; its python."""
    import pip

    venv = tmp_path / name
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    site = next(venv.glob("lib/python*/site-packages"))
    outer = Path(pip.__file__).parent.parent
    (site / "_outer.pth").write_text(f"import site; site.addsitedir({str(outer)!r})\n")
    return venv / "bin" / "python"


@pytest.mark.parametrize("editable", [False, True])
def test_uv_pip_install_from_source_never_needs_the_data(tmp_path: Path, editable: bool) -> None:
    """data-wheel = true, the CDN unreachable: ``uv pip install .`` still installs (it keeps one
    wheel, so no data wheel is built); with HATCH_DATAFETCH_DATA_WHEEL=1 it is forced."""
    proj = make_project(tmp_path, "http://127.0.0.1:9/", {"data-wheel": True})
    py = outer_venv(tmp_path, "v")
    cmd = [uv(), "pip", "install", "--no-build-isolation", "--no-deps", "--python", str(py)]
    cmd += ["-e", str(proj)] if editable else [str(proj)]
    env = {"UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    r = run(cmd, tmp_path, env)
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    assert run([str(py), "-c", "import fixpkg._datafetch"], tmp_path).returncode == 0
    if editable:
        return
    forced = run(
        [*cmd[:-1], "--reinstall", str(proj)],
        tmp_path,
        {**env, "HATCH_DATAFETCH_DATA_WHEEL": "1"},
        ok=False,
    )
    assert forced.returncode != 0 and "data file(s) for the data wheel" in forced.stderr


def test_python_m_build_with_an_unbundled_sdist_makes_the_data_wheel(
    served: CDN, tmp_path: Path
) -> None:
    """data-wheel = true, sdist = "omit": the sdist step puts the files into the build cache
    (not into the sdist) so the wheel step, from that sdist, can build the data wheel."""
    proj = make_project(tmp_path, served.url, {"data-wheel": True})
    r = build(proj)
    assert "data wheel, in the build cache" in r.stdout + r.stderr
    dist = proj / "dist"
    assert sorted(p.name for p in dist.iterdir()) == sorted([f"{DIST}.tar.gz", WHEEL, DATA_WHEEL])
    assert not [n for n in names(dist / f"{DIST}.tar.gz") if "_datafetch_bundle" in n]
    assert names(dist / DATA_WHEEL) == DATA_NAMES


def test_unbundled_sdist_without_the_data_says_why_and_what_to_do(tmp_path: Path) -> None:
    proj = make_project(tmp_path, "http://127.0.0.1:9/", {"data-wheel": True})
    r = build(proj, env={"HATCH_DATAFETCH_OFFLINE": "1"}, ok=False)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Traceback" not in err
    assert "could not put the data into the build cache" in err  # the sdist step: a warning
    assert "3 data file(s) for the data wheel are not available (building from an sdist" in err
    for remedy in ("python -m build --wheel", "HATCH_DATAFETCH_DATA_WHEEL=0", 'sdist = "bundle"'):
        assert remedy in err, remedy
    assert not (proj / "dist").exists() or sorted(p.name for p in (proj / "dist").iterdir()) == [
        f"{DIST}.tar.gz"
    ]


# ---------------------------------------------------------------------- PyPI scale (issue 11)

BIG = {
    **{f"images/img{i}.png": random_bytes(300_000, seed=500 + i) for i in range(5)},
    **{f"mri/sub{i}/scan.nii": random_bytes(250_000, seed=520 + i) for i in range(3)},
    "readme.txt": b"the data of fix-pkg\n",
    "tables/t.csv": random_bytes(100_000, seed=540),
}
LIMIT = 1_000_000


def grouped_project(tmp_path: Path, url: str | None, **hook: Any) -> Path:
    settings = {
        "data-wheel": True,
        "sdist": "bundle",
        "groups": {"images": ["images/*"], "volumes": ["mri/**"]},
        "data-wheel-max-size": "1 MB",
        **hook,
    }
    proj = make_project(tmp_path, url, settings)
    lines = [
        f'"{n}" = {{ hash = "sha256:{hashlib.sha256(d).hexdigest()}", size = {len(d)} }}'
        for n, d in sorted(BIG.items())
    ]
    (proj / "registry.toml").write_text("[files]\n" + "\n".join(lines) + "\n")
    return proj


@pytest.mark.slow
def test_groups_and_parts_under_the_size_limit(tmp_path: Path, cdn: CDN) -> None:
    for name, data in BIG.items():
        cdn.add(name, data)
    proj = grouped_project(tmp_path, cdn.url)
    build(proj)
    dist = proj / "dist"
    parts = {
        "fix_pkg_data-1.2.0-py3-none-any.whl": ["readme.txt", "tables/t.csv"],
        "fix_pkg_data_images_1-1.2.0-py3-none-any.whl": [f"images/img{i}.png" for i in (0, 1, 2)],
        "fix_pkg_data_images_2-1.2.0-py3-none-any.whl": ["images/img3.png", "images/img4.png"],
        "fix_pkg_data_volumes-1.2.0-py3-none-any.whl": [f"mri/sub{i}/scan.nii" for i in range(3)],
    }
    assert sorted(p.name for p in dist.iterdir()) == sorted([f"{DIST}.tar.gz", WHEEL, *parts])
    packages = {
        "fix_pkg_data-": "fixpkg_data",
        "fix_pkg_data_images_1": "fixpkg_data_images_1",
        "fix_pkg_data_images_2": "fixpkg_data_images_2",
        "fix_pkg_data_volumes": "fixpkg_data_volumes",
    }
    for wheel, files in parts.items():
        assert (dist / wheel).stat().st_size <= LIMIT, wheel
        package = next(v for k, v in packages.items() if wheel.startswith(k))
        inside = [n for n in names(dist / wheel) if ".dist-info/" not in n]
        expected = [f"{package}/{n}" for n in files]
        assert inside == sorted([*expected, f"{package}/__init__.py", f"{package}/_manifest.json"])
    meta = zipfile.ZipFile(dist / WHEEL).read(f"{DIST}.dist-info/METADATA").decode()
    for line in (
        "Provides-Extra: data",
        "Provides-Extra: data-images",
        "Provides-Extra: data-volumes",
        "Requires-Dist: fix-pkg-data-images-1==1.2.0; extra == 'data-images'",
        "Requires-Dist: fix-pkg-data-images-2==1.2.0; extra == 'data-images'",
        "Requires-Dist: fix-pkg-data-volumes==1.2.0; extra == 'data'",
        "Requires-Dist: fix-pkg-data==1.2.0; extra == 'data'",
    ):
        assert line in meta, line
    bin_dir = Path(sys.executable).parent
    wheels = [str(dist / w) for w in parts]
    run([str(bin_dir / "twine"), "check", "--strict", *wheels], tmp_path)
    r = run([str(bin_dir / "check-wheel-contents"), *wheels], tmp_path)
    assert r.stdout.count(": OK") == 4, r.stdout
    cdn.stop()  # from here on, every file must come from an installed part
    py = pip_install_extra(tmp_path, "images", dist, "fix-pkg[data-images]")
    r = run([sys.executable, "-m", "pip", "--python", str(py), "list", "--format=freeze"], tmp_path)
    installed = sorted(ln.split("==")[0] for ln in r.stdout.split() if "data" in ln)
    assert installed == ["fix-pkg-data-images-1", "fix-pkg-data-images-2"]
    _, source, data = fetch_in(py, "images/img4.png")
    assert source == "companion data package fixpkg_data_images_2"
    assert data == BIG["images/img4.png"]
    py = pip_install_extra(tmp_path, "all", dist, "fix-pkg[data]")
    for name in ("readme.txt", "images/img0.png", "mri/sub2/scan.nii"):
        _, source, data = fetch_in(py, name)
        assert source.startswith("companion data package fixpkg_data"), source
        assert data == BIG[name]


def test_build_data_wheel_cli_builds_one_group(tmp_path: Path) -> None:
    proj = grouped_project(tmp_path, None)
    source = tmp_path / "src"
    for name, data in BIG.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    cmd = [sys.executable, "-m", "hatch_datafetch", "build-data-wheel", "--group", "volumes"]
    r = run([*cmd, "--source", str(source), "-o", str(tmp_path / "o")], proj)
    assert [Path(p).name for p in r.stdout.split()] == [
        "fix_pkg_data_volumes-1.2.0-py3-none-any.whl"
    ]
    r = run([*cmd[:-2], "--group", "nope", "-o", str(tmp_path / "o")], proj, ok=False)
    assert r.returncode == 1 and "no data wheel for the group(s) 'nope'" in r.stderr


def test_an_older_data_wheel_warns_once_with_the_command(tmp_path: Path, cdn: CDN) -> None:
    for name, data in DATA.items():
        cdn.add(name, data)
    old = make_project(tmp_path, cdn.url, {"data-wheel": True, "data-version": "1.0"}, name="old")
    build(old, "--wheel")
    proj = make_project(tmp_path, cdn.url, {"data-wheel": True, "data-version": "1.1"})
    reg = proj / "registry.toml"  # the new release changed one file
    new_poem = b"a new poem\n"
    cdn.add("text/poem.txt", new_poem)
    text = reg.read_text().replace(
        SUMS["text/poem.txt"], "sha256:" + hashlib.sha256(new_poem).hexdigest()
    )
    reg.write_text(text.replace(f"size = {len(DATA['text/poem.txt'])}", f"size = {len(new_poem)}"))
    build(proj, "--wheel")
    py = venv_with(
        tmp_path, proj / "dist" / WHEEL, old / "dist" / "fix_pkg_data-1.0-py3-none-any.whl"
    )
    code = (
        "import warnings; warnings.simplefilter('default')\n"
        "import fixpkg._datafetch as d\n"
        "a = d.fetch('images/camera.png'); b = d.fetch('deep/a/b/values.bin')\n"
        "print('fixpkg_data' in a.parts, 'fixpkg_data' in b.parts)\n"
    )
    r = run([str(py), "-c", code], tmp_path)
    assert r.stderr.count("DataWarning") == 1, r.stderr
    assert (
        "fix-pkg-data 1.0 is installed, but fixpkg was built for data version 1.1 (another "
        "registry): run  pip install -U 'fix-pkg[data]'  to update it" in r.stderr
    )
    assert r.stdout.split() == ["True", "True"]  # the unchanged files are still used
    _, source, data = fetch_in(py, "text/poem.txt")
    assert source == "user cache" and data == new_poem


def test_a_stale_split_data_wheel_warns_once_naming_its_parts(tmp_path: Path, cdn: CDN) -> None:
    """Issue 17.7: an out-of-date data wheel in parts gives one warning for the package,
    naming the parts and the one command, not one per part."""
    for name, data in DATA.items():
        cdn.add(name, data)
    split = {"data-wheel": True, "data-wheel-max-size": "170 kB"}
    old = make_project(tmp_path, cdn.url, {**split, "data-version": "1.0"}, name="old")
    build(old, "--wheel")
    parts = sorted(p for p in (old / "dist").iterdir() if p.name.startswith("fix_pkg_data"))
    assert [p.name for p in parts] == [
        "fix_pkg_data_1-1.0-py3-none-any.whl",
        "fix_pkg_data_2-1.0-py3-none-any.whl",
    ]
    proj = make_project(tmp_path, cdn.url, {**split, "data-version": "1.1"})
    reg = proj / "registry.toml"  # the new release changed one file
    new_poem = b"a new poem\n"
    cdn.add("text/poem.txt", new_poem)
    text = reg.read_text().replace(
        SUMS["text/poem.txt"], "sha256:" + hashlib.sha256(new_poem).hexdigest()
    )
    reg.write_text(text.replace(f"size = {len(DATA['text/poem.txt'])}", f"size = {len(new_poem)}"))
    build(proj, "--wheel")
    py = venv_with(tmp_path, proj / "dist" / WHEEL, *parts)
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "import fixpkg._datafetch as d\n"
        "for n in ('deep/a/b/values.bin', 'images/camera.png', 'text/poem.txt'):\n"
        "    d.fetch(n)\n"
    )
    r = run([str(py), "-c", code], tmp_path)
    assert r.stderr.count("DataWarning") == 1, r.stderr
    assert (
        "fix-pkg-data-1 1.0 and fix-pkg-data-2 1.0 are installed, but fixpkg was built for data "
        "version 1.1 (another registry): run  pip install -U 'fix-pkg[data]'  to update them"
        in r.stderr
    ), r.stderr


def test_data_wheel_description_names_the_project_and_its_extra(tmp_path: Path) -> None:
    """Issue 17.5: the METADATA description gives the real install command, not '<project>'."""
    proj = grouped_project(tmp_path, None, **{"data-extra": "samples"})
    source = tmp_path / "src"
    for name, data in BIG.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    cmd = [sys.executable, "-m", "hatch_datafetch", "build-data-wheel", "--source", str(source)]
    r = run([*cmd, "-o", str(tmp_path / "o")], proj)
    described = {}
    for path in map(Path, r.stdout.split()):
        dist = "-".join(path.name.split("-")[:2])
        meta = zipfile.ZipFile(path).read(f"{dist}.dist-info/METADATA").decode()
        described[path.name.split("-")[0]] = meta.partition("\n\n")[2]
    assert "<project>" not in "".join(described.values())
    assert "pip install 'fix-pkg[samples]'" in described["fix_pkg_data"]
    for part in ("fix_pkg_data_images_1", "fix_pkg_data_volumes"):
        assert "pip install 'fix-pkg[samples-" in described[part], described[part]
        assert "pip install 'fix-pkg[samples]'" in described[part]
