"""``make-registry --from-pooch MODULE:ATTR``: a project's pooch object as a registry, and the
pyproject lines that reproduce what it does (SPEC §13).

:func:`load_pooch` imports MODULE (the current directory and its ``src/`` first on
``sys.path``) and takes ATTR: a ``pooch.Pooch`` (what ``pooch.create`` returns), or a
function without arguments that returns one. :func:`registry_of` reads its ``base_url``,
``registry`` (hashes as they are: bare hex is sha256), ``urls`` (per-file URLs, ``doi:`` ones
too) and the version that ``pooch.create`` appended to its path. pooch keeps no record of the
``env=`` variable nor of the version, so :func:`env_var_of` finds the first in the module's
source (the ``create(..., env="...")`` call), unless given, and :func:`version_given` tells
whether that call gives a version (the path's last folder is then the version: a folder
name that is merely in the URL is none). :func:`pyproject_lines` is what to paste: the
build hook's table (registry, package, env-var) and the one line of code that replaces
``pooch.create``.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RegistryError, UsageError, did_you_mean
from .registry import FileEntry, Registry, check_name, check_url, normalize_hash

__all__ = ["Migration", "load_pooch", "migrate", "pyproject_lines"]


@dataclass(frozen=True)
class Migration:
    """What ``--from-pooch`` found: the registry, where the pooch object lives (module,
    attribute, package), the env var and the notes worth printing."""

    registry: Registry
    module: str
    attr: str
    package: str
    env_var: str | None
    notes: tuple[str, ...]
    factory: bool = False  # ATTR is a function that returns the pooch object


def load_pooch(spec: str) -> tuple[Any, Any]:
    """``(pooch object, module)`` of ``MODULE:ATTR``, imported with the current directory
    (and its ``src/``) first on ``sys.path``; a UsageError says what is wrong."""
    import importlib

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(
            f"--from-pooch {spec!r}: expected MODULE:ATTR",
            hint="e.g. --from-pooch skimage.data._fetchers:_image_fetcher",
        )
    here = os.getcwd()
    for path in (os.path.join(here, "src"), here):  # the project, as `python -m` sees it
        if os.path.isdir(path) and path not in sys.path:
            sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # the project's own import may fail in any way
        raise UsageError(
            f"--from-pooch: cannot import {module_name}: {type(e).__name__}: {e}",
            hint="run it from the project's root (or install the project), with pooch and "
            "the project's dependencies importable",
        ) from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        names = [n for n in vars(module) if not n.startswith("__")]
        raise UsageError(
            f"--from-pooch: {module_name} has no attribute {attr!r}{did_you_mean(attr, names)}"
        ) from None
    if not hasattr(obj, "registry") and callable(obj):
        obj = obj()  # a function that makes the Pooch
    if not all(hasattr(obj, a) for a in ("registry", "base_url", "urls")):
        raise UsageError(
            f"--from-pooch: {spec} is a {type(obj).__name__}, not a pooch.Pooch "
            "(no registry, base_url and urls)",
            hint="name the object pooch.create(...) returned",
        )
    return obj, module


def _create_calls(module: Any) -> list[tuple[str | None, ast.Call]]:
    """The ``create(...)`` calls of ``module``'s source, each with the name it makes: the
    variable it is assigned to, or the function it is in (None: neither, or no source)."""
    try:
        source = Path(module.__file__).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, TypeError, ValueError, SyntaxError):
        return []
    found: list[tuple[str | None, ast.Call]] = []
    for node in ast.walk(tree):
        targets: list[str | None] = [None]
        call = node
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)] or [None]
            call = node.value
        elif isinstance(node, ast.FunctionDef):
            calls = [c for c in ast.walk(node) if isinstance(c, ast.Call) and _is_create(c)]
            found += [(node.name, c) for c in calls]
            continue
        if isinstance(call, ast.Call) and _is_create(call):
            found += [(target, call) for target in targets]
    return found


def _is_create(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name == "create"


def _call_of(module: Any, attr: str) -> ast.Call | None:
    """The ``create(...)`` call that makes ``attr`` (or the module's only one), or None."""
    calls = _create_calls(module)
    mine = [c for name, c in calls if name == attr]
    if mine:
        return mine[0]
    return calls[0][1] if len({id(c) for _, c in calls}) == 1 else None


def env_var_of(module: Any, attr: str) -> str | None:
    """The ``env=`` of the ``pooch.create(...)`` call in ``module``'s source that makes
    ``attr`` (or of its only such call); None when there is none or it is not a literal."""
    found: dict[str | None, str] = {}
    for name, call in _create_calls(module):
        env = _create_env(call)
        if env is not None:
            found.setdefault(name, env)
    if attr in found:
        return found[attr]
    values = set(found.values())
    return values.pop() if len(values) == 1 else None


def _create_env(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "env" and isinstance(kw.value, ast.Constant):
            return kw.value.value if isinstance(kw.value.value, str) else None
    return None


def version_given(module: Any, attr: str) -> bool | None:
    """Does the ``pooch.create(...)`` call that makes ``attr`` give a version (``version=``,
    or a third argument, not ``None``)? None when that cannot be told from the source."""
    call = _call_of(module, attr)
    if call is None or any(isinstance(a, ast.Starred) for a in call.args):
        return None  # (*args: unknown)
    if len(call.args) >= 3:  # create(path, base_url, version, ...)
        value: ast.expr | None = call.args[2]
    else:
        value = next((kw.value for kw in call.keywords if kw.arg == "version"), None)
        if value is None:  # no version, unless **kwargs has one
            return None if any(kw.arg is None for kw in call.keywords) else False
    return not (isinstance(value, ast.Constant) and value.value is None)


def migrate(
    spec: str,
    *,
    env_var: str | None = None,
    package: str | None = None,
    unpack: Sequence[tuple[str, str]] = (),
) -> Migration:
    """The registry and settings that reproduce the pooch object ``MODULE:ATTR``; entries
    whose names end in an ``unpack`` suffix become archives (``(suffix, kind)`` pairs)."""
    obj, module = load_pooch(spec)
    module_name, _, attr = spec.partition(":")
    factory = obj is not getattr(module, attr)
    if package is None:
        is_package = hasattr(module, "__path__")
        package = module.__name__ if is_package else module.__name__.rpartition(".")[0]
        package = package or module.__name__
    registry, notes = registry_of(obj, spec, unpack, version_given(module, attr))
    env = env_var or env_var_of(module, attr)
    version = registry.version
    if env and version:
        notes.append(
            f"pooch kept the files of ${env} in ${env}/{version}/; the locator looks for "
            f"${env}/NAME: point {env} at that folder (or move the files up)"
        )
    if any(e.url and e.url.lower().startswith("doi:") for e in registry) or (
        registry.base_url or ""
    ).lower().startswith("doi:"):
        notes.append(
            "doi: URLs stay in the registry: each build resolves them once (cached) into "
            "concrete URLs in the wheel; `hatch-datafetch make-registry --doi DOI` writes "
            "those URLs, sizes and sha256 hashes into the registry instead"
        )
    return Migration(registry, module_name, attr, package, env, tuple(notes), factory)


def registry_of(
    obj: Any,
    spec: str,
    unpack: Sequence[tuple[str, str]] = (),
    has_version: bool | None = None,
) -> tuple[Registry, list[str]]:
    """A :class:`Registry` of a pooch object (every problem of its entries at once).
    ``has_version``: whether ``pooch.create`` was given a version, which it appended to the
    path (None: unknown; the path's last folder is then taken for the version when the base
    URL has it)."""
    from .registry import _archive_kind

    problems: list[RegistryError] = []
    entries = []
    urls = dict(obj.urls or {})
    notes = []
    for name, value in dict(obj.registry or {}).items():
        where = f"{spec} registry[{name!r}]"
        try:
            check_name(str(name))
            if value is None:
                raise ValueError(
                    "the hash is None (pooch then checks nothing): hatch-datafetch verifies "
                    "every file, so the registry needs its hash"
                )
            digest = normalize_hash(str(value))
            url = urls.get(name)
            if url is not None:
                check_url(str(url))
        except ValueError as e:
            problems.append(RegistryError(str(e), source=where))
            continue
        kind = _archive_kind(name, unpack)
        entries.append(FileEntry(name, digest, None, url, kind))
    for name in sorted(set(urls) - set(obj.registry or {})):
        notes.append(f"urls[{name!r}] names a file that is not in the registry: left out")
    if problems:
        raise RegistryError(
            f"{len(problems)} registry entries cannot be taken over:", problems=problems
        )
    base_url = str(obj.base_url or "") or None
    if base_url is not None:
        try:
            check_url(base_url)
        except ValueError as e:
            raise RegistryError(f"base_url: {e}", source=spec) from None
    version = None
    path = getattr(obj, "path", None)
    if path is not None and has_version is not False:
        last = Path(os.fspath(path)).name
        if last and (has_version or last in (base_url or "")):  # pooch.create appended it
            version = last
    return Registry(tuple(entries), base_url=base_url, version=version), notes


def pyproject_lines(m: Migration, registry_path: str, locator: str = "_datafetch") -> str:
    """The lines to paste: the build hook's table, then the code change (as comments)."""
    lines = [
        f"# hatch-datafetch make-registry --from-pooch {m.module}:{m.attr}",
        "# 1. pyproject.toml (Hatch; meson-python and other backends: the same keys in "
        "[tool.datafetch]):",
        "[build-system]",
        'requires = ["hatchling", "hatch-datafetch"]',
        'build-backend = "hatchling.build"',
        "",
        "[tool.hatch.build.hooks.datafetch]",
        f"registry = {_toml(registry_path)}",
        f"package = {_toml(m.package)}",
    ]
    if m.env_var:
        lines.append(f"env-var = {_toml(m.env_var)}")
    lines += [
        "",
        f"# 2. in {m.module}, in place of the pooch.create(...) call (the rest of the code "
        "is unchanged):",
        f"#     from {m.package} import {locator}",
        f"#     {'return' if m.factory else m.attr + ' ='} {locator}.as_pooch()"
        + ("   (in the body of the function " + m.attr + ")" if m.factory else ""),
    ]
    lines += [f"# note: {n}" for n in m.notes]
    return "\n".join(lines) + "\n"


def _toml(value: str) -> str:
    from ._toml import toml_string

    return toml_string(value)
