"""Registries made from what is online: ``make-registry --doi`` and ``--from-urls`` (SPEC §13).

Each file is downloaded once, through the runtime's engine (:class:`~._runtime.transfer.Transfer`
into a :class:`~._runtime.transfer.PartFile`: retries, resume, size caps, hashed as it
streams), checked against what the repository publishes (its size and its checksum, md5 for
the three repositories), and written into the registry with the sha256 of the bytes that came,
its size and its concrete URL: the registry needs no repository API ever again.

A URL list (``--from-urls FILE``) has one file per line, ``URL`` or ``NAME URL`` (fields
split like the pooch text format, so names with spaces are quoted), ``#`` comment lines; NAME
defaults to the URL's last path segment. A ``doi:DOI/FILE`` line is resolved through its
record (one API call per record), and its checksum is checked too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from ._runtime.errors import Cancelled, DiskFull, Fatal, Retry, StopFile, Unsafe
from ._runtime.fs import ensure_dirs, hash_file, safe_join
from .errors import DatafetchError, UsageError
from .registry import FileEntry, Registry, check_name, check_url
from .repositories import Record, RemoteFile, ResolveError, Resolver, doi_of, split_doi_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._runtime.progress import Progress

__all__ = ["download_once", "read_url_list", "registry_from_doi", "registry_from_urls"]


def registry_from_doi(
    doi: str,
    *,
    names: Sequence[str] = (),
    jobs: int = 8,
    keep: str | None = None,
    progress: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Registry, Record]:
    """The registry of every file of the record ``doi`` (or only ``names``), each
    downloaded once and verified: concrete URL, size, sha256."""
    resolver = Resolver(environ)
    try:
        record = resolver.resolve(doi)
        files = [record.file(n) for n in names] if names else list(record.files)
        if not files:
            raise ResolveError(f"doi:{record.doi} ({record.repository}) lists no files")
        entries = download_once(files, resolver, jobs=jobs, keep=keep, progress=progress)
    finally:
        resolver.close()
    return Registry(tuple(entries)), record


def read_url_list(path: str) -> list[tuple[str, str, int]]:
    """``(NAME, URL, line)`` of a URL list (see the module docstring); every problem of the
    file at once in one error."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError(f"cannot read the URL list: {e.strerror}", source=path) from None
    out: list[tuple[str, str, int]] = []
    problems: list[DatafetchError] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            fields = shlex.split(line)
        except ValueError as e:
            problems.append(DatafetchError(f"cannot split the line ({e})", line=lineno))
            continue
        if len(fields) not in (1, 2):
            problems.append(
                DatafetchError(f"expected URL or NAME URL, got {len(fields)} fields", line=lineno)
            )
            continue
        url = fields[-1]
        try:
            check_url(url)
            if url.lower().startswith("doi:"):
                name = fields[0] if len(fields) == 2 else split_doi_url(url)[1]
            else:
                if not url.startswith(("http://", "https://", "file:")):
                    raise ValueError(f"{url!r}: only http(s), file and doi: URLs are fetched")
                name = fields[0] if len(fields) == 2 else unquote(urlsplit(url).path).split("/")[-1]
            check_name(name)
        except (ValueError, ResolveError) as e:
            message = e.message if isinstance(e, ResolveError) else str(e)
            problems.append(DatafetchError(message, line=lineno))
            continue
        if name in seen:
            problems.append(
                DatafetchError(
                    f"the name {name!r} is given twice (line {seen[name]})",
                    line=lineno,
                )
            )
            continue
        seen[name] = lineno
        out.append((name, url, lineno))
    if problems:
        raise UsageError(
            f"{len(problems)} problem(s) in the URL list:", source=path, problems=problems
        )
    if not out:
        raise UsageError("the URL list names no files", source=path, hint="one URL per line")
    return out


def registry_from_urls(
    path: str,
    *,
    jobs: int = 8,
    keep: str | None = None,
    progress: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Registry:
    """The registry of the files a URL list names, each downloaded once: sha256, size, URL
    (``doi:`` lines resolved to their concrete URL, their checksum checked)."""
    listed = read_url_list(path)
    resolver = Resolver(environ)
    try:
        records: dict[str, Record] = {}
        files = []
        for name, url, lineno in listed:
            if not url.lower().startswith("doi:"):
                files.append(RemoteFile(name, url, None, None))
                continue
            doi, fname = split_doi_url(url)
            doi = doi_of(doi)
            if doi not in records:
                records[doi] = resolver.resolve(doi)
            try:
                found = records[doi].file(fname)
            except ResolveError as e:
                raise ResolveError(e.message, source=path, line=lineno, hint=e.hint) from None
            files.append(RemoteFile(name, found.url, found.size, found.checksum))
        entries = download_once(files, resolver, jobs=jobs, keep=keep, progress=progress)
    finally:
        resolver.close()
    return Registry(tuple(entries))


def download_once(
    files: Sequence[RemoteFile],
    resolver: Resolver,
    *,
    jobs: int = 8,
    keep: str | None = None,
    progress: bool | None = None,
) -> list[FileEntry]:
    """Download each file (in parallel, ``jobs`` at a time) into ``keep`` (laid out by NAME;
    a file there with the published checksum is not downloaded again) or a temp dir that is
    removed; check the published size and checksum; the registry entries (sha256 of the
    bytes, size, URL). Every failure is reported, at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ._runtime.progress import Progress

    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    dest = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="hatch-datafetch-")
    sizes = [f.size for f in files]
    total = sum(s for s in sizes if s) if all(s is not None for s in sizes) else None
    bar = Progress(total, len(files), progress)
    failures: dict[str, str] = {}

    def one(f: RemoteFile) -> FileEntry | None:
        try:
            return _one(f, dest, resolver, bar)
        except (DatafetchError, Fatal, Retry, StopFile, Unsafe, OSError) as e:
            failures[f.name] = getattr(e, "message", None) or str(e) or type(e).__name__
            return None
        finally:
            bar.file_done()

    try:
        with ThreadPoolExecutor(max_workers=min(jobs, max(1, len(files)))) as pool:
            entries = list(pool.map(one, files))
    except KeyboardInterrupt:
        resolver.engine.cancel.set()
        raise
    finally:
        bar.close()
        if not keep:
            shutil.rmtree(dest, ignore_errors=True)
    if failures:
        problems = [DatafetchError(f"{n}: {why}") for n, why in sorted(failures.items())]
        raise ResolveError(
            f"{len(failures)} of {len(files)} file(s) could not be fetched and checked:",
            problems=problems,
            hint="nothing was written; fix the cause (or leave those files out) and run it again",
        )
    return [e for e in entries if e is not None]


def _one(f: RemoteFile, dest: str, resolver: Resolver, bar: Progress) -> FileEntry:
    """One file: streamed (sha256 as it comes, capped at the published size), then the
    published checksum checked, then moved to dest/NAME; a file already at dest/NAME (a
    ``--keep`` dir) that has the published size and checksum is used as it is."""
    from ._runtime.transfer import PartFile, Transfer

    final = safe_join(dest, f.name)
    if f.checksum is not None and os.path.isfile(final):  # kept by an earlier run
        alg = f.checksum.partition(":")[0]
        if f.size in (None, os.path.getsize(final)) and hash_file(final, alg) == f.checksum:
            return FileEntry(f.name, hash_file(final), os.path.getsize(final), f.url)
    ensure_dirs(dest, os.path.dirname(final))
    part = PartFile(final)
    try:
        part.adopt_or_create()
        xfer = Transfer(resolver.engine, f.url, part, "sha256", f.size, bar, lambda: None)
        try:
            digest = xfer.run()
        except (Retry, Fatal) as e:
            raise ResolveError(f"{f.url}: {e}") from None
        except DiskFull as e:
            raise ResolveError(f"{f.url}: {e}") from None
        except Cancelled:
            raise KeyboardInterrupt from None
        size = xfer.have
        if f.checksum is not None:
            alg = f.checksum.partition(":")[0]
            actual = digest if alg == "sha256" else hash_file(part.path, alg)
            if actual != f.checksum:
                raise ResolveError(
                    f"{f.url}: the bytes that came have {actual}, but the repository "
                    f"publishes {f.checksum}"
                )
        part.done()
    except BaseException:
        part.discard()
        raise
    return FileEntry(f.name, digest, size, f.url)
