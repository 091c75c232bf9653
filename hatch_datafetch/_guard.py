"""The build-time check of one mistake that no hook of hatch-datafetch can see (SPEC §12).

A Hatch project whose settings sit in ``[tool.datafetch]`` but whose pyproject.toml does not
enable the datafetch hook builds a wheel without the locator: hatchling loads third-party
plugins only for hooks a project configures, so none of this tool's code runs in that build,
and users would meet ``ModuleNotFoundError`` at run time. The same holds for a meson-python
project whose meson.build lacks the block of ``hatch-datafetch meson-snippet``.

So hatch-datafetch installs ``hatch_datafetch_guard.pth``, which imports this module at
interpreter start-up, where it only puts a finder first on ``sys.meta_path`` (no I/O, no
import). The finder answers nothing: when a process first imports hatchling's builders or
meson-python (a build), it reads ./pyproject.toml (PEP 517 runs the backend in the project
root; hatchling's own command line too) and, for that mistake, stops the build with the
lines to add.
Everywhere else it costs one string comparison per import.
"""

from __future__ import annotations

import sys

#: The first module a hatchling build imports (PEP 517 hooks and ``hatchling build``
#: alike), and meson-python's backend.
WATCHED = ("hatchling.builders.plugin.interface", "mesonpy")


class _Guard:
    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name in WATCHED:
            from .misconfigured import check

            check(name)
        return None


def install() -> None:
    if not any(getattr(f, "__module__", "") == __name__ for f in sys.meta_path):
        sys.meta_path.insert(0, _Guard)  # type: ignore[arg-type,unused-ignore]


install()
