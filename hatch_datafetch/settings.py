"""Project settings (SPEC §3) and the build-time environment.

Hatch projects configure ``[tool.hatch.build.hooks.datafetch]``; meson-python and other
backends, and the CLI, read ``[tool.datafetch]``. Both hold the same keys, described once in
:data:`SCHEMA`: one :class:`Option` per key with its type, default, check and documentation.
That table drives validation, the "did you mean" hints, the docs' settings reference
(generated from it) and the environment overrides. Every problem is collected and reported at
once in a :class:`~hatch_datafetch.errors.SettingsError`, each naming its key and, when read
from a file, ``pyproject.toml:LINE``.

Beyond the keys of SPEC §3, ``data-package`` names the import package of the companion data
wheel (default ``<top-level package>_data``).
"""

from __future__ import annotations

import json
import keyword
import os
import pathlib
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._runtime.config import SWITCH_OFF, SWITCH_ON
from ._runtime.layout import cache_base
from ._toml import table_at, toml_line, tomllib
from .errors import DatafetchError, SettingsError, did_you_mean
from .registry import check_url

__all__ = [
    "HATCH_RESERVED_KEYS",
    "HATCH_TABLE",
    "KEYS",
    "MODES",
    "SCHEMA",
    "TOOL_TABLE",
    "BuildEnvironment",
    "Option",
    "Settings",
    "default_build_cache",
    "infer_package",
    "is_dotted_name",
    "is_module_name",
    "load_pyproject",
    "parse_settings",
    "parse_size",
]

HATCH_TABLE = "tool.hatch.build.hooks.datafetch"
TOOL_TABLE = "tool.datafetch"
HATCH_RESERVED_KEYS = frozenset(
    {
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
        "enable-by-default",
    }
)
MODES = ("omit", "bundle")

_TRUE = SWITCH_ON  # one reading of on/off values for builds and locators
_FALSE = SWITCH_OFF
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Settings:
    """Validated settings with every default resolved (see :data:`SCHEMA`)."""

    registry: str
    package: str
    locator: str
    base_url: str | None
    mirrors: tuple[str, ...] | None
    env_var: str
    url_env_var: str
    token_env_var: str
    system_dirs: tuple[str, ...]
    wheel: str
    sdist: str
    data_wheel: bool
    data_name: str
    data_version: str | None
    data_extra: str
    data_package: str
    groups: Mapping[str, tuple[str, ...]] = field(hash=False)
    extras: Mapping[str, tuple[str, ...]] = field(hash=False)
    jobs: int
    max_size: int
    data_wheel_max_size: int
    backend: str | None
    backend_path: tuple[str, ...]
    root: str
    project: str  # the project's name as written in [project] (for messages and texts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extras", types.MappingProxyType(dict(self.extras)))
        object.__setattr__(self, "groups", types.MappingProxyType(dict(self.groups)))

    def registry_path(self) -> pathlib.Path:
        return pathlib.Path(self.root) / self.registry


# --------------------------------------------------------------------------- checks


def is_dotted_name(value: str) -> bool:
    """``pkg.sub``: identifiers that are not keywords, joined by dots."""
    return bool(value) and all(
        p.isidentifier() and not keyword.iskeyword(p) for p in value.split(".")
    )


#: PEP 508's name (the packaging specifications' "Names" section), without importing
#: :mod:`packaging.requirements` (20 ms) into every build and command that reads settings.
_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)


def _is_name(value: str) -> bool:
    """A PEP 508 project or extra name."""
    return _NAME.fullmatch(value) is not None


def normalize_extra(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


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


class _Context:
    """What checks and defaults see: the project, the values resolved so far (by key, in
    :data:`SCHEMA` order) and ``report(message, key=None)`` to record a problem."""

    def __init__(
        self,
        project_name: str,
        project_version: str | None,
        default_package: str | None,
        report: Callable[[str, str], None],
    ) -> None:
        self.project_name = project_name
        self.project_version = project_version
        self.default_package = default_package
        self.values: dict[str, Any] = {}
        self.given: set[str] = set()
        self._report = report
        self.key = ""

    def report(self, message: str, key: str | None = None) -> None:
        self._report(key or self.key, message)

    @property
    def top(self) -> str:
        return str(self.values.get("package") or "").split(".")[0]


Check = Callable[[Any, _Context], Any]


def _must(
    ok: Callable[[Any], object], what: str, then: Callable[[Any], Any] | None = None
) -> Check:
    """A check: the value (passed through ``then``) when ``ok(value)``, else a problem
    ``expected WHAT, got VALUE``."""

    def check(value: Any, ctx: _Context) -> Any:
        if ok(value):
            return then(value) if then else value
        ctx.report(f"expected {what}, got {_show(value)}")
        return None

    return check


def is_module_name(value: str) -> bool:
    """A module name: one identifier that is not a keyword."""
    return is_dotted_name(value) and "." not in value


def _is_version(value: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40})


def parse_size(value: str) -> int | None:
    """Bytes in ``"20 GB"``, ``"512 MiB"``, ``"100MB"`` or ``"12345"``; None if unreadable."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
    if m is None or m[2].lower() not in _UNITS:
        return None
    return int(float(m[1]) * _UNITS[m[2].lower()])


def _size(value: str, ctx: _Context) -> int | None:
    size = parse_size(value)
    if size is None or size < 1:
        ctx.report(f'expected a size like "20 GB" or "512 MiB", got {_show(value)}')
        return None
    return size


def _registry(value: str, ctx: _Context) -> str | None:
    if not value.strip():
        ctx.report("must not be empty")
        return None
    if value.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", value):
        ctx.report(f"must be relative to the project root, got {_show(value)}")
        return None
    return value


def _urls(value: str | list[str], ctx: _Context) -> Any:
    """A URL, or a list of URLs (as a tuple); every bad one is a problem."""
    bad = []
    for url in [value] if isinstance(value, str) else value:
        try:
            check_url(url)
        except ValueError as exc:
            ctx.report(str(exc))
            bad.append(url)
    if bad:
        return None
    return value if isinstance(value, str) else tuple(value)


def _system_dirs(value: list[str], ctx: _Context) -> tuple[str, ...] | None:
    ok = True
    for d in value:
        try:
            d.format(prefix="")
        except (KeyError, IndexError, ValueError):
            ctx.report(f"{_show(d)}: the only placeholder allowed is {{prefix}}")
            ok = False
            continue
        if not (
            d.startswith("{prefix}")
            or pathlib.PurePosixPath(d).is_absolute()
            or pathlib.PureWindowsPath(d).is_absolute()
        ):
            ctx.report(f"{_show(d)} must be an absolute path or start with {{prefix}}")
            ok = False
    return tuple(value) if ok else None


def _groups(value: dict[str, Any], ctx: _Context) -> dict[str, tuple[str, ...]] | None:
    """Named subsets of NAMEs, each a data wheel and an extra ``<data-extra>-<group>``."""
    groups: dict[str, tuple[str, ...]] = {}
    ok = True
    for group, patterns in value.items():
        key = "groups." + (group if re.fullmatch(r"[A-Za-z0-9_-]+", group) else _show(group))
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", group):
            ctx.report(
                f"{_show(group)} is not a group name: use lower-case letters, digits and single "
                'dashes (it becomes the extra "data-<group>" and part of a distribution name)',
                key,
            )
            ok = False
        elif (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            ctx.report(
                f'expected a list of glob patterns over NAMEs like ["images/*"], got '
                f"{_show(patterns)}",
                key,
            )
            ok = False
        else:
            groups[group] = tuple(patterns)
    return groups if ok else None


def _extras(value: dict[str, Any], ctx: _Context) -> dict[str, tuple[str, ...]]:
    extras: dict[str, tuple[str, ...]] = {}
    data_extra = ctx.values.get("data-extra") or "data"
    group_extras = {f"{data_extra}-{g}" for g in ctx.values.get("groups") or ()}
    for extra, reqs in value.items():
        key = "extras." + (extra if re.fullmatch(r"[A-Za-z0-9_-]+", extra) else _show(extra))
        norm = normalize_extra(extra)
        if not _is_name(extra):
            ctx.report(f"{_show(extra)} is not a valid extra name", key)
        elif norm == data_extra:
            ctx.report(
                f"the extra {_show(norm)} is the data extra, which hatch-datafetch adds itself; "
                "remove it or choose another data-extra",
                key,
            )
        elif norm in group_extras:
            ctx.report(
                f"the extra {_show(norm)} is a data extra of a group, which hatch-datafetch "
                "adds itself; remove it or rename the group",
                key,
            )
        elif norm in extras:
            ctx.report(f"clashes with another extra that normalises to {_show(norm)}", key)
        if not isinstance(reqs, list) or not all(isinstance(r, str) and r.strip() for r in reqs):
            ctx.report(f"expected a list of requirement strings, got {_show(reqs)}", key)
        else:
            extras.setdefault(norm, tuple(reqs))
    return extras


_OBJECT_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?")


def _backend(value: str, ctx: _Context) -> str | None:
    """A PEP 517 object reference, ``module.path`` or ``module.path:object``."""
    if not _OBJECT_REF.fullmatch(value.strip()):
        ctx.report(
            f'expected a build backend like "setuptools.build_meta" (module, or module:object), '
            f"got {_show(value)}"
        )
        return None
    return value.strip()


def _backend_path(value: list[str], ctx: _Context) -> tuple[str, ...] | None:
    """PEP 517's ``backend-path``: directories inside the project, relative to its root."""
    ok = True
    for d in value:
        posix = pathlib.PurePosixPath(d.replace("\\", "/"))
        if (
            not d.strip()
            or posix.is_absolute()
            or pathlib.PureWindowsPath(d).is_absolute()
            or ".." in posix.parts
        ):
            ctx.report(f"{_show(d)} must be a directory inside the project, relative to its root")
            ok = False
    return tuple(value) if ok else None


# --------------------------------------------------------------------------- defaults


def _default_package(ctx: _Context) -> str:
    default = ctx.default_package or re.sub(r"[-_.]+", "_", ctx.project_name).lower()
    if not is_dotted_name(default):
        ctx.report(
            f"the default {_show(default)} derived from the project name "
            f"{_show(ctx.project_name)} is not an import name; set package explicitly"
        )
    return default


def _default_env_name(suffix: str) -> Callable[[_Context], str]:
    def default(ctx: _Context) -> str:
        name = f"{ctx.top.upper()}_DATA_{suffix}"
        if is_dotted_name(ctx.values["package"]) and not _ENV_NAME.fullmatch(name):
            ctx.report(f"the default {_show(name)} is not a valid name; set {ctx.key} explicitly")
        return name

    return default


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Option:
    """One settings key: its TOML type, what a value looks like, its default and checks.

    ``default`` is the value when the key is absent (a callable gets the context: values of
    earlier keys, the project name and version); ``default_doc`` and ``doc`` are the
    settings reference's columns; ``env`` names the build-time variable that overrides the key.
    """

    key: str
    type: type
    what: str
    default_doc: str
    doc: str
    check: Check | None = None
    default: Any = None
    env: str | None = None

    @property
    def attr(self) -> str:
        return self.key.replace("-", "_")


SCHEMA: tuple[Option, ...] = (
    Option(
        "registry", str, "a path string", "required",
        "the manifest, relative to the project root",
        _registry,
    ),
    Option(
        "package", str, "a dotted import name",
        "the single entry of the wheel target's `packages`, else the project name as an "
        "import name",
        "dotted package that receives the locator",
        _must(is_dotted_name, 'a dotted import name like "pkg.sub"'), _default_package,
    ),
    Option(
        "locator", str, "a module name", "`_datafetch`",
        "module name of the locator inside `package`",
        _must(is_module_name, 'a Python module name like "_datafetch"'), "_datafetch",
    ),
    Option("base-url", str, "a URL string", "from the registry", "CDN base URL", _urls),
    Option(
        "mirrors", list, "a list of URL strings", "from the registry",
        "mirror base URLs, tried in order after the base URL",
        _urls,
    ),
    Option(
        "env-var", str, "an environment variable name", "`<PACKAGE>_DATA_DIR`",
        "run-time env var: one or more dirs (`os.pathsep`) laid out by NAME",
        _must(_ENV_NAME.fullmatch, "a name of letters, digits and _"), _default_env_name("DIR"),
    ),
    Option(
        "url-env-var", str, "an environment variable name", "`<PACKAGE>_DATA_URL`",
        "run-time env var: a base URL tried first (corporate mirror, `file://` dir)",
        _must(_ENV_NAME.fullmatch, "a name of letters, digits and _"), _default_env_name("URL"),
    ),
    Option(
        "token-env-var", str, "an environment variable name", "`<PACKAGE>_DATA_TOKEN`",
        "run-time env var: a bearer token sent only to the base URL's and mirrors' hosts "
        "(private data)",
        _must(_ENV_NAME.fullmatch, "a name of letters, digits and _"),
        _default_env_name("TOKEN"),
    ),
    Option(
        "system-dirs", list, "a list of directory strings", "`[]`",
        "absolute read-only dirs baked into the locator; `{prefix}` = `sys.prefix` at run time",
        _system_dirs, (),
    ),
    Option(
        "wheel", str, '"omit" or "bundle"', "`omit`",
        "`omit` or `bundle` (files inside the main wheel, under the package)",
        _must(MODES.__contains__, '"omit" or "bundle"'), "omit", env="HATCH_DATAFETCH_WHEEL",
    ),
    Option(
        "sdist", str, '"omit" or "bundle"', "`omit`",
        "`omit` or `bundle` (files under `_datafetch_bundle/` in the sdist)",
        _must(MODES.__contains__, '"omit" or "bundle"'), "omit", env="HATCH_DATAFETCH_SDIST",
    ),
    Option(
        "data-wheel", bool, "true or false", "`false`", "build the companion data wheel",
        None, False, env="HATCH_DATAFETCH_DATA_WHEEL",
    ),
    Option(
        "data-name", str, "a distribution name", "`<project>-data`",
        "companion distribution name",
        _must(_is_name, 'a distribution name like "pkg-data"'),
        lambda ctx: f"{ctx.project_name}-data",
    ),
    Option(
        "data-version", str, "a version string", "project version",
        "companion version (version data apart from code)",
        _must(_is_version, 'a PEP 440 version like "1.0"'),
        lambda ctx: ctx.project_version,
    ),
    Option(
        "data-extra", str, "an extra name", "`data`",
        'the extra that pins the companion: `data = ["<data-name>==<data-version>"]`',
        _must(_is_name, 'an extra name like "data"', normalize_extra), "data",
    ),
    Option(
        "data-package", str, "a dotted import name", "`<top-level package>_data`",
        "import package inside the companion wheel",
        _must(is_dotted_name, "a dotted import name"), lambda ctx: f"{ctx.top}_data",
    ),
    Option(
        "groups", dict, "a table of lists of glob patterns", "`{}`",
        "named subsets of NAMEs (`images = [\"images/*\"]`, `**` for any depth): each its own "
        "data wheel `<data-name>-<group>` and extra `<data-extra>-<group>`",
        _groups, {},
    ),
    Option(
        "extras", dict, "a table of lists of requirements", "`{}`",
        "the project's other extras (the metadata hook owns `optional-dependencies`)",
        _extras, {},
    ),
    Option(
        "jobs", int, "an integer from 1 to 64", "`8`", "parallel downloads (1 to 64)",
        _must(lambda n: 1 <= n <= 64, "an integer from 1 to 64"), 8,
    ),
    Option(
        "max-size", str, "a size", '`"20 GB"`',
        "run-time cap on a download whose registry entry has no `size`",
        _size, 20 * 10**9,
    ),
    Option(
        "data-wheel-max-size", str, "a size", '`"100 MB"`',
        "no data wheel is larger (PyPI's default limit); a larger part is split into "
        "`<name>-1`, `<name>-2`, ...",
        _size, 100 * 10**6,
    ),
    Option(
        "backend", str, "a build backend", "none",
        'the build backend that `build-backend = "hatch_datafetch.build"` wraps, e.g. '
        '`"setuptools.build_meta"` (other backends only)',
        _backend,
    ),
    Option(
        "backend-path", list, "a list of directory strings", "`[]`",
        "directories, relative to the project root, put first on `sys.path` to import an "
        "in-tree `backend` (PEP 517's `backend-path`)",
        _backend_path, (),
    ),
)  # fmt: skip
KEYS = tuple(option.key for option in SCHEMA)


# --------------------------------------------------------------------------- parsing


def _typed(option: Option, value: Any, ctx: _Context) -> Any:
    """*value* if it has the option's TOML type (never a bool unless asked), else None after
    reporting what was expected, with a hint for quoted numbers and booleans."""
    kind, key = option.type, option.key
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if ok and kind is list and not all(isinstance(v, str) for v in value):
        ok = False
    if ok:
        return value
    hint = ""
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        hint = f"; write {key} = {_show(str(value))} with quotes"
    if kind is int and isinstance(value, str) and value.strip().isdigit():
        hint = f"; write {key} = {value.strip()} without quotes"
    if kind is bool and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        word = "true" if value.strip().lower() in _TRUE else "false"
        hint = f"; write {key} = {word} without quotes"
    ctx.report(f"expected {option.what}, got {_show(value)}{hint}")
    return None


def env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], list[DatafetchError]]:
    """The build-time variables that override keys (``HATCH_DATAFETCH_WHEEL``, ``_SDIST``,
    ``_DATA_WHEEL``): ``{key: value}`` for those set, and a problem for each bad value."""
    values: dict[str, Any] = {}
    problems: list[DatafetchError] = []
    for option in SCHEMA:
        if option.env is None:
            continue
        if option.type is bool:
            value: Any = _env_bool(option.env, env, problems)
        else:
            value = env.get(option.env, "").strip().lower() or None
            if value is not None and value not in MODES:
                problems.append(
                    DatafetchError(
                        f'expected "omit" or "bundle", got {_show(env[option.env])}',
                        key=f"environment variable {option.env}",
                    )
                )
                value = None
        if value is not None:
            values[option.key] = value
    return values, problems


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
    locate: Callable[[str], int | None] | None = None,
) -> Settings:
    """Validate the settings table *raw* (keys of :data:`SCHEMA`) into :class:`Settings`.

    *table* is the dotted table name used in messages; *source* names the file, and
    ``locate(key)`` gives the line of a key in it, so that a problem reads
    ``pyproject.toml:LINE: table.key: message``. The build-time variables of
    :func:`env_overrides` in *env* (default :data:`os.environ`) override keys. Hatchling's
    reserved hook keys are ignored when *allow_hatch_reserved*, an error otherwise.
    ``package`` defaults to *default_package* (see :func:`infer_package`), else the project
    name as an import name.
    """
    problems: list[DatafetchError] = []

    def report(key: str, message: str) -> None:
        line = locate(key.split(".")[0]) if locate else None
        where = os.path.basename(source) if source and line is not None else None
        problems.append(DatafetchError(message, key=f"{table}.{key}", source=where, line=line))

    ctx = _Context(project_name, project_version, default_package, report)
    for key in raw:
        if key in KEYS or (allow_hatch_reserved and key in HATCH_RESERVED_KEYS):
            continue
        if key in HATCH_RESERVED_KEYS:
            report(key, f"is a hatchling build-hook option, only valid in [{HATCH_TABLE}]")
        else:
            report(key, f"unknown key{did_you_mean(key, KEYS)}")
    overrides, env_problems = env_overrides(os.environ if env is None else env)
    for option in SCHEMA:
        ctx.key = option.key
        value = None
        if option.key in raw:
            value = _typed(option, raw[option.key], ctx)
            if value is not None and option.check is not None:
                value = option.check(value, ctx)
        value = overrides.get(option.key, value)
        if value is None and option.key not in raw:
            value = option.default(ctx) if callable(option.default) else option.default
        ctx.values[option.key] = value
    if "registry" not in raw:
        ctx.key = "registry"
        ctx.report(
            "missing; set it to the registry file, relative to the project root, "
            'e.g. registry = "data/registry.txt"'
        )
    if problems or env_problems:
        # in the order of the lines they name (problems with no line keep their order, after
        # them), then the environment's; headed by where they come from
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        where = [source if source is not None else f"[{table}]"] if problems else []
        where += ["the environment"] if env_problems else []
        raise SettingsError(problems + env_problems, " and ".join(where))
    values = {option.attr: ctx.values[option.key] for option in SCHEMA}
    return Settings(**values, root=os.path.abspath(os.fspath(root)), project=project_name)


def infer_package(pyproject: Mapping[str, Any]) -> str | None:
    """The import package of a Hatch wheel target with exactly one ``packages`` entry.

    ``packages = ["src/skimage"]`` -> ``"skimage"``: what users expect ``package`` to
    default to when the project name is not the import name.
    """
    packages = table_at(pyproject, "tool.hatch.build.targets.wheel.packages")
    if isinstance(packages, list) and len(packages) == 1 and isinstance(packages[0], str):
        leaf = packages[0].rstrip("/").rsplit("/", 1)[-1]
        return leaf if is_dotted_name(leaf) else None
    return None


def read_pyproject(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """The parsed ``pyproject.toml`` and its lines (for error line numbers)."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            text = f.read().decode("utf-8-sig")
        return tomllib.loads(text), text.splitlines()
    except FileNotFoundError:
        raise SettingsError(
            f"{source} not found; run from the project root or pass the path of pyproject.toml",
            source,
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {source}: {exc}", source) from None


def locator_in(lines: Sequence[str], *tables: str) -> Callable[[str], int | None]:
    """``locate(key)`` for :func:`parse_settings`: the key's line in the first of *tables*
    that has it (a per-target table before the global one)."""

    def locate(key: str) -> int | None:
        for table in tables:
            line = toml_line(lines, key, table)
            if line is not None:
                return line
        return None

    return locate


def load_pyproject(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings and the project name/version from a ``pyproject.toml``.

    The settings come from ``[tool.datafetch]`` or ``[tool.hatch.build.hooks.datafetch]``
    (where hatchling's reserved hook keys are allowed).  Having both is an error unless they
    are identical.  The project root is the file's directory.
    """
    source = os.fspath(path)
    data, lines = read_pyproject(source)
    problems = []
    name = table_at(data, "project.name")
    if not isinstance(name, str) or not name:
        problems.append(
            DatafetchError(
                "missing; hatch-datafetch needs the [project] table with a name",
                key="project.name",
            )
        )
    version = table_at(data, "project.version")
    ours, hatch = table_at(data, TOOL_TABLE), table_at(data, HATCH_TABLE)
    if ours is not None and isinstance(hatch, dict) and not set(hatch) - HATCH_RESERVED_KEYS:
        hatch = None  # an empty hook table enables the Hatch hook with [tool.datafetch]
    if ours is None and hatch is None:
        problems.append(
            DatafetchError(
                f"no [{TOOL_TABLE}] or [{HATCH_TABLE}] table found; add one (the latter for "
                'Hatch projects) with at least registry = "path/to/registry.txt"'
            )
        )
    elif ours is not None and hatch is not None and ours != hatch:
        problems.append(
            DatafetchError(
                f"both [{TOOL_TABLE}] and [{HATCH_TABLE}] are present and differ; keep one: "
                f"[{HATCH_TABLE}] for Hatch projects, [{TOOL_TABLE}] for other backends"
            )
        )
    table = TOOL_TABLE if ours is not None else HATCH_TABLE
    raw = ours if ours is not None else hatch
    if raw is not None and not isinstance(raw, dict):
        problems.append(DatafetchError(f"expected a table, got {_show(raw)}", key=table))
    if problems:
        raise SettingsError(problems, source)
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
        locate=locator_in(lines, table),
    )


# --------------------------------------------------------------------------- environment


def _env_bool(name: str, env: Mapping[str, str], problems: list[DatafetchError]) -> bool | None:
    value = env.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE | _FALSE:
        return value in _TRUE
    problems.append(
        DatafetchError(
            f"expected 1/0, true/false, yes/no or on/off, got {_show(env[name])}",
            key=f"environment variable {name}",
        )
    )
    return None


@dataclass(frozen=True)
class BuildEnvironment:
    """Build-time switches from ``HATCH_DATAFETCH_OFFLINE``, ``_SOURCE`` and ``_CACHE``."""

    offline: bool = False
    sources: tuple[pathlib.Path, ...] = ()
    cache: pathlib.Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BuildEnvironment:
        env = os.environ if env is None else env
        problems: list[DatafetchError] = []
        offline = _env_bool("HATCH_DATAFETCH_OFFLINE", env, problems)
        if problems:
            raise SettingsError(problems, "the environment")
        sources = env.get("HATCH_DATAFETCH_SOURCE", "").split(os.pathsep)
        cache = env.get("HATCH_DATAFETCH_CACHE", "")
        return cls(
            offline=bool(offline),
            sources=tuple(pathlib.Path(s) for s in sources if s),
            cache=pathlib.Path(cache) if cache else None,
        )


def default_build_cache(env: Mapping[str, str] | None = None) -> pathlib.Path:
    """``HATCH_DATAFETCH_CACHE``, else ``<cache base>/hatch-datafetch/build``, the cache base
    being the runtime locator's: ``HATCH_DATAFETCH_CACHE_DIR``, else the user cache dir."""
    env = os.environ if env is None else env
    if env.get("HATCH_DATAFETCH_CACHE"):
        return pathlib.Path(env["HATCH_DATAFETCH_CACHE"])
    return pathlib.Path(cache_base(env), "hatch-datafetch", "build")
