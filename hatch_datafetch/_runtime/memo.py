"""The verified-file memo, the one function that checks a copy against its hash, and what
``where`` says of one place (:class:`Candidate`).

:func:`check` is the only way the locator asks "what is at this path, checked against this
hash": every source of the lookup chain, ``where``, ``verify``, archive trees and the cache
commands go through it. A copy is ``ok`` only when it is a regular file whose bytes hash to
the registry's value; the memo spares re-reading a file unchanged since it was verified.
"""

from __future__ import annotations

import os

from . import fs
from .layout import (
    MEMO_LOG,
    memo_entries,
    memo_entry_ok,
    memo_json,
    memo_log_line,
    memo_table,
    read_json,
    read_memo_log,
    write_json,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


class Memo:
    """Remembers verified files: path -> [size, mtime_ns, inode, ctime_ns, "alg:hex"].

    Kept in the cache so that a fresh process trusts an unchanged, previously verified file
    without re-reading it; any change to the stat fields forces a re-hash, and every
    malformed entry is ignored. One instance per cache in a process (see :meth:`at`), so
    several locators share it.

    Stored as ``verified.json`` and its journal ``verified.log`` (:mod:`.layout`): a flush
    appends one line of the new entries (``O_APPEND``: concurrent writers do not mix), so it
    costs what it records, not the whole memo; when the journal outgrows half the table it
    is compacted into ``verified.json`` under a lock (renamed aside first, so appends go to
    a fresh journal; the table is replaced atomically). Where a lock is a no-op, an entry
    lost costs only a re-hash.
    """

    _all: dict[str, Memo] = {}

    @classmethod
    def at(cls, path: str) -> Memo:
        memo = cls._all.get(path)
        if memo is None:
            memo = cls._all.setdefault(path, cls(path))
        return memo

    def __init__(self, path: str) -> None:
        self.path = path
        self.log = os.path.join(os.path.dirname(path), MEMO_LOG)
        self.entries: dict[str, Any] | None = None
        self.dirty: dict[str, list[Any]] = {}
        import _thread  # threading costs ~1 ms to import; the warm path needs only a lock

        self.lock = _thread.allocate_lock()

    def _load(self) -> dict[str, Any]:
        if self.entries is None:  # each entry is checked when it is used (known)
            table = memo_table(read_json(self.path))
            table.update(read_memo_log(self.log))
            self.entries = table
        return self.entries

    @staticmethod
    def _key(st: os.stat_result) -> list[Any]:
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]

    def known(self, path: str, st: os.stat_result, expected: str) -> bool:
        entries = self.entries
        if entries is None:
            with self.lock:
                entries = self._load()
        rec: Any = entries.get(path)  # (a dict read is atomic; writers replace whole entries)
        return (
            memo_entry_ok(rec)
            and rec[4] == expected
            and rec[0] == st.st_size
            and rec[1] == st.st_mtime_ns
            and rec[2] == st.st_ino
            and rec[3] == st.st_ctime_ns
        )

    def record(self, path: str, st: os.stat_result, digest: str) -> None:
        rec = [*self._key(st), digest]
        with self.lock:
            self._load()[path] = rec
            self.dirty[path] = rec

    def flush(self) -> None:
        """Append what was recorded since the last flush to the journal."""
        with self.lock:
            if not self.dirty:
                return
            from .errors import Stuck, Unsafe

            try:
                fs.make_dirs(os.path.dirname(self.path))
                fd = fs.open_nofollow(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                try:
                    os.write(fd, memo_log_line(self.dirty))  # one write: one whole line
                    logged = os.fstat(fd).st_size
                finally:
                    os.close(fd)
                try:
                    table = os.stat(self.path).st_size
                except OSError:
                    table = 0
                if logged > max(64 << 10, table // 2):
                    self._compact()
            except (OSError, Unsafe, Stuck):  # a read-only cache only costs re-hashing
                pass
            self.dirty.clear()

    def _compact(self) -> None:
        """The journal into the table, under the memo's lock."""
        from .locks import FileLock

        with FileLock(f"{self.path}.lock", stale=10.0, what=""):
            taken = fs.unique_name(self.log, ".old")
            try:
                os.rename(self.log, taken)  # appends from now on start a new journal
            except FileNotFoundError:
                return  # another process compacted it a moment ago
            try:
                merged = memo_entries(read_json(self.path))
                merged.update((k, v) for k, v in read_memo_log(taken).items() if memo_entry_ok(v))
                if len(merged) > 4096:  # prune entries of files that are gone
                    merged = {k: v for k, v in merged.items() if os.path.exists(k)}
                write_json(self.path, memo_json(merged), compact=True)
            finally:
                fs.unlink(taken)


class Check:
    """What :func:`check` found at a path: ``state`` is ``ok``, ``missing`` or ``bad``;
    ``actual`` the hash read (``none (not read)`` for a file that is not regular);
    ``error`` why it could not be read (a FIFO, a device, a directory), else None."""

    __slots__ = ("actual", "error", "state")

    def __init__(self, state: str, actual: str = "", error: str | None = None) -> None:
        self.state, self.actual, self.error = state, actual, error

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def problem(self, expected: str) -> str:
        """Why a bad copy is bad, in a few words."""
        if self.error is not None:
            return self.error
        return f"hash {self.actual} does not match the registry's {expected}"

    def status(self) -> str:
        """What ``where`` says of the place: ``ok``, ``missing``, ``bad hash X``, ``bad: why``."""
        if self.state != "bad":
            return self.state
        return f"bad: {self.error}" if self.error is not None else f"bad hash {self.actual}"


MISSING = Check("missing")


def check(
    path: str, expected: str, memo: Memo, *, rehash: bool = False, absolute: bool = False
) -> Check:
    """Is ``path`` a regular file whose hash is ``expected`` (``alg:hex``, validated)?

    The memo answers for a file unchanged since it was verified, unless ``rehash``; a file
    that verifies is recorded. A FIFO, device or directory is bad and never read.
    ``absolute``: ``path`` is already absolute and normalised (the memo's key)."""
    try:
        st = os.stat(path)
    except OSError:
        return MISSING
    key = path if absolute else os.path.abspath(path)
    if not rehash and memo.known(key, st, expected):
        return Check("ok", expected)
    try:
        actual, st = fs.hash_regular(path, expected.partition(":")[0])
    except OSError as e:
        return Check("bad", "none (not read)", f"{e.strerror or e}")
    if actual != expected:
        return Check("bad", actual)
    memo.record(key, st, actual)
    return Check("ok", actual)


class Candidate:
    """One place `where` looked for a file: source label, location and outcome."""

    __slots__ = ("location", "source", "status")

    def __init__(self, source: str, location: str, status: str) -> None:
        self.source, self.location, self.status = source, location, status

    def __repr__(self) -> str:
        return f"Candidate({self.source!r}, {self.location!r}, {self.status!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and (
            (self.source, self.location, self.status)
            == (other.source, other.location, other.status)
        )

    __hash__ = None  # type: ignore[assignment]
