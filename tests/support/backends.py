"""Projects of other build backends wrapped by ``hatch_datafetch.build`` (SPEC §12).

``tests/fixtures/backends/<backend>/`` holds one pure-Python project per backend (setuptools,
flit-core, poetry-core, pdm-backend, scikit-build-core), each the same package ``fixpkg`` of
the distribution ``fix-pkg`` 1.2.0 as the Hatch fixture, with ``[tool.datafetch]`` last in
its pyproject.toml; :func:`make_project` copies one and writes the registry of
:mod:`support.hatch`'s data and the settings of the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.hatch import DATA, SUMS, toml_value

FIXTURES = Path(__file__).parent.parent / "fixtures" / "backends"
BACKENDS = ("setuptools", "flit", "poetry", "pdm", "scikit-build-core")

#: The inner backend of each fixture, and the distribution that provides it.
INNER = {
    "setuptools": ("setuptools.build_meta", "setuptools"),
    "flit": ("flit_core.buildapi", "flit_core"),
    "poetry": ("poetry.core.masonry.api", "poetry-core"),
    "pdm": ("pdm.backend", "pdm-backend"),
    "scikit-build-core": ("scikit_build_core.build", "scikit-build-core"),
}


#: Where tests/run.sh installs the cmake-backend extra (scikit-build-core and cmake) apart
#: from the venv, so that hatchling builds elsewhere in the suite do not load its hatch plugin;
#: :func:`clean_env` puts it on PYTHONPATH. The matrix's venvs have it installed in them.
APART = Path(sys.prefix) / "cmake-backend"


def need(module: str, reason: str) -> None:
    """Skip unless ``module``'s top-level package is installed (or in :data:`APART`), without
    importing it: importing setuptools in the test process replaces a ``distutils`` another
    test already imported, which fails (``_distutils_hack``'s assertion), and the builds run
    in subprocesses anyway."""
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None and not (APART / top).is_dir():
        pytest.skip(reason)


def make_project(
    tmp_path: Path,
    backend: str,
    base_url: str | None,
    settings: dict[str, Any] | None = None,
    *,
    name: str = "proj",
) -> Path:
    """The fixture of ``backend`` in ``tmp_path/name`` with registry.toml (the data of
    support.hatch) and ``settings`` (and ``base-url``) added to ``[tool.datafetch]``."""
    proj = tmp_path / name
    shutil.copytree(FIXTURES / backend, proj)
    lines = [
        f"{json.dumps(n)} = {{ hash = {json.dumps(SUMS[n])}, size = {len(d)} }}"
        for n, d in sorted(DATA.items())
    ]
    (proj / "registry.toml").write_text("[files]\n" + "\n".join(lines) + "\n")
    extra = dict(settings or {})
    if base_url:
        extra["base-url"] = base_url
    text = (proj / "pyproject.toml").read_text()
    assert text.rstrip().splitlines()[-3] == "[tool.datafetch]", "the table must come last"
    text += "".join(f"{k} = {toml_value(v)}\n" for k, v in extra.items())
    (proj / "pyproject.toml").write_text(text)
    return proj


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without HATCH_DATAFETCH_*, PIP_*, UV_* and *_DATA_DIR/_URL
    (for builds made by module-scoped fixtures, which run before the per-test isolation),
    plus ``SOURCE_DATE_EPOCH``, pip's version check off, and *extra*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HATCH_DATAFETCH_", "PIP_", "UV_"))
        and not k.endswith(("_DATA_DIR", "_DATA_URL"))
    }
    env["SOURCE_DATE_EPOCH"] = "1700000000"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"  # (else pip asks PyPI for its latest version)
    if APART.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APART), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def call(
    cmd: list[str], cwd: Path, env: dict[str, str], ok: bool = True
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert r.returncode == 0, f"{cmd} failed:\n{r.stdout}\n{r.stderr}"
    return r


def twine_check(paths: list[str], cwd: Path) -> int:
    """``twine check --strict`` of the artifacts whose Metadata-Version the installed twine
    knows; the number checked (each must pass). The newest twine for Python 3.9 (6.2) knows
    up to 2.4, while the newest flit-core there writes 2.5: an artifact twine cannot read yet
    is left to the newer twine of the suite's main Python."""
    versions = sorted({metadata_version(Path(p)) for p in paths})
    # the packaging that twine reads metadata with, asked through its public API
    code = (
        "import sys, twine.package\n"
        "from packaging.metadata import Metadata\n"
        "for v in sys.argv[1:]:\n"
        "    try:\n"
        "        Metadata.from_raw({'metadata_version': v, 'name': 'x', 'version': '1'})\n"
        "    except Exception:\n"
        "        continue\n"
        "    print(v)"
    )
    known = set(call([sys.executable, "-c", code, *versions], cwd, clean_env()).stdout.split())
    checked = [p for p in paths if metadata_version(Path(p)) in known]
    assert checked, f"twine knows none of the Metadata-Versions {versions} of {paths}"
    twine = str(Path(sys.executable).parent / "twine")
    r = call([twine, "check", "--strict", *checked], cwd, clean_env())
    assert r.stdout.count("PASSED") == len(checked), r.stdout
    return len(checked)


def metadata_version(artifact: Path) -> str:
    """The Metadata-Version of a wheel's METADATA or an sdist's PKG-INFO."""
    import tarfile
    import zipfile

    if artifact.suffix == ".whl":
        with zipfile.ZipFile(artifact) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(name).decode()
    else:
        with tarfile.open(artifact) as t:
            member = next(
                m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
            )
            f = t.extractfile(member)
            assert f is not None
            text = f.read().decode()
    return next(
        ln.split(":", 1)[1].strip()
        for ln in text.splitlines()
        if ln.startswith("Metadata-Version:")
    )


def outer_venv(path: Path) -> Path:
    """A venv without pip that sees this test environment's packages (pip, the build
    backends, hatch-datafetch) through a ``.pth``, for --no-build-isolation installs; its
    python. What gets installed into it lands in the venv itself."""
    import pip

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next(path.glob("lib/python*/site-packages"))
    outer = Path(pip.__file__).parent.parent
    (site / "_outer.pth").write_text(f"import site; site.addsitedir({str(outer)!r})\n")
    return path / "bin" / "python"


def can_unshare() -> bool:
    """Whether ``unshare -n`` (a process with no network at all) works here (root)."""
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
