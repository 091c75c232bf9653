"""Benchmark a ``doi:`` registry (issue 19): 50 files of one record, cold, ours against pooch.

    python bench/doi.py [--repeat N] [--files 50] [--latency 0.05] [--connect 0.05]
                        [--repository zenodo|dataverse]

The record is served by the repository stand-in of the tests (``tests/support/repositories.py``,
in this process, on 127.0.0.1): doi.org's redirect, the repository's API and the files, with
``--latency`` seconds before every answer and ``--connect`` seconds on every new connection (a
TCP + TLS handshake). Lines (median of --repeat runs, each client in a fresh process with an
empty cache; the figure is timed inside the process, after its imports):

* build: ``hatch_datafetch.resolved.resolve_config`` of the registry, what a build does once
  (then cached): the DOI resolver and one API call for the whole record;
* ours: ``Locator.fetch_all(jobs=8)`` of the runtime JSON that build wrote (concrete URLs):
  the files only, on kept-alive connections, no API call;
* pooch: ``pooch.create(base_url="doi:DOI/", registry=...)``, then ``fetch`` of each file, its
  normal use: for every file the DOI resolver, the landing page, the repository's API, then
  the file, each on a new connection. pooch reaches doi.org and Zenodo at fixed addresses, so
  its ``doi_to_url`` is given the stand-in's resolver (and, for Zenodo, its record API and host
  name); the rest of its code runs unchanged.

Also counted (the stand-in's log): requests, API requests and new connections per run. Target:
ours >= 10x faster than pooch. Prints a table, writes ``bench/results/doi.json``; exit 0 when the
target is met, 1 otherwise, 2 without pooch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))  # repositories.py, cdnserver.py
PY = sys.executable
from children import seconds  # noqa: E402

OURS = """import json, sys, time
A = json.load(open(sys.argv[1]))
from hatch_datafetch._runtime import Locator
t = time.perf_counter()
Locator(A["config"], cache_dir=A["cache"], environ={}, progress=False).fetch_all(jobs=8)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""
POOCH = """import json, sys, time
A = json.load(open(sys.argv[1]))
import pooch, requests
from pooch import downloaders
pooch.get_logger().setLevel("WARNING")

def doi_to_url(doi, **kwargs):  # pooch's own, with doi.org's address replaced
    response = requests.get(A["resolver"] + doi, **kwargs)
    url = response.url
    if 400 <= response.status_code < 600:
        response.raise_for_status()
    return url

downloaders.doi_to_url = doi_to_url
if A["repository"] == "zenodo":  # its record API and host name, not zenodo.org's
    zenodo = downloaders.ZenodoRepository
    zenodo.base_api_url = A["server"] + "api/records"
    netloc = A["server"].split("/")[2]

    def initialize(cls, doi, archive_url, **kwargs):
        if downloaders.parse_url(archive_url)["netloc"] != netloc:
            return None
        return cls(doi, archive_url, **kwargs)

    zenodo.initialize = classmethod(initialize)
t = time.perf_counter()
p = pooch.create(path=A["path"], base_url="doi:" + A["doi"] + "/", registry=A["registry"])
for name in A["registry"]:
    p.fetch(name)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def have_pooch() -> bool:
    r = subprocess.run([PY, "-c", "import pooch, requests"], capture_output=True)
    return r.returncode == 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--files", type=int, default=50)
    p.add_argument("--latency", type=float, default=0.05, help="seconds before every answer")
    p.add_argument("--connect", type=float, default=0.05, help="seconds per new connection")
    p.add_argument("--repository", choices=["zenodo", "dataverse"], default="zenodo")
    args = p.parse_args(argv)
    if not have_pooch():
        print("pooch (and requests) are needed for the comparison: pip install pooch")
        return 2
    from repositories import Repositories

    from hatch_datafetch.resolved import resolve_config

    rng = random.Random(19)
    files = {f"part-{i:03d}.bin": rng.randbytes(rng.randint(10 << 10, 100 << 10))
             for i in range(args.files)}  # fmt: skip
    registry = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    work = tempfile.mkdtemp(prefix="hdf-bench-doi-")
    rows: dict[str, dict[str, list[float]]] = {}

    def measure(line: str, server: Repositories, run: object) -> None:
        server.reset_counters()
        t = run() if callable(run) else 0.0
        counts = rows.setdefault(line, {"seconds": [], "requests": [], "api": [], "conns": []})
        counts["seconds"].append(t)
        counts["requests"].append(len(server.requests))
        counts["api"].append(server.api_requests())
        counts["conns"].append(server.connections)

    try:
        with Repositories(latency=args.latency) as server:
            server.connect_delay = args.connect
            if args.repository == "zenodo":
                doi = server.zenodo(190019, files)
            else:
                doi = server.dataverse("10.70122/FK2/BENCH19", files)
            config = {
                "format": 1,
                "base_url": f"doi:{doi}/",
                "data_name": "bench-doi",
                "files": {n: {"hash": f"sha256:{h}"} for n, h in registry.items()},
            }
            environ = {**os.environ, **server.environ}
            resolved: dict[str, object] = {}
            for i in range(args.repeat):
                cache = os.path.join(work, f"build-cache-{i}")
                os.environ["HATCH_DATAFETCH_CACHE"] = cache

                def build() -> float:
                    t = time.perf_counter()
                    resolved.update(resolve_config(config, root=None, environ=environ))
                    return time.perf_counter() - t

                measure("build: resolve the DOI once (then cached)", server, build)
                a = {"config": resolved, "cache": os.path.join(work, f"ours-{i}")}
                measure(
                    "ours: Locator.fetch_all(jobs=8), cold",
                    server,
                    lambda a=a: seconds(OURS, a, work),
                )
                a = {
                    "path": os.path.join(work, f"pooch-{i}"),
                    "doi": doi,
                    "registry": registry,
                    "resolver": server.environ["HATCH_DATAFETCH_DOI_RESOLVER"],
                    "server": server.url,
                    "repository": args.repository,
                }
                measure(
                    "pooch: create, then fetch of each file, cold",
                    server,
                    lambda a=a: seconds(POOCH, a, work),
                )
                for d in ("ours", "pooch"):
                    shutil.rmtree(os.path.join(work, f"{d}-{i}"), ignore_errors=True)
    finally:
        os.environ.pop("HATCH_DATAFETCH_CACHE", None)
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"doi: registry of {args.files} files ({args.repository} stand-in, "
        f"{args.latency * 1000:.0f} ms per request, {args.connect * 1000:.0f} ms per new "
        f"connection), median of {args.repeat}"
    )
    print(f"{'line':<50} {'seconds':>8} {'requests':>9} {'API':>5} {'connections':>12}")
    table = []
    for line, c in rows.items():
        med = {k: statistics.median(v) for k, v in c.items()}
        table.append({"line": line, **med, "samples": c})
        print(
            f"{line:<50} {med['seconds']:>8.3f} {med['requests']:>9.0f} {med['api']:>5.0f} "
            f"{med['conns']:>12.0f}"
        )
    ours = table[1]["seconds"]
    pooch_s = table[2]["seconds"]
    ratio = pooch_s / ours
    ok = ratio >= 10
    print(f"pooch / ours: {ratio:.1f}x  (target >= 10x)  {'PASS' if ok else 'FAIL'}")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "doi.json"), "w") as f:
        json.dump({"rows": table, "ratio": ratio, "args": vars(args)}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
