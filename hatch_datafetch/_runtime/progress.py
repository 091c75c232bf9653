"""Progress on stderr while downloading: a tqdm bar when tqdm is importable, else a plain
line; only when stderr is a terminal (or when asked). :func:`human_size` is the one way sizes
are shown to people, here and by the tool's build logs."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``, ``0 files``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def human_size(nbytes: float) -> str:
    """``49 B``, ``9.9 kB``, ``170 kB``, ``2.3 MB``, ``4.3 GB``: decimal units, as pip shows
    them; one decimal below 10 of a unit, none above."""
    if nbytes < 1000:
        return f"{int(nbytes)} B"
    for unit in ("kB", "MB", "GB", "TB"):
        nbytes /= 1000
        text = f"{nbytes:.1f}" if nbytes < 9.95 else f"{nbytes:.0f}"
        if float(text) < 1000 or unit == "TB":
            break
    return f"{text} {unit}"


class Progress:
    """Byte/file progress on stderr: tqdm when importable, else a plain line; only on a tty."""

    def __init__(self, total_bytes: int | None, total_files: int, enabled: bool | None) -> None:
        import threading

        if enabled is None:
            enabled = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.enabled = enabled
        self.total_files = total_files
        self.files = 0
        self.nbytes = 0
        self.total = total_bytes
        self.lock = threading.Lock()
        self.bar: Any = None
        self.last = 0.0
        self.width = 0
        if enabled:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

                self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, file=sys.stderr)
            except ImportError:
                pass

    def add(self, n: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.nbytes += n
            if self.bar is not None:
                self.bar.update(n)
            else:
                self._line()

    def file_done(self) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.files += 1
            if self.bar is not None:
                self.bar.set_postfix_str(f"{self.files}/{self.total_files} files", refresh=False)
            else:
                self._line(force=self.files == self.total_files)

    def _line(self, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        total = f" of {human_size(self.total)}" if self.total else ""
        line = f"{self.files}/{self.total_files} files, {human_size(self.nbytes)}{total}"
        self.width = max(self.width, len(line))  # "10 MB" after "9.9 MB": blank the rest
        sys.stderr.write(f"\r{line:<{self.width}}")
        sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        elif self.files or self.nbytes:
            sys.stderr.write("\n")
