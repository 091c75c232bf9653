"""Debian's ``docker-registry`` (the reference OCI registry, distribution 2.8) on 127.0.0.1.

Stdlib only, so ``bench/`` scripts can import it after ``sys.path.insert(0, "tests/support")``.

    with DockerRegistry(tmp_path / "registry") as reg:        # filesystem storage in there
        reg.oci("org/data")                                   # oci://127.0.0.1:PORT/org/data
        reg.access_log()                                      # [(method, path, status, agent)]

``htpasswd=(user, password)`` turns on its htpasswd basic auth (the file is written with
bcrypt, which ``pip install bcrypt`` provides). :data:`MISSING` says why the registry cannot
run here (None when it can): tests skip with that reason.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

BINARY = shutil.which("docker-registry")
MISSING = (
    None if BINARY else "docker-registry is not installed (Debian: apt-get install docker-registry)"
)
_ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class DockerRegistry:
    """One ``docker-registry serve`` process, its config and storage under ``root``."""

    def __init__(self, root: Path, htpasswd: tuple[str, str] | None = None) -> None:
        self.root, self.htpasswd = Path(root), htpasswd
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def oci(self, repository: str = "org/data") -> str:
        return f"oci://{self.host}/{repository}"

    def _config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root / 'storage'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: hatch-datafetch-tests",
        ]
        if self.htpasswd is not None:
            import bcrypt  # type: ignore[import-not-found, unused-ignore]

            user, password = self.htpasswd
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            (self.root / "htpasswd").write_text(f"{user}:{hashed}\n")
            lines += [
                "auth:",
                "  htpasswd:",
                "    realm: hatch-datafetch-tests",
                f"    path: {self.root / 'htpasswd'}",
            ]
        config = self.root / "config.yml"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> DockerRegistry:
        if BINARY is None:
            raise RuntimeError(MISSING)
        for _ in range(3):  # another process may take the free port first
            self.port = _free_port()
            config = self._config()
            log = (self.root / "registry.log").open("ab")
            self.proc = subprocess.Popen(
                [BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"docker-registry did not start; see {self.root / 'registry.log'}")

    def _wait_ready(self, seconds: float = 15.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2):
                    return True
            except urllib.error.HTTPError as e:  # 401 with htpasswd: up all the same
                e.close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def access_log(self) -> list[tuple[str, str, int, str]]:
        """``(method, path, status, user agent)`` of every request so far, in order."""
        text = (self.root / "registry.log").read_text(errors="replace")
        return [(m[1], m[2], int(m[3]), m[4]) for m in _ACCESS.finditer(text)]

    def __enter__(self) -> DockerRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
