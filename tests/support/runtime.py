"""The runtime under test: configs, locators and installed copies of the locator package."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import hatch_datafetch._runtime as rt


def random_bytes(n: int, seed: int = 0) -> bytes:
    """*n* pseudo-random bytes, the same for the same seed, so failures reproduce."""
    return random.Random(seed).randbytes(n)


RUNTIME = Path(rt.__file__).parent  # the locator package, as wheels ship it


#: Puts SIGINT back to its default, then execs the python command of its arguments.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def interruptible(cmd: list[str], **popen: Any) -> subprocess.Popen[str]:
    """Start ``[sys.executable, ARGS...]`` so that a SIGINT reaches it as Ctrl-C does, even when
    this suite runs with SIGINT ignored (a background job of a non-interactive shell, as
    ``nohup .ci/run &``), which children inherit and which stops Python from ever raising
    KeyboardInterrupt. (No ``preexec_fn``: the test process runs server threads.)"""
    assert cmd[0] == sys.executable, cmd
    return subprocess.Popen([sys.executable, "-c", _SIGINT_DEFAULT, *cmd[1:]], text=True, **popen)


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
    """The locator package's modules into ``target`` (a wheel's ``<package>/<locator>/``),
    with this interpreter's bytecode of them where the tool has it, as pip compiles an
    installed wheel (mtimes kept, so the ``.pyc`` stay valid; a stale one is recompiled)."""
    target.mkdir(parents=True, exist_ok=True)
    for module in sorted(RUNTIME.glob("*.py")):
        shutil.copy2(module, target / module.name)
    pycs = sorted((RUNTIME / "__pycache__").glob(f"*.{sys.implementation.cache_tag}.pyc"))
    if pycs:
        (target / "__pycache__").mkdir(exist_ok=True)
        for pyc in pycs:
            shutil.copy2(pyc, target / "__pycache__" / pyc.name)


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


MakeFiles = Callable[[dict[str, bytes], Path], None]


def write_files(files: dict[str, bytes], root: Path) -> None:
    for name, data in files.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
