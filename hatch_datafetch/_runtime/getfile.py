"""One registry file the warm path could not vouch for: the cold half of the chain.

:meth:`.chain.Chain._quick` serves a copy the memo vouches for with one ``stat``. Everything
else comes here: each copy along the chain is checked (hashed), then the user cache's, else
the file is downloaded (:mod:`.download`, imported only then) into the cache or a ``dest``
tree, and the downloader's failures become the public errors, with advice that fits the case
(:mod:`.advice`). Each function takes the :class:`~.chain.Chain` first. The layers above
call them (the :class:`~.lookup.Locator`, the archive layer, ``as_pooch``): a warm ``fetch``
neither imports nor compiles this.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import advice
from .errors import DataNotFoundError
from .fs import safe_join

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence

    from .chain import Chain
    from .progress import Progress


def fetch_file(
    c: Chain,
    name: str,
    dest: str | None,
    progress: Progress | None = None,
    segments: int = 4,
    local: bool = True,
    done: Callable[[], bool] | None = None,
) -> Path:
    """NAME as one file (a plain file, or an archive itself): from ``dest``, the local
    sources (unless not ``local``), the user cache, else downloaded (unless ``done()``
    says, once the download's lock is held, that what it is for was finished meanwhile:
    then the path returned may not exist)."""
    if dest is not None:
        target = safe_join(dest, name)
        if c._is_valid_copy(name, target):
            return Path(target)
    cache = c._cache_path(name)
    places = [*(c._local_candidates(name) if local else ()), ("user cache", cache)]
    for label, path in places:
        if c._is_valid_copy(name, path, label):
            if dest is None:
                return Path(path)
            uri = Path(os.path.abspath(path)).as_uri()
            urls = [uri]
            break
    else:
        urls = urls_allowed(c, name)
    if dest is not None:
        got = download(c, name, target, dest, urls, progress, segments)
        if got is None:
            why = f"{target} was removed as soon as it was downloaded"
            raise DataNotFoundError(advice.not_found(c.config, name, why, False), name)
        return got
    c.layout.tag()
    try:
        for _ in range(3):  # a cache clear may remove it as soon as it is there
            got = download(c, name, cache, c.cache_root, urls, progress, segments, done)
            if got is not None:
                return got
        why = "it was removed from the cache as soon as it was downloaded, three times"
        raise DataNotFoundError(advice.not_found(c.config, name, why, False), name)
    except BaseException:
        for d in (os.path.dirname(cache), os.path.dirname(os.path.dirname(cache))):
            try:  # leave no empty hash directories behind
                os.rmdir(d)
            except OSError:
                break
        raise


def urls_allowed(c: Chain, name: str) -> list[str]:
    """NAME's URLs, but only ``file:`` ones when offline; an error when none is left."""
    urls = c.urls(name)
    if c.offline:  # never a connection; a file:// URL (a mounted mirror) is no network
        urls = [u for u in urls if u.startswith("file:")]
        if not urls:
            looked = c.where(name)
            raise DataNotFoundError(advice.offline(c.config, c.environ, name, looked), name)
    if not urls:
        why = "it has no URL"
        for skipped in c.urls(name, every=True):  # an OCI registry cannot address it
            why = f"{why} it can be downloaded from ({advice.url_status(skipped, False)})"
            break
        raise DataNotFoundError(advice.not_found(c.config, name, why), name)
    return urls


def download(
    c: Chain,
    name: str,
    final: str,
    root: str,
    urls: Sequence[str],
    progress: Progress | None,
    segments: int,
    done: Callable[[], bool] | None = None,
) -> Path | None:
    """Download NAME into ``final`` (inside ``root``) unless it is there by the time the
    lock is held (or ``done()``); turn the downloader's failures into user errors whose
    advice fits the failure. None when ``final`` was removed again at once (a cache
    clear running meanwhile)."""
    from .progress import Progress

    size = c.entries.size(name)  # (an archive member has no registry entry)
    own_progress = progress is None
    if progress is None:
        small = c.progress is None and size is not None and size < 8 << 20
        progress = Progress(size, 1, False if small else c.progress)
    expected = c._expected(name)
    try:
        downloaded = c.downloader.download(
            final, root, urls, expected, size, progress,
            lambda: c._is_valid_copy(name, final) or (done is not None and done()),
            segments,
        )  # fmt: skip
    except Exception as e:
        error = advice.download_error(c.config, name, final, expected, e)
        if error is None:
            raise
        raise error from None
    finally:
        if own_progress:
            progress.file_done()
            progress.close()
    if downloaded:
        try:
            st = os.stat(final)
        except FileNotFoundError:
            return None
        c._memo.record(os.path.abspath(final), st, expected)
    return Path(final)
