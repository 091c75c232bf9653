"""``hatch-datafetch`` command line. The library raises; only this module parses arguments,
prints and exits (every error through :func:`hatch_datafetch.errors.render`).

Exit codes: 0 success, 1 a download, hash or verification failure, 2 a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__, meson
from ._runtime import cli as runtime_cli
from ._runtime.errors import DataNotFoundError, HashMismatchError, UnknownFileError
from ._runtime.layout import cache_root
from ._runtime.lookup import Locator
from ._runtime.oci import is_oci
from ._runtime.progress import count
from .errors import DatafetchError, UsageError, render
from .registry import Registry, dump_text, dump_toml, load_registry, make_registry
from .settings import MODES, TOOL_TABLE, BuildEnvironment, Settings, load_pyproject
from .staging import (
    BUNDLE_DIR,
    Offline,
    base_url_note,
    build_locator,
    built_from_sdist,
    runtime_config,
    stage_files,
    staged_summary,
)


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


def _add_output(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")


def _add_pyproject(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--pyproject",
        metavar="FILE",
        required=required,
        help=f"the project's pyproject.toml, with a [{TOOL_TABLE}] table",
    )


def _add_wrap_mode(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wrap-mode",
        metavar="MODE",
        default=None,
        help="meson's wrap_mode option; nodownload means offline, like HATCH_DATAFETCH_OFFLINE=1",
    )


def _add_outdir(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR")


def _add_depfile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depfile", metavar="FILE", help="write a ninja depfile (@DEPFILE@)")


#: Option groups several subcommands share, by the name :func:`_command` takes.
_GROUPS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "source": _add_source,
    "urls": _add_urls,
    "output": _add_output,
    "pyproject": _add_pyproject,
    "optional-pyproject": lambda p: _add_pyproject(p, required=False),
    "wrap-mode": _add_wrap_mode,
    "outdir": _add_outdir,
    "depfile": _add_depfile,
}


def _command(
    sub: Any, name: str, help: str, description: str | None = None, *groups: str
) -> argparse.ArgumentParser:
    """A subcommand running ``COMMANDS[name]``, with the shared option ``groups``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    for group in groups:
        _GROUPS[group](p)
    p.set_defaults(func=COMMANDS[name])
    return p


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hatch-datafetch",
        description="Registry-driven data files for Python packages: download, verify, list "
        "and hash them, build the companion data wheel, write conda recipe sources, and run "
        "the meson-python build steps. The Hatch build hook is configured in pyproject.toml "
        "([tool.hatch.build.hooks.datafetch]); see the documentation (docs/ in the source, "
        "reference/settings for every key).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in runtime_cli.add_commands(sub).items():  # the locator's own commands
        _add_source(cmd)
        if name in ("download", "list", "where"):
            _add_urls(cmd)
        cmd.set_defaults(func=cmd_cache if name == "cache" else cmd_runtime)
    _add_build_commands(sub)
    _add_push_command(sub)
    _add_meson_commands(sub)
    return p


def _add_push_command(sub: Any) -> None:
    p = _command(
        sub,
        "push",
        "upload every file to an OCI registry, to serve as an oci:// mirror",
        "Upload every registry file to an OCI registry (ghcr.io, Docker Hub, Quay, Harbor, "
        "Artifactory, ECR, a distribution registry) as the blob of its sha256, then tag an "
        "OCI manifest (one layer per file, titled NAME) so the registry keeps them and OCI "
        "clients (oras pull) can fetch them. Blobs the registry has are not sent again. Files "
        "come from --from DIR (laid out by NAME), then HATCH_DATAFETCH_SOURCE dirs, the build "
        "cache and the registry's URLs, each verified; a file found nowhere whose sha256 "
        "blob the registry has already counts as pushed. Credentials: ~/.netrc (NETRC) for the "
        "registry's host, used for its token service too. oci:// is https, except for a "
        "loopback host (localhost, 127.0.0.1, [::1]: plain http); oci+http:// and "
        "oci+https:// choose. Then add oci://HOST/REPOSITORY to the registry's mirrors.",
        *("source", "output"),
    )
    p.add_argument(
        "reference",
        metavar="oci://HOST/REPOSITORY[:TAG]",
        help="where to push; TAG defaults to latest (the data version is a good tag)",
    )
    p.add_argument(
        "--from", dest="from_dir", metavar="DIR", help="take the files from DIR, laid out by NAME"
    )
    p.add_argument("--jobs", type=int, default=None, help="parallel uploads (default 8)")
    p.add_argument(
        "--chunk-size",
        default="64 MiB",
        metavar="SIZE",
        help="a larger file is uploaded in chunks of this size (default 64 MiB)",
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per read (default 30)")
    p.add_argument("--retries", type=int, default=None, help="retries per request (default 3)")


def _add_build_commands(sub: Any) -> None:
    """make-registry, conda-sources and build-data-wheel."""
    m = _command(
        sub,
        "make-registry",
        "make a registry: hash a folder, resolve a DOI, fetch a URL list, or take over a "
        "pooch object",
        "Make a registry, names sorted, written atomically to FILE (or stdout). From DIR: hash "
        "every file under it (in parallel; dot-files skipped). With --unpack, files with those "
        "suffixes become archives that the locator unpacks (fetch(NAME) returns the directory "
        "of their members): in TOML their members are read and hashed too (sha256), so the "
        "members are verified and what bundles and data wheels ship; an archive holding "
        "links, devices, absolute or '..' paths is refused. From --doi (Zenodo, Figshare, "
        "Dataverse) or --from-urls: every file is downloaded once, checked against the size "
        "and checksum the repository publishes, and written with its concrete URL, size and "
        "sha256, so the registry never needs a repository API again (HATCH_DATAFETCH_DOI_RESOLVER "
        "and HATCH_DATAFETCH_FIGSHARE_API point it at another DOI resolver or Figshare API). "
        "From --from-pooch: the "
        "pooch object's base URL, per-file URLs, version and hashes as they are; the "
        "pyproject lines that reproduce it are printed (on stdout with -o, else on stderr).",
    )
    m.add_argument("dir", metavar="DIR", nargs="?", help="the folder to hash")
    m.add_argument(
        "--doi",
        metavar="DOI",
        help="every file of this Zenodo, Figshare or Dataverse record (doi:10.5281/zenodo.N, "
        "a doi.org URL, or the bare DOI)",
    )
    m.add_argument(
        "--from-urls",
        metavar="FILE",
        help="the files this list names: one URL (or NAME URL) per line, # comments; doi:DOI/FILE "
        "lines are resolved through their record",
    )
    m.add_argument(
        "--from-pooch",
        metavar="MODULE:ATTR",
        help="the pooch object a project makes with pooch.create(...), imported from the "
        "current directory (or a function without arguments that returns it)",
    )
    m.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    m.add_argument(
        "--format",
        choices=["txt", "toml"],
        default=None,
        help="default: from the -o extension (.toml = toml), else txt (pooch format)",
    )
    m.add_argument("--base-url", metavar="URL", help="base URL recorded in the registry (DIR)")
    m.add_argument("--jobs", type=int, default=8, help="parallel hashing or downloads (default 8)")
    m.add_argument(
        "--unpack",
        action="append",
        default=[],
        metavar="SUFFIXES",
        help="comma-separated suffixes of archives to unpack, e.g. zip,tar.gz (known: "
        "zip, tar, tar.gz, tgz, tar.bz2, tbz2, tar.xz, txz, gz, bz2, xz); repeatable",
    )
    m.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="NAME",
        help="with --doi: only this file of the record (repeatable)",
    )
    m.add_argument(
        "--keep",
        metavar="DIR",
        help="with --doi/--from-urls: keep the downloaded, verified files in DIR, laid out by "
        "NAME (a HATCH_DATAFETCH_SOURCE dir for offline builds); default: a temp dir, removed",
    )
    m.add_argument(
        "--env-var",
        metavar="VAR",
        help="with --from-pooch: the env var of pooch.create(env=...) when it is not a "
        "literal in the module's source",
    )
    m.add_argument(
        "--package",
        metavar="PKG",
        help="with --from-pooch: the package that gets the locator (default: the module's)",
    )
    m.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    c = _command(
        sub,
        "conda-sources",
        "print recipe source: entries (url + sha256) for every file",
        "Print the source: entries of a conda-build (meta.yaml) or rattler-build (recipe.yaml) "
        "recipe that fetch every data file with its checksum into FOLDER, laid out by NAME, "
        "and the build-script lines that make the build use them offline.",
        *("source", "urls"),
    )
    c.add_argument(
        "--folder",
        default="datafetch-data",
        metavar="DIR",
        help="where the recipe puts the files, relative to the work dir (default: datafetch-data)",
    )
    c.add_argument("--format", choices=["conda-build", "rattler-build"], default="conda-build")
    b = _command(
        sub,
        "build-data-wheel",
        "build the companion <name>-data wheels (any build backend)",
        "Build the companion data wheels (one for the names in no group, one per group, each "
        "split into parts under data-wheel-max-size) from verified files: an unpacked sdist's "
        "_datafetch_bundle, --source dirs, HATCH_DATAFETCH_SOURCE dirs, the build cache, then "
        "the network (never from an unpacked sdist, or with HATCH_DATAFETCH_OFFLINE=1).",
    )
    b.add_argument(
        "--pyproject", metavar="FILE", default="pyproject.toml", help="default: ./pyproject.toml"
    )
    b.add_argument("--source", action="append", default=[], metavar="DIR", help="repeatable")
    b.add_argument("-o", "--outdir", default="dist", metavar="DIR", help="default: dist")
    b.add_argument("--jobs", type=int, default=None, help="parallel downloads (default 8)")
    b.add_argument(
        "--group",
        action="append",
        default=None,
        metavar="NAME",
        help='only the data wheels of this group ("" for the names in no group); repeatable',
    )


def _load(args: argparse.Namespace) -> tuple[Registry, Settings | None]:
    if args.registry:
        return load_registry(args.registry), None
    pyproject = args.pyproject or "pyproject.toml"
    if not os.path.exists(pyproject):
        raise UsageError(
            f"{pyproject} not found",
            hint="pass --registry FILE, or --pyproject FILE pointing at a project that has "
            "a [tool.datafetch] table",
        )
    settings = load_pyproject(pyproject)
    return load_registry(settings.registry_path()), settings


def _jobs(args: argparse.Namespace, settings: Settings | None) -> int:
    jobs: int = args.jobs if args.jobs is not None else (settings.jobs if settings else 8)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    return jobs


def _locator(
    args: argparse.Namespace, resolve: bool = False
) -> tuple[Locator, Settings | None, Registry]:
    """The locator of --registry/--pyproject; ``resolve``: doi: URLs resolved first, as a
    build does (commands that download or print URLs)."""
    registry, settings = _load(args)
    note = base_url_note(registry, settings)
    if note and not getattr(args, "base_url", None) and not getattr(args, "quiet", False):
        print(note, file=sys.stderr)  # --base-url chooses for itself
    config = runtime_config(
        registry,
        settings,
        base_url=getattr(args, "base_url", None),
        mirrors=getattr(args, "mirror", None),
    )
    if resolve:
        from .resolved import resolve_config

        env = BuildEnvironment.from_env()
        root = settings.root if settings is not None else None
        offline = "HATCH_DATAFETCH_OFFLINE is set" if env.offline else None
        config = resolve_config(config, root=root, env=env, offline=offline)
    silent = getattr(args, "quiet", False) or getattr(args, "json", False)
    loc = build_locator(
        config,
        BuildEnvironment.from_env(),
        progress=False if silent else None,
        timeout=30.0 if getattr(args, "timeout", None) is None else args.timeout,
        retries=3 if getattr(args, "retries", None) is None else args.retries,
    )
    if settings is not None:
        loc.jobs = settings.jobs
    return loc, settings, registry


def cmd_runtime(args: argparse.Namespace) -> int:
    """``download``, ``verify``, ``list`` and ``where``: the locator's own commands (the same
    output as ``python -m <package>.<locator>``), on the registry of --registry/--pyproject."""
    loc, _, _ = _locator(args, resolve=args.command == "download")
    return runtime_cli.COMMANDS[args.command](loc, args)


_CONDA_HASHES = ("sha256", "sha1", "md5")  # what both recipe formats can check
_RECIPE_URLS = ("https://", "http://", "ftp://", "file:")  # what conda-build/rattler fetch


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def cmd_cache(args: argparse.Namespace) -> int:
    registry, settings = _load(args)
    config = runtime_config(registry, settings)
    cache = args.cache_dir or cache_root(config["data_name"])
    return runtime_cli.cache(Locator(config, cache_dir=cache), args)


def cmd_conda_sources(args: argparse.Namespace) -> int:
    loc, _, _ = _locator(args, resolve=True)
    rattler = args.format == "rattler-build"
    folder_key, file_key = ("target_directory", "file_name") if rattler else ("folder", "fn")
    folder = args.folder.strip("/")
    out = ["source:", f"  # hatch-datafetch conda-sources: {count(len(loc.files), 'data file')}"]
    unverifiable = []
    oci = 0  # files with an oci:// URL, which recipes cannot fetch
    for name in sorted(loc.files):
        every = loc.urls(name)
        oci += any(is_oci(u) for u in every)
        if not every:
            raise UsageError(f"{name!r} has no URL", hint="pass --base-url or set base-url")
        urls = [u for u in every if u.startswith(_RECIPE_URLS)]  # (not s3://, gs://...)
        if not urls:
            raise UsageError(
                f"{name!r} has no URL a recipe can fetch (only {every[0]})",
                hint="add an https:// base URL or mirror (a public S3 bucket is also "
                "https://BUCKET.s3.amazonaws.com/KEY)",
            )
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
    archives = [n for n in sorted(loc.files) if loc.files[n].get("unpack")]
    if archives:
        print(
            f"warning: {len(archives)} archive(s) ({', '.join(archives[:3])}): conda-build and "
            "rattler-build unpack zip/tar sources themselves (and may strip a single top-level "
            f"folder), so they may not land as the file {args.folder}/NAME; if the offline "
            "build then misses them, fetch those with `hatch-datafetch download` into the "
            "HATCH_DATAFETCH_SOURCE dir in the build script",
            file=sys.stderr,
        )
    if oci:
        print(
            f"note: the oci:// URLs of {oci} file(s) are left out: conda-build and "
            "rattler-build cannot fetch from an OCI registry",
            file=sys.stderr,
        )
    if unverifiable:
        print(
            f"warning: {len(unverifiable)} file(s) have hashes recipes cannot check "
            f"({', '.join(unverifiable[:3])}...); the build still verifies them",
            file=sys.stderr,
        )
    return 0


def cmd_make_registry(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    sources = [
        flag
        for flag, value in (
            ("DIR", args.dir),
            ("--doi", args.doi),
            ("--from-urls", args.from_urls),
            ("--from-pooch", args.from_pooch),
        )
        if value
    ]
    if len(sources) != 1:
        raise UsageError(
            f"make-registry takes one source, got {' and '.join(sources) or 'none'}",
            hint="DIR (hash a folder), --doi DOI, --from-urls FILE or --from-pooch MODULE:ATTR",
        )
    misplaced = [
        flag
        for flag, value, fits in (
            ("--file", args.file, args.doi),
            ("--keep", args.keep, args.doi or args.from_urls),
            ("--env-var", args.env_var, args.from_pooch),
            ("--package", args.package, args.from_pooch),
            ("--base-url", args.base_url, args.dir),
        )
        if value and not fits
    ]
    if misplaced:
        raise UsageError(f"{', '.join(misplaced)} does not go with {sources[0]}")
    fmt = args.format or ("toml" if (args.output or "").endswith(".toml") else "txt")
    unpack = [s for arg in args.unpack for s in arg.split(",") if s.strip()]
    if unpack and not (args.dir or args.from_pooch):
        raise UsageError(f"--unpack does not go with {sources[0]}")
    progress = False if args.quiet else None
    head: list[str] = []
    after = ""
    if args.dir:
        reg = make_registry(
            args.dir, base_url=args.base_url, jobs=args.jobs, unpack=unpack, members=fmt == "toml"
        )
    elif args.doi:
        from .remote import registry_from_doi

        reg, record = registry_from_doi(
            args.doi, names=args.file, jobs=args.jobs, keep=args.keep, progress=progress
        )
        version = f", version {record.version}" if record.version else ""
        head = [
            f"# hatch-datafetch make-registry --doi doi:{record.doi}"
            + "".join(f" --file {shlex.quote(n)}" for n in args.file),
            f"# {record.repository} record{version}: {record.landing}",
            "# each file fetched once: the repository's checksum checked, sha256 of its bytes",
        ]
    elif args.from_urls:
        from .remote import registry_from_urls

        reg = registry_from_urls(args.from_urls, jobs=args.jobs, keep=args.keep, progress=progress)
        head = [f"# hatch-datafetch make-registry --from-urls {os.path.basename(args.from_urls)}"]
    else:
        from .frompooch import migrate, pyproject_lines
        from .registry import _unpack_suffixes

        migration = migrate(
            args.from_pooch,
            env_var=args.env_var,
            package=args.package,
            unpack=_unpack_suffixes(unpack, args.from_pooch),
        )
        reg = migration.registry
        out_rel = os.path.relpath(args.output) if args.output else "registry.toml"
        after = pyproject_lines(migration, out_rel.replace(os.sep, "/"))
    archives = [e.name for e in reg if e.unpack]
    if archives and fmt != "toml":
        print(
            f"note: {len(archives)} archive(s) to unpack ({', '.join(archives[:3])}"
            f"{', ...' if len(archives) > 3 else ''}): the text format cannot list their "
            "members, so they are verified, bundled and shipped as archives; write TOML "
            "(-o registry.toml) to list and verify the members",
            file=sys.stderr,
        )
    text = dump_toml(reg) if fmt == "toml" else dump_text(reg)
    if head:
        text = "\n".join(head) + "\n" + text
    if not args.output:
        sys.stdout.write(text)
        if after:
            sys.stderr.write(after)
        return 0
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if not args.quiet:
        print(f"wrote {count(len(reg), 'file')} to {out} ({fmt})", file=sys.stderr)
    sys.stdout.write(after)
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
    from .datawheel import build_data_wheels, select_parts

    if not os.path.exists(args.pyproject):
        raise UsageError(f"{args.pyproject} not found", hint="pass --pyproject FILE")
    settings = load_pyproject(args.pyproject)
    root = Path(settings.root)
    if settings.data_version is None:  # a dynamic version: an unpacked sdist knows it
        version = _pkg_info_version(root)
        if version is None:
            raise UsageError(
                "the project version is dynamic, so the data version is unknown",
                hint="set data-version in the settings table, or run this in an unpacked sdist",
            )
        settings = dataclasses.replace(settings, data_version=version)
    registry = load_registry(settings.registry_path())
    parts = select_parts(registry, settings, args.group)  # an unknown group: before any download
    bundle = root / BUNDLE_DIR
    files = stage_files(
        runtime_config(registry, settings),
        BuildEnvironment.from_env(),
        jobs=_jobs(args, settings),
        extra_sources=[*args.source, *([bundle] if bundle.is_dir() else [])],
        offline=Offline.SDIST if built_from_sdist(root) else None,
        pyproject_hint=args.pyproject,
        purpose="data wheel",
        names=sorted({n for p in parts for n in p.names}),
    )
    for path in build_data_wheels(files, settings, registry, args.outdir, args.group):
        print(path)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """``push oci://HOST/REPOSITORY[:TAG]`` (see :mod:`hatch_datafetch.push`)."""
    from ._runtime.oci import parse
    from ._runtime.progress import human_size
    from .push import push
    from .settings import parse_size

    example = "e.g. oci://ghcr.io/ORG/DATA:1.0"
    if not is_oci(args.reference):
        raise UsageError(f"{args.reference!r} is not an oci:// reference", hint=example)
    try:
        ref = parse(args.reference)
    except ValueError as e:
        raise UsageError(str(e), hint=example) from None
    if ref.digest is not None:
        raise UsageError("push tags what it uploads: name a tag, not a digest", hint=example)
    chunk = parse_size(args.chunk_size)
    if chunk is None or chunk < 1:
        raise UsageError(f'--chunk-size: expected a size like "64 MiB", got {args.chunk_size!r}')
    if args.from_dir and not os.path.isdir(args.from_dir):
        raise UsageError(f"--from {args.from_dir}: not a directory")
    registry, settings = _load(args)
    jobs = _jobs(args, settings)
    loc = build_locator(
        runtime_config(registry, settings),
        BuildEnvironment.from_env(),
        extra_sources=[args.from_dir] if args.from_dir else [],
        progress=False,
        strict=True,
        timeout=30.0 if args.timeout is None else args.timeout,
        retries=3 if args.retries is None else args.retries,
    )
    version = (settings.data_version if settings else None) or registry.version
    result = push(
        ref,
        sorted(loc.files),
        lambda name: (loc.fetch_file(name), loc.expected_hash(name)),
        described=lambda name: (loc.expected_hash(name), loc.entries.size(name)),
        environ=os.environ,
        jobs=jobs,
        chunk=chunk,
        timeout=loc.timeout,
        retries=3 if args.retries is None else args.retries,
        progress=False if args.quiet or args.json else None,
        annotations={"org.opencontainers.image.version": version} if version else None,
    )
    if args.json:
        json.dump(result.as_json(), sys.stdout, indent=1)
        print()
    elif not args.quiet:
        n, m = len(result.uploaded), len(result.present)
        tagged = "tagged" if result.manifest_sent else "unchanged"
        print(
            f"{result.reference}: {n} files uploaded ({human_size(result.sent_bytes)}), "
            f"{m} already there; manifest {result.manifest} {tagged}",
            file=sys.stderr,
        )
        base = str(type(ref)(ref.scheme, ref.host, ref.repository, None, None))
        print(f'use it as a mirror: mirrors = ["{base}"]', file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- meson helper


def cmd_meson_snippet(args: argparse.Namespace) -> int:
    if args.options:
        sys.stdout.write(meson.OPTIONS)
        return 0
    if args.extras:
        if not args.pyproject:
            raise UsageError("--extras needs --pyproject FILE (the settings and the registry)")
        sys.stdout.write(meson.extras_lines(args.pyproject))
        return 0
    text = meson.snippet(
        package=args.package,
        subdir=args.subdir,
        pure=args.pure == "true",
        locator=args.locator,
        pyproject=args.pyproject,
    )
    sys.stdout.write(text)
    return 0


def cmd_mode(args: argparse.Namespace) -> int:
    """Meson shows a configure-time failure as ``ERROR: Problem encountered: <stderr>``,
    so print it without the CLI's own ``ERROR`` prefix (exit 2, no traceback)."""
    try:
        resolved = meson.mode(
            args.pyproject,
            args.option,
            wrap_mode=args.wrap_mode,
            package=args.package,
            locator=args.locator,
        )
    except DatafetchError as e:
        print(render(e, prefix="hatch-datafetch:"), file=sys.stderr)
        return 2
    print(resolved)
    return 0


def cmd_gen_runtime(args: argparse.Namespace) -> int:
    meson.gen_runtime(args.pyproject, args.output, mode=args.mode, depfile=args.depfile)
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    files = meson.stage(args.pyproject, args.output, wrap_mode=args.wrap_mode, depfile=args.depfile)
    print(staged_summary(files, "wheel"), file=sys.stderr)
    return 0


def cmd_dist(args: argparse.Namespace) -> int:
    files = meson.dist(args.pyproject, wrap_mode=args.wrap_mode)
    if files is None:
        print(
            'hatch-datafetch: sdist = "omit": the sdist carries the registry, not the data '
            f'(sdist = "bundle" in [{TOOL_TABLE}] or HATCH_DATAFETCH_SDIST=bundle bundles it)',
            file=sys.stderr,
        )
    else:
        print(staged_summary(files, "sdist"), file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "download": cmd_runtime,
    "verify": cmd_runtime,
    "list": cmd_runtime,
    "where": cmd_runtime,
    "make-registry": cmd_make_registry,
    "build-data-wheel": cmd_build_data_wheel,
    "conda-sources": cmd_conda_sources,
    "push": cmd_push,
    "cache": cmd_cache,
    "meson-snippet": cmd_meson_snippet,
    "mode": cmd_mode,
    "gen-runtime": cmd_gen_runtime,
    "stage": cmd_stage,
    "dist": cmd_dist,
}


def _add_meson_commands(sub: Any) -> None:
    """The meson subcommands (SPEC §8): mode, gen-runtime, stage, dist, meson-snippet."""
    m = _command(
        sub,
        "mode",
        "meson configure step: print the wheel's data mode (omit or bundle)",
        "Resolve the wheel's data mode: the data-mode option unless 'auto', else "
        f"HATCH_DATAFETCH_WHEEL, else [{TOOL_TABLE}] wheel. Validates the settings and the "
        "registry (no network, no hashing); --package/--locator check that meson.build "
        "matches them.",
        *("pyproject", "wrap-mode"),
    )
    m.add_argument("--option", default="auto", metavar="VALUE", help="auto, omit or bundle")
    m.add_argument("--package", default=None, help="the package meson.build installs into")
    m.add_argument("--locator", default=None, help="the locator module meson.build declares")
    g = _command(
        sub,
        "gen-runtime",
        "write the locator package <locator>/ and <locator>_registry.json into a directory",
        "Write the locator package OUTDIR/<locator>/ (replaced as a whole) and its registry "
        "JSON into OUTDIR, byte for byte what the Hatch build hook puts into a wheel of the "
        "same settings and mode.",
        *("pyproject", "outdir", "depfile"),
    )
    g.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="the wheel's data mode (default: [tool.datafetch] wheel / HATCH_DATAFETCH_WHEEL)",
    )
    _command(
        sub,
        "stage",
        "verified data files laid out by NAME in OUTDIR (bundle mode)",
        "Put every registry file, hash-verified, into OUTDIR by NAME (replacing OUTDIR "
        "atomically). Sources: the unpacked sdist's _datafetch_bundle, HATCH_DATAFETCH_SOURCE, "
        "the build cache, then the network unless offline (--wrap-mode=nodownload, "
        "HATCH_DATAFETCH_OFFLINE=1 or building from an sdist).",
        *("pyproject", "outdir", "wrap-mode", "depfile"),
    )
    _command(
        sub,
        "dist",
        "meson dist script: verified files into the sdist's _datafetch_bundle/",
        'With sdist = "bundle": put the verified files into '
        f"$MESON_PROJECT_DIST_ROOT/{BUNDLE_DIR}/NAME, mtimes set to SOURCE_DATE_EPOCH (else "
        "the commit time) for reproducible sdists. A no-op otherwise.",
        *("optional-pyproject", "wrap-mode"),
    )
    n = _command(
        sub,
        "meson-snippet",
        "print the meson.build block (or, with --options, the meson.options lines; with "
        "--extras, the data extras)",
        "Print the block to paste into the meson.build of the package that receives the "
        "locator (where py.install_sources(..., subdir: DIR) is).",
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
    instead = n.add_mutually_exclusive_group()
    for flag, text in (
        ("--options", "print the meson.options lines"),
        (
            "--extras",
            "print the [project.optional-dependencies] lines of the data wheels (with "
            "--pyproject): meson-python projects declare them themselves",
        ),
    ):
        instead.add_argument(flag, action="store_true", help=text)


# ---------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """The ``hatch-datafetch`` command; quiet with exit 141 when the output's reader has gone
    (``hatch-datafetch conda-sources | head``), like a Unix tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported
        return code
    except BrokenPipeError:
        return runtime_cli.closed_pipe()


def _main(argv: Sequence[str] | None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help(sys.stderr)
        return 2
    try:
        result: int = args.func(args)
        return result
    except BrokenPipeError:
        raise
    except DatafetchError as e:
        print(render(e), file=sys.stderr)
        return e.exit_code
    except (UnknownFileError, runtime_cli.CommandError) as e:
        print(render(e), file=sys.stderr)
        return 2
    except (DataNotFoundError, HashMismatchError, OSError) as e:
        print(render(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(runtime_cli.INTERRUPTED, file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
