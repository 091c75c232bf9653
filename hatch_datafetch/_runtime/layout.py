"""The on-disk layout: where every file of a cache lives, and what every JSON file holds.

Both are declared here, once, and read back here only (the cache commands parse paths with
:func:`parse`; every JSON file is read through a validating reader below).

The cache root of a registry's data is ``<base>/<data-name>``, ``<base>`` being
``HATCH_DATAFETCH_CACHE_DIR`` or else the platform's user cache dir (``cache_root()``);
``HATCH_DATAFETCH_READONLY_CACHES`` names further bases whose ``<data-name>`` roots have the
same layout and are only ever read (``readonly_roots()``). Everything the locator creates
below a group-writable root is group-readable and -writable too (``fs.share()``; setgid
directories keep their bit, the umask decides the other bits).

Layout version 1 (a later layout gets a new top-level directory, so both can coexist)::

    <root>/CACHEDIR.TAG                                   backup tools skip the cache
    <root>/verified.json                                  the memo (below)
    <root>/verified.log                                   its journal: entries since
    <root>/.verified.log.<host>-<pid>-<random>.old        a journal being compacted
    <root>/<alg>/<hex[:2]>/<hex>/<base>                   a verified file (NAME's basename)
    <root>/<alg>/<hex[:2]>/<hex>/<base>.d/<member>        an unpacked archive's tree
    <root>/<alg>/<hex[:2]>/<hex>/.<base>.members.json     what an unlisted archive unpacked to

Beside any final path (in the cache or a ``fetch_all(dest)`` tree), a download keeps::

    .<base>.lock                                          one download at a time
    .<base>.<host>-<pid>-<random>.part[.ranges]           its part file (and range record)
    .<base>.d.<host>-<pid>-<random>.tmp|.old              an unpacking's temp trees

Files are content-addressed: two registries naming the same bytes share one copy, and a
file that differs between two registries is two files, never overwritten back and forth.

Every JSON format the locator reads or writes:

=====================  ===========================================  ==========================
format                 where                                        shape (``format`` key: N)
=====================  ===========================================  ==========================
runtime JSON           ``<package>/<locator>_registry.json``        :mod:`.config` (format 1)
verified-file memo     ``<cache root>/verified.json``               path -> [size, mtime_ns,
                                                                    inode, ctime_ns, "alg:hex"]
memo journal           ``<cache root>/verified.log``                one JSON object of such
                                                                    entries per line, newest
                                                                    last (no format key: a
                                                                    line is a table)
member record          ``<hash dir>/.<base>.members.json``          {"archive", "members"}
range record           ``<part file>.ranges``                       {"size", "ranges",
                                                                    "validator" (optional)}
data wheel manifest    ``<data package>/_manifest.json``            {"data_name",
                                                                    "data_version", "files",
                                                                    "group", "registry_hash"}
=====================  ===========================================  ==========================

Each carries ``"format": N``; a file without it was written by an older tool (format 1, read
the same). A cache file of a *newer* format is not trusted (as if absent: a re-hash, a fresh
download); a runtime JSON of a newer format is an error (:mod:`.config`). The cache layout
itself (where these files live) is declared in :mod:`.layout`.

Readers never raise on bad content: any malformed file or entry is ignored.
"""

from __future__ import annotations

import os
import sys

from .fs import (
    NOFOLLOW,
    make_dirs,
    name_problem,
    open_nofollow,
    open_regular,
    split_hash,
    token_pattern,
    unique_name,
    unlink,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Any

LAYOUT = 1
MEMO = "verified.json"
MEMO_LOG = "verified.log"
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


#: Moves every locator's cache: ``<dir>/<data-name>`` (home quotas, nodes without $HOME).
CACHE_DIR_VAR = "HATCH_DATAFETCH_CACHE_DIR"
#: Read-only cache roots of this layout (``os.pathsep``-separated), looked in before the cache.
READONLY_VAR = "HATCH_DATAFETCH_READONLY_CACHES"


def _env_dir(value: str) -> str:
    """A directory named in an environment variable: ``~`` expanded, made absolute."""
    return os.path.abspath(os.path.expanduser(value))


def cache_base(env: Mapping[str, str] | None = None) -> str:
    """The directory that holds every locator's cache (``<base>/<data-name>``):
    ``HATCH_DATAFETCH_CACHE_DIR`` when set, else :func:`user_cache_dir`."""
    env = os.environ if env is None else env
    moved = env.get(CACHE_DIR_VAR, "").strip()
    return _env_dir(moved) if moved else user_cache_dir(env)


def cache_root(data_name: str, env: Mapping[str, str] | None = None) -> str:
    """The cache root of the data ``data_name``: ``<cache base>/<data-name>``."""
    return os.path.join(cache_base(env), data_name)


def readonly_roots(value: str, data_name: str) -> list[str]:
    """The cache roots (``<dir>/<data-name>``) of the dirs of a
    ``HATCH_DATAFETCH_READONLY_CACHES`` value, in order, without repeats."""
    dirs = (_env_dir(d) for d in value.split(os.pathsep) if d.strip())
    return list(dict.fromkeys(os.path.join(d, data_name) for d in dirs))


def lock_path(final: str) -> str:
    """The lock of downloads (or an unpacking) into ``final``."""
    directory, base = os.path.split(final)
    return os.path.join(directory, f".{base}{LOCK_SUFFIX}")


class Layout:
    """The paths of one cache root."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.memo = os.path.join(root, MEMO)
        self.memo_log = os.path.join(root, MEMO_LOG)
        self._tagged = False

    def file(self, expected: str, name: str) -> str:
        """Where the verified file of hash ``expected`` (registry NAME) is kept; both were
        validated (:class:`.config.Entries`), so they are safe path segments."""
        alg, _, hexdigest = expected.partition(":")
        base = name[name.rfind("/") + 1 :]
        return f"{self.root}{os.sep}{alg}{os.sep}{hexdigest[:2]}{os.sep}{hexdigest}{os.sep}{base}"

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
        from .errors import Unsafe

        try:
            make_dirs(self.root)
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
    if rel in (MEMO, MEMO_LOG):
        return Parsed("memo")
    compacting = leftover_owner(rel, f".{MEMO_LOG}.", ".old")
    if compacting is not None:
        return Parsed("part", owner=(*compacting, os.path.join(root, rel)))
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


# --------------------------------------------------------------------------- JSON formats

RUNTIME_FORMAT = 1
MEMO_FORMAT = 1
MEMBERS_FORMAT = 1
RANGES_FORMAT = 1
MANIFEST_FORMAT = 1


def read_json(path: str) -> Any:
    """The JSON value of a regular file (never through a link), or None if unreadable."""
    try:
        fd, _ = open_regular(path, NOFOLLOW)
    except OSError:
        return None
    try:
        import json

        with open(fd, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def write_json(path: str, data: Any, compact: bool = False) -> None:
    """Write ``data`` to a uniquely named temp file beside ``path`` (``O_EXCL``, never
    through a link), then rename it into place: readers see the old or the new file."""
    import json

    tmp = unique_name(path, ".tmp")
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with open(fd, "w", encoding="utf-8") as f:
            if compact:
                json.dump(data, f, separators=(",", ":"))
            else:
                json.dump(data, f)
        os.replace(tmp, path)
    finally:
        unlink(tmp)


def _ours(data: Any, current: int) -> bool:
    """A JSON object of a format this locator reads (no ``format``: an older tool's)."""
    if not isinstance(data, dict):
        return False
    fmt = data.get("format", 1)
    return type(fmt) is int and 1 <= fmt <= current


# --------------------------------------------------------------------------- memo


def memo_entry_ok(value: Any) -> bool:
    """``[size, mtime_ns, inode, ctime_ns, "alg:hex"]``."""
    return (
        type(value) is list
        and len(value) == 5
        and type(value[0]) is int
        and type(value[1]) is int
        and type(value[2]) is int
        and type(value[3]) is int
        and type(value[4]) is str
    )


def memo_table(data: Any) -> dict[str, Any]:
    """A memo file's table as it is (none of a newer format): each entry is checked with
    :func:`memo_entry_ok` when it is used, so a warm start does not check them all."""
    return data if _ours(data, MEMO_FORMAT) else {}


def memo_entries(data: Any) -> dict[str, list[Any]]:
    """The well-formed entries of a memo file (none of a newer format)."""
    return {k: v for k, v in memo_table(data).items() if memo_entry_ok(v)}


def memo_json(entries: Mapping[str, list[Any]]) -> dict[str, Any]:
    return {"format": MEMO_FORMAT, **entries}


def read_memo_log(path: str) -> dict[str, Any]:
    """The journal's entries, later lines winning (a malformed line, a torn last line of a
    writer that was killed, counts for nothing: only a re-hash)."""
    try:
        fd, _ = open_regular(path, NOFOLLOW)
    except OSError:
        return {}
    import json

    out: dict[str, Any] = {}
    with open(fd, "rb") as f:
        lines = [line for line in f.read().splitlines() if line]
    try:  # the journal as one JSON array: one decode, not one per line (~2x faster)
        tables = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:  # a malformed or torn line: each line on its own
        tables = []
        for line in lines:
            try:
                tables.append(json.loads(line))
            except ValueError:
                continue
    for table in tables:
        if isinstance(table, dict):
            out.update(table)
    return out


def memo_log_line(entries: Mapping[str, list[Any]]) -> bytes:
    """One journal record; it starts on a line of its own even after a torn last line."""
    import json

    return ("\n" + json.dumps(entries, separators=(",", ":")) + "\n").encode()


# --------------------------------------------------------------------------- member records


def members_record(data: Any, archive: str) -> dict[str, str] | None:
    """What an archive (of hash ``archive``) unpacked to, validated, or None."""
    if not _ours(data, MEMBERS_FORMAT) or data.get("archive") != archive:
        return None
    members = data.get("members")
    if not isinstance(members, dict):
        return None
    for member, digest in members.items():
        if not isinstance(digest, str) or name_problem(member) is not None:
            return None
        try:
            split_hash(digest)
        except ValueError:
            return None
    return members


def members_json(archive: str, members: Mapping[str, str]) -> dict[str, Any]:
    return {"archive": archive, "format": MEMBERS_FORMAT, "members": dict(sorted(members.items()))}


# --------------------------------------------------------------------------- range records


def ranges_record(data: Any, size: int | None) -> list[list[int]] | None:
    """The ``[start, end, written]`` ranges of a segmented download of ``size`` bytes, when
    they tile ``[0, size)`` with sane progress; else None."""
    if not _ours(data, RANGES_FORMAT) or data.get("size") != size or size is None:
        return None
    ranges = data.get("ranges")
    if not isinstance(ranges, list) or not ranges:
        return None
    ok = all(isinstance(r, list) and len(r) == 3 and all(type(x) is int for x in r) for r in ranges)
    if not ok or sorted(ranges) != ranges:
        return None
    edges = [0, *(x for r in ranges for x in r[:2]), size]
    if any(b != c for b, c in zip(edges[::2], edges[1::2])) or any(
        not 0 <= r[2] <= r[1] - r[0] for r in ranges
    ):
        return None
    return ranges


def ranges_validator(data: Any) -> str | None:
    """The validator (ETag or Last-Modified) the bytes of a range record belong to, if any."""
    value = data.get("validator") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def ranges_json(size: int, ranges: list[list[int]], validator: str | None = None) -> dict[str, Any]:
    record = {"format": RANGES_FORMAT, "ranges": ranges, "size": size}
    return {**record, "validator": validator} if validator else record


# --------------------------------------------------------------------------- data wheel manifest


class Manifest:
    """An installed data wheel's ``_manifest.json``: its distribution, data version and the
    hash of the registry it was built from."""

    __slots__ = ("data_name", "data_version", "registry_hash")

    def __init__(self, data_name: str, data_version: str | None, registry_hash: str | None):
        self.data_name, self.data_version = data_name, data_version
        self.registry_hash = registry_hash


def manifest(data: Any) -> Manifest | None:
    if not _ours(data, MANIFEST_FORMAT) or not isinstance(data.get("data_name"), str):
        return None
    version, digest = data.get("data_version"), data.get("registry_hash")
    return Manifest(
        data["data_name"],
        version if isinstance(version, str) else None,
        digest if isinstance(digest, str) else None,
    )


def manifest_json(
    data_name: str,
    data_version: str | None,
    files: Mapping[str, str],
    group: str | None,
    registry_hash: str,
) -> dict[str, Any]:
    """The manifest the tool writes into a data wheel."""
    return {
        "data_name": data_name,
        "data_version": data_version,
        "files": dict(files),
        "format": MANIFEST_FORMAT,
        "group": group,
        "registry_hash": registry_hash,
    }
