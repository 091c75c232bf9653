"""Installers other than pip and uv -- pdm, poetry, Hatch environments -- run for real, offline.

They build in isolated environments that get ``hatchling`` and ``hatch-datafetch`` from an
index, so :func:`wheelhouse` makes one: this project's wheel (built from the checkout) and the
build backend's wheels, re-packed from the distributions installed in the test environment
(pure Python, so the files of an installed distribution are the wheel's). :class:`Index`
serves it as a PEP 503 "simple" index on 127.0.0.1, which every installer can use; nothing
comes from the internet. :func:`installer_env` points pip, uv, pdm, poetry and hatch at it and
keeps their caches and configuration in the test's directory.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent


def backend_closure() -> list[str]:
    """What an isolated build of a Hatch project with this hook installs: hatchling, this
    tool's dependencies and editables (editable builds), with everything they require here."""
    return closure(*(distribution("hatch-datafetch").requires or []), "hatchling", "editables")


def closure(*requirements: str) -> list[str]:
    """The names of the installed distributions *requirements* need here, theirs included."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [list(requirements)]
    seen: set[str] = set()
    while todo:
        for text in todo.pop():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(req.name)
            if name not in seen:
                seen.add(name)
                todo.append(distribution(name).requires or [])
    return sorted(seen)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def repack(name: str, dest: Path) -> Path:
    """The installed pure-Python distribution *name* as a wheel in *dest*: its files but the
    scripts (regenerated from entry_points.txt at install) and the installer's own records."""
    dist = distribution(name)
    files = [f for f in dist.files or () if f.parts[0] != ".." and "__pycache__" not in f.parts]
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel_meta = Path(str(dist.locate_file(f"{info}/WHEEL"))).read_text()
    tags = [ln.split(":", 1)[1].strip().split("-") for ln in wheel_meta.splitlines()
            if ln.startswith("Tag:")]  # fmt: skip
    # every Tag line, as a compressed tag set: py2-none-any + py3-none-any is py2.py3-none-any
    # (the first alone would name a wheel that Python 3's pip never installs: six, dateutil)
    tag = "-".join(".".join(dict.fromkeys(part)) for part in zip(*tags))
    skip = {f"{info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    stem = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    path = dest / f"{stem}-{dist.version}-{tag}.whl"
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=str):
            arcname = f.as_posix()
            if arcname in skip:
                continue
            data = Path(str(dist.locate_file(f))).read_bytes()
            zf.writestr(arcname, data)
            rows.append(f"{arcname},{_record_hash(data)},{len(data)}")
        rows.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(rows) + "\n")
    return path


def wheelhouse(dest: Path, *extra: str) -> Path:
    """*dest* with hatch-datafetch's wheel (built from this checkout), the backend's, and
    those of the *extra* requirements (installed here)."""
    dest.mkdir(parents=True, exist_ok=True)
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation"]
    subprocess.run(
        [*build, "--skip-dependency-check", "--outdir", str(dest), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in sorted(set(backend_closure()) | set(closure(*extra) if extra else ())):
        repack(name, dest)
    return dest


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Index:
    """The wheels of a directory as a PEP 503 index on 127.0.0.1: ``url`` is its
    ``.../simple/`` (started and stopped as a context manager)."""

    def __init__(self, wheels: Path, root: Path) -> None:
        self.root = root
        files = root / "files"
        files.mkdir(parents=True, exist_ok=True)
        projects: dict[str, list[Path]] = {}
        for whl in sorted(wheels.glob("*.whl")):
            shutil.copy2(whl, files / whl.name)
            project = re.sub(r"[-_.]+", "-", whl.name.split("-")[0]).lower()
            projects.setdefault(project, []).append(files / whl.name)
        for project, paths in projects.items():
            links = "".join(
                f'<a href="../../files/{html.escape(p.name)}#sha256='
                f'{hashlib.sha256(p.read_bytes()).hexdigest()}">{html.escape(p.name)}</a>\n'
                for p in paths
            )
            page = root / "simple" / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
        listing = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
        (root / "simple" / "index.html").write_text(f"<html><body>\n{listing}</body></html>\n")
        handler = partial(_Quiet, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Index:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serve_wheelhouse(tmp: Path, *extra: str) -> Iterator[Index]:
    with Index(wheelhouse(tmp / "wheels", *extra), tmp / "index") as index:
        yield index


def installer_env(home: Path, index: str) -> dict[str, str]:
    """The environment for pip, uv, pdm, poetry and hatch: the local index only, caches and
    configuration under *home*, no configuration of this machine."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PDM_", "POETRY_", "HATCH_", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=index,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_DEFAULT_INDEX=index,
        PDM_PYPI_URL=index,
        PDM_CHECK_UPDATE="false",
        PDM_HOME=str(home / "pdm"),
        POETRY_CONFIG_DIR=str(home / "poetry-config"),
        POETRY_CACHE_DIR=str(home / "poetry-cache"),
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        HATCH_DATA_DIR=str(home / "hatch-data"),
        HATCH_CACHE_DIR=str(home / "hatch-cache"),
        SOURCE_DATE_EPOCH="1700000000",
    )
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
