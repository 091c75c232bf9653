"""Archives in the registry (SPEC §2 "Archives", issue 11): unpack, members, make-registry
--unpack, the locator's member trees, hostile archives, and what builds ship.

Archives are real zip/tar/gzip files made here with zipfile/tarfile; they are served by the
loopback CDN (``cdn`` fixture) or a ``file://`` directory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support import hatch as hh
from support import meson as tm
from support.cdnserver import CDN
from support.hatch import DATA_DIST, DATA_WHEEL
from support.runtime import locator, random_bytes, sha

import hatch_datafetch._runtime as rt
from hatch_datafetch import cli
from hatch_datafetch._runtime import (
    ArchiveError,
    DataWarning,
    HashMismatchError,
    Locator,
    UnknownFileError,
)
from hatch_datafetch._runtime.cache import Cache
from hatch_datafetch.registry import (
    FileEntry,
    Registry,
    RegistryError,
    dump_text,
    dump_toml,
    load_registry,
    make_registry,
    parse_text,
    parse_toml,
)
from hatch_datafetch.staging import runtime_config

H = "a" * 64


IMAGES = {  # a zip with a sub-directory
    "camera.png": random_bytes(40_000, seed=1),
    "sub/a.fif": random_bytes(3_000, seed=2),
    "sub/deeper/b.txt": b"bee\n",
}
VOLUMES = {  # a tar.gz made the way `tar -czf v.tar.gz -C dir .` does (./ prefixes)
    "brain.nii": random_bytes(60_000, seed=3),
    "labels/l.csv": b"1,2,3\n" * 100,
}
TABLE = b"x,y\n" + b"1,2\n" * 500  # table.csv.gz decompresses to table.csv


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("sub/", b"")  # a directory entry
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w:gz", prefix: str = "./") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        t.addfile(dir_info("."))
        for name, data in members.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def tree_of(root: Path) -> dict[str, bytes]:
    """Every regular file under root by POSIX path (hidden files too)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The data as an author has it: two archives, a gzip file and a plain file."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "images.zip").write_bytes(make_zip(IMAGES))
    (root / "volumes.tar.gz").write_bytes(make_tar(VOLUMES))
    (root / "table.csv.gz").write_bytes(gzip.compress(TABLE, mtime=0))
    (root / "plain.txt").write_bytes(b"plain\n")
    return root


def hdf(*args: str) -> tuple[int, str, str]:
    """``hatch-datafetch ARGS`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def registry_file(data_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "registry.toml"
    code, _, err = hdf("make-registry", str(data_dir), "--unpack", "zip,tar.gz", "--unpack",
                       "gz", "-o", str(out))  # fmt: skip
    assert code == 0, err
    return out


@pytest.fixture
def served(cdn: CDN, data_dir: Path) -> CDN:
    for p in data_dir.iterdir():
        cdn.add(p.name, p.read_bytes())
    return cdn


def config_for(registry: Path | Registry, base_url: str | None, **extra: Any) -> dict[str, Any]:
    reg = registry if isinstance(registry, Registry) else load_registry(registry)
    config = runtime_config(reg, base_url=base_url)
    config.update(data_name="demo-data", package="demo", env_var="DEMO_DATA_DIR", **extra)
    return config


# ---------------------------------------------------------------------- the registry


def test_make_registry_unpack_lists_and_hashes_members(registry_file: Path) -> None:
    reg = load_registry(registry_file)
    images, volumes, table = reg["images.zip"], reg["volumes.tar.gz"], reg["table.csv.gz"]
    assert (images.unpack, volumes.unpack, table.unpack) == ("zip", "tar", "gzip")
    assert images.members == {n: sha(d) for n, d in sorted(IMAGES.items())}
    assert volumes.members == {n: sha(d) for n, d in sorted(VOLUMES.items())}  # ./ dropped
    assert table.members == {"table.csv": sha(TABLE)}
    assert reg["plain.txt"].unpack is None and reg["plain.txt"].members is None
    assert reg.shipped() == {
        **{f"images.zip/{n}": sha(d) for n, d in IMAGES.items()},
        "plain.txt": reg["plain.txt"].hash,
        "table.csv.gz/table.csv": sha(TABLE),
        **{f"volumes.tar.gz/{n}": sha(d) for n, d in VOLUMES.items()},
    }
    text = registry_file.read_text()
    assert '[files."images.zip".members]\n"camera.png" = "sha256:' in text  # a line a member
    assert parse_toml(dump_toml(reg)) == reg  # round trip
    config = runtime_config(reg)["files"]
    assert config["images.zip"]["unpack"] == "zip"
    assert config["images.zip"]["members"] == images.members
    assert "unpack" not in config["plain.txt"]  # plain files' JSON is unchanged


def test_make_registry_text_format_keeps_the_archives(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "registry.txt"
    code, _, err = hdf("make-registry", str(data_dir), "--unpack", "zip", "-o", str(out))
    assert code == 0, err
    assert "cannot list their members" in err and "images.zip" in err
    line = next(ln for ln in out.read_text().splitlines() if ln.startswith("images.zip"))
    assert line.endswith(" unpack=zip")
    reg = load_registry(out)
    assert (reg["images.zip"].unpack, reg["images.zip"].members) == ("zip", None)
    assert reg["volumes.tar.gz"].unpack is None  # not asked for
    assert parse_text(dump_text(reg)) == reg
    assert reg.shipped()["images.zip"] == reg["images.zip"].hash  # shipped as the archive


def test_text_format_unpack_field(tmp_path: Path) -> None:
    reg = parse_text(
        f"a.zip {H} unpack=zip\nb.tar.xz sha256:{H} https://x.org/b unpack=tar\nc.txt {H}\n"
    )
    assert [(e.name, e.url, e.unpack) for e in reg] == [
        ("a.zip", None, "zip"),
        ("b.tar.xz", "https://x.org/b", "tar"),
        ("c.txt", None, None),
    ]
    with pytest.raises(RegistryError) as info:
        parse_text(f"a.zip {H} unpack=zpi\nd.gz {H} unpack=bzip2\n", "reg.txt")
    text = str(info.value)
    assert "reg.txt:1: unknown unpack kind 'zpi'; did you mean 'zip'?" in text
    assert "reg.txt:2: unpack = 'bzip2' needs a name ending in .bz2" in text


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ hash = "H", unpack = "rar" }', "unknown unpack kind 'rar'"),
        ('{ hash = "H", members = { "a" = "H" } }', "'members' needs 'unpack'"),
        ('{ hash = "H", unpack = "zip", members = {} }', "'members' must be a non-empty table"),
        ('{ hash = "H", unpack = "zip", members = { "../a" = "H" } }', "member '../a': name"),
        ('{ hash = "H", unpack = "zip", members = { "/a" = "H" } }', "is an absolute path"),
        ('{ hash = "H", unpack = "zip", members = { "a" = "md5:00" } }', "member 'a': md5 needs"),
        ('{ hash = "H", unpack = "zip", members = { "a" = 3 } }', "must be a string"),
        (
            '{ hash = "H", unpack = "zip", members = { "a" = "H", "A" = "H" } }',
            "differs from 'a' only by case",
        ),
        (
            '{ hash = "H", unpack = "zip", members = { "a" = "H", "a/b" = "H" } }',
            "member 'a' is both a file and a directory",
        ),
        ('{ hash = "H", unpack = 3 }', "'unpack' must be a string"),
        ('{ hash = "H", unpak = "zip" }', "unknown key 'unpak'; did you mean 'unpack'?"),
    ],
)
def test_toml_archive_entries_are_validated(entry: str, message: str) -> None:
    text = "[files]\n" + f'"x.zip" = {entry}\n'.replace('"H"', f'"{H}"')
    with pytest.raises(RegistryError) as info:
        parse_toml(text, "reg.toml")
    assert message in str(info.value)
    assert "reg.toml:2:" in str(info.value)


def test_single_file_kinds_have_one_member_named_without_the_suffix() -> None:
    def gz(member: str) -> str:
        entry = f'{{ hash = "{H}", unpack = "gzip", members = {{ "{member}" = "{H}" }} }}'
        return f'[files]\n"t.csv.gz" = {entry}\n'

    assert parse_toml(gz("t.csv"))["t.csv.gz"].members == {"t.csv": f"sha256:{H}"}
    with pytest.raises(RegistryError, match=r"decompresses to one member.*\"t\.csv\""):
        parse_toml(gz("t"))
    with pytest.raises(RegistryError, match=r"needs a name ending in \.xz"):
        parse_toml(f'[files]\n"t.csv" = {{ hash = "{H}", unpack = "xz" }}\n')


def test_no_registry_name_inside_an_archive() -> None:
    with pytest.raises(RegistryError) as info:
        parse_text(f"a.zip {H} unpack=zip\na.zip/x.txt {H}\n", "reg.txt")
    assert "reg.txt:2: name 'a.zip/x.txt' lies inside the archive 'a.zip'" in str(info.value)


@pytest.mark.parametrize("suffix", ["rar", ".7z"])
def test_make_registry_unknown_suffix(data_dir: Path, suffix: str) -> None:
    code, _, err = hdf("make-registry", str(data_dir), "--unpack", suffix)
    assert code == 2
    assert f"--unpack: unknown archive suffix {suffix!r}" in err and "known suffixes: zip" in err


# ---------------------------------------------------------------------- the locator


def test_fetch_returns_the_verified_tree_and_members(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    loc = locator(config_for(registry_file, served.url), tmp_path)
    images = loc.fetch("images.zip")
    assert images.is_dir() and images.name == "images.zip.d"
    assert tree_of(images) == IMAGES
    member = loc.fetch("images.zip/sub/a.fif")
    assert member == images / "sub" / "a.fif"
    assert tree_of(loc.fetch("volumes.tar.gz")) == VOLUMES
    table = loc.fetch("table.csv.gz")
    assert (table.name, table.read_bytes()) == ("table.csv", TABLE)
    assert loc.fetch("table.csv.gz/table.csv") == table
    # the archives were deleted once unpacked: the hash dir holds the tree only
    assert sorted(p.name for p in images.parent.iterdir()) == ["images.zip.d"]
    assert not (images.parent / "images.zip").exists()
    assert served.count("images.zip") == 1
    # a fresh locator (a new process, as far as it knows) does not download again
    loc2 = locator(config_for(registry_file, served.url), tmp_path)
    assert loc2.fetch("images.zip") == images
    assert loc2.fetch("volumes.tar.gz/labels/l.csv").read_bytes() == VOLUMES["labels/l.csv"]
    assert [served.count(n) for n in ("images.zip", "volumes.tar.gz", "table.csv.gz")] == [1, 1, 1]
    with pytest.raises(
        UnknownFileError, match=r"has no member 'sub/a.fig'.*'images.zip/sub/a.fif'"
    ):
        loc.fetch("images.zip/sub/a.fig")
    assert loc.registry["images.zip"] == load_registry(registry_file)["images.zip"].hash


def test_warm_fetch_in_a_fresh_process_does_not_rehash_members(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    config = config_for(registry_file, served.url)
    locator(config, tmp_path).fetch_all()
    (tmp_path / "config.json").write_text(json.dumps(config))
    code = textwrap.dedent(
        """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        import _runtime as rt
        import _runtime.fs as fs
        hashed = []
        real = fs.hash_regular
        fs.hash_regular = lambda path, alg: hashed.append(path) or real(path, alg)
        loc = rt.Locator(json.load(open(sys.argv[2])), cache_dir=sys.argv[3], environ={})
        paths = [str(loc.fetch(n)) for n in ("images.zip", "volumes.tar.gz/brain.nii")]
        print(json.dumps({"hashed": hashed, "paths": paths}))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(Path(rt.__file__).parent.parent),
         str(tmp_path / "config.json"), str(tmp_path / "cache")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = json.loads(r.stdout)
    assert out["hashed"] == []  # every member was known to the memo
    assert out["paths"][0].endswith("images.zip.d")
    # a changed member is re-hashed, found bad, and the tree is replaced (downloaded again)
    member = Path(out["paths"][0]) / "camera.png"
    member.write_bytes(b"changed")
    loc = locator(config, tmp_path)
    with pytest.warns(DataWarning, match=r"images.zip.d \(user cache\): member 'camera.png'"):
        assert tree_of(loc.fetch("images.zip")) == IMAGES
    assert served.count("images.zip") == 2


def test_fetch_all_verify_and_where(registry_file: Path, served: CDN, tmp_path: Path) -> None:
    loc = locator(config_for(registry_file, served.url), tmp_path)
    some = loc.fetch_all(names=["images.zip/sub/a.fif", "table.csv.gz/table.csv"], jobs=2)
    assert some["images.zip/sub/a.fif"].read_bytes() == IMAGES["sub/a.fif"]
    paths = loc.fetch_all(jobs=4)
    assert sorted(paths) == ["images.zip", "plain.txt", "table.csv.gz", "volumes.tar.gz"]
    assert paths["images.zip"].name == "images.zip.d"
    report = loc.verify()
    assert report and sorted(report.ok) == sorted(load_registry(registry_file).shipped())

    # laid out by NAME: the members under NAME/, as env-var and system dirs hold them
    dest = tmp_path / "dest"
    assert loc.fetch_all(dest)["images.zip"] == dest / "images.zip"
    assert tree_of(dest) == {
        **{f"images.zip/{n}": d for n, d in IMAGES.items()},
        "plain.txt": b"plain\n",
        "table.csv.gz/table.csv": TABLE,
        **{f"volumes.tar.gz/{n}": d for n, d in VOLUMES.items()},
    }
    assert loc.verify(dest).ok == report.ok
    (dest / "images.zip" / "sub" / "a.fif").write_bytes(b"bad")
    (dest / "volumes.tar.gz" / "brain.nii").unlink()
    report = loc.verify(dest)
    assert [(n, a) for n, _, a in report.bad] == [("images.zip/sub/a.fif", sha(b"bad"))]
    assert report.missing == ["volumes.tar.gz/brain.nii"]
    code, out, _ = hdf("verify", str(dest), "--registry", str(registry_file))
    assert code == 1
    assert f"bad      images.zip/sub/a.fif  expected {sha(IMAGES['sub/a.fif'])}, got" in out
    assert "missing  volumes.tar.gz/brain.nii" in out

    where = {c.source: c.status for c in loc.where("images.zip")}
    assert where["user cache"] == "ok: fetch() returns this"
    assert where["user cache (archive)"] == "missing"  # deleted once unpacked
    assert {c.status for c in loc.where("images.zip") if c.source == "download"} == {"not needed"}
    env = {"DEMO_DATA_DIR": str(dest)}
    loc = locator(config_for(registry_file, served.url), tmp_path, environ=env)
    where = {c.source: (c.location, c.status) for c in loc.where("images.zip")}
    assert where["$DEMO_DATA_DIR"] == (
        str(dest / "images.zip"),
        f"bad: member sub/a.fif: hash {sha(b'bad')}, expected {sha(IMAGES['sub/a.fif'])}",
    )
    where = {c.source: (c.location, c.status) for c in loc.where("volumes.tar.gz")}
    assert where["$DEMO_DATA_DIR"][1] == "incomplete: 1 of 2 members missing (brain.nii)"
    where = {c.source: (c.location, c.status) for c in loc.where("volumes.tar.gz/labels/l.csv")}
    assert where["$DEMO_DATA_DIR"] == (
        str(dest / "volumes.tar.gz" / "labels" / "l.csv"),
        "ok: fetch() returns this",
    )


def test_local_sources_hold_the_members(registry_file: Path, served: CDN, tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    for name, data in IMAGES.items():
        (env_dir / "images.zip" / name).parent.mkdir(parents=True, exist_ok=True)
        (env_dir / "images.zip" / name).write_bytes(data)
    env = {"DEMO_DATA_DIR": str(env_dir)}
    loc = locator(config_for(registry_file, served.url), tmp_path, environ=env)
    assert loc.fetch("images.zip") == env_dir / "images.zip"
    assert loc.fetch("images.zip/sub/a.fif") == env_dir / "images.zip" / "sub" / "a.fif"
    assert served.requests == []
    # one bad member: the whole tree is skipped with a warning (its good members still serve)
    (env_dir / "images.zip" / "camera.png").write_bytes(b"x")
    loc = locator(config_for(registry_file, served.url), tmp_path, environ=env)
    with pytest.warns(
        DataWarning,
        match=r"skipping .*env/images.zip \(\$DEMO_DATA_DIR\): member 'camera.png': hash",
    ):
        tree = loc.fetch("images.zip")
    assert tree.name == "images.zip.d" and tree_of(tree) == IMAGES
    assert loc.fetch("images.zip/sub/a.fif") == env_dir / "images.zip" / "sub" / "a.fif"
    # an incomplete tree is skipped too, and strict (build) locators refuse a bad member
    (env_dir / "images.zip" / "camera.png").unlink()
    with pytest.warns(DataWarning, match=r"1 of 3 members missing \(camera.png\)"):
        locator(config_for(registry_file, served.url), tmp_path, environ=env).fetch("images.zip")
    (env_dir / "images.zip" / "camera.png").write_bytes(b"x")
    strict = locator(
        config_for(registry_file, served.url), tmp_path, sources=[env_dir], strict=True
    )
    with pytest.raises(HashMismatchError, match=r"images\.zip/camera\.png"):
        strict.fetch("images.zip")


def test_a_local_archive_is_unpacked_into_the_cache(
    registry_file: Path, data_dir: Path, served: CDN, tmp_path: Path
) -> None:
    """A source dir holding the archives (conda-sources, HATCH_DATAFETCH_SOURCE) serves them."""
    loc = locator(config_for(registry_file, served.url), tmp_path, sources=[data_dir])
    tree = loc.fetch("volumes.tar.gz")
    assert str(tree) == loc._tree_path("volumes.tar.gz") and tree_of(tree) == VOLUMES
    assert (data_dir / "volumes.tar.gz").exists()  # a source is never changed
    assert served.requests == []
    where = {c.source: c.status for c in loc.where("volumes.tar.gz")}
    assert where["source dir"] == "ok: fetch() unpacks this archive into the user cache"
    assert where["user cache"] == "ok (shadowed)"


def test_archive_whose_members_are_not_listed(data_dir: Path, served: CDN, tmp_path: Path) -> None:
    reg = make_registry(data_dir, unpack=["zip", "tar.gz"], members=False)
    config = config_for(reg, served.url)
    loc = locator(config, tmp_path)
    where = {c.source: c.status for c in loc.where("volumes.tar.gz/brain.nii")}
    assert where["user cache"] == "missing"
    tree = loc.fetch("volumes.tar.gz")
    assert tree_of(tree) == VOLUMES
    archive = tree.parent / "volumes.tar.gz"
    assert archive.exists()  # kept: the tree is trusted only with its verified archive
    assert loc.fetch("volumes.tar.gz/labels/l.csv") == tree / "labels" / "l.csv"
    with pytest.raises(UnknownFileError, match="has no member 'nope'"):
        loc.fetch("volumes.tar.gz/nope")
    # a changed member is caught (hashes taken while unpacking) and unpacked again, offline
    (tree / "brain.nii").write_bytes(b"changed")
    loc = locator(config, tmp_path)
    with pytest.warns(DataWarning, match=r"\(user cache\): member 'brain.nii': hash sha256:"):
        assert tree_of(loc.fetch("volumes.tar.gz")) == VOLUMES
    assert served.count("volumes.tar.gz") == 1
    # without its archive the tree is not trusted
    archive.unlink()
    loc = locator(config, tmp_path)
    assert tree_of(loc.fetch("volumes.tar.gz")) == VOLUMES
    assert served.count("volumes.tar.gz") == 2
    # laid out by NAME and shipped by builds: the archive itself
    dest = tmp_path / "dest"
    assert loc.fetch_all(dest)["volumes.tar.gz"] == dest / "volumes.tar.gz"
    assert (dest / "volumes.tar.gz").read_bytes() == (data_dir / "volumes.tar.gz").read_bytes()
    assert loc.verify(dest)


def test_cache_commands_know_member_trees(registry_file: Path, served: CDN, tmp_path: Path) -> None:
    loc = locator(config_for(registry_file, served.url), tmp_path)
    loc.fetch_all()
    entries = Cache(loc).entries()
    members = sorted(n for e in entries if e.kind == "member" for n in e.names)
    assert members == sorted(n for n in load_registry(registry_file).shipped() if "/" in n)
    export = tmp_path / "cache.tar"
    assert Cache(loc).export(str(export))[:2] == [
        "images.zip/camera.png",
        "images.zip/sub/a.fif",
    ]
    loc2 = locator(config_for(registry_file, served.url), tmp_path / "other")
    imported, problems = Cache(loc2).import_(str(export))
    assert problems == [] and len(imported) == 7
    served.stop()
    assert tree_of(loc2.fetch("images.zip")) == IMAGES
    # prune keeps named trees, removes the unnamed ones
    assert Cache(loc).prune() == []
    other = locator(
        config_for(Registry((FileEntry("plain.txt", sha(b"plain\n")),)), None), tmp_path
    )
    removed = Cache(other).prune()
    assert {e.kind for e in removed} == {"member"}
    assert not os.path.exists(loc._tree_path("images.zip"))


# ---------------------------------------------------------------------- hostile archives


def tar_with(*infos: tuple[tarfile.TarInfo, bytes | None], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for info, data in infos:
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def zip_with(*members: tuple[str, bytes, int]) -> bytes:
    """(name, data, unix mode) members; a mode with S_IFLNK makes a symbolic link."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


OK = ("ok.txt", b"fine", stat.S_IFREG | 0o644)
ZEROS = b"\0" * 3_000_000  # a "bomb": 3 MB that compresses to a few KB; max-size is 1 MB

HOSTILE: dict[str, tuple[str, bytes, str]] = {  # id: (NAME, archive, the member named)
    "tar-absolute": ("t.tar.gz", tar_with((tar_member("/abs-evil.txt"), b"x")), "/abs-evil.txt"),
    "tar-dotdot": ("t.tar.gz", tar_with((tar_member("../evil.txt"), b"x")), "../evil.txt"),
    "tar-symlink-escape": (
        "t.tar",
        tar_with(
            (tar_member("link", tarfile.SYMTYPE, "../.."), None),
            (tar_member("link/evil.txt"), b"x"),
            mode="w",
        ),
        "link",
    ),
    "tar-hardlink": (
        "t.tar.gz",
        tar_with((tar_member("h", tarfile.LNKTYPE, "/etc/passwd"), None)),
        "h",
    ),
    "tar-fifo": (
        "t.tar.xz",
        tar_with((tar_member("fifo", tarfile.FIFOTYPE), None), mode="w:xz"),
        "fifo",
    ),
    "tar-device": (
        "t.tar.bz2",
        tar_with((tar_member("dev", tarfile.CHRTYPE), None), mode="w:bz2"),
        "dev",
    ),
    "zip-absolute": (
        "z.zip",
        zip_with(OK, ("/abs-evil.txt", b"x", stat.S_IFREG | 0o644)),
        "/abs-evil.txt",
    ),
    "zip-dotdot": (
        "z.zip",
        zip_with(OK, ("a/../../evil.txt", b"x", stat.S_IFREG | 0o644)),
        "a/../../evil.txt",
    ),
    "zip-symlink": ("z.zip", zip_with(("link", b"/etc", stat.S_IFLNK | 0o777), OK), "link"),
    "zip-backslash": (
        "z.zip",
        zip_with(("..\\evil.txt", b"x", stat.S_IFREG | 0o644)),
        "..\\evil.txt",
    ),
}
BOMBS = {
    "zip-bomb": ("z.zip", zip_with(("zeros.bin", ZEROS, stat.S_IFREG | 0o644))),
    "tar-bomb": ("t.tar.gz", tar_with((tar_member("zeros.bin"), ZEROS))),
    "gzip-bomb": ("zeros.bin.gz", gzip.compress(ZEROS)),
}
KINDS = {".zip": "zip", ".gz": "tar", ".tar": "tar", ".xz": "tar", ".bz2": "tar"}


def hostile_locator(name: str, data: bytes, cdn: CDN, tmp_path: Path) -> Locator:
    kind = "gzip" if name == "zeros.bin.gz" else KINDS[Path(name).suffix]
    cdn.add(name, data)
    entry = FileEntry(name, sha(data), len(data), unpack=kind)
    return locator(config_for(Registry((entry,)), cdn.url, max_size=1_000_000), tmp_path)


def nothing_left(loc: Locator, name: str, tmp_path: Path) -> None:
    """No tree, no temp tree, nothing written outside: only the verified archive is cached."""
    tree = Path(loc._tree_path(name))
    assert not tree.exists()
    assert [p.name for p in tree.parent.iterdir()] == [name]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "abs-evil.txt").exists()
    assert not Path("/abs-evil.txt").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused(case: str, cdn: CDN, tmp_path: Path) -> None:
    name, data, member = HOSTILE[case]
    loc = hostile_locator(name, data, cdn, tmp_path)
    with pytest.raises(ArchiveError) as info:
        loc.fetch(name)
    message = str(info.value)
    assert message.startswith(f"refusing to unpack {name}: member {member!r} "), message
    assert "regular files and directories below its own directory" in message
    nothing_left(loc, name, tmp_path)
    with pytest.raises(ArchiveError):  # and again, from the cached archive: no half tree
        loc.fetch(name)
    assert cdn.count(name) == 1
    # make-registry refuses it too, naming the archive and the member
    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_bytes(data)
    unpack = "zip,tar,tar.gz,tar.xz,tar.bz2"
    code, _, err = hdf("make-registry", str(src), "--unpack", unpack, "--format", "toml")
    assert code == 2
    assert (
        f"cannot list the members of {name!r}: refusing to unpack {name}: member {member!r}" in err
    )
    assert "hint: leave it out of --unpack" in err


@pytest.mark.parametrize("case", sorted(c for c in HOSTILE if c.startswith("tar-")))
def test_hostile_tars_are_refused_without_the_data_filter(
    case: str, cdn: CDN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pythons before 3.9.17/3.10.12/3.11.4 have no tarfile.data_filter: the same rules."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    name, data, member = HOSTILE[case]
    loc = hostile_locator(name, data, cdn, tmp_path)
    with pytest.raises(ArchiveError) as info:
        loc.fetch(name)
    assert str(info.value).startswith(f"refusing to unpack {name}: member {member!r} is ")
    assert "data filter" not in str(info.value)
    nothing_left(loc, name, tmp_path)


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_archives_unpacking_beyond_max_size_are_refused(
    case: str, cdn: CDN, tmp_path: Path
) -> None:
    name, data = BOMBS[case]
    loc = hostile_locator(name, data, cdn, tmp_path)
    with pytest.raises(
        ArchiveError, match=r"unpacks to more than 1,000,000 bytes \(max-size\), refusing it"
    ):
        loc.fetch(name)
    nothing_left(loc, name, tmp_path)


def test_corrupt_archive_is_a_clear_error(cdn: CDN, tmp_path: Path) -> None:
    data = make_zip(IMAGES)
    data = data[:100] + bytes(b ^ 0xFF for b in data[100:200]) + data[200:]  # bad bytes, one hash
    loc = hostile_locator("c.zip", data, cdn, tmp_path)
    with pytest.raises(
        ArchiveError, match=r"c.zip: cannot read member 'camera.png'|c.zip is not a readable zip"
    ):
        loc.fetch("c.zip")
    nothing_left(loc, "c.zip", tmp_path)
    loc = hostile_locator("n.tar.gz", b"not a tar at all", cdn, tmp_path)
    with pytest.raises(ArchiveError, match=r"n\.tar\.gz is not a readable tar archive: ReadError"):
        loc.fetch("n.tar.gz")


# ---------------------------------------------------------------------- interruptions


def test_a_member_mismatch_leaves_no_tree(registry_file: Path, served: CDN, tmp_path: Path) -> None:
    config = config_for(registry_file, served.url)
    config["files"]["images.zip"]["members"]["sub/a.fif"] = sha(b"something else")
    loc = locator(config, tmp_path)
    for _ in range(2):  # the second time from the cached archive: still refused
        with pytest.raises(HashMismatchError) as info:
            loc.fetch("images.zip")
        assert "hash mismatch for 'images.zip/sub/a.fif' from the archive images.zip" in str(
            info.value
        )
        assert "Regenerate it with hatch-datafetch make-registry --unpack" in str(info.value)
        tree = Path(loc._tree_path("images.zip"))
        assert sorted(p.name for p in tree.parent.iterdir()) == ["images.zip"]  # no tree
    assert served.count("images.zip") == 1
    with pytest.raises(HashMismatchError):
        loc.fetch("images.zip/camera.png")  # a good member of a bad tree is not served either
    # a member the registry lists but the archive lacks
    del config["files"]["images.zip"]["members"]["sub/a.fif"]
    config["files"]["images.zip"]["members"]["sub/gone.fif"] = sha(b"x")
    with pytest.raises(
        ArchiveError,
        match=r"images.zip lacks 1 of the 3 members the registry lists \('sub/gone.fif'\)",
    ):
        locator(config, tmp_path).fetch("images.zip")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_during_unpacking_leaves_no_valid_tree(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    config = config_for(registry_file, served.url)
    (tmp_path / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "one-member-written"
    code = textwrap.dedent(
        """
        import json, sys, time
        sys.path.insert(0, sys.argv[1])
        import _runtime as rt
        import _runtime.archives as ar
        real = ar.copy_member
        def stuck(*args, **kwargs):
            real(*args, **kwargs)
            open(sys.argv[4], "w").close()
            time.sleep(600)
        ar.copy_member = stuck
        rt.Locator(json.load(open(sys.argv[2])), cache_dir=sys.argv[3], environ={}).fetch(
            "images.zip")
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(Path(rt.__file__).parent.parent),
         str(tmp_path / "config.json"), str(tmp_path / "cache"), str(marker)],
    )  # fmt: skip
    try:
        for _ in range(600):
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the child never started unpacking"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    loc = locator(config, tmp_path)
    tree = Path(loc._tree_path("images.zip"))
    left = [p.name for p in tree.parent.iterdir() if p.name.startswith(".images.zip.d.")]
    assert len(left) == 2 and not tree.exists()  # a half temp tree and the dead lock file
    where = {c.source: c.status for c in loc.where("images.zip")}
    assert where["user cache"] == "missing"
    assert where["user cache (archive)"] == "ok: fetch() unpacks this archive into the user cache"
    parts = [e for e in Cache(loc).entries() if e.kind == "part"]
    assert parts and not any(e.live for e in parts)  # cache list: left over, not running
    assert tree_of(loc.fetch("images.zip")) == IMAGES
    assert [p.name for p in tree.parent.iterdir()] == ["images.zip.d"]  # leftovers cleared
    assert served.count("images.zip") == 1  # the archive the child downloaded was used


# ---------------------------------------------------------------------- builds ship members


def shipped_names(registry_file: Path) -> list[str]:
    return sorted(load_registry(registry_file).shipped())


def test_hatch_builds_ship_the_verified_members(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    """sdist (bundle), wheel (bundle) and data wheel of one python -m build: members, not
    archives; the installed wheels serve them with the server stopped."""
    hook = {"wheel": "bundle", "sdist": "bundle", "data-wheel": True}
    proj = hh.make_project(tmp_path, served.url, hook)
    (proj / "registry.toml").write_bytes(registry_file.read_bytes())
    hh.build(proj)  # the sdist, then both wheels from it (offline: from its bundle)
    dist, shipped = proj / "dist", shipped_names(registry_file)
    assert "images.zip/sub/deeper/b.txt" in shipped and "images.zip" not in shipped
    bundle = [f"{hh.DIST}/_datafetch_bundle/{n}" for n in shipped]
    assert hh.names(dist / f"{hh.DIST}.tar.gz") == sorted(hh.SDIST_BASE + bundle)
    assert hh.names(dist / hh.WHEEL) == sorted(hh.WHEEL_BASE + [f"fixpkg/{n}" for n in shipped])
    assert hh.names(dist / DATA_WHEEL) == sorted(
        ["fixpkg_data/__init__.py", "fixpkg_data/_manifest.json"]
        + [f"fixpkg_data/{n}" for n in shipped]
        + [f"{DATA_DIST}/{f}" for f in ("METADATA", "RECORD", "WHEEL")]
    )
    data_wheel = zipfile.ZipFile(dist / DATA_WHEEL)
    manifest = json.loads(data_wheel.read("fixpkg_data/_manifest.json"))
    assert manifest["files"] == load_registry(registry_file).shipped()  # member hashes
    assert data_wheel.read("fixpkg_data/table.csv.gz/table.csv") == TABLE
    wheel = zipfile.ZipFile(dist / hh.WHEEL)
    assert wheel.read("fixpkg/volumes.tar.gz/brain.nii") == VOLUMES["brain.nii"]
    config = json.loads(wheel.read("fixpkg/_datafetch_registry.json"))
    assert config["files"]["images.zip"]["unpack"] == "zip"
    assert config["files"]["images.zip"]["members"]["sub/a.fif"] == sha(IMAGES["sub/a.fif"])
    r = hh.run(
        [str(Path(sys.executable).parent / "check-wheel-contents"), str(dist / DATA_WHEEL)], dist
    )
    assert r.stdout.strip().endswith("OK"), r.stdout

    served.stop()
    py = hh.venv_with(tmp_path, dist / hh.WHEEL, dist / DATA_WHEEL)
    code = (
        "import json, fixpkg._datafetch as d; t = d.fetch('images.zip'); "
        "m = d.fetch('volumes.tar.gz/labels/l.csv'); "
        "print(json.dumps([str(t), str(d.fetch('table.csv.gz')), m.read_text(), "
        "{c.source: c.status for c in d.where('images.zip')}, len(d.verify().ok)]))"
    )
    tree, table, text, where, ok = hh.py_json(py, code)
    assert tree.endswith("site-packages/fixpkg/images.zip")
    assert table.endswith("site-packages/fixpkg/table.csv.gz/table.csv")
    assert text == VOLUMES["labels/l.csv"].decode()
    assert where["package bundle"] == "ok: fetch() returns this"
    assert where["companion data package fixpkg_data"] == "ok (shadowed)"
    assert ok == len(shipped)


def test_meson_stage_and_dist_ship_the_verified_members(
    registry_file: Path, served: CDN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = tm.make_project(tmp_path, served.url, {"sdist": "bundle"})
    (proj / "registry.toml").write_bytes(registry_file.read_bytes())
    tm.commit(proj)
    shipped = shipped_names(registry_file)
    hh.build(proj, "--wheel", "-Csetup-args=-Ddata-mode=bundle")
    wheel = tm.one(proj / "dist", "*.whl")
    assert tm.EXT in tm.WHEEL_BASE
    assert hh.names(wheel) == sorted(tm.WHEEL_BASE + [f"fixpkg/{n}" for n in shipped])
    served.stop()  # the dist script reuses the build cache
    monkeypatch.setenv("MESON_PROJECT_DIST_ROOT", str(proj))
    code, _, err = hdf("dist", "--wrap-mode", "nodownload")
    assert code == 0, err
    assert tree_of(proj / "_datafetch_bundle") == {
        **{f"images.zip/{n}": d for n, d in IMAGES.items()},
        "plain.txt": b"plain\n",
        "table.csv.gz/table.csv": TABLE,
        **{f"volumes.tar.gz/{n}": d for n, d in VOLUMES.items()},
    }
    py = hh.venv_with(tmp_path, wheel)
    code_ = "import fixpkg._datafetch as d; print(d.fetch('images.zip/sub/a.fif'))"
    out = hh.run([str(py), "-c", code_], tmp_path).stdout.strip()
    assert out.endswith("site-packages/fixpkg/images.zip/sub/a.fif")


def test_archives_in_groups_keep_their_members_in_one_part(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    """A group of two archives above data-wheel-max-size is split between the archives,
    never inside one: each part carries whole member trees, and an install of the group's
    parts serves every member with the server stopped."""
    hook = {
        "data-wheel": True,
        "groups": {"archives": ["*.zip", "*.tar.gz"]},
        "data-wheel-max-size": "100 kB",
    }
    proj = hh.make_project(tmp_path, served.url, hook)
    (proj / "registry.toml").write_bytes(registry_file.read_bytes())
    hh.build(proj)
    dist = proj / "dist"
    parts = {
        "fix_pkg_data_archives_1-1.2.0-py3-none-any.whl": ("fixpkg_data_archives_1", IMAGES),
        "fix_pkg_data_archives_2-1.2.0-py3-none-any.whl": ("fixpkg_data_archives_2", VOLUMES),
    }
    archive = {"fixpkg_data_archives_1": "images.zip", "fixpkg_data_archives_2": "volumes.tar.gz"}
    for wheel, (package, members) in parts.items():
        assert (dist / wheel).stat().st_size <= 100_000, wheel
        inside = [n for n in hh.names(dist / wheel) if ".dist-info/" not in n]
        expected = [f"{package}/{archive[package]}/{m}" for m in members]
        assert inside == sorted([*expected, f"{package}/__init__.py", f"{package}/_manifest.json"])
    assert hh.names(dist / DATA_WHEEL) == sorted(
        ["fixpkg_data/__init__.py", "fixpkg_data/_manifest.json"]
        + ["fixpkg_data/plain.txt", "fixpkg_data/table.csv.gz/table.csv"]
        + [f"{DATA_DIST}/{f}" for f in ("METADATA", "RECORD", "WHEEL")]
    )
    served.stop()
    py = hh.venv_with(tmp_path, dist / hh.WHEEL, *(dist / w for w in parts))
    code = (
        "import json, fixpkg._datafetch as d; "
        "print(json.dumps([str(d.fetch('images.zip')), "
        "d.fetch('volumes.tar.gz/labels/l.csv').read_text(), "
        "{c.source: c.status for c in d.where('volumes.tar.gz/brain.nii')}]))"
    )
    tree, text, where = hh.py_json(py, code)
    assert tree.endswith("site-packages/fixpkg_data_archives_1/images.zip")
    assert text == VOLUMES["labels/l.csv"].decode()
    assert where["companion data package fixpkg_data_archives_2"] == "ok: fetch() returns this"


def test_conda_sources_warn_about_archives(registry_file: Path) -> None:
    code, out, err = hdf("conda-sources", "--registry", str(registry_file), "--base-url",
                         "https://cdn.example/")  # fmt: skip
    assert code == 0, err
    assert 'fn: "images.zip"' in out and "sha256: " in out
    assert "warning: 3 archive(s) (images.zip, table.csv.gz, volumes.tar.gz)" in err


def test_concurrent_cold_fetches_of_an_archive_download_it_once_and_keep_no_archive(
    registry_file: Path, served: CDN, tmp_path: Path
) -> None:
    """Issue 17.21: four threads (and a second process) fetch one cold archive whose members
    are listed: one download, one verified tree, and no archive left in the cache."""
    import threading

    config = config_for(registry_file, served.url)
    served.latency = 0.2  # everyone asks while the first download is still running
    loc = locator(config, tmp_path)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(loc.fetch("images.zip"))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 and len(set(results)) == 1
    assert tree_of(results[0]) == IMAGES
    assert served.count("images.zip") == 1
    hash_dir = Path(loc._cache_path("images.zip")).parent
    assert sorted(p.name for p in hash_dir.iterdir()) == ["images.zip.d"]  # no archive left
