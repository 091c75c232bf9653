"""The runtime JSON (``<package>/<locator>_registry.json``): its declared shape and loader.

The tool writes it (:meth:`RuntimeConfig.to_json`) and every locator reads it
(:meth:`RuntimeConfig.from_json`) through this one declaration. Format 1; keys added later
keep the format (an older locator ignores them), an incompatible change raises it, and a
locator refuses a newer format with a message naming the tool that wrote the file.

Each file entry (``files``: NAME -> ``{hash, size, url, unpack, members, part}``) is checked
when it is first used (:class:`Entries`), so a tampered entry fails with a ValueError before
it becomes a path, and the other files still work.
"""

from __future__ import annotations

from .fs import canonical_hash, name_problem
from .layout import RUNTIME_FORMAT

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable, Mapping
    from typing import Any

#: The values of an on/off environment variable (case and surrounding space ignored; empty
#: or unset is off). Builds reject anything else; a locator warns once and reads it as unset.
SWITCH_ON = frozenset({"1", "true", "yes", "on"})
SWITCH_OFF = frozenset({"0", "false", "no", "off"})
_WARNED_SWITCH: set[tuple[str, str]] = set()


def env_switch(environ: Mapping[str, str], name: str) -> bool:
    """Is the on/off variable ``name`` on in ``environ``?"""
    raw = environ.get(name, "")
    value = raw.strip().lower()
    if value in SWITCH_ON:
        return True
    if value and value not in SWITCH_OFF and (name, raw) not in _WARNED_SWITCH:
        _WARNED_SWITCH.add((name, raw))
        from .errors import warn

        warn(f"ignoring {name}={raw!r}: expected 1/0, true/false, yes/no or on/off (read as unset)")
    return False


#: key -> (python type(s), default, what it is). ``None`` is always allowed and means the default.
SCHEMA: dict[str, tuple[Any, Any, str]] = {
    "format": (int, RUNTIME_FORMAT, "format number of this file"),
    "generator": (str, None, '"hatch-datafetch X.Y" that wrote it'),
    "files": (dict, None, "NAME -> {hash, size, url[, unpack, members, part]}"),
    "base_url": (str, None, "CDN base URL"),
    "mirrors": (list, (), "further base URLs, tried in order"),
    "version": (str, None, "the registry's version"),
    "project": (str, None, "the project's distribution name, as pip installs it"),
    "package": (str, None, "the dotted package holding the locator"),
    "locator": (str, "_datafetch", "the locator's module name inside the package"),
    "data_name": (str, "datafetch-data", "companion distribution name; the cache dir's name"),
    "data_version": (str, None, "companion data version"),
    "data_package": (str, None, "import package of the companion data wheel"),
    "data_parts": (list, None, "import packages of the data wheel parts"),
    "env_var": (str, None, "env var of data dirs"),
    "url_env_var": (str, None, "env var overriding the base URL"),
    "token_env_var": (str, None, "env var of a bearer token for the base URLs' hosts"),
    "system_dirs": (list, (), "read-only data dirs; {prefix} = sys.prefix"),
    "bundled": (bool, False, "files are inside the package (wheel bundle mode)"),
    "extra": (str, None, "the extra that installs the data wheels"),
    "max_size": (int, 20 * 10**9, "cap on a body whose entry has no size"),
    "registry_hash": (str, None, "sha256 of what data wheels ship (stale-data-wheel check)"),
}


class RuntimeConfig:
    """The runtime JSON, typed. Attributes are the keys of :data:`SCHEMA`."""

    format: int
    generator: str | None
    files: dict[str, dict[str, Any]]
    base_url: str | None
    mirrors: list[str]
    version: str | None
    project: str | None
    package: str | None
    locator: str
    data_name: str
    data_version: str | None
    data_package: str | None
    data_parts: list[str] | None
    env_var: str | None
    url_env_var: str | None
    token_env_var: str | None
    system_dirs: list[str]
    bundled: bool
    extra: str | None
    max_size: int
    registry_hash: str | None

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(SCHEMA))
        if unknown:
            raise TypeError(f"unknown runtime JSON keys: {', '.join(unknown)}")
        for key, (_, default, _) in SCHEMA.items():
            value = values.get(key)
            if value is None:
                value = list(default) if isinstance(default, tuple) else default
            setattr(self, key, value)
        if self.files is None:
            self.files = {}

    @classmethod
    def from_json(cls, data: Any, source: str = "the runtime JSON") -> RuntimeConfig:
        """Check the format and the type of every known key (unknown keys are a newer
        tool's additions, ignored); a ValueError names the key."""
        if isinstance(data, RuntimeConfig):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"{source} is not a JSON object")
        fmt = data.get("format", RUNTIME_FORMAT)
        if fmt != RUNTIME_FORMAT:
            by = data.get("generator") or "another version of hatch-datafetch"
            newer = type(fmt) is int and fmt > RUNTIME_FORMAT
            raise ValueError(
                f"unsupported registry format {fmt!r} (this locator reads {RUNTIME_FORMAT}): "
                f"{source} was written by {by}"
                + (", which is newer: rebuild the package with this locator's tool version, or "
                   "use the locator that came with it" if newer else "")
            )  # fmt: skip
        if "files" not in data:
            raise ValueError(f"{source} has no 'files' table")
        values = {}
        for key, (kind, _, what) in SCHEMA.items():
            value = data.get(key)
            if value is None:
                continue
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
            if ok and kind is list:
                ok = all(isinstance(x, str) for x in value)
            if not ok:
                raise ValueError(
                    f"{source} is invalid: {key!r} must be a {kind.__name__} ({what}), "
                    f"got {value!r}"
                )
            values[key] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """Every key, in :data:`SCHEMA` order (render it with sorted keys)."""
        return {key: getattr(self, key) for key in SCHEMA}


def install_name(config: RuntimeConfig) -> str:
    """What ``pip install`` takes for this package: the project's name, else (a runtime JSON
    of an older tool) the top-level import package."""
    return config.project or (config.package or "").split(".")[0]


def load_installed(modname: str, here: str) -> RuntimeConfig:
    """The runtime JSON of the locator package ``modname`` (``pkg._datafetch``) whose
    ``__init__.py`` is at ``here``: ``pkg/_datafetch_registry.json``, beside the package."""
    import json
    import os

    package, _, base = modname.rpartition(".")
    fname = f"{base}_registry.json"
    try:  # beside the package: wheels, and the editable finder of the Hatch hook
        with open(os.path.join(os.path.dirname(os.path.dirname(here)), fname), "rb") as f:
            data = f.read()
    except OSError:  # zip imports, meson-python editable installs
        try:
            data = package_files(package).joinpath(fname).read_bytes()
        except (OSError, ImportError, ValueError):
            raise RuntimeError(
                f"{modname} has no {fname} beside it; it is generated by hatch-datafetch "
                "at build time (use hatch_datafetch._runtime.Locator(config) directly)"
            ) from None
    return RuntimeConfig.from_json(json.loads(data), f"{package}/{fname}")


def package_files(package: str) -> Any:
    """``importlib.resources.files(package)``, also on Python 3.9, whose ``files()`` falls
    back to the directory of ``__init__.py`` without asking the loader's resource reader:
    meson-python's editable loader serves generated files (the bundle) through it only."""
    import importlib.resources
    import sys

    if sys.version_info < (3, 10):
        import importlib.util

        spec = importlib.util.find_spec(package)
        get_reader = getattr(spec.loader, "get_resource_reader", None) if spec else None
        reader = get_reader(package) if get_reader else None
        if reader is not None and hasattr(reader, "files"):
            return reader.files()
    return importlib.resources.files(package)


# --------------------------------------------------------------------------- entries


class Entries:
    """The registry's files, each validated on first use: NAMEs, hashes, archive members.

    ``checked``: NAME (or ``ARCHIVE/member``) -> validated ``alg:hex``; ``members``: archive
    NAME -> its listed members (None: the registry omits them); ``member_of``:
    ``ARCHIVE/member`` -> (ARCHIVE, member); ``listed``: archive NAME -> the members it
    unpacked to, for archives whose members the registry omits (filled by the archive layer).
    """

    def __init__(self, files: Mapping[str, Mapping[str, Any]], data_name: str) -> None:
        self.files = files
        self.data_name = data_name
        self.checked: dict[str, str] = {}
        self.members: dict[str, dict[str, str] | None] = {}
        self.member_of: dict[str, tuple[str, str]] = {}
        self.listed: dict[str, dict[str, str]] = {}

    def require_known(self, name: str) -> str:
        """NAME itself, or UnknownFileError with the closest names; a ValueError when the
        registry JSON gives it an unsafe name or a malformed hash."""
        if name in self.checked or name in self.member_of:
            return name
        if name not in self.files:
            archive = self.archive_of(name)
            if archive is not None:
                return self._require_member(archive, name)
            raise self._unknown(name, list(self.files), name, "")
        problem = name_problem(name)
        if problem is not None:
            raise ValueError(f"the registry of {self.data_name} is invalid: {problem}")
        spec = self.files[name]
        value = spec.get("hash")
        try:
            expected = canonical_hash(value if isinstance(value, str) else "")
        except ValueError as e:
            message = f"the registry of {self.data_name} is invalid for {name!r}: {e}"
            raise ValueError(message) from None
        if spec.get("unpack") is not None or spec.get("members") is not None:
            self._check_unpack(name, spec)
        self.checked[name] = expected
        return name

    def _unknown(self, name: str, choices: list[str], shown: str, prefix: str) -> Exception:
        import difflib

        from .errors import UnknownFileError

        close = difflib.get_close_matches(shown, choices, n=3)
        hint = f" Did you mean {', '.join(repr(prefix + c) for c in close)}?" if close else ""
        if not prefix:
            return UnknownFileError(
                f"{name!r} is not in the {self.data_name} registry ({len(choices)} files).{hint}",
                name,
            )
        archive = prefix[:-1]
        return UnknownFileError(
            f"{name!r} is not in the {self.data_name} registry: the archive {archive!r} has "
            f"no member {shown!r} ({len(choices)} members).{hint}",
            name,
        )

    def knows(self, name: str) -> bool:
        """Is NAME a registry file or a member of an unpacked registry archive?"""
        from .errors import UnknownFileError

        try:
            self.require_known(name)
        except (UnknownFileError, ValueError):
            return False
        return True

    def expected(self, name: str) -> str:
        """NAME's hash from the registry, validated and in lower case."""
        self.require_known(name)
        found = self.checked.get(name)
        if found is None:  # a member of an archive whose members the registry omits
            archive, member = self.member_of[name]
            listed = self.listed.get(archive) or {}
            if member in listed:
                return listed[member]
            from .errors import UnknownFileError

            raise UnknownFileError(
                f"the registry lists no members of {archive!r}, so the hash of {member!r} is "
                f"known only once the archive is unpacked: fetch({archive!r}) first",
                name,
            )
        return found

    def size(self, name: str) -> int | None:
        """The registry's size of NAME (None for a member, or an entry without one)."""
        spec = self.files.get(name) or {}
        size = spec.get("size")
        return size if type(size) is int and size >= 0 else None

    def archive_of(self, name: str) -> str | None:
        """The unpacked registry archive whose member NAME would be (``ARCHIVE/member``)."""
        parts = name.split("/")
        for i in range(len(parts) - 1, 0, -1):
            spec = self.files.get("/".join(parts[:i]))
            if spec is not None and spec.get("unpack"):
                return "/".join(parts[:i])
        return None

    def _require_member(self, archive: str, name: str) -> str:
        self.require_known(archive)
        if name in self.member_of:  # every listed member was registered by _check_unpack
            return name
        member = name[len(archive) + 1 :]
        members = self.members[archive]
        if members is None:  # not listed: known once unpacked
            problem = name_problem(member)
            if problem is not None:
                from .errors import UnknownFileError

                raise UnknownFileError(f"{name!r} cannot be a member of {archive!r}: {problem}")
            self.member_of[name] = (archive, member)
            return name
        raise self._unknown(name, list(members), member, archive + "/")

    def _check_unpack(self, name: str, spec: Mapping[str, Any]) -> None:
        """Validate an archive entry's ``unpack`` and ``members`` (names and hashes become
        paths) and register each member as ``NAME/member``."""
        from .archives import single_member, tree_clash, unpack_kind_problem

        kind, members = spec.get("unpack"), spec.get("members")
        invalid = f"the registry of {self.data_name} is invalid for {name!r}"
        problem = unpack_kind_problem(kind)
        if problem is not None:
            raise ValueError(f"{invalid}: {problem}")
        try:
            stem = single_member(name, str(kind))
        except ValueError as e:
            raise ValueError(f"{invalid}: {e}") from None
        if members is None:
            self.members[name] = None
            return
        if not isinstance(members, dict) or not members:
            raise ValueError(f"{invalid}: 'members' must be a non-empty table of member hashes")
        checked: dict[str, str] = {}
        for member, value in members.items():
            problem = name_problem(member) if isinstance(member, str) else "not a string"
            if problem is not None:
                raise ValueError(f"{invalid}: member {member!r}: {problem}")
            try:
                checked[member] = canonical_hash(value if isinstance(value, str) else "")
            except ValueError as e:
                raise ValueError(f"{invalid}: member {member!r}: {e}") from None
        clash = tree_clash(checked)
        if clash is not None:
            raise ValueError(f"{invalid}: member {clash!r} is both a file and a directory")
        if stem is not None and list(checked) != [stem]:
            raise ValueError(f"{invalid}: a {kind} file has one member, {stem!r}")
        for member, digest in checked.items():
            self.checked[f"{name}/{member}"] = digest
            self.member_of[f"{name}/{member}"] = (name, member)
        self.members[name] = checked


# --------------------------------------------------------------------------- URLs


def candidate_urls(
    name: str,
    own_url: str | None,
    base_url: str | None,
    mirrors: Iterable[str],
    override: str | None = None,
    expected: str | None = None,
    every: bool = False,
) -> list[str]:
    """URLs to try for NAME, in order, without repeats: ``override`` + NAME (a corporate
    mirror laid out like the CDN), the file's own URL or else ``base_url`` + NAME, then
    each mirror + NAME. Names are percent-encoded (a space becomes ``%20``). An OCI
    registry (``oci://HOST/REPOSITORY``, :mod:`.oci`) holds the blob of the file's hash
    ``expected`` instead: ``oci://HOST/REPOSITORY@sha256:HEX``; one that cannot address it
    (the hash is not sha256) is left out, unless ``every`` (``where`` says why)."""

    def at(base: str, own: bool = False) -> str | None:
        if base.startswith("oci"):
            from .oci import file_url, is_oci, skip_reason

            if is_oci(base):
                url = file_url(base, (expected or "").lower())
                return url if every or skip_reason(url) is None else None
        return base if own else join_url(base, name)

    urls = [at(override)] if override else []
    if own_url:
        urls.append(at(own_url, own=True))
    elif base_url:
        urls.append(at(base_url))
    urls.extend(at(m) for m in mirrors)
    return list(dict.fromkeys(u for u in urls if u is not None))


def join_url(base: str, name: str) -> str:
    from urllib.parse import quote

    return base.rstrip("/") + "/" + quote(name)
