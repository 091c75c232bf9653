"""Migrating real projects (SPEC §13): registries made from DOIs, URL lists and pooch objects;
``doi:`` URLs resolved by the build, never by a locator.

The repositories are a stand-in on 127.0.0.1 (``tests/support/repositories.py``) answering with
the JSON shapes Zenodo, Figshare, Dataverse and doi.org document; the resolver is pointed at it
with ``HATCH_DATAFETCH_DOI_RESOLVER`` and ``HATCH_DATAFETCH_FIGSHARE_API``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cdnserver import status
from support.hatch import build, run, venv_with
from support.repositories import Repositories, md5
from support.runtime import random_bytes

from hatch_datafetch._runtime import Locator
from hatch_datafetch.cli import main
from hatch_datafetch.registry import load_registry
from hatch_datafetch.staging import runtime_config

FILES = {
    "tiny-data.txt": b"# A tiny data file\n1 2 3\n",
    "values.bin": random_bytes(40_000, seed=3),
    "table.csv": b"x,y\n1,2\n3,4\n",
}
DATAVERSE_DOI = "10.70122/FK2/XYZ123"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def repos(monkeypatch: pytest.MonkeyPatch) -> Iterator[Repositories]:
    """The stand-in, with the resolver of this process pointed at it."""
    with Repositories() as server:
        for key, value in server.environ.items():
            monkeypatch.setenv(key, value)
        yield server


def make_registry(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["make-registry", "-q", *args])
    out, err = capsys.readouterr()
    return code, out, err


def verify_with_locator(registry_path: Path, tmp_path: Path, files: dict[str, bytes]) -> None:
    """The registry's entries verify: a locator of it downloads every file, hash-checked."""
    config = runtime_config(load_registry(registry_path))
    loc = Locator(config, cache_dir=tmp_path / "verify-cache", environ={}, backoff=0.01)
    paths = loc.fetch_all()
    assert {n: p.read_bytes() for n, p in paths.items()} == files


# ---------------------------------------------------------------------- make-registry --doi


@pytest.mark.parametrize("kind", ["zenodo", "figshare", "dataverse"])
def test_make_registry_doi_writes_entries_that_verify(
    kind: str, repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(FILES)
    if kind == "dataverse":  # a file in a folder of the dataset
        files["sub/more.txt"] = files.pop("table.csv")
    doi = {
        "zenodo": lambda: repos.zenodo(4924875, files),
        "figshare": lambda: repos.figshare(14763051, files, version=2),
        "dataverse": lambda: repos.dataverse(DATAVERSE_DOI, files),
    }[kind]()
    out = tmp_path / "registry.toml"
    code, _, err = make_registry(capsys, "--doi", f"doi:{doi}", "-o", str(out))
    assert code == 0, err
    reg = load_registry(out)
    assert {e.name: (e.hash, e.size) for e in reg} == {
        n: (sha(d), len(d)) for n, d in files.items()
    }
    assert all(e.url and e.url.startswith(repos.url) for e in reg)  # concrete, not doi:
    assert f"# hatch-datafetch make-registry --doi doi:{doi}" in out.read_text()
    verify_with_locator(out, tmp_path, files)
    agents = {r.headers.get("User-Agent", "") for r in repos.requests}
    assert agents and all(a.startswith("hatch-datafetch/") for a in agents)


def test_zenodo_rate_limit_is_waited_out(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 429 with Retry-After (Zenodo's rate limit) is retried after the wait it asks."""
    doi = repos.zenodo(1001, FILES)
    repos.fault("api/records/1001", status(429, retry_after=1))
    out = tmp_path / "registry.toml"
    code, _, err = make_registry(capsys, "--doi", doi, "-o", str(out))
    assert code == 0, err
    answers = [r.status for r in repos.requests if r.path == "api/records/1001"]
    assert answers == [429, 200]
    assert len(load_registry(out)) == len(FILES)


def test_the_stand_in_rate_limits_clients_without_a_user_agent(repos: Repositories) -> None:
    """As Zenodo does (pooch #502): the reason the resolver always sends one (checked above)."""
    import http.client

    repos.zenodo(1002, FILES)
    conn = http.client.HTTPConnection(*repos.address, timeout=10)  # (sends no User-Agent)
    try:
        conn.request("GET", "/api/records/1002")
        assert conn.getresponse().status == 429
    finally:
        conn.close()


def test_a_record_with_many_files_is_one_api_call(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = {f"part-{i:03d}.txt": f"part {i}\n".encode() for i in range(120)}
    doi = repos.zenodo(2002, many)
    out = tmp_path / "registry.toml"
    code, _, err = make_registry(capsys, "--doi", doi, "--jobs", "16", "-o", str(out))
    assert code == 0, err
    assert len(load_registry(out)) == 120
    assert repos.api_requests() == 2  # the DOI resolver and the record, not one per file
    assert sum(1 for r in repos.requests if r.path.endswith("/content")) == 120


def test_figshare_lists_more_than_ten_files_through_its_pages(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = {f"f{i:03d}.dat": bytes([i]) * (i + 1) for i in range(130)}
    doi = repos.figshare(3003, many)
    out = tmp_path / "registry.toml"
    code, _, err = make_registry(capsys, "--doi", doi, "-o", str(out))
    assert code == 0, err
    assert sorted(e.name for e in load_registry(out)) == sorted(many)


def test_zenodo_2023_shape_and_one_file(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doi = repos.zenodo(4004, FILES, shape="2023")
    out = tmp_path / "registry.txt"
    code, _, err = make_registry(capsys, "--doi", doi, "--file", "values.bin", "-o", str(out))
    assert code == 0, err
    (entry,) = load_registry(out)
    assert (entry.name, entry.hash) == ("values.bin", sha(FILES["values.bin"]))
    first = out.read_text().splitlines()[0]  # the command that remakes it, --file included
    assert first.startswith("# hatch-datafetch make-registry --doi doi:")
    assert first.endswith(" --file values.bin"), first


def test_a_checksum_that_does_not_match_writes_nothing(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doi = repos.zenodo(5005, FILES)
    repos.add("api/records/5005/files/table.csv/content", b"x,y\n1,2\n3,5\n")  # not as published
    out = tmp_path / "registry.toml"
    code, _, err = make_registry(capsys, "--doi", doi, "-o", str(out))
    assert code == 1
    assert "table.csv" in err and f"publishes md5:{md5(FILES['table.csv'])}" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_an_unknown_doi_and_an_unsupported_repository_are_clear(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = make_registry(capsys, "--doi", "doi:10.1234/nope")
    assert code == 1 and "no such DOI" in err and "Traceback" not in err
    repos.redirects["doi/10.1234/elsewhere"] = repos.url + "some/page"
    repos.add("some/page", b"<html></html>")
    code, _, err = make_registry(capsys, "--doi", "10.1234/elsewhere")
    assert code == 1 and "not a Zenodo, Figshare or Dataverse record" in err
    code, _, err = make_registry(capsys, "--doi", "not-a-doi")
    assert code == 1 and "is not a DOI" in err


# ---------------------------------------------------------------------- --from-urls


def test_make_registry_from_urls(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doi = repos.zenodo(6006, FILES)
    repos.add("plain/a.bin", b"a" * 1000)
    repos.add("plain/b c.txt", b"b\n")
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# files of the project\n"
        f"{repos.url}plain/a.bin\n"
        f'"data/b c.txt" {repos.url}plain/b%20c.txt\n'
        f"doi:{doi}/table.csv\n"
    )
    out = tmp_path / "registry.toml"
    keep = tmp_path / "kept"
    code, _, err = make_registry(
        capsys, "--from-urls", str(listing), "--keep", str(keep), "-o", str(out)
    )
    assert code == 0, err
    reg = load_registry(out)
    expected = {"a.bin": b"a" * 1000, "data/b c.txt": b"b\n", "table.csv": FILES["table.csv"]}
    assert {e.name: e.hash for e in reg} == {n: sha(d) for n, d in expected.items()}
    assert reg["table.csv"].url == f"{repos.url}api/records/6006/files/table.csv/content"
    assert (keep / "data" / "b c.txt").read_bytes() == b"b\n"  # laid out by NAME
    verify_with_locator(out, tmp_path, expected)
    content = "api/records/6006/files/table.csv/content"
    fetched = repos.count(content)
    code, _, err = make_registry(
        capsys, "--from-urls", str(listing), "--keep", str(keep), "-o", str(out)
    )
    assert code == 0, err
    assert repos.count(content) == fetched  # kept, with the published checksum: not again
    assert load_registry(out) == reg


def test_a_bad_url_list_names_every_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text("ftp://example.org/x\nhttps://a.example/x.txt\nhttps://b.example/x.txt\n")
    code, _, err = make_registry(capsys, "--from-urls", str(listing))
    assert code == 2
    assert f"{listing}: 2 problem(s) in the URL list:" in err
    assert "line 1: 'ftp://example.org/x': only http(s), file and doi: URLs" in err
    assert "line 3: the name 'x.txt' is given twice (line 2)" in err


def test_make_registry_takes_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = make_registry(capsys, "--doi", "10.5281/zenodo.1", "--from-urls", "x")
    assert code == 2 and "one source, got --doi and --from-urls" in err
    code, _, err = make_registry(capsys, "--from-urls", "x", "--file", "a")
    assert code == 2 and "--file does not go with --from-urls" in err


# ---------------------------------------------------------------------- doi: URLs in a build


def _doi_project(tmp_path: Path, doi: str, data_wheel: bool = False) -> Path:
    proj = tmp_path / "doiproj"
    (proj / "src" / "doipkg").mkdir(parents=True)
    (proj / "src" / "doipkg" / "__init__.py").write_text("")
    lines = [f'"{n}" = {{ hash = "{sha(d)}" }}' for n, d in sorted(FILES.items())]
    (proj / "registry.toml").write_text(
        f'base-url = "doi:{doi}/"\n\n[files]\n' + "\n".join(lines) + "\n"
    )
    (proj / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["hatchling", "hatch-datafetch"]
            build-backend = "hatchling.build"
            [project]
            name = "doi-pkg"
            version = "1.0"
            [tool.hatch.build.targets.wheel]
            packages = ["src/doipkg"]
            [tool.hatch.build.hooks.datafetch]
            registry = "registry.toml"
            """
        )
    )
    return proj


def _wheel_json(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as zf:
        data: dict[str, Any] = json.loads(zf.read("doipkg/_datafetch_registry.json"))
    return data


@pytest.mark.slow
def test_a_doi_registry_builds_concrete_urls_and_the_locator_never_calls_the_api(
    repos: Repositories, tmp_path: Path
) -> None:
    doi = repos.zenodo(7007, FILES)
    proj = _doi_project(tmp_path, doi)
    env = {**repos.environ, "HATCH_DATAFETCH_CACHE": str(tmp_path / "build-cache")}
    build(proj, env=env)  # the sdist, then the wheel from it (which never downloads)
    (wheel,) = (proj / "dist").glob("*.whl")
    config = _wheel_json(wheel)
    assert config["base_url"] is None
    for name, data in FILES.items():
        spec = config["files"][name]
        assert spec["url"] == f"{repos.url}api/records/7007/files/{name}/content"
        assert spec["size"] == len(data)
    assert "doi:" not in json.dumps(config)
    (sdist,) = (proj / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        record = json.loads(tf.extractfile("doi_pkg-1.0/_datafetch_dois.json").read())  # type: ignore[union-attr]
    assert list(record["records"]) == [doi]

    calls = repos.api_requests()
    assert calls == 2  # resolved once for the whole build: DOI resolver + record
    py = venv_with(tmp_path, wheel)
    code = (
        "import json, doipkg._datafetch as d; paths = d.fetch_all(); "
        "print(json.dumps({n: p.read_bytes().hex() for n, p in paths.items()}))"
    )
    r = run([str(py), "-c", code], tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "user-cache")})
    assert {n: bytes.fromhex(h) for n, h in json.loads(r.stdout).items()} == FILES
    assert repos.api_requests() == calls  # the locator made no request to the API
    assert sum(1 for r in repos.requests if r.path.endswith("/content")) == len(FILES)

    # a distribution's offline build from the sdist, with an empty cache: its records
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as tf:
        tf.extractall(unpacked, filter="data")
    src = unpacked / "doi_pkg-1.0"
    offline = {"HATCH_DATAFETCH_OFFLINE": "1", "HATCH_DATAFETCH_CACHE": str(tmp_path / "empty")}
    build(src, "--wheel", "--outdir", str(tmp_path / "offline-dist"), env=offline)
    (again,) = (tmp_path / "offline-dist").glob("*.whl")
    assert _wheel_json(again) == config
    assert repos.api_requests() == calls

    (src / "_datafetch_dois.json").unlink()  # an sdist without them, offline: clear failure
    r = build(src, "--wheel", "--outdir", str(tmp_path / "failed"), env=offline, ok=False)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert f"may not resolve doi:{doi}" in text and "make-registry --doi" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_the_wrapping_backend_resolves_them_too(repos: Repositories, tmp_path: Path) -> None:
    """A setuptools project through hatch_datafetch.build: concrete URLs in the wheel, the
    records in the sdist, and a wheel rebuilt offline from the sdist alone has the same
    JSON, as with the Hatch hook."""
    doi = repos.zenodo(7117, FILES)
    proj = _doi_project(tmp_path, doi)
    (proj / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["setuptools>=61.3", "hatch-datafetch"]
            build-backend = "hatch_datafetch.build"
            [project]
            name = "doi-pkg"
            version = "1.0"
            [tool.setuptools.packages.find]
            where = ["src"]
            [tool.datafetch]
            backend = "setuptools.build_meta"
            registry = "registry.toml"
            """
        )
    )
    env = {**repos.environ, "HATCH_DATAFETCH_CACHE": str(tmp_path / "build-cache")}
    build(proj, env=env)
    (wheel,) = (proj / "dist").glob("*.whl")
    config = _wheel_json(wheel)
    assert {name: spec["url"] for name, spec in config["files"].items()} == {
        name: f"{repos.url}api/records/7117/files/{name}/content" for name in FILES
    }
    (sdist,) = (proj / "dist").glob("*.tar.gz")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as tf:
        (top,) = {m.name.split("/")[0] for m in tf.getmembers()}
        record = json.loads(tf.extractfile(f"{top}/_datafetch_dois.json").read())  # type: ignore[union-attr]
        tf.extractall(unpacked, filter="data")
    assert list(record["records"]) == [doi]
    calls = repos.api_requests()
    offline = {"HATCH_DATAFETCH_OFFLINE": "1", "HATCH_DATAFETCH_CACHE": str(tmp_path / "empty")}
    build(unpacked / top, "--wheel", "--outdir", str(tmp_path / "again"), env=offline)
    (again,) = (tmp_path / "again").glob("*.whl")
    assert _wheel_json(again) == config
    assert repos.api_requests() == calls


def test_the_meson_steps_resolve_them_too(
    repos: Repositories, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gen-runtime writes concrete URLs; the dist script puts the records into the sdist
    tree (meson dist's), as the Hatch hook does."""
    from hatch_datafetch import meson

    doi = repos.figshare(8008, FILES)
    proj = _doi_project(tmp_path, doi)
    text = (proj / "pyproject.toml").read_text()
    (proj / "pyproject.toml").write_text(
        text.replace("[tool.hatch.build.hooks.datafetch]", "[tool.datafetch]")
        + 'package = "doipkg"\n'
    )
    monkeypatch.setenv("HATCH_DATAFETCH_CACHE", str(tmp_path / "cache"))
    meson.gen_runtime(str(proj / "pyproject.toml"), str(tmp_path / "out"))
    config = json.loads((tmp_path / "out" / "_datafetch_registry.json").read_text())
    assert {s["url"] for s in config["files"].values()} == {
        f"{repos.url}ndownloader/files/{8008000 + i}" for i in range(len(FILES))
    }
    monkeypatch.setenv("MESON_PROJECT_DIST_ROOT", str(proj))
    assert meson.dist() is None  # (sdist = "omit": no files, but the records)
    record = json.loads((proj / "_datafetch_dois.json").read_text())
    assert list(record["records"]) == [doi]


def test_conda_sources_print_the_concrete_urls(
    repos: Repositories, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doi = repos.dataverse(DATAVERSE_DOI, FILES)
    reg = tmp_path / "registry.txt"
    reg.write_text(
        "\n".join(f"{n} {sha(d)} doi:{doi}/{n}" for n, d in sorted(FILES.items())) + "\n"
    )
    code = main(["conda-sources", "--registry", str(reg)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "doi:" not in out
    assert f'url: "{repos.url}api/access/datafile/' in out


# ---------------------------------------------------------------------- --from-pooch

POOCH_MODULE = '''\
"""The project's data, as it was fetched with pooch."""
import pooch

POOCH = pooch.create(
    path=pooch.os_cache("migpkg"),
    base_url="{base}v{{version}}/",
    version="1.0",
    env="MIGPKG_DATA",
    registry={registry!r},
    urls={urls!r},
)


def load(name):
    return POOCH.fetch(name)
'''


@pytest.mark.slow
def test_from_pooch_yields_a_project_whose_wheel_serves_the_same_files(
    repos: Repositories, tmp_path: Path
) -> None:
    pytest.importorskip("pooch")
    files = {"a.txt": b"alpha\n", "sub/b.bin": random_bytes(5000, seed=9), "c.csv": b"c\n"}
    for name, data in files.items():
        target = "elsewhere/special.csv" if name == "c.csv" else f"v1.0/{name}"
        repos.add(target, data)
    registry = {
        "a.txt": sha(files["a.txt"]).split(":")[1],  # bare hex: sha256
        "sub/b.bin": "md5:" + md5(files["sub/b.bin"]),
        "c.csv": sha(files["c.csv"]),
    }
    urls = {"c.csv": repos.url + "elsewhere/special.csv"}
    proj = tmp_path / "migproj"
    (proj / "src" / "migpkg").mkdir(parents=True)
    (proj / "src" / "migpkg" / "__init__.py").write_text("")
    module = proj / "src" / "migpkg" / "data.py"
    module.write_text(POOCH_MODULE.format(base=repos.url, registry=registry, urls=urls))
    env = {"XDG_CACHE_HOME": str(tmp_path / "pooch-cache"), "PYTHONPATH": str(proj / "src")}
    digest = (
        "import hashlib, json, migpkg.data as m; print(json.dumps({n: "
        "hashlib.sha256(open(m.load(n), 'rb').read()).hexdigest() for n in m.POOCH.registry}))"
    )
    with_pooch = json.loads(run([sys.executable, "-c", digest], proj, env).stdout)

    r = run(
        [sys.executable, "-m", "hatch_datafetch", "make-registry", "--from-pooch",
         "migpkg.data:POOCH", "-o", "registry.toml"],
        proj,
    )  # fmt: skip
    printed = r.stdout
    for line in (
        'registry = "registry.toml"',
        'package = "migpkg"',
        'env-var = "MIGPKG_DATA"',
        "#     from migpkg import _datafetch",
        "#     POOCH = _datafetch.as_pooch()",
        "pooch kept the files of $MIGPKG_DATA in $MIGPKG_DATA/1.0/",
    ):
        assert line in printed, printed
    reg = load_registry(proj / "registry.toml")
    assert (reg.base_url, reg.version) == (repos.url + "v1.0/", "1.0")
    assert {e.name: (e.hash, e.url) for e in reg} == {
        "a.txt": (sha(files["a.txt"]), None),
        "sub/b.bin": ("md5:" + md5(files["sub/b.bin"]), None),
        "c.csv": (sha(files["c.csv"]), urls["c.csv"]),
    }

    # the project as the printed lines make it, and the one line of code
    (proj / "pyproject.toml").write_text(
        '[project]\nname = "mig-pkg"\nversion = "1.0"\n\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/migpkg"]\n\n' + printed
    )
    source = module.read_text()
    start, end = source.index("POOCH = pooch.create("), source.index("\n)\n") + 3
    module.write_text(
        source[:start].replace("import pooch\n", "")
        + "from migpkg import _datafetch\n\nPOOCH = _datafetch.as_pooch()\n"
        + source[end:]
    )
    build(proj, "--wheel")
    (wheel,) = (proj / "dist").glob("*.whl")
    py = venv_with(tmp_path, wheel)  # (no pooch in it)
    ours = json.loads(run([str(py), "-c", digest], tmp_path, {
        "XDG_CACHE_HOME": str(tmp_path / "user-cache")}).stdout)  # fmt: skip
    assert ours == with_pooch == {n: sha(d).split(":")[1] for n, d in files.items()}

    local = tmp_path / "local-data"  # the env var, as the pooch project documented it
    local.mkdir()
    (local / "a.txt").write_bytes(files["a.txt"])
    code = "import migpkg.data as m; print(m.load('a.txt'))"
    r = run([str(py), "-c", code], tmp_path, {"MIGPKG_DATA": str(local)})
    assert r.stdout.strip() == str(local / "a.txt")


@pytest.mark.parametrize(
    ("call", "version"),
    [
        # no version: the cache folder's name (verpkg) is in the URL, but is no version
        ('path=pooch.os_cache("verpkg"), base_url="https://h.example/verpkg/data/"', None),
        # a version the URL does not use: pooch still appends it to the path
        ('path=pooch.os_cache("verpkg"), base_url="https://h.example/data/", version="2.0"',
         "2.0"),
        # a version that is not a literal, given by position
        ('pooch.os_cache("verpkg"), "https://h.example/{version}/", __version__', "3.1"),
    ],
)  # fmt: skip
def test_from_pooch_takes_the_version_from_the_call_not_from_the_folder_name(
    call: str,
    version: str | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pooch keeps no version: --from-pooch reads it off the path only when the
    ``pooch.create(...)`` call gives one, so a package whose cache folder's name is in its
    URL gets no version, and no note sending $VERPKG_DATA to a folder that does not exist."""
    pytest.importorskip("pooch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "verpkg.py").write_text(
        f'import pooch\n__version__ = "3.1"\nPOOCH = pooch.create({call}, env="VERPKG_DATA", '
        f'registry={{"a.txt": "{"0" * 64}"}})\n'
    )
    sys.modules.pop("verpkg", None)
    try:
        code, out, _ = make_registry(capsys, "--from-pooch", "verpkg:POOCH", "-o", "reg.toml")
    finally:
        sys.modules.pop("verpkg", None)
    assert code == 0
    assert load_registry(tmp_path / "reg.toml").version == version
    note = f"pooch kept the files of $VERPKG_DATA in $VERPKG_DATA/{version}/"
    assert (note in out) == (version is not None), out
    assert "$VERPKG_DATA/verpkg/" not in out


def test_from_pooch_refuses_what_it_cannot_take_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "badpooch.py").write_text(
        "class P:\n"
        "    base_url = 'https://example.org/'\n"
        "    urls = {}\n"
        "    registry = {'ok.txt': 'sha256:' + '0' * 64, 'none.txt': None, '../up.txt': 'ab'}\n"
        "POOCH = P()\nOTHER = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = make_registry(capsys, "--from-pooch", "badpooch:POOCH")
    assert code == 2
    assert "2 registry entries cannot be taken over" in err
    assert "registry['none.txt']" in err and "hash is None" in err
    assert "registry['../up.txt']" in err
    code, _, err = make_registry(capsys, "--from-pooch", "badpooch:POOHC")
    assert code == 2 and "did you mean 'POOCH'?" in err
    code, _, err = make_registry(capsys, "--from-pooch", "badpooch:OTHER")
    assert code == 2 and "not a pooch.Pooch" in err
    code, _, err = make_registry(capsys, "--from-pooch", "no_such_module_x:P")
    assert code == 2 and "cannot import no_such_module_x" in err
    assert "Traceback" not in err
    os.chdir(tmp_path)
