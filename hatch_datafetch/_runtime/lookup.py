"""The locator: one registry's files found, verified, and downloaded into the cache.

:class:`Locator` is the public class: the single-file chain (:class:`~.chain.Chain`) with
archives served unpacked on top (:mod:`.unpacked`, imported only for an archive), many files
at once (``fetch_all``), ``verify`` and ``where``.
"""

from __future__ import annotations

import os

from .chain import Chain
from .fs import safe_join
from .memo import check

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any

    from .memo import Candidate
    from .poochlike import PoochLike
    from .progress import Progress
    from .unpacked import Archives


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


class Locator(Chain):
    """Finds, downloads and verifies the files of one registry (see :class:`~.chain.Chain`
    for the settings); an entry with ``unpack`` is served as its verified member tree."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._archives: Archives | None = None

    @property
    def archives(self) -> Archives:
        """The archive layer (:mod:`.unpacked`), made on first use."""
        if self._archives is None:
            from .unpacked import Archives

            with self._lock:
                if self._archives is None:
                    self._archives = Archives(self)
        return self._archives

    # ------------------------------------------------------------------ public API

    @property
    def registry(self) -> dict[str, str]:
        """NAME -> ``alg:hex`` for every file in the registry."""
        return {name: self._expected(name) for name in self.files}

    def fetch(self, name: str) -> Path:
        """Return a local, hash-verified path for NAME, downloading it if needed."""
        quick = self._quick(name)
        if quick is not None:
            return quick
        try:
            return self._fetch(name, None)
        finally:
            self._memo.flush()

    def fetch_file(self, name: str) -> Path:
        """The registry file NAME as the one file its hash is of (an archive itself, never
        unpacked), from the local sources, the cache or the network: what ``hatch-datafetch
        push`` uploads."""
        self.require_known(name)
        if name not in self.files:
            raise ValueError(f"{name!r} is an archive member, not a registry file")
        try:
            return self._fetch_file(name, None)
        finally:
            self._memo.flush()

    def fetch_all(
        self,
        dest: str | os.PathLike[str] | None = None,
        jobs: int | None = None,
        names: Iterable[str] | None = None,
    ) -> dict[str, Path]:
        """Fetch many files in parallel; with ``dest``, lay them out as ``dest/NAME``.

        Every file is attempted. One failure raises that file's error; several raise
        :class:`FetchErrors`, whose ``errors`` maps each failed NAME to its error.
        """
        from .errors import DataNotFoundError, FetchErrors, HashMismatchError
        from .progress import Progress

        todo = sorted(self.files) if names is None else [self.require_known(n) for n in names]
        jobs = self.jobs if jobs is None else jobs
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        dest_root = None if dest is None else os.path.abspath(os.fspath(dest))
        sizes = [(self.files.get(n) or {}).get("size") for n in todo]  # (a member: None)
        total = sum(s for s in sizes if s) if all(s is not None for s in sizes) else None
        progress = Progress(total, len(todo), self.progress)
        segments = max(1, min(jobs, 8))
        results: dict[str, Path] = {}
        errors: dict[str, BaseException] = {}

        def one(name: str) -> None:
            try:
                results[name] = self._fetch(name, dest_root, progress, segments)
            except (DataNotFoundError, HashMismatchError, OSError, ValueError) as e:
                errors[name] = e
            finally:
                progress.file_done()

        try:
            _run_all(one, todo, jobs, self)
        finally:
            progress.close()
            self._memo.flush()
        if len(errors) == 1:
            raise next(iter(errors.values()))
        if errors:
            raise FetchErrors(errors)
        return {n: results[n] for n in todo}

    def verify(self, dir: str | os.PathLike[str] | None = None, jobs: int = 8) -> VerifyReport:
        """Re-hash files and report which are ok, missing or bad.

        With ``dir``: the tree ``dir/NAME``. Without: the first local copy of each file
        along the lookup chain (nothing is downloaded). An unpacked archive is reported
        member by member (``NAME/member``) when a tree of it is found, else as NAME.
        """
        return _verify(self, None if dir is None else os.fspath(dir), jobs)

    def where(self, name: str) -> list[Candidate]:
        """Every place NAME is looked for, in order, with what was found there."""
        self.require_known(name)
        archive, member = self.entries.member_of.get(name, (name, None))
        if not self.files[archive].get("unpack"):
            return super().where(name)
        out = self.archives.where(archive, member)
        found = any(c.status.startswith("ok") for c in out)
        return out + self._where_places(archive, [], found)  # then the archive's URLs

    def as_pooch(self) -> PoochLike:
        """An object with :class:`pooch.Pooch`'s interface over this registry and lookup
        chain (:mod:`.poochlike`): code written against ``pooch.create(...)`` runs on it."""
        from .poochlike import PoochLike

        return PoochLike(self)

    def members(self, name: str) -> dict[str, str] | None:
        """``member -> alg:hex`` of an unpacked registry archive NAME as the registry lists
        them; None for a plain file or an archive whose members the registry omits."""
        self.require_known(name)
        found = self.entries.members.get(name)
        return dict(found) if found is not None else None

    def member_paths(self, name: str) -> dict[str, Path]:
        """``member -> verified path`` of every member of the unpacked archive NAME
        (unpacked, and downloaded first, if needed)."""
        self.require_known(name)
        if not self.files[name].get("unpack"):
            raise ValueError(f"{name!r} is not an archive to unpack (no 'unpack' in the registry)")
        try:
            return self.archives.member_paths(name)
        finally:
            self._memo.flush()

    def _fetch(
        self, name: str, dest: str | None, progress: Progress | None = None, segments: int = 4
    ) -> Path:
        from pathlib import Path

        self.require_known(name)
        archive, member = self.entries.member_of.get(name, (name, None))
        spec = self.files[archive]
        keep = not self.unpack_unlisted and member is None and spec.get("members") is None
        if spec.get("unpack") and not keep:
            return Path(self.archives.fetch(archive, member, dest, progress, segments))
        return self._fetch_file(name, dest, progress, segments)


def _verify(loc: Locator, root: str | None, jobs: int) -> VerifyReport:
    """Re-hash every file in ``root`` (laid out by NAME), or its first local copy along the
    lookup chain; archives member by member (:meth:`.unpacked.Archives.verify_rows`)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> list[tuple[str, str, str | None, str]]:
        if loc.files[name].get("unpack"):
            loc.require_known(name)
            return loc.archives.verify_rows(name, root)
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


def _run_all(one: Any, todo: list[str], jobs: int, loc: Locator) -> None:
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
