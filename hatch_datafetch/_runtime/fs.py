"""File-system safety, hashing and locks: the only writes the locator makes go through here.

* :func:`open_nofollow` and :func:`ensure_dirs` never follow a planted symbolic link;
  :func:`open_regular` never reads a FIFO or device; :func:`unique_name` gives each writer a
  name of its own (``.BASE.<host>-<pid>-<random><suffix>``), :func:`owner_gone` tells whether
  the writer of such a name is over;
* :func:`hasher`, :func:`hash_regular`, :func:`hash_file`: streaming hashes in 1 MiB reads;
* :class:`FileLock`: one download per file across threads and processes (flock / msvcrt).
  Locks de-duplicate work; correctness never depends on them.
"""

from __future__ import annotations

import errno
import os
import stat  # loaded at interpreter start-up anyway
import sys

from .errors import Cancelled, DataNotFoundError, Stuck, Unsafe

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

CHUNK = 1 << 20  # 1 MiB reads: 1 KiB chunks cost ~6x on large files
ACTIVE_PARTS: set[str] = set()  # part files and temp trees this process is writing now
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
BINARY = getattr(os, "O_BINARY", 0)
HELD: set[tuple[int, str]] = set()  # (thread id, lock path) held in this process


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def hasher(alg: str) -> Any:
    import hashlib

    if alg.startswith("xxh"):
        try:
            import xxhash  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise DataNotFoundError(
                f"{alg} hashes need the xxhash module: pip install xxhash (or pooch[xxhash])"
            ) from None
        return getattr(xxhash, alg)()
    return hashlib.new(alg)


def feed_fd(fd: int, hasher: Any, tick: Callable[[], None] | None = None) -> int:
    """Hash an open file from its current offset to its end (calling ``tick`` after each
    MiB); return the byte count."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    with open(fd, "rb", buffering=0, closefd=False) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                return total
            hasher.update(view[:n])
            total += n
            if tick is not None:
                tick()


def open_regular(path: str | os.PathLike[str], flags: int = 0) -> tuple[int, os.stat_result]:
    """Open a file for reading only if it is a regular file: a FIFO or device is never
    read (it is opened non-blocking and checked with fstat). OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | NONBLOCK | BINARY | flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        if NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def hash_regular(path: str | os.PathLike[str], alg: str) -> tuple[str, os.stat_result]:
    """``(alg:hex, stat)`` of a regular file (OSError for anything else)."""
    h = hasher(alg)
    fd, st = open_regular(path)
    try:
        feed_fd(fd, h)
    finally:
        os.close(fd)
    return f"{alg}:{h.hexdigest()}", st


def hash_file(path: str | os.PathLike[str], alg: str = "sha256") -> str:
    """Hash a regular file in 1 MiB reads; return ``alg:hex`` (OSError for a FIFO, device
    or directory, which are never read)."""
    return hash_regular(path, alg)[0]


def open_nofollow(path: str, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (:class:`Unsafe`)."""
    try:
        return os.open(path, flags | NOFOLLOW | BINARY, mode)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK) or (
            not NOFOLLOW and os.path.islink(path)
        ):  # pragma: no branch
            raise Unsafe(path) from None
        raise


def ensure_dirs(root: str, directory: str) -> None:
    """Create ``directory`` inside ``root``; a symbolic link (or file) met on the way below
    ``root`` is an error, so nothing is ever written through a planted link."""
    if not os.path.isdir(root):
        os.makedirs(root, exist_ok=True)
    path = root
    rel = os.path.relpath(directory, root)
    for part in [] if rel == os.curdir else rel.split(os.sep):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)  # (cheaper than a mkdir that finds the directory there)
        except FileNotFoundError:
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise Unsafe(path)
        if not stat.S_ISDIR(st.st_mode):
            raise Unsafe(path, "not a directory")


class FileLock:
    """Exclusive lock on ``path`` across threads and processes (flock / msvcrt), removed on
    release. Locks de-duplicate work; correctness never depends on them.

    The lock file is opened ``O_NOFOLLOW`` (a planted link is an error). Its holder writes
    who it is into it and touches it (:meth:`heartbeat`) while it works. A waiter polls,
    says once whom it waits for (a ``logging`` warning), and gives up (:class:`Stuck`)
    when the holder has not touched the file for ``stale`` seconds (a lock with no ``what``
    waits silently). The same thread taking
    a lock it holds would wait for itself, so that raises instead.
    """

    def __init__(
        self,
        path: str,
        *,
        stale: float | None = None,
        what: str = "",
        cancelled: Callable[[float], bool] | None = None,
    ) -> None:
        import _thread

        self.path = path
        self.fd = -1
        self.key = (_thread.get_ident(), os.path.abspath(path))
        self.stale, self.what, self.cancelled = stale, what, cancelled
        self._beat = 0.0

    def acquire(self) -> None:
        """Wait for the lock (OSError when it cannot be created, Unsafe for a link)."""
        import time

        if self.key in HELD:
            raise RuntimeError(f"{self.path} is already locked by this thread")
        told = False
        while True:
            fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
            try:
                locked = try_lock(fd)
                if locked:
                    try:
                        same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                    except FileNotFoundError:
                        same = False
                    if same or sys.platform == "win32":
                        self._hold(fd)
                        return
                    unlock_fd(fd)  # the holder removed the file meanwhile: lock the new one
                    continue
                holder, age = lock_holder(fd)
            finally:
                if self.fd != fd:
                    os.close(fd)
            if not told and self.what:
                told = True
                import logging

                logging.getLogger(__package__).warning(
                    "waiting for %s, which is downloading %s (lock %s)",
                    holder,
                    self.what,
                    self.path,
                )
            if self.stale is not None and age > self.stale:
                raise Stuck(
                    f"{holder} holds the lock {self.path} but has shown no progress for "
                    f"{age:.0f} s; if it is stuck, stop it or remove the lock file"
                )
            if self.cancelled is not None and self.cancelled(0.1):
                raise Cancelled()
            if self.cancelled is None:
                time.sleep(0.1)

    def _hold(self, fd: int) -> None:
        import socket

        self.fd = fd
        HELD.add(self.key)
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())

    def heartbeat(self) -> None:
        """Tell waiters this holder is alive (at most once a second)."""
        import time

        now = time.monotonic()
        if self.fd >= 0 and now - self._beat >= 1.0:
            self._beat = now
            try:
                os.utime(self.fd if os.utime in os.supports_fd else self.path)
            except OSError:
                pass

    def __enter__(self) -> FileLock:
        if self.fd < 0:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        HELD.discard(self.key)
        if sys.platform != "win32":
            unlink(self.path)
        unlock_fd(self.fd)
        os.close(self.fd)
        self.fd = -1


def lock_holder(fd: int) -> tuple[str, float]:
    """Who holds a lock (as it wrote into the file) and seconds since it last touched it."""
    import time

    try:
        raw = os.pread(fd, 200, 0) if hasattr(os, "pread") else b""
        text = raw.decode("utf-8", "replace").strip()
        age = time.time() - os.fstat(fd).st_mtime
    except OSError:
        text, age = "", 0.0
    return text or "another process", age


if sys.platform == "win32":  # pragma: no cover

    def try_lock(fd: int) -> bool:
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock_fd(fd: int) -> None:
        import msvcrt

        os.lseek(fd, 0, 0)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:

    def try_lock(fd: int) -> bool:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock_fd(fd: int) -> None:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def unique_name(path: str, suffix: str) -> str:
    """``DIR/.BASE.<host>-<pid>-<random><suffix>``: a name no other writer uses."""
    directory, base = os.path.split(path)
    return os.path.join(directory, f".{base}.{token()}{suffix}")


HOST_NAME: str | None = None


def host() -> str:
    global HOST_NAME
    if HOST_NAME is None:
        import re
        import socket

        HOST_NAME = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
    return HOST_NAME


def token() -> str:
    return f"{host()}-{os.getpid()}-{os.urandom(4).hex()}"


TOKEN_RE: Any = None


def token_pattern() -> Any:
    """``HOST-PID-HEX`` of :func:`token` (compiled once)."""
    global TOKEN_RE
    if TOKEN_RE is None:
        import re

        TOKEN_RE = re.compile(r"(\w+)-(\d+)-[0-9a-f]+")
    return TOKEN_RE


def owner_gone(who: str, pid: int, path: str) -> bool:
    """Is the download that wrote this part file over (so its bytes may be adopted)?"""
    import time

    if who == host() and sys.platform != "win32":
        if pid == os.getpid():
            return path not in ACTIVE_PARTS
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:  # another host (a shared file system), or Windows: untouched for an hour
        return time.time() - os.stat(path).st_mtime > 3600
    except OSError:
        return False


def remove_tree(path: str) -> None:
    """Remove a directory tree (links inside are removed, never followed), or a file or
    link at ``path``; nothing if it is gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        unlink(path)


def is_real_dir(path: str) -> bool:
    """A directory itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def lock_is_stale(path: str) -> bool:
    """A lock file nobody holds (taken and released at once to check)."""
    try:
        fd = open_nofollow(path, os.O_RDWR)
    except (OSError, Unsafe):
        return False
    try:
        if not try_lock(fd):
            return False
        unlock_fd(fd)
        return True
    finally:
        os.close(fd)
