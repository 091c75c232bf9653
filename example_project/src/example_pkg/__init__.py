"""Sample datasets, located at run time by the locator that hatch-datafetch generates.

The wheel carries the locator ``example_pkg/_datafetch/`` and its registry; the data itself
comes from wherever the build put it (inside this package, the ``example-pkg-data``
companion wheel) or from ``$EXAMPLE_PKG_DATA_DIR``, the user cache, or a download.
Importing this package reads no data and does not import the locator.
"""

from __future__ import annotations

from pathlib import Path

from .formats import Image, Reading, read_npy, read_png, read_temperatures

__all__ = [
    "Image",
    "Reading",
    "data_files",
    "load_array",
    "load_camera",
    "load_coins",
    "load_poem",
    "load_temperatures",
    "read_npy",
    "read_png",
    "read_temperatures",
]


def _fetch(name: str) -> Path:
    from ._datafetch import fetch  # generated at build time, so only in built packages

    return fetch(name)


def data_files() -> list[str]:
    """Names of every file in the data registry, e.g. ``images/camera.png``."""
    from ._datafetch import registry

    return sorted(registry)


def load_camera() -> Image:
    """A 512x512 grayscale landscape."""
    return read_png(_fetch("images/camera.png"))


def load_coins() -> Image:
    """A 384x256 RGB photo-like scene of ten coins on felt."""
    return read_png(_fetch("images/coins.png"))


def load_temperatures() -> list[Reading]:
    """Daily readings 2021-2023 at three weather stations (3285 rows)."""
    return read_temperatures(_fetch("tables/temperatures.csv"))


def load_poem() -> str:
    """A short poem, UTF-8 text."""
    return _fetch("text/poem.txt").read_text(encoding="utf-8")


def load_array(name: str = "gradient") -> tuple[tuple[int, ...], list[float]]:
    """The array ``arrays/<name>.npy`` as (shape, values in row order)."""
    return read_npy(_fetch(f"arrays/{name}.npy"))
