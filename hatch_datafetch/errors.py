"""Every error the tool raises, and the one function that renders any error for a user.

The library raises; it never prints. Front ends (``cli.main``, the Hatch hooks, the meson
``mode`` command) catch an exception and show ``render(exc)``:

* :class:`DatafetchError` carries a ``message`` and, apart from it, a ``hint`` (what to do),
  and where the problem is: ``source`` (a file), ``line``, ``key`` (a settings key or registry
  field). Several problems of one input travel together as ``problems`` and are rendered at
  once. Subclasses: :class:`SettingsError`, :class:`RegistryError`, :class:`BuildError`,
  :class:`UsageError`; ``exit_code`` is what a command line returns for it.
* the runtime's own errors (``DataNotFoundError``, ``HashMismatchError``, ``FetchErrors`` for
  several files at once) come from the stdlib-only locator module and are rendered here too.

This module imports nothing of hatchling, so every front end can use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from ._runtime.errors import FetchErrors

__all__ = [
    "BuildError",
    "DatafetchError",
    "RegistryError",
    "SettingsError",
    "UsageError",
    "did_you_mean",
    "render",
]


class DatafetchError(Exception):
    """An error with a message, a separate hint, and where it happened.

    ``str(error)`` is ``"SOURCE:LINE: KEY: message"`` (the parts that are known) followed by
    one ``"  - problem"`` line per grouped problem; the hint is only shown by :func:`render`.
    """

    exit_code = 2  # a command line's exit code: 2 = usage or configuration error

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
        problems: Sequence[DatafetchError] = (),
    ) -> None:
        self.message = message
        self.hint = hint
        self.source = source
        self.line = line
        self.key = key
        self.problems: tuple[DatafetchError, ...] = tuple(problems)
        super().__init__(message)

    @property
    def location(self) -> str:
        """``source:line``, ``source``, ``line N`` or ``""``."""
        if self.source is not None and self.line is not None:
            return f"{self.source}:{self.line}"
        if self.line is not None:
            return f"line {self.line}"
        return self.source or ""

    @property
    def errors(self) -> tuple[str, ...]:
        """One text per problem (the error itself when it stands alone)."""
        return tuple(str(p) for p in self.problems) if self.problems else (str(self),)

    def headline(self) -> str:
        return ": ".join(part for part in (self.location, self.key, self.message) if part)

    def __str__(self) -> str:
        return self.headline() + "".join(f"\n  - {p}" for p in self.problems)


class SettingsError(DatafetchError, ValueError):
    """Invalid settings: every problem of a settings table at once, each naming its key."""

    def __init__(
        self,
        problems: Sequence[DatafetchError] | str,
        source: str = "pyproject.toml",
        *,
        hint: str | None = None,
    ) -> None:
        if isinstance(problems, str):  # one problem that is about the file as a whole
            problems = [DatafetchError(problems)]
        super().__init__(
            f"invalid hatch-datafetch settings in {source}:",
            problems=problems,
            hint=hint,
        )
        self.source = source

    def headline(self) -> str:
        return self.message


class RegistryError(DatafetchError, ValueError):
    """A registry could not be read or is invalid (``source:line: message``).

    Several problems of one file are grouped: ``"SOURCE: N problems:"`` then one per line.
    """


class BuildError(DatafetchError):
    """A build cannot get or place its data files."""

    exit_code = 1


class UsageError(DatafetchError):
    """Bad command-line input or a command run in the wrong place."""


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest option (``data_wheel`` -> ``data-wheel``)."""
    options = list(options)
    kebab = word.replace("_", "-")
    if kebab != word and kebab in options:
        return f"; did you mean {kebab!r}?"
    close = difflib.get_close_matches(word, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _lines(exc: BaseException) -> list[str]:
    """The text of any error, hints included, as lines (the first one is the headline)."""
    if isinstance(exc, DatafetchError):
        lines = exc.headline().splitlines() or [""]
        for problem in exc.problems:
            sub = _lines(problem)
            lines.append(f"  - {sub[0]}")
            lines += [f"    {ln}" for ln in sub[1:]]
        if exc.hint:
            hint = exc.hint.splitlines()
            lines.append(f"hint: {hint[0]}")
            lines += [f"  {ln}" if not ln.startswith(" ") else ln for ln in hint[1:]]
        return lines
    if isinstance(exc, FetchErrors):
        return exc.summary()
    if isinstance(exc, OSError) and exc.strerror:
        return [f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror]
    return str(exc).rstrip().splitlines() or [type(exc).__name__]


def render(exc: BaseException, prefix: str = "ERROR") -> str:
    """Any error as the text a user sees: ``PREFIX headline``, indented details, ``hint:``.

    Command lines use the default ``ERROR``; the Hatch hooks ``hatch-datafetch:``; the meson
    ``mode`` command, whose output Meson shows after its own ``ERROR:``, the same.
    """
    lines = _lines(exc)
    out = [f"{prefix} {lines[0]}" if prefix else lines[0]]
    for line in lines[1:]:
        out.append(line if line.startswith((" ", "hint:", "First failure")) else f"  {line}")
    return "\n".join(out)
