"""Every exception of the locator, public and internal, in one place.

Public (what users catch): :class:`DataNotFoundError` and its kinds (:class:`UnknownFileError`,
:class:`DownloadError`, :class:`NoSpaceError`, :class:`FetchErrors`, :class:`ArchiveError`),
:class:`HashMismatchError`, and the warning :class:`DataWarning`.

Internal (how the layers below the :class:`~.locator.Locator` tell it what happened; never
seen by users): a transfer raises :class:`Retry` (worth trying the same URL again),
:class:`Fatal` (this URL will not work) or :class:`StopFile` (no URL can help: the disk is
full, the target unwritable, Ctrl-C); the file-system layer raises :class:`Unsafe` (a path is
a planted link) and :class:`Stuck` (a lock holder stopped moving). The locator turns them
into the public errors, with advice that fits the case.
"""

from __future__ import annotations

import errno

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping, Sequence

__all__ = [
    "ArchiveError",
    "DataNotFoundError",
    "DataWarning",
    "DownloadError",
    "FetchErrors",
    "HashMismatchError",
    "NoSpaceError",
    "UnknownFileError",
]


# --------------------------------------------------------------------------- public


class DataNotFoundError(LookupError):
    """No valid copy of a data file could be found or downloaded (``name``: which file)."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class UnknownFileError(DataNotFoundError):
    """The name is not in the registry."""


class DownloadError(DataNotFoundError):
    """Every URL of a data file failed (network errors, HTTP errors); ``failures`` says how,
    one ``URL: error`` line per URL."""

    def __init__(self, message: str, name: str | None = None, failures: Sequence[str] = ()) -> None:
        super().__init__(message, name)
        self.failures = list(failures)


class NoSpaceError(DataNotFoundError):
    """A download stopped because the disk is full: the message names the directory, the
    bytes it needs and those free (nothing is retried; the part file is removed)."""


class FetchErrors(DataNotFoundError):
    """Several files failed in one ``fetch_all``: ``errors`` maps NAME -> its exception."""

    def __init__(self, errors: Mapping[str, BaseException]) -> None:
        self.errors = dict(sorted(errors.items()))
        super().__init__("\n".join(self.summary()))

    def summary(self) -> list[str]:
        """``N files failed:``, one line per file, then the first failure in full."""
        n = len(self.errors)
        lines = [f"{n} file failed:" if n == 1 else f"{n} files failed:"]
        lines += [f"  {name}: {str(e).splitlines()[0]}" for name, e in self.errors.items()]
        first = next(iter(self.errors.values()))
        return [*lines, "First failure in full:", *str(first).splitlines()]


class ArchiveError(DataNotFoundError):
    """A data file's archive cannot be unpacked: unreadable, unsafe (an absolute path,
    ``..``, a link, a device or FIFO), larger than ``max-size`` once unpacked, or not
    holding the members the registry lists. Nothing of it is left at a final path."""


class HashMismatchError(ValueError):
    """A file's content does not match the hash in the registry."""

    def __init__(self, name: str, expected: str, actual: str, source: str, hint: str = "") -> None:
        self.name, self.expected, self.actual, self.source = name, expected, actual, source
        msg = (
            f"hash mismatch for {name!r} from {source}\n"
            f"  expected: {expected}\n"
            f"  actual:   {actual}\n"
        )
        msg += hint or (
            f"  Delete or fix {source}, or update the registry's hash if that copy is right."
        )
        super().__init__(msg)


class DataWarning(UserWarning):
    """An invalid local copy was skipped, or an installed data wheel is out of date."""


def warn(message: str) -> None:
    """A :class:`DataWarning` attributed to the first caller outside this package (the
    user's line that called ``fetch``), not to the locator's own code."""
    import sys
    import warnings

    package = __name__.rpartition(".")[0]
    level, frame = 1, sys._getframe(0)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != package and not name.startswith(package + "."):
            break
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, DataWarning, stacklevel=level)


#: The advice of a bad local copy when the caller is strict (a build).
STRICT_HINT = (
    "  A local copy that does not match the registry stops the build rather than being "
    "replaced silently: delete or fix that file, or update the registry's hash."
)


# --------------------------------------------------------------------------- internal


class Unsafe(Exception):
    """A path the engine was about to write is a symbolic link or not what it should be."""

    def __init__(self, path: str, what: str = "a symbolic link") -> None:
        super().__init__(
            f"refusing to write through {path}: it is {what} (planted, or left behind by "
            "something else); remove it and try again"
        )


class Stuck(Exception):
    """Another process holds a file's lock and has shown no sign of life for too long."""


class Fatal(Exception):
    """A failure of this URL that retrying will not fix: go to the next URL."""


class Denied(Fatal):
    """The host refused access (a 401): credentials are missing or refused."""


class MissingPackage(Fatal):
    """The URL needs a package that is not importable here; ``install`` is the command that
    fixes it (``pip install s3fs``)."""

    def __init__(self, message: str, install: str) -> None:
        super().__init__(message)
        self.install = install


class StopFile(Exception):
    """A failure of this file that no URL can fix (disk full, unwritable, cancelled)."""


class Retry(Exception):
    """A transient failure: worth retrying the same URL after a backoff (or ``wait`` s)."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class Cancelled(StopFile):
    """Ctrl-C: every worker stops; part files stay for a later resume."""

    def __init__(self) -> None:
        super().__init__("interrupted")


#: ``errno`` values of a full disk, a quota or a file-size limit.
DISK_FULL = frozenset(getattr(errno, n) for n in ("ENOSPC", "EFBIG", "EDQUOT") if hasattr(errno, n))


class DiskFull(StopFile):
    """ENOSPC, EDQUOT or EFBIG while writing (or too little space before starting)."""

    def __init__(self, directory: str, needed: int | None, code: int = errno.ENOSPC) -> None:
        free = free_bytes(directory)
        need = f"{needed:,} more bytes" if needed is not None else "more space"
        have = f"{free:,} bytes are free" if free is not None else "the free space is unknown"
        what = f"no space left in {directory}"
        if code == errno.EFBIG:
            what = f"{directory} refuses a file this large (a file-size limit)"
        super().__init__(f"{what}: the download needs {need}, {have}")


class AllFailed(Exception):
    """Every URL failed: one line per URL, the last hash mismatch if there was one, the
    command that installs what each URL lacking a package needed (:class:`MissingPackage`);
    ``denied``: every URL's host refused access (credentials, not the network, are missing)."""

    def __init__(
        self,
        failures: list[str],
        mismatch: tuple[str, str] | None,
        installs: list[str] | None = None,
        denied: bool = False,
    ) -> None:
        super().__init__("\n".join(failures))
        self.failures = failures
        self.mismatch = mismatch  # (url, actual hash)
        self.installs = installs or []
        self.denied = denied


class NoRanges(Exception):
    """The server answered a Range request with the whole file: no segments there."""


class Changed(NoRanges):
    """The file changed on the server while its ranges came in (another validator or size):
    what was written is of another version, so the download starts again in one stream."""


def free_bytes(directory: str) -> int | None:
    """Free bytes in ``directory``'s file system, or None when unknown."""
    try:
        import shutil

        return shutil.disk_usage(directory).free
    except OSError:
        return None
