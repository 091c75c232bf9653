"""A PEP 517/660 build backend that wraps another one (SPEC §12).

``build-backend = "hatch_datafetch.build"`` with ``[tool.datafetch] backend =
"setuptools.build_meta"`` (flit-core, poetry-core, pdm-backend, scikit-build-core, any
importable backend; ``backend-path`` for an in-tree one). Every hook calls the inner
backend, then adds what the Hatch hook adds, with the same shared code (:mod:`.staging`,
:mod:`.datawheel`, :mod:`.frontends`), rewriting the finished artifact (:mod:`.repack`):

* every wheel: the locator package ``<package>/<locator>/`` and its registry JSON, the
  verified files under ``<package>/`` in bundle mode, the data extra(s) in METADATA;
* editable wheels: the locator and JSON in site-packages behind a finder for that one
  package (the inner backend puts the package itself on the path, however it does);
* ``prepare_metadata_for_build_*``: the extras, so that pip's resolver sees them;
* the sdist: the registry, the verified files under ``_datafetch_bundle/`` in bundle mode,
  the extras in PKG-INFO;
* the data wheel(s) beside the main wheel, where the front end keeps them;
* ``get_requires_for_build_*``: the inner backend's requirements.

PEP 621 lets a tool fill only the fields listed in ``dynamic``: the extras need
``dynamic = ["optional-dependencies"]``. setuptools (>= 61), poetry-core 2, pdm-backend and
scikit-build-core accept such a field with nothing to fill it; flit-core rejects it, so it is
given a view of the project (a temporary directory of links) whose pyproject.toml lacks that
entry, and its sdist gets the project's own pyproject.toml back.

The editable hooks exist only when the inner backend has them (PEP 660: a front end asks
whether the attribute exists).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

from ._toml import table_at, toml_line, tomllib
from .errors import BuildError, DatafetchError, SettingsError, render
from .registry import Registry, load_registry
from .settings import (
    HATCH_TABLE,
    TOOL_TABLE,
    Settings,
    is_dotted_name,
    load_pyproject,
    read_pyproject,
)

__all__ = [
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_wheel",
]

#: Known backends: the requirement that provides each (for the "cannot import" hint).
PROVIDERS = {
    "setuptools.build_meta": "setuptools>=61.3",
    "setuptools.build_meta:__legacy__": "setuptools>=61.3",
    "flit_core.buildapi": "flit_core",
    "poetry.core.masonry.api": "poetry-core>=2",
    "pdm.backend": "pdm-backend",
    "scikit_build_core.build": "scikit-build-core",
    "maturin": "maturin",
}

#: Backends that reject ``optional-dependencies`` in ``dynamic`` when nothing of theirs
#: fills it (flit_core: "flit only supports dynamic metadata for: ..."): they see a
#: pyproject.toml without that entry.
NO_DYNAMIC_EXTRAS = frozenset({"flit_core.buildapi"})

#: Backends with their own integration, which the wrapper does not wrap.
REFUSED = {
    "hatchling.build": (
        "Hatch projects use the build hook, not this wrapper",
        'keep build-backend = "hatchling.build" and add the two lines\n'
        f"  [{HATCH_TABLE}]\n"
        "  [tool.hatch.metadata.hooks.datafetch]\n"
        f"(the hook then reads [{TOOL_TABLE}]; the second line adds the data extra and needs "
        'dynamic = ["optional-dependencies"])',
    ),
    "mesonpy": (
        "meson-python projects use the meson helper, not this wrapper",
        'keep build-backend = "mesonpy" and paste the block that `hatch-datafetch '
        "meson-snippet --package PKG` prints into the package's meson.build (the guide: "
        "docs/howto/meson-python.md)",
    ),
    "hatch_datafetch.build": ("the wrapper cannot wrap itself", "name the real backend"),
}

_F = TypeVar("_F", bound=Callable[..., Any])


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _abort(error: BaseException) -> NoReturn:
    """The error as users read it, then exit 1: the front end shows our stderr."""
    _say(render(error, prefix="hatch-datafetch:"))
    raise SystemExit(1)


def _reported(func: _F) -> _F:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DatafetchError, OSError) as e:
            _abort(e)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- the project


@dataclasses.dataclass
class _Project:
    root: str
    pyproject: dict[str, Any]
    text: str
    backend: str
    backend_path: tuple[str, ...]

    @property
    def dynamic(self) -> list[str]:
        value = table_at(self.pyproject, "project.dynamic")
        return list(value) if isinstance(value, list) else []

    @property
    def strips_dynamic(self) -> bool:
        return self.backend in NO_DYNAMIC_EXTRAS and "optional-dependencies" in self.dynamic


def _project() -> _Project:
    """The project in the current directory (PEP 517: the project root), its settings
    checked before the inner backend runs."""
    root = os.getcwd()
    source = os.path.join(root, "pyproject.toml")
    pyproject, lines = read_pyproject(source)
    if table_at(pyproject, TOOL_TABLE) is None:
        raise SettingsError(
            f'build-backend = "hatch_datafetch.build" reads its settings from [{TOOL_TABLE}], '
            "which is missing: add it with at least\n"
            f'  [{TOOL_TABLE}]\n  backend = "setuptools.build_meta"   # the backend to wrap\n'
            '  registry = "registry.toml"',
            source,
        )
    settings = load_pyproject(source)
    if settings.backend is None:
        known = ", ".join(f'"{b}"' for b in PROVIDERS if ":" not in b)
        raise SettingsError(
            [
                DatafetchError(
                    f"missing: name the build backend to wrap, one of {known} or any other",
                    key=f"{TOOL_TABLE}.backend",
                )
            ],
            source,
        )
    with open(source, encoding="utf-8-sig") as f:
        text = f.read()
    del lines
    return _Project(root, pyproject, text, settings.backend, settings.backend_path)


def _default_package(root: str) -> str | None:
    """The one import package in ``src/`` or, failing that, at the top of the project."""
    for base in (os.path.join(root, "src"), root):
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            continue
        found = [
            e.name
            for e in entries
            if e.is_dir()
            and is_dotted_name(e.name)
            and e.name not in ("tests", "test", "docs", "examples", "benchmarks", "build")
            and os.path.isfile(os.path.join(e.path, "__init__.py"))
        ]
        if len(found) == 1:
            return found[0]
        if found:
            return None
    return None


def _settings(project: _Project, name: str | None, version: str | None) -> Settings:
    """The settings, with the name and version the backend wrote into the metadata (the
    version may be dynamic) and the package found in the source tree by default."""
    from .settings import locator_in, parse_settings

    source = os.path.join(project.root, "pyproject.toml")
    table = table_at(project.pyproject, TOOL_TABLE)
    written = table_at(project.pyproject, "project.name")
    return parse_settings(
        table,
        root=project.root,
        project_name=written if isinstance(written, str) else name or "",
        project_version=version,
        table=TOOL_TABLE,
        source=source,
        default_package=_default_package(project.root),
        locate=locator_in(project.text.splitlines(), TOOL_TABLE),
    )


# --------------------------------------------------------------------------- the inner backend


def _inner(project: _Project) -> Any:
    """The inner backend object, imported by name (``backend-path`` first on sys.path)."""
    name = project.backend
    if name in REFUSED or name.split(":")[0] in REFUSED:
        what, hint = REFUSED[name if name in REFUSED else name.split(":")[0]]
        raise SettingsError(
            [DatafetchError(f"{name!r}: {what}", key=f"{TOOL_TABLE}.backend", hint=hint)],
            os.path.join(project.root, "pyproject.toml"),
        )
    paths = [os.path.join(project.root, p) for p in project.backend_path]
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    module_name, _, attrs = name.partition(":")
    provider = PROVIDERS.get(name, "the package that provides it")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        raise BuildError(
            f"cannot import the build backend {name!r} ([{TOOL_TABLE}] backend): no module "
            f"named {missing!r}",
            hint=f"add {provider} to [build-system] requires (with an isolated build), or "
            "install it (with --no-isolation / --no-build-isolation); for a backend inside "
            f"the project, set backend-path in [{TOOL_TABLE}]",
        ) from None
    except Exception as e:  # the backend's own import failed: say which and how
        raise BuildError(
            f"importing the build backend {name!r} failed: {type(e).__name__}: {e}"
        ) from None
    if paths:
        where = os.path.realpath(getattr(obj, "__file__", "") or "")
        if not any(where.startswith(os.path.realpath(p) + os.sep) for p in paths):
            raise BuildError(
                f"the build backend {name!r} was imported from {where}, not from backend-path "
                f"({', '.join(project.backend_path)})",
                hint="PEP 517: an in-tree backend must come from backend-path; check its "
                "directory and module name",
            )
    for attr in filter(None, attrs.split(".")):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise BuildError(f"the build backend {name!r}: {module_name} has no {attr!r}") from None
    if not (
        callable(getattr(obj, "build_wheel", None)) and callable(getattr(obj, "build_sdist", None))
    ):
        raise BuildError(
            f"{name!r} is not a PEP 517 build backend: it has no build_wheel and build_sdist",
            hint='name a backend such as "setuptools.build_meta"',
        )
    return obj


def _without_dynamic_extras(project: _Project) -> str:
    """pyproject.toml's text with ``optional-dependencies`` taken out of ``dynamic``."""
    lines = project.text.splitlines(keepends=True)
    start = toml_line([ln.rstrip("\n") for ln in lines], "dynamic", "project")
    if start is None:
        raise BuildError("cannot find `dynamic` in [project] of pyproject.toml")
    head = "".join(lines[: start - 1])
    rest = "".join(lines[start - 1 :])
    m = re.match(r"(\s*dynamic\s*=\s*)\[[^\]]*\]", rest)
    if m is None:
        raise BuildError("cannot read `dynamic` of [project] in pyproject.toml")
    kept = [d for d in project.dynamic if d != "optional-dependencies"]
    value = "[" + ", ".join(f'"{d}"' for d in kept) + "]"
    text = head + m[1] + value + rest[m.end() :]
    want = dict(project.pyproject)
    want["project"] = {**want["project"], "dynamic": kept}
    if tomllib.loads(text) != want:
        raise BuildError("cannot take optional-dependencies out of `dynamic` in pyproject.toml")
    return text


#: Directories a view leaves out: version control, environments, caches, build output.
_NOT_IN_VIEW = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules"}
)


def _link_tree(root: str, view: str) -> None:
    """The files of *root* at the same paths under *view*: hard links where the file
    system allows, else copies (a backend that refuses files resolving outside the
    project, as flit-core does, must find real files), symlinks as they are."""
    for here, dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        top = rel == "."
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _NOT_IN_VIEW
            and not (top and d in ("build", "dist"))
            and not os.path.islink(os.path.join(here, d))
        )
        out = view if top else os.path.join(view, rel)
        os.makedirs(out, exist_ok=True)
        links = [d for d in os.listdir(here) if os.path.islink(os.path.join(here, d))]
        for name in sorted(set(files) | set(links)):
            src, dst = os.path.join(here, name), os.path.join(out, name)
            if top and name == "pyproject.toml":
                continue
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


@contextlib.contextmanager
def _view(project: _Project) -> Iterator[str]:
    """The directory the inner backend runs in (it reads ./pyproject.toml): the project
    itself, or, for a backend that rejects ``dynamic = ["optional-dependencies"]``, a
    temporary view of it (its files linked or copied) whose pyproject.toml has no such
    entry. The source tree is never written."""
    if not project.strips_dynamic:
        yield project.root
        return
    text = _without_dynamic_extras(project)
    view = tempfile.mkdtemp(prefix="hatch-datafetch-view-")
    here = os.getcwd()
    try:
        _link_tree(project.root, view)
        with open(os.path.join(view, "pyproject.toml"), "w", encoding="utf-8") as f:
            f.write(text)
        os.chdir(view)
        yield view
    finally:
        os.chdir(here)
        shutil.rmtree(view, ignore_errors=True)


def _call(project: _Project, hook: str, *args: Any, **kwargs: Any) -> Any:
    inner = _inner(project)
    with _view(project):
        return getattr(inner, hook)(*args, **kwargs)


# --------------------------------------------------------------------------- metadata


def _headers(text: str) -> dict[str, str]:
    head = text.partition("\n\n")[0]
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in head.split("\n")) if v}


def _extras(
    project: _Project, settings: Settings, registry: Registry | None
) -> dict[str, list[str]]:
    """The extras to add: ``extras`` and the data extra(s); they need
    ``dynamic = ["optional-dependencies"]`` (PEP 621: a tool fills only dynamic fields)."""
    from .staging import data_extras

    _check_dynamic(project, settings)
    extras = {name: list(reqs) for name, reqs in settings.extras.items()}
    if settings.data_wheel:
        if settings.data_version is None:
            raise SettingsError("`data-version` is required when the project version is not known")
        extras.update(data_extras(registry or load_registry(settings.registry_path()), settings))
    return extras


def _check_dynamic(project: _Project, settings: Settings) -> None:
    """Extras to add need ``dynamic = ["optional-dependencies"]``: checked before the inner
    backend runs, so that no artifact without them is left behind."""
    if (settings.data_wheel or settings.extras) and "optional-dependencies" not in project.dynamic:
        why = "data-wheel = true" if settings.data_wheel else "`extras` is set"
        raise BuildError(
            f"{why}, but [project] does not list optional-dependencies in `dynamic`, so "
            "hatch-datafetch may not add the extras (PEP 621)",
            hint='add dynamic = ["optional-dependencies"] to [project] and move any '
            f"[project.optional-dependencies] into `extras` of [{TOOL_TABLE}] (a field "
            "cannot be both static and dynamic)",
        )


def _metadata_fixer(
    extras: Mapping[str, list[str]], pkg_info: bool = False
) -> Callable[[str], str]:
    from .repack import add_extras

    return lambda text: add_extras(text, extras, pkg_info=pkg_info)


# --------------------------------------------------------------------------- PEP 517 hooks


@_reported
def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    project = _project()
    inner = _inner(project)
    if not hasattr(inner, "get_requires_for_build_wheel"):
        return []
    return list(_call(project, "get_requires_for_build_wheel", config_settings))


@_reported
def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    project = _project()
    inner = _inner(project)
    if not hasattr(inner, "get_requires_for_build_sdist"):
        return []
    return list(_call(project, "get_requires_for_build_sdist", config_settings))


def _prepare(hook: str, metadata_directory: str, config_settings: dict[str, Any] | None) -> str:
    """The inner backend's prepared metadata (or that of a wheel it builds, when it has no
    such hook), with the extras added."""
    project = _project()
    inner = _inner(project)
    for name in (hook, "prepare_metadata_for_build_wheel"):
        if hasattr(inner, name):
            dist_info: str = _call(project, name, metadata_directory, config_settings)
            break
    else:
        build = "build_editable" if hook.endswith("editable") else "build_wheel"
        with tempfile.TemporaryDirectory(prefix="hatch-datafetch-meta-") as tmp:
            wheel = os.path.join(tmp, _call(project, build, tmp, config_settings))
            with zipfile.ZipFile(wheel) as zf:
                from .repack import dist_info_dir

                dist_info = dist_info_dir(zf.namelist(), os.path.basename(wheel))
                for member in zf.namelist():
                    if member.startswith(f"{dist_info}/") and not member.endswith("/RECORD"):
                        zf.extract(member, metadata_directory)
    meta_path = Path(metadata_directory, dist_info, "METADATA")
    text = meta_path.read_text(encoding="utf-8")
    head = _headers(text)
    settings = _settings(project, head.get("Name"), head.get("Version"))
    extras = _extras(project, settings, None)
    if extras:
        meta_path.write_text(_metadata_fixer(extras)(text), encoding="utf-8")
    return dist_info


@_reported
def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: dict[str, Any] | None = None
) -> str:
    return _prepare("prepare_metadata_for_build_wheel", metadata_directory, config_settings)


def _wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None,
    metadata_directory: str | None,
    editable: bool,
) -> str:

    project = _project()
    _check_dynamic(project, _settings(project, None, None))  # errors before a long build
    hook = "build_editable" if editable else "build_wheel"
    # not the prepared metadata: it has the extras, which a backend comparing its own
    # metadata with it (scikit-build-core) would take for a mismatch; it is optional
    del metadata_directory
    basename: str = _call(project, hook, wheel_directory, config_settings)
    wheel = Path(wheel_directory, basename)
    with _removed_on_error(wheel):
        _finish_wheel(project, wheel, editable)
    return basename


@contextlib.contextmanager
def _removed_on_error(artifact: Path) -> Iterator[None]:
    """The inner backend's artifact is removed when adding to it fails: no wheel or sdist
    without the locator, the data or the extras is left behind."""
    try:
        yield
    except BaseException:
        artifact.unlink(missing_ok=True)
        raise


def _finish_wheel(project: _Project, wheel: Path, editable: bool) -> None:
    from .repack import dist_info_dir
    from .staging import (
        base_url_note,
        data_wheel_skipped,
        editable_files,
        generated_files,
        keeps_data_wheel,
        resolved_config,
        runtime_config,
        stage_for_build,
        staged_summary,
    )

    wheel_directory, basename = str(wheel.parent), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = dist_info_dir(names, basename)
        head = _headers(zf.read(f"{info}/METADATA").decode("utf-8"))
    settings = _settings(project, head.get("Name"), head.get("Version"))
    registry = load_registry(settings.registry_path())
    extras = _extras(project, settings, registry)
    pkg_path = settings.package.replace(".", "/")
    bundle = settings.wheel == "bundle" and not editable
    config = runtime_config(
        registry, dataclasses.replace(settings, wheel="bundle" if bundle else "omit")
    )
    config = resolved_config(config, project.root)  # doi: URLs made concrete
    generated = generated_files(config, settings.locator)
    if editable:
        add = editable_files(settings, generated)
        fix = _view_fix(project) if project.strips_dynamic else None
        _rewrite(wheel, add, {}, extras, fix)
        return
    if not any(n.startswith(f"{pkg_path}/") for n in names):
        raise BuildError(
            f"the wheel built by {project.backend} has no package {settings.package!r} to "
            "put the locator into",
            hint=f"set `package` in [{TOOL_TABLE}] to the dotted import package that should "
            "receive the locator",
        )
    note = base_url_note(registry, settings)
    if note:
        _say(note)
    add = {f"{pkg_path}/{fname}": data for fname, data in generated.items()}
    data_wheel = False
    if settings.data_wheel:
        data_wheel, who = keeps_data_wheel()
        if not data_wheel:
            _say(data_wheel_skipped(who))
    purpose = " and ".join(["wheel"] * bundle + ["data wheel"] * data_wheel)
    files = stage_for_build(config, settings, project.root, purpose) if purpose else {}
    if files:
        _say(staged_summary(files, purpose))
    add_files = {f"{pkg_path}/{name}": path for name, path in files.items()} if bundle else {}
    if bundle:
        from .staging import check_no_clashes

        check_no_clashes(files, settings, [])
    _rewrite(wheel, add, add_files, extras, None)
    if data_wheel:
        from .datawheel import build_data_wheels

        for path in build_data_wheels(files, settings, registry, wheel_directory):
            _say(f"hatch-datafetch: built data wheel {path}")


def _rewrite(
    wheel: Path,
    add: Mapping[str, bytes],
    add_files: Mapping[str, str],
    extras: Mapping[str, list[str]],
    fix: Callable[[str, bytes], bytes] | None,
) -> None:
    from .repack import rewrite_wheel

    rewrite_wheel(
        wheel,
        add=add,
        add_files=add_files,
        metadata=_metadata_fixer(extras) if extras else None,
        text_fix=fix,
    )


def _view_fix(project: _Project) -> Callable[[str, bytes], bytes]:
    """An editable wheel built in a view points at the view: point its top-level ``.pth``
    and ``.py`` files at the project instead."""
    root = project.root.encode()

    def fix(name: str, data: bytes) -> bytes:
        if "/" in name or not name.endswith((".pth", ".py")):
            return data
        return re.sub(rb"/[^\s'\"]*hatch-datafetch-view-[A-Za-z0-9_]+", lambda _: root, data)

    return fix


@_reported
def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    return _wheel(wheel_directory, config_settings, metadata_directory, editable=False)


@_reported
def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:

    project = _project()
    _check_dynamic(project, _settings(project, None, None))
    basename: str = _call(project, "build_sdist", sdist_directory, config_settings)
    sdist = Path(sdist_directory, basename)
    with _removed_on_error(sdist):
        _finish_sdist(project, sdist)
    return basename


def _finish_sdist(project: _Project, sdist: Path) -> None:
    import tarfile

    from .repack import rewrite_sdist
    from .resolved import SDIST_RECORD
    from .staging import (
        BUNDLE_DIR,
        built_from_sdist,
        keeps_data_wheel,
        prefetch_for_wheel_step,
        resolved_config,
        runtime_config,
        sdist_doi_record,
        stage_for_build,
        staged_summary,
    )

    with tarfile.open(sdist) as tf:
        pkg_info = next(
            (m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")),
            None,
        )
        f = tf.extractfile(pkg_info) if pkg_info is not None else None
        head = _headers(f.read().decode("utf-8")) if f is not None else {}
    settings = _settings(project, head.get("Name"), head.get("Version"))
    registry = load_registry(settings.registry_path())
    extras = _extras(project, settings, registry)
    registry_path = settings.registry_path().resolve()
    rel = os.path.relpath(registry_path, Path(project.root).resolve()).replace(os.sep, "/")
    add_files = {rel: str(registry_path)}
    config = runtime_config(registry, settings)
    record, warning = sdist_doi_record(config, project.root)
    if warning:
        _say(warning)
    add = {SDIST_RECORD: record} if record is not None else {}
    if settings.sdist == "bundle":
        config = resolved_config(config, project.root)
        files = stage_for_build(config, settings, project.root, "sdist")
        _say(staged_summary(files, "sdist"))
        add_files.update((f"{BUNDLE_DIR}/{name}", path) for name, path in files.items())
    else:
        data_wheel = settings.data_wheel and keeps_data_wheel()[0]
        purpose = " and ".join(
            ["wheel"] * (settings.wheel == "bundle") + ["data wheel"] * data_wheel
        )
        if purpose and not built_from_sdist(project.root):
            _say(prefetch_for_wheel_step(config, settings, purpose, project.root)[0])
    replace = {"pyproject.toml": project.text.encode("utf-8")} if project.strips_dynamic else {}
    rewrite_sdist(
        sdist,
        add=add,
        add_files=add_files,
        replace=replace,
        pkg_info=_metadata_fixer(extras, pkg_info=True) if extras else None,
    )


def _editable_hooks() -> dict[str, Callable[..., Any]]:
    @_reported
    def build_editable(
        wheel_directory: str,
        config_settings: dict[str, Any] | None = None,
        metadata_directory: str | None = None,
    ) -> str:
        return _wheel(wheel_directory, config_settings, metadata_directory, editable=True)

    @_reported
    def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
        project = _project()
        if not hasattr(_inner(project), "get_requires_for_build_editable"):
            return []
        return list(_call(project, "get_requires_for_build_editable", config_settings))

    @_reported
    def prepare_metadata_for_build_editable(
        metadata_directory: str, config_settings: dict[str, Any] | None = None
    ) -> str:
        return _prepare("prepare_metadata_for_build_editable", metadata_directory, config_settings)

    return {
        "build_editable": build_editable,
        "get_requires_for_build_editable": get_requires_for_build_editable,
        "prepare_metadata_for_build_editable": prepare_metadata_for_build_editable,
    }


def __getattr__(name: str) -> Any:
    """The PEP 660 hooks, present when the inner backend has ``build_editable``."""
    if name in (
        "build_editable",
        "get_requires_for_build_editable",
        "prepare_metadata_for_build_editable",
    ):
        try:
            inner = _inner(_project())
        except (DatafetchError, OSError) as e:
            _abort(e)
        if hasattr(inner, "build_editable"):
            return _editable_hooks()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
