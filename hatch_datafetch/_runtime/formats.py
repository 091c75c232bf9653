"""Every JSON format the locator reads or writes, declared and versioned here, once.

=====================  ===========================================  ==========================
format                 where                                        shape (``format`` key: N)
=====================  ===========================================  ==========================
runtime JSON           ``<package>/<locator>_registry.json``        :mod:`.config` (format 1)
verified-file memo     ``<cache root>/verified.json``               path -> [size, mtime_ns,
                                                                    inode, ctime_ns, "alg:hex"]
member record          ``<hash dir>/.<base>.members.json``          {"archive", "members"}
range record           ``<part file>.ranges``                       {"size", "ranges"}
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

from .fs import NOFOLLOW, open_nofollow, open_regular, unique_name, unlink
from .names import name_problem, split_hash

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Any

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
        isinstance(value, list)
        and len(value) == 5
        and all(type(x) is int for x in value[:4])
        and isinstance(value[4], str)
    )


def memo_entries(data: Any) -> dict[str, list[Any]]:
    """The well-formed entries of a memo file (none of a newer format)."""
    if not _ours(data, MEMO_FORMAT):
        return {}
    return {k: v for k, v in data.items() if memo_entry_ok(v)}


def memo_json(entries: Mapping[str, list[Any]]) -> dict[str, Any]:
    return {"format": MEMO_FORMAT, **entries}


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


def ranges_json(size: int, ranges: list[list[int]]) -> dict[str, Any]:
    return {"format": RANGES_FORMAT, "ranges": ranges, "size": size}


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
