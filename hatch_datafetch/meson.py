"""Meson helper subcommands (SPEC §8): ``py -m hatch_datafetch <command>`` from meson.build.

A meson-python project copies one block into the meson.build of its package (printed by
``hatch-datafetch meson-snippet``, also shipped as ``meson/datafetch.meson`` in this
repository) and one option into ``meson.options``.  The block calls:

``mode``
    at configure time (``run_command``): resolves the wheel's data mode from the
    ``data-mode`` option, ``HATCH_DATAFETCH_WHEEL`` and ``[tool.datafetch] wheel`` and
    validates the settings and the registry.  Fast: no network, no hashing.
``gen-runtime``
    a ``custom_target`` writing the locator package ``<locator>/`` (a directory output,
    walked into the wheel) and ``<locator>_registry.json``, byte for byte what the Hatch
    hook ships for the same settings and mode.
``stage``
    bundle mode only: a ``custom_target`` whose output directory, named like the package,
    holds the verified files laid out by NAME; meson-python walks it into the wheel.
``dist``
    ``meson.add_dist_script``: verified files into ``_datafetch_bundle/`` of the sdist
    when ``sdist = "bundle"``, with normalised mtimes and modes.

The block and the ``meson.options`` lines are rendered from :data:`SNIPPET` and
:data:`OPTIONS` here, the one source for the command's output and the ``meson/`` files.
Each command is a function here that returns or raises; ``hatch_datafetch.cli`` parses the
arguments and prints.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import string
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import UsageError
from .registry import Registry, load_registry
from .resolved import SDIST_RECORD, resolve_config, sdist_record
from .settings import (
    TOOL_TABLE,
    BuildEnvironment,
    Settings,
    is_dotted_name,
    is_module_name,
    load_pyproject,
)
from .staging import (
    BUNDLE_DIR,
    NETWORK_REMEDIES,
    Offline,
    check_no_clashes,
    generated_files,
    offline_reason,
    runtime_config,
    stage_files,
)

__all__ = [
    "DATA_MODES",
    "INSTALL_TAG",
    "OPTIONS",
    "SNIPPET",
    "WRAP_MODES",
    "dist",
    "extras_lines",
    "gen_runtime",
    "mode",
    "render_snippet",
    "resolve_mode",
    "resolve_offline",
    "snippet",
    "stage",
]

#: Values of the ``data-mode`` meson option; ``auto`` defers to the env and pyproject.
DATA_MODES = ("auto", "omit", "bundle")
#: Meson's ``wrap_mode`` values; ``nodownload`` is the distros' offline switch.
WRAP_MODES = ("default", "nofallback", "nodownload", "forcefallback", "nopromote")
#: The install tag of everything the block installs (kept by ``--tags=runtime,python-runtime``).
INSTALL_TAG = "python-runtime"

OPTIONS = """\
option('data-mode', type: 'combo', choices: ['auto', 'omit', 'bundle'], value: 'auto',
  description: 'hatch-datafetch: data files inside the wheel (bundle) or only the '
    + 'registry and locator (omit); auto: HATCH_DATAFETCH_WHEEL, else [tool.datafetch] wheel')
"""

SNIPPET = """\
# hatch-datafetch: the data-file locator of package '${package}' and, in bundle mode, the
# verified data files inside it. Settings: [tool.datafetch] in pyproject.toml; needs
# "hatch-datafetch" in [build-system] requires and the data-mode option of meson.options.
# Printed by: hatch-datafetch meson-snippet ${args}
datafetch_py = import('python').find_installation(pure: ${pure})
datafetch_cmd = [datafetch_py, '-m', 'hatch_datafetch']
datafetch_pyproject = meson.project_source_root() / 'pyproject.toml'
datafetch_offline = ['--wrap-mode', get_option('wrap_mode')]  # nodownload = offline
import('fs').read(datafetch_pyproject)  # reconfigure when the settings change
datafetch_check = run_command(datafetch_cmd, 'mode', '--pyproject', datafetch_pyproject,
  '--option', get_option('data-mode'), datafetch_offline,
  '--package', '${package}', '--locator', '${locator}', check: false)
if datafetch_check.returncode() != 0
  error(datafetch_check.stderr().strip())
endif
datafetch_mode = datafetch_check.stdout().strip()  # 'omit' or 'bundle'
custom_target('datafetch-runtime',
  output: ['${locator}', '${locator}_registry.json'],  # the locator package, its registry
  command: [datafetch_cmd, 'gen-runtime', '--pyproject', datafetch_pyproject,
    '--mode', datafetch_mode, '-o', '@OUTDIR@', '--depfile', '@DEPFILE@'],
  depfile: 'datafetch-runtime.d',
  install: true,
  install_dir: datafetch_py.get_install_dir(pure: ${pure}) / '${subdir}',
  install_tag: '${tag}',
)
if datafetch_mode == 'bundle'  # omit mode must not even declare it: tags do not stop builds
  custom_target('datafetch-data',
    output: '${leaf}',  # a directory, walked into ${subdir}/ of the wheel
    command: [datafetch_cmd, 'stage', '--pyproject', datafetch_pyproject,
      datafetch_offline, '-o', '@OUTPUT@', '--depfile', '@DEPFILE@'],
    depfile: 'datafetch-data.d',
    install: true,
    install_dir: ${parent_dir},
    install_tag: '${tag}',
  )
endif
meson.add_dist_script(datafetch_py, '-m', 'hatch_datafetch', 'dist', datafetch_offline)
"""

_STAGE_MARK = ".{}.hatch-datafetch-stage"


# ---------------------------------------------------------------------- snippet


def render_snippet(
    package: str = "mypkg", *, pure: bool = False, locator: str = "_datafetch"
) -> str:
    """The meson.build block for *package* (dotted), installed with ``pure: <pure>``."""
    subdir = package.replace(".", "/")
    parent, _, leaf = subdir.rpartition("/")
    install = f"datafetch_py.get_install_dir(pure: {str(pure).lower()})"
    return string.Template(SNIPPET).substitute(
        package=package,
        subdir=subdir,
        leaf=leaf,
        parent_dir=f"{install} / '{parent}'" if parent else install,
        pure=str(pure).lower(),
        locator=locator,
        tag=INSTALL_TAG,
        args=f"--package {package} --pure {str(pure).lower()}"
        + (f" --locator {locator}" if locator != "_datafetch" else ""),
    )


def snippet(
    *,
    package: str | None = None,
    subdir: str | None = None,
    pure: bool = False,
    locator: str | None = None,
    pyproject: str | None = None,
) -> str:
    """The ``meson-snippet`` command: the block for a package named by ``package``, its
    install ``subdir`` (``a/b``) or the settings in ``pyproject``."""
    if pyproject:
        settings = load_pyproject(pyproject)
        package = package or settings.package
        locator = locator or settings.locator
    if subdir is not None:
        clean = subdir.strip("/").replace("\\", "/")
        from_subdir = clean.replace("/", ".")
        if not is_dotted_name(from_subdir):
            raise UsageError(
                f"--subdir {subdir!r}: expected the install sub-directory of a Python "
                "package, like 'skimage/data' (as in py.install_sources(..., subdir: ...))"
            )
        if package and package != from_subdir:
            raise UsageError(
                f"--package {package!r} and --subdir {subdir!r} name different packages",
                hint="pass one of them",
            )
        package = from_subdir
    package = package or "mypkg"
    locator = locator or "_datafetch"
    if not is_dotted_name(package):
        raise UsageError(f"--package {package!r}: expected a dotted import name like 'pkg.sub'")
    if not is_module_name(locator):
        raise UsageError(f"--locator {locator!r}: expected a module name like '_datafetch'")
    return render_snippet(package, pure=pure, locator=locator)


def extras_lines(pyproject: str) -> str:
    """The ``[project.optional-dependencies]`` lines that bring in the data wheels (meson
    projects write them themselves: no metadata hook), plus the project's other extras."""
    from ._toml import toml_key, toml_string
    from .staging import data_extras

    settings, registry = _load(pyproject)
    if settings.data_version is None:
        raise UsageError(
            "the project version is dynamic, so the data version is unknown",
            hint="set data-version in the settings table",
        )
    extras = {name: list(reqs) for name, reqs in settings.extras.items()}
    extras.update(data_extras(registry, settings))
    lines = ["[project.optional-dependencies]"]
    for name, reqs in sorted(extras.items()):
        lines.append(f"{toml_key(name)} = [{', '.join(toml_string(r) for r in reqs)}]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- mode


def resolve_mode(option: str, settings: Settings) -> str:
    """``omit`` or ``bundle``: the meson option unless ``auto``, else ``settings.wheel``
    (which already has ``HATCH_DATAFETCH_WHEEL`` applied)."""
    if option not in DATA_MODES:
        raise UsageError(
            f"meson option data-mode: expected one of {', '.join(DATA_MODES)}, got {option!r}",
            hint="-Csetup-args=-Ddata-mode=omit (or bundle, or auto to follow "
            f"HATCH_DATAFETCH_WHEEL and [{TOOL_TABLE}] wheel)",
        )
    return settings.wheel if option == "auto" else option


def resolve_offline(
    wrap_mode: str | None, env: BuildEnvironment, root: str | os.PathLike[str]
) -> Offline | None:
    """Why this build must not download (None: it may): an unpacked sdist,
    ``--wrap-mode=nodownload`` or ``HATCH_DATAFETCH_OFFLINE=1``."""
    if wrap_mode is not None and wrap_mode not in WRAP_MODES:
        raise UsageError(f"--wrap-mode: expected one of {', '.join(WRAP_MODES)}, got {wrap_mode!r}")
    return offline_reason(root, env, wrap_mode=wrap_mode)


def _load(pyproject: str) -> tuple[Settings, Registry]:
    if not os.path.isfile(pyproject):
        raise UsageError(
            f"{pyproject} not found",
            hint="meson.build passes meson.project_source_root() / 'pyproject.toml'; the "
            f"project needs a pyproject.toml with a [{TOOL_TABLE}] table",
        )
    settings = load_pyproject(pyproject)
    return settings, load_registry(settings.registry_path())


def mode(
    pyproject: str,
    option: str = "auto",
    *,
    wrap_mode: str | None = None,
    package: str | None = None,
    locator: str | None = None,
) -> str:
    """The ``mode`` command (configure time: no network, no hashing): validate the settings,
    the registry and what meson.build declares; return ``omit`` or ``bundle``."""
    settings, _registry = _load(pyproject)
    resolved = resolve_mode(option, settings)
    resolve_offline(wrap_mode, BuildEnvironment.from_env(), settings.root)
    problems = []
    if package is not None and package != settings.package:
        problems.append(
            f"meson.build installs the locator into package {package!r}, but "
            f"{pyproject} sets package = {settings.package!r}"
        )
    if locator is not None and locator != settings.locator:
        problems.append(
            f"meson.build declares the locator module {locator!r}, but "
            f"{pyproject} sets locator = {settings.locator!r}"
        )
    if problems:
        raise UsageError(
            "\n".join(problems),
            hint="regenerate the meson.build block with: hatch-datafetch meson-snippet "
            f"--pyproject {pyproject}",
        )
    return resolved


# ---------------------------------------------------------------------- gen-runtime


def _depfile_path(path: str) -> str:
    return path.replace("\\", "/").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")


def _write_depfile(depfile: str | None, target: str, deps: list[str]) -> None:
    if not depfile:
        return
    line = f"{_depfile_path(target)}: " + " ".join(_depfile_path(d) for d in deps) + "\n"
    _atomic_write(Path(depfile), line.encode())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inputs(settings: Settings, pyproject: str) -> list[str]:
    """Files whose change must regenerate the outputs (for the depfile)."""
    runtime = Path(__file__).with_name("_runtime")
    modules = sorted(str(p) for p in runtime.glob("*.py"))
    return [os.path.abspath(pyproject), str(settings.registry_path().resolve()), *modules]


def runtime_outputs(registry: Registry, settings: Settings, mode: str) -> dict[str, bytes]:
    """The locator package and its JSON, by path, as the Hatch hook ships them (doi: URLs
    resolved, as there)."""
    config = runtime_config(registry, dataclasses.replace(settings, wheel=mode))
    config = _resolved(config, settings, None)
    return generated_files(config, settings.locator)


def _resolved(config: dict[str, Any], settings: Settings, wrap_mode: str | None) -> dict[str, Any]:
    """``config`` with its doi: URLs resolved (:mod:`.resolved`): from the sdist's records,
    the build cache, else the network unless offline."""
    reason = resolve_offline(wrap_mode, BuildEnvironment.from_env(), settings.root)
    return resolve_config(config, root=settings.root, offline=reason.value if reason else None)


def gen_runtime(
    pyproject: str, output: str, *, mode: str | None = None, depfile: str | None = None
) -> None:
    """The ``gen-runtime`` command: the locator package ``OUTPUT/<locator>/`` (replaced as a
    whole, so no module of an older tool stays behind) and ``OUTPUT/<locator>_registry.json``."""
    settings, registry = _load(pyproject)
    outdir = Path(output)
    outdir.mkdir(parents=True, exist_ok=True)
    files = runtime_outputs(registry, settings, mode or settings.wheel)
    leaf = settings.locator
    tmp = Path(tempfile.mkdtemp(prefix=f".{leaf}.", suffix=".tmp", dir=outdir))
    try:
        for name, data in files.items():
            if name.startswith(f"{leaf}/"):
                target = tmp / name[len(leaf) + 1 :]
                target.write_bytes(data)
                os.chmod(target, 0o644)
        os.chmod(tmp, 0o755)
        final = outdir / leaf
        if final.is_dir() and not final.is_symlink():
            old = outdir / f".{leaf}.{os.getpid()}.old"
            os.replace(final, old)
            shutil.rmtree(old)
        elif final.exists() or final.is_symlink():
            final.unlink()
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    _atomic_write(outdir / f"{leaf}_registry.json", files[f"{leaf}_registry.json"])
    _write_depfile(depfile, os.path.join(output, leaf), _inputs(settings, pyproject))


# ---------------------------------------------------------------------- stage


def _remedies(sdist: bool) -> tuple[Mapping[Offline | None, str], str]:
    """How a meson build may download, by reason, and its fourth remedy (skip the data)."""
    network = {
        **NETWORK_REMEDIES,
        Offline.SDIST: "build from the git checkout with network access, or make the sdist "
        f'bundle the files: sdist = "bundle" in [{TOOL_TABLE}] or HATCH_DATAFETCH_SDIST=bundle',
    }
    if sdist:
        more = f'or make the sdist without the data: sdist = "omit" in [{TOOL_TABLE}] or '
        more += "HATCH_DATAFETCH_SDIST=omit"
    else:
        more = "or build the wheel without the data: -Csetup-args=-Ddata-mode=omit (the "
        more += "locator fetches the files at run time)"
    return network, more


def _stage_files(
    settings: Settings,
    config: Mapping[str, Any],
    *,
    wrap_mode: str | None,
    pyproject: str,
    extra_sources: list[str],
    sdist: bool,
) -> dict[str, str]:
    env = BuildEnvironment.from_env()
    network, more = _remedies(sdist)
    return stage_files(
        config,
        env,
        jobs=settings.jobs,
        extra_sources=extra_sources,
        offline=resolve_offline(wrap_mode, env, settings.root),
        pyproject_hint=pyproject,
        network_remedies=network,
        more_remedies=[more],
    )


def _link_or_copy(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def stage(
    pyproject: str, output: str, *, wrap_mode: str | None = None, depfile: str | None = None
) -> dict[str, str]:
    """The ``stage`` command: the verified files laid out by NAME in ``output`` (replaced
    atomically). Returns NAME -> the verified source path."""
    settings, registry = _load(pyproject)
    out = Path(output).absolute()
    mark = out.parent / _STAGE_MARK.format(out.name)
    if out.exists() and not mark.exists():
        raise UsageError(
            f"{out} already exists and was not made by `hatch-datafetch stage`: the staging "
            "target's output directory (named like the package) clashes with a meson build "
            "sub-directory",
            hint="put the hatch-datafetch block into the meson.build of the package itself "
            "(the one with py.install_sources(..., subdir: "
            f"'{settings.package.replace('.', '/')}')), not into its parent",
        )
    config = runtime_config(registry, dataclasses.replace(settings, wheel="bundle"))
    config = _resolved(config, settings, wrap_mode)
    rel = Path(*settings.package.split("."))
    check_no_clashes(
        sorted(config["files"]),
        settings,
        [Path(settings.root, rel), Path(settings.root, "src", rel)],
    )
    bundle = os.path.join(settings.root, BUNDLE_DIR)
    files = _stage_files(
        settings,
        config,
        wrap_mode=wrap_mode,
        pyproject=pyproject,
        extra_sources=[bundle] if os.path.isdir(bundle) else [],
        sdist=False,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = tmp.with_suffix(".old")
    try:
        for name, path in files.items():
            _link_or_copy(path, tmp.joinpath(*name.split("/")))
        mark.touch()
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    _write_depfile(depfile, output, _inputs(settings, pyproject))
    return files


# ---------------------------------------------------------------------- dist


def _dist_mtime(dist_root: Path) -> int:
    """``SOURCE_DATE_EPOCH``, else the mtime ``git archive`` gave pyproject.toml (the commit
    time, which meson-python also uses for PKG-INFO)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return int(epoch)
        except ValueError:
            raise UsageError(
                f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {epoch!r}"
            ) from None
    return int((dist_root / "pyproject.toml").stat().st_mtime)


def dist(pyproject: str | None = None, *, wrap_mode: str | None = None) -> dict[str, str] | None:
    """The ``dist`` script: with ``sdist = "bundle"``, the verified files into
    ``$MESON_PROJECT_DIST_ROOT/_datafetch_bundle/``; returns them, or None for omit."""
    root = os.environ.get("MESON_PROJECT_DIST_ROOT")
    if not root:
        raise UsageError(
            "MESON_PROJECT_DIST_ROOT is not set",
            hint="hatch-datafetch dist runs as a meson dist script: meson.add_dist_script(py, "
            "'-m', 'hatch_datafetch', 'dist') in meson.build",
        )
    dist_root = Path(root)
    pyproject = pyproject or str(dist_root / "pyproject.toml")
    if not os.path.isfile(pyproject):
        raise UsageError(f"{pyproject} not found in the dist tree; is it committed to git?")
    settings = load_pyproject(pyproject)
    _dist_record(settings, dist_root, wrap_mode)
    if settings.sdist == "omit":
        return None
    if not settings.registry_path().is_file():
        raise UsageError(
            f"the registry {settings.registry} is not in the sdist tree {dist_root}",
            hint="meson dist archives git HEAD, so commit it",
        )
    registry = load_registry(settings.registry_path())
    target = dist_root / BUNDLE_DIR
    if target.exists():
        raise UsageError(
            f"{target} already exists",
            hint=f"{BUNDLE_DIR}/ is written by the dist script and must not be committed to git",
        )
    files = _stage_files(
        settings,
        _resolved(runtime_config(registry, settings), settings, wrap_mode),
        wrap_mode=wrap_mode,
        pyproject=pyproject,
        extra_sources=[],
        sdist=True,
    )
    mtime = _dist_mtime(dist_root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{BUNDLE_DIR}.", dir=dist_root))
    try:
        for name, path in files.items():
            dst = tmp.joinpath(*name.split("/"))
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst)  # a copy: mode and mtime are changed below
            os.chmod(dst, 0o644)
            os.utime(dst, (mtime, mtime))
        for d in sorted((p for p in tmp.rglob("*") if p.is_dir()), reverse=True):
            os.chmod(d, 0o755)
            os.utime(d, (mtime, mtime))
        os.chmod(tmp, 0o755)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def _dist_record(settings: Settings, dist_root: Path, wrap_mode: str | None) -> None:
    """The records of the registry's doi: URLs into the sdist (``_datafetch_dois.json``), so
    that a wheel built from it, offline, has concrete URLs (:mod:`.resolved`)."""
    if not settings.registry_path().is_file():
        return  # (said below, in bundle mode; an omit sdist without it fails at the wheel)
    config = runtime_config(load_registry(settings.registry_path()), settings)
    reason = resolve_offline(wrap_mode, BuildEnvironment.from_env(), settings.root)
    data = sdist_record(config, root=settings.root, offline=reason.value if reason else None)
    if data is not None:
        target = dist_root / SDIST_RECORD
        _atomic_write(target, data)
        mtime = _dist_mtime(dist_root)
        os.utime(target, (mtime, mtime))
