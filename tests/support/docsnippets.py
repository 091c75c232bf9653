"""The docs' snippets, run as they are written.

A fenced block of a docs page runs when the line before it (blank lines aside) is a marker:

* ``<!-- test: run -->`` before a ``console`` block: each ``$ `` line is a command (a line
  ending in ``\\`` continues it), run in one bash session for the whole page (``cd``,
  ``export`` and ``. venv/bin/activate`` carry over); the lines after a command, up to the
  next ``$``, must each appear in its output, where ``...`` stands for any text (a line of
  only ``...`` for lines left out);
* ``<!-- test: python -->`` before a ``python`` block: the block runs with the session's
  ``python`` (the active virtual environment's), in its current directory;
* ``<!-- test: file PATH -->`` before any block: the block is written to PATH (relative to
  the session's current directory), at that point of the page;
* ``<!-- test: needs COMMAND... -->`` anywhere: the page's run is skipped, with the reason,
  where one of the commands is not on ``PATH`` (a guide that starts Debian's
  ``docker-registry``, say; CI installs them);
* ``<!-- test: serve NAME... -->`` anywhere: before the page runs, the test starts the
  stand-in NAME of :data:`STAND_INS` on 127.0.0.1 and puts the environment variables that
  point the tool at it (variables the tool reads for that purpose) into the session's
  environment, so that a reader's command against a real host (``doi:10.5281/zenodo...``)
  runs unchanged; it is stopped after the page.

:func:`page_script` turns a page into that bash script; the tests run it in a fresh
directory with an environment that makes it offline (a loopback package index, a test CDN).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

MARKER = re.compile(r"<!--\s*test:\s*(run|python|file\s+(\S+))\s*-->")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\S*)")
NEEDS = re.compile(r"<!--\s*test:\s*needs\s+([^>]*?)\s*-->")
SERVE = re.compile(r"<!--\s*test:\s*serve\s+([^>]*?)\s*-->")


def _named(page: Path, marker: re.Pattern[str]) -> list[str]:
    """The words that the page's ``marker`` comments name, in page order."""
    return [word for m in marker.finditer(page.read_text()) for word in m[1].split()]


def needs(page: Path) -> list[str]:
    """The commands the page's ``<!-- test: needs ... -->`` markers name."""
    return _named(page, NEEDS)


def serves(page: Path) -> list[str]:
    """The stand-ins the page's ``<!-- test: serve ... -->`` markers name."""
    return _named(page, SERVE)


# pooch's test data file, as Zenodo record 4924875 (pooch's test data) holds it
TINY_DATA = b"# A tiny data file for test purposes only\n1  2  3  4  5  6\n"


@contextmanager
def _repositories() -> Iterator[dict[str, str]]:
    """doi.org and Zenodo (``repositories.py``): record 4924875 holds pooch's test files
    ``tiny-data.txt`` and ``large-data.txt``."""
    from .repositories import Repositories

    large = b"".join(b"%d %d %d\n" % (i, i * i, i * i * i) for i in range(2000))
    with Repositories() as repo:
        repo.zenodo(4924875, {"tiny-data.txt": TINY_DATA, "large-data.txt": large})
        yield repo.environ


STAND_INS: dict[str, Callable[[], AbstractContextManager[dict[str, str]]]] = {
    "repositories": _repositories,
}


@contextmanager
def stand_ins(names: list[str]) -> Iterator[dict[str, str]]:
    """The stand-ins *names* of :data:`STAND_INS`, running: the environment that points the
    tool at them."""
    unknown = sorted(set(names) - set(STAND_INS))
    if unknown:
        raise KeyError(f"no stand-in {', '.join(unknown)} (known: {', '.join(STAND_INS)})")
    env: dict[str, str] = {}
    with ExitStack() as stack:
        for name in names:
            env.update(stack.enter_context(STAND_INS[name]()))
        yield env


def blocks(page: Path) -> list[tuple[str, str | None, str, int]]:
    """(kind, file path, block text, line) of every marked block, in page order."""
    lines = page.read_text().splitlines()
    out = []
    marker: re.Match[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence is not None:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence[1]))
            if marker is not None:
                kind = marker[1].split()[0]
                out.append((kind, marker[2], "\n".join(lines[i + 1 : end]) + "\n", i + 1))
            marker, i = None, end + 1
            continue
        m = MARKER.search(line)
        if m is not None:
            marker = m
        elif line.strip():
            marker = None
        i += 1
    return out


def commands(text: str) -> list[tuple[str, list[str], int]]:
    """(command, expected output lines, offset of its line in the block) of a console
    block."""
    out: list[tuple[str, list[str], int]] = []
    pending, start = "", 0
    for n, line in enumerate(text.splitlines()):
        if pending:
            pending += "\n" + line
            if not line.endswith("\\"):
                out.append((pending, [], start))
                pending = ""
        elif line.startswith("$ "):
            if line.endswith("\\"):
                pending, start = line[2:], n
            else:
                out.append((line[2:], [], n))
        elif line.strip() and out:
            out[-1][1].append(line.strip())
    return out


def page_script(page: Path) -> str:
    """A bash script that does what the page says, stopping at the first failure with the
    page's line and the command's output."""
    script = ["set -eo pipefail", 'LOG="$(mktemp)"']
    for kind, path, text, line in blocks(page):
        where = f"{page.name}:{line}"
        if kind == "python":
            show = shlex.quote(f"[{page.name}:{line}] python")
            script.append(f"echo {show}")
            script.append(
                f'python - >"$LOG" 2>&1 <<\'DOCS_SNIPPET_EOF\' || {{ cat "$LOG"; '
                f"echo {shlex.quote(f'FAILED at {page.name}:{line}')}; exit 1; }}\n"
                f"{text}DOCS_SNIPPET_EOF"
            )
            script.append('cat "$LOG"')
            continue
        if kind == "file":
            assert path is not None
            script.append(f"mkdir -p {shlex.quote(str(Path(path).parent))}")
            script.append(f"cat > {shlex.quote(path)} <<'DOCS_SNIPPET_EOF'\n{text}DOCS_SNIPPET_EOF")
            continue
        for command, expected, offset in commands(text):
            where = f"{page.name}:{line + 1 + offset}"
            show = shlex.quote(f"[{where}] $ {command}")
            script.append(f"echo {show}")
            script.append(
                f'{{ {command}\n}} >"$LOG" 2>&1 || {{ cat "$LOG"; '
                f"echo {shlex.quote(f'FAILED at {where}')}; exit 1; }}"
            )
            script.append('cat "$LOG"')
            for want in expected:
                if want == "...":
                    continue
                pattern = ".*".join(re.escape(part) for part in want.split("..."))
                miss = shlex.quote(f"MISSING at {where}: {want}")
                script.append(
                    f'grep -qP -- {shlex.quote(pattern)} "$LOG" || {{ echo {miss}; exit 1; }}'
                )
    return "\n".join(script) + "\n"
