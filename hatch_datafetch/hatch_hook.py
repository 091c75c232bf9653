"""Hatch build hook and metadata hook: thin adapters over the core (SPEC §3-§5).

Build hook ``[tool.hatch.build.hooks.datafetch]``:

* every wheel (standard and editable) gets ``<package>/<locator>.py`` (the runtime module,
  byte for byte) and ``<package>/<locator>_registry.json``;
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
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

from .core import (
    BUNDLE_DIR,
    BuildError,
    render_config,
    runtime_config,
    runtime_source,
    stage_files,
)
from .registry import RegistryError, load_registry
from .settings import (
    HATCH_TABLE,
    BuildEnvironment,
    Settings,
    SettingsError,
    default_build_cache,
    infer_package,
    parse_settings,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

PLUGIN_NAME = "datafetch"


def _read_pyproject(root: str) -> dict[str, Any]:
    path = Path(root, "pyproject.toml")
    with path.open("rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    return data


def _dig(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    for key in dotted.split("."):
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, dict):
            return {}
        data = value
    return data


def hatch_settings(
    root: str,
    project_name: str,
    project_version: str | None,
    target_table: dict[str, Any],
) -> Settings:
    """Settings from the global hook table with a per-target table merged over it.

    hatchling itself *replaces* the global table with a target's table; merging is what
    users expect from ``[tool.hatch.build.targets.wheel.hooks.datafetch]``.
    """
    pyproject = _read_pyproject(root)
    merged = dict(_dig(pyproject, HATCH_TABLE))
    merged.update(target_table)
    return parse_settings(
        merged,
        root=root,
        project_name=project_name,
        project_version=project_version,
        table=HATCH_TABLE,
        allow_hatch_reserved=True,
        source=os.path.join(root, "pyproject.toml"),
        default_package=infer_package(pyproject),
    )


def _fail(app: Any, error: Exception) -> None:
    message = str(error)
    if not message.startswith("hatch-datafetch"):
        message = f"hatch-datafetch: {message}"
    app.abort(message)  # prints the message and exits: no traceback from deep inside
    raise SystemExit(1)  # pragma: no cover - abort() exits


def _editable_shim(module: str, shim: str, directory: str) -> str:
    """A finder that serves ``module`` from ``<site-packages>/<directory>/``.

    In an editable install the package is imported from the source tree, which we never
    write to, so the generated locator lives in site-packages and this finder (registered
    by a ``.pth`` file) answers for exactly that one module name.
    """
    leaf = module.rpartition(".")[2]
    return (
        f'"""Editable-install shim by hatch-datafetch: serves {module} from site-packages."""\n'
        "import os\n"
        "import sys\n"
        "\n"
        f"_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), {directory!r}, "
        f"{leaf + '.py'!r})\n"
        "\n"
        "\n"
        "class _Finder:\n"
        "    @staticmethod\n"
        "    def find_spec(fullname, path=None, target=None):\n"
        f"        if fullname != {module!r}:\n"
        "            return None\n"
        "        import importlib.util\n"
        "\n"
        "        return importlib.util.spec_from_file_location(fullname, _FILE)\n"
        "\n"
        "\n"
        f"if not any(getattr(f, '__module__', '') == {shim!r} for f in sys.meta_path):\n"
        "    sys.meta_path.append(_Finder)\n"
    )


class DatafetchBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = PLUGIN_NAME
    _staging: Path | None = None
    _data_wheel: tuple[dict[str, str], dict[str, Any]] | None = None

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
        except (SettingsError, RegistryError, BuildError, OSError) as e:
            _fail(self.app, e)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        try:
            if self._data_wheel is not None:
                from .datawheel import build_data_wheel

                files, config = self._data_wheel
                path = build_data_wheel(files, config, self.directory)
                self.app.display_info(f"hatch-datafetch: built data wheel {path}")
        except (OSError, ValueError) as e:
            _fail(self.app, e)
        finally:
            self._data_wheel = None
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
                self._staging = None

    def clean(self, versions: list[str]) -> None:
        """``hatch clean``: remove staging dirs left behind by interrupted builds."""
        shutil.rmtree(self._staging_root(), ignore_errors=True)

    # ------------------------------------------------------------------ targets

    def _stage(self, settings: Settings, config: dict[str, Any], purpose: str) -> dict[str, str]:
        from_sdist = os.path.isfile(os.path.join(self.root, "PKG-INFO"))
        bundle = os.path.join(self.root, BUNDLE_DIR)
        files = stage_files(
            config,
            BuildEnvironment.from_env(),
            jobs=settings.jobs,
            extra_sources=[bundle] if os.path.isdir(bundle) else [],
            offline_reason="building from an sdist, which never downloads" if from_sdist else None,
        )
        size = sum(os.path.getsize(p) for p in files.values())
        self.app.display_info(
            f"hatch-datafetch: {len(files)} verified files ({size / 1e6:.1f} MB) for the {purpose}"
        )
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
            f"hatch-datafetch: package {settings.package!r} not found in the project "
            f"(looked in {looked}).\n  hint: set `package` in [{HATCH_TABLE}] to the "
            "dotted import package that should receive the locator"
        )

    def _wants_data_wheel(self, settings: Settings, version: str) -> bool:
        if not settings.data_wheel or version != "standard":
            return False
        if os.environ.get("PIP_BUILD_TRACKER"):
            self.app.display_info(
                "hatch-datafetch: not building the data wheel under pip, which keeps only one "
                "wheel per build; use python -m build, uv build or hatch build, or run "
                "hatch-datafetch build-data-wheel"
            )
            return False
        return True

    def _check_data_extra(self, settings: Settings) -> None:
        """``data-wheel = true`` is useless without the extra: hatchling runs metadata hooks
        only when ``dynamic`` is non-empty, so a missing entry would drop it silently."""
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        extras = self.metadata.core.optional_dependencies
        for extra, reqs in extras.items():
            if canonicalize_name(extra) != canonicalize_name(settings.data_extra):
                continue
            for req in map(Requirement, reqs):
                if canonicalize_name(req.name) == canonicalize_name(settings.data_name):
                    return
        raise BuildError(
            f"hatch-datafetch: data-wheel = true, but the wheel's metadata has no extra "
            f"{settings.data_extra!r} requiring {settings.data_name}.\n  hint: enable the "
            "metadata hook with an empty [tool.hatch.metadata.hooks.datafetch] table and add "
            'dynamic = ["optional-dependencies"] to [project] (move any '
            "[project.optional-dependencies] into `extras` of the hook table)"
        )

    def _wheel(
        self, version: str, build_data: dict[str, Any], settings: Settings, registry: Any
    ) -> None:
        package_dir = self._package_dir(settings)
        if settings.data_wheel:
            self._check_data_extra(settings)
        bundle = settings.wheel == "bundle" and version == "standard"
        config = runtime_config(
            registry, dataclasses.replace(settings, wheel="bundle" if bundle else "omit")
        )
        staging = self._staging_dir()
        leaf = settings.locator
        generated = {f"{leaf}.py": runtime_source(), f"{leaf}_registry.json": render_config(config)}
        for fname, data in generated.items():
            (staging / fname).write_bytes(data)
        pkg_path = settings.package.replace(".", "/")
        if version == "editable":
            ident = settings.package.replace(".", "_")
            shim, directory = f"_hatch_datafetch_{ident}", f"_hatch_datafetch_{ident}"
            (staging / f"{shim}.py").write_text(
                _editable_shim(f"{settings.package}.{leaf}", shim, directory)
            )
            (staging / f"{shim}.pth").write_text(f"import {shim}\n")
            editable = build_data["force_include_editable"]
            if not editable:  # hatchling then ignores the configured force-include
                editable.update(self.build_config.get_force_include())
            for fname in sorted(generated):
                editable[str(staging / fname)] = f"{directory}/{fname}"
            editable[str(staging / f"{shim}.py")] = f"{shim}.py"
            editable[str(staging / f"{shim}.pth")] = f"{shim}.pth"
            return
        force = build_data["force_include"]
        for fname in sorted(generated):
            target = f"{pkg_path}/{fname}"
            if (package_dir / fname).exists():
                raise BuildError(
                    f"hatch-datafetch: {package_dir / fname} exists in the source tree, but the "
                    f"build generates {target}.\n  hint: delete it, or choose another `locator` "
                    "module name"
                )
            force[str(staging / fname)] = target
        data_wheel = self._wants_data_wheel(settings, version)
        purpose = " and ".join(["wheel"] * bundle + ["data wheel"] * data_wheel)
        files = self._stage(settings, config, purpose) if purpose else {}
        if data_wheel:
            self._data_wheel = files, config
        if bundle:
            clashes = [n for n in files if (package_dir / n).exists()]
            if clashes:
                raise BuildError(
                    f"hatch-datafetch: {len(clashes)} registry name(s) collide with files the "
                    f"package already ships in {package_dir}: {', '.join(clashes[:5])}\n"
                    "  hint: rename the files or the registry entries (NAME is the path inside "
                    "the package), or remove the copies from the source tree"
                )
            for name, path in files.items():
                force[path] = f"{pkg_path}/{name}"

    def _sdist(self, build_data: dict[str, Any], settings: Settings, registry: Any) -> None:
        force = build_data["force_include"]
        registry_path = settings.registry_path().resolve()
        rel = os.path.relpath(registry_path, Path(self.root).resolve())
        force[str(registry_path)] = rel.replace(os.sep, "/")  # even when VCS-ignored
        if settings.sdist == "bundle":
            config = runtime_config(registry, settings)
            for name, path in self._stage(settings, config, "sdist").items():
                force[path] = f"{BUNDLE_DIR}/{name}"


class DatafetchMetadataHook(MetadataHookInterface):
    """``[tool.hatch.metadata.hooks.datafetch]``: adds the data extra (SPEC §5).

    Reads its settings from the build hook's table (merged with the wheel target's).
    """

    PLUGIN_NAME = PLUGIN_NAME

    def update(self, metadata: dict[str, Any]) -> None:
        try:
            pyproject = _read_pyproject(self.root)
            target = _dig(pyproject, "tool.hatch.build.targets.wheel.hooks.datafetch")
            if not (_dig(pyproject, HATCH_TABLE) or target):
                raise SettingsError(
                    [
                        "the datafetch metadata hook needs the build hook's settings: add "
                        f"[{HATCH_TABLE}] with at least `registry = ...`"
                    ]
                )
            settings = hatch_settings(self.root, metadata["name"], metadata.get("version"), target)
            if "optional-dependencies" not in metadata.get("dynamic", ()):
                raise SettingsError(
                    [
                        "the datafetch metadata hook sets the project's extras, so pyproject.toml "
                        'needs `dynamic = ["optional-dependencies"]` in [project]; move any '
                        "[project.optional-dependencies] into `extras` of "
                        f"[{HATCH_TABLE}] (a field cannot be both static and dynamic)"
                    ]
                )
        except (SettingsError, OSError) as e:
            sys.stderr.write(f"hatch-datafetch: {e}\n")
            raise SystemExit(1) from None
        extras = {name: list(reqs) for name, reqs in settings.extras.items()}
        if settings.data_wheel:
            if settings.data_version is None:
                sys.stderr.write(
                    "hatch-datafetch: `data-version` is required when the project version is "
                    "dynamic and not known to the metadata hook\n"
                )
                raise SystemExit(1)
            extras[settings.data_extra] = [f"{settings.data_name}=={settings.data_version}"]
        metadata["optional-dependencies"] = extras
