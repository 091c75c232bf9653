"""A stand-in for doi.org, Zenodo, Figshare and Dataverse on one loopback server.

Stdlib only (beside ``cdnserver.py``, which it extends), so ``bench/`` can use it too. It answers
with the JSON shapes the repositories document (the ones pooch reads):

* ``GET /doi/<DOI>`` -> 302 to the record's landing page, as doi.org does;
* **Zenodo** (:meth:`Repositories.zenodo`): landing ``/records/<ID>`` (HTML), ``GET
  /api/records/<ID>`` -> ``{"id", "doi", "metadata": {"version"}, "files": [{"id", "key",
  "size", "checksum": "md5:...", "links": {"self": ".../api/records/<ID>/files/<KEY>/content"}}]}``
  (``shape="2023"``: ``filename``, ``filesize``, a bare md5 and ``links.download``, the shape
  of October 2023), and the files at their ``links.self``. Without a User-Agent the API answers
  429, as Zenodo rate-limits such clients;
* **Figshare** (:meth:`Repositories.figshare`): landing ``/articles/dataset/<slug>/<ID>``,
  ``GET /figshare/v2/articles?doi=<DOI>`` -> ``[{"id", "doi"}]``, ``GET
  /figshare/v2/articles/<ID>[/versions/<N>]`` -> ``{"id", "version", "files": [{"id", "name",
  "size", "computed_md5", "download_url"}]}`` (at most 10 files, as Figshare lists them),
  ``/figshare/v2/articles/<ID>/files?page=P&page_size=S`` (every file, in pages); each
  ``download_url`` (``/ndownloader/files/<FID>``) redirects to ``/s3/<FID>``, as Figshare's does;
* **Dataverse** (:meth:`Repositories.dataverse`): landing
  ``/dataset.xhtml?persistentId=doi:<DOI>``, ``GET
  /api/datasets/:persistentId?persistentId=doi:<DOI>`` -> ``{"status": "OK", "data":
  {"latestVersion": {"versionNumber", "versionMinorNumber", "files": [{"label",
  "directoryLabel"?, "dataFile": {"id", "filename", "filesize", "md5", "checksum"}}]}}}``, and
  ``/api/access/datafile/<FID>``.

:attr:`Repositories.environ` points hatch-datafetch's resolver at it
(``HATCH_DATAFETCH_DOI_RESOLVER``, ``HATCH_DATAFETCH_FIGSHARE_API``); :meth:`api_requests`
counts the requests to the resolver and the APIs (not to the files). Faults (``status(429,
retry_after=1)``...) are queued per path as on the CDN; a path with a query string is named
with it, e.g. ``api/datasets/:persistentId?persistentId=doi:10.70122/FK2/X``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, unquote

try:
    from .cdnserver import CDN, Request, _Handler, _name, _Server
except ImportError:  # bench/: tests/support on sys.path
    from cdnserver import CDN, Request, _Handler, _name, _Server  # type: ignore[no-redef]


class _RepoHandler(_Handler):
    def _serve(self, head: bool) -> None:
        repo = self.cdn
        path, _, query = self.path.partition("?")
        if query:  # the query is part of the name (the CDN ignores queries)
            self.path = quote(unquote(path) + "?" + unquote(query), safe="/")
        name = _name(self.path)
        if name in repo.agent_required and not self.headers.get("User-Agent"):
            self._rec = repo._log(Request(self.command, name, dict(self.headers.items())))
            return self._simple(429, b"rate limited: no User-Agent\n", head, {"Retry-After": "60"})
        location = repo.redirects.get(name)
        if location is not None and not repo._faults.get((name, None)):
            self._rec = repo._log(
                Request(self.command, name, dict(self.headers.items()), target=self.path)
            )
            self._sleep(repo.latency)
            return self._simple(302, b"", head, {"Location": location})
        return super()._serve(head)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Repositories(CDN):
    """The stand-in (see the module docstring); ``latency`` s before every answer."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(None, latency=latency)
        self.redirects: dict[str, str] = {}
        self.api: set[str] = set()  # names of the resolver's and the APIs' documents
        self.agent_required: set[str] = set()

    def _make_server(self) -> Any:
        return _Server(self, _RepoHandler, self.port, tls=self.tls)

    @property
    def environ(self) -> dict[str, str]:
        """What points hatch-datafetch's resolver here."""
        return {
            "HATCH_DATAFETCH_DOI_RESOLVER": self.url + "doi/",
            "HATCH_DATAFETCH_FIGSHARE_API": self.url + "figshare/v2",
        }

    def api_requests(self) -> int:
        """Requests made to the DOI resolver and the repositories' APIs (not to files)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path in self.api)

    def document(self, name: str, data: Any) -> None:
        """Serve ``data`` as JSON at ``name`` (path and query, decoded)."""
        self.add(name, json.dumps(data).encode())
        self.api.add(name)

    def _doi(self, doi: str, landing: str) -> None:
        self.redirects[f"doi/{doi}"] = self.url + landing
        self.api.add(f"doi/{doi}")
        self.add(unquote(landing), b"<html><body>landing page</body></html>\n")

    # ------------------------------------------------------------------ Zenodo

    def zenodo(
        self, record: int, files: dict[str, bytes], *, shape: str = "current", version: str = "v1"
    ) -> str:
        """A Zenodo record of ``files``; its DOI (``10.5281/zenodo.<record>``)."""
        doi = f"10.5281/zenodo.{record}"
        self._doi(doi, f"records/{record}")
        entries = []
        for i, (name, data) in enumerate(files.items()):
            content = f"api/records/{record}/files/{name}/content"
            self.add(content, data)
            if shape == "2023":
                entries.append(
                    {"id": f"f{i}", "filename": name, "filesize": len(data),
                     "checksum": md5(data),
                     "links": {"download": self.url + quote(content)}}
                )  # fmt: skip
            else:
                entries.append(
                    {"id": f"f{i}", "key": name, "size": len(data),
                     "checksum": f"md5:{md5(data)}",
                     "links": {"self": self.url + quote(content)}}
                )  # fmt: skip
        api = f"api/records/{record}"
        self.document(
            api,
            {"id": record, "doi": doi, "metadata": {"title": "test", "version": version},
             "files": entries,
             "links": {"self": self.url + api, "html": self.url + f"records/{record}"}},
        )  # fmt: skip
        self.agent_required.add(api)
        return doi

    # ------------------------------------------------------------------ Figshare

    def figshare(self, article: int, files: dict[str, bytes], version: int = 1) -> str:
        """A public Figshare article (version ``version`` is the latest); its versioned DOI
        (``10.6084/m9.figshare.<article>.v<version>``)."""
        doi = f"10.6084/m9.figshare.{article}.v{version}"
        self._doi(doi, f"articles/dataset/test_data/{article}/{version}")
        entries = []
        for i, (name, data) in enumerate(files.items()):
            fid = article * 1000 + i
            self.redirects[f"ndownloader/files/{fid}"] = self.url + f"s3/{fid}"
            self.add(f"s3/{fid}", data)
            entries.append(
                {"id": fid, "name": name, "size": len(data), "computed_md5": md5(data),
                 "supplied_md5": "", "is_link_only": False,
                 "download_url": self.url + f"ndownloader/files/{fid}"}
            )  # fmt: skip
        api = "figshare/v2"
        self.document(f"{api}/articles?doi={doi}", [{"id": article, "doi": doi, "title": "t"}])
        detail = {"id": article, "doi": doi, "version": version, "files": entries[:10]}
        self.document(f"{api}/articles/{article}", detail)
        self.document(f"{api}/articles/{article}/versions/{version}", detail)
        size = 100
        for page in range(1, len(entries) // size + 2):
            chunk = entries[(page - 1) * size : page * size]
            self.document(f"{api}/articles/{article}/files?page={page}&page_size={size}", chunk)
        return doi

    # ------------------------------------------------------------------ Dataverse

    def dataverse(self, doi: str, files: dict[str, bytes], first_id: int = 500) -> str:
        """A published Dataverse dataset (version 1.0); NAMEs with a folder get a
        ``directoryLabel``. Returns ``doi``."""
        self._doi(doi, f"dataset.xhtml?persistentId=doi:{doi}")
        entries = []
        for i, (name, data) in enumerate(files.items()):
            fid = first_id + i
            folder, _, base = name.rpartition("/")
            self.add(f"api/access/datafile/{fid}", data)
            entry: dict[str, Any] = {
                "label": base,
                "restricted": False,
                "dataFile": {"id": fid, "persistentId": "", "filename": base,
                             "contentType": "application/octet-stream", "filesize": len(data),
                             "md5": md5(data),
                             "checksum": {"type": "MD5", "value": md5(data)}},
            }  # fmt: skip
            if folder:
                entry["directoryLabel"] = folder
            entries.append(entry)
        self.document(
            f"api/datasets/:persistentId?persistentId=doi:{doi}",
            {"status": "OK",
             "data": {"id": 1, "identifier": doi.split("/", 1)[1], "persistentUrl":
                      f"https://doi.org/{doi}",
                      "latestVersion": {"versionNumber": 1, "versionMinorNumber": 0,
                                        "versionState": "RELEASED", "files": entries}}},
        )  # fmt: skip
        return doi
