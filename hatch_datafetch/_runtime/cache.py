"""Cache commands over the layout: list, size, prune, clear, export and import.

Nothing outside the cache root is ever touched: links are reported, never followed or
removed; a download in progress (its part and lock files) is left alone. What each file is
comes from :func:`.layout.parse`, the layout's own reader.
"""

from __future__ import annotations

import os

from .fs import (
    CHUNK,
    ensure_dirs,
    hasher,
    open_nofollow,
    safe_join,
    split_hash,
    unique_name,
    unlink,
)
from .layout import parse
from .locks import lock_is_stale, owner_gone

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator, Sequence
    from typing import IO, Any

    from .lookup import Locator


class CacheEntry:
    """One file in the cache: its path, kind, size, hash and the registry NAMEs it serves.

    ``kind`` is ``data`` (a downloaded file), ``member`` (a file of an unpacked archive's
    tree, or the list of what it unpacked to; ``names`` are ``ARCHIVE/member``), ``part`` (a
    download or unpacking in progress or left by a killed one: ``live`` says which),
    ``lock``, ``memo``, ``tag``, ``link`` (a symbolic link: never followed, never removed)
    or ``other`` (left alone).
    """

    __slots__ = ("hash", "kind", "live", "names", "path", "size")

    def __init__(
        self,
        path: str,
        kind: str,
        size: int,
        hash: str = "",
        names: Sequence[str] = (),
        live: bool = False,
    ) -> None:
        self.path, self.kind, self.size, self.hash = path, kind, size, hash
        self.names, self.live = list(names), live

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in sorted(self.__slots__)}


def cache_walk(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``root`` with its path relative to it; directories are entered
    only when they are real (a link is reported, never followed)."""
    todo = [root]
    while todo:
        d = todo.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                todo.append(e.path)
            yield os.path.relpath(e.path, root).replace(os.sep, "/"), e


class Cache:
    """The user cache of one locator: list, size, prune, clear, export and import.

    Nothing outside the cache root is ever touched: links are reported, never followed or
    removed; a download in progress (its part and lock files) is left alone.
    """

    def __init__(self, loc: Locator) -> None:
        self.loc = loc
        self.root = loc.cache_root
        self.by_hash: dict[str, list[str]] = {}
        for name in sorted(loc.files):
            try:
                self.by_hash.setdefault(loc._expected(name), []).append(name)
            except ValueError:
                continue  # a broken registry entry names no file

    def entries(self) -> list[CacheEntry]:
        out = []
        for rel, e in cache_walk(self.root):
            if e.is_dir(follow_symlinks=False):
                continue
            try:
                size = e.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # a download or another command moved it meanwhile
                continue
            if e.is_symlink():
                out.append(CacheEntry(e.path, "link", size))
                continue
            found = parse(self.root, rel)
            kind, digest, live = found.kind, found.digest, False
            names: list[str] = []
            if kind == "part" and found.owner is not None:
                live = not owner_gone(*found.owner)
            elif kind == "lock":
                live = not lock_is_stale(e.path)
            elif kind == "member":
                inside = f"/{found.inside}" if found.inside else ""
                names = [
                    f"{n}{inside}"
                    for n in self.by_hash.get(digest, ())
                    if n.split("/")[-1] == found.base
                ]
            elif kind == "data":
                names = self.by_hash.get(digest, [])
            out.append(CacheEntry(e.path, kind, size, digest, names, live))
        return out

    def prune(self, everything: bool = False) -> list[CacheEntry]:
        """Remove data files this registry does not name (all of them if ``everything``),
        part files of downloads that are over, and locks nobody holds; then empty dirs."""
        removed = []
        for entry in self.entries():
            stale = entry.kind in ("part", "lock") and not entry.live
            unnamed = entry.kind in ("data", "member") and (everything or not entry.names)
            memo = everything and entry.kind == "memo"
            if stale or unnamed or memo:
                try:
                    os.unlink(entry.path)
                except OSError:
                    continue
                removed.append(entry)
        for _, e in sorted(cache_walk(self.root), key=lambda x: x[0], reverse=True):
            if e.is_dir(follow_symlinks=False):
                try:
                    os.rmdir(e.path)
                except OSError:
                    pass
        return removed

    def export(self, archive: str) -> list[str]:
        """Write every registry file the cache holds (verified) into a tar archive, laid
        out by NAME (``.tar.gz``/``.tgz`` compressed); returns the names."""
        import tarfile

        names = []
        tmp = unique_name(os.path.abspath(archive), ".tmp")
        gz = archive.endswith((".gz", ".tgz"))
        try:
            with tarfile.open(tmp, "w:gz" if gz else "w:", format=tarfile.PAX_FORMAT) as tar:
                for name, path in self._exported():
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = os.path.getsize(path), 0o644, 0
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                    names.append(name)
            os.replace(tmp, archive)
        finally:
            unlink(tmp)
        return names

    def _exported(self) -> Iterator[tuple[str, str]]:
        """(NAME, path) of each verified cached file; an unpacked archive whose members the
        registry lists as its members (``NAME/member``) when its tree is complete, else as
        the archive."""
        loc = self.loc
        for name in sorted(loc.files):
            try:
                loc.require_known(name)
            except ValueError:
                continue
            members = loc.entries.members.get(name)
            if members is not None and loc.archives.cache_tree_ok(name, loc._tree_path(name), None):
                tree = loc._tree_path(name)
                for m in sorted(members):
                    yield f"{name}/{m}", safe_join(tree, m)
            elif loc._is_valid_copy(name, loc._cache_path(name)):
                yield name, loc._cache_path(name)

    def import_(self, archive: str) -> tuple[list[str], list[str]]:
        """Put the registry files of a tar archive (laid out by NAME) into the cache, each
        verified against the registry before it becomes a cache file. Returns (imported
        names, problems); links, devices, names not in the registry and members larger than
        their entry (its ``size``, else ``max-size``) are refused before anything is written.
        An archive that ends early or is not a tar is an :class:`OSError` naming it; what
        came before is kept (it was verified)."""
        import tarfile
        import zlib

        imported: list[str] = []
        problems: list[str] = []
        try:
            with tarfile.open(archive) as tar:
                for member in tar:
                    problem = self._import_member(tar, member)
                    if problem:
                        problems.append(f"{member.name}: {problem}")
                    else:
                        imported.append(member.name)
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise OSError(f"{archive} is not a readable tar archive: {e}") from None
        finally:
            self.loc._memo.flush()
        return imported, problems

    def _import_member(self, tar: Any, member: Any) -> str | None:
        name = member.name
        if not self.loc.knows(name) or name not in self.loc.entries.checked:
            return "not a file of this registry, skipped"
        if not member.isreg():
            return "not a regular file, skipped"
        cap = self.loc.entries.size(name)
        limit = self.loc.config.max_size if cap is None else cap
        if member.size > limit:
            said = f"the registry says {cap:,}" if cap is not None else f"max-size is {limit:,}"
            return f"{member.size:,} bytes, {said}; not imported"
        src = tar.extractfile(member)
        if src is None:  # pragma: no cover - isreg() members have data
            return "no data, skipped"
        with src:
            return self._store(name, src)

    def _store(self, name: str, src: IO[bytes]) -> str | None:
        """Stream ``src`` into NAME's cache file through a part file; verify, then place."""
        expected = self.loc._expected(name)
        final = self.loc._cache_path(name)
        if name in self.loc.entries.member_of:  # a member goes straight into the archive's tree,
            archive, member = self.loc.entries.member_of[name]  # which counts once complete
            final = safe_join(self.loc._tree_path(archive), member)
        if self.loc._is_valid_copy(name, final):
            return None
        self.loc.layout.tag()
        ensure_dirs(self.root, os.path.dirname(final))
        from .transfer import PartFile

        part = PartFile(final)
        digest = hasher(split_hash(expected)[0])
        try:
            fd = open_nofollow(part.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with open(fd, "wb") as out:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            actual = f"{split_hash(expected)[0]}:{digest.hexdigest()}"
            if actual != expected:
                part.discard()
                return f"hash mismatch: expected {expected}, got {actual}; not imported"
            part.done()
        except BaseException:
            part.discard()
            raise
        self.loc._memo.record(os.path.abspath(final), os.stat(final), expected)
        return None
