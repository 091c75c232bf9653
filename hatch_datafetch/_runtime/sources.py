"""The lookup chain: the places a file is looked for, in order, as a list of source objects.

A :class:`Source` yields ``(label, path)`` places where NAME may be, laid out by NAME, and
says why it has nothing to look at (:meth:`Source.skipped`, for ``where``). The locator
checks each place with :func:`.memo.check` and takes the first valid copy; after the
sources come the user cache and the network (:mod:`.locator`).

Order: :class:`SourceDirs` (a build's dirs), then for an installed package
:class:`PackageBundle`, :class:`DataWheels`, :class:`EnvDirs`, :class:`SystemDirs`.
"""

from __future__ import annotations

import os
import sys

from .errors import warn
from .fs import safe_join

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from .config import RuntimeConfig

_WARNED_STALE: set[str] = set()  # packages whose data wheels were reported out of date
#: The label of an out-of-date data wheel ends so: its bad copies are skipped quietly.
STALE = " (out of date)"


class Candidate:
    """One place `where` looked for a file: source label, location and outcome."""

    __slots__ = ("location", "source", "status")

    def __init__(self, source: str, location: str, status: str) -> None:
        self.source, self.location, self.status = source, location, status

    def __repr__(self) -> str:
        return f"Candidate({self.source!r}, {self.location!r}, {self.status!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and (
            (self.source, self.location, self.status)
            == (other.source, other.location, other.status)
        )

    __hash__ = None  # type: ignore[assignment]


class Source:
    """One step of the lookup chain."""

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        """``(label, path)`` where NAME may be (``every``: also places that do not exist,
        for ``where``)."""
        return iter(())

    def skipped(self, name: str) -> Candidate | None:
        """Why this source has nothing to look at for NAME, or None."""
        return None

    def idle(self) -> bool:
        """True when this source can hold no file at all (the lookup skips it)."""
        return False


class SourceDirs(Source):
    """Directories laid out by NAME that a build names (``HATCH_DATAFETCH_SOURCE``, an
    unpacked sdist's bundle)."""

    def __init__(self, dirs: Sequence[str]) -> None:
        self.dirs = list(dirs)

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        for d in self.dirs:
            yield "source dir", safe_join(d, name)

    def idle(self) -> bool:
        return not self.dirs


class PackageBundle(Source):
    """The files inside the package (wheel ``bundle`` mode), joined part by part through
    ``importlib.resources``, so that editable installs whose package root is not one
    directory (meson-python) still give a real path."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.package = config.package
        self.bundled = config.bundled

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        if not (self.bundled and self.package):
            return
        safe_join("", name)  # validate before joining
        from .config import package_files

        try:
            node: Any = package_files(self.package)
            for part in name.split("/"):
                node = node.joinpath(part)
        except (ImportError, TypeError, ValueError):
            return
        if isinstance(node, os.PathLike):
            yield "package bundle", os.fspath(node)

    def skipped(self, name: str) -> Candidate | None:
        return None if self.bundled else Candidate("package bundle", "", "not configured")

    def idle(self) -> bool:
        return not (self.bundled and self.package)


class DataWheels(Source):
    """The installed companion data wheels (each part an import package holding files by
    NAME). When the first of them is looked at, every installed part is checked against the
    registry the package was built with: parts built from another one give one warning, with
    the command, and their labels say ``(out of date)`` (a copy there that no longer matches
    is skipped without a warning of its own)."""

    def __init__(self, config: RuntimeConfig, files: Mapping[str, Mapping[str, Any]]) -> None:
        self.config, self.files = config, files
        self.roots: dict[str, str | None] | None = None
        self.stale: set[str] = set()

    def package_of(self, name: str) -> str | None:
        """The import package of the data wheel part that holds NAME."""
        parts = self.config.data_parts
        if not parts:
            return self.config.data_package
        i = (self.files.get(name) or {}).get("part")
        return parts[i] if type(i) is int and 0 <= i < len(parts) else None

    def idle(self) -> bool:
        return not (self.config.data_parts or self.config.data_package)

    def root(self, name: str) -> str | None:
        package = self.package_of(name)
        if not package:
            return None
        if self.roots is None:
            packages = self.config.data_parts or [self.config.data_package or ""]
            self.roots = {p: _package_dir(p) for p in packages if p}
            self._check_stale()
        return self.roots.get(package)

    def label(self, package: str | None) -> str:
        return f"companion data package {package}" + (STALE if package in self.stale else "")

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        root = self.root(name)
        if root:
            yield self.label(self.package_of(name)), safe_join(root, name)

    def skipped(self, name: str) -> Candidate | None:
        if self.root(name) is not None:
            return None
        extra, top = self.config.extra, str(self.config.package).split(".")[0]
        why = f"not installed (pip install '{top}[{extra}]')" if extra else "not installed"
        return Candidate(f"companion data package {self.package_of(name)}", "", why)

    def _check_stale(self) -> None:
        """Find the installed parts built from another registry (``pip install -U pkg``
        does not upgrade the packages of an extra) and warn once per process."""
        from .layout import manifest, read_json

        want, wanted = self.config.registry_hash, self.config.data_version
        found = []
        for package, root in sorted((self.roots or {}).items()):
            info = manifest(read_json(os.path.join(root, "_manifest.json"))) if root else None
            if info is not None and want and info.registry_hash != want:
                self.stale.add(package)  # (no readable manifest: files are checked one by one)
                found.append(f"{info.data_name} {info.data_version}")
        top = str(self.config.package or "").split(".")[0]
        if not found or top in _WARNED_STALE:
            return
        _WARNED_STALE.add(top)
        extra = self.config.extra or "data"
        several = len(found) > 1
        names = ", ".join(found[:-1]) + f" and {found[-1]}" if several else found[0]
        warn(
            f"{names} {'are' if several else 'is'} installed, but {top} was built for data "
            f"version {wanted} (another registry): run  pip install -U '{top}[{extra}]'  to "
            f"update {'them' if several else 'it'}. Until then {'their' if several else 'its'} "
            "files whose hashes still match are used; the others are looked for elsewhere."
        )


class EnvDirs(Source):
    """The directories in the data env var (``os.pathsep``-separated), read at each call."""

    def __init__(self, env_var: str | None, environ: Mapping[str, str]) -> None:
        self.env_var, self.environ = env_var, environ

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        if not self.env_var:
            return
        for d in self.environ.get(self.env_var, "").split(os.pathsep):
            if d:
                yield f"${self.env_var}", safe_join(d, name)

    def skipped(self, name: str) -> Candidate | None:
        if self.env_var and not self.environ.get(self.env_var):
            return Candidate(f"${self.env_var}", "", "not set")
        return None

    def idle(self) -> bool:
        return not self.env_var


class SystemDirs(Source):
    """``system-dirs`` (``{prefix}`` = ``sys.prefix``), then ``{sys.prefix}/share/<data-name>``;
    those that exist are found once per locator (no stat of a missing tree per file)."""

    def __init__(self, config: RuntimeConfig) -> None:
        prefix = sys.prefix
        self.dirs = [d.replace("{prefix}", prefix) for d in config.system_dirs]
        self.dirs.append(os.path.join(prefix, "share", config.data_name))
        self.existing: list[str] | None = None

    def places(self, name: str, every: bool = False) -> Iterator[tuple[str, str]]:
        for d in self.dirs if every else self._existing():
            yield "system dir", safe_join(d, name)

    def _existing(self) -> list[str]:
        if self.existing is None:
            self.existing = [d for d in self.dirs if os.path.isdir(d)]
        return self.existing

    def idle(self) -> bool:
        return not self._existing()


def _package_dir(package: str) -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(next(iter(spec.submodule_search_locations)))


def chain(
    config: RuntimeConfig,
    files: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    source_dirs: Sequence[str],
    installed: bool,
) -> list[Source]:
    """The local sources of a locator, in lookup order (``installed``: the run-time sources
    of an installed package, which a build has not)."""
    out: list[Source] = [SourceDirs(source_dirs)]
    if installed:
        out += [
            PackageBundle(config),
            DataWheels(config, files),
            EnvDirs(config.env_var, environ),
            SystemDirs(config),
        ]
    return out
