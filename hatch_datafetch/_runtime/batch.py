"""Many files at once: ``fetch_all``'s and ``verify``'s worker pools, and :class:`VerifyReport`.

The public methods are :meth:`.lookup.Locator.fetch_all` and :meth:`.lookup.Locator.verify`;
their work is here, imported at their first call, so that a warm ``fetch`` of one file
neither imports nor compiles it. Every file is attempted; Ctrl-C stops every worker within
a second. What only the Locator knows (fetching with archives served unpacked, an archive's
verify rows) comes in as callables, so that this module stays below :mod:`.lookup`.
"""

from __future__ import annotations

import os

from .fs import safe_join
from .memo import check

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from .chain import Chain
    from .progress import Progress

    Rows = list[tuple[str, str, str | None, str]]  # verify rows: NAME, status, path, actual


class VerifyReport:
    """Result of `verify`: names that are ok, missing, or bad (name, path, actual hash)."""

    def __init__(self) -> None:
        self.ok: list[str] = []
        self.missing: list[str] = []
        self.bad: list[tuple[str, str, str]] = []

    def __bool__(self) -> bool:
        return not (self.missing or self.bad)

    def __repr__(self) -> str:
        return f"VerifyReport(ok={len(self.ok)}, missing={self.missing!r}, bad={self.bad!r})"

    def add(self, name: str, status: str, path: str | None, actual: str) -> None:
        if status == "ok":
            self.ok.append(name)
        elif status == "missing":
            self.missing.append(name)
        else:
            self.bad.append((name, path or "", actual))


def fetch_all(
    loc: Chain,
    fetch: Callable[[str, str | None, Progress, int], Path],
    dest: str | os.PathLike[str] | None,
    jobs: int | None,
    names: Iterable[str] | None,
) -> dict[str, Path]:
    """:meth:`.lookup.Locator.fetch_all`: every file attempted, on ``jobs`` threads."""
    from .errors import DataNotFoundError, FetchErrors, HashMismatchError
    from .progress import Progress

    todo = sorted(loc.files) if names is None else [loc.require_known(n) for n in names]
    jobs = loc.jobs if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    dest_root = None if dest is None else os.path.abspath(os.fspath(dest))
    sizes = [(loc.files.get(n) or {}).get("size") for n in todo]  # (a member: None)
    total = sum(s for s in sizes if s) if all(s is not None for s in sizes) else None
    progress = Progress(total, len(todo), loc.progress)
    segments = max(1, min(jobs, 8))
    results: dict[str, Path] = {}
    errors: dict[str, BaseException] = {}

    def one(name: str) -> None:
        try:
            results[name] = fetch(name, dest_root, progress, segments)
        except (DataNotFoundError, HashMismatchError, OSError, ValueError) as e:
            errors[name] = e
        finally:
            progress.file_done()

    try:
        run_all(one, todo, jobs, loc)
    finally:
        progress.close()
        loc._memo.flush()
    if len(errors) == 1:
        raise next(iter(errors.values()))
    if errors:
        raise FetchErrors(errors)
    return {n: results[n] for n in todo}


def verify(
    loc: Chain, archive_rows: Callable[[str, str | None], Rows], root: str | None, jobs: int
) -> VerifyReport:
    """Re-hash every file in ``root`` (laid out by NAME), or its first local copy along the
    lookup chain; archives member by member (:meth:`.unpacked.Archives.verify_rows`)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> Rows:
        if loc.files[name].get("unpack"):
            loc.require_known(name)
            return archive_rows(name, root)
        expected = loc.expected_hash(name)
        if root is not None:
            paths = [safe_join(root, name)]
        else:
            paths = [p for _, p in loc._local_candidates(name)] + [loc._cache_path(name)]
        bad: tuple[str, str] | None = None
        for path in paths:
            found = check(path, expected, loc._memo, rehash=True)
            if found.ok:
                return [(name, "ok", None, "")]
            if found.state == "bad" and bad is None:
                bad = (path, found.error or found.actual)
        return [(name, "bad", bad[0], bad[1]) if bad else (name, "missing", None, "")]

    report = VerifyReport()
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for rows in pool.map(one, sorted(loc.files)):
                for row in rows:
                    report.add(*row)
    finally:
        loc._memo.flush()
    return report


def run_all(one: Any, todo: list[str], jobs: int, loc: Chain) -> None:
    """``one(name)`` for every name, on ``jobs`` threads; Ctrl-C stops every worker within
    a second, and the workers' connections are closed at the end."""
    import _thread
    from concurrent.futures import ThreadPoolExecutor

    workers: set[int] = set()

    def run(name: str) -> None:
        workers.add(_thread.get_ident())
        one(name)

    try:
        if jobs == 1 or len(todo) <= 1:
            for name in todo:
                run(name)
        else:
            with ThreadPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
                try:
                    list(pool.map(run, todo))
                except BaseException:
                    loc.cancel.set()
                    raise
    finally:
        if loc._downloader is not None:
            loc._downloader.client.close_threads(workers - {_thread.get_ident()})
