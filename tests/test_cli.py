"""The ``hatch-datafetch`` command: download, verify, list, make-registry and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cdnserver import CDN, status
from support.runtime import random_bytes

from hatch_datafetch._toml import tomllib

FILES = {
    "images/camera.png": random_bytes(200_000, seed=1),
    "text/readme.txt": b"sample text\n",
    "with space/a b.csv": b"1,2,3\n",
}


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_datafetch", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "cdn_root"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_make_registry_both_formats(tree: Path, tmp_path: Path) -> None:
    r = cli("make-registry", str(tree), "-o", str(tmp_path / "reg.txt"))
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "reg.txt").read_text().splitlines()
    expected = [
        f"{name} sha256:{hashlib.sha256(data).hexdigest()}" for name, data in sorted(FILES.items())
    ]
    assert [ln.replace("'", "") for ln in lines if not ln.startswith("#")] == expected
    r = cli(
        "make-registry",
        str(tree),
        "-o",
        str(tmp_path / "reg.toml"),
        "--base-url",
        "https://x.invalid/d/",
    )
    assert r.returncode == 0, r.stderr
    data = tomllib.loads((tmp_path / "reg.toml").read_text())
    assert data["base-url"] == "https://x.invalid/d/"
    assert {n: v["size"] for n, v in data["files"].items()} == {n: len(d) for n, d in FILES.items()}
    r = cli("make-registry", str(tree), "--format", "toml")
    assert tomllib.loads(r.stdout) == {"files": data["files"]}
    assert cli("make-registry", str(tmp_path / "missing")).returncode == 2


def test_download_verify_list(tree: Path, tmp_path: Path) -> None:
    with CDN(tree) as cdn:
        reg = tmp_path / "reg.toml"
        assert (
            cli("make-registry", str(tree), "-o", str(reg), "--base-url", cdn.url).returncode == 0
        )
        dest = tmp_path / "dest"
        r = cli("download", "--registry", str(reg), "--dest", str(dest), "--jobs", "3")
        assert r.returncode == 0, r.stderr
        assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
            FILES
        )
        r = cli("verify", "--registry", str(reg), str(dest), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] == sorted(FILES)
        (dest / "text/readme.txt").write_bytes(b"changed")
        (dest / "images/camera.png").unlink()
        r = cli("verify", "--registry", str(reg), str(dest), "--json")
        report = json.loads(r.stdout)
        assert r.returncode == 1
        assert report["missing"] == ["images/camera.png"]
        assert [b["name"] for b in report["bad"]] == ["text/readme.txt"]
        r = cli("list", "--registry", str(reg), "--json")
        rows = json.loads(r.stdout)
        assert [row["name"] for row in rows] == sorted(FILES)
        assert rows[2]["urls"] == [cdn.url + "with%20space/a%20b.csv"]
        # --file: only those, and an unknown one is a usage error before any download
        only = tmp_path / "only"
        r = cli(
            "download",
            "--registry",
            str(reg),
            "--dest",
            str(only),
            "--file",
            "text/readme.txt",
            "-q",
        )
        assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
        assert [p.name for p in only.rglob("*") if p.is_file()] == ["readme.txt"]
        n = len(cdn.requests)
        r = cli("download", "--registry", str(reg), "--dest", str(only), "--file", "nope")
        assert r.returncode == 2 and "not in the" in r.stderr and len(cdn.requests) == n


def test_download_failures_exit_1_and_mirror(tree: Path, tmp_path: Path) -> None:
    with CDN(tree) as cdn, CDN(tree) as mirror:
        reg = tmp_path / "reg.txt"
        assert cli("make-registry", str(tree), "-o", str(reg)).returncode == 0
        cdn.fault("text/readme.txt", *[status(503)] * 10)
        dest = tmp_path / "d"
        args = ("download", "--registry", str(reg), "--dest", str(dest), "--retries", "1")
        r = cli(*args, "--base-url", cdn.url)
        assert r.returncode == 1
        assert "ERROR" in r.stderr and "HTTP 503" in r.stderr and "text/readme.txt" in r.stderr
        assert not (dest / "text/readme.txt").exists()
        r = cli(*args, "--base-url", cdn.url, "--mirror", mirror.url)
        assert r.returncode == 0, r.stderr
        assert (dest / "text/readme.txt").read_bytes() == FILES["text/readme.txt"]
        r = cli("download", "--registry", str(reg), "--dest", str(tmp_path / "e"))
        assert r.returncode == 1 and "no URL" in r.stderr


def test_pyproject_settings_and_errors(tree: Path, tmp_path: Path) -> None:
    with CDN(tree) as cdn:
        proj = tmp_path / "proj"
        proj.mkdir()
        assert cli("make-registry", str(tree), "-o", str(proj / "registry.txt")).returncode == 0
        (proj / "pyproject.toml").write_text(
            '[project]\nname = "demo-pkg"\nversion = "1.0"\n'
            f'[tool.datafetch]\nregistry = "registry.txt"\nbase-url = "{cdn.url}"\n'
        )
        r = cli("download", "--dest", str(tmp_path / "out"), cwd=proj)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"export DEMO_PKG_DATA_DIR={tmp_path / 'out'}"
        r = cli("list", "--pyproject", str(proj / "pyproject.toml"))
        assert r.returncode == 0 and cdn.url in r.stdout
        (proj / "pyproject.toml").write_text(
            '[project]\nname = "demo-pkg"\nversion = "1.0"\n'
            '[tool.datafetch]\nregistry = "registry.txt"\nwheel = "yes"\ndata_wheel = true\n'
        )
        r = cli("list", "--pyproject", str(proj / "pyproject.toml"))
        assert r.returncode == 2
        assert r.stderr.startswith("ERROR ")
        assert '"omit" or "bundle"' in r.stderr and "data-wheel" in r.stderr
        assert "Traceback" not in r.stderr
        r = cli("list", cwd=tmp_path)
        assert r.returncode == 2 and "pyproject.toml not found" in r.stderr


def test_bad_registry_line_is_named(tmp_path: Path) -> None:
    reg = tmp_path / "reg.txt"
    reg.write_text("good.txt " + "a" * 64 + "\n../evil.txt " + "b" * 64 + "\n")
    r = cli("list", "--registry", str(reg))
    assert r.returncode == 2
    assert f"{reg}:2:" in r.stderr and ".." in r.stderr and "Traceback" not in r.stderr


def test_help_and_usage() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for command in ("download", "verify", "list", "make-registry"):
        assert command in r.stdout
    assert cli().returncode == 2
    assert cli("download", "--registry", "x", "--pyproject", "y", "--dest", "d").returncode == 2


def test_conda_sources_leave_object_store_urls_out(tmp_path: Path) -> None:
    """Recipes fetch http(s): an s3:// base URL is left out, the https mirror listed; a file
    with no URL a recipe can fetch is an error saying what to add."""
    reg = tmp_path / "reg.toml"
    digest = hashlib.sha256(b"x").hexdigest()
    reg.write_text(
        'base-url = "s3://bucket/v1/"\nmirrors = ["https://bucket.s3.amazonaws.com/v1/"]\n'
        f'[files]\n"a.txt" = {{ hash = "sha256:{digest}" }}\n'
    )
    r = cli("conda-sources", "--registry", str(reg))
    assert r.returncode == 0, r.stderr
    assert '  - url: "https://bucket.s3.amazonaws.com/v1/a.txt"' in r.stdout
    assert "s3://" not in r.stdout
    reg.write_text(reg.read_text().replace('mirrors = ["https://bucket.s3.amazonaws.com/v1/"]', ""))
    r = cli("conda-sources", "--registry", str(reg))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'a.txt' has no URL a recipe can fetch (only s3://bucket/v1/a.txt)" in r.stderr
    assert "https://BUCKET.s3.amazonaws.com/KEY" in r.stderr


@pytest.mark.parametrize("fmt", ["conda-build", "rattler-build"])
def test_conda_sources_feed_an_offline_build(tmp_path: Path, fmt: str) -> None:
    """Do what conda-build / rattler-build do with the entries, then build offline from them."""
    import urllib.request

    import yaml
    from support.hatch import DATA, WHEEL, build, make_project, names

    with CDN() as cdn, CDN() as mirror:
        for name, data in DATA.items():
            cdn.add(name, data)
        proj = make_project(tmp_path, cdn.url, {"wheel": "bundle", "mirrors": [mirror.url]})
        r = cli("conda-sources", "--pyproject", str(proj / "pyproject.toml"), "--format", fmt)
        assert r.returncode == 0, r.stderr
        entries = yaml.safe_load(r.stdout)["source"]
        folder_key, file_key = (
            ("target_directory", "file_name") if fmt == "rattler-build" else ("folder", "fn")
        )
        work = tmp_path / "work"
        for entry in entries:
            primary, fallback = entry["url"]  # a list of URLs is tried as mirrors
            assert primary.startswith(cdn.url) and fallback.startswith(mirror.url)
            data = urllib.request.urlopen(primary, timeout=10).read()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            target = work / entry[folder_key] / entry[file_key]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        assert len(entries) == len(DATA)
        assert 'HATCH_DATAFETCH_SOURCE="$SRC_DIR/datafetch-data"' in r.stdout
        n = len(cdn.requests)

        # the recipe's build script: offline, files from where the entries put them
        env = {
            "HATCH_DATAFETCH_SOURCE": str(work / "datafetch-data"),
            "HATCH_DATAFETCH_OFFLINE": "1",
        }
        build(proj, "--wheel", env=env)
        assert {f"fixpkg/{name}" for name in DATA} <= set(names(proj / "dist" / WHEEL))
        assert len(cdn.requests) == n and mirror.requests == []


def _stderr_on_a_terminal(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (exit code, what it showed)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    proc = subprocess.Popen(
        [sys.executable, "-m", "hatch_datafetch", *args],
        stdout=subprocess.DEVNULL,
        stderr=child_fd,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, **(env or {})},
    )
    os.close(child_fd)
    shown = b""
    end = time.monotonic() + 120
    while time.monotonic() < end:
        ready, _, _ = select.select([main_fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(main_fd)
    return proc.wait(30), shown.decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_only_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    with CDN(tree) as cdn:
        reg = tmp_path / "reg.toml"
        assert (
            cli("make-registry", str(tree), "-o", str(reg), "--base-url", cdn.url).returncode == 0
        )
        base = ["download", "--registry", str(reg), "--jobs", "1"]
        code, shown = _stderr_on_a_terminal([*base, "--dest", str(tmp_path / "a")])
        assert code == 0
        assert "3/3 files" in shown  # tqdm's bar or the plain line, both name the file count
        code, shown = _stderr_on_a_terminal([*base, "--dest", str(tmp_path / "b"), "--quiet"])
        assert (code, shown) == (0, "")
        r = cli(*base, "--dest", str(tmp_path / "c"))  # stderr is a pipe: no progress
        assert r.returncode == 0 and "files," not in r.stderr and "3/3" not in r.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_plain_progress_line_gives_human_sizes(tree: Path, tmp_path: Path) -> None:
    """Issue 17.13: 200 kB of data is "200 kB", not "0.2/0.2 MB" (the line without tqdm)."""
    no_tqdm = tmp_path / "no_tqdm"
    (no_tqdm / "tqdm").mkdir(parents=True)
    (no_tqdm / "tqdm" / "__init__.py").write_text("raise ImportError('tqdm hidden by the test')\n")
    with CDN(tree) as cdn:
        reg = tmp_path / "reg.toml"
        assert (
            cli("make-registry", str(tree), "-o", str(reg), "--base-url", cdn.url).returncode == 0
        )
        args = ["download", "--registry", str(reg), "--jobs", "1", "--dest", str(tmp_path / "a")]
        code, shown = _stderr_on_a_terminal(args, {"PYTHONPATH": str(no_tqdm)})
    assert code == 0
    total = sum(len(d) for d in FILES.values())  # 200,018 bytes
    assert total == 200_018
    assert "3/3 files, 200 kB of 200 kB" in shown, shown
    assert " MB" not in shown


def test_human_size() -> None:
    from hatch_datafetch._runtime.progress import human_size

    cases = {
        0: "0 B",
        49: "49 B",
        999: "999 B",
        1000: "1.0 kB",
        9_949: "9.9 kB",
        9_950: "10 kB",
        170_049: "170 kB",
        999_499: "999 kB",
        999_500: "1.0 MB",
        2_345_678: "2.3 MB",
        123_456_789: "123 MB",
        4 * 2**30: "4.3 GB",
        12 * 10**12: "12 TB",
    }
    assert {n: human_size(n) for n in cases} == cases


# ---------------------------------------------------------------------- closed pipes (issue 17.6)


def _many_files(tmp_path: Path, n: int) -> tuple[Path, dict[str, str]]:
    """A registry of n names (no file needs to exist for list and conda-sources) and the
    environment of an installed locator package ``demo`` with the same files."""
    from support.runtime import install, make_config

    files = {f"dir{i % 7}/file{i:05}.bin": str(i).encode() for i in range(n)}
    reg = tmp_path / f"many{n}.toml"
    rows = [
        f'"{name}" = {{ hash = "sha256:{hashlib.sha256(data).hexdigest()}", size = {len(data)} }}'
        for name, data in files.items()
    ]
    reg.write_text('base-url = "https://data.example.org/v1/"\n[files]\n' + "\n".join(rows))
    return reg, install(tmp_path / f"rt{n}", make_config(files, "https://data.example.org/v1/"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell and head")
def test_every_command_line_is_quiet_on_a_closed_pipe(tmp_path: Path) -> None:
    """``cmd | head -1``: no "ERROR Broken pipe", no traceback, no "Exception ignored"; exit 0
        or 141 (128 + SIGPIPE), like a Unix tool. Repeated: the failure came one run in five
    (12 runs miss it with a chance of 7%; every run of the runtime's list failed).
        Every output is larger than a pipe's buffer (64 KiB), so the reader leaves early."""
    import shlex

    reg, _ = _many_files(tmp_path, 600)  # the tool reads a registry: 600 names keep it quick
    _, env = _many_files(tmp_path, 3000)
    tool = [sys.executable, "-m", "hatch_datafetch"]
    runtime = [sys.executable, "-m", "demo._datafetch"]
    commands = {
        "conda-sources": ([*tool, "conda-sources", "--registry", str(reg)], 12, "source:"),
        "list": ([*tool, "list", "--registry", str(reg)], 3, "dir0/file00000.bin sha256:"),
        "list --json": ([*tool, "list", "--json", "--registry", str(reg)], 3, "["),
        "--help": ([*tool, "--help"], 2, "usage:"),
        "runtime list": ([*runtime, "list"], 8, "dir0/file00000.bin sha256:"),
        "runtime list --json": ([*runtime, "list", "--json"], 3, "["),
    }
    for label, (cmd, times, first) in commands.items():
        full = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert full.returncode == 0, (label, full.stderr)
        assert label == "--help" or len(full.stdout) > 80_000, (label, len(full.stdout))
        for i in range(times):
            r = subprocess.run(
                ["bash", "-c", f"set -o pipefail; {shlex.join(cmd)} | head -1"],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )
            assert r.stderr == "", f"{label}, run {i + 1}: {r.stderr}"
            assert r.returncode in (0, 141), f"{label}, run {i + 1}: exit {r.returncode}"
            assert r.stdout.startswith(first), (label, r.stdout)
