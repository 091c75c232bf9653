"""Benchmark the locator on an archive entry (issue 11): a 200 MiB tar.gz of 1,000 members.

    python bench/archives.py [--repeat N] [--data DIR] [--members N] [--mib N]

Lines (median of --repeat runs, each in a fresh process and an empty cache):

* cold: ``Locator.fetch("vol.tar.gz")`` with an empty cache -- download (hashed as it
  streams), unpack into a temp dir with every member hashed against the registry's
  ``members``, rename into place, delete the archive. Reference: the same by hand in a shell,
  ``curl -o`` + ``tar -xzf`` + ``sha256sum`` of every member. Target: <= 1.5x the reference.
* warm: a fresh process whose cache holds the unpacked, verified tree: read the config,
  build the Locator, ``fetch("vol.tar.gz")`` (every member checked against the memo of
  verified files, none re-hashed), timed after the import. Target: <= 20 ms.

Data: ``--members`` random files (default 1,000) totalling ``--mib`` MiB (default 200),
made once into ``/tmp/hdf-bench-archives`` (``--data``) and packed with ``tar -czf``; random
bytes do not compress, so the tar.gz is about as large as its members. Network: only
127.0.0.1 (tests/support/cdnserver.py in a subprocess, stopped at the end). Prints a table, writes
``bench/results/archives.json``; exit 0 when both targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from children import run_child, seconds, start_cdn  # noqa: E402

MiB = 1 << 20
NAME = "vol.tar.gz"

COLD = """import json, sys, time
A = json.load(open(sys.argv[1]))
from hatch_datafetch._runtime import Locator
t = time.perf_counter()
path = Locator(A["config"], cache_dir=A["cache"], environ={}, progress=False).fetch(A["name"])
print(json.dumps({"seconds": time.perf_counter() - t, "path": str(path)}))
"""
WARM = """import json, sys, time
A = json.load(open(sys.argv[1]))
from hatch_datafetch._runtime import Locator
t = time.perf_counter()
with open(A["config_path"], "rb") as f:
    config = json.loads(f.read())
loc = Locator(config, cache_dir=A["cache"], environ={}, progress=False)
path = loc.fetch(A["name"])
member = loc.fetch(A["name"] + "/" + A["member"])
print(json.dumps({"seconds": time.perf_counter() - t, "path": str(path)}))
"""
BY_HAND = """set -e
curl -sS -o "$WORK/$NAME" "$URL$NAME"
mkdir "$WORK/tree"
tar -xzf "$WORK/$NAME" -C "$WORK/tree"
cd "$WORK/tree" && find . -type f -print0 | xargs -0 sha256sum > "$WORK/sums"
"""


def make_data(data: str, members: int, mib: int) -> tuple[str, dict[str, str]]:
    """The tar.gz (made once, reused while the sizes match) and its member hashes."""
    stamp = os.path.join(data, f"made-{members}-{mib}.json")
    archive = os.path.join(data, "cdn", NAME)
    if os.path.exists(stamp) and os.path.exists(archive):
        with open(stamp) as f:
            return archive, json.load(f)
    shutil.rmtree(data, ignore_errors=True)
    src = os.path.join(data, "src")
    os.makedirs(os.path.join(data, "cdn"))
    size = mib * MiB // members
    hashes = {}
    for i in range(members):
        name = f"sub{i % 10}/member-{i:04d}.bin"
        path = os.path.join(src, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        body = os.urandom(size)
        with open(path, "wb") as f:
            f.write(body)
        hashes[name] = "sha256:" + hashlib.sha256(body).hexdigest()
    subprocess.run(["tar", "-czf", archive, "-C", src, "."], check=True)
    shutil.rmtree(src)
    with open(stamp, "w") as f:
        json.dump(hashes, f)
    return archive, hashes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "hdf-bench-archives"))
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--mib", type=int, default=200)
    args = p.parse_args(argv)
    archive, members = make_data(args.data, args.members, args.mib)
    h = hashlib.sha256()
    with open(archive, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    digest = h.hexdigest()
    server, url = start_cdn(os.path.dirname(archive))
    work = tempfile.mkdtemp(prefix="run-", dir=args.data)
    entry = {"hash": f"sha256:{digest}", "size": os.path.getsize(archive), "url": None}
    entry.update(unpack="tar", members=members)
    config = {
        "format": 1,
        "base_url": url,
        "mirrors": [],
        "data_name": "bench",
        "files": {NAME: entry},
    }
    config_path = os.path.join(work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    cold, ref, warm = [], [], []
    try:
        for i in range(args.repeat):
            cache = os.path.join(work, f"cache{i}")
            got = run_child(COLD, {"config": config, "cache": cache, "name": NAME}, work)
            cold.append(float(got["seconds"]))  # type: ignore[arg-type]
            assert len(os.listdir(str(got["path"]))) == 10  # sub0..sub9
            hand = os.path.join(work, f"hand{i}")
            os.makedirs(hand)
            env = {**os.environ, "WORK": hand, "URL": url, "NAME": NAME}
            t = time.perf_counter()
            subprocess.run(["bash", "-c", BY_HAND], check=True, env=env)
            ref.append(time.perf_counter() - t)
            shutil.rmtree(hand)
            for _ in range(3):
                a = {"config_path": config_path, "cache": cache, "name": NAME}
                a["member"] = sorted(members)[0]
                warm.append(seconds(WARM, a, work))
            shutil.rmtree(cache)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    size = os.path.getsize(archive) / MiB
    rows = [
        {
            "line": f"cold fetch, {size:.0f} MiB tar.gz, {len(members)} members",
            "ours": statistics.median(cold),
            "reference": statistics.median(ref),
            "target": "<= 1.5x curl + tar -xzf + sha256sum",
        },
        {
            "line": "warm fetch, fresh process (config + Locator + fetch tree + member)",
            "ours": statistics.median(warm),
            "reference": None,
            "target": "<= 20 ms",
        },
    ]
    rows[0]["ratio"] = rows[0]["ours"] / rows[0]["reference"]
    rows[0]["pass"] = rows[0]["ratio"] <= 1.5
    rows[1]["pass"] = rows[1]["ours"] <= 0.020
    print(f"{'line':<70} {'ours':>9} {'reference':>10} {'ratio':>6}  target")
    for r in rows:
        ref_s = f"{r['reference']:.3f} s" if r["reference"] else "-"
        ours = f"{r['ours']:.3f} s" if r["ours"] >= 1 else f"{r['ours'] * 1000:.1f} ms"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "-"
        verdict = "PASS" if r["pass"] else "FAIL"
        print(f"{r['line']:<70} {ours:>9} {ref_s:>10} {ratio:>6}  {r['target']}  {verdict}")
    samples = {"cold": cold, "by_hand": ref, "warm": warm}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "archives.json"), "w") as f:
        json.dump({"rows": rows, "samples": samples, "cpus": os.cpu_count()}, f, indent=1)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
