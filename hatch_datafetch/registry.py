"""The registry manifest: which data files exist, their hashes, sizes and URLs (SPEC §2).

Two on-disk formats hold the same model, :class:`Registry`:

* **pooch text** -- one ``NAME HASH [URL]`` line per file, split with :func:`shlex.split`
  exactly like :meth:`pooch.Pooch.load_registry`, ``#`` comment lines and blank lines.
  Files that pooch reads stay readable, and files we write stay readable by pooch.
* **TOML** -- optional top-level ``base-url``, ``mirrors`` and ``version``, then a
  ``[files]`` table mapping NAME to ``{ hash = "sha256:...", size = N, url = "..." }``.

An archive entry says how to unpack it, ``unpack = "zip" | "tar" | "gzip" | "bzip2" | "xz"``
(a trailing ``unpack=KIND`` field in the text format) and, in TOML only, lists its members
with their hashes (``members = { "sub/a.fif" = "sha256:..." }``), which ``make-registry
--unpack`` writes by reading the archives.

Parsing validates everything and reports every problem of a file at once in one
:class:`RegistryError`, each as ``source:line: message``.
"""

from __future__ import annotations

import os
import re
import shlex
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ._runtime import archives as _archives
from ._runtime import fs as _fs
from ._runtime import fs as _names
from ._runtime import objstore as _objstore
from ._runtime import oci as _oci
from ._runtime.errors import ArchiveError, DataNotFoundError
from ._toml import toml_key, toml_line, toml_lines, toml_string, tomllib
from .errors import RegistryError, did_you_mean

__all__ = [
    "ARCHIVE_SUFFIXES",
    "KNOWN_HASH_LENGTHS",
    "UNPACK_KINDS",
    "URL_SCHEMES",
    "FileEntry",
    "Registry",
    "RegistryError",
    "check_algorithm",
    "check_name",
    "check_url",
    "dump_text",
    "dump_toml",
    "hash_file",
    "load_registry",
    "make_registry",
    "normalize_hash",
    "parse_text",
    "parse_toml",
]

#: Hash algorithms a registry may use, with the length of their hex digests (the runtime's).
KNOWN_HASH_LENGTHS = _names.HASH_LENGTHS

#: URL schemes a registry, setting or mirror may use (plus the ``doi:`` prefix).
URL_SCHEMES = ("http", "https", "file", "ftp", "sftp")

#: What ``unpack`` may say (the runtime's kinds).
UNPACK_KINDS = _archives.UNPACK_KINDS

#: File name suffixes ``make-registry --unpack`` understands, with the kind each unpacks as.
ARCHIVE_SUFFIXES = {
    ".zip": "zip",
    ".tar": "tar",
    ".tar.gz": "tar",
    ".tgz": "tar",
    ".tar.bz2": "tar",
    ".tbz2": "tar",
    ".tar.xz": "tar",
    ".txz": "tar",
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
}

_HEX = frozenset("0123456789abcdef")
# Special header comments of the text format; see parse_text.
_TEXT_HEADER = re.compile(r"#\s*(base-url|mirror|version):\s*(.*)")


def normalize_hash(value: str) -> str:
    """Return *value* as lowercase ``"alg:hex"``; bare hex digits mean sha256.

    Raises :class:`ValueError` saying what is wrong: an unknown algorithm, characters
    that are not hex digits, or the wrong number of digits for the algorithm.
    """
    alg, sep, digits = value.partition(":")
    if not sep:
        alg, digits = "", value
    digits = digits.lower()
    if sep:
        alg = check_algorithm(alg)
    if not digits:
        after = f": expected hex digits after '{alg}:'" if sep else ""
        raise ValueError(f"the hash {value!r} is empty{after}")
    bad = sorted(set(digits) - _HEX)
    if bad:
        raise ValueError(f"hash {value!r} is not hexadecimal (bad characters: {''.join(bad)!r})")
    if not sep:
        if len(digits) != 64:
            fits = [a for a, n in KNOWN_HASH_LENGTHS.items() if n == len(digits)]
            advice = (
                f"{len(digits)} digits fit {', '.join(fits)}: prefix the algorithm, "
                f"e.g. '{fits[0]}:{digits}'"
                if fits
                else "check that the hash is complete, or prefix its algorithm (e.g. 'md5:')"
            )
            raise ValueError(
                "a hash without an algorithm prefix means sha256, which needs 64 hex digits, "
                f"got {len(digits)}; {advice}"
            )
        alg = "sha256"
    elif len(digits) != KNOWN_HASH_LENGTHS[alg]:
        raise ValueError(f"{alg} needs {KNOWN_HASH_LENGTHS[alg]} hex digits, got {len(digits)}")
    return f"{alg}:{digits}"


def check_algorithm(algorithm: str) -> str:
    """*algorithm* in lower case, or :class:`ValueError` naming the known ones."""
    alg = algorithm.lower()
    if alg not in KNOWN_HASH_LENGTHS:
        raise ValueError(
            f"unknown hash algorithm {alg!r}{did_you_mean(alg, KNOWN_HASH_LENGTHS)} "
            f"(known: {', '.join(KNOWN_HASH_LENGTHS)})"
        )
    return alg


def check_name(name: str) -> None:
    """Raise :class:`ValueError` unless *name* is a relative POSIX path that every common
    file system can store (the runtime's rules: :func:`_runtime.names.name_problem`)."""
    problem = _fs.name_problem(name)
    if problem is not None:
        raise ValueError(problem)


def check_url(url: str) -> None:
    """Raise :class:`ValueError` unless *url* is a usable download or base URL."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ValueError(
            f"URL {url!r} contains whitespace or control characters; percent-encode them "
            "(a space is %20)"
        )
    if url[:4].lower() == "doi:":
        if len(url) == 4:
            raise ValueError(f"URL {url!r} has nothing after 'doi:'")
        return
    if _oci.is_oci(url):  # an OCI registry (SPEC §14); the error names the form
        _oci.parse(url)
        return
    parts = urllib.parse.urlsplit(url)
    expected = ", ".join(f"{s}://" for s in URL_SCHEMES) + ", oci:// or doi:"
    if parts.scheme not in URL_SCHEMES:
        if _objstore.known_protocol(parts.scheme):
            return  # s3://, gs://, az://, another fsspec protocol: fsspec reads the rest
        what = f"has the unsupported scheme {parts.scheme!r}" if parts.scheme else "has no scheme"
        raise ValueError(
            f"URL {url!r} {what}; expected {expected}, or an object store URL: s3://, gs://, "
            "az:// or another protocol of fsspec (installed, so that it can say which)"
        )
    if parts.scheme != "file" and not parts.netloc:
        raise ValueError(f"URL {url!r} has no host name")
    if parts.password is not None or (parts.username and parts.scheme in ("http", "https")):
        shown = parts._replace(netloc=f"***@{parts.netloc.rpartition('@')[2]}").geturl()
        raise ValueError(
            f"URL {shown} carries credentials, which would be shipped in every wheel; put them "
            "in ~/.netrc (machine HOST login USER password PASSWORD) or in the token-env-var "
            "at run time instead"
        )


@dataclass(frozen=True)
class FileEntry:
    """One data file: its relative POSIX name, normalised ``alg:hex`` hash and optional size/URL.

    An archive to unpack has ``unpack`` (one of :data:`UNPACK_KINDS`) and, when known,
    ``members``: member path (relative POSIX) -> normalised ``alg:hex``, sorted.
    """

    name: str
    hash: str
    size: int | None = None
    url: str | None = None
    unpack: str | None = None
    members: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.members is not None:
            object.__setattr__(self, "members", dict(sorted(self.members.items())))

    def shipped(self) -> dict[str, str]:
        """What bundles and data wheels carry for this entry, path -> hash: the members
        under NAME/ when the registry lists them, else the file (or archive) NAME itself."""
        if self.members is None:
            return {self.name: self.hash}
        return {f"{self.name}/{m}": h for m, h in self.members.items()}


@dataclass(frozen=True)
class Registry:
    """A validated registry: entries sorted by name plus download locations.

    ``source`` (where the registry came from) is for messages only and does not take
    part in comparisons.
    """

    files: tuple[FileEntry, ...]
    base_url: str | None = None
    mirrors: tuple[str, ...] = ()
    version: str | None = None
    source: str | None = field(default=None, compare=False)
    _index: dict[str, FileEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        files = tuple(sorted(self.files, key=lambda e: e.name))
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "mirrors", tuple(self.mirrors))
        object.__setattr__(self, "_index", {e.name: e for e in files})

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self.files)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> FileEntry:
        try:
            return self._index[name]
        except KeyError:
            where = f" {self.source}" if self.source else ""
            raise KeyError(
                f"{name!r} is not in the registry{where}{did_you_mean(name, self._index)}"
            ) from None

    def shipped(self) -> dict[str, str]:
        """Path -> hash of everything bundles and data wheels carry (see
        :meth:`FileEntry.shipped`), sorted."""
        out: dict[str, str] = {}
        for entry in self.files:
            out.update(entry.shipped())
        return dict(sorted(out.items()))


# --------------------------------------------------------------------------- parsing


def _clashes(names: Iterable[tuple[str, int | None]], source: str) -> list[RegistryError]:
    """Errors for duplicate names and names that differ only by case or by Unicode
    normalisation (NFC/NFD twins), which file systems store as one file."""
    errors = []
    seen: dict[str, tuple[str, int | None]] = {}
    for name, line in names:
        key = unicodedata.normalize("NFC", name).casefold()
        other, other_line = seen.setdefault(key, (name, line))
        if (other, other_line) == (name, line):
            continue
        at = f" (line {other_line})" if other_line is not None else ""
        if other == name:
            message = f"duplicate name {name!r}, already listed{at or ' earlier'}"
            hint = "remove one of the two entries"
        else:
            nfc = unicodedata.normalize("NFC", name) == unicodedata.normalize("NFC", other)
            how = "only by Unicode normalisation (NFC/NFD)" if nfc else "only by case"
            systems = (
                "normalising filesystems (macOS)"
                if nfc
                else ("case-insensitive filesystems (Windows, macOS)")
            )
            message = f"name {name!r} differs from {other!r}{at} {how}"
            hint = f"the two files would overwrite each other on {systems}; rename one of them"
        errors.append(RegistryError(message, source=source, line=line, hint=hint))
    return errors


def _raise(errors: list[RegistryError], source: str) -> None:
    """Raise the errors of one file as a single RegistryError (sorted by line)."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        errors.sort(key=lambda e: e.line or 0)
        raise RegistryError(f"{len(errors)} problems:", source=source, problems=errors)


def _finish(
    entries: list[tuple[FileEntry, int | None]],
    errors: list[RegistryError],
    source: str,
    **fields: Any,
) -> Registry:
    errors += _clashes(((e.name, line) for e, line in entries), source)
    archives = {e.name for e, _ in entries if e.unpack}
    for e, line in entries:
        parts = e.name.split("/")
        inside = [a for a in ("/".join(parts[:i]) for i in range(1, len(parts))) if a in archives]
        if inside:
            errors.append(
                RegistryError(
                    f"name {e.name!r} lies inside the archive {inside[0]!r}, which unpacks to "
                    f"the directory {inside[0]}/",
                    source=source,
                    line=line,
                    hint="rename one of them (members of an archive are listed in its "
                    "`members`, not as entries of their own)",
                )
            )
    _raise(errors, source)
    return Registry(tuple(e for e, _ in entries), source=source, **fields)


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _header_line(key: str, value: str, header: dict[str, Any]) -> tuple[str, str | None] | None:
    """Take a ``# base-url:``/``# mirror:``/``# version:`` comment into ``header``; the
    problem, if any."""
    try:
        if key == "version":
            if not value:
                raise ValueError("the version is empty")
        else:
            check_url(value)
    except ValueError as exc:
        return f"'# {key}:' comment: {exc}", None
    if key == "mirror":
        header["mirrors"].append(value)
    elif header[key.replace("-", "_")] is not None:
        return f"'# {key}:' is given twice", "keep only one such line"
    else:
        header[key.replace("-", "_")] = value
    return None


def parse_text(text: str, source: str = "<string>") -> Registry:
    """Parse the pooch text format: ``NAME HASH [URL]`` per line.

    Lines are split with :func:`shlex.split` like pooch, so names with spaces can be
    quoted (``"my file.txt" sha256:...``).  Lines whose first non-blank character is ``#``
    are comments; a comment after the fields is not allowed (pooch rejects it too).

    Base URL, mirrors and version, which pooch's format cannot express, are read from
    comment lines *before the first entry* (pooch ignores them as ordinary comments)::

        # base-url: https://example.org/data/v1/
        # mirror: https://mirror.example.net/data/v1/
        # version: 1.0

    ``mirror`` may be repeated; :func:`dump_text` writes these lines so text round-trips.

    A last field ``unpack=KIND`` marks an archive to unpack (pooch reads it as the URL of a
    two-field line, and refuses a line that also has a URL). Its members cannot be listed
    in this format: such entries keep their archive (see docs/howto/archives.md).
    """
    errors: list[RegistryError] = []
    entries: list[tuple[FileEntry, int | None]] = []
    header: dict[str, Any] = {"base_url": None, "mirrors": [], "version": None}

    def error(message: str, line: int, hint: str | None = None) -> None:
        errors.append(RegistryError(message, source=source, line=line, hint=hint))

    lines = _strip_bom(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _TEXT_HEADER.fullmatch(line)
            if match and not entries:  # after the first entry: an ordinary comment
                bad = _header_line(match[1], match[2].strip(), header)
                if bad:
                    error(bad[0], lineno, bad[1])
            continue
        try:
            fields = shlex.split(line)
        except ValueError as exc:
            error(
                f"cannot split the line into fields ({exc})",
                lineno,
                "check the quotes around names that contain spaces",
            )
            continue
        unpack = None
        if len(fields) in (3, 4) and fields[-1].startswith("unpack="):
            unpack = fields.pop()[len("unpack=") :]
        if len(fields) not in (2, 3):
            hint = (
                'quote names with spaces ("my file.txt" sha256:...); put comments on their own line'
            )
            error(f"expected NAME HASH [URL], got {len(fields)} field(s)", lineno, hint)
            continue
        name, digest = fields[0], fields[1]
        url = fields[2] if len(fields) == 3 else None
        problems = []
        for check, value in ((check_name, name), (normalize_hash, digest), (check_url, url)):
            try:
                if value is not None:
                    check(value)
            except ValueError as exc:
                problems.append(str(exc))
        if unpack is not None:
            problems += _unpack_problems(name, unpack, None)
        for problem in problems:
            error(problem, lineno)
        if not problems:
            entry = FileEntry(name, normalize_hash(digest), None, url, unpack)
            entries.append((entry, lineno))
    header["mirrors"] = tuple(header["mirrors"])
    return _finish(entries, errors, source, **header)


def parse_toml(text: str, source: str = "<string>") -> Registry:
    """Parse the TOML format (see the module docstring)."""
    text = _strip_bom(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        match = re.search(r"\s*\(at line (\d+), column \d+\)", msg)
        line = int(match[1]) if match else getattr(exc, "lineno", None)
        if match:
            msg = msg[: match.start()] + msg[match.end() :]
        raise RegistryError(
            f"invalid TOML: {msg}", source=source, line=line, hint="fix the TOML syntax"
        ) from None
    lines = text.split("\n")
    errors: list[RegistryError] = []
    entries: list[tuple[FileEntry, int | None]] = []

    def error(message: str, line: int | None, hint: str | None = None) -> None:
        errors.append(RegistryError(message, source=source, line=line, hint=hint))

    top = _toml_top(data, lines, error)
    files = data.get("files")
    if files is None:
        error("no [files] table", None, 'add [files] with lines like "a.txt" = { hash = "..." }')
        files = {}
    elif not isinstance(files, dict):
        error("'files' must be a table", toml_line(lines, "files"))
        files = {}
    where = toml_lines(lines, "files")
    for name, spec in files.items():
        line = where.get(name) or toml_line(lines, name, "files")
        entry = _toml_entry(name, spec, line, error)
        if entry is not None:
            entries.append((entry, line))
    return _finish(entries, errors, source, **top)


_Report = Callable[..., None]


def _toml_top(data: dict[str, Any], lines: Sequence[str], error: _Report) -> dict[str, Any]:
    """``base-url``, ``mirrors`` and ``version`` of a TOML registry, checked."""
    top: dict[str, Any] = {"base_url": None, "mirrors": (), "version": None}
    for key, value in data.items():
        if key == "files":
            continue
        line = toml_line(lines, key)
        if key not in ("base-url", "mirrors", "version"):
            options = ("base-url", "mirrors", "version", "files")
            error(
                f"unknown top-level key {key!r}{did_you_mean(key, options)}",
                line,
                "allowed are base-url, mirrors, version and the [files] table",
            )
        elif key == "mirrors":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                error(f"'mirrors' must be a list of URL strings, got {value!r}", line)
                continue
            for mirror in value:
                try:
                    check_url(mirror)
                except ValueError as exc:
                    error(f"'mirrors': {exc}", line)
            top["mirrors"] = tuple(value)
        elif not isinstance(value, str):
            hint = f'write {key} = "{value}"' if isinstance(value, (int, float)) else None
            error(f"{key!r} must be a string, got {value!r}", line, hint)
        elif key == "base-url":
            try:
                check_url(value)
            except ValueError as exc:
                error(f"'base-url': {exc}", line)
            top["base_url"] = value
        elif not value.strip():
            error("'version' is empty", line)
        else:
            top["version"] = value
    return top


def _toml_entry(name: str, spec: Any, line: int | None, report: _Report) -> FileEntry | None:
    """The ``[files]`` entry NAME (at ``line``), or None after reporting what is wrong."""

    def error(message: str, hint: str | None = None) -> None:
        report(message, line, hint)

    try:
        check_name(name)
    except ValueError as exc:
        error(str(exc))
        return None
    example = f'{toml_key(name)} = {{ hash = "sha256:..." }}'
    if not isinstance(spec, dict):
        error(f"entry {name!r} must be a table, got {spec!r}", f"write {example}")
        return None
    nested = [k for k, v in spec.items() if isinstance(v, dict) and k != "members"]
    if nested:
        dotted = f"{name}.{nested[0]}"
        error(
            f"entry {name!r} holds a table {nested[0]!r} instead of a hash",
            f'names containing dots must be quoted: "{dotted}" = {{ hash = "..." }}',
        )
        return None
    opts = ("hash", "sha256", "size", "url", "unpack", "members")
    unknown = [k for k in spec if k not in opts]
    for key in unknown:
        error(f"entry {name!r}: unknown key {key!r}{did_you_mean(key, opts)}")
    digest: str | None = None
    given = [k for k in ("hash", "sha256") if k in spec]
    if not given:
        error(f"entry {name!r} has no hash", f"write {example}")
    elif len(given) == 2:
        error(f"entry {name!r} has both 'hash' and 'sha256'", "keep only one")
    elif not isinstance(spec[given[0]], str):
        error(f"entry {name!r}: {given[0]!r} must be a string, got {spec[given[0]]!r}")
    else:
        value = spec[given[0]]
        try:
            if given[0] == "sha256" and ":" not in value:
                value = "sha256:" + value
            digest = normalize_hash(value)
            if given[0] == "sha256" and not digest.startswith("sha256:"):
                raise ValueError(f"'sha256' holds a {digest.partition(':')[0]} hash")
        except ValueError as exc:
            error(f"entry {name!r}: {exc}")
            digest = None
    size = spec.get("size")
    if size is not None and (type(size) is not int or size < 0):
        error(f"entry {name!r}: 'size' must be a non-negative integer, got {size!r}")
    url = spec.get("url")
    if url is not None:
        try:
            if not isinstance(url, str):
                raise ValueError(f"'url' must be a string, got {url!r}")
            check_url(url)
        except ValueError as exc:
            error(f"entry {name!r}: {exc}")
    unpack, members = spec.get("unpack"), spec.get("members")
    archive = "unpack" in spec or "members" in spec
    problems = _unpack_problems(name, unpack, members) if archive else []
    for problem in problems:
        error(f"entry {name!r}: {problem}")
    if digest is None or unknown or problems:
        return None
    if members is not None:
        members = {m: normalize_hash(h) for m, h in members.items()}
    return FileEntry(name, digest, size, url, unpack, members)


def _unpack_problems(name: str, unpack: Any, members: Any) -> list[str]:
    """What is wrong with an entry's ``unpack`` and ``members`` (empty: nothing)."""
    if unpack is None:
        return ["'members' needs 'unpack' (members are the files of an archive to unpack)"]
    if not isinstance(unpack, str):
        return [f"'unpack' must be a string, got {unpack!r}"]
    problem = _archives.unpack_kind_problem(unpack)
    if problem is not None:
        return [problem]
    try:
        stem = _archives.single_member(name, unpack)
    except ValueError as exc:
        return [str(exc)]
    if members is None:
        return []
    if not isinstance(members, dict) or not members:
        return [
            "'members' must be a non-empty table of member = hash (hatch-datafetch "
            "make-registry --unpack writes it)"
        ]
    problems = []
    for member, value in members.items():
        try:
            check_name(member)
            if not isinstance(value, str):
                raise ValueError(f"the hash must be a string, got {value!r}")
            normalize_hash(value)
        except ValueError as exc:
            problems.append(f"member {member!r}: {exc}")
    problems += [f"members: {e.message}" for e in _clashes(((m, None) for m in members), "")]
    clash = _archives.tree_clash(members)
    if clash is not None:
        problems.append(f"member {clash!r} is both a file and a directory of other members")
    if stem is not None and list(members) != [stem]:
        problems.append(
            f"a {unpack} file decompresses to one member, named like NAME without its suffix: "
            f'members = {{ {toml_key(stem)} = "..." }}'
        )
    return problems


def load_registry(path: str | os.PathLike[str]) -> Registry:
    """Read a registry file: ``.toml`` as TOML, anything else as pooch text (UTF-8)."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise RegistryError(
            "registry file not found",
            source=source,
            hint="check the 'registry' setting (a path relative to the project root), "
            "or create the file with 'hatch-datafetch make-registry DIR'",
        ) from None
    except OSError as exc:
        raise RegistryError(f"cannot read the registry: {exc.strerror}", source=source) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            source=source,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save the registry as UTF-8",
        ) from None
    if source.lower().endswith(".toml"):
        return parse_toml(text, source)
    return parse_text(text, source)


# --------------------------------------------------------------------------- writing


def dump_text(registry: Registry) -> str:
    """Write the pooch text format, sorted by name; see :func:`parse_text` for the header.

    An archive gets its ``unpack=KIND`` field; its ``members`` cannot be written in this
    format and are left out (use :func:`dump_toml` to keep them).
    """
    out = [f"# base-url: {registry.base_url}"] if registry.base_url else []
    out += [f"# mirror: {m}" for m in registry.mirrors]
    if registry.version:
        out.append(f"# version: {registry.version}")
    for e in registry.files:
        fields = [e.name, e.hash] + ([e.url] if e.url else [])
        fields += [f"unpack={e.unpack}"] if e.unpack else []
        out.append(" ".join(shlex.quote(f) for f in fields))
    return "\n".join(out) + "\n" if out else ""


def dump_toml(registry: Registry) -> str:
    """Write the TOML format, sorted by name, one inline table per file; an archive with
    members gets a ``[files."NAME"]`` table and a ``[files."NAME".members]`` table (one line
    per member), after the inline entries."""
    out = []
    if registry.base_url:
        out.append(f"base-url = {toml_string(registry.base_url)}")
    if registry.mirrors:
        out.append(f"mirrors = [{', '.join(toml_string(m) for m in registry.mirrors)}]")
    if registry.version:
        out.append(f"version = {toml_string(registry.version)}")
    if out:
        out.append("")
    out.append("[files]")
    tables = []
    for e in registry.files:
        fields = [f"hash = {toml_string(e.hash)}"]
        if e.size is not None:
            fields.append(f"size = {e.size}")
        if e.url:
            fields.append(f"url = {toml_string(e.url)}")
        if e.unpack:
            fields.append(f"unpack = {toml_string(e.unpack)}")
        if e.members is None:
            out.append(f"{toml_key(e.name)} = {{ {', '.join(fields)} }}")
            continue
        key = f"files.{toml_string(e.name)}"
        tables += ["", f"[{key}]", *fields, "", f"[{key}.members]"]
        tables += [f"{toml_key(m)} = {toml_string(h)}" for m, h in e.members.items()]
    return "\n".join(out + tables) + "\n"


# --------------------------------------------------------------------------- hashing


def hash_file(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hash a file in 1 MiB chunks and return ``"alg:hex"`` (the runtime's own hasher)."""
    try:
        return _fs.hash_file(path, check_algorithm(algorithm))
    except DataNotFoundError as e:  # xxh* without the xxhash module
        raise ValueError(str(e)) from None


def make_registry(
    directory: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    algorithm: str = "sha256",
    jobs: int = 8,
    exclude: Sequence[str] = (),
    unpack: Sequence[str] = (),
    members: bool = True,
) -> Registry:
    """Hash every file under *directory* into a :class:`Registry`.

    Names are POSIX paths relative to *directory*.  Skipped: dot-files and dot-directories
    (``.git``), files ending ``.part`` or ``.lock`` (partial downloads), symlinked
    directories (not followed), and anything matching an *exclude* glob pattern
    (:func:`fnmatch.fnmatchcase` against the relative name or the bare file/directory name).

    Files whose name ends in one of the *unpack* suffixes (keys of
    :data:`ARCHIVE_SUFFIXES`: ``zip``, ``tar.gz``, ``gz``...) become archives to unpack; with
    *members* their members are read and hashed (sha256) -- an archive holding anything but
    regular files and directories below itself (links, devices, absolute or ``..`` paths) is
    an error naming the archive and the member.
    """
    source = os.fspath(directory)
    if not os.path.isdir(source):
        what = "is not a directory" if os.path.exists(source) else "not found"
        raise RegistryError(f"data directory {what}", source=source)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    check_algorithm(algorithm)  # fail early on an unknown algorithm
    suffixes = _unpack_suffixes(unpack, source)
    if base_url is not None:
        try:
            check_url(base_url)
        except ValueError as exc:
            raise RegistryError(f"base URL: {exc}", source=source) from None

    names = _data_names(source, exclude)
    errors = []
    for name in names:
        try:
            check_name(name)
        except ValueError as exc:
            errors.append(RegistryError(f"cannot be listed: {exc}", source=source))
    _raise(errors + _clashes(((n, None) for n in names), source), source)

    def entry(name: str) -> FileEntry:
        path = os.path.join(source, *name.split("/"))
        try:
            digest, size = hash_file(path, algorithm), os.path.getsize(path)
        except OSError as exc:
            raise RegistryError(f"cannot read {name!r}: {exc.strerror}", source=source) from None
        kind = _archive_kind(name, suffixes)
        if kind is None:
            return FileEntry(name, digest, size)
        listed = _list_members(name, path, kind, source) if members else None
        return FileEntry(name, digest, size, unpack=kind, members=listed)

    from concurrent.futures import ThreadPoolExecutor  # lazy: costs ~7 ms per build

    with ThreadPoolExecutor(max_workers=min(jobs, max(1, len(names)))) as pool:
        files = tuple(pool.map(entry, names))
    inside = [
        (e.name, a.name)
        for a in files
        if a.unpack
        for e in files
        if e.name.startswith(a.name + "/")
    ]
    if inside:
        raise RegistryError(
            f"{inside[0][0]!r} lies inside {inside[0][1]!r}, an archive to unpack",
            source=source,
            hint="rename the directory or the archive",
        )
    return Registry(files, base_url=base_url, source=source)


def _data_names(source: str, exclude: Sequence[str]) -> list[str]:
    """The relative POSIX names of the files :func:`make_registry` lists, sorted."""

    def excluded(rel: str) -> bool:
        base = rel.rpartition("/")[2]
        return any(fnmatchcase(rel, p) or fnmatchcase(base, p) for p in exclude)

    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(source):
        rel_dir = os.path.relpath(dirpath, source).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not excluded(prefix + d)
        )
        for fn in sorted(filenames):
            if fn.startswith(".") or fn.endswith((".part", ".lock")) or excluded(prefix + fn):
                continue
            names.append(prefix + fn)
    return sorted(names)


def _list_members(name: str, path: str, kind: str, source: str) -> dict[str, str]:
    """member -> sha256 of the archive NAME at ``path``, read without extracting; an
    archive holding anything but regular files below itself is a :class:`RegistryError`."""
    try:
        stem = _archives.single_member(name, kind)
        listed = _archives.archive_members(path, kind, label=name, stem=stem)
    except (ValueError, ArchiveError) as exc:  # ValueError: the suffix decided
        raise RegistryError(
            f"cannot list the members of {name!r}: {exc}",
            source=source,
            hint="leave it out of --unpack (it is then registered as a plain file), or "
            "rebuild the archive with regular files only",
        ) from None
    problems = _unpack_problems(name, kind, listed)
    if problems:
        raise RegistryError(
            f"the members of the archive {name!r} cannot be listed: {problems[0]}",
            source=source,
            hint="leave it out of --unpack, or rename the members",
        )
    return listed


def _unpack_suffixes(unpack: Sequence[str], source: str) -> list[tuple[str, str]]:
    """(suffix, kind) for the ``--unpack`` list, longest suffix first."""
    out = []
    for raw in unpack:
        suffix = "." + raw.strip().lower().lstrip(".")
        if suffix not in ARCHIVE_SUFFIXES:
            raise RegistryError(
                f"--unpack: unknown archive suffix {raw!r}{did_you_mean(suffix, ARCHIVE_SUFFIXES)}",
                source=source,
                hint=f"known suffixes: {', '.join(s[1:] for s in ARCHIVE_SUFFIXES)}",
            )
        out.append((suffix, ARCHIVE_SUFFIXES[suffix]))
    return sorted(out, key=lambda p: -len(p[0]))


def _archive_kind(name: str, suffixes: Sequence[tuple[str, str]]) -> str | None:
    """The kind of NAME by its longest matching suffix (``x.tar.gz`` with only ``gz`` asked
    for is a gzip file decompressing to ``x.tar``)."""
    lower = name.lower()
    for suffix, kind in suffixes:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return kind
    return None
