"""Is the project being built in the current directory configured for hatch-datafetch the
way its build backend needs? Called by :mod:`._guard` when a build backend is imported.

* hatchling, ``[tool.datafetch]`` present, no datafetch build hook enabled: stop the build
  with the two lines to add;
* meson-python, ``[tool.datafetch]`` present, no meson.build calling ``hatch_datafetch``:
  stop the build and point to the meson helper.

Anything unreadable (no pyproject.toml, bad TOML) is left to the backend to report.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .errors import DatafetchError, render

__all__ = ["check", "problem"]

HATCH_LINES = "[tool.hatch.build.hooks.datafetch]\n[tool.hatch.metadata.hooks.datafetch]"


def _table(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _calls_helper(root: str) -> bool:
    """Does any meson.build of the project (build dirs aside) call hatch_datafetch?"""
    for here, dirs, files in os.walk(root):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith((".", "build")) and d not in ("dist", "venv", "node_modules")
        ]
        if "meson.build" in files:
            try:
                with open(os.path.join(here, "meson.build"), encoding="utf-8") as f:
                    if "hatch_datafetch" in f.read():
                        return True
            except (OSError, UnicodeDecodeError):
                continue
    return False


def problem(root: str, watched: str) -> DatafetchError | None:
    """The mistake in the project at *root*, for a build that imported *watched*."""
    path = os.path.join(root, "pyproject.toml")
    try:
        from ._toml import tomllib

        with open(path, "rb") as f:
            data = tomllib.loads(f.read().decode("utf-8-sig"))
    except Exception:
        return None
    if _table(data, "tool.datafetch") is None:
        return None
    backend = _table(data, "build-system.build-backend")
    if watched.startswith("hatchling") and backend == "hatchling.build":
        hooks = (
            _table(data, "tool.hatch.build.hooks.datafetch"),
            _table(data, "tool.hatch.build.targets.wheel.hooks.datafetch"),
        )
        if any(h is not None for h in hooks):
            return None
        return DatafetchError(
            "pyproject.toml has [tool.datafetch], but this Hatch project does not enable the "
            "datafetch build hook: its wheel would have no locator (ModuleNotFoundError at "
            "run time)",
            source=path,
            hint="add these two lines to pyproject.toml (the hook then reads "
            "[tool.datafetch]):\n"
            + "\n".join(f"  {line}" for line in HATCH_LINES.splitlines())
            + '\nthe second adds the data extra and needs dynamic = ["optional-dependencies"] '
            "in [project]; without data-wheel and extras, the first is enough. "
            'Also list "hatch-datafetch" in [build-system] requires.',
        )
    if watched == "mesonpy" and backend == "mesonpy" and not _calls_helper(root):
        return DatafetchError(
            "pyproject.toml has [tool.datafetch], but no meson.build of this meson-python "
            "project calls the hatch-datafetch helper: its wheel would have no locator",
            source=path,
            hint="paste the block that `hatch-datafetch meson-snippet --package PKG` prints "
            "into the meson.build of the package, and add the data-mode option of "
            "`hatch-datafetch meson-snippet --options` to meson.options (the guide: "
            "docs/howto/meson-python.md)",
        )
    return None


def check(watched: str) -> None:
    """Stop the build (exit 1, the message on stderr) when the project is misconfigured."""
    error = problem(os.getcwd(), watched)
    if error is not None:
        sys.stderr.write(render(error, prefix="hatch-datafetch:") + "\n")
        sys.stderr.flush()
        raise SystemExit(1)
