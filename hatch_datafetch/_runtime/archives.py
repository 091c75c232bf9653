"""Archives, read safely: what ``unpack`` may say, and unpacking with every member checked.

The archive layer of the lookup chain (:mod:`.unpacked`) runs these on a verified archive,
the way pooch's processors run after a fetch. :func:`walk_archive` refuses absolute paths,
``..``, links, devices and encrypted members before anything is written;
:func:`unpack_archive` writes members ``O_EXCL | O_NOFOLLOW`` into an empty temp dir, each
verified against the registry's ``members``, within ``max-size``.
"""

from __future__ import annotations

import os
import stat

from .errors import DISK_FULL, ArchiveError, DiskFull, HashMismatchError, StopFile, Unsafe
from .fs import CHUNK, ensure_dirs, hasher, name_problem, open_nofollow, open_regular, split_hash

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable, Mapping
    from typing import IO, Any

#: What a registry entry's ``unpack`` may say: a zip, a tar (plain, gzip, bzip2 or xz
#: compressed, detected from the content), or one compressed file.
UNPACK_KINDS = ("zip", "tar", "gzip", "bzip2", "xz")
#: The suffix a single-file kind strips from NAME's basename to name its one member.
SINGLE_SUFFIX = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz"}


def single_member(name: str, kind: str) -> str | None:
    """The one member of a single-file kind (``gzip``, ``bzip2``, ``xz``): NAME's basename
    without its suffix; None for ``zip`` and ``tar``. A ValueError when NAME lacks it."""
    suffix = SINGLE_SUFFIX.get(kind)
    if suffix is None:
        return None
    base = name.rsplit("/", 1)[-1]
    if len(base) <= len(suffix) or not base.lower().endswith(suffix):
        raise ValueError(
            f"unpack = {kind!r} needs a name ending in {suffix} (NAME without it names the "
            f"decompressed file), got {name!r}"
        )
    return base[: -len(suffix)]


def unpack_kind_problem(kind: object) -> str | None:
    """Why ``kind`` is not an ``unpack`` value, or None."""
    if kind in UNPACK_KINDS:
        return None
    import difflib

    close = difflib.get_close_matches(str(kind), UNPACK_KINDS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown unpack kind {kind!r}{hint} (known: {', '.join(UNPACK_KINDS)})"


def tree_clash(names: Iterable[str]) -> str | None:
    """A name that is also a directory of another name (``a`` and ``a/b``), or None: such
    names cannot both be files of one tree."""
    names = list(names)
    dirs: set[str] = set()
    for n in names:
        i = n.rfind("/")
        while i > 0 and n[:i] not in dirs:
            dirs.add(n[:i])
            i = n.rfind("/", 0, i)
    clash = sorted(dirs.intersection(names))
    return clash[0] if clash else None


def member_name(raw: str) -> str:
    """An archive member's name as the registry lists it: leading ``./`` and a trailing
    ``/`` (directories) removed, ``.`` (the top directory) empty; nothing else is changed
    (a bad name is refused, not fixed)."""
    name = raw
    while name.startswith("./"):
        name = name[2:]
    if name.endswith("/"):
        name = name[:-1]
    return "" if name == "." else name


class Budget:
    """The bytes an archive may still unpack to (its ``max-size``), shared by its members."""

    def __init__(self, limit: int | None, label: str) -> None:
        self.left, self.limit, self.label = limit, limit, label

    def take(self, n: int) -> None:
        if self.left is None:
            return
        self.left -= n
        if self.left < 0:
            raise ArchiveError(
                f"{self.label} unpacks to more than {self.limit:,} bytes (max-size), refusing "
                "it (a zip bomb, or data larger than the locator was configured for); raise "
                "max-size in the hatch-datafetch settings if the data really is that large"
            )


def walk_archive(
    path: str,
    kind: str,
    label: str,
    visit: Callable[[str, IO[bytes]], None],
    *,
    stem: str | None = None,
    limit: int | None = None,
) -> None:
    """Call ``visit(member, stream)`` for every regular file of the archive at ``path``,
    in archive order, after checking that the member is safe: a name that is a relative
    POSIX path under the target (:func:`name_problem`: no absolute path, ``..``, drive,
    backslash...), no symbolic or hard link, device, FIFO or socket, no encrypted zip
    member, no zip whose declared sizes exceed ``limit``. Tar members also pass Python's
    ``data`` extraction filter where it exists (3.12+, 3.9.17+, 3.10.12+, 3.11.4+).
    Anything else raises :class:`ArchiveError` naming the archive (``label``) and member.
    ``stem``: the member name of a single-file kind."""
    try:
        fd, _ = open_regular(path)
    except OSError as e:
        raise ArchiveError(f"cannot read the archive {label}: {e.strerror or e}") from None
    try:
        with open(fd, "rb") as f:
            if kind == "zip":
                walk_zip(f, label, visit, limit)
            elif kind == "tar":
                walk_tar(f, path, label, visit)
            else:
                walk_single(f, kind, label, visit, stem or "data")
    except (ArchiveError, HashMismatchError, StopFile, Unsafe):
        raise
    except Exception as e:  # zipfile.BadZipFile, tarfile.TarError, zlib/lzma errors, EOF...
        what = "compressed file" if kind in SINGLE_SUFFIX else "archive"
        raise ArchiveError(
            f"{label} is not a readable {kind} {what}: {type(e).__name__}: {e}"
        ) from None


def unsafe_member(label: str, member: str, why: str) -> ArchiveError:
    return ArchiveError(
        f"refusing to unpack {label}: member {member!r} {why}; an archive may only hold "
        "regular files and directories below its own directory"
    )


def walk_zip(
    f: IO[bytes], label: str, visit: Callable[[str, IO[bytes]], None], limit: int | None
) -> None:
    import zipfile

    with zipfile.ZipFile(f) as zf:
        regular = []
        for info in zf.infolist():  # every member is checked before anything is written
            name = member_name(info.filename)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0  # unix modes
            if name:
                problem = name_problem(name)
                if problem is not None:
                    raise unsafe_member(label, info.filename, f"is unsafe: {problem}")
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                raise unsafe_member(label, info.filename, "is a symbolic link")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                raise unsafe_member(label, info.filename, "is a device, FIFO or socket")
            if info.flag_bits & 0x1:
                raise ArchiveError(
                    f"{label}: member {info.filename!r} is encrypted; unpacking needs "
                    "unencrypted archives"
                )
            if not name:
                raise unsafe_member(label, info.filename, "has no name")
            regular.append((name, info))
        declared = sum(info.file_size for _, info in regular)
        if limit is not None and declared > limit:
            Budget(limit, label).take(declared)
        for name, info in regular:
            with zf.open(info) as stream:
                visit(name, stream)


def walk_tar(f: IO[bytes], path: str, label: str, visit: Callable[[str, IO[bytes]], None]) -> None:
    import tarfile

    data_filter = getattr(tarfile, "data_filter", None)
    check_dir = os.path.join(os.path.dirname(os.path.abspath(path)), ".unpack-check")
    with tarfile.open(fileobj=f, mode="r:*") as tar:
        for m in tar:
            if data_filter is not None:
                try:
                    data_filter(m, check_dir)
                except tarfile.FilterError as e:
                    why = f"is refused by the tar data filter ({e})"
                    raise unsafe_member(label, m.name, why) from None
            name = member_name(m.name)
            if name or not m.isdir():
                problem = name_problem(name) if name else "has no name"
                if problem is not None:
                    raise unsafe_member(label, m.name, f"is unsafe: {problem}")
            if m.isdir():
                continue
            if m.issym() or m.islnk():
                what = "symbolic" if m.issym() else "hard"
                raise unsafe_member(label, m.name, f"is a {what} link (to {m.linkname!r})")
            if not m.isreg():
                raise unsafe_member(label, m.name, "is a device, FIFO or socket")
            stream = tar.extractfile(m)
            if stream is None:  # pragma: no cover - regular members have data
                continue
            with stream:
                visit(name, stream)


def walk_single(
    f: IO[bytes], kind: str, label: str, visit: Callable[[str, IO[bytes]], None], stem: str
) -> None:
    if kind == "gzip":
        import gzip

        with gzip.GzipFile(fileobj=f, mode="rb") as stream:
            visit(stem, stream)  # type: ignore[arg-type, unused-ignore]
    elif kind == "bzip2":
        import bz2

        with bz2.BZ2File(f, "rb") as stream:
            visit(stem, stream)
    else:
        try:
            import lzma
        except ImportError:
            raise ArchiveError(
                f"{label} is xz-compressed, but this Python has no lzma module; install a "
                "Python built with liblzma, or use another compression"
            ) from None
        with lzma.LZMAFile(f, "rb") as stream:
            visit(stem, stream)


def copy_member(
    stream: IO[bytes],
    hasher: Any,
    fd: int,
    budget: Budget,
    label: str,
    member: str,
    tick: Callable[[], None] | None = None,
) -> None:
    """Read a member to its end in 1 MiB pieces: counted against the budget, hashed, and
    written to ``fd`` (unless -1). A read error is the archive's (:class:`ArchiveError`); a
    write error stops (:class:`DiskFull`, :class:`StopFile`)."""
    while True:
        try:
            chunk = stream.read(CHUNK)
        except Exception as e:  # corrupt data: zlib.error, EOFError, BadZipFile (CRC)...
            raise ArchiveError(
                f"{label}: cannot read member {member!r}: {type(e).__name__}: {e}"
            ) from None
        if not chunk:
            return
        budget.take(len(chunk))
        hasher.update(chunk)
        if fd >= 0:
            view = memoryview(chunk)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as e:
                directory = os.path.dirname(label) or "."
                if e.errno in DISK_FULL:
                    raise DiskFull(directory, None, e.errno or 0) from None
                raise StopFile(f"cannot write member {member!r}: {e.strerror}") from None
        if tick is not None:
            tick()


def archive_members(
    path: str | os.PathLike[str],
    kind: str,
    *,
    label: str | None = None,
    stem: str | None = None,
    algorithm: str = "sha256",
) -> dict[str, str]:
    """``member -> alg:hex`` of every regular file in an archive, read without extracting
    anything; :class:`ArchiveError` for an unsafe or unreadable archive, or a member
    listed twice (``make-registry --unpack``)."""
    path = os.fspath(path)
    label = label or path
    budget = Budget(None, label)
    out: dict[str, str] = {}

    def visit(member: str, stream: IO[bytes]) -> None:
        if member in out:
            raise ArchiveError(f"{label}: member {member!r} is in the archive twice")
        h = hasher(algorithm)
        copy_member(stream, h, -1, budget, label, member)
        out[member] = f"{algorithm}:{h.hexdigest()}"

    walk_archive(path, kind, label, visit, stem=stem)
    return dict(sorted(out.items()))


def unpack_archive(
    path: str,
    kind: str,
    target: str,
    members: Mapping[str, str] | None,
    *,
    label: str,
    stem: str | None = None,
    limit: int | None = None,
    tick: Callable[[], None] | None = None,
) -> dict[str, str]:
    """Extract the archive at ``path`` into the empty directory ``target`` (which the
    caller then renames into place): with ``members``, only those files, each verified
    against its hash (:class:`HashMismatchError`) and every one required; without, every
    regular file, hashed with sha256. Returns ``member -> alg:hex`` of what was written.
    Files are created ``O_EXCL | O_NOFOLLOW`` and directories without following links,
    so nothing lands outside ``target``; at most ``limit`` bytes are written."""
    budget = Budget(limit, label)
    got: dict[str, str] = {}

    def visit(member: str, stream: IO[bytes]) -> None:
        if members is not None and member not in members:
            return  # not listed: left out of the tree (documented)
        expected = members[member] if members is not None else None
        alg = split_hash(expected)[0] if expected else "sha256"
        out = os.path.join(target, *member.split("/"))
        try:
            ensure_dirs(target, os.path.dirname(out))
            fd = open_nofollow(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            raise ArchiveError(
                f"{label}: member {member!r} is in the archive twice (or twice in names that "
                "differ only by case on this file system); refusing to unpack it"
            ) from None
        except Unsafe:
            raise ArchiveError(
                f"{label}: member {member!r} needs a directory where the archive already put "
                "a file; refusing to unpack it"
            ) from None
        except OSError as e:
            if e.errno in DISK_FULL:
                raise DiskFull(target, None, e.errno or 0) from None
            raise StopFile(f"cannot write member {member!r} into {target}: {e.strerror}") from None
        h = hasher(alg)
        try:
            copy_member(stream, h, fd, budget, label, member, tick)
        finally:
            os.close(fd)
        actual = f"{alg}:{h.hexdigest()}"
        if expected is not None and actual != expected:
            raise HashMismatchError(
                f"{label}/{member}",
                expected,
                actual,
                f"the archive {label}",
                "  The archive matches its own hash, but this member does not match the "
                "registry's members list: the list is out of date. Regenerate it with "
                "hatch-datafetch make-registry --unpack.",
            )
        got[member] = actual

    walk_archive(path, kind, label, visit, stem=stem, limit=limit)
    if members is not None:
        missing = sorted(set(members) - set(got))
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ArchiveError(
                f"{label} lacks {len(missing)} of the {len(members)} members the registry "
                f"lists ({shown}); the registry's members list does not fit this archive: "
                "regenerate it with hatch-datafetch make-registry --unpack"
            )
    return got
