"""The reliability probes of tests/test_faults.py and the docs table made from their results.

Each fault test carries ``@probe("what is tried", "what must happen")``. While the suite runs,
conftest.py records for each probe whether it passed, how long it took and how many bad files
it found at a final path (``bad_final_files``); at the end of the session the results go to
``bench/results/reliability.json``. Then::

    python tests/support/reliability.py  # rewrite the docs' reliability table from them

The table lists every probe; tests/test_docs.py checks that it does, with 0 bad files.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent.parent
FAULTS = ROOT / "tests" / "test_faults.py"
RESULTS = ROOT / "bench" / "results" / "reliability.json"
TABLE_PAGE = ROOT / "docs" / "explanation" / "reliability.md"
START, END = "<!-- reliability table: start -->", "<!-- reliability table: end -->"

#: test function name -> (probe, expected outcome), in the order the tests are defined
PROBES: dict[str, tuple[str, str]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def probe(what: str, outcome: str) -> Callable[[F], F]:
    """Mark a test as a reliability probe: what it tries and what must happen."""

    def mark(func: F) -> F:
        PROBES[func.__name__] = (what, outcome)
        return func

    return mark


_CACHE_FILE = re.compile(r"(?:^|/)([a-z0-9_]+)/([0-9a-f]{2})/([0-9a-f]+)/[^/]+$")


def bad_final_files(roots: Iterable[Path], files: Mapping[str, bytes]) -> list[str]:
    """Files at a final path under ``roots`` whose bytes are not what they should be.

    A final path is any file that is not a dot file (part, lock and temp files are) or the
    cache's own bookkeeping. In the cache layout ``ALG/XX/HEX/BASE`` the content must hash
    to HEX; elsewhere the path relative to its root is a registry NAME and the content must
    equal that file's bytes (names not in ``files`` must not exist at all).
    """
    bad = []
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_dir() or path.name.startswith(".") or path.name in _BOOKKEEPING:
                continue
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                bad.append(rel)
                continue
            m = _CACHE_FILE.search(rel)
            if m and m[2] == m[3][:2]:
                if hashlib.new(m[1], path.read_bytes()).hexdigest() != m[3]:
                    bad.append(rel)
            elif files.get(rel) != path.read_bytes():
                bad.append(rel)
    return bad


_BOOKKEEPING = {"verified.json", "verified.log", "CACHEDIR.TAG"}


def render(
    results: Mapping[str, Mapping[str, Any]], probes: Mapping[str, tuple[str, str]]
) -> list[str]:
    """The docs table: one row per probe, in definition order."""
    rows = [
        "| # | probe | outcome | time | bad files at a final path |",
        "|---|---|---|---|---|",
    ]
    for i, (test, (what, outcome)) in enumerate(probes.items(), 1):
        result = results.get(test, {})
        passed = result.get("outcome") == "passed"
        seconds = result.get("seconds")
        time = f"{seconds:.2f} s" if passed and seconds is not None else "not run"
        bad = result.get("bad", "not checked") if passed else "not run"
        rows.append(f"| {i} | {what} | {outcome} | {time} | {bad} |")
    return rows


def declared_probes(path: Path = FAULTS) -> dict[str, tuple[str, str]]:
    """The ``@probe(what, outcome)`` tests of the fault suite, in order, read from its
    source (no test module is imported)."""
    import ast

    out = {}
    for node in ast.parse(path.read_text()).body:
        for d in getattr(node, "decorator_list", ()):
            if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "probe":
                what, outcome = (ast.literal_eval(a) for a in d.args)
                out[node.name] = (what, outcome)  # type: ignore[attr-defined]
    return out


def main() -> int:
    probes = declared_probes()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    missing = [t for t in probes if results.get(t, {}).get("outcome") != "passed"]
    if missing:
        print(f"not passed in {RESULTS}: {', '.join(missing)}", file=sys.stderr)
        return 1
    text = TABLE_PAGE.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    table = "\n".join(render(results, probes))
    TABLE_PAGE.write_text(text[:start] + "\n" + table + "\n" + text[end:])
    print(f"{TABLE_PAGE.relative_to(ROOT)}: {len(probes)} probes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
