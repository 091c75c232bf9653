"""The locator: one registry's files found, verified, and downloaded into the cache.

:class:`Locator` is the public class: the single-file chain (:class:`~.chain.Chain`) with
archives served unpacked on top (:mod:`.unpacked`, imported only for an archive), many files
at once (``fetch_all``) and ``verify`` (:mod:`.batch`, imported at their first call), and
``where``.
"""

from __future__ import annotations

import os

from .chain import Chain

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any

    from .batch import VerifyReport
    from .memo import Candidate
    from .poochlike import PoochLike
    from .progress import Progress
    from .unpacked import Archives


class Locator(Chain):
    """Finds, downloads and verifies the files of one registry (see :class:`~.chain.Chain`
    for the settings); an entry with ``unpack`` is served as its verified member tree."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._archives: Archives | None = None

    @property
    def archives(self) -> Archives:
        """The archive layer (:mod:`.unpacked`), made on first use."""
        if self._archives is None:
            from .unpacked import Archives

            with self._lock:
                if self._archives is None:
                    self._archives = Archives(self)
        return self._archives

    # ------------------------------------------------------------------ public API

    @property
    def registry(self) -> dict[str, str]:
        """NAME -> ``alg:hex`` for every file in the registry."""
        return {name: self._expected(name) for name in self.files}

    def fetch(self, name: str) -> Path:
        """Return a local, hash-verified path for NAME, downloading it if needed."""
        quick = self._quick(name)
        if quick is not None:
            return quick
        try:
            return self._fetch(name, None)
        finally:
            self._memo.flush()

    def fetch_file(self, name: str) -> Path:
        """The registry file NAME as the one file its hash is of (an archive itself, never
        unpacked), from the local sources, the cache or the network: what ``hatch-datafetch
        push`` uploads."""
        self.require_known(name)
        if name not in self.files:
            raise ValueError(f"{name!r} is an archive member, not a registry file")
        from .getfile import fetch_file

        try:
            return fetch_file(self, name, None)
        finally:
            self._memo.flush()

    def fetch_all(
        self,
        dest: str | os.PathLike[str] | None = None,
        jobs: int | None = None,
        names: Iterable[str] | None = None,
    ) -> dict[str, Path]:
        """Fetch many files in parallel; with ``dest``, lay them out as ``dest/NAME``.

        Every file is attempted. One failure raises that file's error; several raise
        :class:`FetchErrors`, whose ``errors`` maps each failed NAME to its error.
        """
        from .batch import fetch_all

        return fetch_all(self, self._fetch, dest, jobs, names)

    def verify(self, dir: str | os.PathLike[str] | None = None, jobs: int = 8) -> VerifyReport:
        """Re-hash files and report which are ok, missing or bad.

        With ``dir``: the tree ``dir/NAME``. Without: the first local copy of each file
        along the lookup chain (nothing is downloaded). An unpacked archive is reported
        member by member (``NAME/member``) when a tree of it is found, else as NAME.
        """
        from .batch import verify

        # (not self.archives.verify_rows itself: that would make the archive layer, and
        # import it, for a registry without archives)
        def archive_rows(name: str, root: str | None) -> list[tuple[str, str, str | None, str]]:
            return self.archives.verify_rows(name, root)

        return verify(self, archive_rows, None if dir is None else os.fspath(dir), jobs)

    def where(self, name: str) -> list[Candidate]:
        """Every place NAME is looked for, in order, with what was found there."""
        self.require_known(name)
        archive, member = self.entries.member_of.get(name, (name, None))
        if not self.files[archive].get("unpack"):
            return super().where(name)
        out = self.archives.where(archive, member)
        found = any(c.status.startswith("ok") for c in out)
        return out + self._where_places(archive, [], found)  # then the archive's URLs

    def as_pooch(self) -> PoochLike:
        """An object with :class:`pooch.Pooch`'s interface over this registry and lookup
        chain (:mod:`.poochlike`): code written against ``pooch.create(...)`` runs on it."""
        from .poochlike import PoochLike

        return PoochLike(self)

    def members(self, name: str) -> dict[str, str] | None:
        """``member -> alg:hex`` of an unpacked registry archive NAME as the registry lists
        them; None for a plain file or an archive whose members the registry omits."""
        self.require_known(name)
        found = self.entries.members.get(name)
        return dict(found) if found is not None else None

    def member_paths(self, name: str) -> dict[str, Path]:
        """``member -> verified path`` of every member of the unpacked archive NAME
        (unpacked, and downloaded first, if needed)."""
        self.require_known(name)
        if not self.files[name].get("unpack"):
            raise ValueError(f"{name!r} is not an archive to unpack (no 'unpack' in the registry)")
        try:
            return self.archives.member_paths(name)
        finally:
            self._memo.flush()

    def _fetch(
        self, name: str, dest: str | None, progress: Progress | None = None, segments: int = 4
    ) -> Path:
        from pathlib import Path

        self.require_known(name)
        archive, member = self.entries.member_of.get(name, (name, None))
        spec = self.files[archive]
        keep = not self.unpack_unlisted and member is None and spec.get("members") is None
        if spec.get("unpack") and not keep:
            return Path(self.archives.fetch(archive, member, dest, progress, segments))
        from .getfile import fetch_file

        return fetch_file(self, name, dest, progress, segments)
