"""File-system safety and hashing: the only writes the locator makes go through here.

* :func:`name_problem`, :func:`safe_join` and :func:`split_hash`: every NAME and every hash
  string of the runtime JSON is checked before any file-system call sees it (a tampered
  JSON can only fail, never point outside a data directory);
* :func:`open_nofollow` and :func:`ensure_dirs` never follow a planted symbolic link;
  what they (and :func:`make_dirs`) create in a group-writable directory is shared with the
  group (:func:`share`); :func:`open_regular` never reads a FIFO or device;
  :func:`unique_name` gives each writer a name of its own
  (``.BASE.<host>-<pid>-<random><suffix>``; :func:`.locks.owner_gone` tells whether the
  writer of such a name is over);
* :func:`hasher`, :func:`hash_regular`, :func:`hash_file`: streaming hashes in 1 MiB reads;
* :class:`Cancel`: how every worker, backoff and lock wait learns of Ctrl-C. The locks
  themselves are in :mod:`.locks`.
"""

from __future__ import annotations

import errno
import os
import stat  # loaded at interpreter start-up anyway
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

CHUNK = 1 << 20  # 1 MiB reads: 1 KiB chunks cost ~6x on large files
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
BINARY = getattr(os, "O_BINARY", 0)


# --------------------------------------------------------------------------- names and hashes

#: Hash algorithms a registry may use, with the length of their hex digests.
HASH_LENGTHS = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "sha3_224": 56,
    "sha3_256": 64,
    "sha3_384": 96,
    "sha3_512": 128,
    "blake2b": 128,
    "blake2s": 64,
    "xxh32": 8,
    "xxh64": 16,
    "xxh128": 32,
    "xxh3_64": 16,
    "xxh3_128": 32,
}
_HEX = frozenset("0123456789abcdef")
# Windows refuses these names, with any extension ("aux.txt"), in any case.
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)
# Characters that make a name display differently from what it is (bidi controls).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def name_problem(name: str) -> str | None:
    """Why NAME cannot be a data file name, or None when it can.

    A name is a relative POSIX path that every common file system stores as written: no
    absolute path, drive letter, backslash, colon, empty, ``.`` or ``..`` segment, no control
    or bidirectional control character, no segment over 255 bytes, ending in a dot or space,
    or named like a Windows device (``CON``, ``aux.txt``, ``com1``...).
    """
    if not name:
        return "the name is empty"
    if simple_name(name):  # the common case, at once (archives list 1,000s of members)
        return None
    for ch in name:
        if ord(ch) < 32 or ord(ch) == 127:
            return f"name {name!r} contains the control character U+{ord(ch):04X}"
        if ch in _BIDI:
            return (
                f"name {name!r} contains the bidirectional control character U+{ord(ch):04X}, "
                "which makes it display differently from what it is"
            )
    if name != name.strip():
        return f"name {name!r} has leading or trailing whitespace"
    if name.startswith(("/", "\\")):
        return f"name {name!r} is an absolute path; names are relative to the data directory"
    if len(name) > 1 and name[1] == ":" and name[0].isascii() and name[0].isalpha():
        return f"name {name!r} starts with a drive letter; use a relative POSIX path"
    if "\\" in name:
        return (
            f"name {name!r} contains a backslash; separate directories with '/' "
            "(e.g. 'data/camera.png')"
        )
    parts = name.split("/")
    if "" in parts:
        return f"name {name!r} has an empty path segment ('//' or a trailing '/')"
    if "." in parts:
        return f"name {name!r} has a '.' segment; write the path without it"
    if ".." in parts:
        return f"name {name!r} has a '..' segment, which would point outside the data directory"
    if ":" in name:
        return f"name {name!r} contains ':', which Windows reads as a drive or data stream"
    for part in parts:
        if len(part.encode("utf-8")) > 255:
            return (
                f"name {name!r} has a segment of {len(part.encode('utf-8'))} bytes; "
                "file systems store at most 255"
            )
        if part.endswith((".", " ")):
            return f"name {name!r} has a segment ending in a dot or space, which Windows drops"
        if part.split(".")[0].rstrip(" ").lower() in _RESERVED:
            return f"name {name!r} uses the Windows device name {part.split('.')[0]!r}"
    return None


_SIMPLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-./")


def simple_name(name: str) -> bool:
    """NAME is plainly fine: ``/``-separated segments of ASCII letters, digits and ``_+-.``
    that neither start nor end with a dot, are at most 255 long and are no Windows device
    name. Anything else gets :func:`name_problem`'s full check."""
    if not _SIMPLE_CHARS.issuperset(name):
        return False
    for part in name.split("/"):
        if not part or part[0] == "." or part[-1] == "." or len(part) > 255:
            return False
        if part.split(".", 1)[0].lower() in _RESERVED:
            return False
    return True


def safe_join(root: str, name: str) -> str:
    """Join a registry NAME under root; refuse anything that would land outside root."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"refusing unsafe data file name: {problem}")
    return os.path.join(root, *name.split("/"))


def canonical_hash(value: str) -> str:
    """``alg:hex`` of a registry hash, lower case; bare hex is sha256. A ValueError
    unless the algorithm is known and the digits are hex of the right length, so that a
    hash can become part of a cache path."""
    alg, sep, hexdigest = value.partition(":")
    if sep and HASH_LENGTHS.get(alg) == len(hexdigest) and _HEX.issuperset(hexdigest):
        return value  # written as it is kept (what the tool writes): no copy
    alg, hexdigest = (alg.lower(), hexdigest.lower()) if sep else ("sha256", value.lower())
    if HASH_LENGTHS.get(alg) != len(hexdigest) or not _HEX.issuperset(hexdigest):
        raise ValueError(f"invalid hash {value!r}: expected ALG:HEX with a known algorithm")
    return f"{alg}:{hexdigest}"


def split_hash(value: str) -> tuple[str, str]:
    """``(alg, hex)`` of a registry hash (:func:`canonical_hash`)."""
    alg, _, hexdigest = canonical_hash(value).partition(":")
    return alg, hexdigest


# --------------------------------------------------------------------------- files


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
            from .errors import DataNotFoundError

            raise DataNotFoundError(
                f"{alg} hashes need the xxhash module: pip install xxhash (or pooch[xxhash])"
            ) from None
        return getattr(xxhash, alg)()
    # not for security: FIPS-mode builds refuse md5/sha1 without it (pooch #511)
    return hashlib.new(alg, usedforsecurity=False)


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


def open_nofollow(path: str, flags: int, mode: int = 0o666) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (:class:`Unsafe`). A file it
    creates gets ``mode`` less the umask, plus group read and write in a shared directory
    (:func:`share`)."""
    try:
        fd = os.open(path, flags | NOFOLLOW | BINARY, mode)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK) or (
            not NOFOLLOW and os.path.islink(path)
        ):  # pragma: no branch
            from .errors import Unsafe

            raise Unsafe(path) from None
        raise
    if flags & os.O_CREAT:
        share(fd, os.path.dirname(path))
    return fd


# --------------------------------------------------------------------------- group sharing

GROUP_RW = stat.S_IRGRP | stat.S_IWGRP


def shared_dir(directory: str) -> bool:
    """Is ``directory`` shared by a group: group-writable and not sticky? (``/tmp`` is
    world-writable but sticky: each user's files there stay that user's.)"""
    try:
        mode = os.stat(directory or os.curdir).st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IWGRP) and not mode & stat.S_ISVTX


def share(target: int | str, directory: str, is_dir: bool = False) -> None:
    """Make a file (an open descriptor) or directory (a path) that this process has just
    created in ``directory`` usable by the group when ``directory`` is shared
    (:func:`shared_dir`): group read and write, and search for a directory. The other
    permission bits stay what the umask made them; the group and a setgid bit that the
    kernel gave a new directory (inside a setgid one) are kept. Another user's file is left
    alone (its creator shared it), and a failure costs only the sharing."""
    if sys.platform == "win32":  # pragma: no cover
        return
    want = stat.S_IRWXG if is_dir else GROUP_RW
    try:
        st = os.fstat(target) if isinstance(target, int) else os.lstat(target)
        if st.st_mode & want == want or st.st_uid != os.geteuid() or not shared_dir(directory):
            return
        mode = stat.S_IMODE(st.st_mode) | want
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode, follow_symlinks=False)
    except (OSError, NotImplementedError):
        pass


def make_dir(path: str) -> bool:
    """``os.mkdir`` (mode 0o777 less the umask); False when something is there already.

    In a shared directory (:func:`shared_dir`) the new directory appears with its group
    bits already set (:func:`share`): it is made under a name of its own, shared, then
    renamed into place (replacing, at most, an empty directory that another process has
    just made the same way), so no other user ever finds it without them."""
    parent = os.path.dirname(path)
    if sys.platform == "win32" or not shared_dir(parent):
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
        return True
    tmp = unique_name(path, ".tmp")
    os.mkdir(tmp)
    share(tmp, parent, is_dir=True)
    try:
        os.rename(tmp, path)
    except OSError as e:  # a directory with something in it already, or another file
        os.rmdir(tmp)
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            return False
        raise
    return True


def make_dirs(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` whose every new level is made by
    :func:`make_dir` (a cache root made inside a shared directory is shared too)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_dirs(parent)
    if not make_dir(path) and not os.path.isdir(path):
        raise FileExistsError(errno.EEXIST, "exists and is not a directory", path)


def ensure_dirs(root: str, directory: str) -> None:
    """Create ``directory`` inside ``root``; a symbolic link (or file) met on the way below
    ``root`` is an error, so nothing is ever written through a planted link."""
    make_dirs(root)
    path = root
    rel = os.path.relpath(directory, root)
    for part in [] if rel == os.curdir else rel.split(os.sep):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)  # (cheaper than a mkdir that finds the directory there)
        except FileNotFoundError:
            make_dir(path)
            st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):  # (to lstat, a symbolic link is no directory)
            from .errors import Unsafe

            link = stat.S_ISLNK(st.st_mode)
            raise Unsafe(path, "a symbolic link" if link else "not a directory")


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


class Cancel:
    """A cancellation flag shared by the workers of one locator (Ctrl-C)."""

    def __init__(self) -> None:
        self._event: Any = None  # threading.Event, made on first use
        self.hooks: list[Callable[[], None]] = []  # run on cancel (shut sockets down)

    def event(self) -> Any:
        if self._event is None:
            import threading

            self._event = threading.Event()
        return self._event

    def set(self) -> None:
        self.event().set()
        for hook in list(self.hooks):
            hook()

    def check(self) -> None:
        """:class:`Cancelled` once cancelled."""
        if self._event is not None and self._event.is_set():
            from .errors import Cancelled

            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True if cancelled meanwhile."""
        return bool(self.event().wait(seconds))

    def sleep(self, seconds: float, heartbeat: Callable[[], None]) -> None:
        """Sleep ``seconds`` (a backoff), still telling lock waiters this holder is alive."""
        import time

        end = time.monotonic() + seconds
        while True:
            heartbeat()
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.wait(min(left, 1.0)):
                from .errors import Cancelled

                raise Cancelled()
