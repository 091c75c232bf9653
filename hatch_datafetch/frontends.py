"""Which front end runs this build, and does it keep a second wheel (SPEC §5)?

A PEP 517 backend returns one wheel. A data wheel written beside it survives only where the
front end keeps its whole output directory for the user: ``python -m build`` (and
``pyproject-build``), ``uv build``, ``pdm build`` and ``hatch build``. Installers build into
directories of their own and keep one wheel: pip (``PIP_BUILD_TRACKER``), ``uv pip``/``uv
sync`` (a directory in uv's cache, wherever the user put it), pdm (``/tmp/pdm-wheel-cache-*``),
poetry (``/tmp/poetry-chef-*``, via pypa/build's library, like ``python -m build``), Hatch
environments (pip or uv), tox. Their calls look alike: the same hook runner (pyproject_hooks),
no configuration settings (hatchling ignores them anyway), temporary directories that a test's
or a user's ``--outdir`` may resemble. What tells them apart for certain is the command that
started the backend: this process's parent (pyproject_hooks and uv run the backend as a
direct child), or hatchling's own command line, which ``hatch build`` runs in-process.

So the rule is an allowlist: a data wheel is built only under a front end recognised as a
keeper; anything else, or a parent that cannot be read (no ``/proc`` and no ``ps``, as on
Windows), gets the main wheel alone, with a message (``HATCH_DATAFETCH_DATA_WHEEL=1`` forces
the data wheel; ``hatch-datafetch build-data-wheel`` builds it for any backend).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["KEEPERS", "command_name", "front_end", "parent_command"]

#: The front ends that keep every wheel written into their output directory.
KEEPERS = frozenset({"python -m build", "uv build", "pdm build", "hatch build"})

#: Options of uv and pdm that take a value before the subcommand (``uv --directory D build``).
_VALUE_OPTIONS = frozenset(
    {"--directory", "--project", "--cache-dir", "--config-file", "--color", "-p", "--python"}
)
_PYTHON = re.compile(r"(python|pypy)[\d.]*w?(\.exe)?$")
_PYTHON_VALUE_OPTIONS = frozenset({"-X", "-W", "-c"})


def parent_command(pid: int | None = None) -> list[str] | None:
    """The argv of process *pid* (default: this process's parent), or None if unreadable."""
    pid = os.getppid() if pid is None else pid
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a] or None
    except OSError:
        pass
    if sys.platform == "win32":
        return None
    try:  # macOS, BSD: no /proc; ps is always there (args are split at spaces)
        out = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def _first_word(args: Sequence[str]) -> tuple[str, int]:
    """The first argument that is not an option (nor an option's value), and its index."""
    i = 0
    while i < len(args):
        if args[i] in _VALUE_OPTIONS:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i], i
    return "", len(args)


def command_name(argv: Sequence[str]) -> str | None:
    """A command as users name it: ``python -m build``, ``uv build``, ``uv pip install``,
    ``pdm install``, ``poetry install``, ``pip install``...; None for an empty argv."""
    if not argv:
        return None
    tool, rest = os.path.basename(argv[0]).lower(), list(argv[1:])
    if _PYTHON.match(tool):  # python [options] (-m MODULE | SCRIPT) ARGS
        i = 0
        while i < len(rest) and rest[i].startswith("-") and rest[i] != "-m":
            i += 2 if rest[i] in _PYTHON_VALUE_OPTIONS else 1
        if i < len(rest) - 1 and rest[i] == "-m":
            tool, rest = rest[i + 1], rest[i + 2 :]
        elif i < len(rest):
            tool, rest = os.path.basename(rest[i]).lower(), rest[i + 1 :]
        else:
            return "python"
    tool = tool[:-4] if tool.endswith(".exe") else tool
    if tool in ("build", "pyproject-build"):
        return "python -m build"
    sub, i = _first_word(rest)
    if tool == "uv" and sub == "pip":
        return f"uv pip {_first_word(rest[i + 1 :])[0]}".rstrip()
    return f"{tool} {sub}".rstrip()


def front_end() -> str | None:
    """The front end running this build (see :func:`command_name`), or None if unknown."""
    script = sys.argv[0] if sys.argv else ""
    here = os.path.basename(script)
    if here == "hatchling" or (
        here == "__main__.py" and os.path.basename(os.path.dirname(script)) == "hatchling"
    ):
        return "hatch build"  # hatchling's own command line, as `hatch build` runs it
    if os.environ.get("PIP_BUILD_TRACKER"):
        return "pip"
    parent = parent_command()
    return command_name(parent) if parent else None
