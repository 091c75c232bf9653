"""Object stores through fsspec: ``s3://``, ``gs://``, ``az://`` and any other fsspec protocol.

Imported only when such a URL is fetched, and fsspec (with the protocol's package: s3fs,
gcsfs, adlfs...) only then; without them the URL fails with the ``pip install`` that
fixes it, and ``where`` says so beforehand (:func:`unavailable`). An object's bytes go
through the same part file and :class:`~.transfer.Sink` as an http(s) download: hashed as
they arrive, never past the registry's size (an object of another size fails at once),
disk-full aware, stall-checked, Ctrl-C, progress and the lock's heartbeat; under the same
:class:`~.retry.RetryPolicy` (network errors, timeouts and 5xx retried; a missing object,
denied access or missing credentials final). A part file left by a killed download is
resumed with a seek, which S3, GCS and Azure answer with a ranged read.

URLs are percent-decoded like any URL (``s3://bucket/a%20b.csv`` is the key ``a b.csv``:
base URL + NAME is encoded that way). Credentials and endpoints come from the store's own
configuration (``AWS_*`` variables and ``~/.aws`` for S3, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_*``...) and fsspec's (``FSSPEC_S3_ENDPOINT_URL``, ``FSSPEC_S3_ANON``...);
an ``s3://`` object read where no AWS credentials exist is read anonymously (a public
bucket). S3 connections get the locator's timeout as their connect and read timeouts, and
botocore's own retries are turned off: the locator's policy retries.
"""

from __future__ import annotations

from .errors import Cancelled, DiskFull, Fatal, MissingPackage, Retry, StopFile, Unsafe
from .fs import CHUNK

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any, Protocol

    from .retry import RetryPolicy

    class Transfer(Protocol):
        """What this module uses of a :class:`.transfer.Transfer` (which imports it)."""

        url: str
        size: int | None
        have: int
        resumed: bool
        use_range: bool
        dl: Any
        heartbeat: Callable[[], None]

        def reset(self) -> None: ...
        def cap(self, length: int | None) -> tuple[int, str]: ...
        def _sink(self, limit: tuple[int, str]) -> Any: ...


#: What ``pip install`` gives fsspec each common protocol (others: fsspec's own message).
PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "adl": "adlfs",
    "hf": "huggingface_hub",
    "oss": "ossfs",
    "webdav": "webdav4",
}
#: URL schemes the locator handles itself, never through fsspec (``oci://`` is an OCI
#: registry, SPEC §14, not fsspec's Oracle Cloud protocol).
OWN_SCHEMES = frozenset({"http", "https", "file", "doi", "ftp", "sftp", "oci"})
#: Bytes a read-ahead fetches from the store at once (one ranged GET on S3).
BLOCK = 16 << 20
_S3 = frozenset({"s3", "s3a"})
_CREDENTIALS = frozenset({"NoCredentialsError", "PartialCredentialsError"})


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition(":")
    return scheme.lower() if sep else ""


def known_protocol(scheme: str) -> bool:
    """Is ``scheme`` an object store or another fsspec protocol (without importing fsspec
    for the common ones)? The registry accepts such URLs."""
    scheme = scheme.lower()
    if scheme in PACKAGES:
        return True
    if not scheme or scheme in OWN_SCHEMES:
        return False
    try:
        import fsspec  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return False
    return scheme in fsspec.available_protocols()


def requirement(scheme: str) -> str:
    """What to install for ``scheme``: ``pip install s3fs`` (which brings fsspec)."""
    package = PACKAGES.get(scheme)
    return f"pip install {package}" if package else "pip install fsspec and the protocol's package"


def unavailable(url: str) -> str | None:
    """Why ``url`` cannot be fetched here (fsspec or the protocol's package is not
    importable), or None; nothing is imported to find out."""
    import importlib.util

    scheme = scheme_of(url)
    package = PACKAGES.get(scheme)
    need = [m for m in ("fsspec", package) if m]
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return f"needs {' and '.join(missing)} ({requirement(scheme)})"


class _Store:
    """The fsspec file system and path of one URL, made on first use; ``anon`` once an
    S3 object is read anonymously (no AWS credentials here)."""

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import unquote

        self.url, self.timeout = unquote(url), timeout
        self.scheme = scheme_of(url)
        self.anon = False
        self.fs: Any = None
        self.path = ""

    def connect(self, anon: bool = False) -> None:
        if not self.scheme or self.scheme in OWN_SCHEMES:
            raise Fatal(f"unsupported URL: {self.url}")
        try:
            import fsspec  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            package = PACKAGES.get(self.scheme)
            needs = f"fsspec and {package}" if package else "fsspec"
            install = requirement(self.scheme)
            raise MissingPackage(
                f"{self.scheme}:// URLs need {needs}: {install}", install
            ) from None
        options = self._options()
        if anon:
            options["anon"] = True
        try:
            self.fs, self.path = fsspec.core.url_to_fs(self.url, **options)
        except ImportError as e:
            package = PACKAGES.get(self.scheme)
            if package is None:  # fsspec's own message names it
                raise Fatal(f"{self.scheme}:// URLs need another package: {e}") from None
            install = f"pip install {package}"
            raise MissingPackage(
                f"{self.scheme}:// URLs need {package}: {install}", install
            ) from None
        except ValueError as e:
            if "not known" in str(e).lower():
                raise Fatal(
                    f"unsupported URL scheme {self.scheme}:// (not http(s), file, doi, ftp or "
                    "sftp, and fsspec knows no such protocol)"
                ) from None
            raise Fatal(f"fsspec cannot open {self.url}: {e}") from None
        self.anon = anon

    def _options(self) -> dict[str, Any]:
        """S3: the locator's timeout for connect and read, botocore's retries off (ours
        retry), on top of what fsspec's configuration says."""
        if self.scheme not in _S3:
            return {}
        from fsspec.config import conf  # type: ignore[import-untyped, unused-ignore]

        config = dict(conf.get(self.scheme, {}).get("config_kwargs") or {})
        config.setdefault("connect_timeout", self.timeout)
        config.setdefault("read_timeout", self.timeout)
        config.setdefault("retries", {"max_attempts": 1})
        return {"config_kwargs": config}


def stream(xfer: Transfer) -> None:
    """Fetch ``xfer.url`` from its object store into ``xfer``'s part file, retried under
    the locator's policy (see the module docstring)."""
    store = _Store(xfer.url, xfer.dl.timeout)
    store.connect()

    def attempt() -> None:
        try:
            _once(xfer, store)
        except Exception as e:
            if type(e).__name__ in _CREDENTIALS and store.scheme in _S3 and not store.anon:
                store.connect(anon=True)  # no AWS credentials here: a public bucket
                return attempt()
            raise failure(e, xfer, store) from None

    xfer.dl.policy.run(attempt, xfer.dl.cancel, xfer.heartbeat)


def _once(xfer: Transfer, store: _Store) -> None:
    """One read of the object from ``xfer.have`` on (a part file's bytes are kept when the
    store's object is still as long as it was)."""
    with store.fs.open(store.path, "rb", block_size=BLOCK, cache_type="readahead") as f:
        size = getattr(f, "size", None)
        if not isinstance(size, int):
            size = store.fs.size(store.path)
        if xfer.size is not None and isinstance(size, int) and size != xfer.size:
            raise Fatal(f"the object is {size:,} bytes, the registry says {xfer.size:,}")
        if xfer.have and (not xfer.use_range or size is None or xfer.have > size):
            xfer.reset()
        if xfer.have:
            f.seek(xfer.have)
            xfer.resumed = True
        sink = xfer._sink(xfer.cap(None if size is None else size - xfer.have))
        try:
            while True:
                xfer.dl.cancel.check()
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                sink.write(chunk)
        finally:
            sink.close()
            xfer.have = sink.position
    if size is not None and xfer.have < size:
        raise Retry(f"the store sent {xfer.have:,} of {size:,} bytes")


def failure(e: Exception, xfer: Transfer, store: _Store) -> Exception:
    """What a store's exception means for the retry policy: the locator's own failures as
    they are; a missing object, denied access or missing credentials final; an HTTP status
    as for https; network errors and timeouts retried; anything else final, named."""
    if isinstance(e, (Fatal, Retry, StopFile, DiskFull, Cancelled, Unsafe)):
        return e
    why = str(e).strip() or type(e).__name__
    if isinstance(e, FileNotFoundError):
        return Fatal(f"no such object in the store ({why})")
    if isinstance(e, (PermissionError, IsADirectoryError, NotADirectoryError)):
        return Fatal(f"{type(e).__name__}: {why}{_credentials_hint(store)}")
    names = {k.__name__ for k in type(e).__mro__}
    if names & _CREDENTIALS:
        return Fatal(f"no credentials: {why}{_credentials_hint(store)}")
    response = getattr(e, "response", None)  # a botocore ClientError s3fs let through
    meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    if isinstance(status, int):
        policy: RetryPolicy = xfer.dl.policy
        return policy.status_error(status, why, None)
    transient = ("Timeout", "Connection", "ConnectTimeout", "ServerDisconnected", "Payload")
    if isinstance(e, (OSError, TimeoutError)) or any(w in n for n in names for w in transient):
        return Retry(f"{type(e).__name__}: {why}")
    return Fatal(f"{type(e).__name__}: {why}")


def _credentials_hint(store: _Store) -> str:
    hints = {
        "s3": "; S3 credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        "AWS_PROFILE or ~/.aws (FSSPEC_S3_ANON=true reads a public bucket anonymously)",
        "gs": "; GCS credentials come from GOOGLE_APPLICATION_CREDENTIALS or gcloud",
        "az": "; Azure credentials come from AZURE_STORAGE_CONNECTION_STRING or "
        "AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
    }
    key = {"s3a": "s3", "gcs": "gs", "abfs": "az", "abfss": "az", "adl": "az"}.get(
        store.scheme, store.scheme
    )
    return hints.get(key, "")
