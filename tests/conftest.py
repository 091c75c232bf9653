"""Shared fixtures: a local fault-injecting CDN, file writing, and an isolated environment."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from cdnserver import CDN

MakeFiles = Callable[[dict[str, bytes], Path], None]


def random_bytes(n: int, seed: int = 0) -> bytes:
    """*n* pseudo-random bytes, the same for the same seed, so failures reproduce."""
    return random.Random(seed).randbytes(n)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point caches and HOME into tmp_path and drop HATCH_DATAFETCH_*/*_DATA_DIR/*_DATA_URL."""
    for var in list(os.environ):
        if var.startswith("HATCH_DATAFETCH_") or var.endswith(("_DATA_DIR", "_DATA_URL")):
            monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(home))
    if sys.platform == "win32":
        monkeypatch.setenv("USERPROFILE", str(home))
        monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    return tmp_path


@pytest.fixture
def cdn(tmp_path: Path) -> Iterator[CDN]:
    """A started CDN serving ``tmp_path / "cdn_root"``; stopped at teardown."""
    root = tmp_path / "cdn_root"
    root.mkdir(exist_ok=True)
    with CDN(root) as server:
        yield server


def _write_files(files: dict[str, bytes], root: Path) -> None:
    for name, data in files.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def make_files() -> MakeFiles:
    """``make_files({"sub/a.bin": b"..."}, root)`` writes files by POSIX name under root."""
    return _write_files
