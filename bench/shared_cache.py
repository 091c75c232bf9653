"""N processes sharing one cold cache (SPEC §14, issue 20): each file is downloaded once.

    python bench/shared_cache.py [--procs 16] [--quick] [--repeat N] [--data DIR]

The registry: 200 files of 10-100 KiB and 2 files of 32 MiB (``--quick``: 50 files and
2 x 8 MiB), served by the test CDN (tests/support/cdnserver.py, in this process, so that its
request log counts what was downloaded) with 50 ms per request and each connection capped
at 50 MB/s. Timed as wall time from the start of the first child to the end of the last:

* one process: ``Locator.fetch_all(jobs=8)`` into an empty cache;
* ``--procs`` processes started together, each ``fetch_all(jobs=8)`` of the same registry,
  all with ``HATCH_DATAFETCH_CACHE_DIR`` naming one empty directory: the set-up of a group
  cache on a cluster. Each must end with every file verified; the server must have sent
  each file once (the others waited on its lock, then used the verified copy): the bytes it
  sent of each file are the file's size (a large file comes in parallel byte ranges, which
  are more GETs, plus the 1-byte probe of its first range);
* for reference, the same processes each with a cache of its own (each downloads all).

Prints a table like bench/run.py (figure, reference, ratio, target, PASS/FAIL) and writes it
to bench/results/shared_cache.json. Exit 0 when every line passes, 1 on a FAIL, 2 on an
error. Network: 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))  # cdnserver.py
sys.path.insert(0, HERE)  # run.py's helpers

from cdnserver import CDN  # noqa: E402
from run import BenchError, MiB, make_files, print_table  # noqa: E402

PY = sys.executable
CHILD = """import json, os, sys, time
from hatch_datafetch._runtime import Locator
with open(sys.argv[1]) as f:
    config = json.load(f)
loc = Locator(config, progress=False)  # the cache: $HATCH_DATAFETCH_CACHE_DIR/bench-data
paths = loc.fetch_all(jobs=8)
print(json.dumps({"cache": loc.cache_root, "files": len(paths)}))
"""


def config(files: dict, url: str) -> dict:
    return {
        "format": 1, "base_url": url, "mirrors": [], "data_name": "bench-data",
        "package": "benchpkg", "env_var": "BENCH_DATA_DIR", "url_env_var": "BENCH_DATA_URL",
        "files": {n: {"hash": h, "size": s, "url": None} for n, (h, s) in files.items()},
    }  # fmt: skip


def run_together(
    n: int, cfg_path: str, cache_dir: str, env: dict[str, str], own: bool = False
) -> float:
    """Start n children at once on one cache dir (``own``: each on a cache of its own,
    ``cache_dir``/0, /1...); wall seconds until the last has ended."""
    dirs = [os.path.join(cache_dir, str(i)) if own else cache_dir for i in range(n)]
    t = time.perf_counter()
    procs = [
        subprocess.Popen([PY, "-c", CHILD, cfg_path], env={**env, "HATCH_DATAFETCH_CACHE_DIR": d},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for d in dirs
    ]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    wall = time.perf_counter() - t
    for p, (out, err), d in zip(procs, outs, dirs):
        if p.returncode != 0:
            raise BenchError(f"a child exited {p.returncode}:\n{err[-3000:]}")
        said = [ln for ln in err.splitlines() if not ln.startswith("waiting for ")]
        if said:
            raise BenchError("a child said:\n" + "\n".join(said[-20:]))
        got = json.loads(out.strip().splitlines()[-1])
        if got["cache"] != os.path.join(d, "bench-data"):
            raise BenchError(f"a child used the cache {got['cache']}, not {d}")
    return wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--procs", type=int, default=16, help="processes sharing the cache (16)")
    p.add_argument("--quick", action="store_true", help="50 small files and 2 x 8 MiB")
    p.add_argument("--repeat", type=int, default=0, metavar="N",
                   help="runs per timed figure, median shown (default 3, --quick 1)")  # fmt: skip
    p.add_argument("--data", default="/tmp/hdf-bench", help="where test data is kept and reused")
    args = p.parse_args(argv)
    if args.procs < 2 or args.repeat < 0:
        p.error("--procs must be at least 2 and --repeat at least 1")
    repeat = args.repeat or (1 if args.quick else 3)
    n_small, large = (50, 8 * MiB) if args.quick else (200, 32 * MiB)
    import random

    rnd = random.Random(20240601)
    sizes = {f"s{i:03d}.bin": rnd.randint(10240, 102400) for i in range(n_small)}
    sizes.update({f"big{i}.bin": large for i in range(2)})
    os.makedirs(args.data, exist_ok=True)
    ws = tempfile.mkdtemp(prefix="shared-run-", dir=args.data)  # removed at the end
    rows: list[dict] = []
    try:
        group = make_files(os.path.join(args.data, f"shared-{n_small}-{large // MiB}M"), sizes)
        files = group["files"]
        env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", PYTHONPATH=ROOT)
        for var in [v for v in env if v.startswith("HATCH_DATAFETCH_")]:
            env.pop(var)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(args.data, "pycache")  # .pyc, as installed
        with CDN(group["dir"], latency=0.05, rate=50_000_000) as cdn:
            cfg_path = os.path.join(ws, "config.json")
            with open(cfg_path, "w") as f:
                json.dump(config(files, cdn.url), f)
            run_together(1, cfg_path, os.path.join(ws, "warm-up"), env)  # .pyc files, untimed
            one: list[float] = []
            many: list[float] = []
            times: list[dict[str, float]] = []  # bytes sent per file / its size, per run
            gets: list[int] = []
            apart: list[float] = []  # the same processes, each with a cache of its own
            apart_bytes = 0
            for i in range(repeat):
                print(f"[{i + 1}/{repeat}] 1 process, then {args.procs} ...", file=sys.stderr)
                cdn.reset_counters()
                one.append(run_together(1, cfg_path, os.path.join(ws, f"one{i}"), env))
                cdn.reset_counters()
                many.append(run_together(args.procs, cfg_path, os.path.join(ws, f"many{i}"), env))
                sent: dict[str, int] = {}
                for r in list(cdn.requests):
                    if r.method == "GET":
                        sent[r.path] = sent.get(r.path, 0) + r.bytes_sent
                times.append({n: sent.get(n, 0) / size for n, (_, size) in files.items()})
                gets.append(len(cdn.requests))
                cdn.reset_counters()
                apart.append(
                    run_together(args.procs, cfg_path, os.path.join(ws, f"apart{i}"), env, True)
                )
                apart_bytes = sum(r.bytes_sent for r in list(cdn.requests))
                for d in (f"one{i}", f"many{i}", f"apart{i}"):
                    shutil.rmtree(os.path.join(ws, d), ignore_errors=True)
        total = sum(s for _, s in files.values())
        what = f"{len(files)} files ({total / MiB:.0f} MiB), 50 ms/request"
        worst = max(max(t.values()) for t in times)
        least = min(min(t.values()) for t in times)
        rows.append(dict(
            section="S1",
            what=f"{what}: bytes sent per file / its size, {args.procs} processes, one cold cache",
            value=f"max {worst:.4f}x", reference=f"{max(gets)} GETs for {len(files)} files",
            ratio="-", target="once (1x, < 1.01)",
            result="PASS" if least >= 1 and worst < 1.01 else "FAIL", raw={"times": times},
        ))  # fmt: skip
        m1, mn, ma = statistics.median(one), statistics.median(many), statistics.median(apart)
        rows.append(dict(
            section="S2", what=f"{what}: wall, {args.procs} processes sharing one cold cache",
            value=f"{mn:.2f} s", reference=f"1 process {m1:.2f} s", ratio=f"{mn / m1:.2f}x",
            target="(info)", result="-", raw={"one_s": one, "many_s": many},
        ))  # fmt: skip
        rows.append(dict(
            section="S3", what=f"{what}: wall, {args.procs} processes, each its own cold cache",
            value=f"{ma:.2f} s", reference=f"shared {mn:.2f} s", ratio=f"{mn / ma:.2f}x",
            target="(info)", result="-",
            raw={"apart_s": apart, "bytes_sent": apart_bytes, "bytes": total},
        ))  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: temporary files removed", file=sys.stderr)
        return 130
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        print(f"ERROR {e}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(ws, ignore_errors=True)
    mode = "quick" if args.quick else "full"
    print(f"\nhatch-datafetch shared cache ({mode}), Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, median of {repeat} run(s)\n")  # fmt: skip
    print_table(rows)
    print("Wall times of whole processes (start-up and imports included), from the first start "
          "to the last exit; the server runs in this process and shares the CPUs.")  # fmt: skip
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "shared_cache.json"), "w") as f:
        json.dump({"procs": args.procs, "repeat": repeat, "rows": rows}, f, indent=2)
    return 0 if all(r["result"] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
