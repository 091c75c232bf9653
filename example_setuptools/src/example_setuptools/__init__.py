"""example-setuptools: a setuptools project whose data files come from hatch-datafetch.

Each reader asks the generated locator, ``example_setuptools._datafetch``, for a local,
hash-verified path; the locator is not in this source tree: the build writes it (and the
registry) into the wheel."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["data_files", "fetch", "load_poem", "load_temperatures"]


def fetch(name: str) -> Path:
    from ._datafetch import fetch as _fetch  # lazy: importing the package stays cheap

    return _fetch(name)


def data_files() -> list[str]:
    from ._datafetch import registry

    return sorted(registry)


def load_poem() -> list[str]:
    """The lines of ``text/poem.txt``."""
    return fetch("text/poem.txt").read_text(encoding="utf-8").splitlines()


def load_temperatures() -> list[dict[str, object]]:
    """``tables/temperatures.csv`` as dicts, the numbers as floats."""
    with open(fetch("tables/temperatures.csv"), newline="", encoding="utf-8") as f:
        rows: list[dict[str, object]] = []
        for row in csv.DictReader(f):
            rows.append({k: (v if k in ("date", "station") else float(v)) for k, v in row.items()})
        return rows
