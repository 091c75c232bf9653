"""Build-side benchmarks of hatch-datafetch: the Hatch build hook and the data wheel.

    python bench/build.py [--quick] [--only 1,3] [--runs N] [--repeat N] [--data DIR]

Sections:
  1  omit-mode overhead: `python -m build --wheel --no-isolation` of example_project with
     the hook vs the same project without it (median of >= 5 interleaved runs each);
  2  bundling ~500 MiB into the wheel from a warm build cache (2a) and from a
     HATCH_DATAFETCH_SOURCE dir (2b) vs the same files in the source tree, no hook;
  3  1 GiB of data wheels, in parts under 100 MB (`build_data_wheels`, in a child process)
     vs `zip -0 -r`, with the child's peak RSS and the largest part.

Prints a table (figure, baseline, ratio, target, PASS/FAIL) and writes it as JSON, with
every sample, to bench/results/build.json (committed for the docs). Exit status: 0 all pass, 1 some
FAIL, 2 error. No network at all: every build runs with HATCH_DATAFETCH_OFFLINE=1.
Generated data is kept in /tmp/hdf-bench-build (reused while the sizes match); each run
works in a temporary /tmp/hdf-bench-build/run-* directory that is deleted at the end.
Standard library only. See bench/README.md, section "Build benchmarks".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from hatch_datafetch._toml import tomllib

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
RESULTS = ROOT / "bench" / "results" / "build.json"
PY = sys.executable
MiB = 1 << 20
MB = 10**6
BUILD_TIMEOUT = 600  # seconds for one `python -m build` or one data-wheel child
EPOCH = "1700000000"

# Sizes: (count, bytes each) of the incompressible files of sections 2 and 3.
FULL = {"bundle": (10, 50 * MiB), "datawheel": (16, 64 * MiB), "runs": 9, "repeat": 3}
QUICK = {"bundle": (4, 8 * MiB), "datawheel": (4, 16 * MiB), "runs": 5, "repeat": 1}
PART_LIMIT = 100 * MB  # data-wheel-max-size of section 3 (PyPI's default per-file limit)

TARGET_OVERHEAD = 0.15  # s, section 1
TARGET_BUNDLE = 1.3  # x, section 2
TARGET_ZIP = 1.3  # x, section 3
TARGET_RSS = 100 * MB  # bytes, section 3

# The section-3 child: `python -c DATAWHEEL_CHILD args.json`, prints one JSON line.
# With A["build"] false it stops after the setup, to show what imports and config cost.
DATAWHEEL_CHILD = """\
import json, os, sys, time
A = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
from hatch_datafetch.datawheel import build_data_wheels
from hatch_datafetch.registry import load_registry
from hatch_datafetch.settings import parse_settings
settings = parse_settings(
    {"registry": "registry.toml", "data-wheel": True, "package": "benchpkg",
     "data-wheel-max-size": "100 MB"},
    root=A["root"], project_name="bench-pkg", project_version="1.0.0", env={},
)
registry = load_registry(settings.registry_path())
files = {e.name: os.path.join(A["files"], *e.name.split("/")) for e in registry}
t1 = time.perf_counter()
paths = build_data_wheels(files, settings, registry, A["out"]) if A["build"] else []
t2 = time.perf_counter()
try:
    with open("/proc/self/status") as f:
        kib = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
except (OSError, StopIteration):
    import resource
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = kib // 1024 if sys.platform == "darwin" else kib
print(json.dumps({"setup": t1 - t0, "build": t2 - t1, "hwm_kib": kib,
                  "paths": [str(p) for p in paths]}))
"""


class BenchError(Exception):
    """A benchmark could not run (not a FAIL): the message says what went wrong."""


# --------------------------------------------------------------------------- helpers


def run_cmd(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> tuple[float, str]:
    """Run ``cmd`` in its own process group; return (wall seconds, stdout).

    On a non-zero exit, a timeout or Ctrl-C the whole group (the front-end and the backend
    process it spawns) is killed and the error names ``what`` with the output's tail.
    """
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise BenchError(f"{what}: no result after {BUILD_TIMEOUT} s, killed") from None
    except BaseException:
        _kill_group(proc)
        raise
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        tail = "\n".join((out + err).strip().splitlines()[-25:])
        raise BenchError(
            f"{what} failed (exit {proc.returncode}):\n  $ {' '.join(cmd)}\n  (in {cwd})\n{tail}"
        )
    return seconds, out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def read_through(paths: list[Path]) -> None:
    """Read every file once so that timed runs read from the page cache."""
    buf = bytearray(MiB)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def settle() -> None:
    """Flush dirty pages of the previous run, so its writeback does not land in the next."""
    if hasattr(os, "sync"):
        os.sync()


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def cpu_snapshot() -> tuple[float, float] | None:
    """(busy seconds of the whole machine, seconds used by us and our children)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


# --------------------------------------------------------------------------- data sets


def data_set(base: Path, key: str, spec: dict[str, tuple[int, str]]) -> tuple[Path, dict]:
    """Files laid out by NAME in ``base/key/files``, generated once and reused.

    ``spec`` maps NAME -> (size, kind), kind "random" (os.urandom) or "text". Returns the
    files dir and NAME -> {"size", "sha256"}. Reused when manifest.json records the same
    spec and every file still has the recorded size, mtime and inode.
    """
    top = base / key
    files = top / "files"
    manifest = top / "manifest.json"
    want = {n: list(v) for n, v in sorted(spec.items())}
    try:
        old = json.loads(manifest.read_text())
        if old["spec"] == want and all(
            _stat_key(files / n) == old["files"][n]["stat"] for n in want
        ):
            return files, {n: {k: old["files"][n][k] for k in ("size", "sha256")} for n in want}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    total = sum(size for size, _ in spec.values())
    shutil.rmtree(top, ignore_errors=True)
    files.mkdir(parents=True)
    if free_bytes(top) < total + 512 * MiB:
        raise BenchError(f"not enough free disk in {top} for {total / MiB:.0f} MiB of test data")
    print(f"  generating {len(spec)} files, {total / MiB:.0f} MiB, in {files} ...", flush=True)
    out = {}
    for n, (size, kind) in sorted(spec.items()):
        path = files / n
        path.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = _chunk(kind, min(left, MiB), left)
                f.write(chunk)
                h.update(chunk)
                left -= len(chunk)
        out[n] = {"size": size, "sha256": h.hexdigest(), "stat": _stat_key(path)}
    manifest.write_text(json.dumps({"spec": want, "files": out}, indent=1, sort_keys=True))
    return files, {n: {k: v[k] for k in ("size", "sha256")} for n, v in out.items()}


def _chunk(kind: str, n: int, left: int) -> bytes:
    if kind == "random":
        return os.urandom(n)
    line = f"{left},{left * 7 % 1000},{left % 97 / 3:.4f}\n".encode()
    return (line * (n // len(line) + 1))[:n]


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def write_registry(path: Path, files: dict, base_url: str | None = None) -> None:
    lines = [f"base-url = {json.dumps(base_url)}", ""] if base_url else []
    lines.append("[files]")
    for n, f in sorted(files.items()):
        lines.append(f'{json.dumps(n)} = {{ hash = "sha256:{f["sha256"]}", size = {f["size"]} }}')
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- benchmark


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.runs = args.runs or self.sizes["runs"]
        self.repeat = args.repeat or self.sizes["repeat"]
        self.data = Path(args.data)
        self.data.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="run-", dir=self.data))
        self.rows: list[dict] = []
        self.samples: dict[str, object] = {}
        self.notes: list[str] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HATCH_DATAFETCH_", "PIP_")) and k != "SOURCE_DATE_EPOCH"
        }
        # Keep .pyc files out of the repository (the project is installed editable).
        env["PYTHONPYCACHEPREFIX"] = str(self.data / "pycache")
        env["SOURCE_DATE_EPOCH"] = EPOCH
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env = env

        self.py = self.build_env()

    def build_env(self) -> str:
        """The Python of what an isolated ``python -m build`` gives the hook: a fresh venv
        with hatchling, hatch-datafetch (this checkout's wheel) and their dependencies, and
        build; nothing else. (In a development venv, hatchling also imports every other
        Hatch plugin installed there: scikit-build-core's, say, costs ~170 ms a build, which
        is not the hook's.)"""
        sys.path.insert(0, str(ROOT / "tests"))
        from support.installers import wheelhouse

        wheels = wheelhouse(self.work / "wheels", "build")
        venv = self.work / "build-env"
        subprocess.run([PY, "-m", "venv", "--without-pip", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        pip = [PY, "-m", "pip", "--python", py, "install", "-q", "--no-index", "--find-links"]
        subprocess.run([*pip, str(wheels), "hatch-datafetch", "hatchling", "build"], check=True)
        return py

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def row(
        self,
        sec: str,
        figure: str,
        value: str,
        baseline: str,
        ratio: str,
        target: str,
        ok: bool | None,
        **raw: object,
    ) -> None:
        self.rows.append(
            {
                "section": sec,
                "figure": figure,
                "value": value,
                "baseline": baseline,
                "ratio": ratio,
                "target": target,
                "result": "" if ok is None else ("PASS" if ok else "FAIL"),
                **raw,
            }
        )

    def build(self, proj: Path, out: Path, what: str, **env: str) -> tuple[float, Path]:
        """Wall time of ``python -m build --wheel --no-isolation`` and the wheel it made."""
        shutil.rmtree(out, ignore_errors=True)
        cmd = [self.py, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."]
        seconds, _ = run_cmd(cmd, proj, {**self.env, **env}, what)
        wheels = sorted(out.glob("*.whl"))
        if len(wheels) != 1:
            raise BenchError(f"{what}: expected one wheel in {out}, found {wheels}")
        return seconds, wheels[0]

    # ------------------------------------------------------------------ 1 omit mode

    def s1_omit(self) -> None:
        print(f"[1] omit-mode overhead: {self.runs} interleaved builds each", flush=True)
        ws = self.work / "s1"
        ignore = shutil.ignore_patterns("dist", ".demo", ".venv", "__pycache__", "*.egg-info")
        hook, plain = ws / "with-hook", ws / "no-hook"
        shutil.copytree(EXAMPLE, hook, ignore=ignore)
        shutil.copytree(EXAMPLE, plain, ignore=ignore)
        text = (plain / "pyproject.toml").read_text()
        (plain / "pyproject.toml").write_text(strip_hook(text))
        check = tomllib.loads((plain / "pyproject.toml").read_text())
        hatch = check.get("tool", {}).get("hatch", {})
        if (
            "datafetch" in hatch.get("build", {}).get("hooks", {})
            or "datafetch" in hatch.get("metadata", {}).get("hooks", {})
            or "dynamic" in check.get("project", {})
        ):
            raise BenchError("could not remove the datafetch tables from the plain pyproject")
        cache = ws / "cache"
        env = {"HATCH_DATAFETCH_OFFLINE": "1", "HATCH_DATAFETCH_CACHE": str(cache)}
        out = ws / "out"

        # untimed warm-up of both (compiles .pyc, fills the page cache), and content checks
        _, wheel = self.build(hook, out, "omit build with the hook (warm-up)", **env)
        names = zipfile.ZipFile(wheel).namelist()
        if "example_pkg/_datafetch/__init__.py" not in names:
            raise BenchError(f"the hook did not run: no example_pkg/_datafetch/ in {wheel}")
        if any(n.endswith((".png", ".csv", ".npy")) for n in names):
            raise BenchError(f"omit mode put data into {wheel}")
        _, wheel = self.build(plain, out, "omit build without the hook (warm-up)", **env)
        if any("_datafetch" in n for n in zipfile.ZipFile(wheel).namelist()):
            raise BenchError(f"the hook ran in the project without it: {wheel}")

        t_hook: list[float] = []
        t_plain: list[float] = []
        for i in range(self.runs):
            order = [(hook, t_hook), (plain, t_plain)]
            for proj, times in order if i % 2 == 0 else order[::-1]:
                times.append(self.build(proj, out, f"omit build of {proj.name}", **env)[0])
        mh, mp = median(t_hook), median(t_plain)
        diff = mh - mp
        paired = median([a - b for a, b in zip(t_hook, t_plain)])
        self.samples["1"] = {"with_hook": t_hook, "no_hook": t_plain}
        self.row(
            "1",
            "wheel build, example_project, omit (s)",
            f"{mh:.3f}",
            f"{mp:.3f}",
            f"{mh / mp:.2f}x",
            "-",
            None,
        )
        self.row(
            "1",
            "omit-mode overhead (s)",
            f"+{diff:.3f}",
            "-",
            "-",
            f"<= +{TARGET_OVERHEAD:.2f}",
            diff <= TARGET_OVERHEAD,
            seconds=diff,
            paired_median=paired,
        )

    # ------------------------------------------------------------------ 2 bundle

    def s2_bundle(self) -> None:
        count, size = self.sizes["bundle"]
        spec = {f"data/blob-{i:02d}.bin": (size, "random") for i in range(count)}
        spec.update(
            {
                "text/readme.txt": (4_000, "text"),
                "tables/values.csv": (300_000, "text"),
                "images/icon.png": (40_000, "random"),
            }
        )
        total = sum(s for s, _ in spec.values())
        print(
            f"[2] bundle {total / MiB:.0f} MiB into the wheel: warm-up + "
            f"{self.repeat} interleaved builds each",
            flush=True,
        )
        src, files = data_set(self.data, f"bundle-{count}x{size // MiB}M", spec)
        ws = self.work / "s2"
        if free_bytes(self.data) < 4 * total + 512 * MiB:
            raise BenchError(f"section 2 needs about {4 * total / MiB:.0f} MiB free in {ws}")

        hook = ws / "with-hook"
        write_project(hook, hook=True)
        write_registry(hook / "registry.toml", files, base_url="https://data.invalid/bench/")
        plain = ws / "in-tree"
        write_project(plain, hook=False)
        for n in files:  # a real copy, like a project that keeps its data in the package
            dest = plain / "src" / "benchpkg" / n
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / n, dest)
        read_through([src / n for n in files])

        cache_a, cache_b = ws / "cache-a", ws / "cache-b"
        env_a = {"HATCH_DATAFETCH_CACHE": str(cache_a), "HATCH_DATAFETCH_OFFLINE": "1"}
        env_b = {
            "HATCH_DATAFETCH_CACHE": str(cache_b),
            "HATCH_DATAFETCH_OFFLINE": "1",
            "HATCH_DATAFETCH_SOURCE": str(src),
        }
        out = ws / "out"
        variants = {
            "a": (hook, env_a, "hook, from the warm build cache"),
            "b": (hook, env_b, "hook, from HATCH_DATAFETCH_SOURCE"),
            "p": (plain, {"HATCH_DATAFETCH_OFFLINE": "1"}, "no hook, files in the tree"),
        }
        # 2a's build cache is filled as a first, downloading build would leave it: a copy of
        # each file at the engine's content-addressed path. The download itself is not what
        # this section measures, so it is left out (and no URL is ever opened).
        from hatch_datafetch._runtime import Locator

        seed = Locator(
            {"files": {n: {"hash": f"sha256:{f['sha256']}"} for n, f in files.items()}},
            cache_dir=str(cache_a),
        )
        for n in files:
            dest = Path(seed._cache_path(n))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / n, dest)
        # Untimed warm-ups: each hook build hashes its copies once and memoises them (in the
        # memo of cache-a and cache-b: verified.json, or its journal verified.log until the
        # next compaction); every build's wheel is checked.
        warm = {}
        for key, (proj, env, what) in variants.items():
            warm[key], wheel = self.build(proj, out, f"bundle warm-up ({what})", **env)
            check_bundle(wheel, files)
        memo = [cache_a, cache_b]
        if not all((m / "verified.json").is_file() or (m / "verified.log").is_file() for m in memo):
            raise BenchError(f"the warm-up builds left no memo of verified files: {memo}")
        self.samples["2_warmup"] = warm

        times: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(self.repeat):
            keys = ["a", "p", "b"] if i % 2 == 0 else ["b", "p", "a"]
            for key in keys:
                proj, env, what = variants[key]
                settle()
                seconds, wheel = self.build(proj, out, f"bundle build ({what})", **env)
                times[key].append(seconds)
                shutil.rmtree(out, ignore_errors=True)
        self.samples["2"] = times
        base = median(times["p"])
        self.row(
            "2",
            f"wheel, {total / MiB:.0f} MiB, files in the tree, no hook (s)",
            f"{base:.2f}",
            "-",
            "-",
            "-",
            None,
        )
        for key, label in (("a", "2a"), ("b", "2b")):
            m = median(times[key])
            self.row(
                label,
                f"wheel, {total / MiB:.0f} MiB bundled, {variants[key][2][6:]} (s)",
                f"{m:.2f}",
                f"{base:.2f}",
                f"{m / base:.2f}x",
                f"<= {TARGET_BUNDLE}x",
                m / base <= TARGET_BUNDLE,
                seconds=m,
                baseline_seconds=base,
            )

    # ------------------------------------------------------------------ 3 data wheel

    def s3_datawheel(self) -> None:
        count, size = self.sizes["datawheel"]
        spec = {f"blobs/part-{i:02d}.bin": (size, "random") for i in range(count)}
        total = count * size
        print(
            f"[3] data wheel of {total / MiB:.0f} MiB vs zip -0 -r: "
            f"{self.repeat} interleaved runs each",
            flush=True,
        )
        zip_exe = shutil.which("zip")
        if not zip_exe:
            raise BenchError("section 3 needs the `zip` program (apt-get install zip)")
        src, files = data_set(self.data, f"datawheel-{count}x{size // MiB}M", spec)
        ws = self.work / "s3"
        ws.mkdir(parents=True)
        if free_bytes(self.data) < 2 * total + 512 * MiB:
            raise BenchError(f"section 3 needs about {2 * total / MiB:.0f} MiB free in {ws}")
        root = ws / "proj"
        root.mkdir()
        write_registry(root / "registry.toml", files)
        out = ws / "out"

        def child(build: bool) -> tuple[float, dict]:
            args = ws / "args.json"
            args.write_text(
                json.dumps({"root": str(root), "files": str(src), "out": str(out), "build": build})
            )
            shutil.rmtree(out, ignore_errors=True)
            wall, stdout = run_cmd(
                [PY, "-c", DATAWHEEL_CHILD, str(args)], ws, self.env, "build_data_wheel child"
            )
            try:
                return wall, json.loads(stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise BenchError(f"the data-wheel child printed no result:\n{stdout}") from None

        def zip_once() -> float:
            target = ws / "out.zip"
            target.unlink(missing_ok=True)
            seconds, _ = run_cmd(
                [zip_exe, "-0", "-r", "-q", str(target), src.name],
                src.parent,
                self.env,
                "zip -0 -r",
            )
            target.unlink()
            return seconds

        def cat_once() -> float:  # the I/O floor: the same bytes copied into one file
            target = ws / "out.cat"
            seconds, _ = run_cmd(
                [
                    "sh",
                    "-c",
                    'cat -- "$@" > "$0"',
                    str(target),
                    *(str(src / n) for n in sorted(files)),
                ],
                ws,
                self.env,
                "cat",
            )
            target.unlink()
            return seconds

        read_through([src / n for n in files])  # warm page cache for both sides
        child(False)  # untimed warm-up: .pyc files
        _, first = child(True)  # untimed warm-up, and a content check
        parts = [Path(p) for p in first["paths"]]
        check_datawheels(parts, files)
        biggest = max(p.stat().st_size for p in parts)
        zip_once()

        ours: list[dict] = []
        ours_wall: list[float] = []
        zips: list[float] = []
        cats: list[float] = []
        for i in range(self.repeat):
            for step in ("ours", "zip", "cat") if i % 2 == 0 else ("cat", "zip", "ours"):
                settle()
                if step == "zip":
                    zips.append(zip_once())
                elif step == "cat":
                    cats.append(cat_once())
                else:
                    wall, r = child(True)
                    ours.append(r)
                    ours_wall.append(wall)
            shutil.rmtree(out, ignore_errors=True)
        _, idle = child(False)
        build = median([r["build"] for r in ours])
        wall = median(ours_wall)
        z = median(zips)
        c = median(cats)
        hwm = max(r["hwm_kib"] for r in ours) * 1024
        idle_hwm = idle["hwm_kib"] * 1024
        self.samples["3"] = {
            "build_data_wheel": ours,
            "child_wall": ours_wall,
            "zip": zips,
            "cat": cats,
            "setup_only_hwm_kib": idle["hwm_kib"],
        }
        self.row(
            "3",
            f"build_data_wheels, {total / MiB:.0f} MiB in {len(parts)} parts, in-process (s)",
            f"{build:.2f}",
            f"{z:.2f}",
            f"{build / z:.2f}x",
            f"<= {TARGET_ZIP}x",
            build / z <= TARGET_ZIP,
            seconds=build,
            zip_seconds=z,
        )
        self.row(
            "3",
            "  same, whole child process incl. start-up (s)",
            f"{wall:.2f}",
            f"{z:.2f}",
            f"{wall / z:.2f}x",
            "-",
            None,
        )
        self.row(
            "3",
            "  same, vs the I/O floor: cat of the files into one (s)",
            f"{build:.2f}",
            f"{c:.2f}",
            f"{build / c:.2f}x",
            "-",
            None,
        )
        self.row(
            "3",
            "peak RSS of the build_data_wheel child (MB)",
            f"{hwm / MB:.1f}",
            f"{idle_hwm / MB:.1f}",
            "-",
            f"<= {TARGET_RSS / MB:.0f} MB",
            hwm <= TARGET_RSS,
            hwm_bytes=hwm,
            setup_only_hwm_bytes=idle_hwm,
        )
        self.row(
            "3",
            f"largest of the {len(parts)} data wheels (MB)",
            f"{biggest / MB:.1f}",
            "-",
            "-",
            f"<= {PART_LIMIT / MB:.0f} MB",
            biggest <= PART_LIMIT,
        )
        self.notes.append(
            "3: the baseline RSS is the same child stopping before build_data_wheel "
            "(imports + registry + settings); zip is `zip -0 -r -q` (Info-ZIP 3.0 is "
            "CPU-bound here: mostly user time, 16 KiB reads and writes), cat is one "
            "`cat ... > file`"
        )


def strip_hook(text: str) -> str:
    """pyproject text without the datafetch tables and without ``dynamic``."""
    drop = ("[tool.hatch.build.hooks.datafetch", "[tool.hatch.metadata.hooks.datafetch")
    out, skip = [], False
    for line in text.splitlines(keepends=True):
        s = line.strip()
        if s.startswith("["):
            header = s.split("#", 1)[0].strip()
            skip = any(header == d + "]" or header.startswith(d + ".") for d in drop)
        if skip or re.match(r"\s*dynamic\s*=", line):
            continue
        out.append(line)
    return "".join(out)


def write_project(proj: Path, hook: bool) -> None:
    """The section-2 project; with ``hook``, the registry is bundled into the wheel."""
    pkg = proj / "src" / "benchpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Benchmark package."""\n')
    text = [
        "[build-system]",
        'requires = ["hatchling", "hatch-datafetch"]',
        'build-backend = "hatchling.build"',
        "[project]",
        'name = "bench-pkg"',
        'version = "1.0.0"',
        'requires-python = ">=3.9"',
        "[tool.hatch.build.targets.wheel]",
        'packages = ["src/benchpkg"]',
    ]
    if hook:
        text += [
            "[tool.hatch.build.hooks.datafetch]",
            'registry = "registry.toml"',
            'wheel = "bundle"',
        ]
    (proj / "pyproject.toml").write_text("\n".join(text) + "\n")


def check_bundle(wheel: Path, files: dict) -> None:
    with zipfile.ZipFile(wheel) as zf:
        sizes = {i.filename: i.file_size for i in zf.infolist()}
    for n, f in files.items():
        if sizes.get(f"benchpkg/{n}") != f["size"]:
            raise BenchError(f"{wheel.name}: benchpkg/{n} missing or of the wrong size")


def check_datawheels(wheels: list[Path], files: dict) -> None:
    """Every file is in exactly one part (package benchpkg_data or benchpkg_data_N), at its
    size and stored; no part is over the limit."""
    infos = {}
    for wheel in wheels:
        if wheel.stat().st_size > PART_LIMIT:
            raise BenchError(f"{wheel.name} is {wheel.stat().st_size:,} bytes, over the limit")
        with zipfile.ZipFile(wheel) as zf:
            for i in zf.infolist():
                top, _, rest = i.filename.partition("/")
                if top.startswith("benchpkg_data") and not top.endswith(".dist-info"):
                    infos[rest] = (wheel.name, i)
    for n, f in files.items():
        found = infos.get(n)
        if found is None or found[1].file_size != f["size"]:
            raise BenchError(f"{n} missing from the data wheels or of the wrong size")
        if found[1].compress_type != zipfile.ZIP_STORED:
            raise BenchError(f"{found[0]}: {n} is deflated, expected stored (random data)")


def print_table(rows: list[dict]) -> None:
    cols = [
        ("section", "#"),
        ("figure", "figure"),
        ("value", "value"),
        ("baseline", "baseline"),
        ("ratio", "ratio"),
        ("target", "target"),
        ("result", "result"),
    ]
    widths = [max(len(h), *(len(str(r[k])) for r in rows)) for k, h in cols]
    line = "  ".join(h.ljust(w) for (_, h), w in zip(cols, widths))
    print("\n" + line + "\n" + "-" * len(line))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for (k, _), w in zip(cols, widths)))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--only", default="1,2,3", help="comma-separated sections (default 1,2,3)")
    p.add_argument("--runs", type=int, default=0, help="builds per side in section 1 (>= 5)")
    p.add_argument("--repeat", type=int, default=0, help="timed runs per side in sections 2-3")
    p.add_argument(
        "--data", default="/tmp/hdf-bench-build", help="where generated data is kept between runs"
    )
    args = p.parse_args(argv)
    try:
        only = sorted({int(s) for s in args.only.split(",") if s.strip()})
    except ValueError:
        p.error(f"--only takes section numbers like 1,3, not {args.only!r}")
    if not only or not set(only) <= {1, 2, 3}:
        p.error("--only takes sections 1, 2 and 3")
    if args.runs and args.runs < 5:
        p.error("--runs must be at least 5")
    if args.repeat < 0:
        p.error("--repeat must be positive")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import build  # noqa: F401
        import hatchling  # noqa: F401

        import hatch_datafetch  # noqa: F401
    except ImportError as e:
        print(
            f"bench/build.py: {e}: run it with the project's venv "
            "(build, hatchling and hatch-datafetch installed)",
            file=sys.stderr,
        )
        return 2

    bench = Bench(args)
    sections = {1: bench.s1_omit, 2: bench.s2_bundle, 3: bench.s3_datawheel}
    start, cpu0 = time.time(), cpu_snapshot()
    status = 0
    try:
        for s in only:
            sections[s]()
    except BenchError as e:
        print(f"\nbench/build.py: error: {e}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("\nbench/build.py: interrupted", file=sys.stderr)
        status = 2
    finally:
        bench.close()
    cpu1 = cpu_snapshot()
    other = None
    if cpu0 and cpu1:
        elapsed = (time.time() - start) * (os.cpu_count() or 1)
        other = max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / elapsed
    if not bench.rows:
        return status or 2
    print_table(bench.rows)
    notes = [
        f"{'quick' if args.quick else 'full'} run; section 1: median of {bench.runs} builds per "
        f"side, sections 2-3: median of {bench.repeat}, runs interleaved",
        "page cache warm: every data file is read once before timing",
        *bench.notes,
    ]
    if other is not None:
        notes.append(
            f"other processes used {other:.0%} of the machine's CPU during the run"
            + (" -- NOISY, run again on an idle machine" if other > 0.10 else "")
        )
    for n in notes:
        print(f"  * {n}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": platform.node(),
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                "python": platform.python_version(),
                "quick": args.quick,
                "sections": only,
                "rows": bench.rows,
                "samples": bench.samples,
                "notes": notes,
                "other_cpu_share": other,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"  written to {RESULTS.relative_to(ROOT)}")
    if status:
        return status
    return 1 if any(r["result"] == "FAIL" for r in bench.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
