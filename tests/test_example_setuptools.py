"""example_setuptools/ (issue 18): a real setuptools project built through the wrapping
backend the way example_project is built through the Hatch hook: offline, from its
registry and example_project's stand-in CDN directory, then installed with its data extra
and its own tests run on the data."""

from __future__ import annotations

import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from support.backends import call, clean_env, need, outer_venv, twine_check

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_setuptools"
CDN = REPO / "example_project" / "cdn"
DATA = sorted(p.relative_to(CDN).as_posix() for p in CDN.rglob("*") if p.is_file())
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_example_setuptools_builds_offline_installs_and_passes_its_tests(tmp_path: Path) -> None:
    need("setuptools", "setuptools (test extra) is not installed")
    proj = tmp_path / "example_setuptools"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    env = clean_env(
        HATCH_DATAFETCH_OFFLINE="1",
        HATCH_DATAFETCH_SOURCE=str(CDN),
        HATCH_DATAFETCH_CACHE=str(tmp_path / "build-cache"),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
    )
    call([sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."], proj, env)
    dist = proj / "dist"
    wheel, data_wheel = (
        dist / "example_setuptools-1.0.0-py3-none-any.whl",
        dist / "example_setuptools_data-1.0.0-py3-none-any.whl",
    )
    sdist = dist / "example_setuptools-1.0.0.tar.gz"
    assert sorted(dist.iterdir()) == sorted([sdist, wheel, data_wheel])
    with tarfile.open(sdist) as tf:
        got = {m.name for m in tf.getmembers()}
    assert {f"example_setuptools-1.0.0/_datafetch_bundle/{n}" for n in DATA} <= got
    z = zipfile.ZipFile(wheel)
    assert "example_setuptools/_datafetch/__init__.py" in z.namelist()
    assert "example_setuptools/_datafetch_registry.json" in z.namelist()
    meta = z.read("example_setuptools-1.0.0.dist-info/METADATA").decode()
    assert "Requires-Dist: example-setuptools-data==1.0.0; extra == 'data'" in meta
    assert "Requires-Dist: pytest>=7; extra == 'test'" in meta
    paths = [str(p) for p in sorted(dist.iterdir())]
    assert twine_check(paths, tmp_path) == 3
    r = call([str(BIN / "check-wheel-contents"), str(wheel), str(data_wheel)], tmp_path, env)
    assert r.stdout.count(": OK") == 2, r.stdout

    py = outer_venv(tmp_path / "venv")
    run_env = clean_env(HATCH_DATAFETCH_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path / "empty"))
    pip = [str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(dist)]
    call([*pip, "example-setuptools[data]"], tmp_path, run_env)
    r = call([str(py), "-m", "example_setuptools"], tmp_path, run_env)
    assert r.stdout.count("from  companion data package example_setuptools_data") == len(DATA)
    tests = tmp_path / "tests"  # the example's tests, on the installed package and its data
    shutil.copytree(proj / "tests", tests)
    cmd = [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--datafetch=require"]
    r = call([*cmd, "--rootdir", str(tests), str(tests)], tmp_path, run_env)
    assert "4 passed" in r.stdout, r.stdout
