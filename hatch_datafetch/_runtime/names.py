"""Names, hashes and URLs: what a registry entry may say, checked before it becomes a path.

Every NAME and every hash string of the runtime JSON passes through :func:`name_problem` and
:func:`split_hash` before any file-system call sees it (a tampered JSON can only fail, never
point outside a data directory).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

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


def split_hash(value: str) -> tuple[str, str]:
    """``(alg, hex)`` of a registry hash, lower case; bare hex is sha256. A ValueError
    unless the algorithm is known and the digits are hex of the right length, so that a
    hash can become part of a cache path."""
    alg, sep, hexdigest = value.partition(":")
    alg, hexdigest = (alg.lower(), hexdigest.lower()) if sep else ("sha256", value.lower())
    if HASH_LENGTHS.get(alg) != len(hexdigest) or not _HEX.issuperset(hexdigest):
        raise ValueError(f"invalid hash {value!r}: expected ALG:HEX with a known algorithm")
    return alg, hexdigest


def candidate_urls(
    name: str,
    own_url: str | None,
    base_url: str | None,
    mirrors: Iterable[str],
    override: str | None = None,
) -> list[str]:
    """URLs to try for NAME, in order, without repeats: ``override`` + NAME (a corporate
    mirror laid out like the CDN), the file's own URL or else ``base_url`` + NAME, then
    each mirror + NAME. Names are percent-encoded (a space becomes ``%20``)."""
    urls = [join_url(override, name)] if override else []
    if own_url:
        urls.append(own_url)
    elif base_url:
        urls.append(join_url(base_url, name))
    urls.extend(join_url(m, name) for m in mirrors)
    return list(dict.fromkeys(urls))


def join_url(base: str, name: str) -> str:
    from urllib.parse import quote

    return base.rstrip("/") + "/" + quote(name)
