"""Hatch projects under test: the fixture project, real builds, archives, venvs.

Each test copies ``tests/fixtures/hatchproj`` to tmp_path (:func:`make_project`), builds it
with a real front-end (:func:`build`), opens the archives (:func:`names`) and, where it
matters, installs the wheels into a fresh venv (:func:`venv_with`) and runs the locator.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from hatch_datafetch.staging import runtime_files

FIXTURE = Path(__file__).parent.parent / "fixtures" / "hatchproj"
_rng = random.Random(1234)
DATA = {
    "images/camera.png": _rng.randbytes(150_000),
    "text/poem.txt": b"Data outgrows the wheel;\nthe registry remembers.\n",
    "deep/a/b/values.bin": _rng.randbytes(20_000),
}
SUMS = {n: "sha256:" + hashlib.sha256(d).hexdigest() for n, d in DATA.items()}
DIST = "fix_pkg-1.2.0"
WHEEL = f"{DIST}-py3-none-any.whl"


#: The locator package every wheel gets: the runtime's modules, byte for byte.
LOCATOR = {f"fixpkg/_datafetch/{n}": data for n, data in runtime_files().items()}
WHEEL_BASE = sorted(
    [
        "fixpkg/__init__.py",
        *LOCATOR,
        "fixpkg/_datafetch_registry.json",
        "fixpkg/shipped.txt",
        f"{DIST}.dist-info/METADATA",
        f"{DIST}.dist-info/RECORD",
        f"{DIST}.dist-info/WHEEL",
    ]
)
SDIST_BASE = [
    f"{DIST}/PKG-INFO",
    f"{DIST}/README.md",
    f"{DIST}/pyproject.toml",
    f"{DIST}/registry.toml",
    f"{DIST}/src/fixpkg/__init__.py",
    f"{DIST}/src/fixpkg/shipped.txt",
]
BUNDLE = sorted(f"{DIST}/_datafetch_bundle/{n}" for n in DATA)
IN_WHEEL = sorted(f"fixpkg/{n}" for n in DATA)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(value)


def make_project(
    tmp_path: Path,
    base_url: str | None,
    hook: dict[str, Any] | None = None,
    *,
    target_hook: dict[str, Any] | None = None,
    dynamic: bool = True,
    metadata_hook: bool = True,
    name: str = "proj",
) -> Path:
    proj = tmp_path / name
    shutil.copytree(FIXTURE, proj)
    lines = [
        f"{json.dumps(n)} = {{ hash = {json.dumps(SUMS[n])}, size = {len(d)} }}"
        for n, d in sorted(DATA.items())
    ]
    (proj / "registry.toml").write_text("[files]\n" + "\n".join(lines) + "\n")
    settings: dict[str, Any] = {"registry": "registry.toml"}
    if base_url:
        settings["base-url"] = base_url
    settings.update(hook or {})
    text = [
        "[build-system]",
        'requires = ["hatchling", "hatch-datafetch"]',
        'build-backend = "hatchling.build"',
        "[project]",
        'name = "fix-pkg"',
        'version = "1.2.0"',
        'requires-python = ">=3.9"',
    ]
    if dynamic:
        text.append('dynamic = ["optional-dependencies"]')
    text += ["[tool.hatch.build.targets.wheel]", 'packages = ["src/fixpkg"]']
    text.append("[tool.hatch.build.hooks.datafetch]")
    text += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    if target_hook is not None:
        text.append("[tool.hatch.build.targets.wheel.hooks.datafetch]")
        text += [f"{k} = {toml_value(v)}" for k, v in target_hook.items()]
    if metadata_hook:
        text.append("[tool.hatch.metadata.hooks.datafetch]")
    (proj / "pyproject.toml").write_text("\n".join(text) + "\n")
    return proj


def run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", **(env or {})}
    r = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)
    if ok:
        assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r


def build(
    proj: Path, *args: str, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -m build -nx``, as Debian's pybuild and Fedora's macros build: no isolation
    and no check of the build requirements (hatchling's and meson-python's are installed;
    the hook adds none). ``tests/test_backends.py`` keeps the check, where the wrapping
    backend answers ``get_requires_for_build_*`` itself."""
    cmd = [sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", *args]
    return run(cmd, proj, env, ok)


def names(archive: Path) -> list[str]:
    if archive.suffix == ".whl":
        return sorted(zipfile.ZipFile(archive).namelist())
    with tarfile.open(archive) as tf:
        return sorted(m.name for m in tf.getmembers() if m.isfile())


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a source tree except the build output in dist/."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] != "dist"
    }


def uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    assert Path(found).exists(), "uv is part of the test extra"
    return found


def venv_with(tmp_path: Path, *wheels: Path, name: str = "venv") -> Path:
    """A fresh venv (no access to the test environment) with ``wheels`` installed."""
    path = tmp_path / name
    run([uv(), "venv", "-q", "--python", sys.executable, str(path)], tmp_path)
    py = path / "bin" / "python"
    if wheels:
        run(
            [
                uv(),
                "pip",
                "install",
                "-q",
                "--offline",
                "--no-deps",
                "--python",
                str(py),
                *map(str, wheels),
            ],
            tmp_path,
        )
    return py


def py_json(py: Path, code: str, env: dict[str, str] | None = None) -> Any:
    r = run([str(py), "-c", code], py.parent, env)
    return json.loads(r.stdout)


def editable_install(tmp_path: Path, proj: Path) -> Path:
    """``pip install -e PROJ --no-build-isolation`` into a fresh venv whose pip and build
    backends come from the test environment (a ``site.addsitedir`` .pth); its python."""
    import pip

    venv = tmp_path / "ed"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    site = next(venv.glob("lib/python*/site-packages"))
    outer = Path(pip.__file__).parent.parent
    (site / "_outer.pth").write_text(f"import site; site.addsitedir({str(outer)!r})\n")
    py = venv / "bin" / "python"
    pip_install = [str(py), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps"]
    run([*pip_install, "-e", str(proj)], tmp_path)
    return py


WHERE = (
    "import json, fixpkg._datafetch as d; p = d.fetch(NAME); "
    "src = next(c.source for c in d.where(NAME) if c.status.startswith('ok: fetch')); "
    "print(json.dumps([str(p), src, p.read_bytes().hex()]))"
)


def fetch_in(py: Path, name: str, env: dict[str, str] | None = None) -> tuple[str, str, bytes]:
    path, source, hexdata = py_json(py, WHERE.replace("NAME", repr(name)), env)
    return path, source, bytes.fromhex(hexdata)


def hatchling_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(x) for x in version("hatchling").split(".")[:2])


#: The companion data wheel of the fixture project.
DATA_WHEEL = "fix_pkg_data-1.2.0-py3-none-any.whl"
DATA_DIST = "fix_pkg_data-1.2.0.dist-info"
