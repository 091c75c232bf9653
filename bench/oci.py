"""Benchmark an OCI registry as the download source (issue 20): 200 small files from Debian's
docker-registry against the same files from the test CDN, same jobs.

    python bench/oci.py [--repeat N] [--jobs N] [--files N] [--latency S] [--data DIR]

Each server sits behind a relay (in this process) that holds every request ``--latency`` s
(50 ms) before passing it on, as a network round trip does; the relays are the same for
every side. Lines (median of --repeat runs, each a fresh process with an empty cache, the
sides interleaved):

* oci: ``Locator.fetch_all(jobs=16)`` with the base URL ``oci://127.0.0.1:PORT/bench/data``
  (each file the blob of its sha256, ``GET /v2/bench/data/blobs/sha256:HEX``) from a
  ``docker-registry serve`` with filesystem storage, filled beforehand by ``hatch-datafetch
  push`` (not timed). Reference: the same ``fetch_all`` with the base URL of the test CDN
  (tests/support/cdnserver.py) serving the same files by NAME. Target: <= 1.3x.
* oci, token flow (information): the test CDN serving the blobs at their ``/v2/`` paths
  behind the anonymous token flow (a 401, a token from its realm, then every blob with it),
  which costs a round trip or two more per worker.
* without the relays (information): the servers' own cost per request on this machine;
  docker-registry's Go handler takes a few ms per blob here, the Python CDN well under one.

Data: ``--files`` random files of 10-100 KiB (default 200), made once into
``/tmp/hdf-bench-oci`` (``--data``). Network: only 127.0.0.1; the servers are stopped at
the end. Prints a table, writes ``bench/results/oci.json``; exit 0 when the target is met,
1 otherwise, 2 when docker-registry is not installed.
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
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))  # cdnserver.py, ociregistry.py
PY = sys.executable
from children import seconds as child_seconds  # noqa: E402
from children import start_cdn  # noqa: E402

REPO = "bench/data"

FETCH_ALL = """import json, sys, time
A = json.load(open(sys.argv[1]))
from hatch_datafetch._runtime import Locator
t = time.perf_counter()
loc = Locator(A["config"], cache_dir=A["cache"], environ={}, progress=False)
paths = loc.fetch_all(jobs=A["jobs"])
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(paths)}))
"""


def make_data(data: str, count: int) -> dict[str, str]:
    """``count`` files under DATA/files (made once) and, hard-linked, at their blob paths
    under DATA/blobs/v2/bench/data/blobs/ (the test CDN's OCI side); NAME -> sha256."""
    stamp = os.path.join(data, f"made-{count}.json")
    if os.path.exists(stamp):
        with open(stamp) as f:
            made: dict[str, str] = json.load(f)
            return made
    shutil.rmtree(data, ignore_errors=True)
    rng = random.Random(20)
    blobs = os.path.join(data, "blobs", "v2", *REPO.split("/"), "blobs")
    os.makedirs(blobs)
    hashes = {}
    for i in range(count):
        name = f"set{i % 8}/file-{i:03d}.bin"
        path = os.path.join(data, "files", *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        body = os.urandom(rng.randint(10 << 10, 100 << 10))
        with open(path, "wb") as f:
            f.write(body)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        os.link(path, os.path.join(blobs, digest))
        hashes[name] = digest
    with open(stamp, "w") as f:
        json.dump(hashes, f)
    return hashes


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class Relay:
    """127.0.0.1:PORT -> 127.0.0.1:``target``, holding each piece the client sends (each
    request) ``delay`` s before passing it on: a round trip of latency per request."""

    def __init__(self, target: int, delay: float) -> None:
        import socket
        import threading

        self.target, self.delay = target, delay
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: object, dst: object, hold: bool) -> None:
        import socket

        assert isinstance(src, socket.socket) and isinstance(dst, socket.socket)
        try:
            while True:
                data = src.recv(1 << 20)
                if not data:
                    break
                if hold:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def main(argv: list[str] | None = None) -> int:
    from ociregistry import MISSING, DockerRegistry

    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--jobs", type=int, default=16)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "hdf-bench-oci"))
    p.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = p.parse_args(argv)
    if MISSING is not None:
        print(f"skipped: {MISSING}", file=sys.stderr)
        return 2
    hashes = make_data(args.data, args.files)
    work = tempfile.mkdtemp(prefix="run-", dir=args.data)
    files = {n: {"hash": h, "size": None, "url": None} for n, h in hashes.items()}
    for name in files:
        files[name]["size"] = os.path.getsize(os.path.join(args.data, "files", name))
    registry = os.path.join(work, "registry.txt")
    with open(registry, "w") as f:
        f.writelines(f"{n} {h}\n" for n, h in sorted(hashes.items()))
    servers: list[subprocess.Popen[str]] = []
    relays: list[Relay] = []
    sides = ("oci", "cdn", "token", "oci-raw", "cdn-raw")
    samples: dict[str, list[float]] = {side: [] for side in (*sides, "registry-cpu")}
    try:
        with DockerRegistry(os.path.join(work, "registry")) as reg:  # type: ignore[arg-type]
            push = [PY, "-m", "hatch_datafetch", "push", f"{reg.oci(REPO)}:bench", "--registry",
                    registry, "--from", os.path.join(args.data, "files"), "-q"]  # fmt: skip
            # (its verified-file memo in the workspace, not in the user's build cache)
            env = dict(os.environ, HATCH_DATAFETCH_CACHE=os.path.join(work, "build-cache"),
                       XDG_CACHE_HOME=os.path.join(work, "xdg"))  # fmt: skip
            subprocess.run(push, check=True, cwd=ROOT, env=env)
            cdn, cdn_url = start_cdn(os.path.join(args.data, "files"))
            token, token_url = start_cdn(os.path.join(args.data, "blobs"), "--bearer", "bench",
                                         "--token-realm")  # fmt: skip
            servers += [cdn, token]
            ports = {"oci": reg.port, "cdn": int(cdn_url.split(":")[2].strip("/")),
                     "token": int(token_url.split(":")[2].strip("/"))}  # fmt: skip
            relays += [Relay(ports[k], args.latency) for k in ("oci", "cdn", "token")]
            via = dict(zip(("oci", "cdn", "token"), (r.port for r in relays)))
            bases = {
                "oci": f"oci://127.0.0.1:{via['oci']}/{REPO}",
                "cdn": f"http://127.0.0.1:{via['cdn']}/",
                "token": f"oci://127.0.0.1:{via['token']}/{REPO}",
                "oci-raw": reg.oci(REPO),
                "cdn-raw": cdn_url,
            }
            for i in range(-1, args.repeat):  # run -1: an untimed warm-up of each side
                for side in sides if i % 2 else sides[::-1]:
                    config = {"format": 1, "base_url": bases[side], "mirrors": [],
                              "data_name": "bench", "files": files}  # fmt: skip
                    cache = os.path.join(work, f"cache-{side}-{i}")
                    a = {"config": config, "cache": cache, "jobs": args.jobs}
                    cpu = cpu_seconds(reg.proc.pid if reg.proc else 0)
                    seconds = child_seconds(FETCH_ALL, a, work)
                    if i >= 0:
                        samples[side].append(seconds)
                        if side.startswith("oci"):
                            used = cpu_seconds(reg.proc.pid if reg.proc else 0) - cpu
                            samples["registry-cpu"].append(used / len(files))
                    shutil.rmtree(cache)
    finally:
        for relay in relays:
            relay.close()
        for server in servers:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    med = {side: statistics.median(samples[side]) for side in sides}
    n, ms = len(hashes), f"{args.latency * 1000:.0f} ms"
    rows = [
        {
            "line": f"{n} files of 10-100 KiB, {ms}/request, jobs={args.jobs}: docker-registry",
            "ours": med["oci"],
            "reference": med["cdn"],
            "target": "<= 1.3x the test CDN, same latency",
        },
        {
            "line": "the same, the test CDN behind the OCI token flow",
            "ours": med["token"],
            "reference": med["cdn"],
            "target": "(information)",
        },
        {
            "line": f"{n} files, no added latency: docker-registry vs the test CDN",
            "ours": med["oci-raw"],
            "reference": med["cdn-raw"],
            "target": "(information: the servers' own cost)",
        },
    ]
    for r in rows:
        r["ratio"] = r["ours"] / r["reference"]
        r["pass"] = r["target"].startswith("(") or r["ratio"] <= 1.3
    cpu_ms = statistics.median(samples["registry-cpu"]) * 1000
    print(f"docker-registry's own CPU per blob GET: {cpu_ms:.1f} ms (/proc/PID/stat)")
    print(f"{'line':<66} {'ours':>8} {'reference':>10} {'ratio':>6}  target")
    for r in rows:
        verdict = "" if r["target"].startswith("(") else ("PASS" if r["pass"] else "FAIL")
        print(
            f"{r['line']:<66} {r['ours']:>6.3f} s {r['reference']:>8.3f} s {r['ratio']:>6.2f}"
            f"  {r['target']}  {verdict}".rstrip()
        )
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "oci.json"), "w") as f:
        out = {"rows": rows, "samples": samples, "cpus": os.cpu_count(), "at": time.time()}
        json.dump({**out, "registry_cpu_ms_per_get": cpu_ms}, f, indent=1)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
