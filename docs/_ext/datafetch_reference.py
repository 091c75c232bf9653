"""Pages generated from the code and the benchmark results at build time (Sphinx extension).

``reference/settings.md`` from :data:`hatch_datafetch.settings.SCHEMA`; ``reference/cli.md``
from the argparse parsers of both command lines; ``reference/environment.md`` from every
``HATCH_DATAFETCH_*`` name in the source (with where it is read) and the table below, which
must describe each one: a variable in the code but not here stops the build;
``reference/runtime.md`` from the locator package's ``__all__`` (autodoc, so its docstrings);
``reference/formats.md`` from the ``layout`` module's docstring and the runtime JSON's
``config.SCHEMA``;
``explanation/benchmarks.md`` from the committed results of the last full benchmark runs,
``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hatch_datafetch"

#: Every HATCH_DATAFETCH_* variable: when it is read, and what it does.
TOOL_ENV = {
    "HATCH_DATAFETCH_OFFLINE": (
        "builds and run time",
        "`1`/`true`/`yes`/`on`: never open a connection (builds fail listing the missing files "
        "and the remedies; `fetch` fails at once with the places it looked). `0`/`false`/`no`/"
        "`off` or unset: allowed. Anything else: a build error, a warning at run time.",
    ),
    "HATCH_DATAFETCH_SOURCE": (
        "builds",
        "Directories (`os.pathsep`-separated) holding pre-downloaded files laid out by NAME, "
        "looked in before the build cache and the network (a conda-forge extra source, a "
        "Debian orig tarball).",
    ),
    "HATCH_DATAFETCH_CACHE": (
        "builds",
        "The build cache (default `<user cache dir>/hatch-datafetch/build`, or "
        "`$HATCH_DATAFETCH_CACHE_DIR/hatch-datafetch/build` when that is set).",
    ),
    "HATCH_DATAFETCH_CACHE_DIR": (
        "run time and builds",
        "Moves every locator's cache: each package's data is cached in `DIR/<data-name>` "
        "instead of `<user cache dir>/<data-name>` (home quotas, compute nodes without "
        "`$HOME`); the build cache moves to `DIR/hatch-datafetch/build` unless "
        "`HATCH_DATAFETCH_CACHE` says otherwise. The `cache` commands work on it too "
        "(`--cache-dir` names one cache root instead). A group-writable (setgid) `DIR` is "
        "shared by the group: see [clusters and shared caches](../howto/"
        "clusters-and-shared-caches.md).",
    ),
    "HATCH_DATAFETCH_READONLY_CACHES": (
        "run time and builds",
        "Read-only caches (`os.pathsep`-separated dirs, each holding `DIR/<data-name>` in the "
        "cache's layout, e.g. a site-wide store an admin filled once), looked in after the "
        "system dirs and before the user cache. Read when a locator is made, as "
        "`HATCH_DATAFETCH_CACHE_DIR` is (a package's default locator: at its first call). "
        "Never written: not even the memo, a lock or `CACHEDIR.TAG` (what is verified there "
        "is remembered in the user cache's memo).",
    ),
    "HATCH_DATAFETCH_WHEEL": ("builds", "Overrides the `wheel` setting (`omit` or `bundle`)."),
    "HATCH_DATAFETCH_SDIST": ("builds", "Overrides the `sdist` setting (`omit` or `bundle`)."),
    "HATCH_DATAFETCH_DATA_WHEEL": (
        "builds",
        "Overrides `data-wheel` (`1`/`0`...); `1` also builds the data wheel under front ends "
        "that are not known to keep it.",
    ),
    "HATCH_DATAFETCH_DOI_RESOLVER": (
        "`make-registry --doi`/`--from-urls`, builds of registries with `doi:` URLs",
        "The DOI resolver that sends a DOI to its record's landing page (default "
        "`https://doi.org/`): a DOI proxy, or a stand-in in tests.",
    ),
    "HATCH_DATAFETCH_FIGSHARE_API": (
        "`make-registry --doi`/`--from-urls`, builds of registries with `doi:` URLs",
        "The base of Figshare's API (default `https://api.figshare.com/v2`).",
    ),
    "HATCH_DATAFETCH_REQUIRE": (
        "test runs (the pytest plugin)",
        "`1`: a test whose data file cannot be had fails instead of being skipped, with any "
        "`--datafetch` mode.",
    ),
}

#: The other variables the tool and the locator read.
OTHER_ENV = [
    ("`<PACKAGE>_DATA_DIR`", "run time", "the `env-var` setting: directories (`os.pathsep`) "
     "laid out by NAME, looked in after the package and its data wheels"),
    ("`<PACKAGE>_DATA_URL`", "run time", "the `url-env-var` setting: a base URL tried before "
     "the registry's (a corporate mirror laid out like the CDN)"),
    ("`<PACKAGE>_DATA_TOKEN`", "run time", "the `token-env-var` setting: a bearer token "
     "sent only to the hosts of the base URL, the URL env var and the mirrors (private data)"),
    ("`NETRC`", "run time and `push`", "the netrc file of credentials per host (default "
     "`~/.netrc`), sent to a host that asks for them and to an OCI registry's token service"),
    ("`XDG_CACHE_HOME`, `LOCALAPPDATA`", "run time and builds", "where the user cache dir is "
     "(`~/.cache`, `~/Library/Caches` or `%LOCALAPPDATA%` by default)"),
    ("`SSL_CERT_FILE`, `SSL_CERT_DIR`", "run time", "the CA certificates TLS trusts, instead "
     "of truststore, certifi or Python's default"),
    ("`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (any case)", "run time", "proxies, as urllib "
     "reads them (lower case first; https through CONNECT; `NO_PROXY` entries may carry a "
     "port). The proxy itself is spoken to in plain HTTP, port 80 unless the URL names one, "
     "even when its URL says `https://` (as urllib does; curl and pip would speak TLS to it): "
     "a proxy that takes only TLS is not supported"),
    ("`SOURCE_DATE_EPOCH`", "builds", "the mtime of every file in sdists, wheels and data "
     "wheels (reproducible builds)"),
    ("`AWS_*` (`AWS_ENDPOINT_URL`, `AWS_PROFILE`…), `GOOGLE_APPLICATION_CREDENTIALS`, "
     "`AZURE_STORAGE_*`, `FSSPEC_<PROTOCOL>_<OPTION>`", "run time and builds",
     "read by fsspec and the object store's package (s3fs, gcsfs, adlfs) for `s3://`, `gs://`, "
     "`az://` URLs: credentials, endpoints, options (see [object stores](../howto/"
     "object-stores.md))"),
]  # fmt: skip


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}


def generate(app: Any) -> None:
    src = Path(app.srcdir)
    pages = {
        "reference/settings.md": settings_page(),
        "reference/cli.md": cli_page(),
        "reference/environment.md": environment_page(),
        "reference/runtime.md": runtime_page(),
        "reference/formats.md": formats_page(),
        "explanation/benchmarks.md": benchmarks_page(),
    }
    for name, text in pages.items():
        path = src / name
        if not path.exists() or path.read_text() != text:  # (no rebuild when unchanged)
            path.write_text(text)


# --------------------------------------------------------------------------- settings


def settings_page() -> str:
    from hatch_datafetch.settings import SCHEMA, TOOL_TABLE

    lines = [
        "# Settings",
        "",
        "Hatch projects write them in `[tool.hatch.build.hooks.datafetch]`; meson-python "
        f"projects, other backends and the command line's `--pyproject` read `[{TOOL_TABLE}]`. "
        'Same keys, one validated model: an unknown key is an error with a "did you mean", '
        'a wrong type is an error (a quoted `"true"` is not a boolean), and every problem is '
        "reported at once, with its line. A per-target table "
        "(`[tool.hatch.build.targets.wheel.hooks.datafetch]`) is merged over the global one "
        "(hatchling itself would replace it); hatchling's own hook keys (`dependencies`, "
        "`enable-by-default`, ...) are accepted. `<PACKAGE>` below is the top-level package, "
        "upper-cased (`skimage.data` gives `SKIMAGE_DATA_DIR`).",
        "",
        "| key | value | default | meaning | build-time override |",
        "|---|---|---|---|---|",
    ]
    for option in SCHEMA:
        env = f"`{option.env}`" if option.env else ""
        row = [f"`{option.key}`", option.what, option.default_doc, option.doc, env]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- command lines


def cli_page() -> str:
    from hatch_datafetch import cli
    from hatch_datafetch._runtime import cli as runtime_cli

    tool = cli.parser()
    runtime = argparse.ArgumentParser(prog="python -m <package>._datafetch")
    runtime_cli.add_commands(runtime.add_subparsers(dest="command", metavar="COMMAND"))
    lines = [
        "# Command lines",
        "",
        "Exit codes: 0 ok, 1 a download, hash or verification failure, 2 a usage or "
        "configuration error, 130 Ctrl-C, 141 a closed pipe (`| head`).",
        "",
        "## `hatch-datafetch` (also `python -m hatch_datafetch`)",
        "",
        (tool.description or "").strip(),
        "",
        *_commands(tool, "hatch-datafetch"),
        "## `python -m <package>._datafetch` (in every wheel, stdlib only)",
        "",
        "The locator's own commands; the tool's `download`, `verify`, `list`, `where` and "
        "`cache` are the same code, run on a registry file.",
        "",
        *_commands(runtime, "python -m <package>._datafetch"),
    ]
    return "\n".join(lines) + "\n"


def _commands(parser: argparse.ArgumentParser, prog: str) -> Iterator[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in subparsers._choices_actions}
    for name, sub in subparsers.choices.items():
        yield f"### `{name}`"
        yield ""
        yield (sub.description or helps.get(name, "")).strip()
        yield ""
        usage = sub.format_usage().replace("usage: ", "", 1).strip()
        yield "```text"
        yield re.sub(r"\s+", " ", usage)
        yield "```"
        yield ""
        rows = [a for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        if rows:
            yield "| argument | meaning |"
            yield "|---|---|"
            for action in rows:
                names = ", ".join(action.option_strings) or (action.metavar or action.dest)
                choices = (
                    f" (one of {', '.join(map(str, action.choices))})" if action.choices else ""
                )
                yield f"| `{names}` | {_cell((action.help or '').strip())}{choices} |"
            yield ""


# --------------------------------------------------------------------------- environment


def environment_page() -> str:
    found = _variables_in_code()
    missing = sorted(set(found) - set(TOOL_ENV))
    if missing:
        from sphinx.errors import ExtensionError

        raise ExtensionError(
            f"environment variables read by the code but not described in "
            f"docs/_ext/datafetch_reference.py TOOL_ENV: {', '.join(missing)}"
        )
    lines = [
        "# Environment variables",
        "",
        "| variable | read by | what it does | read in |",
        "|---|---|---|---|",
    ]
    for name, (when, what) in TOOL_ENV.items():
        where = ", ".join(f"`{p}`" for p in found.get(name, ()))
        lines.append(f"| `{name}` | {when} | {_cell(what)} | {where or 'not read (!)'} |")
    for name, when, what in OTHER_ENV:
        lines.append(f"| {name} | {when} | {_cell(what)} | |")
    return "\n".join(lines) + "\n"


def _variables_in_code() -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in re.findall(r"HATCH_DATAFETCH_[A-Z_]+[A-Z]", path.read_text()):
            found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return {name: sorted(paths) for name, paths in sorted(found.items())}


# --------------------------------------------------------------------------- runtime API


def runtime_page() -> str:
    import hatch_datafetch._runtime as runtime

    functions = [n for n in runtime.__all__ if n[0].islower()]
    classes = [
        n
        for n in runtime.__all__
        if n[0].isupper() and not n.endswith(("Error", "Errors", "Warning"))
    ]
    errors = [n for n in runtime.__all__ if n.endswith(("Error", "Errors", "Warning"))]
    lines = [
        "# Run-time API",
        "",
        "Every built wheel holds the locator package `<package>/_datafetch/` (the `locator` "
        "setting names it), a verbatim copy of `hatch_datafetch._runtime`: what is documented "
        "here as `hatch_datafetch._runtime.fetch` is `<package>._datafetch.fetch` in your "
        "package. It needs only the standard library (Python 3.9+).",
        "",
        "```{eval-rst}",
        ".. automodule:: hatch_datafetch._runtime",
        "   :no-members:",
        "```",
        "",
        "## Functions",
        "",
        "```{eval-rst}",
        *(f".. autofunction:: hatch_datafetch._runtime.{n}" for n in functions),
        "```",
        "",
        "## Classes",
        "",
        "```{eval-rst}",
    ]
    for name in classes:
        lines += [f".. autoclass:: hatch_datafetch._runtime.{name}", "   :members:", ""]
    lines += ["```", "", "## Errors and warnings", "", "```{eval-rst}"]
    for name in errors:
        lines += [
            f".. autoexception:: hatch_datafetch._runtime.{name}",
            "   :show-inheritance:",
            "",
        ]
    lines += ["```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- on-disk formats


def formats_page() -> str:
    from hatch_datafetch._runtime.config import RUNTIME_FORMAT, SCHEMA

    lines = [
        "# On-disk formats",
        "",
        "What the locator writes and reads: the user cache's layout, its JSON files, and the "
        "runtime JSON that every wheel carries. (The registry, which you write, is "
        "[its own page](registry.md).)",
        "",
        "## The cache and its files",
        "",
        "```{eval-rst}",
        ".. automodule:: hatch_datafetch._runtime.layout",
        "   :no-members:",
        "```",
        "",
        "## The runtime JSON",
        "",
        f"`<package>/<locator>_registry.json`, format {RUNTIME_FORMAT}, written by the build "
        "(`hatch-datafetch gen-runtime` for meson-python) from the registry and the settings, "
        "and read by the locator. Keys it does not know are a newer tool's additions and are "
        "ignored; a newer `format` is an error naming the `generator`.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, (kind, default, doc) in SCHEMA.items():
        shown = (
            ""
            if default is None
            else f"`{list(default) if isinstance(default, tuple) else default!r}`"
        )
        lines.append(f"| `{key}` | {kind.__name__} | {shown} | {_cell(doc)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- benchmarks

RESULTS = ROOT / "bench" / "results"


def benchmarks_page() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated from the results of the last full runs of the three benchmark scripts, "
        "committed under `bench/results/` (`python bench/run.py`, `python bench/build.py`, "
        "`python bench/archives.py`; the source tree's `bench/README.md` says what each line "
        "measures). Each compares with pooch or plain tools in the same run, on "
        "the same machine, and prints the ratio; a timed figure is the median of its runs. "
        "Network: a server on 127.0.0.1 only, with latency and bandwidth caps injected.",
        "",
    ]
    import json

    known = {
        "latest.json": ("The engine (`bench/run.py`)", _engine_rows),
        "build.json": ("Builds (`bench/build.py`)", _build_rows),
        "archives.json": ("Archives (`bench/archives.py`)", _archive_rows),
    }
    for name, (title, rows_of) in known.items():
        lines += [f"## {title}", ""]
        path = RESULTS / name
        if not path.is_file():
            lines += [f"No results: `bench/results/{name}` is not in this checkout.", ""]
            continue
        about, rows = rows_of(json.loads(path.read_text()))
        lines += [about, "", "| # | measurement | ours | reference | ratio | target | result |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows]
        lines.append("")
    others = sorted(RESULTS.glob("*.json"))
    # reliability.json has its own page; partial.json is a partial run's (--only, --quick),
    # ignored by git: a local build would otherwise show it as a script's results
    skip = {*known, "reliability.json", "partial.json"}
    for path in (p for p in others if p.name not in skip):
        lines += [f"## `bench/{path.stem}.py`", "", *_generic(json.loads(path.read_text())), ""]
    return "\n".join(lines)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _generic(data: dict[str, Any]) -> list[str]:
    """Any other results file: its settings, then its rows' scalar fields as columns."""
    about = {k: v for k, v in data.items() if k not in ("rows", "samples")}
    flat = {k: v for k, v in about.items() if not isinstance(v, (dict, list))}
    for v in about.values():
        if isinstance(v, dict):
            flat.update({k: x for k, x in v.items() if not isinstance(x, (dict, list))})
    out = ["; ".join(f"{k}: {_scalar(v)}" for k, v in flat.items()) + ".", ""] if flat else []
    rows = [r for r in data.get("rows", []) if isinstance(r, dict)]
    if not rows:
        return out
    cols = [k for k, v in rows[0].items() if not isinstance(v, (dict, list))]
    out += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_cell(_scalar(r.get(c))) for c in cols) + " |" for r in rows]
    return out


def _engine_rows(data: dict[str, Any]) -> tuple[str, list[list[str]]]:
    share = data.get("other_cpu_share")
    about = (
        f"A {data.get('mode', '?')} run on {data.get('time', '?')}: Python "
        f"{str(data.get('python', '?')).split()[0]}, {data.get('cpus', '?')} CPUs"
        + (f", {share:.0%} of the CPU used by other processes" if share is not None else "")
        + "."
    )
    keys = ("section", "what", "value", "reference", "ratio", "target", "result")
    return about, [[str(r.get(k, "")) for k in keys] for r in data["rows"]]


def _build_rows(data: dict[str, Any]) -> tuple[str, list[list[str]]]:
    about = f"A run on {data.get('date', '?')}."
    keys = ("section", "figure", "value", "baseline", "ratio", "target", "result")
    return about, [[str(r.get(k, "")) for k in keys] for r in data["rows"]]


def _archive_rows(data: dict[str, Any]) -> tuple[str, list[list[str]]]:
    about = f"A run on {data.get('cpus', '?')} CPUs."

    def secs(x: float | None) -> str:
        return "-" if x is None else (f"{x:.2f} s" if x >= 1 else f"{x * 1000:.1f} ms")

    rows = []
    for i, r in enumerate(data["rows"], 1):
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "-"
        verdict = "PASS" if r.get("pass") else "FAIL"
        rows.append([str(i), r["line"], secs(r["ours"]), secs(r.get("reference")), ratio,
                     r["target"], verdict])  # fmt: skip
    return about, rows
