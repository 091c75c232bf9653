"""The cache layout: where every file of a cache root lives, written and read back here only.

Layout version 1 (a later layout gets a new top-level directory, so both can coexist)::

    <root>/CACHEDIR.TAG                                   backup tools skip the cache
    <root>/verified.json                                  the memo (:mod:`.formats`)
    <root>/<alg>/<hex[:2]>/<hex>/<base>                   a verified file (NAME's basename)
    <root>/<alg>/<hex[:2]>/<hex>/<base>.d/<member>        an unpacked archive's tree
    <root>/<alg>/<hex[:2]>/<hex>/.<base>.members.json     what an unlisted archive unpacked to

Beside any final path (in the cache or a ``fetch_all(dest)`` tree), a download keeps::

    .<base>.lock                                          one download at a time
    .<base>.<host>-<pid>-<random>.part[.ranges]           its part file (and range record)
    .<base>.d.<host>-<pid>-<random>.tmp|.old              an unpacking's temp trees

Files are content-addressed: two registries naming the same bytes share one copy, and a
file that differs between two registries is two files, never overwritten back and forth.
"""

from __future__ import annotations

import os
import sys

from .errors import Unsafe
from .fs import open_nofollow, token_pattern
from .names import split_hash

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Any

LAYOUT = 1
MEMO = "verified.json"
TAG = "CACHEDIR.TAG"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by hatch-datafetch.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
PART_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"
RANGES_SUFFIX = ".ranges"  # beside a part file: the ranges a segmented download wrote
MEMBERS_SUFFIX = ".members.json"  # beside an unpacked tree whose members the registry omits
TREE_SUFFIX = ".d"


def user_cache_dir(env: Mapping[str, str] | None = None) -> str:
    """The platform's user cache directory: ``%LOCALAPPDATA%`` on Windows, an absolute
    ``XDG_CACHE_HOME``, else ``~/Library/Caches`` on macOS and ``~/.cache`` elsewhere
    (a relative ``XDG_CACHE_HOME`` is ignored, as the XDG spec says)."""
    env = os.environ if env is None else env
    if sys.platform == "win32":
        return env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    xdg = env.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return xdg
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches")
    return os.path.expanduser("~/.cache")


def lock_path(final: str) -> str:
    """The lock of downloads (or an unpacking) into ``final``."""
    directory, base = os.path.split(final)
    return os.path.join(directory, f".{base}{LOCK_SUFFIX}")


class Layout:
    """The paths of one cache root."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.memo = os.path.join(root, MEMO)
        self._tagged = False

    def file(self, expected: str, name: str) -> str:
        """Where the verified file of hash ``expected`` (registry NAME) is kept."""
        alg, hexdigest = split_hash(expected)
        return os.path.join(self.root, alg, hexdigest[:2], hexdigest, name.rsplit("/", 1)[-1])

    def tree(self, expected: str, name: str) -> str:
        """The unpacked tree of the archive of hash ``expected``."""
        return self.file(expected, name) + TREE_SUFFIX

    def members_record(self, expected: str, name: str) -> str:
        directory, base = os.path.split(self.file(expected, name))
        return os.path.join(directory, f".{base}{MEMBERS_SUFFIX}")

    def tag(self) -> None:
        """Put ``CACHEDIR.TAG`` at the root (backup tools skip the directory), once."""
        if self._tagged:
            return
        self._tagged = True
        try:
            os.makedirs(self.root, exist_ok=True)
            fd = open_nofollow(os.path.join(self.root, TAG), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except (OSError, Unsafe):  # there already, or read-only: the download will say so
            return
        with open(fd, "w", encoding="ascii") as f:
            f.write(CACHEDIR_TAG)


class Parsed:
    """What a path below a cache root is (:func:`parse`): ``kind`` is ``memo``, ``tag``,
    ``data`` (``digest``, ``base``), ``member`` (``digest``, ``base``, ``inside``: the member,
    or "" for a member record), ``part`` (``owner``: host, pid and the path whose writer it
    names), ``lock`` or ``other``."""

    __slots__ = ("base", "digest", "inside", "kind", "owner")

    def __init__(
        self,
        kind: str,
        digest: str = "",
        base: str = "",
        inside: str = "",
        owner: tuple[str, int, str] | None = None,
    ) -> None:
        self.kind, self.digest, self.base, self.inside, self.owner = (
            kind,
            digest,
            base,
            inside,
            owner,
        )


_PATTERNS: Any = None


def _patterns() -> Any:
    global _PATTERNS
    if _PATTERNS is None:
        import re

        hexdir = r"([a-z0-9_]+)/([0-9a-f]{2})/([0-9a-f]+)/"
        _PATTERNS = (
            re.compile(hexdir + r"(\.[^/]+\.d\.(\w+)-(\d+)-[0-9a-f]+\.(?:tmp|old))/.+"),
            re.compile(hexdir + r"([^/]+)\.d/(.+)"),
            re.compile(hexdir + r"\.([^/]+)" + re.escape(MEMBERS_SUFFIX)),
            re.compile(r"(?:.*/)?\.(.+)\.(\w+)-(\d+)-[0-9a-f]+\.part(\.ranges)?"),
            re.compile(hexdir + r"([^/]+)"),
        )
    return _PATTERNS


def parse(root: str, rel: str) -> Parsed:
    """What the regular file at ``rel`` (a ``/``-separated path below ``root``) is."""
    if rel == MEMO:
        return Parsed("memo")
    if rel == TAG:
        return Parsed("tag")
    unpacking, member, record, part, data = _patterns()
    u = unpacking.fullmatch(rel)
    if u is not None:  # a temp tree of an unpacking: its directory tells whose it is
        return Parsed(
            "part", owner=(u[5], int(u[6]), os.path.join(root, *rel.split("/")[:3], u[4]))
        )
    t = member.fullmatch(rel) or record.fullmatch(rel)
    if t is not None and t[2] == t[3][:2]:
        inside = t[5] if t.re is member else ""
        return Parsed("member", f"{t[1]}:{t[3]}", t[4], inside)
    p = part.fullmatch(rel)
    if p is not None:
        path = os.path.join(root, *rel.split("/"))
        return Parsed("part", owner=(p[2], int(p[3]), path[: len(path) - len(p[4] or "")]))
    if rel.endswith(LOCK_SUFFIX):
        return Parsed("lock")
    m = data.fullmatch(rel)
    if m is not None and m[2] == m[3][:2] and not m[4].startswith("."):
        return Parsed("data", f"{m[1]}:{m[3]}", m[4])
    return Parsed("other")


def leftover_owner(name: str, head: str, tail: str) -> tuple[str, int] | None:
    """The (host, pid) of ``<head><host>-<pid>-<random><tail>``, or None."""
    if not (name.startswith(head) and name.endswith(tail)):
        return None
    m = token_pattern().fullmatch(name[len(head) : len(name) - len(tail)])
    return (m[1], int(m[2])) if m else None
