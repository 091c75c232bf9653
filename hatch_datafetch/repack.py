"""Rewriting a finished wheel or sdist of another backend (SPEC §12), the way the wheel spec
and pip expect.

A wheel: the backend's entries (directory entries dropped), then the added ones, files
outside ``.dist-info`` sorted by path with ``.data/`` after the rest, then ``.dist-info``
in the backend's order with ``RECORD`` last; every RECORD row recomputed (sha256, size);
every entry dated ``SOURCE_DATE_EPOCH`` (1980-01-01 without it) and given ``0o644``, or
``0o755`` where the backend made it executable; deflated, except data files that do not
compress (:func:`datawheel.choose_compression`). An sdist: members sorted by name, owned by
0:0 with no names, the same dates and permissions, in a gzip stream with no name and a
fixed date. Same input, same bytes. Files are streamed, never held in memory whole; the
result is written beside the original and renamed over it, so a failure leaves the
backend's artifact as it was.

``METADATA`` and ``PKG-INFO`` get extras with :func:`add_extras`.
"""

from __future__ import annotations

import calendar
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from ._runtime.fs import CHUNK
from .datawheel import _epoch, _record_hash, choose_compression
from .errors import BuildError

__all__ = ["add_extras", "dist_info_dir", "read_wheel_text", "rewrite_sdist", "rewrite_wheel"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _format_requirement(text: str, extra: str) -> str:
    """``req; extra == 'x'``, or ``req; (marker) and extra == 'x'`` (packaging's form)."""
    from packaging.requirements import Requirement

    req = Requirement(text)
    marker = f"({req.marker}) and " if req.marker is not None else ""
    req.marker = None
    return f"{req}; {marker}extra == '{extra}'"


def add_extras(text: str, extras: Mapping[str, list[str]], *, pkg_info: bool = False) -> str:
    """Core metadata *text* with ``Provides-Extra`` and ``Requires-Dist`` lines for *extras*,
    after the last header. An extra that is already there with the same requirements is left
    alone (metadata prepared earlier); one that is there with others is an error. In an
    sdist's ``PKG-INFO`` (``pkg_info``), ``Dynamic: Provides-Extra`` is dropped: the extras
    are now known."""
    head, sep, body = text.partition("\n\n")
    if not sep:  # headers only (no description): the last header's newline ends the text
        head, sep = head.rstrip("\n"), "\n"
    lines = head.split("\n")
    have = {_norm(ln.split(":", 1)[1].strip()) for ln in lines if ln.startswith("Provides-Extra:")}
    requires = {ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")}
    if pkg_info:
        lines = [ln for ln in lines if ln.replace(" ", "").lower() != "dynamic:provides-extra"]
    for i, line in enumerate(lines):
        m = re.match(r"Metadata-Version:\s*(\d+)\.(\d+)", line)
        if m and (int(m[1]), int(m[2])) < (2, 1):  # Provides-Extra is 2.1's
            lines[i] = "Metadata-Version: 2.1"
    added = []
    for extra, reqs in extras.items():
        rows = [f"Requires-Dist: {_format_requirement(r, extra)}" for r in reqs]
        if _norm(extra) in have:
            if all(r.split(":", 1)[1].strip() in requires for r in rows):
                continue
            raise BuildError(
                f"the build backend's metadata already has an extra {extra!r}, which "
                "hatch-datafetch adds itself",
                hint="rename the backend's extra, or set data-extra to another name",
            )
        added += [f"Provides-Extra: {extra}", *rows]
    return "\n".join(lines + added) + sep + body


def dist_info_dir(names: list[str], what: str) -> str:
    """The one top-level ``*.dist-info`` directory of a wheel's entry *names*."""
    found = sorted({n.split("/", 1)[0] for n in names if re.match(r"[^/]+\.dist-info/", n)})
    if len(found) != 1:
        raise BuildError(f"{what} has {len(found)} .dist-info directories, expected one")
    return found[0]


def read_wheel_text(path: str | os.PathLike[str], member: str) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(member).decode("utf-8")


def _info(arcname: str, executable: bool, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, _epoch())
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = compress
    info.create_system = 3  # unix, so the permissions above are read back
    return info


def _copy(src: IO[bytes], dst: IO[bytes]) -> tuple[str, int]:
    """Copy a stream in 1 MiB pieces; its RECORD hash and size."""
    hasher, size = hashlib.sha256(), 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        dst.write(chunk)
        hasher.update(chunk)
        size += len(chunk)
    return _record_hash(hasher.hexdigest()), size


def rewrite_wheel(
    path: str | os.PathLike[str],
    *,
    add: Mapping[str, bytes] = {},
    add_files: Mapping[str, str] = {},
    metadata: Callable[[str], str] | None = None,
    text_fix: Callable[[str, bytes], bytes] | None = None,
) -> None:
    """Rewrite the wheel at *path* in place with the entries *add* (arcname -> bytes) and
    *add_files* (arcname -> path of a verified file), ``METADATA`` passed through
    *metadata*, and each of the backend's entries through ``text_fix(arcname, data)``
    when given. An added entry that the wheel has already is an error."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(path) as src:
            infos = [i for i in src.infolist() if not i.filename.endswith("/")]
            names = [i.filename for i in infos]
            info_dir = dist_info_dir(names, path.name)
            clash = sorted((set(add) | set(add_files)) & set(names))
            if clash:
                raise BuildError(
                    f"the wheel built by the backend already has {', '.join(clash[:5])}, which "
                    "hatch-datafetch generates",
                    hint="remove those files from the package, or choose another `locator`",
                )
            record = f"{info_dir}/RECORD"
            by_name = {i.filename: i for i in infos}
            inner = [n for n in names if not n.startswith(f"{info_dir}/")]
            body = sorted(
                [*inner, *add, *add_files],
                key=lambda n: (re.match(r"[^/]+\.data/", n) is not None, n),
            )
            meta = [n for n in names if n.startswith(f"{info_dir}/") and n != record]
            rows = []
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
                for name in [*body, *meta]:
                    if name in add:
                        data = add[name]
                        dst.writestr(_info(name, False, zipfile.ZIP_DEFLATED), data)
                        rows.append(
                            (name, _record_hash(hashlib.sha256(data).hexdigest()), len(data))
                        )
                    elif name in add_files:
                        info = _info(name, False, choose_compression(add_files[name]))
                        size = os.path.getsize(add_files[name])
                        with (
                            open(add_files[name], "rb") as f,
                            dst.open(info, "w", force_zip64=size > 0x7FFFFFFF) as out,
                        ):
                            digest, size = _copy(f, out)
                        rows.append((name, digest, size))
                    else:
                        old = by_name[name]
                        executable = bool((old.external_attr >> 16) & 0o111)
                        info = _info(name, executable, zipfile.ZIP_DEFLATED)
                        if name == f"{info_dir}/METADATA" and metadata is not None:
                            data = metadata(src.read(old).decode("utf-8")).encode("utf-8")
                        elif text_fix is not None:
                            data = text_fix(name, src.read(old))
                        else:
                            with (
                                src.open(old) as f,
                                dst.open(info, "w", force_zip64=old.file_size > 0x7FFFFFFF) as out,
                            ):
                                rows.append((name, *_copy(f, out)))
                            continue
                        dst.writestr(info, data)
                        rows.append(
                            (name, _record_hash(hashlib.sha256(data).hexdigest()), len(data))
                        )
                text = "".join(f"{n},{h},{s}\n" for n, h, s in rows) + f"{record},,\n"
                dst.writestr(_info(record, False, zipfile.ZIP_DEFLATED), text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def rewrite_sdist(
    path: str | os.PathLike[str],
    *,
    add: Mapping[str, bytes] = {},
    add_files: Mapping[str, str] = {},
    replace: Mapping[str, bytes] = {},
    pkg_info: Callable[[str], str] | None = None,
) -> None:
    """Rewrite the ``.tar.gz`` sdist at *path* in place: *add* and *add_files* (paths below
    its top directory; those it has already are kept as they are, e.g. a registry the
    backend included), *replace* (members whose bytes change), ``PKG-INFO`` through
    *pkg_info*; every member normalised (see the module docstring)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    date = calendar.timegm((*_epoch(), 0, 0, 0))
    try:
        with tarfile.open(path, "r:gz") as src:
            members = src.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members}
            if len(tops) != 1:
                raise BuildError(f"{path.name} has {len(tops)} top-level entries, expected one")
            top = tops.pop()
            existing = {m.name for m in members}
            entries: list[tuple[str, tarfile.TarInfo | None]] = [(m.name, m) for m in members]
            for rel in [*add, *add_files]:
                if f"{top}/{rel}" not in existing:
                    entries.append((f"{top}/{rel}", None))
            entries.sort(key=lambda e: e[0])
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=date) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as dst,
            ):
                for name, member in entries:
                    rel = name.split("/", 1)[1] if "/" in name else ""
                    info = tarfile.TarInfo(name)
                    info.mtime, info.uid, info.gid, info.uname, info.gname = date, 0, 0, "", ""
                    if member is not None and member.isdir():
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        dst.addfile(info)
                        continue
                    if member is not None and (member.issym() or member.islnk()):
                        info.type, info.linkname, info.mode = member.type, member.linkname, 0o644
                        dst.addfile(info)
                        continue
                    info.mode = 0o755 if member is not None and member.mode & 0o111 else 0o644
                    data: bytes | None = None
                    if rel in replace:
                        data = replace[rel]
                    elif rel == "PKG-INFO" and pkg_info is not None and member is not None:
                        f = src.extractfile(member)
                        data = pkg_info(f.read().decode("utf-8")).encode("utf-8") if f else b""
                    elif member is None:
                        data = add.get(rel)
                    if data is not None:
                        info.size = len(data)
                        dst.addfile(info, io.BytesIO(data))
                    elif member is None:
                        info.size = os.path.getsize(add_files[rel])
                        with open(add_files[rel], "rb") as f2:
                            dst.addfile(info, f2)
                    else:
                        info.size = member.size
                        f3 = src.extractfile(member)
                        dst.addfile(info, f3)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
