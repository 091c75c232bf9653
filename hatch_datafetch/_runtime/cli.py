"""The command line: ``python -m <package>.<locator> COMMAND`` in every wheel, and the same
commands in the ``hatch-datafetch`` tool (which adds only where the registry comes from).

``download``, ``verify``, ``list``, ``where`` and ``cache``; exit 0 ok, 1 a download, hash or
verification failure, 2 a usage error, 130 Ctrl-C, 141 (silently) when the reader of the
output has gone (``| head``). ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import os
import sys

from .errors import DataNotFoundError, HashMismatchError, UnknownFileError, Unsafe
from .progress import count

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence
    from typing import Any

    from .lookup import Locator

INTERRUPTED = "interrupted (part files are kept: run again to resume)"


class CommandError(Exception):
    """Bad input to a command (exit 2)."""


def add_commands(sub: Any) -> dict[str, Any]:
    """Add ``download``, ``verify``, ``list``, ``where`` and ``cache`` to an argparse
    subparsers object; returns the parsers by name (the tool adds its own options)."""
    p: dict[str, Any] = {}
    d = p["download"] = sub.add_parser(
        "download",
        help="download and verify files into DIR, laid out by NAME",
        description="Download every registry file (or only --file NAMEs) into --dest, laid "
        "out by NAME, hash-verified. Files already valid there (or in a local source or the "
        "cache) are not downloaded again; part files of an interrupted run are resumed.",
    )
    d.add_argument("--dest", required=True, metavar="DIR", help="files are laid out by NAME")
    d.add_argument("--jobs", type=int, default=None, help="parallel downloads (default 8)")
    d.add_argument("--file", action="append", default=None, metavar="NAME", help="only NAME")
    d.add_argument("--timeout", type=float, default=None, help="seconds per read (default 30)")
    d.add_argument("--retries", type=int, default=None, help="retries per URL")
    v = p["verify"] = sub.add_parser(
        "verify", help="re-hash DIR/NAME for every file; exit 1 if any is missing or bad"
    )
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--jobs", type=int, default=None, help="parallel hashing (default 8)")
    p["list"] = sub.add_parser("list", help="print NAME HASH SIZE URL for every file")
    w = p["where"] = sub.add_parser(
        "where", help="show where NAME is looked for, in order, and what is found there"
    )
    w.add_argument("name", metavar="NAME")
    for name in ("download", "verify"):
        g = p[name].add_mutually_exclusive_group()
        g.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        g.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    for name in ("list", "where"):
        p[name].add_argument("--json", action="store_true", help="machine-readable output")
    p["cache"] = add_cache_parser(sub)
    return p


def add_cache_parser(sub: Any) -> Any:
    """The ``cache`` command."""
    p = sub.add_parser(
        "cache",
        help="list, size, prune, clear, export or import the user cache",
        description="The user cache of this package's data (a CACHEDIR.TAG marks it; "
        "HATCH_DATAFETCH_CACHE_DIR moves it, --cache-dir names another). prune "
        "removes files this registry does not name and leftovers of downloads that are over; "
        "clear removes every cached file. Links are never followed or removed, and running "
        "downloads are left alone. export/import move the cache as one tar file (by NAME; "
        ".tar.gz compresses), verified on import.",
    )
    p.add_argument("action", choices=["list", "size", "prune", "clear", "export", "import"])
    p.add_argument("archive", nargs="?", help="the tar file of export and import")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    p.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="the cache root to work on, as `cache size` prints it (default: "
        "<HATCH_DATAFETCH_CACHE_DIR or the user cache dir>/<data-name>, the cache that "
        "fetch uses)",
    )
    return p


def closed_pipe() -> int:
    """What a command does when the reader of its output has gone (``... | head -1``): stop
    at once and say nothing, as Unix tools do. stdout is pointed at the null device so that
    the final flush cannot fail again; the exit code is 141 (128 + SIGPIPE), the shell's for a
    tool that the signal stopped."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no real stdout: nothing left to protect
        pass
    return 141


def main(
    argv: Sequence[str] | None = None,
    locator: Locator | None = None,
    make: Callable[..., Locator] | None = None,
    prog: str = "python -m <package>._datafetch",
) -> int:
    """``python -m <package>.<locator>``: run a command on ``locator``, or on one that
    ``make(timeout=..., retries=...)`` returns (the package's factory). Exit 0, 1, 2, 130, or
    141 when the output's reader has gone (see :func:`closed_pipe`)."""
    try:
        code = _main(argv, locator, make, prog)
        sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported
        return code
    except BrokenPipeError:
        return closed_pipe()


def _main(
    argv: Sequence[str] | None,
    locator: Locator | None,
    make: Callable[..., Locator] | None,
    prog: str,
) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Download, verify and locate this package's data files (stdlib only).",
    )
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if locator is None:
            if make is None:
                raise RuntimeError("no locator to run the command on")
            locator = make(
                cache_dir=getattr(args, "cache_dir", None),
                timeout=getattr(args, "timeout", None),
                retries=getattr(args, "retries", None),
            )
        loc = locator
    except (RuntimeError, OSError, ValueError) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    return run(loc, args)


def run(loc: Locator, args: Any) -> int:
    """Run ``args.command`` on ``loc``; print errors as ``ERROR ...`` and return the exit code."""
    try:
        return COMMANDS[args.command](loc, args)
    except (CommandError, UnknownFileError) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # not a failure of the command: main() stops quietly
    except (DataNotFoundError, HashMismatchError, OSError, ValueError, Unsafe) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 1


def download(loc: Locator, args: Any) -> int:
    jobs = loc.jobs if args.jobs is None else args.jobs
    if jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {jobs}")
    for name in args.file or ():
        loc.require_known(name)  # unknown names are usage errors, before any download
    if args.quiet or args.json:
        loc.progress = False
    dest = os.path.abspath(args.dest)
    paths = loc.fetch_all(dest, jobs, args.file)
    env_var = loc.config.env_var
    if args.json:
        _json({"dest": dest, "files": {n: str(p) for n, p in paths.items()}})
    elif not args.quiet:
        print(f"{count(len(paths), 'file')} verified in {dest}", file=sys.stderr)
        if env_var:
            import shlex

            print(f"export {env_var}={shlex.quote(dest)}")
    return 0


def verify(loc: Locator, args: Any) -> int:
    if not os.path.isdir(args.dir):
        raise CommandError(f"{args.dir} is not a directory")
    jobs = loc.jobs if args.jobs is None else args.jobs
    if jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {jobs}")
    report = loc.verify(args.dir, jobs)
    if args.json:
        bad = [
            {"name": n, "path": p, "expected": loc.expected_hash(n), "actual": a}
            for n, p, a in report.bad
        ]
        _json({"ok": report.ok, "missing": report.missing, "bad": bad}, indent=1)
    else:
        for name in report.missing:
            print(f"missing  {name}")
        for name, _path, actual in report.bad:
            print(f"bad      {name}  expected {loc.expected_hash(name)}, got {actual}")
        if not args.quiet:
            summary = f"{len(report.ok)} ok, {len(report.missing)} missing, {len(report.bad)} bad"
            print(summary, file=sys.stderr)
    return 0 if report else 1


def list_files(loc: Locator, args: Any) -> int:
    rows: list[dict[str, Any]] = []
    for name in sorted(loc.files):
        spec = loc.files[name]
        row = {"name": name, "hash": spec["hash"], "size": spec.get("size"), "urls": loc.urls(name)}
        if spec.get("unpack"):
            row["unpack"] = spec["unpack"]
            if spec.get("members") is not None:
                row["members"] = spec["members"]
        rows.append(row)
    if args.json:
        _json(rows, indent=1)
        return 0
    for r in rows:
        size = "-" if r["size"] is None else str(r["size"])
        print(f"{r['name']} {r['hash']} {size} {r['urls'][0] if r['urls'] else ''}".rstrip())
    return 0


def where(loc: Locator, args: Any) -> int:
    found = loc.where(args.name)
    if args.json:
        _json([{"source": c.source, "location": c.location, "status": c.status} for c in found])
        return 0
    for c in found:
        print(f"{c.source:<40} {c.status:<26} {c.location}".rstrip())
    return 0


def cache(loc: Locator, args: Any) -> int:
    """``cache ACTION``; print the result (JSON with ``--json``)."""
    from .cache import Cache

    cache = Cache(loc)
    action = args.action
    out: Any = None
    if action in ("export", "import") and not args.archive:
        raise CommandError(f"cache {action} needs an ARCHIVE (a .tar or .tar.gz file)")
    try:
        if action == "list":
            entries = cache.entries()
            out = [e.as_dict() for e in entries]
            lines = [_cache_line(e) for e in entries]
        elif action == "size":
            entries = cache.entries()
            data = [e for e in entries if e.kind == "data"]
            mine = [e for e in data if e.names]
            named = sum(e.size for e in mine)
            total = sum(e.size for e in entries)
            out = {"root": cache.root, "files": len(entries), "bytes": total, "named": named}
            rest = len(entries) - len(mine)
            lines = [
                f"{cache.root}: {count(len(entries), 'file')}, {total:,} bytes; "
                f"{count(len(mine), 'file')} ({named:,} bytes) named by this registry, "
                f"{count(rest, 'other')} ({total - named:,} bytes)"
            ]
        elif action in ("prune", "clear"):
            removed = cache.prune(everything=action == "clear")
            freed = sum(e.size for e in removed)
            out = {"root": cache.root, "removed": [e.path for e in removed], "bytes": freed}
            lines = [e.path for e in removed]
            lines.append(
                f"removed {count(len(removed), 'file')} ({freed:,} bytes) from {cache.root}"
            )
        elif action == "export":
            names = cache.export(args.archive)
            out = {"archive": args.archive, "names": names}
            lines = [f"exported {len(names)} of {count(len(loc.files), 'file')} to {args.archive}"]
        else:
            names, problems = cache.import_(args.archive)
            out = {"archive": args.archive, "names": names, "problems": problems}
            for problem in problems:
                print(f"ERROR {problem}", file=sys.stderr)
            lines = [f"imported {count(len(names), 'file')} into {cache.root}"]
            if problems:
                print(lines[0], file=sys.stderr)
                return 1
    except Exception as e:
        import tarfile

        if not isinstance(e, tarfile.TarError):  # (import_ says so itself; export's open)
            raise
        raise OSError(f"{args.archive} is not a readable tar archive: {e}") from None
    if args.json:
        _json(out, indent=1)
    else:
        print("\n".join(lines))
    return 0


COMMANDS: dict[str, Callable[[Locator, Any], int]] = {
    "download": download,
    "verify": verify,
    "list": list_files,
    "where": where,
    "cache": cache,
}


def _json(data: Any, indent: int | None = None) -> None:
    import json

    json.dump(data, sys.stdout, indent=indent)
    print()


def _cache_line(e: Any) -> str:
    if e.kind == "data":
        what = ", ".join(e.names) if e.names else "(not named by this registry)"
    elif e.kind in ("part", "lock"):
        what = f"({e.kind}: {'download running' if e.live else 'left over'})"
    else:
        what = f"({e.kind})"
    return f"{e.size:>14,}  {what}  {e.path}"
