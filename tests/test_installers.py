"""Installing from source with pdm, poetry and Hatch environments never needs the data
(issue 17.4, SPEC §5): a project with ``data-wheel = true`` whose data cannot be had (its CDN
refuses connections) installs, editable or not, and its locator works.

Each installer runs for real, in its own isolated build environment, against a local index
(``support.installers``) that serves hatch-datafetch's wheel and hatchling's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cdnserver import CDN
from support.hatch import DATA, DATA_WHEEL, DIST, WHEEL, make_project, run
from support.installers import Index, installer_env, serve_wheelhouse

DEAD = "http://127.0.0.1:9/"  # connections refused: the data cannot be downloaded
BIN = Path(sys.executable).parent
LOCATOR_WORKS = (
    "import fixpkg._datafetch as d; print(sorted(d.registry)); "
    "print(d.where('text/poem.txt')[-1].status)"
)

pytestmark = [
    pytest.mark.installers,  # (tests/run.sh leaves them to CI: about 30 CPU-seconds)
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout"),
]


def tool(name: str) -> str:
    """The installer's command, from the test environment (the ``installers`` extra)."""
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed here: pip install -e '.[test,installers]'")
    return str(path)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    with serve_wheelhouse(tmp_path_factory.mktemp("wheelhouse")) as served:
        yield served


def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, DEAD, {"data-wheel": True})


def assert_installed(py: Path, env: dict[str, str]) -> None:
    r = run([str(py), "-c", LOCATOR_WORKS], py.parent, env)
    assert r.stdout.splitlines()[0] == str(sorted(DATA)), r.stdout
    site = run([str(py), "-c", "import fixpkg_data"], py.parent, env, ok=False)
    assert site.returncode != 0  # no data wheel was installed (or built)


@pytest.mark.parametrize("editable", [True, False], ids=["editable", "wheel"])
def test_pdm_install(index: Index, tmp_path: Path, editable: bool) -> None:
    proj = project(tmp_path)
    env = installer_env(tmp_path / "home", index.url)
    run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], tmp_path)
    env["PDM_PYTHON"] = str(tmp_path / "venv" / "bin" / "python")
    cmd = [tool("pdm"), "install", "-v", *([] if editable else ["--no-editable"])]
    r = run(cmd, proj, env, ok=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_installed(tmp_path / "venv" / "bin" / "python", env)


@pytest.mark.parametrize("develop", [True, False], ids=["editable", "wheel"])
def test_poetry_path_dependency(index: Index, tmp_path: Path, develop: bool) -> None:
    proj = project(tmp_path)
    env = installer_env(tmp_path / "home", index.url)
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "pyproject.toml").write_text(
        "[project]\n"
        'name = "consumer"\n'
        'version = "0"\n'
        'requires-python = ">=3.9"\n'
        "[tool.poetry]\n"
        "package-mode = false\n"
        "[tool.poetry.dependencies]\n"
        f'fix-pkg = {{ path = "{proj}", develop = {str(develop).lower()} }}\n'
        "[[tool.poetry.source]]\n"
        'name = "local"\n'
        f'url = "{index.url}"\n'
        'priority = "primary"\n'
    )
    r = run([tool("poetry"), "install", "--no-interaction", "-v"], consumer, env, ok=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_installed(consumer / ".venv" / "bin" / "python", env)


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("dev_mode", [True, False], ids=["editable", "wheel"])
def test_hatch_environment(index: Index, tmp_path: Path, installer: str, dev_mode: bool) -> None:
    proj = project(tmp_path)
    env = installer_env(tmp_path / "home", index.url)
    with (proj / "pyproject.toml").open("a") as f:
        f.write(
            "[tool.hatch.envs.default]\n"
            f'installer = "{installer}"\n'
            f"dev-mode = {str(dev_mode).lower()}\n"
        )
    if installer == "uv":  # a uv cache of the user's choosing, as on macOS (~/.cache/uv)
        (proj / "uv.toml").write_text(f'cache-dir = "{tmp_path / "uv-cache"}"\n')
    r = run([tool("hatch"), "-v", "env", "create"], proj, env, ok=False)
    assert r.returncode == 0, r.stdout + r.stderr
    where = run([tool("hatch"), "env", "find"], proj, env).stdout.strip()
    assert_installed(Path(where) / "bin" / "python", env)


@pytest.mark.parametrize("frontend", ["hatch build", "pdm build", "uv build"])
def test_build_front_ends_keep_the_data_wheel(
    index: Index, tmp_path: Path, cdn: CDN, frontend: str
) -> None:
    """The other side of the rule: the front ends that keep their output directory get the
    data wheel, in isolated builds too."""
    for name, data in DATA.items():
        cdn.add(name, data)
    proj = make_project(tmp_path, cdn.url, {"data-wheel": True})
    env = installer_env(tmp_path / "home", index.url)
    name, command = frontend.split()
    r = run([tool(name), command], proj, env, ok=False)
    assert r.returncode == 0, r.stdout + r.stderr
    built = sorted(p.name for p in (proj / "dist").iterdir() if p.name != ".gitignore")
    assert built == sorted([f"{DIST}.tar.gz", WHEEL, DATA_WHEEL])


def test_the_wheel_ships_the_guard(index: Index) -> None:
    """hatch-datafetch's own wheel puts hatch_datafetch_guard.pth in site-packages: what
    stops a Hatch build whose settings sit in [tool.datafetch] without the hook."""
    import zipfile

    wheel = next((index.root / "files").glob("hatch_datafetch-*.whl"))
    z = zipfile.ZipFile(wheel)
    assert z.read("hatch_datafetch_guard.pth") == b"import hatch_datafetch._guard\n"
