"""``doi:`` URLs left in a registry, resolved by the build into the runtime JSON (SPEC §13).

A file whose URL is ``doi:DOI/FILE`` (its own ``url``, or a ``doi:DOI/`` base URL + NAME, the
forms pooch takes) gets the concrete URL of FILE in the DOI's record, and the record's size
when the registry has none: the locator in the wheel downloads it like any file and never
calls a repository API. Each DOI is resolved once (:class:`~.repositories.Resolver`, one API
call per record) and the record is kept:

1. in the build cache, ``<build cache>/dois/<sha256 of the DOI>.json``, for later builds;
2. in the sdist, as ``_datafetch_dois.json`` at its root (:func:`sdist_record`), so that a
   wheel built from the sdist (which never touches the network: a distribution's offline
   build) needs neither the network nor a cache.

Records come from the sdist's file first, then the cache, then the network (never when the
build is offline: then a missing record is a :class:`~.errors.BuildError` with the remedies).
A DOI names immutable bytes only through its files' hashes, which the registry has: a record
that changed since it was cached still serves verified files or fails loudly; remove
``<build cache>/dois`` to resolve again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BuildError
from .repositories import Record, ResolveError, Resolver, doi_of, split_doi_url
from .settings import BuildEnvironment, default_build_cache

__all__ = ["SDIST_RECORD", "doi_files", "resolve_config", "sdist_record"]

#: The records of an sdist's ``doi:`` URLs, at its root.
SDIST_RECORD = "_datafetch_dois.json"
RECORD_FORMAT = 1


def doi_files(config: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """NAME -> ``(DOI, file name in the record)`` for every file whose URL is a ``doi:`` URL
    (its own, or the base URL + NAME)."""
    base = config.get("base_url") or ""
    out = {}
    for name, spec in (config.get("files") or {}).items():
        url = spec.get("url") or (base.rstrip("/") + "/" + name if base else "")
        if url[:4].lower() == "doi:":
            doi, fname = split_doi_url(url)
            out[name] = (doi_of(doi), fname)
    return out


def _cache_path(cache: Path, doi: str) -> Path:
    return cache / "dois" / (hashlib.sha256(doi.lower().encode()).hexdigest()[:32] + ".json")


def _read(path: Path) -> dict[str, Record]:
    """DOI -> record of a records file (an sdist's, or one cache entry); nothing when it is
    missing or malformed (never trusted then)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return {}
    out = {}
    for doi, raw in (data.get("records") or {}).items():
        record = Record.from_json(raw)
        if record is not None and record.doi == doi:
            out[doi] = record
    return out


def _render(records: Mapping[str, Record]) -> bytes:
    data = {
        "format": RECORD_FORMAT,
        "records": {doi: records[doi].to_json() for doi in sorted(records)},
    }
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def _write(path: Path, records: Mapping[str, Record]) -> None:
    """Atomically; a cache that cannot be written is only a lost shortcut."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(_render(records))
        os.replace(tmp, path)
    except OSError:
        pass


def records_for(
    dois: list[str],
    *,
    root: str | os.PathLike[str] | None,
    env: BuildEnvironment,
    offline: str | None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Record]:
    """The record of each DOI: from the sdist's file, the build cache, then the network
    (``offline``: why it may not be used, e.g. "building from an sdist")."""
    cache = env.cache or default_build_cache()
    shipped = _read(Path(root, SDIST_RECORD)) if root is not None else {}
    records: dict[str, Record] = {}
    missing = []
    for doi in dois:
        found = shipped.get(doi) or _read(_cache_path(cache, doi)).get(doi)
        if found is None:
            missing.append(doi)
        else:
            records[doi] = found
    if not missing:
        return records
    shown = ", ".join(f"doi:{d}" for d in missing)
    if offline:
        raise BuildError(
            f"the registry's doi: URLs need their records, and this build may not resolve "
            f"{shown} ({offline})",
            hint="any one of these fixes it:\n"
            "  1. build once with network access (the records are kept in the build cache, "
            "and in the sdist as " + SDIST_RECORD + ")\n"
            "  2. write concrete URLs into the registry: hatch-datafetch make-registry "
            "--doi DOI -o registry.toml",
        )
    resolver = Resolver(environ)
    try:
        for doi in missing:
            try:
                records[doi] = resolver.resolve(doi)
            except ResolveError as e:
                raise BuildError(
                    f"cannot resolve the registry's doi:{doi}: {e.message}",
                    hint="check the DOI and the network; or write concrete URLs into the "
                    "registry once: hatch-datafetch make-registry --doi DOI -o registry.toml",
                ) from None
            _write(_cache_path(cache, doi), {doi: records[doi]})
    finally:
        resolver.close()
    return records


def resolve_config(
    config: Mapping[str, Any],
    *,
    root: str | os.PathLike[str] | None,
    env: BuildEnvironment | None = None,
    offline: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``config`` (a runtime JSON) with every ``doi:`` file URL replaced by the concrete URL
    of its record (and the record's size where it has none); a ``doi:`` base URL is dropped
    once every file has its own. Unchanged (a shallow copy) without ``doi:`` URLs."""
    wanted = doi_files(config)
    if not wanted:
        return dict(config)
    out = copy.deepcopy(dict(config))
    env = env or BuildEnvironment.from_env()
    dois = sorted({doi for doi, _ in wanted.values()})
    records = records_for(dois, root=root, env=env, offline=offline, environ=environ)
    for name, (doi, fname) in sorted(wanted.items()):
        try:
            found = records[doi].file(fname)
        except ResolveError as e:
            raise BuildError(f"registry file {name!r}: {e.message}", hint=e.hint) from None
        spec = out["files"][name]
        spec["url"] = found.url
        if spec.get("size") is None and found.size is not None:
            spec["size"] = found.size
    if str(out.get("base_url") or "")[:4].lower() == "doi:":
        out["base_url"] = None
    return out


def sdist_record(
    config: Mapping[str, Any],
    *,
    root: str | os.PathLike[str] | None,
    env: BuildEnvironment | None = None,
    offline: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes | None:
    """The content of :data:`SDIST_RECORD` for an sdist of ``config`` (None without
    ``doi:`` URLs): the records of its DOIs, sorted, reproducible."""
    wanted = doi_files(config)
    if not wanted:
        return None
    env = env or BuildEnvironment.from_env()
    dois = sorted({doi for doi, _ in wanted.values()})
    return _render(records_for(dois, root=root, env=env, offline=offline, environ=environ))
