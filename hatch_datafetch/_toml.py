"""TOML helpers shared by the registry and the settings: the ``tomllib`` shim (``tomli``
before Python 3.11), finding the line of a key for error messages, looking up a dotted
table, and writing TOML strings and keys."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.9/3.10 CI runs
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["table_at", "toml_key", "toml_line", "toml_lines", "toml_string", "tomllib"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def table_at(data: Mapping[str, Any], dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``, or None where a level is missing or not a table."""
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def toml_string(value: str) -> str:
    """A TOML basic string literal for *value*."""
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n"}
    escapes.update({"\f": "\\f", "\r": "\\r"})
    out = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """*key* bare when TOML allows it, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def _header(line: str) -> str | None:
    """The dotted name of a ``[table]`` header line (spaces removed), else None."""
    m = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
    return re.sub(r"\s*\.\s*", ".", m[1]) if m and not line.lstrip().startswith("[[") else None


_KEY_AT_START = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""")


def toml_lines(lines: Sequence[str], table: str) -> dict[str, int]:
    """1-based line of each key written ``KEY = ...`` in ``[table]``, in one pass (a
    registry of 100,000 names: :func:`toml_line` per name would read the file per name).
    Keys it cannot read here (other quoting, sub-tables) are :func:`toml_line`'s to find."""
    import json

    out: dict[str, int] = {}
    current: str | None = None
    for i, line in enumerate(lines):
        header = _header(line)
        if header is not None:
            current = header
            continue
        if current != table:
            continue
        m = _KEY_AT_START.match(line)
        if m is None:
            continue
        raw = m[1]
        if raw[0] == '"':
            try:
                key = json.loads(raw)  # TOML's basic-string escapes, but \U: toml_line's
            except ValueError:
                continue
        else:
            key = raw[1:-1] if raw[0] == "'" else raw
        out.setdefault(key, i + 1)
    return out


def toml_line(lines: Sequence[str], key: str, table: str | None = None) -> int | None:
    """Best-effort 1-based line of *key* (bare, "quoted" or 'quoted') in TOML source lines.

    Looked for first among the keys of ``[table]`` (the top level when *table* is None),
    then as a sub-table header ``[table.key...]``, then anywhere as ``key =``.
    """
    forms = [re.escape(toml_string(key)), re.escape(f"'{key}'")]
    if _BARE_KEY.fullmatch(key):
        forms.append(re.escape(key))
    alt = "|".join(forms)
    assignment = re.compile(rf"\s*(?:{alt})\s*[=.]")
    current: str | None = None
    anywhere: int | None = None
    for i, line in enumerate(lines):
        header = _header(line)
        if header is not None:
            current = header
            name = f"{table}." if table else ""
            if header.startswith(name) and re.fullmatch(
                rf"(?:{alt})(?:\..*)?", header[len(name) :].replace(" ", "")
            ):
                return i + 1
            continue
        if assignment.match(line):
            if current == table:
                return i + 1
            if anywhere is None:
                anywhere = i + 1
    return anywhere
