"""Shared fixtures: a local fault-injecting CDN, file writing, and an isolated environment."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

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


# --------------------------------------------------------------------------- reliability probes

_PROBE_RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def final_files(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``final_files(root, ..., files=FILES)`` asserts no bad file at a final path under the
    roots (tests/reliability.py) and records the count for the probe's row."""

    def check(*roots: Path, files: dict[str, bytes]) -> None:
        from reliability import bad_final_files

        bad = bad_final_files(roots, files)
        _PROBE_RESULTS.setdefault(request.node.originalname, {})["bad"] = len(bad)
        assert bad == [], f"bad files at a final path: {bad}"

    return check


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    from reliability import PROBES

    name = getattr(item, "originalname", item.name)
    if report.when == "call" and name in PROBES:
        result = _PROBE_RESULTS.setdefault(name, {})
        result["outcome"] = report.outcome
        result["seconds"] = round(call.duration, 3)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _PROBE_RESULTS:
        return
    import json

    from reliability import RESULTS

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old.update(_PROBE_RESULTS)
    RESULTS.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
