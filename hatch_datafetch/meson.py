"""Meson helper subcommands (SPEC §8): ``py -m hatch_datafetch <command>`` from meson.build.

A meson-python project copies one block into the meson.build of its package (printed by
``hatch-datafetch meson-snippet``, also shipped as ``meson/datafetch.meson`` in this
repository) and one option into ``meson.options``.  The block calls:

``mode``
    at configure time (``run_command``): resolves the wheel's data mode from the
    ``data-mode`` option, ``HATCH_DATAFETCH_WHEEL`` and ``[tool.datafetch] wheel`` and
    validates the settings and the registry.  Fast: no network, no hashing.
``gen-runtime``
    a ``custom_target`` writing ``<locator>.py`` and ``<locator>_registry.json``, byte for
    byte what the Hatch hook ships for the same settings and mode.
``stage``
    bundle mode only: a ``custom_target`` whose output directory, named like the package,
    holds the verified files laid out by NAME; meson-python walks it into the wheel.
``dist``
    ``meson.add_dist_script``: verified files into ``_datafetch_bundle/`` of the sdist
    when ``sdist = "bundle"``, with normalised mtimes and modes.

The block and the ``meson.options`` lines are rendered from :data:`SNIPPET` and
:data:`OPTIONS` here, the one source for the command's output and the ``meson/`` files.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import string
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .core import BUNDLE_DIR, BuildError, render_config, runtime_config, runtime_source, stage_files
from .registry import Registry, RegistryError, load_registry
from .settings import MODES, TOOL_TABLE, BuildEnvironment, Settings, SettingsError, load_pyproject

__all__ = [
    "DATA_MODES",
    "OPTIONS",
    "SNIPPET",
    "WRAP_MODES",
    "add_commands",
    "render_snippet",
    "resolve_mode",
    "resolve_offline",
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
  output: ['${locator}.py', '${locator}_registry.json'],
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

Handler = Callable[[argparse.Namespace], int]


def _usage_error(message: str) -> Exception:
    from .cli import UsageError  # lazy: cli imports this module

    return UsageError(message)


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


def render_options() -> str:
    """The ``meson.options`` lines (meson >= 1.1; ``meson_options.txt`` before)."""
    return OPTIONS


def _is_dotted(value: str) -> bool:
    return bool(value) and all(p.isidentifier() for p in value.split("."))


def cmd_meson_snippet(args: argparse.Namespace) -> int:
    if args.options:
        sys.stdout.write(render_options())
        return 0
    package, locator = args.package, args.locator
    if args.pyproject:
        settings = load_pyproject(args.pyproject)
        package = package or settings.package
        locator = locator or settings.locator
    if args.subdir is not None:
        subdir = args.subdir.strip("/").replace("\\", "/")
        from_subdir = subdir.replace("/", ".")
        if not _is_dotted(from_subdir):
            raise _usage_error(
                f"--subdir {args.subdir!r}: expected the install sub-directory of a Python "
                "package, like 'skimage/data' (as in py.install_sources(..., subdir: ...))"
            )
        if package and package != from_subdir:
            raise _usage_error(
                f"--package {package!r} and --subdir {args.subdir!r} name different packages; "
                "pass one of them"
            )
        package = from_subdir
    package = package or "mypkg"
    locator = locator or "_datafetch"
    if not _is_dotted(package):
        raise _usage_error(f"--package {package!r}: expected a dotted import name like 'pkg.sub'")
    if not locator.isidentifier():
        raise _usage_error(f"--locator {locator!r}: expected a module name like '_datafetch'")
    sys.stdout.write(render_snippet(package, pure=args.pure == "true", locator=locator))
    return 0


# ---------------------------------------------------------------------- mode


def resolve_mode(option: str, settings: Settings) -> str:
    """``omit`` or ``bundle``: the meson option unless ``auto``, else ``settings.wheel``
    (which already has ``HATCH_DATAFETCH_WHEEL`` applied)."""
    if option not in DATA_MODES:
        raise _usage_error(
            f"meson option data-mode: expected one of {', '.join(DATA_MODES)}, got {option!r}\n"
            "hint: -Csetup-args=-Ddata-mode=omit (or bundle, or auto to follow "
            f"HATCH_DATAFETCH_WHEEL and [{TOOL_TABLE}] wheel)"
        )
    return settings.wheel if option == "auto" else option


def resolve_offline(
    wrap_mode: str | None, env: BuildEnvironment, root: str | os.PathLike[str]
) -> str | None:
    """Why this build must not download (None: it may).

    ``--wrap-mode=nodownload``, ``HATCH_DATAFETCH_OFFLINE=1``, or an unpacked sdist
    (``PKG-INFO`` at the project root) each forbid the network.
    """
    if wrap_mode is not None and wrap_mode not in WRAP_MODES:
        raise _usage_error(
            f"--wrap-mode: expected one of {', '.join(WRAP_MODES)}, got {wrap_mode!r}"
        )
    if os.path.isfile(os.path.join(root, "PKG-INFO")):
        return "building from an sdist, which never downloads"
    if wrap_mode == "nodownload":
        return "meson --wrap-mode=nodownload"
    if env.offline:
        return "HATCH_DATAFETCH_OFFLINE is set"
    return None


def _load(pyproject: str) -> tuple[Settings, Registry]:
    if not os.path.isfile(pyproject):
        raise _usage_error(
            f"{pyproject} not found\n"
            "hint: meson.build passes meson.project_source_root() / 'pyproject.toml'; the "
            f"project needs a pyproject.toml with a [{TOOL_TABLE}] table"
        )
    settings = load_pyproject(pyproject)
    return settings, load_registry(settings.registry_path())


def cmd_mode(args: argparse.Namespace) -> int:
    settings, _registry = _load(args.pyproject)  # validates settings and registry, no hashing
    mode = resolve_mode(args.option, settings)
    resolve_offline(args.wrap_mode, BuildEnvironment.from_env(), settings.root)
    problems = []
    if args.package is not None and args.package != settings.package:
        problems.append(
            f"meson.build installs the locator into package {args.package!r}, but "
            f"{args.pyproject} sets package = {settings.package!r}"
        )
    if args.locator is not None and args.locator != settings.locator:
        problems.append(
            f"meson.build declares the locator module {args.locator!r}, but "
            f"{args.pyproject} sets locator = {settings.locator!r}"
        )
    if problems:
        raise _usage_error(
            "hatch-datafetch: " + "\n".join(problems) + "\nhint: regenerate the meson.build "
            f"block with: hatch-datafetch meson-snippet --pyproject {args.pyproject}"
        )
    print(mode)
    return 0


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
    runtime = str(Path(__file__).with_name("_runtime.py"))
    return [os.path.abspath(pyproject), str(settings.registry_path().resolve()), runtime]


def generated_files(registry: Registry, settings: Settings, mode: str) -> dict[str, bytes]:
    """``<locator>.py`` and ``<locator>_registry.json`` as the Hatch hook ships them."""
    config = runtime_config(registry, dataclasses.replace(settings, wheel=mode))
    return {
        f"{settings.locator}.py": runtime_source(),
        f"{settings.locator}_registry.json": render_config(config),
    }


def cmd_gen_runtime(args: argparse.Namespace) -> int:
    settings, registry = _load(args.pyproject)
    mode = args.mode or settings.wheel
    outdir = Path(args.output)
    files = generated_files(registry, settings, mode)
    for name, data in files.items():
        _atomic_write(outdir / name, data)
    first = os.path.join(args.output, sorted(files)[0])
    _write_depfile(args.depfile, first, _inputs(settings, args.pyproject))
    return 0


# ---------------------------------------------------------------------- stage


def _stage(
    settings: Settings,
    config: Mapping[str, Any],
    *,
    wrap_mode: str | None,
    pyproject: str,
    extra_sources: list[str],
    sdist: bool,
) -> dict[str, str]:
    env = BuildEnvironment.from_env()
    reason = resolve_offline(wrap_mode, env, settings.root)
    network = {
        "meson --wrap-mode=nodownload": "allow network access: configure without "
        "--wrap-mode=nodownload (and without HATCH_DATAFETCH_OFFLINE)",
        "building from an sdist, which never downloads": "build from the git checkout with "
        'network access, or make the sdist bundle the files: sdist = "bundle" in '
        f"[{TOOL_TABLE}] or HATCH_DATAFETCH_SDIST=bundle",
    }
    if sdist:
        more = f'or make the sdist without the data: sdist = "omit" in [{TOOL_TABLE}] or '
        more += "HATCH_DATAFETCH_SDIST=omit"
    else:
        more = "or build the wheel without the data: -Csetup-args=-Ddata-mode=omit (the "
        more += "locator fetches the files at run time)"
    files = stage_files(
        config,
        env,
        jobs=settings.jobs,
        extra_sources=extra_sources,
        offline_reason=None if reason == "HATCH_DATAFETCH_OFFLINE is set" else reason,
        pyproject_hint=pyproject,
        network_remedy=network.get(reason or ""),
        more_remedies=[more],
    )
    size = sum(os.path.getsize(p) for p in files.values())
    print(
        f"hatch-datafetch: {len(files)} verified files ({size / 1e6:.1f} MB) for the "
        + ("sdist" if sdist else "wheel"),
        file=sys.stderr,
    )
    return files


def _package_clashes(settings: Settings, names: list[str]) -> list[str]:
    """Registry names that the package also ships (generated locator or source files)."""
    generated = {f"{settings.locator}.py", f"{settings.locator}_registry.json"}
    rel = Path(*settings.package.split("."))
    dirs = [d for d in (Path(settings.root, rel), Path(settings.root, "src", rel)) if d.is_dir()]
    return [n for n in names if n in generated or any((d / n).exists() for d in dirs)]


def _link_or_copy(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def cmd_stage(args: argparse.Namespace) -> int:
    settings, registry = _load(args.pyproject)
    out = Path(args.output).absolute()
    mark = out.parent / _STAGE_MARK.format(out.name)
    if out.exists() and not mark.exists():
        raise _usage_error(
            f"hatch-datafetch: {out} already exists and was not made by `hatch-datafetch "
            "stage`: the staging target's output directory (named like the package) clashes "
            "with a meson build sub-directory.\nhint: put the hatch-datafetch block into the "
            f"meson.build of the package itself (the one with py.install_sources(..., subdir: "
            f"'{settings.package.replace('.', '/')}')), not into its parent"
        )
    config = runtime_config(registry, dataclasses.replace(settings, wheel="bundle"))
    clashes = _package_clashes(settings, sorted(config["files"]))
    if clashes:
        raise BuildError(
            f"hatch-datafetch: {len(clashes)} registry name(s) collide with files the package "
            f"{settings.package} already ships: {', '.join(clashes[:5])}\n"
            "  hint: rename the files or the registry entries (NAME is the path inside the "
            "package), or remove the copies from the source tree"
        )
    bundle = os.path.join(settings.root, BUNDLE_DIR)
    files = _stage(
        settings,
        config,
        wrap_mode=args.wrap_mode,
        pyproject=args.pyproject,
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
    _write_depfile(args.depfile, args.output, _inputs(settings, args.pyproject))
    return 0


# ---------------------------------------------------------------------- dist


def _dist_mtime(dist_root: Path) -> int:
    """``SOURCE_DATE_EPOCH``, else the mtime ``git archive`` gave pyproject.toml (the commit
    time, which meson-python also uses for PKG-INFO)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return int(epoch)
        except ValueError:
            raise _usage_error(
                f"SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {epoch!r}"
            ) from None
    return int((dist_root / "pyproject.toml").stat().st_mtime)


def cmd_dist(args: argparse.Namespace) -> int:
    root = os.environ.get("MESON_PROJECT_DIST_ROOT")
    if not root:
        raise _usage_error(
            "hatch-datafetch dist runs as a meson dist script: meson.add_dist_script(py, '-m', "
            "'hatch_datafetch', 'dist') in meson.build; MESON_PROJECT_DIST_ROOT is not set"
        )
    dist_root = Path(root)
    pyproject = args.pyproject or str(dist_root / "pyproject.toml")
    if not os.path.isfile(pyproject):
        raise _usage_error(f"{pyproject} not found in the dist tree; is it committed to git?")
    settings = load_pyproject(pyproject)
    if settings.sdist == "omit":
        print(
            'hatch-datafetch: sdist = "omit": the sdist carries the registry, not the data '
            f'(sdist = "bundle" in [{TOOL_TABLE}] or HATCH_DATAFETCH_SDIST=bundle bundles it)',
            file=sys.stderr,
        )
        return 0
    if not settings.registry_path().is_file():
        raise _usage_error(
            f"hatch-datafetch: the registry {settings.registry} is not in the sdist tree "
            f"{dist_root}; meson dist archives git HEAD, so commit it"
        )
    registry = load_registry(settings.registry_path())
    target = dist_root / BUNDLE_DIR
    if target.exists():
        raise _usage_error(
            f"hatch-datafetch: {target} already exists; {BUNDLE_DIR}/ is written by the dist "
            "script and must not be committed to git"
        )
    config = runtime_config(registry, settings)
    files = _stage(
        settings,
        config,
        wrap_mode=args.wrap_mode,
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
    return 0


# ---------------------------------------------------------------------- registration


def _configure_reporting(func: Handler) -> Handler:
    """For ``mode``: Meson shows the message as ``ERROR: Problem encountered: <message>``,
    so print it without the CLI's own ``ERROR`` prefix (exit 2, no traceback)."""

    def run(args: argparse.Namespace) -> int:
        from .cli import UsageError

        try:
            result = func(args)
        except (UsageError, SettingsError, RegistryError) as e:
            message = str(e).rstrip()
            if "hatch-datafetch" not in message.split("\n", 1)[0]:
                message = f"hatch-datafetch: {message}"
            print(message, file=sys.stderr)
            return 2
        return result

    return run


def add_commands(sub: Any) -> None:
    """Register the meson subcommands on the ``hatch-datafetch`` subparsers."""

    def pyproject(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument(
            "--pyproject",
            metavar="FILE",
            required=required,
            help=f"the project's pyproject.toml, with a [{TOOL_TABLE}] table",
        )

    def wrap_mode(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--wrap-mode",
            metavar="MODE",
            default=None,
            help="meson's wrap_mode option; nodownload means offline, like "
            "HATCH_DATAFETCH_OFFLINE=1",
        )

    def depfile(p: argparse.ArgumentParser) -> None:
        p.add_argument("--depfile", metavar="FILE", help="write a ninja depfile (@DEPFILE@)")

    m = sub.add_parser(
        "mode",
        help="meson configure step: print the wheel's data mode (omit or bundle)",
        description="Resolve the wheel's data mode: the data-mode option unless 'auto', else "
        f"HATCH_DATAFETCH_WHEEL, else [{TOOL_TABLE}] wheel. Validates the settings and the "
        "registry (no network, no hashing); --package/--locator check that meson.build "
        "matches them.",
    )
    pyproject(m)
    m.add_argument("--option", default="auto", metavar="VALUE", help="auto, omit or bundle")
    wrap_mode(m)
    m.add_argument("--package", default=None, help="the package meson.build installs into")
    m.add_argument("--locator", default=None, help="the locator module meson.build declares")
    m.set_defaults(func=_configure_reporting(cmd_mode))

    g = sub.add_parser(
        "gen-runtime",
        help="write <locator>.py and <locator>_registry.json into a directory",
        description="Write the locator module and its registry JSON into OUTDIR, byte for "
        "byte what the Hatch build hook puts into a wheel of the same settings and mode.",
    )
    pyproject(g)
    g.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    g.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="the wheel's data mode (default: [tool.datafetch] wheel / HATCH_DATAFETCH_WHEEL)",
    )
    depfile(g)
    g.set_defaults(func=cmd_gen_runtime)

    s = sub.add_parser(
        "stage",
        help="verified data files laid out by NAME in OUTDIR (bundle mode)",
        description="Put every registry file, hash-verified, into OUTDIR by NAME (replacing "
        "OUTDIR atomically). Sources: the unpacked sdist's _datafetch_bundle, "
        "HATCH_DATAFETCH_SOURCE, the build cache, then the network unless offline "
        "(--wrap-mode=nodownload, HATCH_DATAFETCH_OFFLINE=1 or building from an sdist).",
    )
    pyproject(s)
    s.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    wrap_mode(s)
    depfile(s)
    s.set_defaults(func=cmd_stage)

    d = sub.add_parser(
        "dist",
        help="meson dist script: verified files into the sdist's _datafetch_bundle/",
        description='With sdist = "bundle": put the verified files into '
        f"$MESON_PROJECT_DIST_ROOT/{BUNDLE_DIR}/NAME, mtimes set to SOURCE_DATE_EPOCH (else "
        "the commit time) for reproducible sdists. A no-op otherwise.",
    )
    pyproject(d, required=False)
    wrap_mode(d)
    d.set_defaults(func=cmd_dist)

    n = sub.add_parser(
        "meson-snippet",
        help="print the meson.build block (or, with --options, the meson.options lines)",
        description="Print the block to paste into the meson.build of the package that "
        "receives the locator (where py.install_sources(..., subdir: DIR) is).",
    )
    n.add_argument("--package", default=None, help="dotted package (default: mypkg)")
    n.add_argument(
        "--subdir", default=None, metavar="DIR", help="the package's install subdir, e.g. a/b"
    )
    n.add_argument(
        "--pure",
        choices=["true", "false"],
        default="false",
        help="as in py.install_sources(pure: ...) for the package (default: false)",
    )
    n.add_argument("--locator", default=None, help="locator module name (default: _datafetch)")
    n.add_argument(
        "--pyproject", metavar="FILE", default=None, help="take package and locator from here"
    )
    n.add_argument("--options", action="store_true", help="print the meson.options lines")
    n.set_defaults(func=cmd_meson_snippet)
