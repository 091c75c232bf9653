"""The locator: one registry's files found, verified, and downloaded into the cache.

:class:`Locator` walks the lookup chain (:mod:`.sources`), then the user cache, then the
network (:mod:`.download`, loaded only when a download is needed); archives are a layer on
top (:mod:`.unpacked`). It turns the lower layers' failures into the public errors, with
advice that fits the case (:mod:`.advice`).
"""

from __future__ import annotations

import os

from .config import Entries, RuntimeConfig
from .errors import STRICT_HINT, DataNotFoundError, DataWarning, FetchErrors, HashMismatchError
from .fs import Cancel, safe_join
from .layout import Layout, user_cache_dir
from .memo import Memo, check
from .sources import Candidate, Source, chain

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from .download import Downloader
    from .progress import Progress
    from .report import VerifyReport
    from .retry import RetryPolicy
    from .unpacked import Archives

_TRUE = ("1", "true", "yes", "on")


class Locator:
    """Finds, downloads and verifies the files of one registry.

    ``config`` is the runtime JSON (:class:`~.config.RuntimeConfig`, or its dict).

    ``search_installed=False`` skips the sources of an installed package (the package, its
    data wheels, the env var and system dirs), which the build tool has not; ``sources`` are
    further dirs laid out by NAME, looked at first; ``offline`` never downloads (nor does
    ``HATCH_DATAFETCH_OFFLINE=1``); ``strict`` makes a bad local copy an error instead of a
    skipped warning; ``unpack_unlisted=False`` serves an archive whose members the registry
    does not list as the archive itself (what builds ship), not unpacked; ``jobs`` is the
    default parallelism of :meth:`fetch_all`.

    Downloads: ``timeout`` s without 1 KiB of progress end an attempt; ``retries`` retries
    per URL with backoff from ``backoff`` s doubling up to ``max_backoff`` (a server's
    ``Retry-After`` is honoured up to ``max_retry_after`` s); a body is never let past the
    registry's size, else its Content-Length, else the config's ``max_size`` (20 GB).
    """

    def __init__(
        self,
        config: RuntimeConfig | Mapping[str, Any],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        progress: bool | None = None,
        search_installed: bool = True,
        sources: Sequence[str | os.PathLike[str]] = (),
        offline: bool = False,
        strict: bool = False,
        unpack_unlisted: bool = True,
        jobs: int = 8,
    ) -> None:
        self.config = config = RuntimeConfig.from_json(config)
        self.files: Mapping[str, Mapping[str, Any]] = config.files
        self.data_name = config.data_name
        self.environ = os.environ if environ is None else environ
        root = cache_dir or os.path.join(user_cache_dir(self.environ), self.data_name)
        self.cache_root = os.path.abspath(root)  # normalised: cache paths are memo keys as is
        self.layout = Layout(self.cache_root)
        self.progress, self.jobs, self.timeout = progress, jobs, timeout
        self.search_installed = search_installed
        self.sources = [os.fspath(d) for d in sources]
        switch = self.environ.get("HATCH_DATAFETCH_OFFLINE", "").strip().lower()
        self.offline = offline or switch in _TRUE  # one switch for builds and run time
        self.strict, self.unpack_unlisted = strict, unpack_unlisted
        self._retry = (retries, backoff, max_backoff, max_retry_after)
        self._policy: RetryPolicy | None = None
        self.cancel = Cancel()
        self.entries = Entries(self.files, self.data_name)
        self.chain = chain(config, self.files, self.environ, self.sources, search_installed)
        self._memo = Memo.at(self.layout.memo)
        self._downloader: Downloader | None = None
        self._archives: Archives | None = None
        self._plain: dict[str, tuple[str, str]] = {}  # NAME -> (hash, cache path): plain files
        self._live: list[Source] | None = None
        import _thread

        self._lock = _thread.allocate_lock()  # the lazy parts are made once, by one worker

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of every download (:mod:`.retry`), made on first use."""
        if self._policy is None:
            from .retry import RetryPolicy

            self._policy = RetryPolicy(*self._retry)
        return self._policy

    @property
    def downloader(self) -> Downloader:
        """The download engine, made (and its modules imported) on first use."""
        if self._downloader is not None:
            return self._downloader
        from .download import Downloader

        with self._lock:
            if self._downloader is not None:
                return self._downloader
            self._downloader = Downloader(
                timeout=self.timeout,
                policy=self.policy,
                cancel=self.cancel,
                max_size=self.config.max_size,
                user_agent=f"hatch-datafetch/1 ({self.config.package or self.data_name}; "
                f"{self.data_name})",
                environ=self.environ,
            )
        return self._downloader

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
        from .report import verify

        return verify(self, None if dir is None else os.fspath(dir), jobs)

    def where(self, name: str) -> list[Candidate]:
        """Every place NAME is looked for, in order, with what was found there."""
        from .report import where

        return where(self, name)

    def urls(self, name: str) -> list[str]:
        """Candidate URLs for NAME, in the order they are tried."""
        from .config import candidate_urls

        env_url = self.config.url_env_var
        return candidate_urls(
            name,
            self.files[name].get("url"),
            self.config.base_url,
            self.config.mirrors,
            override=self.environ.get(env_url) if env_url else None,
        )

    def require_known(self, name: str) -> str:
        """NAME itself, or :class:`UnknownFileError` with the closest names; a ValueError
        when the registry JSON gives it an unsafe name or a malformed hash."""
        return self.entries.require_known(name)

    def knows(self, name: str) -> bool:
        """Is NAME a registry file or a member of an unpacked registry archive?"""
        return self.entries.knows(name)

    def expected_hash(self, name: str) -> str:
        """The registry's ``alg:hex`` of NAME (a file, an archive or ``ARCHIVE/member``)."""
        return self._expected(name)

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

    # ------------------------------------------------------------------ the chain

    def _expected(self, name: str) -> str:
        return self.entries.expected(name)

    def _local_candidates(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        """(source label, path) of the local sources, in order (``every``: also system
        dirs that do not exist, for `where`)."""
        if every:
            for source in self.chain:
                yield from source.places(name, every)
            return
        if self._live is None:  # sources that can hold files at all (found once)
            self._live = [s for s in self.chain if not s.idle()]
        for source in self._live:
            yield from source.places(name)

    def _cache_path(self, name: str) -> str:
        return self.layout.file(self._expected(name), name)

    def _tree_path(self, name: str) -> str:
        """The cache's tree of the archive NAME: ``<hash dir>/<basename>.d``."""
        return self.layout.tree(self._expected(name), name)

    def _quick(self, name: str) -> Path | None:
        """The warm path: NAME's first place along the chain when the memo vouches for the
        copy there, unchanged since it was verified (one stat, no hashing). None when the
        first copy found is not vouched for, or there is none: :meth:`_fetch` decides."""
        plain = self._plain.get(name)
        if plain is None:
            spec = self.files.get(name)
            if spec is None or spec.get("unpack"):
                return None  # members, archives, unknown names: the full path says what they are
            self.entries.require_known(name)
            expected = self.entries.checked[name]
            plain = self._plain[name] = (expected, self.layout.file(expected, name))
        expected, cache = plain
        from pathlib import Path

        for _label, path in self._local_candidates(name):
            try:
                st = os.stat(path)
            except OSError:
                continue
            if self._memo.known(os.path.abspath(path), st, expected):
                return Path(path)
            return None  # a copy the memo does not know: hashed, maybe warned of, by _fetch
        try:
            st = os.stat(cache)
        except OSError:
            return None
        return Path(cache) if self._memo.known(cache, st, expected) else None

    def _is_valid_copy(self, name: str, path: str, label: str | None = None) -> bool:
        """Is ``path`` a regular file with NAME's hash? A bad copy found at a ``label``ed
        source warns (or, when strict, raises); without a label it is silently not valid."""
        expected = self._expected(name)
        found = check(path, expected, self._memo)
        if found.state != "bad":
            return found.ok
        if label and self.strict:
            raise HashMismatchError(name, expected, found.actual, f"{label} {path}", STRICT_HINT)
        if label:
            import warnings

            problem = found.problem(expected)
            warnings.warn(f"skipping {path} ({label}): {problem}", DataWarning, stacklevel=4)
        return False

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

    def _fetch_file(
        self,
        name: str,
        dest: str | None,
        progress: Progress | None = None,
        segments: int = 4,
        local: bool = True,
    ) -> Path:
        """NAME as one file (a plain file, or an archive itself): from ``dest``, the local
        sources (unless not ``local``), the user cache, else downloaded."""
        from pathlib import Path

        if dest is not None:
            target = safe_join(dest, name)
            if self._is_valid_copy(name, target):
                return Path(target)
        cache = self._cache_path(name)
        places = [*(self._local_candidates(name) if local else ()), ("user cache", cache)]
        for label, path in places:
            if self._is_valid_copy(name, path, label):
                if dest is None:
                    return Path(path)
                uri = Path(os.path.abspath(path)).as_uri()
                return self._download(name, target, dest, [uri], progress, segments)
        from . import advice

        urls = self.urls(name)
        if self.offline:  # never a connection; a file:// URL (a mounted mirror) is no network
            urls = [u for u in urls if u.startswith("file:")]
            if not urls:
                raise DataNotFoundError(advice.offline(self, name), name)
        if not urls:
            raise DataNotFoundError(advice.not_found(self.config, name, "it has no URL"), name)
        if dest is not None:
            return self._download(name, target, dest, urls, progress, segments)
        self.layout.tag()
        try:
            return self._download(name, cache, self.cache_root, urls, progress, segments)
        except BaseException:
            for d in (os.path.dirname(cache), os.path.dirname(os.path.dirname(cache))):
                try:  # leave no empty hash directories behind
                    os.rmdir(d)
                except OSError:
                    break
            raise

    def _download(
        self,
        name: str,
        final: str,
        root: str,
        urls: Sequence[str],
        progress: Progress | None,
        segments: int,
    ) -> Path:
        """Download NAME into ``final`` (inside ``root``); turn the downloader's failures
        into user errors whose advice fits the failure."""
        from pathlib import Path

        from .progress import Progress

        size = self.entries.size(name)  # (an archive member has no registry entry)
        own_progress = progress is None
        if progress is None:
            small = self.progress is None and size is not None and size < 8 << 20
            progress = Progress(size, 1, False if small else self.progress)
        expected = self._expected(name)
        try:
            done = self.downloader.download(
                final, root, urls, expected, size, progress,
                lambda: self._is_valid_copy(name, final), segments,
            )  # fmt: skip
        except Exception as e:
            from .advice import download_error

            error = download_error(self.config, name, final, expected, e)
            if error is None:
                raise
            raise error from None
        finally:
            if own_progress:
                progress.file_done()
                progress.close()
        if done:
            self._memo.record(os.path.abspath(final), os.stat(final), expected)
        return Path(final)


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
