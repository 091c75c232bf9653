"""DOIs resolved once: Zenodo, Figshare and Dataverse records as concrete file URLs (SPEC §13).

pooch resolves a ``doi:`` URL through the repository's API on every fetch of every file; here
a DOI is resolved when a registry is made (``make-registry --doi``) or, for a ``doi:`` URL left
in a registry, when a package is built (:func:`resolve_config`, cached), so no locator ever
calls a repository API. :meth:`Resolver.resolve` turns a DOI into a :class:`Record`: the
repository, its landing page, and each file's name, concrete download URL, size and the
checksum the repository publishes. How, per repository (pooch's three, whose API shapes it
reads, plus the shapes those APIs have had since):

* the DOI resolver (``HATCH_DATAFETCH_DOI_RESOLVER``, default ``https://doi.org/``) redirects
  to the record's landing page; its host and path say which repository it is;
* **Zenodo** (``zenodo.org``, or any InvenioRDM ``/records/ID`` page):
  ``GET <site>/api/records/ID`` lists the files (``key``, ``size``, ``checksum``
  ``md5:...``, ``links.self``), in Zenodo's current shape, its 2023 shape (``filename``,
  ``filesize``) or InvenioRDM's (``files.entries``, else ``/api/records/ID/files``);
* **Figshare** (``figshare.com``, or a ``/articles/...`` page):
  ``GET <api>/articles?doi=DOI`` finds the article, then ``<api>/articles/ID/versions/N``
  (the DOI's ``.vN``; without it, the latest) lists the files (``name``, ``size``,
  ``computed_md5``, ``download_url``); ``<api>`` is ``HATCH_DATAFETCH_FIGSHARE_API``
  (default ``https://api.figshare.com/v2``). An article's details list at most 10 files, so
  with 10 or more the paginated ``/articles/ID/files`` is read;
* **Dataverse** (any other host): ``GET <site>/api/datasets/:persistentId?persistentId=doi:DOI``
  lists the latest version's files (``dataFile.id``, ``filename``, ``filesize``, ``md5`` or
  ``checksum``); each is ``<site>/api/access/datafile/ID`` (``?format=original`` for an
  ingested tabular file), an URL of that file's bytes, so the version is pinned.

Every request goes through the runtime's engine (:class:`~._runtime.client.Client`,
:class:`~._runtime.retry.RetryPolicy`): kept-alive connections, proxies, TLS trust, redirects,
and 429/5xx retried with backoff, ``Retry-After`` honoured; each carries a User-Agent
(Zenodo rate-limits clients without one).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from . import __version__
from ._runtime.errors import Fatal, Retry
from ._runtime.fs import Cancel
from .errors import DatafetchError

__all__ = [
    "DOI_RESOLVER",
    "FIGSHARE_API",
    "Record",
    "RemoteFile",
    "ResolveError",
    "Resolver",
    "doi_of",
    "split_doi_url",
]

DOI_RESOLVER = "https://doi.org/"
FIGSHARE_API = "https://api.figshare.com/v2"
#: The environment variables that point the resolver elsewhere (a DOI proxy, a test stand-in).
RESOLVER_ENV = "HATCH_DATAFETCH_DOI_RESOLVER"
FIGSHARE_ENV = "HATCH_DATAFETCH_FIGSHARE_API"
USER_AGENT = (
    f"hatch-datafetch/{__version__} (registry resolver; +https://pypi.org/p/hatch-datafetch)"
)
JSON_LIMIT = 64 << 20  # the largest API answer read
FIGSHARE_DETAIL_FILES = 10  # an article's details list at most this many files
PAGE_SIZE = 100


class ResolveError(DatafetchError):
    """A DOI could not be resolved (not found, not a supported repository, an API failure)."""

    exit_code = 1


@dataclass(frozen=True)
class RemoteFile:
    """One file of a record: its NAME in the record, concrete URL, size and the checksum the
    repository publishes (``alg:hex``; None when it gives none)."""

    name: str
    url: str
    size: int | None
    checksum: str | None


@dataclass(frozen=True)
class Record:
    """A resolved DOI: which repository, its landing page and record version, its files."""

    doi: str
    repository: str
    landing: str
    version: str | None
    files: tuple[RemoteFile, ...]

    def file(self, name: str) -> RemoteFile:
        """The file NAME of the record: by its full name, else by a unique base name (a
        Dataverse file in a folder); a ResolveError names the record's files otherwise."""
        by_name = {f.name: f for f in self.files}
        if name in by_name:
            return by_name[name]
        same = [f for f in self.files if f.name.rsplit("/", 1)[-1] == name]
        if len(same) == 1:
            return same[0]
        from .errors import did_you_mean

        shown = ", ".join(sorted(by_name)[:5]) + (", ..." if len(by_name) > 5 else "")
        raise ResolveError(
            f"doi:{self.doi} ({self.repository}, {self.landing}) has no file {name!r}"
            f"{did_you_mean(name, by_name)}",
            hint=f"its {len(by_name)} file(s): {shown}",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "doi": self.doi,
            "repository": self.repository,
            "landing": self.landing,
            "version": self.version,
            "files": [
                {"name": f.name, "url": f.url, "size": f.size, "checksum": f.checksum}
                for f in self.files
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Record | None:
        """A record as :meth:`to_json` wrote it, or None for anything else (a bad cache
        file is ignored, never trusted)."""
        try:
            files = tuple(
                RemoteFile(str(f["name"]), str(f["url"]), f.get("size"), f.get("checksum"))
                for f in data["files"]
            )
            if not all(isinstance(f.size, (int, type(None))) for f in files):
                return None
            return cls(
                str(data["doi"]), str(data["repository"]), str(data["landing"]),
                data.get("version"), files,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return None


def doi_of(text: str) -> str:
    """The DOI in ``doi:10.x/y``, ``https://doi.org/10.x/y`` or ``10.x/y`` (a ResolveError
    for anything else)."""
    doi = text.strip()
    for prefix in ("doi:", "https://doi.org/", "http://doi.org/", "https://dx.doi.org/"):
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
            break
    doi = doi.strip("/")
    if not re.fullmatch(r"10\.\d{4,9}/\S+", doi):
        raise ResolveError(
            f"{text!r} is not a DOI",
            hint="expected doi:10.NNNN/SUFFIX, e.g. doi:10.5281/zenodo.4924875",
        )
    return doi


def split_doi_url(url: str) -> tuple[str, str]:
    """``(DOI, file name)`` of a pooch-style ``doi:DOI/NAME`` URL, split as pooch splits it:
    a Zenodo DOI is two segments (the name may hold slashes); otherwise the name is the last
    segment."""
    parts = url[4:].strip("/").split("/")
    if len(parts) < 3:
        raise ResolveError(
            f"{url!r} names no file: a doi: URL is doi:DOI/FILE (pooch's form)",
            hint="e.g. doi:10.5281/zenodo.4924875/tiny-data.txt",
        )
    if "zenodo" in parts[1].lower():
        return "/".join(parts[:2]), "/".join(parts[2:])
    return "/".join(parts[:-1]), parts[-1]


class Resolver:
    """Resolves DOIs through the runtime's HTTP engine; ``requests`` counts the requests made
    (landing pages and API calls). ``environ`` gives the resolver and Figshare API bases."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_retry_after: float = 120.0,
    ) -> None:
        from ._runtime.retry import RetryPolicy
        from ._runtime.transfer import Engine

        self.environ = os.environ if environ is None else environ
        self.doi_base = self.environ.get(RESOLVER_ENV) or DOI_RESOLVER
        self.figshare_api = (self.environ.get(FIGSHARE_ENV) or FIGSHARE_API).rstrip("/")
        for variable, value in ((RESOLVER_ENV, self.doi_base), (FIGSHARE_ENV, self.figshare_api)):
            if not value.startswith(("http://", "https://")):
                raise ResolveError(f"{variable}={value!r} is not an http(s) URL")
        self.engine = Engine(
            timeout=timeout,
            policy=RetryPolicy(retries, backoff, 30.0, max_retry_after),
            cancel=Cancel(),
            max_size=20 * 10**9,
            user_agent=USER_AGENT,
            environ=self.environ,
        )
        self.requests = 0

    def close(self) -> None:
        self.engine.client.close_all()

    # ------------------------------------------------------------------ HTTP

    def _get(self, url: str, handle: Any, what: str) -> str:
        """GET ``url`` with the engine's retries; the URL that answered. A failure is a
        ResolveError naming ``what`` and the URL."""

        def attempt() -> None:
            self.requests += 1
            answered.append(self.engine.client.get(url, None, handle))

        answered: list[str] = []
        try:
            self.engine.policy.run(attempt, self.engine.cancel, lambda: None)
        except (Retry, Fatal) as e:
            raise ResolveError(f"{what}: {url}: {e}") from None
        return answered[-1]

    def json(self, url: str, what: str) -> Any:
        """The JSON document at ``url`` (an HTTP error or a body that is not JSON is a
        ResolveError)."""
        body: list[bytes] = []

        def handle(resp: Any) -> None:
            self.engine.policy.raise_for_status(resp)
            data = resp.read(JSON_LIMIT + 1)
            if len(data) > JSON_LIMIT:
                raise Fatal(f"the answer is larger than {JSON_LIMIT >> 20} MiB")
            body.append(data)

        self._get(url, handle, what)
        try:
            return json.loads(body[-1])
        except ValueError:
            raise ResolveError(f"{what}: {url} did not answer with JSON") from None

    def landing(self, doi: str) -> str:
        """The URL the DOI resolver sends ``doi`` to, after every redirect (the landing
        page is not read)."""

        def handle(resp: Any) -> None:
            if resp.status == 404:
                raise Fatal("HTTP 404: no such DOI")
            self.engine.policy.raise_for_status(resp)

        base = self.doi_base if self.doi_base.endswith("/") else self.doi_base + "/"
        return self._get(base + quote(doi, safe="/:;()"), handle, f"resolving doi:{doi}")

    # ------------------------------------------------------------------ repositories

    def resolve(self, doi: str) -> Record:
        """The record of ``doi`` (``doi:...``, a doi.org URL or the bare DOI)."""
        doi = doi_of(doi)
        landing = self.landing(doi)
        parts = urlsplit(landing)
        host, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
        origin = f"{parts.scheme}://{parts.netloc}"
        zenodo = re.search(r"/records?/([^/]+)$", path)
        if host == "zenodo.org" or host.endswith(".zenodo.org") or zenodo:
            if zenodo is None:
                raise ResolveError(f"doi:{doi} resolves to {landing}, not a Zenodo record page")
            return self._zenodo(doi, landing, origin, zenodo[1])
        if host == "figshare.com" or host.endswith(".figshare.com") or "/articles/" in path:
            return self._figshare(doi, landing)
        return self._dataverse(doi, landing, origin)

    def _zenodo(self, doi: str, landing: str, origin: str, record_id: str) -> Record:
        api = f"{origin}/api/records/{record_id}"
        record = self.json(api, f"doi:{doi} (Zenodo record {record_id})")
        files = record.get("files") if isinstance(record, dict) else None
        entries: Any = files
        if isinstance(files, dict):  # InvenioRDM: {"enabled", "count", "entries"}
            entries = files.get("entries")
            if isinstance(entries, dict):
                entries = list(entries.values())
            if entries is None or len(entries) < int(files.get("count") or 0):
                listing = self.json(api + "/files", f"doi:{doi} (Zenodo record {record_id})")
                entries = listing.get("entries") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise ResolveError(f"doi:{doi}: {api} lists no files")
        out = []
        for item in entries:
            name = item.get("key") or item.get("filename")
            size = item.get("size", item.get("filesize"))
            checksum = item.get("checksum")
            if isinstance(checksum, str) and ":" not in checksum:
                checksum = f"md5:{checksum}"  # (the 2023 shape: a bare md5)
            links = item.get("links") or {}
            url = links.get("self") or links.get("content") or links.get("download")
            if not url:
                url = f"{origin}/records/{record_id}/files/{quote(str(name))}?download=1"
            out.append(_remote(doi, name, url, size, checksum))
        version = (record.get("metadata") or {}).get("version")
        return Record(doi, "Zenodo", landing, _str(version), tuple(out))

    def _figshare(self, doi: str, landing: str) -> Record:
        api = self.figshare_api
        found = self.json(f"{api}/articles?doi={quote(doi, safe='')}", f"doi:{doi} (Figshare)")
        if not isinstance(found, list) or not found:
            raise ResolveError(f"doi:{doi}: Figshare finds no article with this DOI")
        article = found[0]["id"]
        version = re.search(r"\.v(\d+)$", doi)
        detail_url = f"{api}/articles/{article}" + (f"/versions/{version[1]}" if version else "")
        detail = self.json(detail_url, f"doi:{doi} (Figshare article {article})")
        files = detail.get("files") or []
        if len(files) >= FIGSHARE_DETAIL_FILES:  # the details list at most 10: page through
            latest = detail if version is None else self.json(f"{api}/articles/{article}", doi)
            if version is not None and str(latest.get("version")) != version[1]:
                raise ResolveError(
                    f"doi:{doi}: Figshare lists only {FIGSHARE_DETAIL_FILES} files of an "
                    f"article version that is not its latest (version {version[1]}, latest "
                    f"{latest.get('version')})",
                    hint="resolve the DOI of the latest version, or list the files with "
                    "make-registry --from-urls",
                )
            files = []
            for page in range(1, 10_001):
                batch = self.json(
                    f"{api}/articles/{article}/files?page={page}&page_size={PAGE_SIZE}",
                    f"doi:{doi} (Figshare article {article} files)",
                )
                files += batch
                if len(batch) < PAGE_SIZE:
                    break
        out = []
        for item in files:
            md5 = item.get("computed_md5") or item.get("supplied_md5")
            checksum = f"md5:{md5}" if md5 else None
            out.append(
                _remote(doi, item.get("name"), item.get("download_url"), item.get("size"), checksum)
            )
        return Record(doi, "Figshare", landing, _str(detail.get("version")), tuple(out))

    def _dataverse(self, doi: str, landing: str, origin: str) -> Record:
        api = f"{origin}/api/datasets/:persistentId?persistentId=doi:{quote(doi, safe='/')}"
        try:
            answer = self.json(api, f"doi:{doi} (Dataverse)")
            latest = answer["data"]["latestVersion"]
            files = latest["files"]
        except (ResolveError, KeyError, TypeError) as e:
            raise ResolveError(
                f"doi:{doi} resolves to {landing}, which is not a Zenodo, Figshare or "
                f"Dataverse record ({e.message if isinstance(e, ResolveError) else 'no files'})",
                hint="only these repositories have APIs that list their files; list the "
                "files' URLs in a file and use make-registry --from-urls",
            ) from None
        out = []
        for item in files:
            data = item.get("dataFile") or {}
            name = data.get("originalFileName") or data.get("filename")
            folder = item.get("directoryLabel")
            if folder and name:
                name = f"{str(folder).strip('/')}/{name}"
            url = f"{origin}/api/access/datafile/{data.get('id')}"
            if data.get("originalFileName"):
                url += "?format=original"  # (an ingested table: the bytes that were uploaded)
            checksum = None
            if data.get("md5"):
                checksum = f"md5:{data['md5']}"
            elif isinstance(data.get("checksum"), dict):
                alg = str(data["checksum"].get("type", "")).lower().replace("-", "")
                checksum = f"{alg}:{data['checksum'].get('value')}"
            size = data.get("originalFileSize") if data.get("originalFileName") else None
            out.append(_remote(doi, name, url, size or data.get("filesize"), checksum))
        version = latest.get("versionNumber")
        if version is not None:
            version = f"{version}.{latest.get('versionMinorNumber', 0)}"
        return Record(doi, "Dataverse", landing, _str(version), tuple(out))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _remote(doi: str, name: Any, url: Any, size: Any, checksum: Any) -> RemoteFile:
    """A file of a record, checked: a usable name and URL, a size, a known checksum."""
    from .registry import check_name, normalize_hash

    problem = None
    if not isinstance(name, str) or not name:
        problem = f"a file without a name ({name!r})"
    elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problem = f"{name!r} has no http(s) download URL ({url!r})"
    else:
        try:
            check_name(name)
        except ValueError as e:
            problem = f"{name!r} cannot be a registry name: {e}"
    if problem is None and checksum is not None:
        try:
            checksum = normalize_hash(str(checksum))
        except ValueError as e:
            problem = f"{name!r}: the repository's checksum {checksum!r}: {e}"
    if problem is not None:
        raise ResolveError(f"doi:{doi}: {problem}")
    ok_size = isinstance(size, int) and not isinstance(size, bool) and size >= 0
    return RemoteFile(name, url, size if ok_size else None, checksum)


def resolve_all(dois: Sequence[str], resolver: Resolver) -> dict[str, Record]:
    """Each DOI resolved once, in order."""
    return {doi: resolver.resolve(doi) for doi in dict.fromkeys(dois)}
