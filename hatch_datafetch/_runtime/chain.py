"""The lookup chain: where a file is looked for, in order, and the class that walks it.

The sources, as objects: a :class:`Source` yields ``(label, path)`` places where NAME may be,
laid out by NAME, and says why it has nothing to look at (:meth:`Source.skipped`, for
``where``). Order: :class:`SourceDirs` (a build's dirs), then for an installed package
:class:`PackageBundle`, :class:`DataWheels`, :class:`EnvDirs`, :class:`SystemDirs`; then,
for both, :class:`ReadonlyCaches` (``HATCH_DATAFETCH_READONLY_CACHES``).

:class:`Chain` finds one registry file along them, then in the user cache. A copy the
memo vouches for is served here with one ``stat`` (:meth:`Chain._quick`, the warm path);
each copy is checked with :func:`.memo.check` (:meth:`Chain._is_valid_copy`). Finding a
file that the memo cannot vouch for, or downloading it, is the chain's cold half, a layer on
top (:mod:`.getfile`, imported only then). The chain knows nothing of archives: the archive
layer (:mod:`.unpacked`) and the public :class:`~.lookup.Locator` stand on top of it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path  # what fetch returns: imported with the first fetch, not before

from .config import Entries, RuntimeConfig, install_name
from .fs import Cancel, safe_join
from .layout import READONLY_VAR, TREE_SUFFIX, Layout, cache_root, readonly_roots
from .memo import Candidate, Memo, check

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from .download import Downloader
    from .retry import RetryPolicy


_WARNED_STALE: set[str] = set()  # packages whose data wheels were reported out of date
#: The label of an out-of-date data wheel ends so: its bad copies are skipped quietly.
STALE = " (out of date)"


class Source:
    """One step of the lookup chain."""

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        """``(label, path)`` where NAME may be (``every``: also places that do not exist,
        for ``where``)."""
        return iter(())

    def skipped(self, name: str) -> Candidate | None:
        """Why this source has nothing to look at for NAME, or None."""
        return None

    def idle(self) -> bool:
        """True when this source can hold no file at all (the lookup skips it)."""
        return False


class SourceDirs(Source):
    """Directories laid out by NAME that a build names (``HATCH_DATAFETCH_SOURCE``, an
    unpacked sdist's bundle)."""

    def __init__(self, dirs: Sequence[str]) -> None:
        self.dirs = list(dirs)

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        for d in self.dirs:
            yield "source dir", safe_join(d, name)

    def idle(self) -> bool:
        return not self.dirs


class PackageBundle(Source):
    """The files inside the package (wheel ``bundle`` mode), joined part by part through
    ``importlib.resources``, so that editable installs whose package root is not one
    directory (meson-python) still give a real path."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.package = config.package
        self.bundled = config.bundled

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        if not (self.bundled and self.package):
            return
        safe_join("", name)  # validate before joining
        from .config import package_files

        try:
            node: Any = package_files(self.package)
            for part in name.split("/"):
                node = node.joinpath(part)
        except (ImportError, TypeError, ValueError):
            return
        if isinstance(node, os.PathLike):
            yield "package bundle", os.fspath(node)

    def skipped(self, name: str) -> Candidate | None:
        return None if self.bundled else Candidate("package bundle", "", "not configured")

    def idle(self) -> bool:
        return not (self.bundled and self.package)


class DataWheels(Source):
    """The installed companion data wheels (each part an import package holding files by
    NAME). When the first of them is looked at, every installed part is checked against the
    registry the package was built with: parts built from another one give one warning, with
    the command, and their labels say ``(out of date)`` (a copy there that no longer matches
    is skipped without a warning of its own)."""

    def __init__(self, config: RuntimeConfig, files: Mapping[str, Mapping[str, Any]]) -> None:
        self.config, self.files = config, files
        self.roots: dict[str, str | None] | None = None
        self.stale: set[str] = set()

    def package_of(self, name: str) -> str | None:
        """The import package of the data wheel part that holds NAME."""
        parts = self.config.data_parts
        if not parts:
            return self.config.data_package
        i = (self.files.get(name) or {}).get("part")
        return parts[i] if type(i) is int and 0 <= i < len(parts) else None

    def idle(self) -> bool:
        return not (self.config.data_parts or self.config.data_package)

    def root(self, name: str) -> str | None:
        package = self.package_of(name)
        if not package:
            return None
        if self.roots is None:
            packages = self.config.data_parts or [self.config.data_package or ""]
            self.roots = {p: _package_dir(p) for p in packages if p}
            self._check_stale()
        return self.roots.get(package)

    def label(self, package: str | None) -> str:
        return f"companion data package {package}" + (STALE if package in self.stale else "")

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        root = self.root(name)
        if root:
            yield self.label(self.package_of(name)), safe_join(root, name)

    def skipped(self, name: str) -> Candidate | None:
        if self.root(name) is not None:
            return None
        extra, top = self.config.extra, install_name(self.config)
        why = f"not installed (pip install '{top}[{extra}]')" if extra else "not installed"
        return Candidate(f"companion data package {self.package_of(name)}", "", why)

    def _check_stale(self) -> None:
        """Find the installed parts built from another registry (``pip install -U pkg``
        does not upgrade the packages of an extra) and warn once per process."""
        from .layout import manifest, read_json

        want, wanted = self.config.registry_hash, self.config.data_version
        found = []
        for package, root in sorted((self.roots or {}).items()):
            info = manifest(read_json(os.path.join(root, "_manifest.json"))) if root else None
            if info is not None and want and info.registry_hash != want:
                self.stale.add(package)  # (no readable manifest: files are checked one by one)
                found.append(f"{info.data_name} {info.data_version}")
        top = str(self.config.package or "").split(".")[0]
        if not found or top in _WARNED_STALE:
            return
        _WARNED_STALE.add(top)
        from .errors import warn

        project = install_name(self.config)
        extra = self.config.extra or "data"
        several = len(found) > 1
        names = ", ".join(found[:-1]) + f" and {found[-1]}" if several else found[0]
        warn(
            f"{names} {'are' if several else 'is'} installed, but {top} was built for data "
            f"version {wanted} (another registry): run  pip install -U '{project}[{extra}]'  to "
            f"update {'them' if several else 'it'}. Until then {'their' if several else 'its'} "
            "files whose hashes still match are used; the others are looked for elsewhere."
        )


class EnvDirs(Source):
    """The directories in the data env var (``os.pathsep``-separated), read at each call."""

    def __init__(self, env_var: str | None, environ: Mapping[str, str]) -> None:
        self.env_var, self.environ = env_var, environ
        # At each warm fetch, and mostly unset: os.environ.get of an unset variable raises and
        # catches a KeyError inside (0.6 us). CPython's and PyPy's os.environ keep the live
        # table that os.environ[...] reads (updated by every assignment and deletion, as
        # monkeypatch makes them): a name not in it is unset, at once.
        self._table: Any = None
        self._key: Any = None
        if env_var and environ is os.environ:
            table, encodekey = getattr(environ, "_data", None), getattr(environ, "encodekey", None)
            if isinstance(table, dict) and callable(encodekey):
                self._table, self._key = table, encodekey(env_var)

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        if self._table is not None and self._key not in self._table:
            return iter(())  # unset (no generator: this runs on every warm fetch)
        value = self.environ.get(self.env_var, "") if self.env_var else ""
        if not value:
            return iter(())
        label = f"${self.env_var}"
        return iter([(label, safe_join(d, name)) for d in value.split(os.pathsep) if d])

    def skipped(self, name: str) -> Candidate | None:
        if self.env_var and not self.environ.get(self.env_var):
            return Candidate(f"${self.env_var}", "", "not set")
        return None

    def idle(self) -> bool:
        return not self.env_var


class SystemDirs(Source):
    """``system-dirs`` (``{prefix}`` = ``sys.prefix``), then ``{sys.prefix}/share/<data-name>``;
    those that exist are found once per locator (no stat of a missing tree per file)."""

    def __init__(self, config: RuntimeConfig) -> None:
        prefix = sys.prefix
        self.dirs = [d.replace("{prefix}", prefix) for d in config.system_dirs]
        self.dirs.append(os.path.join(prefix, "share", config.data_name))
        self.existing: list[str] | None = None

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        for d in self.dirs if every else self._existing():
            yield "system dir", safe_join(d, name)

    def _existing(self) -> list[str]:
        if self.existing is None:
            self.existing = [d for d in self.dirs if os.path.isdir(d)]
        return self.existing

    def idle(self) -> bool:
        return not self._existing()


class ReadonlyCaches(Source):
    """Read-only caches: the dirs in ``HATCH_DATAFETCH_READONLY_CACHES`` (``os.pathsep``-
    separated, read when the locator is made, as ``HATCH_DATAFETCH_CACHE_DIR`` is), each
    holding ``<dir>/<data-name>`` in the user cache's layout (a site-wide store that an
    admin fills once). They are only read: what is verified there is remembered in the user
    cache's memo, and nothing (memo, lock, part file, CACHEDIR.TAG) is ever written there. An
    archive whose registry lists its members is served from its unpacked tree there when
    there is one, else from the archive itself (unpacked into the user cache)."""

    LABEL = "read-only cache"

    def __init__(self, entries: Entries, environ: Mapping[str, str], own_root: str) -> None:
        self.entries = entries
        roots = readonly_roots(environ.get(READONLY_VAR, ""), entries.data_name)
        self.layouts = [Layout(r) for r in roots if r != own_root]

    def idle(self) -> bool:
        return not self.layouts

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        spec = self.entries.files.get(name)
        if not self.layouts or spec is None:
            return iter(())
        return self._places(name, spec, self.layouts)

    def _places(
        self, name: str, spec: Mapping[str, Any], layouts: list[Layout]
    ) -> Iterator[tuple[str, str]]:
        expected = self.entries.expected(name)
        trees = bool(spec.get("unpack")) and spec.get("members") is not None
        for layout in layouts:
            path = layout.file(expected, name)
            if trees and os.path.isdir(path + TREE_SUFFIX):
                path += TREE_SUFFIX
            yield self.LABEL, path

    def skipped(self, name: str) -> Candidate | None:
        return None if self.layouts else Candidate(f"${READONLY_VAR}", "", "not set")


def _package_dir(package: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(next(iter(spec.submodule_search_locations)))


def chain(
    config: RuntimeConfig,
    files: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    source_dirs: Sequence[str],
    installed: bool,
) -> list[Source]:
    """The local sources of a locator, in lookup order (``installed``: the run-time sources
    of an installed package, which a build has not)."""
    out: list[Source] = [SourceDirs(source_dirs)]
    if installed:
        out += [
            PackageBundle(config),
            DataWheels(config, files),
            EnvDirs(config.env_var, environ),
            SystemDirs(config),
        ]
    return out


class Chain:
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
        root = cache_dir or cache_root(self.data_name, self.environ)
        self.cache_root = os.path.abspath(root)  # normalised: cache paths are memo keys as is
        self.layout = Layout(self.cache_root)
        self.progress, self.jobs, self.timeout = progress, jobs, timeout
        self.search_installed = search_installed
        self.sources = [os.fspath(d) for d in sources]
        self._offline = offline
        self.strict, self.unpack_unlisted = strict, unpack_unlisted
        self._retry = (retries, backoff, max_backoff, max_retry_after)
        self._policy: RetryPolicy | None = None
        self.cancel = Cancel()
        self.entries = Entries(self.files, self.data_name)
        self.chain = chain(config, self.files, self.environ, self.sources, search_installed)
        self.chain.append(ReadonlyCaches(self.entries, self.environ, self.cache_root))
        self._memo = Memo.at(self.layout.memo)
        self._downloader: Downloader | None = None
        # plain NAME -> (hash, cache path, the part below the root): a warm fetch returns
        # root / part, which parses the part alone (Path(cache path) parses all of it again);
        # root + os.sep, so that a root of "/" gives "//" as Path("//sha256/...") does
        self._plain: dict[str, tuple[str, str, str]] = {}
        self._root_path = Path(self.cache_root + os.sep)
        self._live: list[Source] | None = None
        import _thread

        self._lock = _thread.allocate_lock()  # the lazy parts are made once, by one worker

    @property
    def offline(self) -> bool:
        """Never download: the ``offline`` argument, or ``HATCH_DATAFETCH_OFFLINE`` (one
        switch for builds and run time, read at each use)."""
        from .config import env_switch

        return self._offline or env_switch(self.environ, "HATCH_DATAFETCH_OFFLINE")

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
        from .auth import Auth
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
                auth=Auth.for_config(self.config, self.environ),  # private data (SPEC §14)
            )
        return self._downloader

    def urls(self, name: str, every: bool = False) -> list[str]:
        """Candidate URLs for NAME, in the order they are tried (``every``: also the OCI
        mirrors that cannot address it, which ``where`` lists as skipped)."""
        from .config import candidate_urls

        env_url = self.config.url_env_var
        return candidate_urls(
            name,
            self.files[name].get("url"),
            self.config.base_url,
            self.config.mirrors,
            override=self.environ.get(env_url) if env_url else None,
            expected=str(self.files[name].get("hash") or ""),
            every=every,
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

    def where(self, name: str) -> list[Candidate]:
        """Every place NAME (a plain file) is looked for, in order, with what is there."""
        self.require_known(name)
        places = [*self._sources_in_order(name), ("user cache", self._cache_path(name))]
        return self._where_places(name, places)

    def _sources_in_order(self, name: str) -> list[Candidate | tuple[str, str]]:
        """For ``where``: each source's places (even missing ones), or why it has none."""
        out: list[Candidate | tuple[str, str]] = []
        for source in self.chain:
            skipped = source.skipped(name)
            if skipped is not None:
                out.append(skipped)
            else:
                out.extend(source.places(name, every=True))
        return out

    def _where_places(
        self, name: str, places: list[Candidate | tuple[str, str]], found: bool = False
    ) -> list[Candidate]:
        """``where`` of ``places`` (a skipped source stays as it is), then of NAME's URLs;
        ``found``: an earlier place serves it already."""
        from .advice import url_status

        out = []
        for place in places:
            if isinstance(place, Candidate):
                out.append(place)
                continue
            label, path = place
            status = check(path, self._expected(name), self._memo).status()
            if status == "ok":
                status = "ok (shadowed)" if found else "ok: fetch() returns this"
                found = True
            out.append(Candidate(label, path, status))
        urls = self.urls(name, every=True)
        for url in urls:
            status = "not needed" if found else url_status(url, self.offline)
            out.append(Candidate("download", url, status))
        if not urls:
            out.append(Candidate("download", "", "no URL configured"))
        self._memo.flush()
        return out

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
            cache = self.layout.file(expected, name)
            plain = self._plain[name] = (expected, cache, cache[len(self.cache_root) + 1 :])
        expected, cache, rel = plain
        live = self._live
        if live is None:  # (as _local_candidates, inlined: this runs once per fetch)
            live = self._live = [s for s in self.chain if not s.idle()]
        for source in live:
            for _label, path in source.places(name):
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
        return self._root_path / rel if self._memo.known(cache, st, expected) else None

    def _is_valid_copy(self, name: str, path: str, label: str | None = None) -> bool:
        """Is ``path`` a regular file with NAME's hash? A bad copy found at a ``label``ed
        source warns (or, when strict, raises); without a label it is silently not valid."""
        expected = self._expected(name)
        found = check(path, expected, self._memo)
        if found.state != "bad":
            return found.ok
        from .errors import STRICT_HINT, HashMismatchError, warn

        if label and self.strict:
            raise HashMismatchError(name, expected, found.actual, f"{label} {path}", STRICT_HINT)
        if label and not label.endswith(STALE):  # (an out-of-date data wheel warned already)
            warn(f"skipping {path} ({label}): {found.problem(expected)}")
        return False
