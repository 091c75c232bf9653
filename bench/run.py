"""Benchmark hatch-datafetch against its targets (SPEC §6) and against pooch.

    python bench/run.py [--quick] [--only 1,3] [--repeat N] [--data DIR]

Sections: 1 many small files, 2 large files, 3 warm fetch, 4 peak RSS, 5 import cost,
6 new connections cost 100 ms, 7 the same through a proxy, 8 a large file from a server
capped per connection, 9 a dead primary host with a live mirror, 10 the offline switch,
11 a test suite with --datafetch=prefetch, 12 the locator package vs the single file.
Prints a table (figure, reference, ratio, target, PASS/FAIL) and writes it as JSON to
bench/results/latest.json (a run with --quick or --only: partial.json). Exit status: 0 all
pass, 1 some FAIL, 2 error. Network: only 127.0.0.1 (tests/support/cdnserver.py in
subprocesses, stopped at the end). See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))  # cdnserver.py and tlsca.py
PY = sys.executable
MiB = 1 << 20
HEAVY = ("urllib.request", "http.client", "pooch")
SINGLE_FILE = "f470d39"  # the last commit with the single-file locator (section 12)

# Child processes: `python -c PRELUDE+CODE args.json`; each prints one JSON line.
PRELUDE = "import json, sys, time\nA = json.load(open(sys.argv[1]))\n"
LOC = 'Locator(A["config"], cache_dir=A["cache"], environ={}, progress=False)'
CHILD = {
    # cold fetch_all into the cache (or into A["dest"]), timed after the import
    "ours_all": f"""from hatch_datafetch._runtime import Locator
t = time.perf_counter()
{LOC}.fetch_all(A.get("dest"), jobs=A["jobs"])
print(json.dumps({{"seconds": time.perf_counter() - t}}))
""",
    # warm: config parse + Locator construction + memo load + fetch of every file
    "ours_warm": """from hatch_datafetch._runtime import Locator
t = time.perf_counter()
with open(A["config_path"], "rb") as f:
    config = json.loads(f.read())
loc = Locator(config, cache_dir=A["cache"], environ={}, progress=False)
paths = [str(loc.fetch(n)) for n in config["files"]]
print(json.dumps({"seconds": time.perf_counter() - t, "paths": paths}))
""",
    # pooch's normal usage: create, then fetch one file after the other (cold or warm)
    "pooch": """import pooch
pooch.get_logger().setLevel("WARNING")
t = time.perf_counter()
p = pooch.create(path=A["path"], base_url=A["url"], registry=A["registry"])
paths = [p.fetch(n) for n in A["registry"]]
print(json.dumps({"seconds": time.perf_counter() - t}))
""",
    # fetch of one file, timed after the import (section 8c)
    "ours_fetch": f"""from hatch_datafetch._runtime import Locator
t = time.perf_counter()
{LOC}.fetch(A["name"])
print(json.dumps({{"seconds": time.perf_counter() - t}}))
""",
    # fetch_all with jobs, timed, and this child's peak RSS (sections 8)
    "ours_peak": f"""from hatch_datafetch._runtime import Locator
t = time.perf_counter()
{LOC}.fetch_all(jobs=A["jobs"])
secs = time.perf_counter() - t
with open("/proc/self/status") as f:
    kib = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
print(json.dumps({{"seconds": secs, "hwm_kib": kib}}))
""",
    # 100 fetches of files that are not there, with the offline switch set
    "offline": """from hatch_datafetch._runtime import Locator
import os
os.environ["HATCH_DATAFETCH_OFFLINE"] = "1"
loc = Locator(A["config"], cache_dir=A["cache"], progress=False)
names = sorted(A["config"]["files"])[:100]
t = time.perf_counter()
for n in names:
    try:
        loc.fetch(n)
    except LookupError:
        pass
    else:
        raise SystemExit("a fetch succeeded offline")
print(json.dumps({"seconds": time.perf_counter() - t, "n": len(names)}))
""",
    # peak RSS of this process alone: VmHWM (ru_maxrss also counts the parent's pre-exec RSS)
    "rss": f"""from hatch_datafetch._runtime import Locator
if A.get("name"):
    {LOC}.fetch(A["name"])
try:
    with open("/proc/self/status") as f:
        kib = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
except (OSError, StopIteration):
    import resource
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = kib // 1024 if sys.platform == "darwin" else kib
print(json.dumps({{"hwm_kib": kib}}))
""",
}


class BenchError(Exception):
    pass


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.repeat = args.repeat or (1 if args.quick else 3)
        self.quick = args.quick
        self.n_small = 50 if args.quick else 200
        self.large = (50 if args.quick else 200) * MiB
        self.huge = (200 if args.quick else 1024) * MiB
        self.data = args.data  # generated files, reused across runs
        os.makedirs(self.data, exist_ok=True)
        self.ws = tempfile.mkdtemp(prefix="run-", dir=self.data)  # removed at the end
        self.cache = os.path.join(self.ws, "cache")  # our cache, shared by sections 1-3
        self.pooch_dir = os.path.join(self.ws, "pooch")  # pooch's, shared by sections 1-3
        self.servers: list[subprocess.Popen[bytes]] = []
        self.groups: dict[str, dict] = {}  # small/large/huge -> dir, files {name: (hash, size)}
        self.rows: list[dict] = []
        self.done: set[str] = set()  # which groups are in our / pooch's cache
        self.scratch = 0
        env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        env.update(XDG_CACHE_HOME=os.path.join(self.ws, "xdg"), PYTHONPATH=ROOT)
        env["HATCH_DATAFETCH_CACHE"] = os.path.join(self.ws, "cli-cache")
        # children keep .pyc files like an installed package does, in a reused tree of ours
        # (even under PYTHONDONTWRITEBYTECODE); warm_up() fills it before anything is timed
        env["PYTHONPYCACHEPREFIX"] = os.path.join(self.data, "pycache")
        for var in ("PYTHONDONTWRITEBYTECODE", "HATCH_DATAFETCH_SOURCE", "BENCH_DATA_DIR"):
            env.pop(var, None)
        self.env = env

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        for p in self.servers:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        shutil.rmtree(self.ws, ignore_errors=True)

    def server(self, root: str, latency: float, *flags: str) -> str:
        """Start the test CDN on ROOT; return its URL (it exits by itself after 1 h)."""
        log = os.path.join(self.ws, f"server{len(self.servers)}.log")
        server = os.path.join(ROOT, "tests", "support", "cdnserver.py")
        cmd = [PY, server, "--root", root, *flags]
        with open(log, "wb") as err:
            p = subprocess.Popen(
                [*cmd, "--latency", str(latency), "--timeout", "3600"],
                stdout=subprocess.PIPE, stderr=err, env=self.env,
            )  # fmt: skip
        self.servers.append(p)
        ready, _, _ = select.select([p.stdout], [], [], 15)
        line = p.stdout.readline().decode() if ready and p.stdout else ""
        if not line.startswith("URL http://127.0.0.1:"):
            with open(log, errors="replace") as f:
                raise BenchError(f"test server did not start: {line!r} {f.read()[-2000:]}")
        return line.split()[1]

    def run(self, cmd: list[str], **env: str) -> tuple[float, str]:
        """Run a child; return (wall seconds, stdout). Raise BenchError with its stderr."""
        os.sync()  # let earlier writes reach the disk before timing (untimed)
        t = time.perf_counter()
        try:
            env, cwd = {**self.env, **env}, self.ws
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=cwd)
        except subprocess.TimeoutExpired:  # subprocess.run has killed it
            raise BenchError(f"killed a child after 600 s: {' '.join(cmd)[:300]}") from None
        wall = time.perf_counter() - t
        if r.returncode != 0:
            raise BenchError(f"{' '.join(cmd[:4])}... exited {r.returncode}:\n{r.stderr[-3000:]}")
        return wall, r.stdout

    def child(self, kind: str, **args: object) -> tuple[float, dict]:
        path = os.path.join(self.ws, f"args-{kind}.json")
        with open(path, "w") as f:
            json.dump(args, f)
        wall, out = self.run([PY, "-c", PRELUDE + CHILD[kind], path])
        return wall, json.loads(out.strip().splitlines()[-1])

    def cli(self, reg: str, url: str, dest: str, jobs: int, *more: str, **env: str) -> float:
        opts = ["--registry", reg, "--base-url", url, "--dest", dest, "--jobs", str(jobs)]
        cmd = [PY, "-m", "hatch_datafetch", "download", *opts, *more, "--quiet"]
        return self.run(cmd, **env)[0]

    def cli_works(self) -> bool:
        cmd = [PY, "-m", "hatch_datafetch", "download", "--help"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self.env)
        return r.returncode == 0 and "--registry" in r.stdout and "--base-url" in r.stdout

    def repeated(self, once, final_dir: str = "") -> tuple[float, list[float]]:
        """Run once(dir) --repeat times and return the median and the samples.

        A cold run writes into a scratch dir that is removed afterwards, except the last one,
        which writes into final_dir (when given) and is kept for section 3.
        """
        samples = []
        for i in range(self.repeat):
            self.scratch += 1
            scratch = os.path.join(self.ws, f"scratch{self.scratch}")
            keep = final_dir and i == self.repeat - 1
            samples.append(once(final_dir if keep else scratch))
            shutil.rmtree(scratch, ignore_errors=True)
        return statistics.median(samples), [round(x, 6) for x in samples]

    def row(self, sec: str, what: str, value: str, target: str, ok: bool | None, **raw: object):
        ref, ratio = raw.pop("ref", "-"), raw.pop("ratio", "-")
        result = {True: "PASS", False: "FAIL", None: "-"}[ok]
        self.rows.append(dict(section=sec, what=what, value=value, reference=ref, ratio=ratio,
                              target=target, result=result, raw=raw))  # fmt: skip

    # ------------------------------------------------------------------ data

    def group(self, key: str) -> dict:
        """The files of a group: written once (reused when the size matches), hashed now,
        which also brings them into the page cache before anything is timed."""
        if key not in self.groups:
            if key == "small":
                rnd = random.Random(20240601)
                sizes = {f"s{i:03d}.bin": rnd.randint(10240, 102400) for i in range(self.n_small)}
                d = f"small-{self.n_small}"
            elif key == "large":
                sizes = {f"big{i}.bin": self.large for i in range(2)}
                d = f"large-{self.large // MiB}M"
            else:
                sizes = {"huge.bin": self.huge}
                d = f"huge-{self.huge // MiB}M"
            self.groups[key] = make_files(os.path.join(self.data, d), sizes)
        return self.groups[key]

    def url(self, key: str, latency: float) -> str:
        g = self.group(key)
        if not g.get("url"):
            g["url"] = self.server(g["dir"], latency)
        return g["url"]

    def config(self, files: dict, base_url: str) -> dict:
        return {
            "format": 1, "base_url": base_url, "mirrors": [], "data_name": "bench-data",
            "package": "benchpkg", "env_var": "BENCH_DATA_DIR", "url_env_var": "BENCH_DATA_URL",
            "files": {n: {"hash": h, "size": s, "url": None} for n, (h, s) in files.items()},
        }  # fmt: skip

    def ours_cold(self, key: str, latency: float, jobs: int, cache: str) -> float:
        """fetch_all(jobs) of a group into an empty cache; in-process seconds."""
        cfg = self.config(self.group(key)["files"], self.url(key, latency))
        secs = self.child("ours_all", config=cfg, cache=cache, jobs=jobs)[1]["seconds"]
        if cache == self.cache:
            self.done.add(f"ours-{key}")
        return secs

    def pooch_cold(self, key: str, latency: float, path: str, wall: bool = False) -> float:
        """pooch.create + fetch of each file of a group into an empty dir (wall or in-process)."""
        registry = {n: h for n, (h, _) in self.group(key)["files"].items()}
        secs, res = self.child("pooch", path=path, url=self.url(key, latency), registry=registry)
        if path == self.pooch_dir:
            self.done.add(f"pooch-{key}")
        return secs if wall else res["seconds"]

    def warm_up(self) -> None:
        """Run every child once on 2 tiny files (untimed) so each module has its .pyc."""
        g = make_files(os.path.join(self.ws, "warm"), {"w0.bin": 1000, "w1.bin": 2000})
        url = self.server(g["dir"], 0.0)
        reg, cfg, d = write_registry(self.ws, "warm", g["files"], self.config(g["files"], url))
        if self.cli_works():
            self.cli(reg, url, os.path.join(d, "dest"), 2)
        self.child("ours_all", config=self.config(g["files"], url), cache=d, jobs=2)
        self.child("ours_warm", config_path=cfg, cache=d)
        self.child("rss")
        registry = {n: h for n, (h, _) in g["files"].items()}
        for _ in range(2 if have_pooch() else 0):  # cold, then warm
            self.child("pooch", path=os.path.join(d, "pooch"), url=url, registry=registry)
        self.run([PY, "-X", "importtime", "-c", "import hatch_datafetch._runtime"])

    # ------------------------------------------------------------------ sections

    def s1_small(self) -> None:
        g, url = self.group("small"), self.url("small", 0.05)
        what = f"{len(g['files'])} files of 10-100 KiB, 50 ms/request"
        reg, _, _ = write_registry(self.ws, "small", g["files"], {})
        use_cli = self.cli_works()
        how = "CLI download --jobs 16" if use_cli else "fetch_all(dest, jobs=16), CLI unavailable"

        def ours(scratch: str) -> float:
            dest, cold = os.path.join(scratch, "dest"), os.path.join(scratch, "cache")
            if use_cli:
                wall = self.cli(reg, url, dest, 16, HATCH_DATAFETCH_CACHE=cold)
            else:
                cfg = self.config(g["files"], url)
                wall = self.child("ours_all", config=cfg, cache=cold, dest=dest, jobs=16)[0]
            check_tree(dest, g["files"])
            return wall

        wall, samples = self.repeated(ours)
        if have_pooch():
            pwall, psamples = self.repeated(
                lambda path: self.pooch_cold("small", 0.05, path, wall=True), self.pooch_dir
            )
            ratio = f"{pwall / wall:.1f}x faster than pooch"
            self.row("1", f"{what}: {how}, cold, wall incl. startup", f"{wall:.2f} s",
                     ">= 10x faster", pwall / wall >= 10, ref=f"pooch {pwall:.2f} s",
                     ratio=ratio, ours_s=samples, pooch_s=psamples)  # fmt: skip
        else:
            self.row("1", f"{what}: {how}", f"{wall:.2f} s", ">= 10x", None, ref="no pooch")
        secs = self.ours_cold("small", 0.05, 16, self.cache)
        self.row("1c", f"{what}: Locator.fetch_all(jobs=16) into the cache, in-process",
                 f"{secs:.2f} s", "(info)", None, ours_s=[secs])  # fmt: skip

    def s2_large(self) -> None:
        g = self.group("large")
        paths = [os.path.join(g["dir"], n) for n in g["files"]]
        total = sum(s for _, s in g["files"].values())
        floors = [timed(lambda: [hash_file(p) for p in paths]) for _ in range(max(3, self.repeat))]
        floor = statistics.median(floors)
        self.url("large", 0.0)  # start the server before timing
        ours, samples = self.repeated(lambda d: self.ours_cold("large", 0.0, 2, d), self.cache)
        what = f"2 x {self.large // MiB} MiB, no latency: fetch_all(jobs=2)"
        self.row("2a", f"{what} vs sha256 of the same files from disk",
                 f"{ours:.2f} s ({total / MiB / ours:.0f} MiB/s)", "<= 1.5x", ours / floor <= 1.5,
                 ref=f"floor {floor:.2f} s", ratio=f"{ours / floor:.2f}x the floor",
                 ours_s=samples, floor_s=floors, bytes=total)  # fmt: skip
        if have_pooch():
            pin, psamples = self.repeated(
                lambda d: self.pooch_cold("large", 0.0, d), self.pooch_dir
            )
            self.row("2b", f"{what} vs pooch's defaults", f"{ours:.2f} s", ">= 5x faster",
                     pin / ours >= 5, ref=f"pooch {pin:.2f} s",
                     ratio=f"{pin / ours:.1f}x faster than pooch",
                     ours_s=samples, pooch_s=psamples)  # fmt: skip
        copy = []  # what writing costs here: hash + write a copy, in one thread (untimed sync)
        for _ in range(max(3, self.repeat)):
            os.sync()
            copy.append(timed(lambda: [hash_file(p, os.path.join(self.ws, "copy")) for p in paths]))
            os.unlink(os.path.join(self.ws, "copy"))
        cp = statistics.median(copy)
        self.row("2c", "same, floor with writing: sha256 + write a copy, one thread",
                 f"{ours:.2f} s", "(info)", None, ref=f"copy {cp:.2f} s",
                 ratio=f"{ours / cp:.2f}x the copy", copy_s=copy)  # fmt: skip

    def s3_warm(self) -> None:
        for key, jobs, latency in (("small", 16, 0.05), ("large", 2, 0.0)):
            if f"ours-{key}" not in self.done:
                print(f"  setup: caching the {key} files (untimed)", file=sys.stderr)
                self.ours_cold(key, latency, jobs, self.cache)
            if have_pooch() and f"pooch-{key}" not in self.done:
                print(f"  setup: pooch downloads the {key} files (untimed)", file=sys.stderr)
                self.pooch_cold(key, latency, self.pooch_dir)
        files = {**self.group("small")["files"], **self.group("large")["files"]}
        dead = "http://127.0.0.1:9/"  # nothing may be downloaded here
        _, cfg, _ = write_registry(self.ws, "all", files, self.config(files, dead))
        for d in (self.cache, self.pooch_dir):  # page cache: warm for both (untimed)
            for base, _, names in os.walk(d):
                for name in names:
                    hash_file(os.path.join(base, name))

        def ours(_: str) -> float:
            _, res = self.child("ours_warm", config_path=cfg, cache=self.cache)
            outside = [p for p in res["paths"] if not p.startswith(self.cache + os.sep)]
            if outside:
                raise BenchError(f"warm fetch returned paths outside the cache: {outside[:3]}")
            return res["seconds"] * 1000

        ms, samples = self.repeated(ours)
        what = f"warm fetch of {len(files)} files, fresh process"
        self.row("3a", f"{what} (config, Locator, memo, fetches)", f"{ms:.1f} ms", "<= 20 ms",
                 ms <= 20, ours_ms=samples)  # fmt: skip
        if have_pooch():
            registry = {n: h for n, (h, _) in files.items()}
            args = dict(path=self.pooch_dir, url=dead, registry=registry)
            pms, psamples = self.repeated(lambda _: 1e3 * self.child("pooch", **args)[1]["seconds"])
            self.row("3b", f"{what} vs pooch (re-hashes each file)", f"{ms:.1f} ms",
                     ">= 20x faster", pms / ms >= 20, ref=f"pooch {pms:.0f} ms",
                     ratio=f"{pms / ms:.1f}x faster than pooch",
                     ours_ms=samples, pooch_ms=psamples)  # fmt: skip

    def s4_rss(self) -> None:
        g, url = self.group("huge"), self.url("huge", 0.0)
        idle = self.child("rss")[1]["hwm_kib"] / 1024
        cfg, cache = self.config(g["files"], url), os.path.join(self.ws, "cache-rss")
        peak = self.child("rss", config=cfg, cache=cache, name="huge.bin")[1]["hwm_kib"] / 1024
        self.row("4", f"peak RSS of a child doing Locator.fetch of {self.huge // MiB} MiB",
                 f"{peak:.1f} MiB", "<= 64 MiB", peak <= 64,
                 ref=f"import-only child {idle:.1f} MiB", ratio=f"fetch adds {peak - idle:.1f} MiB",
                 peak_mib=peak, baseline_mib=idle)  # fmt: skip
        # 4b: a download as long as a real one, at a network's pace (small reads): what
        # fragments the C heap shows here, not on the unpaced loopback of line 4
        size, rate = (512 if self.quick else 4096) * MiB, 50 * MiB
        g = make_files(os.path.join(self.data, f"huge-{size // MiB}M"), {"huge.bin": size},
                       remember=True)  # fmt: skip
        url = self.server(g["dir"], 0.0, "--rate", str(rate))
        cfg, cache = self.config(g["files"], url), os.path.join(self.ws, "cache-rss4b")
        res = self.child("ours_peak", config=cfg, cache=cache, jobs=8)[1]
        shutil.rmtree(cache, ignore_errors=True)
        peak = res["hwm_kib"] / 1024
        self.row("4b", f"peak RSS of a child doing fetch_all(jobs=8) of {size // MiB} MiB "
                 f"(8 ranges), server capped at {rate // MiB} MiB/s per connection",
                 f"{peak:.1f} MiB", "<= 64 MiB", peak <= 64,
                 ref=f"import-only child {idle:.1f} MiB",
                 ratio=f"adds {peak - idle:.1f} MiB in {res['seconds']:.1f} s",
                 peak_mib=peak, baseline_mib=idle, seconds=res["seconds"])  # fmt: skip

    def s5_import(self) -> None:
        mod = "hatch_datafetch._runtime"
        us = []
        for _ in range(7):
            cmd = [PY, "-X", "importtime", "-c", f"import {mod}"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self.env)
            lines = [x.split("|") for x in r.stderr.splitlines()]
            us += [int(x[1]) for x in lines if len(x) == 3 and x[2].strip() == mod]
        if len(us) != 7:
            raise BenchError(f"could not find {mod} in the -X importtime output")
        ms = statistics.median(us) / 1000
        self.row("5a", f"import {mod}: its cumulative time, median of 7", f"{ms:.2f} ms",
                 "<= 5 ms", ms <= 5, samples_us=us)  # fmt: skip
        code = f"import sys, {mod}; print(*[m for m in {HEAVY!r} if m in sys.modules])"
        found = self.run([PY, "-c", code])[1].split()
        self.row("5b", f"modules loaded by that import, of: {', '.join(HEAVY)}",
                 ", ".join(found) or "none", "none", not found, loaded=found)  # fmt: skip

    # ------------------------------------------------------------------ network (issue 10)

    def _startup(self, reg: str, url: str) -> float:
        """Wall of the CLI doing no network (``list``): the start-up in an ideal time."""
        cmd = [PY, "-m", "hatch_datafetch", "list", "--registry", reg, "--base-url", url]
        return statistics.median(self.run(cmd)[0] for _ in range(3))

    def _cold_cli(
        self, server: Any, reg: str, url: str, jobs: int, *more: str, **env: str
    ) -> tuple[float, list[float], int]:
        """Median wall of cold CLI downloads and the connections the counter saw per run."""
        conns: list[int] = []

        def once(scratch: str) -> float:
            server.reset_counters()
            dest, cold = os.path.join(scratch, "dest"), os.path.join(scratch, "cache")
            wall = self.cli(reg, url, dest, jobs, *more, HATCH_DATAFETCH_CACHE=cold, **env)
            conns.append(server.connections)
            return wall

        wall, samples = self.repeated(once)
        return wall, samples, max(conns)

    def s6_connections(self) -> None:
        from cdnserver import CDN

        g = self.group("small")
        n, jobs = len(g["files"]), 16
        reg, _, _ = write_registry(self.ws, "conn", g["files"], {})
        with CDN(g["dir"], latency=0.05, connect_delay=0.1) as cdn:
            startup = self._startup(reg, cdn.url)
            ideal = -(-n // jobs) * 0.05 + 0.1 + startup
            wall, samples, conns = self._cold_cli(cdn, reg, cdn.url, jobs)
            what = f"{n} files, 100 ms per new connection + 50 ms per request, CLI --jobs {jobs}"
            self.row("6a", f"{what}: wall vs the ideal", f"{wall:.2f} s", "<= 1.5x ideal",
                     wall <= 1.5 * ideal, ref=f"ideal {ideal:.2f} s (start-up {startup:.2f})",
                     ratio=f"{wall / ideal:.2f}x the ideal", ours_s=samples)  # fmt: skip
            self.row("6b", f"{what}: connections opened", str(conns), f"<= {jobs + 4}",
                     conns <= jobs + 4)  # fmt: skip
            if have_pooch():
                pwall = self.pooch_cold_at(cdn.url, g, os.path.join(self.ws, "pooch6"))
                self.row("6c", f"{what}: vs pooch one by one", f"{wall:.2f} s", ">= 20x faster",
                         pwall / wall >= 20, ref=f"pooch {pwall:.2f} s",
                         ratio=f"{pwall / wall:.1f}x faster than pooch")  # fmt: skip

    def pooch_cold_at(self, url: str, g: dict, path: str) -> float:
        registry = {n: h for n, (h, _) in g["files"].items()}
        return self.child("pooch", path=path, url=url, registry=registry)[0]

    def s7_proxy(self) -> None:
        import tlsca
        from cdnserver import CDN, Proxy

        g = self.group("small")
        n, jobs = len(g["files"]), 16
        reg, _, _ = write_registry(self.ws, "proxy", g["files"], {})
        context, cafile = tlsca.make_tls(os.path.join(self.ws, "ca"))
        no = {"NO_PROXY": "", "no_proxy": ""}
        for scheme, tls in (("http", None), ("https", context)):
            with CDN(g["dir"], latency=0.05, connect_delay=0.1, tls=tls) as cdn, Proxy() as px:
                env = {f"{scheme.upper()}_PROXY": px.url, "SSL_CERT_FILE": str(cafile), **no}
                wall, samples, _ = self._cold_cli(px, reg, cdn.url, jobs, **env)
                conns = px.connections
                self.row(f"7{'ab'[tls is not None]}",
                         f"{n} files over {scheme} through a loopback proxy, CLI --jobs {jobs}: "
                         "connections at the proxy", str(conns), f"<= {jobs + 4}",
                         conns <= jobs + 4, ref=f"wall {wall:.2f} s", ours_s=samples)  # fmt: skip

    def s8_segments(self) -> None:
        size = (128 if self.quick else 512) * MiB
        g = make_files(os.path.join(self.data, f"seg-{size // MiB}M"), {"seg.bin": size})
        url = self.server(g["dir"], 0.0, "--rate", str(40 * MiB))
        cfg = self.config(g["files"], url)
        runs = {}
        for jobs in (1, 8):
            cache = os.path.join(self.ws, f"cache-seg{jobs}")
            runs[jobs] = self.child("ours_peak", config=cfg, cache=cache, jobs=jobs)[1]
            shutil.rmtree(cache, ignore_errors=True)
        one, eight = runs[1]["seconds"], runs[8]["seconds"]
        peak = runs[8]["hwm_kib"] / 1024
        what = f"1 file of {size // MiB} MiB, server capped at 40 MiB/s per connection"
        self.row("8a", f"{what}: fetch_all(jobs=8) in ranges vs one connection",
                 f"{eight:.2f} s", ">= 3x faster", one / eight >= 3, ref=f"one stream {one:.2f} s",
                 ratio=f"{one / eight:.1f}x faster")  # fmt: skip
        self.row("8b", f"{what}: peak RSS of the child (hash verified)", f"{peak:.1f} MiB",
                 "<= 64 MiB", peak <= 64)  # fmt: skip
        self._s8c_split()

    def _s8c_split(self) -> None:
        """A mid-size file (128 MiB) from a server that caps each connection at 20 MB/s:
        Locator.fetch, which splits it into ranges of 16 MiB or more (at most 4), against
        one connection (fetch_all(jobs=1): no ranges). The server runs in this process, so
        its request log counts the ranges."""
        from cdnserver import CDN

        size, rate = (64 if self.quick else 128) * MiB, 20_000_000
        g = make_files(os.path.join(self.data, f"mid-{size // MiB}M"), {"mid.bin": size})
        with CDN(g["dir"], rate=rate) as cdn:
            cfg, counts = self.config(g["files"], cdn.url), []

            def fetch(scratch: str) -> float:
                cdn.reset_counters()
                secs = self.child("ours_fetch", config=cfg, cache=scratch, name="mid.bin")[1]
                counts.append(sum(1 for r in cdn.requests if r.headers.get("Range", "bytes=0-0")
                                  != "bytes=0-0"))  # fmt: skip
                return float(secs["seconds"])

            def one(scratch: str) -> float:
                return float(
                    self.child("ours_all", config=cfg, cache=scratch, jobs=1)[1]["seconds"]
                )

            ours, ours_s = self.repeated(fetch)
            ref, ref_s = self.repeated(one)
        n = min(counts)
        what = f"1 file of {size // MiB} MiB, server capped at {rate / 1e6:g} MB/s per connection"
        self.row("8c", f"{what}: Locator.fetch ({n} ranges) vs one connection", f"{ours:.2f} s",
                 "<= 0.5x, >= 4 ranges", ours / ref <= 0.5 and n >= 4,
                 ref=f"one stream {ref:.2f} s", ratio=f"{ours / ref:.2f}x", ranges=counts,
                 ours_s=ours_s, one_s=ref_s)  # fmt: skip

    def s9_dead_primary(self) -> None:
        from cdnserver import CDN, refused_url

        g = self.group("small")
        files = dict(sorted(g["files"].items())[:40])
        reg, _, _ = write_registry(self.ws, "dead", files, {})
        with CDN(g["dir"], latency=0.05) as cdn:
            up, up_s, _ = self._cold_cli(cdn, reg, cdn.url, 8)
            down, down_s, _ = self._cold_cli(cdn, reg, refused_url(), 8, "--mirror", cdn.url)
        self.row("9", "40 files, --jobs 8: primary refuses connections, mirror live, vs primary up",
                 f"{down:.2f} s", "<= 1.5x", down / up <= 1.5, ref=f"primary up {up:.2f} s",
                 ratio=f"{down / up:.2f}x", down_s=down_s, up_s=up_s)  # fmt: skip

    # ------------------------------------------------------------------ tests (issue 12)

    def s10_offline(self) -> None:
        g = self.group("small")
        cfg = self.config(g["files"], "http://127.0.0.1:9/")
        cache = os.path.join(self.ws, "cache-offline")

        def once(_: str) -> float:
            res = self.child("offline", config=cfg, cache=cache)[1]
            return float(res["seconds"]) * 1000

        ms, samples = self.repeated(once)
        self.row("10", "100 fetch() calls of missing files with HATCH_DATAFETCH_OFFLINE=1, "
                 "in-process", f"{ms:.1f} ms", "<= 50 ms", ms <= 50, ours_ms=samples)  # fmt: skip

    def s11_prefetch(self) -> None:
        from cdnserver import CDN

        g = self.group("small")
        site = os.path.join(self.ws, "suite-site", "benchpkg")
        os.makedirs(site, exist_ok=True)
        with open(os.path.join(site, "__init__.py"), "w"):
            pass
        runtime = os.path.join(ROOT, "hatch_datafetch", "_runtime")
        shutil.copytree(runtime, site + "/_datafetch", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        suite = os.path.join(self.ws, "suite")
        os.makedirs(suite, exist_ok=True)
        with open(os.path.join(suite, "conftest.py"), "w") as f:
            f.write('pytest_plugins = ["benchpkg._datafetch"]\n')
        with open(os.path.join(suite, "test_data.py"), "w") as f:
            f.write("import pytest\n")
            for i, name in enumerate(sorted(g["files"])):
                f.write(f"\n@pytest.mark.datafetch({name!r})\ndef test_{i}(datafetch):\n")
                f.write(f"    assert datafetch({name!r}).stat().st_size\n")
        n = len(g["files"])
        with CDN(g["dir"], latency=0.05) as cdn:
            with open(os.path.join(site, "_datafetch_registry.json"), "w") as f:
                json.dump(self.config(g["files"], cdn.url), f)
            walls = {}
            for mode in ("skip", "prefetch"):

                def once(scratch: str, mode: str = mode) -> float:
                    cmd = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite]
                    env = {"PYTHONPATH": os.path.dirname(site), "XDG_CACHE_HOME": scratch}
                    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # not the test extra's plugins
                    wall, out = self.run([*cmd, f"--datafetch={mode}"], **env)
                    if f"{n} passed" not in out:
                        raise BenchError(f"the suite did not pass: {out[-500:]}")
                    return wall

                walls[mode] = self.repeated(once)
        (per, per_s), (pre, pre_s) = walls["skip"], walls["prefetch"]
        self.row("11", f"a {n}-test suite, each test needs one of {n} files (50 ms per request): "
                 "--datafetch=prefetch vs fetching in each test", f"{pre:.2f} s", ">= 10x faster",
                 per / pre >= 10, ref=f"per test {per:.2f} s", ratio=f"{per / pre:.1f}x faster",
                 prefetch_s=pre_s, per_test_s=per_s)  # fmt: skip

    # ------------------------------------------------------------------ shape (issue 16)

    def _site(self, name: str, files: dict) -> str:
        """A site dir holding ``benchpkg`` with this checkout's locator package (``new``) or
        the single-file locator of f470d39 (``old``, from git), whose cache is section 3's
        or a copy of it of the same name (:meth:`_shape_cache`)."""
        site = os.path.join(self.ws, f"site-{name}")
        pkg = os.path.join(site, "benchpkg")
        os.makedirs(pkg, exist_ok=True)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        if name == "new":
            shutil.copytree(os.path.join(ROOT, "hatch_datafetch", "_runtime"),
                            os.path.join(pkg, "_datafetch"),
                            ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        else:
            cmd = ["git", "-C", ROOT, "show", f"{SINGLE_FILE}:hatch_datafetch/_runtime.py"]
            r = subprocess.run(cmd, capture_output=True, timeout=60)
            if r.returncode != 0:
                raise BenchError(f"cannot read the single-file locator from git: {r.stderr!r}")
            with open(os.path.join(pkg, "_datafetch.py"), "wb") as f:
                f.write(r.stdout)
        config = self.config(files, "http://127.0.0.1:9/")  # nothing may be downloaded
        config["data_name"] = os.path.basename(self.cache)  # <XDG_CACHE_HOME>/<data_name>
        with open(os.path.join(pkg, "_datafetch_registry.json"), "w") as f:
            json.dump(config, f)
        return site

    def _shape_cache(self, name: str) -> str:
        """The cache of section 3 for ``new``; for ``old`` a copy of it whose files are hard
        links and whose memo is its own (the single-file locator keeps a table of its own in
        ``verified.json``; in one shared cache each locator would also read the entries the
        other one wrote, which no installation has)."""
        if name == "new":
            return self.cache
        copy = os.path.join(self.ws, "old-xdg", os.path.basename(self.cache))
        if not os.path.isdir(copy):
            shutil.copytree(self.cache, copy, copy_function=os.link,
                            ignore=shutil.ignore_patterns("verified.*"))  # fmt: skip
        return copy

    def _shape_run(self, site: str, cache: str, code: str, pyc: bool) -> dict:
        """``python -c code`` with ``site`` on the path and ``cache`` its cache; with
        ``pyc`` the locator's .pyc exist (as after pip install), without them none is read
        or written for it (as after uv pip install, whose default does not compile)."""
        env = {k: v for k, v in self.env.items() if k != "PYTHONPYCACHEPREFIX"}
        env.update(PYTHONPATH=site, XDG_CACHE_HOME=os.path.dirname(cache))
        if not pyc:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            for base, dirs, _ in os.walk(site):
                for d in [d for d in dirs if d == "__pycache__"]:
                    shutil.rmtree(os.path.join(base, d))
        r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120,
                           env=env, cwd=self.ws)  # fmt: skip
        if r.returncode != 0:
            raise BenchError(f"shape child failed:\n{r.stderr[-2000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def s12_shape(self) -> None:
        for key, jobs, latency in (("small", 16, 0.05), ("large", 2, 0.0)):
            if f"ours-{key}" not in self.done:
                print(f"  setup: caching the {key} files (untimed)", file=sys.stderr)
                self.ours_cold(key, latency, jobs, self.cache)
        files = {**self.group("small")["files"], **self.group("large")["files"]}
        sites = {name: self._site(name, files) for name in ("old", "new")}
        caches = {name: self._shape_cache(name) for name in sites}
        # untimed in each child: the user's package (imported before its locator) and
        # pathlib (the type fetch returns: loaded by any program that uses the path; its own
        # import cost is the info line 12d)
        pre = "import json, sys, time, pathlib, benchpkg\n"
        imp = (pre + "t = time.perf_counter()\nimport benchpkg._datafetch\n"
               "print(json.dumps({'ms': (time.perf_counter() - t) * 1e3}))")  # fmt: skip
        warm = (pre + "t = time.perf_counter()\n"
                "import benchpkg._datafetch as d\n"
                f"paths = [d.fetch(n) for n in {sorted(files)!r}]\n"
                "ms = (time.perf_counter() - t) * 1e3\n"
                "print(json.dumps({'ms': ms, 'mods': len(sys.modules)}))")  # fmt: skip
        for name in sites:  # untimed: .pyc written; the old one hashes its copy once
            self._shape_run(sites[name], caches[name], warm, pyc=True)
        n = max(7, self.repeat)

        def medians(code: str, pyc: bool) -> dict[str, tuple[float, list[float]]]:
            ms: dict[str, list[float]] = {"new": [], "old": []}
            for _ in range(n):  # one after the other: a drift of the machine hits both
                for name in ms:
                    ms[name].append(self._shape_run(sites[name], caches[name], code, pyc)["ms"])
            return {k: (statistics.median(v), [round(x, 3) for x in v]) for k, v in ms.items()}

        for sec, what, code, pyc, target in (
            ("12a", "import of the locator, with .pyc", imp, True, 1.5),
            ("12b", f"import + warm fetch of {len(files)} files, fresh process, with .pyc",
             warm, True, 6.0),
            ("12c", "the same with no .pyc of the locator (uv pip install's default)",
             warm, False, 25.0),
        ):  # fmt: skip
            both = medians(code, pyc)
            (new, new_s), (old, old_s) = both["new"], both["old"]
            self.row(sec, f"{what}: the package vs the single file of {SINGLE_FILE[:7]}",
                     f"{new:.2f} ms", f"<= {target:g} ms", new <= target,
                     ref=f"single file {old:.2f} ms", ratio=f"{new / old:.2f}x the single file",
                     new_ms=new_s, old_ms=old_s)  # fmt: skip
        code = ("import json, time\nt = time.perf_counter()\nimport pathlib\n"
                "print(json.dumps({'ms': (time.perf_counter() - t) * 1e3}))")  # fmt: skip
        ms = [self._shape_run(sites["new"], caches["new"], code, True)["ms"] for _ in range(n)]
        self.row("12d", "import pathlib alone (the type fetch returns; untimed in 12a-c)",
                 f"{statistics.median(ms):.2f} ms", "(info)", None, ms=ms)  # fmt: skip


# ---------------------------------------------------------------------------- helpers


def hash_file(path: str, copy_to: str | None = None) -> str:
    """sha256 in 1 MiB reads (the floor of section 2; also warms the page cache), optionally
    writing a copy as it goes (each copy_to is overwritten)."""
    h, buf = hashlib.sha256(), bytearray(MiB)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f, open(copy_to or os.devnull, "wb", buffering=0) as out:
        while n := f.readinto(buf):
            h.update(view[:n])
            if copy_to:
                out.write(view[:n])
    return f"sha256:{h.hexdigest()}"


def make_files(d: str, sizes: dict[str, int], remember: bool = False) -> dict:
    """Random files, written once (8 MiB pieces) and reused when present with the right size.
    Each is hashed (which warms the page cache), or with ``remember`` its hash is kept in a
    ``NAME.sha256`` beside it while the file's size and mtime stay (for files too large to
    hash on every run, when nothing of theirs is timed)."""
    os.makedirs(d, exist_ok=True)
    for name, size in sizes.items():
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.path.getsize(path) == size:
            continue
        if size >= MiB or name.endswith("000.bin"):
            print(f"  generating {path} ...", file=sys.stderr, flush=True)
        with open(path + ".tmp", "wb") as f:
            for off in range(0, size, 8 * MiB):
                f.write(os.urandom(min(8 * MiB, size - off)))
        os.replace(path + ".tmp", path)
    digest = remembered_hash if remember else hash_file
    files = {n: (digest(os.path.join(d, n)), s) for n, s in sizes.items()}
    return {"dir": d, "files": files}


def remembered_hash(path: str) -> str:
    """hash_file(path), kept in PATH.sha256 with the size and mtime it was taken at."""
    st = os.stat(path)
    stamp = f"{st.st_size} {st.st_mtime_ns}"
    try:
        with open(path + ".sha256") as f:
            kept, _, digest = f.read().strip().rpartition(" ")
        if kept == stamp and digest.startswith("sha256:"):
            return digest
    except OSError:
        pass
    digest = hash_file(path)
    with open(path + ".sha256", "w") as f:
        f.write(f"{stamp} {digest}\n")
    return digest


def write_registry(ws: str, stem: str, files: dict, config: dict) -> tuple[str, str, str]:
    """A pooch-format registry and a Locator config for FILES; plus an empty dir to use."""
    reg, cfg, d = (os.path.join(ws, f"{stem}{ext}") for ext in (".txt", ".json", "-dir"))
    with open(reg, "w") as f:
        f.writelines(f"{name} {h}\n" for name, (h, _) in sorted(files.items()))
    with open(cfg, "w") as f:
        json.dump(config, f)
    return reg, cfg, d


def check_tree(dest: str, files: dict) -> None:
    for name, (_, size) in files.items():
        path = os.path.join(dest, name)
        if not os.path.isfile(path) or os.path.getsize(path) != size:
            raise BenchError(f"the download left {path} missing or of the wrong size")


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def have_pooch() -> bool:
    import importlib.util

    return importlib.util.find_spec("pooch") is not None


def print_table(rows: list[dict]) -> None:
    cols = ["section", "what", "value", "reference", "ratio", "target", "result"]
    head = dict(zip(cols, ["#", "measurement", "ours", "reference", "ratio", "target", "result"]))
    rows = [head, *rows]
    width = {c: max(len(str(r[c])) for r in rows) for c in cols}
    for i, r in enumerate(rows):
        print("  ".join(str(r[c]).ljust(width[c]) for c in cols).rstrip())
        if i == 0:
            print("-" * (sum(width.values()) + 2 * len(cols) - 2))


def cpu_times() -> tuple[float, float, float] | None:
    """(wall, CPU seconds used by the whole machine, by us and our reaped children)."""
    import resource

    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    ours = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return time.monotonic(), busy, ours


def other_cpu_share(a, b) -> float | None:
    """Share of the machine's CPU capacity that processes other than ours used from a to b."""
    if a is None or b is None or b[0] <= a[0]:
        return None
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / ((b[0] - a[0]) * (os.cpu_count() or 1))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="50 files, 2 x 50 MiB, 200 MiB for RSS")
    p.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10,11,12", help="sections, e.g. 1,3")
    p.add_argument("--repeat", type=int, default=0, metavar="N",
                   help="runs per timed figure, median shown (default 3, --quick 1)")  # fmt: skip
    p.add_argument("--data", default="/tmp/hdf-bench", help="where test data is kept and reused")
    args = p.parse_args(argv)
    try:
        only = sorted({int(s) for s in args.only.split(",") if s.strip()})
    except ValueError:
        only = []
    if not only or not set(only) <= set(range(1, 13)):
        p.error(f"--only takes section numbers 1-12, got {args.only!r}")
    if args.repeat < 0:
        p.error("--repeat must be at least 1")
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on kill, as on Ctrl-C
    bench = Bench(args)
    cpu0 = cpu_times()
    sections = {1: ("many small files", bench.s1_small), 2: ("large files", bench.s2_large),
                3: ("warm fetch", bench.s3_warm), 4: ("peak RSS", bench.s4_rss),
                5: ("import cost", bench.s5_import), 6: ("connections", bench.s6_connections),
                7: ("proxies", bench.s7_proxy), 8: ("segments", bench.s8_segments),
                9: ("dead primary", bench.s9_dead_primary), 10: ("offline", bench.s10_offline),
                11: ("test suite", bench.s11_prefetch),
                12: ("package shape", bench.s12_shape)}  # fmt: skip
    try:
        print("[0] warm-up (untimed) ...", file=sys.stderr, flush=True)
        bench.warm_up()
        for s in only:
            print(f"[{s}] {sections[s][0]} ...", file=sys.stderr, flush=True)
            sections[s][1]()
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    finally:
        bench.close()  # servers are reaped here, so their CPU time counts as ours below
    others = other_cpu_share(cpu0, cpu_times())
    mode = "quick" if args.quick else "full"
    every = only == list(range(1, 13))
    scope = mode if every else f"{mode}, sections {','.join(map(str, only))}"
    print(f"\nhatch-datafetch benchmark ({scope}), Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, median of {bench.repeat} run(s) per timed figure\n")  # fmt: skip
    print_table(bench.rows)
    if others is not None:
        noisy = "  <- the machine was busy: figures are noisy" if others > 0.1 else ""
        print(f"\nCPU used by other processes and by kernel threads (disk writeback...) during "
              f"the run: {others:.0%} of the machine.{noisy}")  # fmt: skip
    print("Server: tests/support/cdnserver.py on 127.0.0.1, in its own process, sharing the CPUs. "
          "Page cache: warm (every file is read once before timing; dropping it needs root). "
          "Section 1 figures are wall times of whole processes (start-up and imports "
          "included); sections 2 and 3 are timed inside the child, after its imports.")  # fmt: skip
    # only a full run replaces the committed results the docs are generated from
    partial = args.quick or not every
    out = os.path.join(ROOT, "bench", "results", "partial.json" if partial else "latest.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    print(f"Written to {os.path.relpath(out, ROOT)}.")
    with open(out, "w") as f:
        info = {"mode": mode, "python": sys.version, "cpus": os.cpu_count(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "repeat": bench.repeat,
                "sections": only, "other_cpu_share": others, "rows": bench.rows}  # fmt: skip
        json.dump(info, f, indent=2)
    return 0 if all(r["result"] != "FAIL" for r in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
