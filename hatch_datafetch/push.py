"""``hatch-datafetch push oci://HOST/REPOSITORY[:TAG]``: a registry's files into an OCI
registry (SPEC §14), which then serves them as an ``oci://`` mirror.

Every file becomes a blob whose digest is its sha256 (a HEAD first: a blob the registry
has is not sent again; a file up to ``chunk`` bytes in one ``PUT``, a larger one in
``PATCH`` chunks), then an OCI image manifest of our artifact type
(:data:`ARTIFACT_TYPE`, an empty config) with one layer per file, annotated with
``org.opencontainers.image.title`` = NAME, is tagged: the registry keeps the blobs, and OCI
clients (``oras pull``) get the files laid out by NAME. Same inputs, same manifest bytes:
a push of unchanged files uploads nothing at all, and needs no copy of a file (with a
sha256 in the registry) whose blob the registry has.

The HTTP is the locator's own (:mod:`._runtime.client`), with its credentials
(:mod:`._runtime.auth`: netrc, the registries' token flow) and retry policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from . import __version__
from ._runtime.auth import Auth
from ._runtime.client import Client
from ._runtime.errors import DataNotFoundError, Fatal, HashMismatchError, Retry
from ._runtime.fs import Cancel, hash_regular, split_hash
from ._runtime.oci import Reference
from ._runtime.progress import Progress
from ._runtime.retry import RetryPolicy
from .errors import DatafetchError

__all__ = ["ARTIFACT_TYPE", "PushError", "PushResult", "manifest", "push"]

ARTIFACT_TYPE = "application/vnd.hatch-datafetch.data.v1"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
LAYER_TYPE = "application/octet-stream"
TITLE = "org.opencontainers.image.title"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
EMPTY_DIGEST = "sha256:" + hashlib.sha256(EMPTY).hexdigest()
MANIFEST_MAX = 4 << 20  # the distribution registry's default limit
DEFAULT_CHUNK = 64 << 20
_BODY_MAX = 64 << 10  # an error body is read up to this size
_SEND = 1 << 20  # bytes handed to the socket at a time


class PushError(DatafetchError):
    """Files that could not be uploaded (exit 1), one problem each."""

    exit_code = 1


@dataclass
class Blob:
    """One file to push: its NAMEs (two names may share a content), path, digest, size."""

    digest: str
    size: int
    path: str
    names: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    reference: str  # oci://HOST/REPOSITORY:TAG
    manifest: str  # its digest
    uploaded: list[str]  # NAMEs whose blob was sent
    present: list[str]  # NAMEs whose blob the registry had
    sent_bytes: int
    manifest_sent: bool  # False: the tag pointed at this very manifest already

    def as_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "manifest": self.manifest,
            "uploaded": self.uploaded,
            "present": self.present,
            "bytes": self.sent_bytes,
            "manifest_uploaded": self.manifest_sent,
        }


def manifest(layers: Sequence[tuple[str, str, int]], annotations: Mapping[str, str]) -> bytes:
    """The manifest of ``(NAME, digest, size)`` layers (in NAME order), as bytes."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_TYPE,
            "digest": EMPTY_DIGEST,
            "size": len(EMPTY),
            "data": base64.b64encode(EMPTY).decode(),
        },
        "layers": [
            {"mediaType": LAYER_TYPE, "digest": d, "size": n, "annotations": {TITLE: name}}
            for name, d, n in sorted(layers)
        ],
    }
    if annotations:
        doc["annotations"] = dict(sorted(annotations.items()))
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class Sent:
    """How much of one blob the progress has counted: the furthest byte sent. A retried
    upload sends its bytes again; they are counted once, so the bar never runs past the
    total."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.high = progress, 0

    def reached(self, end: int) -> None:
        if end > self.high:
            self.progress.add(end - self.high)
            self.high = end


class _Slice:
    """``length`` bytes of a file from ``start``, as an http.client body (read, seek, tell),
    counted into the progress as they are sent."""

    def __init__(self, f: Any, start: int, length: int, sent: Sent) -> None:
        self.f, self.start, self.length, self.sent = f, start, length, sent
        self.pos = 0
        f.seek(start)

    def read(self, n: int = -1) -> bytes:
        n = self.length - self.pos if n < 0 else max(n, _SEND)  # (http.client asks 8 KiB)
        data: bytes = self.f.read(min(n, self.length - self.pos))
        self.pos += len(data)
        self.sent.reached(self.start + self.pos)
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int) -> None:
        self.pos = pos
        self.f.seek(self.start + pos)


@dataclass
class _Answer:
    status: int
    reason: str
    headers: Any
    body: bytes

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value


class RegistryAPI:
    """The distribution API calls a push makes, on the locator's HTTP client."""

    def __init__(self, ref: Reference, client: Client, policy: RetryPolicy) -> None:
        self.ref, self.client, self.policy = ref, client, policy

    def call(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> _Answer:
        """One request, a 401 answered with credentials (:meth:`Client.send`); the status,
        headers and (for an error) the start of the body. Network errors are Retry."""
        sent_headers = {"User-Agent": self.client.user_agent, **(headers or {})}
        conn, resp = self.client.send(url, sent_headers, method=method, body=body)
        with self.client.closed_on_failure(conn):
            data = resp.read(_BODY_MAX) if resp.status >= 400 and method != "HEAD" else b""
            answer = _Answer(resp.status, resp.reason, resp.headers, data)
            self.client.finish(conn, resp)
        return answer

    def expect(self, answer: _Answer, ok: Sequence[int], what: str) -> _Answer:
        """``answer`` when its status is in ``ok``; else the failure (Retry for 5xx/429)
        with the registry's own error codes and messages."""
        if answer.status in ok:
            return answer
        detail = ""
        try:
            errors = json.loads(answer.body)["errors"]
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        error = self.policy.status_error(answer.status, answer.reason, answer.header("Retry-After"))
        text = f"{what}: {error}" + (f" ({detail})" if detail else "")
        raise type(error)(self.client.redact(text))

    def has_blob(self, digest: str) -> bool:
        return self.head_blob(digest)[0]

    def head_blob(self, digest: str) -> tuple[bool, int | None]:
        """Does the registry have the blob, and its size when the answer says it (a redirect
        to the storage does not)."""
        answer = self.call("HEAD", self.ref.blob(digest))
        if answer.status == 404:
            return False, None
        self.expect(answer, (200, 307, 302), f"HEAD of blob {digest}")
        length = answer.header("Content-Length") if answer.status == 200 else None
        return True, int(length) if length and length.isdigit() else None

    def upload(self, f: Any, digest: str, size: int, chunk: int, sent: Sent) -> None:
        """Upload ``size`` bytes of the file ``f`` as the blob ``digest``: one PUT when it
        fits in ``chunk`` (or the registry's minimum chunk), else PATCH by PATCH; ``sent``
        counts them into the progress (once, whatever the attempt)."""
        started = self.expect(
            self.call("POST", self.ref.api("blobs/uploads/"), {"Content-Length": "0"}),
            (202,),
            "starting an upload",
        )
        location = self._location(started, self.ref.api("blobs/uploads/"))
        minimum = started.header("OCI-Chunk-Min-Length") or ""
        chunk = max(chunk, int(minimum) if minimum.isdigit() else 0)
        octets = {"Content-Type": "application/octet-stream"}
        if size > chunk:
            for start in range(0, size, chunk):
                n = min(chunk, size - start)
                headers = {**octets, "Content-Length": str(n),
                           "Content-Range": f"{start}-{start + n - 1}"}  # fmt: skip
                answer = self.expect(
                    self.call("PATCH", location, headers, _Slice(f, start, n, sent)),
                    (202, 204),
                    f"bytes {start}-{start + n - 1} of blob {digest}",
                )
                location = self._location(answer, location)
            body, length = None, 0
        else:
            body, length = _Slice(f, 0, size, sent), size
        sep = "&" if "?" in location else "?"
        headers = {**octets, "Content-Length": str(length)}
        self.expect(
            self.call("PUT", f"{location}{sep}digest={quote(digest)}", headers, body),
            (201, 204),
            f"completing blob {digest}",
        )

    def _location(self, answer: _Answer, base: str) -> str:
        location = answer.header("Location")
        if not location:
            raise Fatal(f"the registry answered HTTP {answer.status} without a Location")
        return urljoin(base, location)

    def tagged(self, tag: str) -> str | None:
        """The digest of the manifest that ``tag`` points at, or None."""
        answer = self.call("HEAD", self.ref.api(f"manifests/{tag}"), {"Accept": MANIFEST_TYPE})
        if answer.status == 404:
            return None
        self.expect(answer, (200,), f"HEAD of manifest {tag}")
        return answer.header("Docker-Content-Digest")

    def put_manifest(self, tag: str, data: bytes) -> None:
        headers = {"Content-Type": MANIFEST_TYPE, "Content-Length": str(len(data))}
        answer = self.call("PUT", self.ref.api(f"manifests/{tag}"), headers, data)
        self.expect(answer, (201, 200, 204), f"tagging the manifest as {tag}")


def push(
    ref: Reference,
    names: Sequence[str],
    obtain: Callable[[str], tuple[Path, str]],
    *,
    described: Callable[[str], tuple[str, int | None]] | None = None,
    environ: Mapping[str, str],
    jobs: int = 8,
    chunk: int = DEFAULT_CHUNK,
    timeout: float = 30.0,
    retries: int = 3,
    progress: bool | None = None,
    annotations: Mapping[str, str] | None = None,
) -> PushResult:
    """Push the files ``names`` (``obtain(NAME)`` gives a verified path and the registry's
    hash) to the repository of ``ref`` and tag the manifest ``ref.tag``. Blobs the registry
    has are not sent; a file that cannot be obtained here, but whose sha256 (and size:
    ``described(NAME)`` gives the registry's hash and size) the registry has already, needs
    nothing sent either. Every file is attempted, and failures raise :class:`PushError`
    before any manifest is written (so a tag never points at missing blobs)."""
    cancel = Cancel()
    agent = f"hatch-datafetch/{__version__} (push)"
    client = Client(
        timeout=timeout, user_agent=agent, environ=environ, cancel=cancel, auth=Auth(environ)
    )
    api = RegistryAPI(ref, client, RetryPolicy(retries))
    try:
        return _push(
            api, cancel, names, obtain, described, jobs, chunk, progress, annotations or {}
        )
    finally:
        client.close_all()


def _push(
    api: RegistryAPI,
    cancel: Cancel,
    names: Sequence[str],
    obtain: Callable[[str], tuple[Path, str]],
    described: Callable[[str], tuple[str, int | None]] | None,
    jobs: int,
    chunk: int,
    progress: bool | None,
    annotations: Mapping[str, str],
) -> PushResult:
    ref = api.ref
    blobs: dict[str, Blob] = {}
    failures: dict[str, str] = {}
    unobtained: dict[str, tuple[str, int | None]] = {}  # NAME: its sha256 digest and size
    lock = threading.Lock()

    def gather(name: str) -> None:
        try:
            path, expected = obtain(name)
            alg, hexdigest = split_hash(expected)
            if alg == "sha256":
                digest, size = f"sha256:{hexdigest}", os.stat(path).st_size
            else:
                digest, st = hash_regular(path, "sha256")
                size = st.st_size
        except (DataNotFoundError, HashMismatchError, OSError, ValueError) as e:
            failures[name] = str(e).splitlines()[0] if str(e) else type(e).__name__
            if described is None or isinstance(e, HashMismatchError):
                return
        else:
            with lock:
                blobs.setdefault(digest, Blob(digest, size, os.fspath(path))).names.append(name)
            return
        # not to be had here: the registry may have its blob already (see check_unobtained)
        expected, registry_size = described(name)
        alg, hexdigest = split_hash(expected)  # (validated when the registry was read)
        if alg == "sha256":
            unobtained[name] = (f"sha256:{hexdigest}", registry_size)

    _run(gather, names, jobs, cancel)
    todo: list[Blob] = []
    present: list[str] = []

    def check(blob: Blob) -> None:
        try:
            here = _retried(api, cancel, lambda: api.has_blob(blob.digest))
        except (Fatal, Retry) as e:
            failures[blob.names[0]] = str(e)
            return
        with lock:
            (present.extend(blob.names) if here else todo.append(blob))

    def check_unobtained(name: str) -> None:
        """A file not to be had here is pushed already when the registry has its blob."""
        digest, size = unobtained[name]
        try:
            here, length = _retried(api, cancel, lambda: api.head_blob(digest))
        except (Fatal, Retry):
            return  # its failure stays the reason it could not be obtained
        known = size if size is not None else length
        if here and known is not None:
            with lock:
                blob = blobs.setdefault(digest, Blob(digest, known, ""))
                blob.names.append(name)
                present.append(name)
                del failures[name]

    _run(check, list(blobs.values()), jobs, cancel)
    _run(check_unobtained, sorted(unobtained), jobs, cancel)
    meter = Progress(sum(b.size for b in todo), len(todo), progress)

    def send(blob: Blob) -> None:
        sent = Sent(meter)  # (across the attempts of this blob)

        def attempt() -> None:
            with open(blob.path, "rb") as f:
                api.upload(f, blob.digest, blob.size, chunk, sent)

        try:
            _retried(api, cancel, attempt)
        except (Fatal, Retry, OSError) as e:
            failures[blob.names[0]] = str(e)
        finally:
            meter.file_done()

    try:
        _run(send, sorted(todo, key=lambda b: b.names[0]), jobs, cancel)
    finally:
        meter.close()
    if failures:
        problems = [DatafetchError(why, key=name) for name, why in sorted(failures.items())]
        raise PushError(
            f"{len(failures)} of {len(names)} files could not be pushed to {ref}; no manifest "
            "was written",
            problems=problems,
            hint="fix what each line says, then run the same command again: what the "
            "registry has already is not sent twice",
        )
    layers = [(n, b.digest, b.size) for b in blobs.values() for n in b.names]
    data = manifest(layers, annotations)
    if len(data) > MANIFEST_MAX:
        raise PushError(
            f"the manifest of {len(layers)} files is {len(data):,} bytes; registries accept "
            f"up to {MANIFEST_MAX:,}",
            hint="push fewer files per tag (e.g. one registry per group of files)",
        )
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    tag = ref.tag or "latest"
    try:
        sent = _retried(api, cancel, lambda: api.tagged(tag)) != digest
        if sent:
            _retried(api, cancel, lambda: _empty_then(api, data, tag))
    except (Fatal, Retry) as e:
        raise PushError(f"the files are in {ref.host}, but tagging failed: {e}") from None
    uploaded = sorted(n for b in todo for n in b.names)
    return PushResult(
        reference=str(Reference(ref.scheme, ref.host, ref.repository, tag, None)),
        manifest=digest,
        uploaded=uploaded,
        present=sorted(present),
        sent_bytes=sum(b.size for b in todo),
        manifest_sent=sent,
    )


def _empty_then(api: RegistryAPI, data: bytes, tag: str) -> None:
    """The manifest's (empty) config blob, then the manifest itself."""
    if not api.has_blob(EMPTY_DIGEST):
        import io

        quiet = Progress(0, 0, False)
        api.upload(io.BytesIO(EMPTY), EMPTY_DIGEST, len(EMPTY), DEFAULT_CHUNK, Sent(quiet))
    api.put_manifest(tag, data)


def _retried(api: RegistryAPI, cancel: Cancel, attempt: Callable[[], Any]) -> Any:
    out: list[Any] = []
    api.policy.run(lambda: out.append(attempt()), cancel, lambda: None)
    return out[-1]


def _run(one: Callable[[Any], None], items: Sequence[Any], jobs: int, cancel: Cancel) -> None:
    """``one(item)`` for every item on ``jobs`` threads; Ctrl-C stops them."""
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            one(item)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        try:
            list(pool.map(one, items))
        except BaseException:
            cancel.set()
            raise
