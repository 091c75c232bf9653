"""The example datasets of hatch-datafetch, in a meson-python package.

``example_meson_pkg._datafetch`` is generated at build time by the meson.build block of
hatch-datafetch; it finds each file inside this package (bundle mode), in ``$EXAMPLE_DATADIR``,
the user cache, or downloads it.
"""

from __future__ import annotations

from pathlib import Path

from ._lines import count_lines

__all__ = ["count_lines", "data_files", "fetch", "load_poem"]


def fetch(name: str) -> Path:
    """A local, hash-verified path of data file NAME, e.g. ``images/camera.png``."""
    from ._datafetch import fetch

    return fetch(name)


def data_files() -> list[str]:
    """Names of every file in the data registry."""
    from ._datafetch import registry

    return sorted(registry)


def load_poem() -> str:
    """A short poem, UTF-8 text."""
    return fetch("text/poem.txt").read_text(encoding="utf-8")
