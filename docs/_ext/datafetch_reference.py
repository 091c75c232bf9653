"""Reference pages generated from the code at build time (Sphinx extension).

``reference/settings.md`` from :data:`hatch_datafetch.settings.SCHEMA`; ``reference/cli.md``
from the argparse parsers of both command lines; ``reference/environment.md`` from every
``HATCH_DATAFETCH_*`` name in the source (with where it is read) and the table below, which
must describe each one: a variable in the code but not here stops the build.
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
        "The build cache (default `<user cache dir>/hatch-datafetch/build`).",
    ),
    "HATCH_DATAFETCH_WHEEL": ("builds", "Overrides the `wheel` setting (`omit` or `bundle`)."),
    "HATCH_DATAFETCH_SDIST": ("builds", "Overrides the `sdist` setting (`omit` or `bundle`)."),
    "HATCH_DATAFETCH_DATA_WHEEL": (
        "builds",
        "Overrides `data-wheel` (`1`/`0`...); `1` also builds the data wheel under front ends "
        "that are not known to keep it.",
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
    ("`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (any case)", "run time", "proxies, as curl "
     "reads them (https through CONNECT; `NO_PROXY` entries may carry a port)"),
    ("`SOURCE_DATE_EPOCH`", "builds", "the mtime of every file in sdists, wheels and data "
     "wheels (reproducible builds)"),
]  # fmt: skip


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}


def generate(app: Any) -> None:
    out = Path(app.srcdir) / "reference"
    pages = {
        "settings.md": settings_page(),
        "cli.md": cli_page(),
        "environment.md": environment_page(),
    }
    for name, text in pages.items():
        path = out / name
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
        "Same keys, one validated model: an unknown key is an error with a \"did you mean\", "
        "a wrong type is an error (a quoted `\"true\"` is not a boolean), and every problem is "
        "reported at once, with its line.",
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
                choices = f" (one of {', '.join(map(str, action.choices))})" if action.choices else ""
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
