"""What the smaller benchmark scripts (archives.py, doi.py, oci.py) share: a timed child
process and the test CDN in a process of its own.

A child is ``python -c CODE args.json``, run from the repository root; it prints one JSON
line (its timings, taken after its imports), which :func:`run_child` returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def run_child(code: str, args: dict[str, object], work: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter with ``args`` (written to ``work/args.json``)."""
    path = os.path.join(work, "args.json")
    with open(path, "w") as f:
        json.dump(args, f)
    r = subprocess.run([PY, "-c", code, path], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(f"child failed:\n{r.stderr}")
    result: dict[str, object] = json.loads(r.stdout)
    return result


def seconds(code: str, args: dict[str, object], work: str) -> float:
    """:func:`run_child`'s ``seconds``."""
    return float(run_child(code, args, work)["seconds"])  # type: ignore[arg-type]


def start_cdn(root: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``tests/support/cdnserver.py --root ROOT EXTRA...`` started; the process and its URL."""
    cmd = [PY, os.path.join(ROOT, "tests", "support", "cdnserver.py"), "--root", root, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip() if proc.stdout else ""
    if not line.startswith("URL "):
        proc.kill()
        raise SystemExit(f"the test CDN did not start: {line!r}")
    return proc, line.split()[1]
