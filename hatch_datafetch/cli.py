"""``hatch-datafetch`` command line. The library raises; only this module prints and exits.

Exit codes: 0 success, 1 a download, hash or verification failure, 2 a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._runtime import DataNotFoundError, HashMismatchError, Locator, UnknownFileError
from .core import BuildError, build_locator, runtime_config
from .registry import Registry, RegistryError, dump_text, dump_toml, load_registry, make_registry
from .settings import BuildEnvironment, Settings, SettingsError, load_pyproject


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


def _add_source(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--registry", metavar="FILE", help="registry manifest (.txt pooch or .toml)")
    g.add_argument(
        "--pyproject",
        metavar="FILE",
        help="read settings from [tool.datafetch] or [tool.hatch.build.hooks.datafetch] "
        "(default: ./pyproject.toml)",
    )


def _add_urls(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", metavar="URL", help="override the registry's base URL")
    p.add_argument(
        "--mirror",
        metavar="URL",
        action="append",
        default=None,
        help="mirror base URL, tried in order after the base URL (repeatable; replaces the "
        "registry's mirrors)",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hatch-datafetch",
        description="Registry-driven data files for Python packages: download, verify, list "
        "and hash them, build the companion data wheel, write conda recipe sources, and run "
        "the meson-python build steps. The Hatch build hook is configured in pyproject.toml "
        "([tool.hatch.build.hooks.datafetch]); see the README.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "download",
        help="download and verify files into DIR, laid out by NAME",
        description="Download every registry file (or only --file NAMEs) into --dest, laid "
        "out by NAME, hash-verified. Files already valid in DEST, in HATCH_DATAFETCH_SOURCE "
        "dirs or in the build cache are not downloaded again.",
    )
    _add_source(d)
    _add_urls(d)
    d.add_argument("--dest", required=True, metavar="DIR")
    d.add_argument("--jobs", type=int, default=None, help="parallel downloads (default 8)")
    d.add_argument("--file", action="append", default=None, metavar="NAME", help="only NAME")
    d.add_argument("--timeout", type=float, default=30.0, help="seconds per read (default 30)")
    d.add_argument("--retries", type=int, default=3, help="retries per URL (default 3)")
    _add_output(d)

    v = sub.add_parser(
        "verify",
        help="re-hash DIR/NAME for every file; exit 1 if any is missing or bad",
    )
    _add_source(v)
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--jobs", type=int, default=None, help="parallel hashing (default 8)")
    _add_output(v)

    ls = sub.add_parser("list", help="print NAME HASH SIZE URL for every file")
    _add_source(ls)
    _add_urls(ls)
    _add_output(ls)

    m = sub.add_parser(
        "make-registry",
        help="hash every file under DIR into a registry",
        description="Hash every file under DIR (in parallel; dot-files skipped) into a "
        "registry, names sorted. Writes FILE atomically, or stdout.",
    )
    m.add_argument("dir", metavar="DIR")
    m.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    m.add_argument(
        "--format",
        choices=["txt", "toml"],
        default=None,
        help="default: from the -o extension (.toml = toml), else txt (pooch format)",
    )
    m.add_argument("--base-url", metavar="URL", help="base URL recorded in the registry")
    m.add_argument("--jobs", type=int, default=8, help="parallel hashing (default 8)")
    c = sub.add_parser(
        "conda-sources",
        help="print recipe source: entries (url + sha256) for every file",
        description="Print the source: entries of a conda-build (meta.yaml) or rattler-build "
        "(recipe.yaml) recipe that fetch every data file with its checksum into FOLDER, laid "
        "out by NAME, and the build-script lines that make the build use them offline.",
    )
    _add_source(c)
    _add_urls(c)
    c.add_argument(
        "--folder",
        default="datafetch-data",
        metavar="DIR",
        help="where the recipe puts the files, relative to the work dir (default: datafetch-data)",
    )
    c.add_argument("--format", choices=["conda-build", "rattler-build"], default="conda-build")
    b = sub.add_parser(
        "build-data-wheel",
        help="build the companion <name>-data wheel (any build backend)",
        description="Build the companion data wheel from verified files: an unpacked sdist's "
        "_datafetch_bundle, --source dirs, HATCH_DATAFETCH_SOURCE dirs, the build cache, then "
        "the network (never from an unpacked sdist, or with HATCH_DATAFETCH_OFFLINE=1).",
    )
    b.add_argument(
        "--pyproject", metavar="FILE", default="pyproject.toml", help="default: ./pyproject.toml"
    )
    b.add_argument("--source", action="append", default=[], metavar="DIR", help="repeatable")
    b.add_argument("-o", "--outdir", default="dist", metavar="DIR", help="default: dist")
    b.add_argument("--jobs", type=int, default=None, help="parallel downloads (default 8)")
    for name, sp in sub.choices.items():
        sp.set_defaults(func=COMMANDS[name])
    from .meson import add_commands

    add_commands(sub)  # gen-runtime, stage, dist, mode, meson-snippet
    return p


def _add_output(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")


def _load(args: argparse.Namespace) -> tuple[Registry, Settings | None]:
    if args.registry:
        return load_registry(args.registry), None
    pyproject = args.pyproject or "pyproject.toml"
    if not os.path.exists(pyproject):
        raise UsageError(
            f"{pyproject} not found\n"
            "hint: pass --registry FILE, or --pyproject FILE pointing at a project that has "
            "a [tool.datafetch] table"
        )
    settings = load_pyproject(pyproject)
    return load_registry(settings.registry_path()), settings


def _jobs(args: argparse.Namespace, settings: Settings | None) -> int:
    jobs: int = args.jobs if args.jobs is not None else (settings.jobs if settings else 8)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    return jobs


def _locator(args: argparse.Namespace) -> tuple[Locator, Settings | None, Registry]:
    registry, settings = _load(args)
    config = runtime_config(
        registry,
        settings,
        base_url=getattr(args, "base_url", None),
        mirrors=getattr(args, "mirror", None),
    )
    silent = getattr(args, "quiet", False) or getattr(args, "json", False)
    loc = build_locator(config, BuildEnvironment.from_env(), progress=False if silent else None)
    return loc, settings, registry


def cmd_download(args: argparse.Namespace) -> int:
    loc, settings, _ = _locator(args)
    jobs = _jobs(args, settings)
    loc.timeout, loc.retries = args.timeout, args.retries
    dest = Path(args.dest).resolve()
    for name in args.file or ():
        loc._check_name(name)  # unknown names are usage errors, before any download
    paths = loc.fetch_all(dest, jobs, args.file)
    if args.json:
        json.dump({"dest": str(dest), "files": {n: str(p) for n, p in paths.items()}}, sys.stdout)
        print()
    elif not args.quiet:
        print(f"{len(paths)} files verified in {dest}", file=sys.stderr)
        if settings is not None:
            print(f"export {settings.env_var}={dest}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    loc, settings, _ = _locator(args)
    if not os.path.isdir(args.dir):
        raise UsageError(f"{args.dir} is not a directory")
    report = loc.verify(args.dir, _jobs(args, settings))
    if args.json:
        out = {
            "ok": report.ok,
            "missing": report.missing,
            "bad": [
                {"name": n, "path": p, "expected": loc.files[n]["hash"], "actual": a}
                for n, p, a in report.bad
            ],
        }
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        for name in report.missing:
            print(f"missing  {name}")
        for name, _path, actual in report.bad:
            print(f"bad      {name}  expected {loc.files[name]['hash']}, got {actual}")
        if not args.quiet:
            print(
                f"{len(report.ok)} ok, {len(report.missing)} missing, {len(report.bad)} bad",
                file=sys.stderr,
            )
    return 0 if report else 1


_CONDA_HASHES = ("sha256", "sha1", "md5")  # what both recipe formats can check


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def cmd_conda_sources(args: argparse.Namespace) -> int:
    loc, _, _ = _locator(args)
    rattler = args.format == "rattler-build"
    folder_key, file_key = ("target_directory", "file_name") if rattler else ("folder", "fn")
    folder = args.folder.strip("/")
    out = ["source:", f"  # hatch-datafetch conda-sources: {len(loc.files)} data files"]
    unverifiable = []
    for name in sorted(loc.files):
        urls = loc.urls(name)
        if not urls:
            raise UsageError(f"{name!r} has no URL\nhint: pass --base-url or set base-url")
        alg, _, digest = loc.files[name]["hash"].partition(":")
        directory, _, base = f"{folder}/{name}".rpartition("/")
        if len(urls) == 1:
            out.append(f"  - url: {_yaml_str(urls[0])}")
        else:  # both tools try a list of URLs as mirrors
            out.append("  - url:")
            out += [f"      - {_yaml_str(u)}" for u in urls]
        if alg in _CONDA_HASHES:
            out.append(f"    {alg}: {digest}")
        else:
            unverifiable.append(name)
        out.append(f"    {folder_key}: {_yaml_str(directory)}")
        out.append(f"    {file_key}: {_yaml_str(base)}")
    out += [
        "# build script: make the wheel build take the files from there, never the network:",
        f'#   export HATCH_DATAFETCH_SOURCE="$SRC_DIR/{folder}" HATCH_DATAFETCH_OFFLINE=1',
    ]
    print("\n".join(out))
    if unverifiable:
        print(
            f"warning: {len(unverifiable)} file(s) have hashes recipes cannot check "
            f"({', '.join(unverifiable[:3])}...); the build still verifies them",
            file=sys.stderr,
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    loc, _, _ = _locator(args)
    rows: list[dict[str, Any]] = []
    for name in sorted(loc.files):
        spec = loc.files[name]
        urls = loc.urls(name)
        rows.append({"name": name, "hash": spec["hash"], "size": spec["size"], "urls": urls})
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    else:
        for r in rows:
            size = "-" if r["size"] is None else str(r["size"])
            print(f"{r['name']} {r['hash']} {size} {r['urls'][0] if r['urls'] else ''}".rstrip())
    return 0


def cmd_make_registry(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    fmt = args.format or ("toml" if (args.output or "").endswith(".toml") else "txt")
    reg = make_registry(args.dir, base_url=args.base_url, jobs=args.jobs)
    text = dump_toml(reg) if fmt == "toml" else dump_text(reg)
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {len(reg)} files to {out} ({fmt})", file=sys.stderr)
    return 0


def _pkg_info_version(root: Path) -> str | None:
    pkg_info = root / "PKG-INFO"
    if not pkg_info.is_file():
        return None
    for line in pkg_info.read_text(encoding="utf-8").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
        if not line:
            break
    return None


def cmd_build_data_wheel(args: argparse.Namespace) -> int:
    import dataclasses

    from .core import BUNDLE_DIR, stage_files
    from .datawheel import build_data_wheel
    from .settings import load_pyproject

    if not os.path.exists(args.pyproject):
        raise UsageError(f"{args.pyproject} not found\nhint: pass --pyproject FILE")
    settings = load_pyproject(args.pyproject)
    root = Path(settings.root)
    if settings.data_version is None:  # a dynamic version: an unpacked sdist knows it
        version = _pkg_info_version(root)
        if version is None:
            raise UsageError(
                "the project version is dynamic, so the data version is unknown\n"
                "hint: set data-version in the settings table, or run this in an unpacked sdist"
            )
        settings = dataclasses.replace(settings, data_version=version)
    registry = load_registry(settings.registry_path())
    config = runtime_config(registry, settings)
    bundle = root / BUNDLE_DIR
    from_sdist = (root / "PKG-INFO").is_file()
    files = stage_files(
        config,
        BuildEnvironment.from_env(),
        jobs=_jobs(args, settings),
        extra_sources=[*args.source, *([bundle] if bundle.is_dir() else [])],
        offline_reason="building from an sdist, which never downloads" if from_sdist else None,
        pyproject_hint=args.pyproject,
    )
    path = build_data_wheel(files, config, args.outdir)
    print(path)
    return 0


COMMANDS = {
    "download": cmd_download,
    "verify": cmd_verify,
    "list": cmd_list,
    "make-registry": cmd_make_registry,
    "build-data-wheel": cmd_build_data_wheel,
    "conda-sources": cmd_conda_sources,
}


def _error(message: str, hint: str | None = None) -> None:
    lines = str(message).rstrip().splitlines() or [""]
    print(f"ERROR {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}" if not line.startswith(" ") else line, file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help(sys.stderr)
        return 2
    try:
        result: int = args.func(args)
        return result
    except (UsageError, RegistryError, SettingsError, UnknownFileError) as e:
        _error(str(e))
        return 2
    except BuildError as e:
        _error(str(e).removeprefix("hatch-datafetch: "))
        return 1
    except (DataNotFoundError, HashMismatchError) as e:
        errors = getattr(e, "errors", None)
        if errors and len(errors) > 1:
            _error(f"{len(errors)} files failed:")
            for name, err in sorted(errors.items()):
                print(f"  {name}: {str(err).splitlines()[0]}", file=sys.stderr)
            print("First failure in full:", file=sys.stderr)
        _error(str(e))
        return 1
    except OSError as e:
        _error(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
