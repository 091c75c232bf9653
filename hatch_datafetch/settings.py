"""Project settings (SPEC §3) and the build-time environment.

Hatch projects configure ``[tool.hatch.build.hooks.datafetch]``; meson-python and other
backends, and the CLI, read ``[tool.datafetch]``.  Both hold the same keys, validated into one
frozen :class:`Settings`.  Every problem is collected and reported at once in a
:class:`SettingsError`.

Beyond the keys of SPEC §3, ``data-package`` names the import package of the companion data
wheel (default ``<top-level package>_data``).
"""

from __future__ import annotations

import json
import keyword
import os
import pathlib
import re
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .registry import _did_you_mean, check_url

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "HATCH_RESERVED_KEYS",
    "BuildEnvironment",
    "Settings",
    "SettingsError",
    "default_build_cache",
    "load_pyproject",
    "parse_settings",
]

HATCH_RESERVED_KEYS = frozenset(
    {
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
        "enable-by-default",
    }
)
KEYS = (
    "registry",
    "package",
    "locator",
    "base-url",
    "mirrors",
    "env-var",
    "url-env-var",
    "system-dirs",
    "wheel",
    "sdist",
    "data-wheel",
    "data-name",
    "data-version",
    "data-extra",
    "data-package",
    "extras",
    "jobs",
)
HATCH_TABLE = "tool.hatch.build.hooks.datafetch"
TOOL_TABLE = "tool.datafetch"
MODES = ("omit", "bundle")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIST_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
# PEP 440 public and local versions (packaging.version.VERSION_PATTERN without groups).
_VERSION = re.compile(
    r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?",
    re.IGNORECASE,
)


class SettingsError(ValueError):
    """Invalid settings; :attr:`errors` lists every problem, each naming its key."""

    def __init__(self, errors: Sequence[str], source: str = "pyproject.toml") -> None:
        self.errors = tuple(errors)
        self.source = source
        lines = "".join(f"\n  - {e}" for e in self.errors)
        super().__init__(f"invalid hatch-datafetch settings in {source}:{lines}")


@dataclass(frozen=True)
class Settings:
    """Validated settings with every default resolved (see SPEC §3)."""

    registry: str
    package: str
    locator: str = "_datafetch"
    base_url: str | None = None
    mirrors: tuple[str, ...] | None = None
    env_var: str = ""
    url_env_var: str = ""
    system_dirs: tuple[str, ...] = ()
    wheel: str = "omit"
    sdist: str = "omit"
    data_wheel: bool = False
    data_name: str = ""
    data_version: str | None = None
    data_extra: str = "data"
    data_package: str = ""
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    jobs: int = 8
    root: str = "."

    def __post_init__(self) -> None:
        object.__setattr__(self, "extras", types.MappingProxyType(dict(self.extras)))

    def registry_path(self) -> pathlib.Path:
        return pathlib.Path(self.root) / self.registry


def _show(value: Any) -> str:
    """*value* written the way TOML would show it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _env_bool(name: str, env: Mapping[str, str], errors: list[str]) -> bool | None:
    value = env.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE | _FALSE:
        return value in _TRUE
    errors.append(
        f"environment variable {name}: expected 1/0, true/false, yes/no or on/off, "
        f"got {_show(env[name])}"
    )
    return None


def _is_dotted_name(value: str) -> bool:
    parts = value.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _normalize_extra(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_settings(
    raw: Mapping[str, Any],
    *,
    root: str | os.PathLike[str],
    project_name: str,
    project_version: str | None,
    table: str = TOOL_TABLE,
    env: Mapping[str, str] | None = None,
    allow_hatch_reserved: bool = False,
    source: str | None = None,
    default_package: str | None = None,
) -> Settings:
    """Validate the settings table *raw* (keys as in SPEC §3) into :class:`Settings`.

    *table* is the dotted table name used in messages; *source* names the file for the
    error heading (default: the table).  ``HATCH_DATAFETCH_WHEEL``, ``HATCH_DATAFETCH_SDIST``
    and ``HATCH_DATAFETCH_DATA_WHEEL`` in *env* (default :data:`os.environ`) override the
    file's ``wheel``, ``sdist`` and ``data-wheel``.  Hatchling's reserved hook keys are
    ignored when *allow_hatch_reserved*, and an error otherwise.  ``package`` defaults to
    *default_package* (see :func:`infer_package`), else the project name as an import name.
    """
    env = os.environ if env is None else env
    errors: list[str] = []

    def error(key: str, message: str) -> None:
        errors.append(f"{table}.{key}: {message}")

    for key in raw:
        if key in KEYS or (allow_hatch_reserved and key in HATCH_RESERVED_KEYS):
            continue
        if key in HATCH_RESERVED_KEYS:
            error(key, f"is a hatchling build-hook option, only valid in [{HATCH_TABLE}]")
        else:
            error(key, f"unknown key{_did_you_mean(key, KEYS)}")

    def get(key: str, kind: type, what: str) -> Any:
        """raw[key] if it is of *kind* (never a bool unless asked), else None after an error."""
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        hint = ""
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            hint = f"; write {key} = {_show(str(value))} with quotes"
        if kind is int and isinstance(value, str) and value.strip().isdigit():
            hint = f"; write {key} = {value.strip()} without quotes"
        if kind is bool and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            word = "true" if value.strip().lower() in _TRUE else "false"
            hint = f"; write {key} = {word} without quotes"
        error(key, f"expected {what}, got {_show(value)}{hint}")
        return None

    def get_strings(key: str, what: str) -> tuple[str, ...] | None:
        value = get(key, list, f"a list of {what}")
        if value is None:
            return None
        if not all(isinstance(v, str) for v in value):
            error(key, f"expected a list of {what}, got {_show(value)}")
            return None
        return tuple(value)

    def get_url(key: str, value: str) -> None:
        try:
            check_url(value)
        except ValueError as exc:
            error(key, str(exc))

    # registry
    registry = get("registry", str, "a path string")
    if "registry" not in raw:
        error(
            "registry",
            "missing; set it to the registry file, relative to the project root, "
            'e.g. registry = "data/registry.txt"',
        )
    elif registry is not None and not registry.strip():
        error("registry", "must not be empty")
    elif registry is not None and (
        registry.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", registry)
    ):
        error("registry", f"must be relative to the project root, got {_show(registry)}")

    # package, locator, data-package
    package = get("package", str, "a dotted import name")
    if package is None:
        default = default_package or re.sub(r"[-_.]+", "_", project_name).lower()
        if "package" not in raw and not _is_dotted_name(default):
            error(
                "package",
                f"the default {_show(default)} derived from the project name "
                f"{_show(project_name)} is not an import name; set package explicitly",
            )
        package = default
    elif not _is_dotted_name(package):
        error("package", f'expected a dotted import name like "pkg.sub", got {_show(package)}')
    package_ok = _is_dotted_name(package)
    top = package.split(".")[0]

    locator = get("locator", str, "a module name")
    if locator is not None and not (locator.isidentifier() and not keyword.iskeyword(locator)):
        error("locator", f'expected a Python module name like "_datafetch", got {_show(locator)}')

    data_package = get("data-package", str, "a dotted import name")
    if data_package is not None and not _is_dotted_name(data_package):
        error("data-package", f"expected a dotted import name, got {_show(data_package)}")

    # URLs
    base_url = get("base-url", str, "a URL string")
    if base_url is not None:
        get_url("base-url", base_url)
    mirrors = get_strings("mirrors", "URL strings")
    for mirror in mirrors or ():
        get_url("mirrors", mirror)

    # environment variable names
    names = {}
    for key, suffix in (("env-var", "DIR"), ("url-env-var", "URL")):
        name = get(key, str, "an environment variable name")
        if name is None:
            name = f"{top.upper()}_DATA_{suffix}"
            if key not in raw and package_ok and not _ENV_NAME.fullmatch(name):
                error(key, f"the default {_show(name)} is not a valid name; set {key} explicitly")
        elif not _ENV_NAME.fullmatch(name):
            error(key, f"expected a name of letters, digits and _, got {_show(name)}")
        names[key] = name

    # system-dirs
    system_dirs = get_strings("system-dirs", "directory strings") or ()
    for d in system_dirs:
        try:
            d.format(prefix="")
            bad_placeholder = False
        except (KeyError, IndexError, ValueError):
            bad_placeholder = True
        if bad_placeholder:
            error("system-dirs", f"{_show(d)}: the only placeholder allowed is {{prefix}}")
        elif not (
            d.startswith("{prefix}")
            or pathlib.PurePosixPath(d).is_absolute()
            or pathlib.PureWindowsPath(d).is_absolute()
        ):
            error("system-dirs", f"{_show(d)} must be an absolute path or start with {{prefix}}")

    # modes, with environment overrides
    modes = {}
    for key, var in (("wheel", "HATCH_DATAFETCH_WHEEL"), ("sdist", "HATCH_DATAFETCH_SDIST")):
        mode = get(key, str, '"omit" or "bundle"')
        if mode is not None and mode not in MODES:
            error(key, f'expected "omit" or "bundle", got {_show(mode)}')
        override = env.get(var, "").strip().lower()
        if override and override not in MODES:
            errors.append(
                f'environment variable {var}: expected "omit" or "bundle", got {_show(env[var])}'
            )
        modes[key] = override if override in MODES else mode or "omit"
    data_wheel = get("data-wheel", bool, "true or false")
    override_bool = _env_bool("HATCH_DATAFETCH_DATA_WHEEL", env, errors)
    if override_bool is not None:
        data_wheel = override_bool

    # companion distribution
    data_name = get("data-name", str, "a distribution name")
    if data_name is None:
        data_name = f"{project_name}-data"
    elif not _DIST_NAME.fullmatch(data_name):
        error("data-name", f'expected a distribution name like "pkg-data", got {_show(data_name)}')
    data_version = get("data-version", str, "a version string")
    if data_version is None:
        data_version = project_version
    elif not _VERSION.fullmatch(data_version):
        error("data-version", f'expected a PEP 440 version like "1.0", got {_show(data_version)}')
    data_extra = get("data-extra", str, "an extra name")
    if data_extra is not None and not _DIST_NAME.fullmatch(data_extra):
        error("data-extra", f'expected an extra name like "data", got {_show(data_extra)}')
    data_extra = _normalize_extra(data_extra or "data")

    # extras
    extras: dict[str, tuple[str, ...]] = {}
    for extra, reqs in (get("extras", dict, "a table of lists of requirements") or {}).items():
        key = "extras." + (extra if re.fullmatch(r"[A-Za-z0-9_-]+", extra) else _show(extra))
        norm = _normalize_extra(extra)
        if not _DIST_NAME.fullmatch(extra):
            error(key, f"{_show(extra)} is not a valid extra name")
        elif norm == data_extra:
            error(
                key,
                f"the extra {_show(norm)} is the data extra, which hatch-datafetch adds itself; "
                "remove it or choose another data-extra",
            )
        elif norm in extras:
            error(key, f"clashes with another extra that normalises to {_show(norm)}")
        if not isinstance(reqs, list) or not all(isinstance(r, str) and r.strip() for r in reqs):
            error(key, f"expected a list of requirement strings, got {_show(reqs)}")
        else:
            extras.setdefault(norm, tuple(reqs))

    # jobs
    jobs = get("jobs", int, "an integer from 1 to 64")
    if jobs is not None and not 1 <= jobs <= 64:
        error("jobs", f"expected an integer from 1 to 64, got {jobs}")
        jobs = None

    if errors:
        raise SettingsError(errors, source if source is not None else f"[{table}]")
    return Settings(
        registry=registry,
        package=package,
        locator=locator or "_datafetch",
        base_url=base_url,
        mirrors=mirrors,
        env_var=names["env-var"],
        url_env_var=names["url-env-var"],
        system_dirs=system_dirs,
        wheel=modes["wheel"],
        sdist=modes["sdist"],
        data_wheel=bool(data_wheel),
        data_name=data_name,
        data_version=data_version,
        data_extra=data_extra,
        data_package=data_package or f"{top}_data",
        extras=extras,
        jobs=jobs or 8,
        root=os.path.abspath(os.fspath(root)),
    )


def _table(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def infer_package(pyproject: Mapping[str, Any]) -> str | None:
    """The import package of a Hatch wheel target with exactly one ``packages`` entry.

    ``packages = ["src/skimage"]`` -> ``"skimage"``: what users expect ``package`` to
    default to when the project name is not the import name.
    """
    packages = _table(pyproject, "tool.hatch.build.targets.wheel.packages")
    if isinstance(packages, list) and len(packages) == 1 and isinstance(packages[0], str):
        leaf = packages[0].rstrip("/").rsplit("/", 1)[-1]
        return leaf if _is_dotted_name(leaf) else None
    return None


def load_pyproject(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings and the project name/version from a ``pyproject.toml``.

    The settings come from ``[tool.datafetch]`` or ``[tool.hatch.build.hooks.datafetch]``
    (where hatchling's reserved hook keys are allowed).  Having both is an error unless they
    are identical.  The project root is the file's directory.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            data = tomllib.loads(f.read().decode("utf-8-sig"))
    except FileNotFoundError:
        raise SettingsError(
            [f"{source} not found; run from the project root or pass the path of pyproject.toml"],
            source,
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError([f"cannot read {source}: {exc}"], source) from None

    errors = []
    name = _table(data, "project.name")
    if not isinstance(name, str) or not name:
        errors.append(
            "project.name: missing; hatch-datafetch needs the [project] table with a name"
        )
    version = _table(data, "project.version")
    ours, hatch = _table(data, TOOL_TABLE), _table(data, HATCH_TABLE)
    if ours is None and hatch is None:
        errors.append(
            f"no [{TOOL_TABLE}] or [{HATCH_TABLE}] table found; add one (the latter for Hatch "
            'projects) with at least registry = "path/to/registry.txt"'
        )
    elif ours is not None and hatch is not None and ours != hatch:
        errors.append(
            f"both [{TOOL_TABLE}] and [{HATCH_TABLE}] are present and differ; keep one: "
            f"[{HATCH_TABLE}] for Hatch projects, [{TOOL_TABLE}] for other backends"
        )
    table = TOOL_TABLE if ours is not None else HATCH_TABLE
    raw = ours if ours is not None else hatch
    if raw is not None and not isinstance(raw, dict):
        errors.append(f"{table}: expected a table, got {_show(raw)}")
    if errors:
        raise SettingsError(errors, source)
    return parse_settings(
        raw,
        root=os.path.dirname(os.path.abspath(source)),
        project_name=name,
        project_version=version if isinstance(version, str) else None,
        table=table,
        env=env,
        allow_hatch_reserved=table == HATCH_TABLE,
        source=source,
        default_package=infer_package(data),
    )


@dataclass(frozen=True)
class BuildEnvironment:
    """Build-time switches from ``HATCH_DATAFETCH_OFFLINE``, ``_SOURCE`` and ``_CACHE``."""

    offline: bool = False
    sources: tuple[pathlib.Path, ...] = ()
    cache: pathlib.Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BuildEnvironment:
        env = os.environ if env is None else env
        errors: list[str] = []
        offline = _env_bool("HATCH_DATAFETCH_OFFLINE", env, errors)
        if errors:
            raise SettingsError(errors, "the environment")
        sources = env.get("HATCH_DATAFETCH_SOURCE", "").split(os.pathsep)
        cache = env.get("HATCH_DATAFETCH_CACHE", "")
        return cls(
            offline=bool(offline),
            sources=tuple(pathlib.Path(s) for s in sources if s),
            cache=pathlib.Path(cache) if cache else None,
        )


def default_build_cache(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """``HATCH_DATAFETCH_CACHE``, else ``<user cache dir>/hatch-datafetch/build``."""
    env = os.environ if env is None else env
    if env.get("HATCH_DATAFETCH_CACHE"):
        return pathlib.Path(env["HATCH_DATAFETCH_CACHE"])
    if sys.platform == "win32":
        local = env.get("LOCALAPPDATA")
        base = pathlib.Path(local) if local else pathlib.Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = pathlib.Path.home() / "Library" / "Caches"
    else:
        xdg = env.get("XDG_CACHE_HOME", "")
        base = pathlib.Path(xdg) if os.path.isabs(xdg) else pathlib.Path.home() / ".cache"
    return base / "hatch-datafetch" / "build"
