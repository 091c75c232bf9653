"""The Hatch build hook and metadata hook: thin adapters over staging (SPEC §3-§5).

Registered with hatchling by :mod:`hatch_datafetch.hooks`; this module is the implementation.

Build hook ``[tool.hatch.build.hooks.datafetch]``:

* every wheel (standard and editable) gets the locator package ``<package>/<locator>/`` (the
  runtime package, byte for byte) and ``<package>/<locator>_registry.json``;
* ``wheel = "bundle"`` adds the verified files under ``<package>/NAME``;
* the sdist always carries the registry; ``sdist = "bundle"`` adds the verified files under
  ``_datafetch_bundle/NAME``, which a wheel built from that sdist uses without network.

Nothing is written into the source tree: generated files are staged in the build cache and
force-included; data files are force-included straight from where they were verified.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

from ._toml import table_at
from .errors import BuildError, DatafetchError, SettingsError, render
from .registry import Registry, load_registry
from .resolved import SDIST_RECORD
from .settings import (
    HATCH_RESERVED_KEYS,
    HATCH_TABLE,
    TOOL_TABLE,
    Settings,
    default_build_cache,
    infer_package,
    locator_in,
    parse_settings,
    read_pyproject,
)
from .staging import (
    BUNDLE_DIR,
    base_url_note,
    built_from_sdist,
    check_no_clashes,
    data_extras,
    data_wheel_skipped,
    editable_files,
    generated_files,
    keeps_data_wheel,
    prefetch_for_wheel_step,
    resolved_config,
    runtime_config,
    sdist_doi_record,
    stage_for_build,
    staged_summary,
)

PLUGIN_NAME = "datafetch"
TARGET_TABLE = "tool.hatch.build.targets.wheel.hooks.datafetch"


def _table(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    value = table_at(data, dotted)
    return value if isinstance(value, dict) else {}


def hatch_settings(
    root: str,
    project_name: str,
    project_version: str | None,
    target_table: dict[str, Any],
) -> Settings:
    """Settings from the global hook table with a per-target table merged over it.

    hatchling itself *replaces* the global table with a target's table; merging is what
    users expect from ``[tool.hatch.build.targets.wheel.hooks.datafetch]``. A hook table
    with no settings of its own (``[tool.hatch.build.hooks.datafetch]`` alone: the line
    that enables the hook) takes them from ``[tool.datafetch]``, the table other backends
    and the command line read.
    """
    source = os.path.join(root, "pyproject.toml")
    pyproject, lines = read_pyproject(source)
    merged = dict(_table(pyproject, HATCH_TABLE))
    merged.update(target_table)
    tool = table_at(pyproject, TOOL_TABLE)
    own = [k for k in merged if k not in HATCH_RESERVED_KEYS]
    table, locate = HATCH_TABLE, locator_in(lines, TARGET_TABLE, HATCH_TABLE)
    if tool is not None and own:
        raise SettingsError(
            f"settings in both [{TOOL_TABLE}] and [{HATCH_TABLE}]: keep them in one (an empty "
            f"[{HATCH_TABLE}] enables the hook with the settings of [{TOOL_TABLE}])",
            source,
        )
    if tool is not None:
        if not isinstance(tool, dict):
            raise SettingsError(f"[{TOOL_TABLE}] must be a table", source)
        merged = {**tool, **{k: v for k, v in merged.items() if k in HATCH_RESERVED_KEYS}}
        table, locate = TOOL_TABLE, locator_in(lines, TOOL_TABLE)
    settings = parse_settings(
        merged,
        root=root,
        project_name=project_name,
        project_version=project_version,
        table=table,
        allow_hatch_reserved=True,
        source=source,
        default_package=infer_package(pyproject),
        locate=locate,
    )
    if settings.backend is not None or settings.backend_path:
        key = "backend" if settings.backend is not None else "backend-path"
        raise SettingsError(
            [
                DatafetchError(
                    "is for projects whose build-backend is hatch_datafetch.build; this one "
                    "builds with hatchling and the datafetch hook: remove it",
                    key=f"{table}.{key}",
                    source=os.path.basename(source),
                    line=locate(key),
                )
            ],
            source,
        )
    return settings


def _abort(error: BaseException, app: Any = None) -> NoReturn:
    """Show ``render(error)`` and stop the build, with no traceback from deep inside.

    Build hooks get hatchling's ``app`` and use its ``abort``; metadata hooks get no
    ``app`` from hatchling, so they print the same text to stderr and exit the same way.
    """
    message = render(error, prefix="hatch-datafetch:")
    if app is not None:
        app.abort(message)
    sys.stderr.write(message + "\n")
    raise SystemExit(1)


class DatafetchBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = PLUGIN_NAME
    _staging: Path | None = None
    _data_wheel: tuple[dict[str, str], Settings, Registry] | None = None

    def _settings(self) -> Settings:
        return hatch_settings(
            self.root, self.metadata.core.raw_name, self.metadata.version, self.config
        )

    def _staging_root(self) -> Path:
        name = self.metadata.core.name
        return default_build_cache() / "staging" / name

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name not in ("wheel", "sdist"):
            self.app.display_warning(
                f"hatch-datafetch: nothing to do for the {self.target_name!r} target"
            )
            return
        try:
            settings = self._settings()
            registry = load_registry(settings.registry_path())
            if self.target_name == "wheel":
                self._wheel(version, build_data, settings, registry)
            else:
                self._sdist(build_data, settings, registry)
        except (DatafetchError, OSError) as e:
            self._remove_staging()  # finalize() does not run after a failed initialize()
            _abort(e, self.app)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        try:
            if self._data_wheel is not None:
                from .datawheel import build_data_wheels

                for path in build_data_wheels(*self._data_wheel, self.directory):
                    self.app.display_info(f"hatch-datafetch: built data wheel {path}")
        except (DatafetchError, OSError) as e:
            _abort(e, self.app)
        finally:
            self._data_wheel = None
            self._remove_staging()

    def _remove_staging(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def clean(self, versions: list[str]) -> None:
        """``hatch clean``: remove staging dirs left behind by interrupted builds."""
        shutil.rmtree(self._staging_root(), ignore_errors=True)

    # ------------------------------------------------------------------ targets

    def _stage(self, settings: Settings, config: dict[str, Any], purpose: str) -> dict[str, str]:
        files = stage_for_build(config, settings, self.root, purpose)
        self.app.display_info(staged_summary(files, purpose))
        root = os.path.join(os.path.realpath(self.root), "")
        used: set[str] = set()
        out = {}
        for name, path in files.items():
            real = os.path.realpath(path)
            # force-include is keyed by source path, so two names with the same content
            # (one cache file) need two sources; and hatchling drops a force-included
            # source inside the project from its own walk, so a data dir in the project
            # (e.g. HATCH_DATAFETCH_SOURCE=cdn) would vanish from the sdist. Copy those.
            if real in used or real.startswith(root):
                staged = self._staging_dir() / "files" / name
                staged.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, staged)
                path = str(staged)
            used.add(real)
            out[name] = path
        return out

    def _staging_dir(self) -> Path:
        if self._staging is None:
            root = self._staging_root()
            root.mkdir(parents=True, exist_ok=True)
            self._staging = Path(tempfile.mkdtemp(prefix="build-", dir=root))
        return self._staging

    def _package_dir(self, settings: Settings) -> Path:
        rel = Path(*settings.package.split("."))
        top = settings.package.split(".")[0]
        candidates = [Path(self.root, rel), Path(self.root, "src", rel)]
        for configured in getattr(self.build_config, "packages", None) or ():
            if Path(configured).name == top:
                candidates.insert(0, Path(self.root, configured, *rel.parts[1:]))
        for candidate in candidates:
            if candidate.is_dir():
                return candidate
        looked = ", ".join(str(c.relative_to(self.root)) for c in candidates)
        raise BuildError(
            f"package {settings.package!r} not found in the project (looked in {looked})",
            hint=f"set `package` in [{HATCH_TABLE}] to the dotted import package that should "
            "receive the locator",
        )

    def _wants_data_wheel(self, settings: Settings, version: str) -> bool:
        """Build the data wheel where the front end keeps it, or where
        HATCH_DATAFETCH_DATA_WHEEL=1 forces it; an install from source never needs data."""
        if not settings.data_wheel or version != "standard":
            return False
        keeps, who = keeps_data_wheel()
        if not keeps:
            self.app.display_info(data_wheel_skipped(who))
        return keeps

    def _check_data_extra(self, settings: Settings, registry: Registry) -> None:
        """``data-wheel = true`` is useless without the extra: hatchling runs metadata hooks
        only when ``dynamic`` is non-empty, so a missing entry would drop it silently. Checked
        for the sdist too (its PKG-INFO is what the wheel from it gets) and for the wheel."""
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        have = {
            canonicalize_name(extra): {canonicalize_name(Requirement(r).name) for r in reqs}
            for extra, reqs in self.metadata.core.optional_dependencies.items()
        }
        want = data_extras(registry, settings)[settings.data_extra]
        names = {canonicalize_name(Requirement(r).name) for r in want}
        if names <= have.get(canonicalize_name(settings.data_extra), set()):
            return
        raise BuildError(
            f"data-wheel = true, but the wheel's metadata has no extra "
            f"{settings.data_extra!r} requiring {', '.join(sorted(names))}",
            hint="enable the metadata hook with an empty [tool.hatch.metadata.hooks.datafetch] "
            'table and add dynamic = ["optional-dependencies"] to [project] (move any '
            "[project.optional-dependencies] into `extras` of the hook table)",
        )

    def _wheel(
        self, version: str, build_data: dict[str, Any], settings: Settings, registry: Registry
    ) -> None:
        package_dir = self._package_dir(settings)
        note = base_url_note(registry, settings)
        if note:  # the wheel is where the URL is baked: said once per build
            self.app.display_warning(note)
        if settings.data_wheel:
            self._check_data_extra(settings, registry)
        bundle = settings.wheel == "bundle" and version == "standard"
        config = runtime_config(
            registry, dataclasses.replace(settings, wheel="bundle" if bundle else "omit")
        )
        config = resolved_config(config, self.root)  # doi: URLs made concrete
        staging = self._staging_dir()
        leaf = settings.locator
        generated = generated_files(config, leaf)
        (staging / leaf).mkdir(exist_ok=True)
        for fname, data in generated.items():
            (staging / fname).write_bytes(data)
        if version == "editable":
            self._editable(build_data, settings, staging, sorted(generated))
            return
        pkg_path = settings.package.replace(".", "/")
        force = build_data["force_include"]
        for existing in (leaf, f"{leaf}.py", f"{leaf}_registry.json"):
            if (package_dir / existing).exists():
                raise BuildError(
                    f"{package_dir / existing} exists in the source tree, but the build "
                    f"generates the locator {pkg_path}/{leaf}/ and {pkg_path}/{leaf}_registry.json",
                    hint="delete it, or choose another `locator` module name",
                )
        for fname in sorted(generated):
            force[str(staging / fname)] = f"{pkg_path}/{fname}"
        data_wheel = self._wants_data_wheel(settings, version)
        purpose = " and ".join(["wheel"] * bundle + ["data wheel"] * data_wheel)
        files = self._stage(settings, config, purpose) if purpose else {}
        if data_wheel:
            self._data_wheel = files, settings, registry
        if bundle:
            check_no_clashes(files, settings, [package_dir])
            for name, path in files.items():
                force[path] = f"{pkg_path}/{name}"

    def _editable(
        self, build_data: dict[str, Any], settings: Settings, staging: Path, generated: list[str]
    ) -> None:
        """The locator and its JSON in site-packages, behind a finder for that one package."""
        files = editable_files(settings, {f: (staging / f).read_bytes() for f in generated})
        editable = build_data["force_include_editable"]
        if not editable:  # hatchling then ignores the configured force-include
            editable.update(self.build_config.get_force_include())
        for arcname, data in files.items():
            path = staging / "editable" / arcname
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            editable[str(path)] = arcname

    def _sdist(self, build_data: dict[str, Any], settings: Settings, registry: Registry) -> None:
        if settings.data_wheel:  # before an sdist without the data extra lands in dist/
            self._check_data_extra(settings, registry)
        force = build_data["force_include"]
        registry_path = settings.registry_path().resolve()
        rel = os.path.relpath(registry_path, Path(self.root).resolve())
        force[str(registry_path)] = rel.replace(os.sep, "/")  # even when VCS-ignored
        config = runtime_config(registry, settings)
        record, warning = sdist_doi_record(config, self.root)
        if warning:
            self.app.display_warning(warning)
        if record is not None:
            staged = self._staging_dir() / SDIST_RECORD
            staged.write_bytes(record)
            force[str(staged)] = SDIST_RECORD
        if settings.sdist == "bundle":
            config = resolved_config(config, self.root)
            for name, path in self._stage(settings, config, "sdist").items():
                force[path] = f"{BUNDLE_DIR}/{name}"
            return
        data_wheel = settings.data_wheel and keeps_data_wheel()[0]
        purpose = " and ".join(
            ["wheel"] * (settings.wheel == "bundle") + ["data wheel"] * data_wheel
        )
        if purpose and not built_from_sdist(self.root):
            self._prefetch(settings, config, purpose)

    def _prefetch(self, settings: Settings, config: dict[str, Any], purpose: str) -> None:
        """Put the files the wheel step needs into the build cache (see
        :func:`~hatch_datafetch.staging.prefetch_for_wheel_step`)."""
        message, failed = prefetch_for_wheel_step(config, settings, purpose, self.root)
        if failed:
            self.app.display_warning(message)
        else:
            self.app.display_info(message)


class DatafetchMetadataHook(MetadataHookInterface):
    """``[tool.hatch.metadata.hooks.datafetch]``: adds the data extra (SPEC §5).

    Reads its settings from the build hook's table (merged with the wheel target's).
    """

    PLUGIN_NAME = PLUGIN_NAME

    def update(self, metadata: dict[str, Any]) -> None:
        try:
            metadata["optional-dependencies"] = self._extras(metadata)
        except (DatafetchError, OSError) as e:
            _abort(e)

    def _extras(self, metadata: dict[str, Any]) -> dict[str, list[str]]:
        pyproject, _ = read_pyproject(os.path.join(self.root, "pyproject.toml"))
        target = _table(pyproject, TARGET_TABLE)
        if not (_table(pyproject, HATCH_TABLE) or target or _table(pyproject, TOOL_TABLE)):
            raise SettingsError(
                "the datafetch metadata hook needs the build hook's settings: add "
                f"[{HATCH_TABLE}] with at least `registry = ...`"
            )
        settings = hatch_settings(self.root, metadata["name"], metadata.get("version"), target)
        if "optional-dependencies" not in metadata.get("dynamic", ()):
            raise SettingsError(
                "the datafetch metadata hook sets the project's extras, so pyproject.toml "
                'needs `dynamic = ["optional-dependencies"]` in [project]; move any '
                f"[project.optional-dependencies] into `extras` of [{HATCH_TABLE}] (a field "
                "cannot be both static and dynamic)"
            )
        extras = {name: list(reqs) for name, reqs in settings.extras.items()}
        if settings.data_wheel:
            if settings.data_version is None:
                raise SettingsError(
                    "`data-version` is required when the project version is dynamic and not "
                    "known to the metadata hook"
                )
            extras.update(data_extras(load_registry(settings.registry_path()), settings))
        return extras
