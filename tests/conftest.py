"""Shared fixtures: a local fault-injecting CDN, file writing, and an isolated environment."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from cdnserver import CDN

import hatch_datafetch._runtime as rt

MakeFiles = Callable[[dict[str, bytes], Path], None]


def random_bytes(n: int, seed: int = 0) -> bytes:
    """*n* pseudo-random bytes, the same for the same seed, so failures reproduce."""
    return random.Random(seed).randbytes(n)


# ---------------------------------------------------------------------- the runtime, directly

RUNTIME = Path(rt.__file__).parent  # the locator package, as wheels ship it


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_config(files: dict[str, bytes], base_url: str | None, **extra: Any) -> dict[str, Any]:
    """A runtime config (``<locator>_registry.json``) of package ``demo`` for ``files``;
    ``extra`` keys override or add to it."""
    config: dict[str, Any] = {
        "format": 1,
        "base_url": base_url,
        "mirrors": [],
        "data_name": "demo-data",
        "package": "demo",
        "locator": "_datafetch",
        "env_var": "DEMO_DATA_DIR",
        "url_env_var": "DEMO_DATA_URL",
        "files": {n: {"hash": sha(d), "size": len(d), "url": None} for n, d in files.items()},
    }
    config.update(extra)
    return config


def locator(config: dict[str, Any], tmp_path: Path, **kw: Any) -> rt.Locator:
    """A Locator with its cache in tmp_path, no environment, and short retries."""
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5.0)
    return rt.Locator(config, cache_dir=tmp_path / "cache", environ=kw.pop("environ", {}), **kw)


def copy_runtime(target: Path) -> None:
    """The locator package's modules into ``target`` (a wheel's ``<package>/<locator>/``)."""
    target.mkdir(parents=True, exist_ok=True)
    for module in sorted(RUNTIME.glob("*.py")):
        (target / module.name).write_bytes(module.read_bytes())


def install(tmp_path: Path, config: dict[str, Any]) -> dict[str, str]:
    """The runtime as a wheel ships it (package ``demo``); the env to run it with."""
    pkg = tmp_path / "site" / "demo"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    copy_runtime(pkg / "_datafetch")
    (pkg / "_datafetch_registry.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEMO_", "HATCH_DATAFETCH"))}
    env.update(PYTHONPATH=str(pkg.parent), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_module(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m demo._datafetch ARGS`` (see :func:`install`), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "demo._datafetch", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


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
