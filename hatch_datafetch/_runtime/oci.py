"""OCI registries as hash-addressed mirrors: ``oci://`` URLs (SPEC §14).

A base URL or mirror ``oci://HOST/REPOSITORY`` holds every file as the blob whose digest is
its sha256, so a file's URL there is ``oci://HOST/REPOSITORY@sha256:HEX``
(:func:`file_url`), fetched as ``https://HOST/v2/REPOSITORY/blobs/sha256:HEX``
(:func:`blob_url`, the OCI distribution API) by the same client, transfers, ranges and
retries as any https URL; a registry's token challenge is answered by :mod:`.auth`. A file
whose registry hash is not sha256 cannot be addressed there (:func:`skip_reason`).

Plain http: ``oci+http://HOST/REPOSITORY`` always, and ``oci://`` when HOST is a loopback
address (``localhost``, ``127.0.0.0/8``, ``[::1]``), the registries Docker and containerd
also reach without TLS; ``oci+https://`` insists on https even there.
"""

from __future__ import annotations

from .errors import Fatal

SCHEMES = ("oci", "oci+http", "oci+https")
PREFIXES = tuple(f"{s}://" for s in SCHEMES)
FORM = "oci://HOST[:PORT]/REPOSITORY[:TAG|@sha256:HEX]"
#: A repository name of the distribution spec: lower-case components joined by ``/``.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"


def is_oci(url: str) -> bool:
    return url.startswith(PREFIXES)


class Reference:
    """A parsed ``oci://`` URL: where its registry answers (``scheme``: http or https,
    ``host``: HOST[:PORT]), the ``repository``, and a ``tag`` or ``digest`` if it names one."""

    def __init__(
        self, scheme: str, host: str, repository: str, tag: str | None, digest: str | None
    ) -> None:
        self.scheme, self.host, self.repository = scheme, host, repository
        self.tag, self.digest = tag, digest

    def api(self, path: str) -> str:
        """``http(s)://HOST/v2/REPOSITORY/PATH``."""
        return f"{self.scheme}://{self.host}/v2/{self.repository}/{path}"

    def blob(self, digest: str) -> str:
        return self.api(f"blobs/{digest}")

    def __str__(self) -> str:
        tail = f"@{self.digest}" if self.digest else f":{self.tag}" if self.tag else ""
        scheme = "oci" if self.scheme == default_scheme(self.host) else f"oci+{self.scheme}"
        return f"{scheme}://{self.host}/{self.repository}{tail}"


def default_scheme(host: str) -> str:
    """What ``oci://`` means for HOST[:PORT]: http for a loopback host, else https."""
    import ipaddress
    from urllib.parse import urlsplit

    name = (urlsplit(f"//{host}").hostname or "").lower()
    if name == "localhost":
        return "http"
    try:
        return "http" if ipaddress.ip_address(name).is_loopback else "https"
    except ValueError:
        return "https"


def parse(url: str) -> Reference:
    """The :class:`Reference` of an ``oci://`` URL; a ValueError that names the form."""
    import re
    from urllib.parse import urlsplit

    scheme, sep, rest = url.partition("://")
    host, _, path = rest.partition("/")
    problem = ""
    if not sep or scheme not in SCHEMES:
        problem = f"its scheme is not one of {', '.join(PREFIXES)}"
    elif not host or "@" in host:
        problem = "it names no host" if not host else "credentials go in ~/.netrc, not the URL"
    else:
        try:
            urlsplit(f"http://{host}/").port  # noqa: B018 (a port that is not a number raises)
        except ValueError:
            problem = "its port is not a number from 1 to 65535"
    tag = digest = None
    if not problem:
        path, at, digest_text = path.partition("@")
        if at:
            digest = digest_text
            if not re.fullmatch(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", digest):
                problem = f"{digest!r} is not a digest like sha256:HEX"
        path = path.rstrip("/")
        m = re.fullmatch(rf"({_COMPONENT}(?:/{_COMPONENT})*)(?::({_TAG}))?", path)
        if not problem and m is None:
            problem = (
                f"{path!r} is not a repository name (lower-case letters, digits and . _ - "
                "between them, / between components)"
                if path
                else "it names no repository"
            )
        elif m is not None:
            path, tag = m[1], m[2]
    if problem:
        raise ValueError(f"{url!r} is not an OCI repository URL: {problem}; expected {FORM}")
    if scheme == "oci":
        scheme = default_scheme(host)
    return Reference(scheme.rpartition("+")[2], host, path, tag, digest)


def file_url(base: str, expected: str) -> str:
    """The URL of the blob ``expected`` (the file's registry hash) in the repository of the
    ``oci://`` URL ``base``; a URL that names a digest already is kept as it is."""
    if "@" in base.partition("://")[2].partition("/")[2]:
        return base
    head, _, path = base.partition("://")
    host, _, repo = path.partition("/")
    repo = repo.rstrip("/")
    name, colon, tag = repo.rpartition(":")
    if colon and "/" not in tag:  # oci://HOST/REPO:TAG: a file is a blob, not a tag
        repo = name
    return f"{head}://{host}/{repo}@{expected}"


def skip_reason(url: str) -> str | None:
    """Why the ``oci://`` URL of a file cannot serve it (its registry hash is not sha256:
    an OCI registry addresses blobs by sha256), or None."""
    digest = url.rpartition("@")[2]
    alg = digest.partition(":")[0]
    if alg == "sha256":
        return None
    return f"an OCI registry addresses blobs by sha256, and the registry gives this file's {alg}"


def blob_url(url: str) -> str:
    """``http(s)://HOST/v2/REPOSITORY/blobs/sha256:HEX`` of a file's ``oci://`` URL; a
    :class:`Fatal` error when it names no sha256 digest or is malformed."""
    try:
        ref = parse(url)
    except ValueError as e:
        raise Fatal(str(e)) from None
    if ref.digest is None:
        raise Fatal(f"{url} names no blob: expected oci://HOST/REPOSITORY@sha256:HEX")
    why = skip_reason(url)
    if why is not None:
        raise Fatal(f"skipped: {why}")
    return ref.blob(ref.digest)


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` that an ``oci://`` URL's requests go to (None: malformed)."""
    from urllib.parse import urlsplit

    try:
        ref = parse(url)
        parts = urlsplit(f"{ref.scheme}://{ref.host}/")
        port = parts.port or (443 if ref.scheme == "https" else 80)
    except ValueError:
        return None
    return ref.scheme, (parts.hostname or "").lower(), port
