"""Shared fixtures: a local fault-injecting CDN, file writing, an isolated environment, and
the reliability probes' bookkeeping. Helpers live in ``tests/support/`` (test modules import
from there, never from each other)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from support.cdnserver import CDN
from support.runtime import MakeFiles, write_files


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heavy tests (marked slow, or pages) first, so that xdist's workers do not end on
    them."""
    items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in ("slow", "pages")))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point caches and HOME (so ~/.netrc) into tmp_path, drop HATCH_DATAFETCH_*,
    *_DATA_DIR, *_DATA_URL, *_DATA_TOKEN and NETRC, and keep pip and botocore off the
    network."""
    for var in list(os.environ):
        ours = var.endswith(("_DATA_DIR", "_DATA_URL", "_DATA_TOKEN")) or var == "NETRC"
        if var.startswith("HATCH_DATAFETCH_") or ours:
            monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(home))
    # no test touches the internet: pip asks PyPI for its own latest version when its cache
    # (here: new in each test) has no recent answer, and botocore without credentials asks
    # the cloud's instance metadata service (169.254.169.254)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
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


@pytest.fixture
def make_files() -> MakeFiles:
    """``make_files({"sub/a.bin": b"..."}, root)`` writes files by POSIX name under root."""
    return write_files


# --------------------------------------------------------------------------- reliability probes

_PROBE_RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def final_files(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``final_files(root, ..., files=FILES)`` asserts no bad file at a final path under the
    roots (tests/support/reliability.py) and records the count for the probe's row."""

    def check(*roots: Path, files: dict[str, bytes]) -> None:
        from support.reliability import bad_final_files

        bad = bad_final_files(roots, files)
        _PROBE_RESULTS.setdefault(request.node.originalname, {})["bad"] = len(bad)
        assert bad == [], f"bad files at a final path: {bad}"

    return check


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    from support.reliability import PROBES

    name = getattr(item, "originalname", item.name)
    if report.when == "call" and name in PROBES:
        result = _PROBE_RESULTS.setdefault(name, {})
        result["outcome"] = report.outcome
        result["seconds"] = round(call.duration, 3)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _PROBE_RESULTS:
        return

    import fcntl

    from support.reliability import RESULTS

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:  # xdist workers finish together
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        old.update(_PROBE_RESULTS)
        tmp = RESULTS.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, RESULTS)
