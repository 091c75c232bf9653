"""Tests for hatch_datafetch.registry (SPEC §2)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from support.runtime import random_bytes

from hatch_datafetch._runtime import Locator
from hatch_datafetch.errors import render
from hatch_datafetch.registry import (
    KNOWN_HASH_LENGTHS,
    FileEntry,
    Registry,
    RegistryError,
    check_name,
    check_url,
    dump_text,
    dump_toml,
    hash_file,
    load_registry,
    make_registry,
    normalize_hash,
    parse_text,
    parse_toml,
)
from hatch_datafetch.staging import runtime_config


def names(reg: Registry) -> tuple[str, ...]:
    return tuple(e.name for e in reg)


H1 = "a" * 64
H2 = "0123456789abcdef" * 4
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def raises(func: Callable[..., object], *args: Any, **kwargs: Any) -> RegistryError:
    with pytest.raises(RegistryError) as info:
        func(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- hashes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (H1, f"sha256:{H1}"),
        (H1.upper(), f"sha256:{H1}"),
        (f"SHA256:{H2.upper()}", f"sha256:{H2}"),
        (f"md5:{MD5}", f"md5:{MD5}"),
        (f"sha1:{'1' * 40}", f"sha1:{'1' * 40}"),
        (f"sha512:{'f' * 128}", f"sha512:{'f' * 128}"),
        (f"Blake2b:{'0' * 128}", f"blake2b:{'0' * 128}"),
        (f"xxh3_64:{'1' * 16}", f"xxh3_64:{'1' * 16}"),
    ],
)
def test_normalize_hash_valid(value: str, expected: str) -> None:
    assert normalize_hash(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"sha265:{H1}", "unknown hash algorithm 'sha265'; did you mean 'sha256'?"),
        (f"crc32:{H1}", "known: md5, sha1"),
        (f"sha256:{H1[:-1]}", "sha256 needs 64 hex digits, got 63"),
        (f"md5:{MD5}0", "md5 needs 32 hex digits, got 33"),
        (f"sha256:{H1[:-1]}g", "not hexadecimal (bad characters: 'g')"),
        (f"sha256:{H1[:-1]} ", "not hexadecimal"),
        (MD5, "without an algorithm prefix means sha256, which needs 64 hex digits, got 32"),
        (MD5, "32 digits fit md5"),
        (MD5, f"'md5:{MD5}'"),
        ("abc", "check that the hash is complete, or prefix its algorithm (e.g. 'md5:')"),
        ("sha256:", "is empty: expected hex digits after 'sha256:'"),
        ("", "is empty"),
    ],
)
def test_normalize_hash_invalid(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        normalize_hash(value)
    assert message in str(info.value)


def test_known_hash_lengths_match_hashlib() -> None:
    for alg, length in KNOWN_HASH_LENGTHS.items():
        if not alg.startswith("xxh"):
            assert len(hashlib.new(alg).hexdigest()) == length, alg


# --------------------------------------------------------------------------- names and URLs


@pytest.mark.parametrize(
    "name", ["a", "data/camera.png", "my file.txt", "a/b/c.d", "ünï.txt", "x..y", ".hidden"]
)
def test_check_name_valid(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute path"),
        ("\\server\\x", "absolute path"),
        ("C:stuff", "drive letter"),
        ("c:/x", "drive letter"),
        ("data\\camera.png", "backslash"),
        ("a/../b", "'..' segment"),
        ("..", "'..' segment"),
        ("a/./b", "'.' segment"),
        ("a//b", "empty path segment"),
        ("a/", "empty path segment"),
        ("a\nb", "control character U+000A"),
        ("a\x7fb", "control character U+007F"),
        (" a", "leading or trailing whitespace"),
        ("a ", "leading or trailing whitespace"),
    ],
)
def test_check_name_invalid(name: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_name(name)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a",
        "HTTP://example.org",
        "file:///tmp/x",
        "ftp://h/x",
        "sftp://h/x",
        "doi:10.5281/zenodo.1/a.txt",
    ],
)
def test_check_url_valid(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("example.org/a", "has no scheme; expected http://, https://"),
        ("gopher://h/x", "unsupported scheme 'gopher'"),
        ("https:///x", "no host name"),
        ("https://h/a b", "whitespace"),
        ("doi:", "nothing after 'doi:'"),
    ],
)
def test_check_url_invalid(url: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_url(url)
    assert message in str(info.value)


# --------------------------------------------------------------------------- RegistryError


def test_registry_error_format() -> None:
    e = RegistryError("bad", source="r.txt", line=3, hint="fix it")
    assert str(e) == "r.txt:3: bad"
    assert render(e) == "ERROR r.txt:3: bad\nhint: fix it"
    assert (e.source, e.line, e.message, e.hint) == ("r.txt", 3, "bad", "fix it")
    assert e.errors == (str(e),)
    assert str(RegistryError("bad", source="r.txt")) == "r.txt: bad"
    assert str(RegistryError("bad")) == "bad"
    assert isinstance(e, ValueError)


# --------------------------------------------------------------------------- text format


def test_parse_text_basic() -> None:
    text = (
        "# a comment\n"
        "\n"
        f"data/camera.png {H1}\n"
        f"   # indented comment\n"
        f'"my file.txt" SHA1:{"A" * 40}\n'
        f"b.bin md5:{MD5} https://example.org/b.bin\n"
    )
    reg = parse_text(text, "r.txt")
    assert names(reg) == ("b.bin", "data/camera.png", "my file.txt")
    assert reg["data/camera.png"] == FileEntry("data/camera.png", f"sha256:{H1}")
    assert reg["my file.txt"].hash == f"sha1:{'a' * 40}"
    assert reg["b.bin"].url == "https://example.org/b.bin"
    assert reg.base_url is None and reg.mirrors == () and reg.version is None
    assert reg.source == "r.txt"


def test_parse_text_crlf_and_bom() -> None:
    reg = parse_text(f"\ufeffa.txt {H1}\r\nb.txt {H2}\r\n")
    assert names(reg) == ("a.txt", "b.txt")


def test_parse_text_header_comments() -> None:
    text = (
        "# generated\n"
        "# base-url: https://cdn.example.org/v1/\n"
        "# mirror: https://m1.example.org/v1\n"
        "# mirror: file:///srv/data\n"
        "# version: 2024.1\n"
        f"a.txt {H1}\n"
        "# version: not-read-after-the-first-entry\n"
    )
    reg = parse_text(text)
    assert reg.base_url == "https://cdn.example.org/v1/"
    assert reg.mirrors == ("https://m1.example.org/v1", "file:///srv/data")
    assert reg.version == "2024.1"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"/abs.txt {H1}", "absolute path"),
        (f"a/../b {H1}", "'..' segment"),
        (f"'a\\b' {H1}", "backslash"),
        (f"C:/x {H1}", "drive letter"),
        (f"a//b {H1}", "empty path segment"),
        (f"'a\tb' {H1}", "control character U+0009"),
        (f"a {H1[:-1]}", "needs 64 hex digits, got 63"),
        (f"a sha256:{H1[:-1]}x", "not hexadecimal"),
        (f"a whirlpool:{H1}", "unknown hash algorithm 'whirlpool'"),
        (f"a {H1} example.org/a", "has no scheme"),
        ("a", "expected NAME HASH [URL], got 1 field(s)"),
        (f"a {H1} https://x/a # comment", "expected NAME HASH [URL], got 5 field(s)"),
        (f"'a.txt {H1}", "cannot split the line into fields (No closing quotation)"),
        ("# base-url: example.org", "'# base-url:' comment: URL 'example.org' has no scheme"),
        ("# version:", "the version is empty"),
    ],
)
def test_parse_text_invalid_names_the_line(line: str, message: str) -> None:
    text = f"# header\nok.txt {H2}\n{line}\n" if not line.startswith("#") else f"{line}\n"
    lineno = 3 if not line.startswith("#") else 1
    error = raises(parse_text, text, "reg.txt")
    assert str(error).startswith(f"reg.txt:{lineno}: ")
    assert message in str(error)
    assert error.line == lineno


def test_parse_text_too_many_fields_has_hint() -> None:
    error = raises(parse_text, f"my file.txt {H1} https://x/y\n", "reg.txt")
    assert "got 4 field(s)" in str(error)
    assert 'hint: quote names with spaces ("my file.txt"' in render(error)


def test_parse_text_duplicate_names_both_lines() -> None:
    error = raises(parse_text, f"a.txt {H1}\nb.txt {H1}\na.txt {H2}\n", "reg.txt")
    assert str(error).startswith("reg.txt:3: duplicate name 'a.txt', already listed (line 1)")


def test_parse_text_case_duplicates_both_lines() -> None:
    error = raises(parse_text, f"Data/A.txt {H1}\ndata/a.txt {H2}\n", "reg.txt")
    text = render(error)
    assert str(error).startswith("reg.txt:2: name 'data/a.txt' differs from 'Data/A.txt' (line 1)")
    assert "only by case" in text
    assert "case-insensitive filesystems" in text


def test_parse_text_header_twice() -> None:
    error = raises(parse_text, "# base-url: https://a/\n# base-url: https://b/\n", "r")
    assert str(error).startswith("r:2: '# base-url:' is given twice")


def test_parse_text_collects_all_errors() -> None:
    text = f"/abs {H1}\nok {H1}\nbad sha256:xyz\nok {H2}\nlonely\n"
    error = raises(parse_text, text, "reg.txt")
    assert len(error.errors) == 4
    assert [e.split(":")[1] for e in error.errors] == ["1", "3", "4", "5"]
    text = str(error)
    assert text.splitlines()[0] == "reg.txt: 4 problems:"
    for e in error.errors:
        assert e in text
    assert "duplicate name 'ok', already listed (line 2)" in text


# --------------------------------------------------------------------------- TOML format


def test_parse_toml_basic() -> None:
    text = f"""
base-url = "https://cdn.example.org/data/"
mirrors = ["https://mirror.example.net/data", "doi:10.5281/zenodo.1"]
version = "1.2"

[files]
"data/camera.png" = {{ hash = "SHA256:{H1.upper()}", size = 1234 }}
plain = {{ sha256 = "{H2}" }}
"with url.txt" = {{ hash = "md5:{MD5}", url = "https://elsewhere.org/x.txt" }}

[files."sub.table"]
hash = "sha256:{H1}"
size = 0
"""
    reg = parse_toml(text, "r.toml")
    assert reg.base_url == "https://cdn.example.org/data/"
    assert reg.mirrors == ("https://mirror.example.net/data", "doi:10.5281/zenodo.1")
    assert reg.version == "1.2"
    assert names(reg) == ("data/camera.png", "plain", "sub.table", "with url.txt")
    assert reg["data/camera.png"] == FileEntry("data/camera.png", f"sha256:{H1}", 1234)
    assert reg["plain"].hash == f"sha256:{H2}"
    assert reg["sub.table"].size == 0
    assert reg["with url.txt"].url == "https://elsewhere.org/x.txt"


def test_parse_toml_sha256_with_prefix_and_empty_files() -> None:
    reg = parse_toml(f'[files]\na = {{ sha256 = "sha256:{H1}" }}\n')
    assert reg["a"].hash == f"sha256:{H1}"
    assert len(parse_toml("[files]\n")) == 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f'"/abs" = {{ hash = "{H1}" }}', "absolute path"),
        (f'"a/../b" = {{ hash = "{H1}" }}', "'..' segment"),
        (f'"a\\\\b" = {{ hash = "{H1}" }}', "backslash"),
        (f'"C:x" = {{ hash = "{H1}" }}', "drive letter"),
        (f'"a//b" = {{ hash = "{H1}" }}', "empty path segment"),
        (f'"a\\u0001" = {{ hash = "{H1}" }}', "control character U+0001"),
        ('a = { hash = "sha256:abc" }', "sha256 needs 64 hex digits, got 3"),
        (f'a = {{ hash = "sha3:{H1}" }}', "unknown hash algorithm 'sha3'"),
        (f'a = {{ sha256 = "md5:{MD5}" }}', "'sha256' holds a md5 hash"),
        (f'a = {{ hash = "{H1}", sha256 = "{H1}" }}', "has both 'hash' and 'sha256'"),
        ("a = { size = 3 }", "entry 'a' has no hash"),
        ("a = { hash = 3 }", "'hash' must be a string, got 3"),
        (f'a = {{ hash = "{H1}", size = -1 }}', "'size' must be a non-negative integer, got -1"),
        (f'a = {{ hash = "{H1}", size = true }}', "'size' must be a non-negative integer"),
        (f'a = {{ hash = "{H1}", size = "3" }}', "'size' must be a non-negative integer"),
        (f'a = {{ hash = "{H1}", url = 3 }}', "'url' must be a string"),
        (f'a = {{ hash = "{H1}", url = "www.x.org/a" }}', "has no scheme"),
        (f'a = {{ hash = "{H1}", sise = 3 }}', "unknown key 'sise'; did you mean 'size'?"),
        (f'a = "{H1}"', "entry 'a' must be a table"),
        (f'camera.png = {{ hash = "{H1}" }}', 'names containing dots must be quoted: "camera.png"'),
    ],
)
def test_parse_toml_invalid_entry_names_the_line(entry: str, message: str) -> None:
    text = f'version = "1"\n\n[files]\nok = {{ hash = "{H2}" }}\n{entry}\n'
    error = raises(parse_toml, text, "reg.toml")
    assert str(error).startswith("reg.toml:5: "), str(error)
    assert message in render(error)


def test_parse_toml_subtable_line() -> None:
    text = f'[files]\nok = {{ hash = "{H2}" }}\n\n[files."bad.txt"]\nhash = "md5:00"\n'
    assert str(raises(parse_toml, text, "r.toml")).startswith("r.toml:4: entry 'bad.txt'")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('base_url = "https://x/"\n[files]\n', "unknown top-level key 'base_url'; did you mean"),
        ('mirror = ["https://x/"]\n[files]\n', "did you mean 'mirrors'?"),
        ("base-url = 3\n[files]\n", "'base-url' must be a string, got 3"),
        ('base-url = "cdn.org"\n[files]\n', "'base-url': URL 'cdn.org' has no scheme"),
        ('mirrors = "https://x/"\n[files]\n', "'mirrors' must be a list of URL strings"),
        ('mirrors = ["nope"]\n[files]\n', "'mirrors': URL 'nope' has no scheme"),
        ("version = 1.0\n[files]\n", "'version' must be a string, got 1.0"),
        ('version = ""\n[files]\n', "'version' is empty"),
    ],
)
def test_parse_toml_invalid_top_level_names_line_1(text: str, message: str) -> None:
    error = raises(parse_toml, text, "r.toml")
    assert str(error).startswith("r.toml:1: ")
    assert message in str(error)


def test_parse_toml_line_lookup_respects_tables() -> None:
    text = f'[files]\nversion = {{ hash = "{H1}" }}\nurl = {{ hash = "md5:0" }}\n'
    assert str(raises(parse_toml, text, "r.toml")).startswith("r.toml:3: entry 'url'")
    text = f'version = 3\n[files]\nversion = {{ hash = "{H1}" }}\n'
    assert str(raises(parse_toml, text, "r.toml")).startswith("r.toml:1: 'version' must be")


def test_parse_toml_version_number_hint() -> None:
    assert 'hint: write version = "2"' in render(raises(parse_toml, "version = 2\n[files]\n"))


def test_parse_toml_missing_or_bad_files_table() -> None:
    error = raises(parse_toml, 'version = "1"\n', "r.toml")
    assert str(error).startswith("r.toml: no [files] table")
    error = raises(parse_toml, 'files = ["a"]\n', "r.toml")
    assert str(error).startswith("r.toml:1: 'files' must be a table")


def test_parse_toml_syntax_error_has_line() -> None:
    # line 2 for both TOML 1.0 parsers (tomllib 3.11-3.13) and tomli 2.5, which allows
    # newlines in inline tables (TOML 1.1) and so reports an unclosed one on the next line
    error = raises(parse_toml, '[files]\na = { hash = "x" b = 1 }\nc = 1\n', "r.toml")
    assert error.line == 2
    assert str(error).startswith("r.toml:2: invalid TOML: ")
    assert "at line" not in str(error)


def test_parse_toml_case_duplicates_both_lines() -> None:
    text = f'[files]\n"A.txt" = {{ hash = "{H1}" }}\n"a.txt" = {{ hash = "{H1}" }}\n'
    error = raises(parse_toml, text, "r.toml")
    assert str(error).startswith("r.toml:3: name 'a.txt' differs from 'A.txt' (line 2)")


def test_parse_toml_collects_all_errors() -> None:
    text = f'''colour = 1
[files]
"/a" = {{ hash = "{H1}" }}
b = {{ hash = "bad" }}
c = {{ hash = "{H1}", size = -5, url = "nope" }}
'''
    error = raises(parse_toml, text, "r.toml")
    lines = [e.split(":")[1] for e in error.errors]
    assert lines == ["1", "3", "4", "5", "5"]
    assert str(error).startswith("r.toml: 5 problems:")


# --------------------------------------------------------------------------- Registry object


def make(**kwargs: object) -> Registry:
    files = (
        FileEntry("b/two.txt", f"sha256:{H2}", 2),
        FileEntry("a one.txt", f"sha256:{H1}", 1),
        FileEntry("own.txt", f"md5:{MD5}", None, "https://own.example.org/own.txt"),
    )
    return Registry(files, **kwargs)  # type: ignore[arg-type]


def test_registry_mapping_api() -> None:
    reg = make(source="r.txt")
    assert len(reg) == 3
    assert names(reg) == ("a one.txt", "b/two.txt", "own.txt")
    assert [e.name for e in reg] == list(names(reg))
    assert "own.txt" in reg and "nope" not in reg
    assert reg["b/two.txt"].size == 2
    with pytest.raises(KeyError, match=r"'own\.tx' is not in the registry r\.txt; did you mean"):
        reg["own.tx"]


def test_registry_equality_ignores_source_and_order() -> None:
    assert make(source="x") == make(source="y")
    assert Registry(tuple(reversed(make().files))) == make()
    assert hash(make()) == hash(make())


def urls(
    reg: Registry, name: str, base_url: str | None = None, mirrors: list[str] | None = None
) -> list[str]:
    """The URLs the locator tries for NAME of *reg* (CLI overrides as runtime_config takes
    them)."""
    config = runtime_config(reg, base_url=base_url, mirrors=mirrors)
    return Locator(config, environ={}).urls(name)


def test_urls() -> None:
    reg = make(base_url="https://cdn.org/data", mirrors=["https://m1.org/d/", "file:///srv/d"])
    assert urls(reg, "b/two.txt") == [
        "https://cdn.org/data/b/two.txt",
        "https://m1.org/d/b/two.txt",
        "file:///srv/d/b/two.txt",
    ]
    assert urls(reg, "a one.txt")[0] == "https://cdn.org/data/a%20one.txt"
    plus = Registry((FileEntry("a+b/ü.txt", f"sha256:{H1}"),), base_url="https://c/")
    assert urls(plus, "a+b/ü.txt") == ["https://c/a%2Bb/%C3%BC.txt"]
    assert urls(reg, "own.txt") == [
        "https://own.example.org/own.txt",
        "https://m1.org/d/own.txt",
        "file:///srv/d/own.txt",
    ]
    assert urls(reg, "b/two.txt", base_url="https://corp/", mirrors=[]) == [
        "https://corp/b/two.txt"
    ]
    assert urls(make(), "b/two.txt") == []
    assert urls(make(base_url="https://a/"), "b/two.txt", mirrors=["https://a"]) == [
        "https://a/b/two.txt"
    ]


def test_url_overrides() -> None:
    reg = make(base_url="https://a/", mirrors=("https://m/",))
    assert urls(reg, "b/two.txt") == ["https://a/b/two.txt", "https://m/b/two.txt"]
    new = urls(reg, "b/two.txt", "https://b/", ["https://n/"])
    assert new == ["https://b/b/two.txt", "https://n/b/two.txt"]
    assert urls(reg, "b/two.txt", mirrors=[]) == ["https://a/b/two.txt"]


# --------------------------------------------------------------------------- round trips

SPECIAL_NAMES = ["plain.txt", "with space.txt", "it's.txt", 'quo"te.txt', "#hash.txt", "ü/ñ.dat"]


def special_registry(*, sizes: bool) -> Registry:
    files = [
        FileEntry(name, f"sha256:{H1}", i if sizes else None)
        for i, name in enumerate(SPECIAL_NAMES)
    ]
    files.append(FileEntry("u/x.bin", f"md5:{MD5}", 7 if sizes else None, "https://h/x?a=1&b=2"))
    return Registry(
        tuple(files),
        base_url="https://cdn.example.org/v1/",
        mirrors=("https://mirror.example.org/v1/", "file:///srv/data"),
        version="1.0rc1",
    )


def test_text_round_trip() -> None:
    reg = special_registry(sizes=False)
    text = dump_text(reg)
    assert parse_text(text) == reg
    assert dump_text(parse_text(text)) == text
    assert text.startswith("# base-url: https://cdn.example.org/v1/\n# mirror: ")


def test_toml_round_trip() -> None:
    reg = special_registry(sizes=True)
    text = dump_toml(reg)
    assert parse_toml(text) == reg
    assert dump_toml(parse_toml(text)) == text
    assert '"with space.txt" = { hash = "sha256:' in text
    assert "plain = " not in text and '"plain.txt" = ' in text
    assert '"quo\\"te.txt"' in text


def test_toml_round_trip_strange_names_and_bare_keys() -> None:
    reg = Registry(
        (FileEntry("plain_key-1", f"sha256:{H1}"), FileEntry("é\u2028x", f"sha256:{H2}"))
    )
    text = dump_toml(reg)
    assert "plain_key-1 = {" in text
    assert parse_toml(text) == reg
    assert parse_text(dump_text(reg)) == reg
    bad = text.replace(f"{H2}", "md5:0")
    assert str(raises(parse_toml, bad, "r.toml")).startswith("r.toml:3: entry 'é\\u2028x'")
    assert dump_toml(Registry(())) == "[files]\n"


def test_cross_format() -> None:
    reg = special_registry(sizes=True)
    no_sizes = Registry(
        tuple(FileEntry(e.name, e.hash, None, e.url) for e in reg),
        base_url=reg.base_url,
        mirrors=reg.mirrors,
        version=reg.version,
    )
    assert parse_text(dump_text(parse_toml(dump_toml(reg)))) == no_sizes


# --------------------------------------------------------------------------- pooch compatibility


def pooch_mapping(path: pathlib.Path) -> tuple[dict[str, str], dict[str, str]]:
    pooch = pytest.importorskip("pooch")
    p = pooch.create(path=path.parent / "cache", base_url="https://example.org/")
    p.load_registry(path)
    hashes = {k: normalize_hash(v) for k, v in p.registry.items()}
    return hashes, dict(p.urls)


def test_pooch_reads_our_text(tmp_path: pathlib.Path) -> None:
    reg = special_registry(sizes=False)
    path = tmp_path / "registry.txt"
    path.write_text(dump_text(reg), encoding="utf-8")
    hashes, urls = pooch_mapping(path)
    assert hashes == {e.name: e.hash for e in reg}
    assert urls == {e.name: e.url for e in reg if e.url}


POOCH_FILES = [
    f"# registry\n\ncamera.png {H1}\ncoins.png md5:{MD5}\n",
    f"data/a.txt SHA256:{H2.upper()}\n  # indented\n'b c.txt' {H1} https://example.org/bc\n",
    f'"x y/z.txt" sha1:{"1" * 40}\r\nplain {H2}\r\n',
]


@pytest.mark.parametrize("content", POOCH_FILES)
def test_we_read_pooch_files_like_pooch(tmp_path: pathlib.Path, content: str) -> None:
    path = tmp_path / "registry.txt"
    path.write_bytes(content.encode())
    hashes, urls = pooch_mapping(path)
    reg = load_registry(path)
    assert {e.name: e.hash for e in reg} == hashes
    assert {e.name: e.url for e in reg if e.url} == urls


# --------------------------------------------------------------------------- load_registry


def test_load_registry_by_extension(tmp_path: pathlib.Path) -> None:
    reg = special_registry(sizes=True)
    (tmp_path / "r.toml").write_text(dump_toml(reg), encoding="utf-8")
    (tmp_path / "r.TOML").write_text(dump_toml(reg), encoding="utf-8")
    (tmp_path / "r.registry").write_text(dump_text(reg), encoding="utf-8")
    assert load_registry(tmp_path / "r.toml") == reg
    assert load_registry(str(tmp_path / "r.TOML")) == reg
    loaded = load_registry(tmp_path / "r.registry")
    assert names(loaded) == names(reg) and loaded.version == "1.0rc1"
    assert loaded.source == str(tmp_path / "r.registry")


def test_load_registry_bom(tmp_path: pathlib.Path) -> None:
    (tmp_path / "r.txt").write_bytes(b"\xef\xbb\xbfa.txt " + H1.encode() + b"\n")
    (tmp_path / "r.toml").write_bytes(b'\xef\xbb\xbf[files]\na = { hash = "' + H1.encode() + b'" }')
    assert names(load_registry(tmp_path / "r.txt")) == ("a.txt",)
    assert names(load_registry(tmp_path / "r.toml")) == ("a",)


def test_load_registry_missing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nope.txt"
    error = raises(load_registry, path)
    assert str(error).startswith(f"{path}: registry file not found")
    assert "'registry' setting" in render(error) and "make-registry" in render(error)
    assert "cannot read the registry" in str(raises(load_registry, tmp_path))


def test_load_registry_undecodable(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.txt"
    path.write_bytes(f"a {H1}\nb\xff {H1}\n".encode("latin-1"))
    error = raises(load_registry, path)
    assert str(error).startswith(f"{path}:2: not valid UTF-8 (byte 0xff")
    assert "save the registry as UTF-8" in render(error)


def test_load_registry_errors_name_the_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text(f"ok {H1}\n../x {H1}\n", encoding="utf-8")
    assert str(raises(load_registry, path)).startswith(f"{path}:2: name '../x' has a '..'")


# --------------------------------------------------------------------------- hashing


@pytest.mark.parametrize("alg", ["sha256", "md5", "sha1", "sha512", "blake2b", "sha3_256"])
def test_hash_file_matches_hashlib(tmp_path: pathlib.Path, alg: str) -> None:
    data = random_bytes((1 << 20) * 2 + 12345, seed=4)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(path, alg) == f"{alg}:{hashlib.new(alg, data).hexdigest()}"
    assert hash_file(str(path), alg.upper()).startswith(f"{alg}:")


def test_hash_file_empty_and_unknown(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(path) == "sha256:" + hashlib.sha256(b"").hexdigest()
    with pytest.raises(ValueError, match="did you mean 'sha256'"):
        hash_file(path, "sha-256")


# --------------------------------------------------------------------------- make_registry


@pytest.fixture
def tree(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "data"
    files = {
        "b.txt": b"bbb",
        "a/z.bin": b"z" * 1000,
        "a/sub/one two.txt": b"1 2",
        "A.dat": b"",
        ".hidden": b"x",
        ".git/config": b"x",
        "a/.cache/x": b"x",
        "c.part": b"x",
        "c.lock": b"x",
        "skip/me.txt": b"x",
        "x.tmp": b"x",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_make_registry(tree: pathlib.Path) -> None:
    reg = make_registry(tree, exclude=["skip", "*.tmp"], base_url="https://cdn.org/", jobs=3)
    assert names(reg) == ("A.dat", "a/sub/one two.txt", "a/z.bin", "b.txt")
    for e in reg:
        data = (tree / e.name).read_bytes()
        assert e.hash == "sha256:" + hashlib.sha256(data).hexdigest()
        assert e.size == len(data)
        assert e.url is None
    assert reg.base_url == "https://cdn.org/"
    assert reg.source == str(tree)
    assert parse_toml(dump_toml(reg)) == reg
    assert names(parse_text(dump_text(reg))) == names(reg)


def test_make_registry_md5_and_exclude_path(tree: pathlib.Path) -> None:
    reg = make_registry(str(tree), algorithm="md5", exclude=["a/sub/*"], jobs=1)
    assert "a/sub/one two.txt" not in reg and "skip/me.txt" in reg
    assert reg["b.txt"].hash == "md5:" + hashlib.md5(b"bbb").hexdigest()


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_make_registry_does_not_follow_symlinked_dirs(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "data"
    (root / "real").mkdir(parents=True)
    (root / "real" / "f.txt").write_bytes(b"f")
    (root / "link").symlink_to(root / "real", target_is_directory=True)
    (root / "filelink.txt").symlink_to(root / "real" / "f.txt")
    assert names(make_registry(root)) == ("filelink.txt", "real/f.txt")


def test_make_registry_missing_directory(tmp_path: pathlib.Path) -> None:
    error = raises(make_registry, tmp_path / "nope")
    assert str(error) == f"{tmp_path / 'nope'}: data directory not found"
    (tmp_path / "f").write_bytes(b"")
    assert "is not a directory" in str(raises(make_registry, tmp_path / "f"))


def test_make_registry_bad_arguments(tree: pathlib.Path) -> None:
    assert "base URL: URL 'cdn' has no scheme" in str(raises(make_registry, tree, base_url="cdn"))
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        make_registry(tree, algorithm="nope")
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        make_registry(tree, jobs=0)


@pytest.mark.skipif(sys.platform == "win32", reason="backslashes are separators on Windows")
def test_make_registry_rejects_bad_names(tmp_path: pathlib.Path) -> None:
    (tmp_path / "back\\slash").write_bytes(b"")
    (tmp_path / "ok").write_bytes(b"")
    error = raises(make_registry, tmp_path)
    assert "cannot be listed: name 'back\\\\slash' contains a backslash" in str(error)


def test_make_registry_rejects_case_clash(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"")
    (tmp_path / "A.txt").write_bytes(b"")
    if len(os.listdir(tmp_path)) < 2:
        pytest.skip("case-insensitive filesystem")
    assert "only by case" in str(raises(make_registry, tmp_path))


def test_key_lines_in_one_pass_agree_with_the_search_per_key() -> None:
    """Error lines of a large TOML registry come from one pass over the file (a search per
    name made parsing quadratic: 3 s for 3,000 names); both agree on every form of key."""
    from hatch_datafetch._toml import toml_line, toml_lines

    text = """base-url = "https://x/"
[files]
bare-name_1 = { hash = "sha256:aa" }
"quoted name.csv" = { hash = "sha256:bb" }
'literal\\path.txt' = { hash = "sha256:cc" }
"esc\\u00e9aped \\"q\\".txt" = { hash = "sha256:dd" }
  "indented/a b.png"   = { hash = "sha256:ee" }
[files."sub.bin"]
hash = "sha256:ff"
[other]
bare-name_1 = 1
"""
    lines = text.splitlines()
    fast = toml_lines(lines, "files")
    names = ["bare-name_1", "quoted name.csv", "literal\\path.txt", "indented/a b.png"]
    for name in names:
        assert fast[name] == toml_line(lines, name, "files"), name
    assert fast['escéaped "q".txt'] == 6  # (the search per key misses an escaped spelling)
    assert "sub.bin" not in fast and toml_line(lines, "sub.bin", "files") == 8
