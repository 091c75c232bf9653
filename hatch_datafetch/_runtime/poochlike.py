"""pooch's interface over a locator: what ``as_pooch()`` returns (SPEC §13).

Code written against a ``pooch.create(...)`` object runs unchanged on a :class:`PoochLike`:
it has :class:`pooch.Pooch`'s attributes and methods (``fetch``, ``path``, ``abspath``,
``base_url``, ``registry``, ``registry_files``, ``urls``, ``is_available``, ``get_url``,
``load_registry``) over the registry and the lookup chain of the locator it comes from, so
``fetch`` finds a file in the package, the data wheels, the env-var dirs, the system dirs and
the user cache before it downloads, and returns a ``str`` as pooch does.

* **Registry edits** as pooch users make them (``registry[NAME] = HASH``, ``urls[NAME] =
  URL``, ``load_registry(FILE)``, another ``base_url``) are seen at the next call: the
  locator is then made anew from the edited registry. Setting ``path`` (pooch's storage
  folder) makes ``fetch`` lay files out by NAME under it, as pooch keeps them.
* **Processors.** pooch's ``Unzip``, ``Untar`` and ``Decompress`` on an entry the registry
  unpacks (``unpack``) are served from its verified member tree and return what pooch returns:
  the list of the member paths (``members=[...]`` selects them as pooch does), the path of the
  decompressed file; ``extract_dir`` and ``name`` get verified copies where pooch would put
  them. Any other processor is called as pooch calls it, ``processor(path, action, pooch)``,
  with the verified file in a writable place (the user cache, or ``path``).
* **Downloaders.** ``fetch(..., downloader=D)`` calls ``D(url, tmp, pooch)`` only when no
  valid copy is found anywhere, then verifies what it wrote before it becomes the file.

pooch itself is imported only to check a ``doi:``, ``ftp://`` or ``sftp://`` URL in
:meth:`PoochLike.is_available`; everything else works without it.
"""

from __future__ import annotations

import os

from .errors import DataNotFoundError, UnknownFileError
from .fs import ensure_dirs, safe_join, unique_name, unlink
from .getfile import download, fetch_file, urls_allowed

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    # (the locator is typed loosely: lookup, which makes a PoochLike, stands above this)
    Locator = Any

#: pooch's processors that map onto a registry archive's member tree, with the ``unpack``
#: kinds each fits (Decompress by its ``method``).
_LISTS = {"Unzip": ("zip",), "Untar": ("tar",)}
_DECOMPRESS = {"auto": ("gzip", "bzip2", "xz"), "gzip": ("gzip",), "bzip2": ("bzip2",)}
_DECOMPRESS.update(lzma=("xz",), xz=("xz",))
_SUFFIX = {"Unzip": ".unzip", "Untar": ".untar"}  # pooch's extraction folders


class NotInRegistryError(UnknownFileError, ValueError):
    """A name that is not in the registry: an :class:`~.errors.UnknownFileError`, and a
    ValueError like pooch's, so that ``except ValueError`` around ``fetch`` still works."""


class PoochLike:
    """:class:`pooch.Pooch`'s interface over a :class:`~.lookup.Locator` (see the module
    docstring). ``path`` is the user cache of the data until set; ``env`` names the data
    env var; ``retry_if_failed`` and ``allow_updates`` are kept for code that reads them
    (the locator retries with backoff and re-downloads a bad copy)."""

    def __init__(self, loc: Locator) -> None:
        from pathlib import Path

        self._base = self._loc = loc
        self._twins: dict[str, Locator] = {}
        self._cache = Path(loc.cache_root)
        self.path: Any = self._cache
        config = loc.config
        self.base_url: str = config.base_url.rstrip("/") + "/" if config.base_url else ""
        self.registry: dict[str, Any] = {}
        self.urls: dict[str, str] = {}
        for name, spec in loc.files.items():
            value = spec.get("hash")
            self.registry[name] = value.lower() if isinstance(value, str) else value
            if spec.get("url"):
                self.urls[name] = spec["url"]
        self.env: str | None = config.env_var
        self.retry_if_failed = 0
        self.allow_updates = True
        self._unpack: dict[str, str] = {}  # unpack kinds given by load_registry
        self._made = (dict(self.registry), dict(self.urls), self.base_url, dict(self._unpack))

    def __repr__(self) -> str:
        return (
            f"<PoochLike of {self._base.data_name}: {len(self.registry)} files, "
            f"path={os.fspath(self.path)!r}>"
        )

    # ------------------------------------------------------------------ pooch's attributes

    @property
    def abspath(self) -> Path:
        """Absolute path to the local storage (``path``, user-expanded), as pooch has it."""
        from pathlib import Path

        return Path(os.path.abspath(os.path.expanduser(str(self.path))))

    @property
    def registry_files(self) -> list[str]:
        """The names in the registry."""
        return list(self.registry)

    def get_url(self, fname: str) -> str:
        """The URL a download of ``fname`` tries first: its own URL or the base URL +
        NAME (percent-encoded), or the URL env var's when that is set."""
        loc = self._current()
        self._require(loc, fname)
        urls = loc.urls(_entry(loc, fname))
        return urls[0] if urls else self.base_url + fname

    def load_registry(self, fname: Any) -> None:
        """Add the entries of a registry file (a path or an open file) to ``registry`` and
        ``urls``, line by line as :meth:`pooch.Pooch.load_registry` reads them (``NAME
        HASH [URL]``, ``#`` comment lines; OSError on a line of another shape); a last field
        ``unpack=KIND`` marks an archive, as in hatch-datafetch's text registries."""
        import contextlib
        import shlex

        with contextlib.ExitStack() as stack:
            fin: Any = fname
            if not hasattr(fname, "read"):
                fin = stack.enter_context(open(fname, encoding="utf-8"))
            for linenum, raw in enumerate(fin):
                line = (raw.decode("utf-8") if isinstance(raw, bytes) else raw).strip()
                if line.startswith("#"):
                    continue
                elements = shlex.split(line)
                unpack = None
                if len(elements) in (3, 4) and elements[-1].startswith("unpack="):
                    unpack = elements.pop()[len("unpack=") :]
                if len(elements) not in (0, 2, 3):
                    raise OSError(
                        f"Invalid entry in Pooch registry file '{fname}': expected 2 or 3 "
                        f"elements in line {linenum + 1} but got {len(elements)}. Offending "
                        f"entry: '{line}'"
                    )
                if elements:
                    if len(elements) == 3:
                        self.urls[elements[0]] = elements[2]
                    self.registry[elements[0]] = elements[1].lower()
                    if unpack is not None:
                        self._unpack[elements[0]] = unpack

    def load_registry_from_doi(self) -> None:
        """Not here: a registry never needs a repository's API at run time."""
        raise NotImplementedError(
            "a hatch-datafetch registry is resolved once, when it is made: run "
            "`hatch-datafetch make-registry --doi DOI -o registry.toml` (concrete URLs, sizes "
            "and sha256 hashes) and rebuild the package"
        )

    # ------------------------------------------------------------------ fetch

    def fetch(
        self,
        fname: str,
        processor: Callable[[str, str, Any], Any] | None = None,
        downloader: Callable[..., Any] | None = None,
        progressbar: Any = False,
    ) -> Any:
        """The absolute path (a ``str``) of a verified copy of ``fname``, downloaded if no
        valid copy is found; with a ``processor``, what the processor returns (see the
        module docstring). ``progressbar=True`` shows the locator's progress bar."""
        if processor is not None and not callable(processor):
            raise TypeError(
                f"processor must be callable, as pooch calls it (processor(fname, action, "
                f"pooch)): an instance such as pooch.Unzip(), not {processor!r}"
            )
        loc = self._current(bool(progressbar))
        self._require(loc, fname)
        try:
            spec = loc.files.get(fname) or {}
            kind = _tree_kind(processor, spec.get("unpack"))
            if kind is not None:
                return self._from_tree(loc, fname, processor, kind)
            writable = processor is not None
            if fname not in loc.files:  # a member of an unpacked archive: in its tree
                path, action = str(loc.fetch(fname)), "fetch"
            elif spec.get("unpack") or writable or downloader is not None or self._dest():
                path, action = self._one_file(loc, fname, writable, downloader)
            else:
                path, action = str(loc.fetch(fname)), "fetch"
            if processor is None:
                return path
            return processor(path, action, self)
        finally:
            loc._memo.flush()

    def is_available(self, fname: str, downloader: Callable[..., Any] | None = None) -> bool:
        """Can ``fname`` be downloaded now? Its URLs are asked in turn (a one-byte ranged
        GET through the locator's client) until one answers 200 or 206; False when none
        does, or when the offline switch is on. A ``downloader`` is asked as pooch asks it
        (``downloader(url, None, pooch, check_only=True)``)."""
        loc = self._current()
        self._require(loc, fname)
        if downloader is not None:
            try:
                return bool(downloader(self.get_url(fname), None, self, check_only=True))
            except TypeError as error:
                raise NotImplementedError(
                    f"Downloader '{downloader}' does not support availability checks."
                ) from error
        if loc.offline:
            return False
        return any(_answers(loc, url, self) for url in loc.urls(_entry(loc, fname)))

    # ------------------------------------------------------------------ the locator behind

    def _current(self, progress: bool = False) -> Locator:
        """The locator of the registry as it is now: made anew after registry edits."""
        now = (self.registry, self.urls, self.base_url, self._unpack)
        if now != self._made:
            self._loc = _derive(self._base, self._config())
            self._twins.clear()
            self._made = (dict(self.registry), dict(self.urls), self.base_url, dict(self._unpack))
        if not progress:
            return self._loc
        twin = self._twins.get("progress")
        if twin is None:
            twin = self._twins["progress"] = _derive(self._loc, self._loc.config, progress=True)
        return twin

    def _config(self) -> dict[str, Any]:
        """The runtime JSON of the edited registry: entries whose hash is unchanged keep
        what the registry said of them (size, archive members)."""
        data: dict[str, Any] = self._base.config.to_json()
        old = self._base.files
        files = {}
        for name, value in self.registry.items():
            digest = _pooch_hash(name, value)
            spec = dict(old.get(name) or {})
            if str(spec.get("hash", "")).lower() != digest:
                spec = {"hash": digest, "unpack": spec.get("unpack")}
            if name in self._unpack:
                spec["unpack"] = self._unpack[name]
            spec["url"] = self.urls.get(name)
            files[name] = {k: v for k, v in spec.items() if v is not None}
        data["files"] = files
        data["base_url"] = self.base_url or None
        return data

    def _require(self, loc: Locator, fname: str) -> None:
        if fname in self.registry and fname in loc.files:
            return
        try:  # (a member of an unpacked archive is known too)
            loc.require_known(fname)
        except UnknownFileError as e:
            raise NotInRegistryError(f"File '{fname}' is not in the registry: {e}", fname) from None

    def _dest(self) -> str | None:
        """The storage folder when ``path`` was set (files laid out by NAME), else None."""
        here = self.abspath
        return None if here == self._cache else str(here)

    # ------------------------------------------------------------------ one file

    def _one_file(
        self,
        loc: Locator,
        name: str,
        writable: bool,
        downloader: Callable[..., Any] | None,
    ) -> tuple[str, str]:
        """``(path, action)`` of NAME as one file (an archive itself, not its members),
        pooch's ``action``: ``fetch`` (it was there), ``download`` or ``update``. The file
        is at ``path``/NAME when ``path`` was set; else in the user cache when ``writable``
        (a processor writes beside it) or for an archive, else wherever the chain finds it."""
        from pathlib import Path

        dest = self._dest()
        root = dest or loc.cache_root
        final = safe_join(dest, name) if dest else loc._cache_path(name)
        before = _stamp(final)
        if loc._is_valid_copy(name, final):
            return final, "fetch"
        found = None
        for label, path in loc._local_candidates(name):
            if os.path.isfile(path) and loc._is_valid_copy(name, path, label):
                found = path
                break
        if found is None and dest is not None and loc._is_valid_copy(name, loc._cache_path(name)):
            found = loc._cache_path(name)
        if found is not None and dest is None and not writable:
            return found, "fetch"
        if dest is None:
            loc.layout.tag()
        if found is not None:
            urls = [Path(os.path.abspath(found)).as_uri()]
            download(loc, name, final, root, urls, None, 4)
            return final, _action(before, final)
        if downloader is None:
            fetch_file(loc, name, dest, local=False)
        else:
            self._custom_download(loc, name, final, root, downloader)
        return final, _action(before, final)

    def _custom_download(
        self, loc: Locator, name: str, final: str, root: str, downloader: Callable[..., Any]
    ) -> None:
        """pooch's way with a ``downloader``: ``downloader(url, tmp, pooch)``, then the
        temp file is verified into ``final``."""
        from pathlib import Path

        url = urls_allowed(loc, name)[0]  # (offline: the error that says where it looked)
        directory = os.path.dirname(final)
        ensure_dirs(root, directory)
        tmp = unique_name(final, ".download")
        try:
            downloader(url, tmp, self)
            if not os.path.isfile(tmp):
                raise DataNotFoundError(
                    f"{name!r}: the downloader {downloader!r} wrote nothing for {url}", name
                )
            download(loc, name, final, root, [Path(tmp).as_uri()], None, 4)
        finally:
            unlink(tmp)

    # ------------------------------------------------------------------ processors

    def _from_tree(self, loc: Locator, name: str, processor: Any, kind: str) -> Any:
        """What pooch's Unzip/Untar (``kind`` "list") or Decompress ("file") returns for the
        registry archive NAME, served from its verified member tree."""
        members = loc.member_paths(name)
        dest = self._dest()  # pooch's archive path: extract_dir and name are beside it
        pooch_file = loc._cache_path(name) if dest is None else safe_join(dest, name)
        if kind == "file":  # one member: the decompressed file
            chosen = getattr(processor, "name", None)
            if chosen is None and dest is None:
                return str(next(iter(members.values())))
            target = os.path.join(
                os.path.dirname(pooch_file), chosen or os.path.basename(pooch_file) + ".decomp"
            )
            renamed = {m: os.path.basename(target) for m in members}
            return _copies(loc, name, members, os.path.dirname(target), renamed)[0]
        wanted = getattr(processor, "members", None)
        if wanted:  # pooch's filter: a member whose path starts with one of them
            prefixes = [os.path.normpath(m) for m in wanted]
            members = {
                m: p
                for m, p in members.items()
                if any(os.path.normpath(m).startswith(x) for x in prefixes)
            }
        extract_dir = getattr(processor, "extract_dir", None)
        if extract_dir is None and dest is None:
            return [str(p) for p in members.values()]
        if extract_dir is None:
            root = pooch_file + _SUFFIX[type(processor).__name__]
        else:
            root = os.path.join(os.path.dirname(pooch_file), extract_dir)
        return _copies(loc, name, members, root, {m: m for m in members})


def _copies(
    loc: Locator, name: str, members: dict[str, Any], root: str, rel: dict[str, str]
) -> list[str]:
    """Verified copies of archive members (``member -> path`` in the tree) at
    ``root``/``rel[member]``: where pooch's processors would have put them."""
    from pathlib import Path

    out = []
    for member, source in members.items():
        full = f"{name}/{member}"
        target = safe_join(root, rel[member])
        if not loc._is_valid_copy(full, target):
            uri = Path(os.path.abspath(source)).as_uri()
            download(loc, full, target, root, [uri], None, 1)
        out.append(target)
    return out


def _tree_kind(processor: Any, unpack: Any) -> str | None:
    """``list`` for pooch's Unzip/Untar and ``file`` for its Decompress when they fit the
    entry's ``unpack`` kind; None for any other processor (it is called as it is)."""
    if processor is None or not unpack or type(processor).__module__ != "pooch.processors":
        return None
    cls = type(processor).__name__
    if cls in _LISTS:
        return "list" if unpack in _LISTS[cls] else None
    if cls == "Decompress":
        fits = _DECOMPRESS.get(str(getattr(processor, "method", "auto")), ())
        return "file" if unpack in fits else None
    return None


def _pooch_hash(name: str, value: Any) -> str:
    """A registry value as pooch takes it (``alg:hex``, or bare hex for sha256), as the
    runtime JSON has it; pooch's None (no check) is refused: every file is verified."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"the registry's hash of {name!r} is {value!r}: hatch-datafetch verifies every "
            "file, so give it its hash (alg:hex, or bare sha256 hex)"
        )
    value = value.strip().lower()
    return value if ":" in value else f"sha256:{value}"


def _entry(loc: Locator, fname: str) -> str:
    """The registry entry of ``fname``: itself, or the archive it is a member of."""
    return fname if fname in loc.files else loc.entries.archive_of(fname) or fname


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _action(before: tuple[int, int, int] | None, path: str) -> str:
    """pooch's action for a file now verified at ``path``: ``download`` (it was not there),
    ``update`` (a bad copy was replaced) or ``fetch`` (it was there, valid)."""
    if before is None:
        return "download"
    return "fetch" if _stamp(path) == before else "update"


def _answers(loc: Locator, url: str, pooch: PoochLike) -> bool:
    """Does ``url`` answer 200 or 206 (at most one byte asked)? ``file:`` URLs: is the file
    there; ``doi:``/``ftp``/``sftp``: pooch's downloader is asked (pooch needed)."""
    if url.startswith("file:"):
        from urllib.parse import unquote, urlsplit
        from urllib.request import url2pathname

        return os.path.isfile(url2pathname(unquote(urlsplit(url).path)))
    if not url.startswith(("http://", "https://")):
        try:
            import pooch as real  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            scheme = url.split(":", 1)[0]
            raise NotImplementedError(
                f"checking {scheme} URLs needs pooch: pip install pooch"
            ) from None
        check = real.downloaders.choose_downloader(url)
        try:
            return bool(check(url, None, pooch, check_only=True))
        except TypeError as error:
            raise NotImplementedError(
                f"pooch cannot check {url.split(':', 1)[0]} URLs without downloading them"
            ) from error
    from .errors import Fatal, Retry

    statuses: list[int] = []
    try:
        loc.downloader.client.get(url, "bytes=0-0", lambda resp: statuses.append(resp.status))
    except (Retry, Fatal):
        return False
    return bool(statuses) and statuses[-1] in (200, 206, 416)


def _derive(loc: Locator, config: Any, progress: bool | None = None) -> Locator:
    """A locator like ``loc`` (same cache, sources, environment, network settings) of
    ``config``; ``progress`` overrides its progress setting."""
    retries, backoff, max_backoff, max_retry_after = loc._retry
    return type(loc)(
        config,
        cache_dir=loc.cache_root,
        environ=loc.environ,
        timeout=loc.timeout,
        retries=retries,
        backoff=backoff,
        max_backoff=max_backoff,
        max_retry_after=max_retry_after,
        progress=loc.progress if progress is None else progress,
        search_installed=loc.search_installed,
        sources=loc.sources,
        offline=loc._offline,
        strict=loc.strict,
        unpack_unlisted=loc.unpack_unlisted,
        jobs=loc.jobs,
    )
