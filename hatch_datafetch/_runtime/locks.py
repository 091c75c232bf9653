"""Locks and the owners of part files: one download per file across threads and processes.

* :class:`FileLock` (flock / msvcrt): the holder writes who it is into the lock file and
  touches it while it works; a waiter gives up (:class:`~.errors.Stuck`) when the holder
  stops moving. Locks de-duplicate work; correctness never depends on them.
* :func:`owner_gone`: is the writer of a ``.BASE.<host>-<pid>-<random>`` name (a part file,
  a temp tree) over, so that its bytes may be adopted or removed? :data:`ACTIVE_PARTS`: what
  this process is writing now. :func:`lock_is_stale`: a lock file nobody holds.

Apart from :mod:`.fs` because the warm path (a verified file found in the cache) takes no
lock: a fresh process that only reads does not load this module.
"""

from __future__ import annotations

import os
import sys

from .errors import Cancelled, Stuck, Unsafe
from .fs import host, open_nofollow, shared_dir, unlink

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

ACTIVE_PARTS: set[str] = set()  # part files and temp trees this process is writing now
HELD: set[tuple[int, str]] = set()  # (thread id, lock path) held in this process


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
            fd = self._open()
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

    def _open(self) -> int:
        """The lock file, made if needed. Another user's that we may not write (a shared
        cache whose files lack g+w) is opened read-only: flock works all the same. One
        that another user has just made in a shared directory is waited for while its
        group bits are set (up to 0.5 s)."""
        for attempt in range(25):
            try:
                return open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
            except PermissionError as e:
                denied = e
            try:
                return open_nofollow(self.path, os.O_RDONLY)
            except FileNotFoundError:  # none to open: the directory is not ours to write
                raise denied from None
            except PermissionError:
                if attempt == 24 or not shared_dir(os.path.dirname(self.path)):
                    raise denied from None
            import time

            time.sleep(0.02)
        raise AssertionError("unreachable")  # pragma: no cover

    def _hold(self, fd: int) -> None:
        import socket

        self.fd = fd
        HELD.add(self.key)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        except OSError:  # (a lock opened read-only: waiters see the previous holder's name)
            pass

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


def owner_gone(who: str, pid: int, path: str) -> bool:
    """Is the download that wrote this part file (or temp tree) over, so its bytes may be
    adopted or removed? On this host: the PID is gone, a zombie (killed, not yet reaped),
    or now a process that started after the file was last written (the PID was reused)."""
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
        return _not_the_writer(pid, path)
    try:  # another host (a shared file system), or Windows: untouched for an hour
        return time.time() - os.stat(path).st_mtime > 3600
    except OSError:
        return False


def _not_the_writer(pid: int, path: str) -> bool:
    """Linux: the live PID is a zombie, or started after ``path`` was last written."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # (the name may hold spaces)
        if fields[0] == b"Z":
            return True
        with open("/proc/stat", "rb") as f:
            boot = next(int(ln.split()[1]) for ln in f if ln.startswith(b"btime "))
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return started > os.stat(path).st_mtime + 2  # (btime is rounded to a second)
    except (OSError, ValueError, IndexError, StopIteration):
        return False  # no /proc (macOS...): a live PID counts as the writer


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
