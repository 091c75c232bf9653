"""meson-python projects under test: ``tests/fixtures/mesonproj`` (a ``pure: false`` package
with a C extension whose meson.build carries the block of ``hatch-datafetch meson-snippet
--package fixpkg``), committed to git (meson dist archives HEAD), and the tool's command line
run in this process (:func:`hdf`). The data model is :mod:`support.hatch`'s, so the Hatch and
meson wheels of one registry can be compared byte for byte."""

from __future__ import annotations

import json
import shutil
import sysconfig
from pathlib import Path
from typing import Any

from hatch_datafetch import cli
from hatch_datafetch.staging import BUNDLE_DIR
from support.hatch import DATA, LOCATOR, SUMS, run, toml_value, tree

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "mesonproj"
EXAMPLE = REPO / "example_meson"
EPOCH = 1700000000  # hatch.run sets SOURCE_DATE_EPOCH to this
DIST = "fix_pkg-1.2.0"
EXT = f"fixpkg/_speedup{sysconfig.get_config_var('EXT_SUFFIX')}"
WHEEL_BASE = sorted(
    [
        "fixpkg/__init__.py",
        *LOCATOR,
        "fixpkg/_datafetch_registry.json",
        EXT,
        "fixpkg/shipped.txt",
        f"{DIST}.dist-info/METADATA",
        f"{DIST}.dist-info/RECORD",
        f"{DIST}.dist-info/WHEEL",
    ]
)
SDIST_BASE = sorted(
    f"{DIST}/{n}"
    for n in [
        "PKG-INFO",
        "README.md",
        "meson.build",
        "meson.options",
        "pyproject.toml",
        "registry.toml",
        "src/fixpkg/__init__.py",
        "src/fixpkg/_speedup.c",
        "src/fixpkg/meson.build",
        "src/fixpkg/shipped.txt",
    ]
)
BUNDLE = sorted(f"{DIST}/{BUNDLE_DIR}/{n}" for n in DATA)
IN_WHEEL = sorted(f"fixpkg/{n}" for n in DATA)


def make_project(
    tmp_path: Path,
    base_url: str | None,
    settings: dict[str, Any] | None = None,
    *,
    git: bool = True,
) -> Path:
    """The fixture with pyproject.toml and registry.toml, committed to a fresh git repo."""
    proj = tmp_path / "proj"
    shutil.copytree(FIXTURE, proj)
    lines = [
        f"{json.dumps(n)} = {{ hash = {json.dumps(SUMS[n])}, size = {len(d)} }}"
        for n, d in sorted(DATA.items())
    ]
    (proj / "registry.toml").write_text("[files]\n" + "\n".join(lines) + "\n")
    table: dict[str, Any] = {"registry": "registry.toml", "package": "fixpkg"}
    if base_url:
        table["base-url"] = base_url
    table.update(settings or {})
    text = [
        "[build-system]",
        'requires = ["meson-python", "hatch-datafetch"]',
        'build-backend = "mesonpy"',
        "[project]",
        'name = "fix-pkg"',
        'version = "1.2.0"',
        'requires-python = ">=3.9"',
        "[tool.datafetch]",
        *(f"{k} = {toml_value(v)}" for k, v in table.items()),
    ]
    (proj / "pyproject.toml").write_text("\n".join(text) + "\n")
    if git:
        commit(proj)
    return proj


def commit(proj: Path) -> None:
    if not (proj / ".git").exists():
        run(["git", "init", "-q"], proj)
    run(["git", "add", "-A"], proj)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"], proj)


def source_tree(proj: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(proj).items() if not k.startswith(".git/")}


def one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def gen_runtime(proj: Path, out: Path, mode: str) -> dict[str, bytes]:
    """What ``hatch-datafetch gen-runtime`` writes for *proj* in *mode*: file name -> bytes."""
    code, _, err = hdf(
        "gen-runtime", "--pyproject", str(proj / "pyproject.toml"), "-o", str(out), "--mode", mode
    )
    assert code == 0, err
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def hdf(*args: str) -> tuple[int, str, str]:
    """Run ``hatch-datafetch ARGS`` in this process; (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()
