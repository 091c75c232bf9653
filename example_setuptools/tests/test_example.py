"""The readers of example_setuptools, on the real data files (skipped when they cannot be
had, failed instead with --datafetch=require)."""

from __future__ import annotations

import pytest

import example_setuptools


def test_every_registry_file_is_listed() -> None:
    assert example_setuptools.data_files() == [
        "arrays/gradient.npy",
        "images/camera.png",
        "images/coins.png",
        "tables/temperatures.csv",
        "text/poem.txt",
    ]


@pytest.mark.datafetch("text/poem.txt")
def test_poem() -> None:
    lines = example_setuptools.load_poem()
    assert lines and all(isinstance(line, str) for line in lines)


@pytest.mark.datafetch("tables/temperatures.csv")
def test_temperatures() -> None:
    rows = example_setuptools.load_temperatures()
    assert len(rows) == 3285
    assert all(isinstance(r["tmax_c"], float) for r in rows)


def test_fixture_gives_a_verified_path(datafetch) -> None:  # type: ignore[no-untyped-def]
    assert datafetch("images/camera.png").read_bytes().startswith(b"\x89PNG")
