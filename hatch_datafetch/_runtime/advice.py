"""What a user reads when a file cannot be had: why, where it was looked for, what to do."""

from __future__ import annotations

import os

from .errors import (
    AllFailed,
    Cancelled,
    DataNotFoundError,
    DiskFull,
    DownloadError,
    Fatal,
    HashMismatchError,
    NoSpaceError,
    StopFile,
    Stuck,
    Unsafe,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping, Sequence

    from .config import RuntimeConfig
    from .memo import Candidate


def not_found(
    config: RuntimeConfig,
    name: str,
    why: str,
    network: bool = True,
    installs: Sequence[str] = (),
    denied: bool = False,
) -> str:
    """Why NAME is not available and what to do; ``network``: a download could help;
    ``installs``: commands that install what a URL needed (the first remedies); ``denied``:
    with the credentials that the hosts asked for (``why`` says which)."""
    from .config import install_name

    env_var, extra, package = config.env_var, config.extra, config.package
    top = install_name(config)
    lines = [f"cannot find data file {name!r}: {why}", "To fix this, either:"]
    lines += [f"  - install what the URL needs: {cmd}" for cmd in installs]
    if extra and top:
        lines.append(f"  - install the data: pip install '{top}[{extra}]'")
    script = (
        f"python -m {package}.{config.locator} download --dest DIR"
        if package
        else "hatch-datafetch download --registry FILE --dest DIR"
    )
    if env_var:
        lines += [f"  - download it and set {env_var}:", f"      {script}"]
        lines.append(f"      export {env_var}=DIR")
    else:
        lines += ["  - download it into a directory of your choice:", f"      {script}"]
    if denied:
        lines.append("  - or give the credentials that the lines above ask for.")
    elif network:
        lines.append("  - or allow network access to the URLs above.")
    return "\n".join(lines)


def offline(
    config: RuntimeConfig, environ: Mapping[str, str], name: str, looked: list[Candidate]
) -> str:
    """Why an offline fetch failed: every place ``looked`` at, then what to do."""
    switch = environ.get("HATCH_DATAFETCH_OFFLINE")
    why = "offline (HATCH_DATAFETCH_OFFLINE is set) and no valid local copy"
    if not switch:
        why = "offline mode and no valid local copy"
    lines = [f"cannot find data file {name!r}: {why}", "Looked in:"]
    for c in looked:
        place = f" {c.location}" if c.location else ""
        lines.append(f"  - {c.source}{place}: {c.status}")
    remedies = not_found(config, name, why, network=False).split("\n", 1)[1]
    if switch:
        remedies += "\n  - or unset HATCH_DATAFETCH_OFFLINE to allow downloads."
    return "\n".join(lines) + "\n" + remedies


def url_status(url: str, offline: bool) -> str:
    """What `where` says of a URL: ``would download``, or why it would not."""
    from urllib.parse import urlsplit

    if offline and not url.startswith("file:"):
        return "skipped: offline"
    if url.startswith("oci"):  # an OCI registry: its blob URL says where it answers
        from .oci import blob_url, is_oci, skip_reason

        why = skip_reason(url) if is_oci(url) else None
        if why is not None:
            return f"skipped: {why}"
        try:
            url = blob_url(url) if is_oci(url) else url
        except Fatal:
            return "skipped: invalid URL"
    parts = urlsplit(url)
    from .objstore import OWN_SCHEMES, unavailable  # (stdlib only: no fsspec)

    if parts.scheme not in OWN_SCHEMES:
        missing = unavailable(url)
        return f"skipped: {missing}" if missing else "would download (fsspec)"
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        return "skipped: invalid URL"
    from .retry import host_down

    down = host_down((parts.hostname or "", port))
    if down is not None:
        return f"skipped: host down ({down[1]}, {down[0]:.0f} s ago)"
    return "would download"


def _served_other_bytes(who: str) -> str:
    return (
        f"  Nothing was kept: {who} sent other bytes than the registry's hash says. Either "
        "the file there changed since the registry was made (then update the registry: its "
        "hash and size, e.g. with hatch-datafetch make-registry), or the registry is right "
        "and the server holds another version (then fix the file on the server or the URL). "
        "Fetching again will not help until one of them is updated."
    )


def download_error(
    config: RuntimeConfig, name: str, final: str, expected: str, e: Exception
) -> BaseException | None:
    """The public error for a download's failure ``e`` (None: let ``e`` through)."""
    if isinstance(e, DiskFull):
        return NoSpaceError(f"cannot download {name!r}: {e}", name)
    if isinstance(e, Cancelled):
        return KeyboardInterrupt()
    if isinstance(e, Stuck):
        return DataNotFoundError(not_found(config, name, str(e), False), name)
    if isinstance(e, (StopFile, Unsafe, OSError)):
        why = f"cannot write to {os.path.dirname(final)}: {getattr(e, 'strerror', None) or e}"
        return DataNotFoundError(not_found(config, name, why, False), name)
    if isinstance(e, AllFailed):
        if e.mismatch is not None and len(e.failures) == 1:
            hint = _served_other_bytes(f"the server at {e.mismatch[0]}")
            return HashMismatchError(name, expected, e.mismatch[1], e.mismatch[0], hint)
        detail = "\n".join(f"  - {f}" for f in e.failures)
        # only URLs that lacked a package: the network is not what failed
        network = len(e.installs) < len(e.failures)
        installs = list(dict.fromkeys(e.installs))
        why = f"every download failed:\n{detail}"
        msg = not_found(config, name, why, network, installs, denied=e.denied)
        if e.mismatch is not None:
            hint = _served_other_bytes("a URL") + "\n" + msg
            return HashMismatchError(name, expected, e.mismatch[1], "every URL", hint)
        return DownloadError(msg, name, e.failures)
    return None
