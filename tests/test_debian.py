"""The Debian source package of example_project (example_project/packaging/debian).

Builds the example's sdist (data bundled) from this venv, makes it the orig tarball, adds
packaging/debian and runs ``dpkg-buildpackage`` with Debian's own tools (dh, pybuild with
the pyproject plugin, the system python3 and its hatchling) under ``unshare -n`` where that
works (root), so the build has no network at all. Then checks the two .debs and runs the
package's autopkgtest script on them, unpacked with ``dpkg -x`` (the machine's packages are
never touched): a venv made from /usr/bin/python3 *at* the unpacked ``usr/`` gives the
locator a ``sys.prefix`` whose ``share/example-pkg-data`` is the unpacked data package, so it
is looked up exactly as on an installed system, again with no network. lintian, when
installed, must report no errors.

hatch-datafetch itself is not in Debian: the build gets it on PYTHONPATH (a wheel of this
checkout, unpacked) and runs with ``-d``; every other build dependency is checked with
``dpkg-checkbuilddeps`` first, and the test is skipped, naming them, when one is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hatch_datafetch.staging import runtime_files

REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "example_project"
DEBIAN = EXAMPLE / "packaging" / "debian"
VERSION = "1.0.0"
NOT_IN_DEBIAN = "python3-hatch-datafetch"
SYSTEM_PYTHON = Path("/usr/bin/python3")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

with open(EXAMPLE / "registry.toml", "rb") as _f:
    NAMES = sorted(tomllib.load(_f)["files"])


def build_depends() -> list[str]:
    """Build-Depends of debian/control, one relation per item (comments dropped)."""
    lines = [ln for ln in (DEBIAN / "control").read_text().splitlines() if not ln.startswith("#")]
    text = "\n".join(lines).split("\n\n")[0]
    m = re.search(r"^Build-Depends:(.*?)(?=^\S)", text + "\nEnd:", re.M | re.S)
    assert m, "no Build-Depends in debian/control"
    return [d.strip() for d in m.group(1).split(",") if d.strip()]


def missing_tools() -> str | None:
    """Why the Debian build cannot run here, or None."""
    if sys.platform != "linux":
        return "Debian packages build on Linux only"
    tools = ["dpkg-buildpackage", "dpkg-checkbuilddeps", "dpkg-deb", "dh", "dh_python3"]
    absent = [t for t in tools if not shutil.which(t, path=SYSTEM_PATH)]
    if absent or not SYSTEM_PYTHON.exists():
        return (
            f"not installed: {', '.join(absent or ['/usr/bin/python3'])} "
            "(apt-get install dpkg-dev debhelper dh-python pybuild-plugin-pyproject)"
        )
    deps = ", ".join(d for d in build_depends() if not d.startswith(NOT_IN_DEBIAN))
    r = subprocess.run(
        ["dpkg-checkbuilddeps", "-d", deps, str(DEBIAN / "control")],
        capture_output=True,
        text=True,
        env={"PATH": SYSTEM_PATH, "LC_ALL": "C"},
    )
    if r.returncode != 0:
        return r.stderr.strip().replace("dpkg-checkbuilddeps: error: ", "") or "build deps unmet"
    return None


def no_network_prefix() -> list[str]:
    """``unshare -n`` when this process may use it (root, or a kernel that allows it)."""
    if not shutil.which("unshare"):
        return []
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if r.returncode == 0 else []


REASON = missing_tools()
pytestmark = [
    pytest.mark.debian,  # (run by .ci/matrix's Debian row; tests/run.sh leaves it out)
    pytest.mark.skipif(REASON is not None, reason=f"Debian build: {REASON}"),
]


@dataclass
class Built:
    out: Path  # the directory holding the .dsc, .debs, ...
    log: str
    offline: list[str]  # the command prefix the build ran under ([] = with network)

    def deb(self, package: str) -> Path:
        return self.out / f"{package}_{VERSION}-1_all.deb"

    def listing(self, package: str) -> list[str]:
        r = subprocess.run(["dpkg-deb", "-c", str(self.deb(package))], capture_output=True)
        assert r.returncode == 0, r.stderr
        # "drwxr-xr-x root/root 0 2026-03-02 12:00 ./usr/" -> "usr/"
        paths = (ln.split(None, 5)[5][2:] for ln in r.stdout.decode().splitlines())
        return sorted(p for p in paths if p)


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("debian")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HATCH_DATAFETCH_", "EXAMPLE_PKG_")) and k != "PYTHONPATH"
    }
    env.update(
        HATCH_DATAFETCH_OFFLINE="1",
        HATCH_DATAFETCH_SOURCE=str(EXAMPLE / "cdn"),
        HATCH_DATAFETCH_CACHE=str(tmp / "build-cache"),
        XDG_CACHE_HOME=str(tmp / "xdg"),
        SOURCE_DATE_EPOCH="1700000000",
    )
    # The upstream sdist (data bundled) and a wheel of this checkout for PYTHONPATH.
    build = [sys.executable, "-m", "build", "--no-isolation"]
    run([*build, "--sdist", "--outdir", str(tmp / "sdist"), str(EXAMPLE)], tmp, env)
    run([*build, "--wheel", "--outdir", str(tmp / "tool"), str(REPO)], tmp, env)
    hdf = tmp / "hatch-datafetch"
    zipfile.ZipFile(next((tmp / "tool").glob("hatch_datafetch-*.whl"))).extractall(hdf)

    out = tmp / "deb"
    out.mkdir()
    orig = out / f"example-pkg_{VERSION}.orig.tar.gz"
    shutil.copyfile(tmp / "sdist" / f"example_pkg-{VERSION}.tar.gz", orig)
    with tarfile.open(orig) as tf:
        tf.extractall(out, filter="data")
    src = out / f"example-pkg-{VERSION}"
    (out / f"example_pkg-{VERSION}").rename(src)
    assert not (src / "cdn").exists() and (src / "_datafetch_bundle").is_dir()
    shutil.copytree(DEBIAN, src / "debian")

    offline = no_network_prefix()
    deb_env = {
        "PATH": SYSTEM_PATH,  # Debian's python3, hatchling and pybuild, not this venv's
        "HOME": str(tmp / "home"),
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(hdf),
    }
    log = run([*offline, "dpkg-buildpackage", "-us", "-uc", "-d"], src, deb_env)
    yield Built(out, log, offline)


def test_build_ran_offline_from_the_bundle(built: Built) -> None:
    if not built.offline:
        pytest.skip("unshare -n is not available here: built with the offline switch only")
    assert "Successfully built example_pkg-1.0.0-py3-none-any.whl" in built.log
    assert f"{len(NAMES)} ok, 0 missing, 0 bad" in built.log  # debian/rules' verify
    assert "9 passed" in built.log  # example_project's tests, run by pybuild


def test_source_and_binary_packages(built: Built) -> None:
    produced = sorted(p.name for p in built.out.iterdir() if p.is_file())
    for name in (
        f"example-pkg_{VERSION}.orig.tar.gz",
        f"example-pkg_{VERSION}-1.dsc",
        f"example-pkg_{VERSION}-1.debian.tar.xz",
        f"python3-example-pkg_{VERSION}-1_all.deb",
        f"example-pkg-data_{VERSION}-1_all.deb",
    ):
        assert name in produced, produced


def test_lintian_finds_no_errors(built: Built) -> None:
    if not shutil.which("lintian", path=SYSTEM_PATH):
        pytest.skip("lintian is not installed")
    changes = built.out / f"example-pkg_{VERSION}-1_{_arch()}.changes"
    r = subprocess.run(
        ["lintian", "--fail-on", "error", str(changes)],
        capture_output=True,
        text=True,
        env={"PATH": SYSTEM_PATH, "HOME": str(built.out), "LC_ALL": "C.UTF-8"},
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # the only warning: no ITP bug closed by the first changelog entry (a made-up package)
    tags = {ln.split(": ")[2].split()[0] for ln in r.stdout.splitlines() if ln[:2] in ("E:", "W:")}
    assert tags <= {"initial-upload-closes-no-bugs"}, r.stdout


def _arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_python_package_has_the_locator_and_no_data(built: Built) -> None:
    files = [n for n in built.listing("python3-example-pkg") if not n.endswith("/")]
    site = "usr/lib/python3/dist-packages/"
    assert sorted(n for n in files if n.startswith(site + "example_pkg/")) == [
        site + f"example_pkg/{n}"
        for n in sorted(
            [
                "__init__.py",
                "__main__.py",
                *(f"_datafetch/{n}" for n in runtime_files()),
                "_datafetch_registry.json",
                "formats.py",
                "py.typed",
            ]
        )
    ]
    assert not [n for n in files if n.endswith((".png", ".csv", ".npy", ".pyc"))]
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(built.deb("python3-example-pkg")), "Depends", "Recommends"],
        capture_output=True,
        text=True,
    ).stdout
    assert "python3" in fields and f"example-pkg-data (= {VERSION}-1)" in fields


def test_data_package_lays_out_every_registry_file(built: Built) -> None:
    share = "usr/share/example-pkg-data/"
    files = [n for n in built.listing("example-pkg-data") if not n.endswith("/")]
    assert sorted(n[len(share) :] for n in files if n.startswith(share)) == NAMES
    assert all(n.startswith((share, "usr/share/doc/example-pkg-data/")) for n in files)


def test_offline_run_of_the_unpacked_packages(built: Built, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for package in ("python3-example-pkg", "example-pkg-data"):
        subprocess.run(["dpkg", "-x", str(built.deb(package)), str(root)], check=True)
    locator = root / "usr/lib/python3/dist-packages/example_pkg/_datafetch"
    assert {n: (locator / n).read_bytes() for n in runtime_files()} == runtime_files()
    config = json.loads(locator.with_name("_datafetch_registry.json").read_text())
    assert sorted(config["files"]) == NAMES and not config["bundled"]

    # sys.prefix = <root>/usr, and Debian's dist-packages on sys.path, as on a real system
    usr = root / "usr"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(usr)], check=True)
    site = next(usr.glob("lib/python3.*/site-packages"))
    (site / "debian.pth").write_text(str(usr / "lib/python3/dist-packages") + "\n")
    env = {
        "PATH": SYSTEM_PATH,
        "HOME": str(tmp_path / "home"),
        "PYTHON": str(usr / "bin" / "python3"),
        "AUTOPKGTEST_TMP": str(tmp_path),
    }
    test = str(DEBIAN / "tests" / "offline-data")
    out = run([*no_network_prefix(), "sh", test], tmp_path, env, timeout=120)
    share = usr / "share" / "example-pkg-data"
    assert f"{len(NAMES)} of {len(NAMES)} files served from {share}" in out
    assert out.count("  from  system dir") == len(NAMES)
    assert "512x512 grayscale" in out and "3285 readings" in out
