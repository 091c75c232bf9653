"""Transfers: one URL's bytes into a part file, hashed as they arrive, never past their cap.

* :class:`PartFile`: the one part file a process writes for a final path, created under a
  unique name or adopted from a dead download (resume after ``kill -9``);
* :class:`Sink`: one response's body into the part file (size cap, disk full, stalls);
* :class:`Transfer`: one URL streamed (``file:``, ``http(s):`` with ``Range`` resume, a
  pooch downloader for ``doi:``/``ftp:``/``sftp:``, fsspec for object stores: :mod:`.objstore`);
* :class:`Segmented`: a large file as parallel byte ranges into one part file, hashed in
  order behind the writers, with a range record so a killed download resumes every range.
"""

from __future__ import annotations

import os
import stat

from .client import content_length, content_range
from .errors import (
    DISK_FULL,
    Cancelled,
    Changed,
    DiskFull,
    Fatal,
    NoRanges,
    Retry,
    StopFile,
    Unsafe,
)
from .fs import (
    BINARY,
    CHUNK,
    NOFOLLOW,
    feed_fd,
    hash_regular,
    hasher,
    open_nofollow,
    open_regular,
    token_pattern,
    unique_name,
    unlink,
)
from .layout import (
    PART_SUFFIX,
    RANGES_SUFFIX,
    ranges_json,
    ranges_record,
    ranges_validator,
    read_json,
    write_json,
)
from .locks import ACTIVE_PARTS, owner_gone

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Mapping
    from typing import Any

    from .auth import Auth
    from .fs import Cancel
    from .progress import Progress
    from .retry import RetryPolicy

POOCH_SCHEMES = ("doi:", "ftp://", "sftp://")
#: The smallest range (segment) a file is split into: a file of ``size`` bytes comes in
#: ``min(segments, size // SEGMENT_MIN)`` parallel ranges, so from 32 MiB on (see Segmented).
SEGMENT_MIN = 16 << 20
ODD_ANSWERS = 2  # odd answers to one range (a 200, another range, a 416) before one stream


class Engine:
    """What every transfer of one locator shares: its HTTP :attr:`client` (with the
    locator's credentials, ``auth``), retry :attr:`policy`, Ctrl-C :attr:`cancel`, read
    ``timeout``, ``max_size`` (the cap of a body without a size) and ``segment_min`` (the
    smallest file fetched in parallel ranges)."""

    def __init__(
        self,
        *,
        timeout: float,
        policy: RetryPolicy,
        cancel: Cancel,
        max_size: int,
        user_agent: str,
        environ: Mapping[str, str],
        auth: Auth | None = None,
    ) -> None:
        from .client import Client

        self.timeout, self.policy, self.cancel, self.max_size = timeout, policy, cancel, max_size
        self.segment_min = SEGMENT_MIN
        self.client = Client(
            timeout=timeout, user_agent=user_agent, environ=environ, cancel=cancel, auth=auth
        )


class PartFile:
    """The one part file this process writes for a final path.

    Created ``O_EXCL | ONOFOLLOW`` under a name no other writer uses
    (``.BASE.<host>-<pid>-<random>.part``), or adopted from a download that is over (a
    killed process) by an atomic rename, so a resume after ``kill -9`` keeps its bytes and
    a part file never has two writers, whatever the locks do.
    """

    def __init__(self, final: str) -> None:
        self.final = final
        self.directory, self.base = os.path.split(final)
        self.path = unique_name(final, PART_SUFFIX)
        ACTIVE_PARTS.add(self.path)

    @property
    def record(self) -> str:
        """The sidecar of a segmented download: which byte ranges are already written."""
        return self.path + RANGES_SUFFIX

    def adopt_or_create(self) -> int:
        """Adopt a dead download's bytes (returns their count) or create an empty file."""
        head, tail = f".{self.base}.", PART_SUFFIX
        with os.scandir(self.directory) as entries:
            names = sorted(
                e.name for e in entries if e.name.startswith(head) and e.name.endswith(tail)
            )
        for name in names:
            other = os.path.join(self.directory, name)
            m = token_pattern().fullmatch(name[len(head) : -len(tail)])
            if other == self.path or not m or not owner_gone(m[1], int(m[2]), other):
                continue
            try:
                os.rename(other, self.path)
            except OSError:
                continue  # someone else adopted it first
            st = os.lstat(self.path)
            if not stat.S_ISREG(st.st_mode):
                unlink(self.path)
                raise Unsafe(other, "not a regular file")
            try:  # a segmented download's ranges come along
                if stat.S_ISREG(os.lstat(other + RANGES_SUFFIX).st_mode):
                    os.rename(other + RANGES_SUFFIX, self.record)
            except OSError:
                pass
            return st.st_size
        os.close(open_nofollow(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        return 0

    def open_at(self, offset: int, cut: bool = True) -> int:
        """A write descriptor positioned at ``offset``, the file cut there (unless not
        ``cut``: a segment writing into the middle)."""
        fd = open_nofollow(self.path, os.O_WRONLY)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Unsafe(self.path, "not a regular file")
            if cut and st.st_size != offset:  # (ext4 flushes a file cut to 0 on close)
                os.ftruncate(fd, offset)
            os.lseek(fd, offset, 0)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def load_record(self, size: int | None) -> list[list[int]] | None:
        """The ranges a killed segmented download of this ``size`` left, or None."""
        return ranges_record(read_json(self.record), size)

    def record_validator(self) -> str | None:
        """The ETag or Last-Modified the recorded ranges' bytes belong to, if recorded."""
        return ranges_validator(read_json(self.record))

    def save_record(self, size: int, ranges: list[list[int]], validator: str | None = None) -> None:
        try:
            write_json(self.record, ranges_json(size, ranges, validator))
        except (OSError, Unsafe):
            pass

    def done(self) -> None:
        """The verified part becomes the final file (a link there is replaced, not followed)."""
        os.replace(self.path, self.final)
        unlink(self.record)
        ACTIVE_PARTS.discard(self.path)

    def discard(self) -> None:
        unlink(self.path)
        unlink(self.record)
        ACTIVE_PARTS.discard(self.path)

    def keep(self) -> None:
        """Leave the bytes for a later resume (Ctrl-C, an error worth retrying later)."""
        ACTIVE_PARTS.discard(self.path)


class Sink:
    """One response's bytes into the part file from ``offset``: never past ``limit``,
    disk-full aware, hashed when there is a ``hasher``, shown as progress, with the stall
    check of a streaming read and the lock heartbeat. ``position`` is the next offset."""

    def __init__(
        self,
        dl: Engine,
        part: PartFile,
        offset: int,
        limit: tuple[int, str],
        hasher: Any,
        progress: Progress,
        heartbeat: Callable[[], None],
        cut: bool = True,
        on_write: Callable[[int], None] | None = None,
    ) -> None:
        import time

        self.dl, self.part, self.hasher, self.on_write = dl, part, hasher, on_write
        self.progress, self.heartbeat = progress, heartbeat
        self.limit, self.limit_why = limit
        self.fd = part.open_at(offset, cut)
        self.position = offset
        self.window_start, self.window = time.monotonic(), 0
        self.view: memoryview | None = None

    def write(self, chunk: bytes | memoryview) -> None:
        n = len(chunk)
        if self.position + n > self.limit:
            raise Fatal(f"the server sent more than {self.limit:,} bytes ({self.limit_why})")
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as e:
            if e.errno in DISK_FULL:
                needed = self.limit - self.position if self.limit_why != "max-size" else None
                raise DiskFull(self.part.directory, needed, e.errno or 0) from None
            raise StopFile(f"cannot write {self.part.path}: {e.strerror}") from None
        if self.hasher is not None:
            self.hasher.update(chunk)
        self.position += n
        if self.on_write is not None:
            self.on_write(n)
        self.progress.add(n)
        self._tick(n)

    def _tick(self, n: int) -> None:
        """The lock heartbeat, and the stall check: less than 1 KiB in ``timeout`` s."""
        import time

        self.heartbeat()
        now = time.monotonic()
        self.window += n
        if now - self.window_start >= self.dl.timeout:
            if self.window < 1024:
                raise Retry(
                    f"stalled: {self.window} bytes in {now - self.window_start:.0f} s "
                    f"(less than 1 KiB in the {self.dl.timeout:g} s timeout)"
                )
            self.window_start, self.window = now, 0

    def _buffer(self) -> memoryview:
        """The one buffer a response is read into (``readinto1``): a new bytes object per
        read fragments the C heap of a long download (see client.py)."""
        if self.view is None:
            self.view = memoryview(bytearray(max(1, min(CHUNK, self.limit - self.position))))
        return self.view

    def drain(self, resp: Any, upto_limit: bool = False) -> int:
        """Stream the response body in (with ``upto_limit``, stop at the limit instead of
        failing past it); return how many bytes came. Closes the sink."""
        start = self.position
        try:
            view = self._buffer()
            while not (upto_limit and self.position >= self.limit):
                self.dl.cancel.check()
                n = resp.readinto1(view[: self.limit - self.position] if upto_limit else view)
                if not n:
                    break
                self.write(view[:n])
        finally:
            self.close()
        return self.position - start

    def skip(self, resp: Any, nbytes: int) -> int:
        """Read ``nbytes`` of the body and drop them (bytes before this sink's offset, in a
        stream from the start of the file); return how many came."""
        view, left = self._buffer(), nbytes
        while left > 0:
            self.dl.cancel.check()
            n = resp.readinto1(view[: min(left, len(view))])
            if not n:
                break
            left -= n
            self._tick(n)
        return nbytes - left

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Transfer:
    """Stream one URL into a part file, hashing as the bytes arrive; resume with Range."""

    def __init__(
        self,
        downloader: Engine,
        url: str,
        part: PartFile,
        alg: str,
        size: int | None,
        progress: Progress,
        heartbeat: Callable[[], None],
    ) -> None:
        self.dl, self.url, self.part, self.alg, self.size = downloader, url, part, alg, size
        self.progress, self.heartbeat = progress, heartbeat
        self.hasher = hasher(alg)
        self.have = 0
        self.resumed = False  # some bytes came from before a Range request
        self.use_range = True
        self.last = True  # no other URL follows (a dead host is still tried)

    def adopt(self, nbytes: int) -> None:
        """Take over the first ``nbytes`` already in the part file (hashing them once)."""
        if not nbytes:  # nothing to keep (the sink cuts the file when it starts writing)
            self.hasher, self.have, self.resumed = hasher(self.alg), 0, False
            return None
        if self.size is not None and nbytes > self.size:
            return self.reset()
        fd = os.open(self.part.path, os.O_RDONLY | NOFOLLOW | BINARY)
        try:
            self.have = feed_fd(fd, self.hasher, self.heartbeat)
        finally:
            os.close(fd)
        self.resumed = True

    def reset(self) -> None:
        self.hasher = hasher(self.alg)
        self.have = 0
        self.resumed = False
        os.close(self.part.open_at(0))

    def run(self) -> str:
        if self.url.startswith("file:"):
            self._file()
        elif self.url.startswith(("http://", "https://")):
            self._http_with_retries()
        elif self.url.startswith(POOCH_SCHEMES):
            return self._pooch()
        else:  # s3://, gs://, az://, any fsspec protocol (objstore says what else fails)
            from .objstore import stream

            stream(self)
        if self.size is not None and self.have != self.size:
            raise Fatal(f"got {self.have} bytes, the registry says {self.size}")
        return f"{self.alg}:{self.hasher.hexdigest()}"

    def cap(self, length: int | None) -> tuple[int, str]:
        """The most bytes the part file may hold: the registry's size, else what the
        server announced, else the ``max_size`` setting."""
        if self.size is not None:
            return self.size, "the registry's size"
        if length is not None:
            return self.have + length, "its Content-Length"
        return self.dl.max_size, "max-size"

    def _file(self) -> None:
        from urllib.parse import unquote, urlsplit
        from urllib.request import url2pathname

        parts = urlsplit(self.url)
        if parts.netloc not in ("", "localhost"):
            raise Fatal(f"remote file URLs are not supported: {self.url}")
        path = url2pathname(unquote(parts.path))
        self.reset()
        try:
            fd, st = open_regular(path)
        except FileNotFoundError:
            raise Fatal(f"no such file: {path}") from None
        except OSError as e:
            raise Fatal(f"cannot read {path}: {e.strerror}") from None
        sink = self._sink(self.cap(st.st_size))
        try:
            with open(fd, "rb") as src:
                sink.drain(src)
        finally:
            self.have = sink.position

    def _http_with_retries(self) -> None:
        self.dl.policy.run(self._http_once, self.dl.cancel, self.heartbeat)

    def _sink(self, limit: tuple[int, str]) -> Sink:
        return Sink(
            self.dl, self.part, self.have, limit, self.hasher, self.progress, self.heartbeat
        )

    def _http_once(self) -> None:
        """One GET of the URL (following redirects), streamed into the part file."""
        ranged = f"bytes={self.have}-" if self.have and self.use_range else None
        self.dl.client.get(self.url, ranged, self._response, last=self.last)

    def _response(self, resp: Any) -> None:
        status = resp.status
        if status == 416 and self.have:
            total = content_range(resp.getheader("Content-Range", ""))[2]
            if total == self.have:  # the part file already holds every byte
                return
            self.reset()
            raise Retry("416 Range Not Satisfiable: the part file was stale")
        self.dl.policy.raise_for_status(resp)
        if status not in (200, 206):
            raise Fatal(f"HTTP {status} {resp.reason}")
        if self.have and status == 206:
            if content_range(resp.getheader("Content-Range", ""))[0] != self.have:
                self.reset()
                raise Retry("server resumed at the wrong offset")
            self.resumed = True
        elif self.have:  # 200: the server ignored Range, start over
            self.reset()
        expect = content_length(resp)
        sink = self._sink(self.cap(expect))
        try:
            got = sink.drain(resp)
        finally:
            self.have = sink.position
        if expect is not None and got < expect:
            if self.size is not None and self.have == self.size:
                return  # the server announced more than the file holds: all here
            raise Retry(f"connection closed after {got} of {expect} bytes")

    def _pooch(self) -> str:
        try:
            import pooch  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise Fatal(f"{self.url.split(':', 1)[0]} URLs need pooch: pip install pooch") from None
        self.reset()
        url = self.url
        try:
            downloader = pooch.downloaders.choose_downloader(url, progressbar=False)
            if url.startswith(("ftp://", "sftp://")):
                # pooch takes the port from its constructor and the host from the netloc
                from urllib.parse import urlsplit

                parts = urlsplit(url)
                if parts.port is not None:
                    netloc = parts.netloc.rsplit(":", 1)[0]
                    url = parts._replace(netloc=netloc).geturl()
                    downloader = type(downloader)(port=parts.port)
            downloader(url, self.part.path, None)
        except Exception as e:
            raise Fatal(f"pooch could not download it: {type(e).__name__}: {e}") from None
        digest, st = hash_regular(self.part.path, self.alg)
        self.have = st.st_size
        self.progress.add(self.have)
        if self.have > self.cap(None)[0]:
            raise Fatal(f"got {self.have:,} bytes, more than {self.cap(None)[1]}")
        if self.size is not None and self.have != self.size:
            raise Fatal(f"got {self.have} bytes, the registry says {self.size}")
        return digest


class Segmented:
    """A large file fetched as byte ranges in parallel into one part file.

    Each range has its own worker and connection (and retries, from where it stopped). The
    caller's thread hashes the file in order, reading behind the writers (the bytes are in
    the page cache), so the whole file is verified as it lands, in flat memory. The ranges
    written so far are kept beside the part file (:attr:`PartFile.record`), so a killed
    download resumes every range. A server that ignores ``Range`` raises :class:`NoRanges`
    before anything is written.

    The split: ``min(segments, size // segment_min)`` ranges of equal size, at least
    :data:`SEGMENT_MIN` (16 MiB) each. Each range costs one request and a new connection
    (2-3 round trips, in parallel), so a split pays as soon as a range takes longer than
    that, and most where a server caps each connection: a 128 MiB file at 20 MB/s per
    connection takes 6.7 s in one stream, 1.8 s in 4 ranges (aria2 splits from 20 MiB).
    Files under 32 MiB never split, so many small files pay no probe.

    Every range request carries ``If-Range`` (the probe's strong ETag, else its
    Last-Modified when the date is a strong validator), so a file that changed meanwhile
    answers with a 200 and the whole new file: :class:`Changed`, a fresh start in one
    stream. An odd answer to one range (a 200 of the same file, another range, a 416) is
    retried for that range alone, and after :data:`ODD_ANSWERS` of them that range is left
    to one stream without ``Range`` at the end, which fills every gap the workers left;
    the good ranges are kept. A 206 that runs past its range is cut where the range ends.
    """

    def __init__(
        self,
        dl: Engine,
        url: str,
        part: PartFile,
        alg: str,
        size: int,
        progress: Progress,
        heartbeat: Callable[[], None],
        ranges: list[list[int]] | None,
        segments: int,
    ) -> None:
        import threading

        self.dl, self.url, self.part, self.alg, self.size = dl, url, part, alg, size
        self.progress, self.heartbeat = progress, heartbeat
        self.segments = segments
        self.ranges = ranges or self._split()
        self.resumed = ranges is not None
        self.changed = threading.Condition()
        self.threads: set[int] = set()
        self.stop = False
        self.last = True
        self.validator: str | None = None  # sent as If-Range
        self.seen: tuple[str | None, str | None] = (None, None)  # the probe's ETag, Last-Modified
        self.gaps: list[str] = []  # why ranges were left to the one stream
        self.digest = hasher(alg)
        self.hashed = 0

    def _split(self) -> list[list[int]]:
        n = max(1, min(self.segments, self.size // self.dl.segment_min))
        step = -(-self.size // n)
        return [[a, min(a + step, self.size), 0] for a in range(0, self.size, step)]

    def run(self) -> str:
        from concurrent.futures import ThreadPoolExecutor, wait

        self._probe()
        fd = self.part.open_at(0, cut=False)
        try:
            os.ftruncate(fd, self.size)  # sparse: each range writes at its own offset
        finally:
            os.close(fd)
        todo = [r for r in self.ranges if r[2] < r[1] - r[0]]
        pool = ThreadPoolExecutor(max_workers=len(todo) or 1)
        futures = [pool.submit(self._range, r) for r in todo]
        changed = False
        try:
            self._hash_behind(futures)
            if self.hashed == self.size:
                wait(futures)
            errors = [e for e in (f.exception() for f in futures if f.done()) if e is not None]
            if errors:  # a failure of the file, not of one range (see _range)
                raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
            if self.hashed < self.size:  # ranges the workers could not get
                self._one_stream()
                self._hash_behind([])
            return f"{self.alg}:{self.digest.hexdigest()}"
        except Changed:
            changed = True
            raise
        finally:
            self.stop = True
            self.dl.client.close_threads(self.threads)
            pool.shutdown(wait=True)
            if changed:  # the bytes are of another version: nothing to resume
                unlink(self.part.record)
            else:
                self.part.save_record(self.size, self.ranges, self.validator)

    def _probe(self) -> None:
        """One byte through the redirects: the server must answer ranges with 206. Its
        validators become the ``If-Range`` of every range; resumed ranges whose recorded
        validator is not the file's any more start afresh."""

        def check(resp: Any) -> None:
            self.dl.policy.raise_for_status(resp)
            total = content_range(resp.getheader("Content-Range", ""))[2]
            if resp.status != 206 or total != self.size:
                raise NoRanges()
            self.validator, self.seen = validators(resp)
            resp.read(2)

        try:
            self.url = self.dl.client.get(self.url, "bytes=0-0", check, last=self.last)
        except Retry:
            raise NoRanges() from None  # the single-stream path has the retries
        if self.resumed:
            recorded = self.part.record_validator()
            if recorded is not None and recorded != self.validator:
                self.ranges, self.resumed = self._split(), False

    def _range(self, r: list[int]) -> None:
        """Download one range, retrying from where it stopped (runs in a worker). When its
        retries are used up (or the server keeps answering oddly), the range is left for
        the one stream of :meth:`_one_stream`; other failures end the whole file."""
        import _thread

        self.threads.add(_thread.get_ident())
        odd = [0]

        def attempt() -> None:
            start, end = r[0] + r[2], r[1]
            if start >= end:
                return
            try:
                self.dl.client.get(
                    self.url,
                    f"bytes={start}-{end - 1}",
                    lambda resp: self._write(r, resp, odd),
                    if_range=self.validator,
                )
            except Retry:
                if r[0] + r[2] < r[1]:
                    raise  # (an error after the range's last byte changes nothing)
            if r[0] + r[2] < r[1]:
                raise Retry(f"range {start}-{end - 1} ended early")

        try:
            self.dl.policy.run(attempt, self.dl.cancel, self.heartbeat, stop=lambda: self.stop)
        except (Retry, Fatal) as e:
            if self.stop:
                raise
            self.gaps.append(f"bytes {r[0] + r[2]}-{r[1] - 1}: {e}")

    def _write(self, r: list[int], resp: Any, odd: list[int]) -> None:
        start = r[0] + r[2]
        status, (got, _, total) = resp.status, content_range(resp.getheader("Content-Range", ""))
        if status in (200, 206, 416) and self._changed(resp, status == 200, total):
            raise Changed()
        if status in (200, 416) or (status == 206 and got != start):
            what = {200: "the whole file", 416: "416 Range Not Satisfiable"}.get(status)
            odd[0] += 1
            why = f"asked for bytes {start}-{r[1] - 1}, got {what or f'bytes {got}-'}"
            if odd[0] >= ODD_ANSWERS:
                raise Fatal(f"{why} ({odd[0]} times)")
            raise Retry(why)
        self.dl.policy.raise_for_status(resp)
        if status != 206:
            raise Fatal(f"HTTP {status} {resp.reason}")
        limit = (r[1], "the range asked for")
        sink = Sink(self.dl, self.part, start, limit, None, self.progress, self._beat, False,
                    self._advance(r))  # fmt: skip
        sink.drain(resp, upto_limit=True)  # a body that runs on is cut (its connection too)

    def _changed(self, resp: Any, whole: bool, total: int = -1) -> bool:
        """Whether an answer is of another version than the probe's: another size (the
        ``whole`` file's length, or the ``total`` of a Content-Range), ETag or
        Last-Modified (If-Range found the file changed, or a server ignored it)."""
        length = content_length(resp) if whole else total
        if length is not None and length not in (-1, self.size):
            return True
        now = (resp.getheader("ETag"), resp.getheader("Last-Modified"))
        return any(a is not None and b is not None and a != b for a, b in zip(self.seen, now))

    def _one_stream(self) -> None:
        """Fill what the workers left from one GET without ``Range`` (retried like any
        transfer), dropping the bytes that are already here."""

        def attempt() -> None:
            self.dl.client.get(self.url, None, self._fill, last=self.last)
            left = sum(r[1] - r[0] - r[2] for r in self.ranges)
            if left:
                raise Retry(f"the stream ended {left:,} bytes short")

        try:
            self.dl.policy.run(attempt, self.dl.cancel, self.heartbeat)
        except (Retry, Fatal) as e:
            raise type(e)(f"{e} (after the ranges {'; '.join(self.gaps)})") from None

    def _fill(self, resp: Any) -> None:
        self.dl.policy.raise_for_status(resp)
        if resp.status != 200:
            raise Fatal(f"HTTP {resp.status} {resp.reason} to a request without Range")
        if self._changed(resp, True):
            raise Changed()
        position = 0
        for r in self.ranges:
            start = r[0] + r[2]
            if start >= r[1]:
                continue
            limit = (r[1], "the range asked for")
            sink = Sink(self.dl, self.part, start, limit, None, self.progress, self.heartbeat,
                        False, self._advance(r))  # fmt: skip
            try:
                if sink.skip(resp, start - position) < start - position:
                    return
                sink.drain(resp, upto_limit=True)
            finally:
                sink.close()
            position = sink.position
            if position < r[1]:
                return

    def _advance(self, r: list[int]) -> Callable[[int], None]:
        def advance(n: int) -> None:
            with self.changed:
                r[2] += n
                self.changed.notify_all()

        return advance

    def _beat(self) -> None:
        if self.stop:
            raise Cancelled()

    def _hash_behind(self, futures: list[Any]) -> None:
        """Hash the part file from where it stopped, as soon as each byte is written, until
        the end, or until the workers are over (or one failed) with gaps left."""
        import time

        last_save = time.monotonic()
        view = memoryview(bytearray(CHUNK))
        fd = os.open(self.part.path, os.O_RDONLY | NOFOLLOW | BINARY)
        try:
            os.lseek(fd, self.hashed, 0)
            with open(fd, "rb", buffering=0, closefd=False) as f:
                while self.hashed < self.size:
                    with self.changed:
                        frontier = self._frontier()
                        if frontier <= self.hashed:
                            if all(fut.done() for fut in futures) or any(
                                fut.done() and fut.exception() for fut in futures
                            ):
                                break
                            self.changed.wait(0.25)
                            frontier = self._frontier()
                    self.dl.cancel.check()
                    self.heartbeat()
                    while self.hashed < frontier:
                        n = f.readinto(view[: min(CHUNK, frontier - self.hashed)])
                        if not n:
                            raise StopFile(f"{self.part.path} was cut short while downloading")
                        self.digest.update(view[:n])
                        self.hashed += n
                    if time.monotonic() - last_save > 1.0:
                        self.part.save_record(self.size, self.ranges, self.validator)
                        last_save = time.monotonic()
        finally:
            os.close(fd)

    def _frontier(self) -> int:
        """The end of the bytes written without a gap from the start of the file."""
        for start, end, written in self.ranges:
            if written < end - start:
                return start + written
        return self.size


def validators(resp: Any) -> tuple[str | None, tuple[str | None, str | None]]:
    """The ``If-Range`` value of a response (its strong ETag, else its Last-Modified when
    the date is a strong validator: the response's Date at least a second later, RFC 9110
    8.8.2.2), and its (ETag, Last-Modified)."""
    etag, modified = resp.getheader("ETag"), resp.getheader("Last-Modified")
    if etag and not etag.startswith("W/"):
        return etag, (etag, modified)
    if modified:
        from email.utils import parsedate_to_datetime

        try:
            date = resp.getheader("Date")
            age = (parsedate_to_datetime(date) - parsedate_to_datetime(modified)).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            age = 0.0
        if age >= 1:
            return modified, (etag, modified)
    return None, (etag, modified)
