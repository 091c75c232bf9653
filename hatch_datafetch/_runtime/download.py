"""The per-file download loop: lock, part file, the file's URLs in order, verify, rename.

:class:`Downloader` knows nothing of registries: :meth:`Downloader.download` gets a target
path, URLs, the expected hash and size, and either puts a verified file at the target or
raises :class:`~.errors.StopFile`, :class:`~.errors.Unsafe`, :class:`~.errors.Stuck` or
:class:`~.errors.AllFailed`. Retries (per URL) follow the locator's one
:class:`~.retry.RetryPolicy`; a host that is down is skipped for the next mirror.
"""

from __future__ import annotations

import os

from .errors import (
    AllFailed,
    Cancelled,
    Denied,
    DiskFull,
    Fatal,
    MissingPackage,
    NoRanges,
    Retry,
    free_bytes,
)
from .fs import ensure_dirs, split_hash
from .layout import lock_path
from .locks import FileLock
from .transfer import Engine, PartFile, Segmented, Transfer

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence

    from .progress import Progress


class Downloader(Engine):
    """Downloads of one locator: the per-file loop over the shared :class:`~.transfer.Engine`."""

    def download(
        self,
        final: str,
        root: str,
        urls: Sequence[str],
        expected: str,
        size: int | None,
        progress: Progress,
        done: Callable[[], bool],
        segments: int = 4,
    ) -> bool:
        """Download into ``final`` (inside ``root``) from the first URL that works: locked,
        size-capped, verified, then renamed into place; a large file from a server that
        takes ``Range`` comes in up to ``segments`` parallel ranges.

        ``done()`` is asked once the lock is held: True when another process or thread
        finished the file meanwhile (then nothing is downloaded and this returns False).
        """
        self.cancel.check()
        directory, base = os.path.split(final)
        lock = FileLock(
            lock_path(final),
            stale=2 * self.timeout + 5,
            what=base,
            cancelled=self.cancel.wait,
        )
        for attempt in range(5):
            try:
                ensure_dirs(root, directory)
                lock.acquire()
                break
            except FileNotFoundError:  # a failed download (we waited for it, or another
                if attempt == 4:  # process's) removed its empty directories on the way out,
                    raise  # maybe one we were making: make them again, wait again
        with lock:
            if done():
                return False
            part = PartFile(final)
            try:
                self._try_urls(part, urls, expected, size, progress, lock.heartbeat, segments)
            except (Cancelled, Retry, KeyboardInterrupt):  # Ctrl-C in a worker or this thread
                part.keep()
                raise
            except BaseException:
                part.discard()
                raise
            return True

    def _try_urls(
        self,
        part: PartFile,
        urls: Sequence[str],
        expected: str,
        size: int | None,
        progress: Progress,
        heartbeat: Callable[[], None],
        segments: int,
    ) -> None:
        alg = split_hash(expected)[0]
        adopted = part.adopt_or_create()
        ranges = part.load_record(size)
        if ranges is not None:
            adopted = sum(r[2] for r in ranges)
        elif os.path.exists(part.record):  # a record that does not fit: the bytes are unknown
            adopted = 0
        if size is not None:
            free = free_bytes(part.directory)
            if free is not None and free < size - adopted:
                raise DiskFull(part.directory, size - adopted)
        failures: list[str] = []
        installs: list[str] = []
        mismatch: tuple[str, str] | None = None
        denied = 0
        for i, url in enumerate(urls):
            last = i == len(urls) - 1
            try:
                actual = self._one_url(
                    url, part, alg, expected, size, progress, heartbeat, segments, last,
                    adopted if i == 0 else 0, ranges if i == 0 else None,
                )  # fmt: skip
            except (Retry, Fatal) as e:
                failures.append(self.client.redact(f"{url}: {e}"))
                denied += isinstance(e, Denied)
                if isinstance(e, MissingPackage):
                    installs.append(e.install)
                continue
            if actual != expected:
                mismatch = (url, actual)
                failures.append(f"{url}: hash mismatch, got {actual}")
                continue
            part.done()
            return
        denied_all = bool(failures) and denied == len(failures)
        raise AllFailed(failures, mismatch, installs, denied=denied_all)

    def _one_url(
        self,
        url: str,
        part: PartFile,
        alg: str,
        expected: str,
        size: int | None,
        progress: Progress,
        heartbeat: Callable[[], None],
        segments: int,
        last: bool,
        adopted: int,
        ranges: list[list[int]] | None,
    ) -> str:
        """The hash of what one URL delivered into the part file: in parallel ranges for a
        large file, else one stream (resuming ``adopted`` bytes). Bytes kept from before a
        Range request that then fail to verify get one fresh download without Range. An
        ``oci://`` URL is its registry's blob URL (:func:`.oci.blob_url`)."""
        if url.startswith("oci"):
            from .oci import blob_url

            url = blob_url(url)
        if (
            size is not None
            and min(segments, size // self.segment_min) > 1
            and url.startswith(("http://", "https://"))
        ):
            seg = Segmented(self, url, part, alg, size, progress, heartbeat, ranges, segments)
            seg.last = last
            try:
                actual = seg.run()
            except NoRanges:
                pass  # the server sends whole files: one stream below
            else:
                if actual == expected or ranges is None:
                    return actual
            adopted = 0  # a sparse part file: nothing in it can be adopted as a prefix
        xfer = Transfer(self, url, part, alg, size, progress, heartbeat)
        xfer.last = last
        xfer.adopt(adopted)
        actual = xfer.run()
        if actual != expected and xfer.resumed:  # bytes from before a Range: redo
            xfer.reset()
            xfer.use_range = False
            actual = xfer.run()
        return actual
