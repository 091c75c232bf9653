"""Object stores through fsspec (SPEC §14, issue 20), against moto's S3 server on 127.0.0.1:
a registry of ``s3://`` files, resume after ``kill -9``, and a clear error without s3fs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.runtime import install, make_config, random_bytes, run_module, sha

from hatch_datafetch._runtime.objstore import unavailable
from hatch_datafetch.registry import check_url

pytest.importorskip("s3fs", reason="the test extra installs s3fs (fsspec's S3)")
pytest.importorskip("moto.server", reason="the test extra installs moto[server]")
boto3 = pytest.importorskip("boto3")

FILES = {
    "images/camera.png": random_bytes(300_000, seed=1),
    "text/with space.txt": b"hello world\n",
    "big/volume.bin": random_bytes(3_000_000, seed=2),
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class S3:
    """moto's S3 server, started on 127.0.0.1 for this module."""

    def __init__(self, endpoint: str, proc: subprocess.Popen[bytes]) -> None:
        self.endpoint, self.proc = endpoint, proc
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def env(self, base: dict[str, str], credentials: bool = True) -> dict[str, str]:
        """A child's environment: the endpoint (botocore reads AWS_ENDPOINT_URL), a region,
        the test credentials unless not ``credentials``, no proxy for 127.0.0.1, and no
        instance metadata lookup (without credentials botocore asks 169.254.169.254)."""
        env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "FSSPEC_"))}
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_DEFAULT_REGION="us-east-1",
                   NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)  # fmt: skip
        if credentials:
            env.update(CREDENTIALS)
        return env

    def bucket(self, name: str, files: dict[str, bytes], prefix: str = "", **put: Any) -> str:
        """A bucket holding ``files`` under ``prefix``; its base URL."""
        self.client.create_bucket(Bucket=name)
        for key, data in files.items():
            self.client.put_object(Bucket=name, Key=prefix + key, Body=data, **put)
        return f"s3://{name}/{prefix}"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto's S3 server did not start on {endpoint}")
            time.sleep(0.1)
    try:
        yield S3(endpoint, proc)
    finally:
        proc.terminate()
        proc.wait(10)


def _bucket_name(tmp_path: Path) -> str:
    return "b-" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:20]


def test_the_registry_takes_object_store_urls() -> None:
    for url in ("s3://bucket/data/", "gs://bucket/x.bin", "az://container/p/", "hf://datasets/a/b"):
        check_url(url)
    with pytest.raises(ValueError, match=r"unsupported scheme 'htps'.*s3://, gs://, az://"):
        check_url("htps://example.org/data/")


def test_fetch_a_registry_of_s3_files(s3: S3, tmp_path: Path) -> None:
    base = s3.bucket(_bucket_name(tmp_path), FILES, prefix="v1/")
    own = s3.bucket(_bucket_name(tmp_path) + "-own", {"elsewhere.csv": b"a,b\n1,2\n"})
    data = tmp_path / "data"
    for name, content in FILES.items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(content)
    reg = tmp_path / "reg.toml"
    hdf = [sys.executable, "-m", "hatch_datafetch"]
    r = subprocess.run([*hdf, "make-registry", str(data), "--base-url", base, "-o", str(reg)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    csv = b"a,b\n1,2\n"
    text = reg.read_text() + (
        f'\n[files."tables/elsewhere.csv"]\nhash = "{sha(csv)}"\nurl = "{own}elsewhere.csv"\n'
    )
    reg.write_text(text)
    env = s3.env(dict(os.environ))
    cmd = [*hdf, "download", "--registry", str(reg), "--dest", str(tmp_path / "d"), "--jobs", "3"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    got = {p.relative_to(tmp_path / "d").as_posix(): p.read_bytes()
           for p in (tmp_path / "d").rglob("*") if p.is_file()}  # fmt: skip
    assert got == {**FILES, "tables/elsewhere.csv": csv}

    # the locator of an installed package: fetch into the cache, where, a missing object
    config = make_config({**FILES, "gone.bin": b"x"}, base)
    env = s3.env(install(tmp_path, config))
    code = (
        "import json, demo._datafetch as d\n"
        f"print(json.dumps({{n: str(d.fetch(n)) for n in {sorted(FILES)!r}}}))"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)
    assert {n: Path(p).read_bytes() for n, p in paths.items()} == FILES
    assert all(p.startswith(str(tmp_path / "xdg" / "demo-data")) for p in paths.values())
    r = run_module(env, "where", "gone.bin", "--json")
    assert json.loads(r.stdout)[-1] == {
        "source": "download", "location": base + "gone.bin", "status": "would download (fsspec)"
    }  # fmt: skip
    r = run_module(env, "download", "--dest", str(tmp_path / "d2"), "--file", "gone.bin")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{base}gone.bin: no such object in the store" in r.stderr


def test_a_changed_object_is_a_hash_mismatch_and_nothing_is_kept(s3: S3, tmp_path: Path) -> None:
    base = s3.bucket(_bucket_name(tmp_path), {"a.bin": b"new bytes, same size!"})
    env = s3.env(install(tmp_path, make_config({"a.bin": b"old bytes, same size!"}, base)))
    r = run_module(env, "download", "--dest", str(tmp_path / "d"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "hash" in r.stderr and sha(b"new bytes, same size!") in r.stderr
    assert not (tmp_path / "d" / "a.bin").exists()
    assert [p.name for p in (tmp_path / "d").iterdir()] == []  # no part file left behind
    # an object of another size fails before its bytes are read
    env = s3.env(install(tmp_path, make_config({"a.bin": b"short"}, base)))
    r = run_module(env, "download", "--dest", str(tmp_path / "d"))
    assert "the object is 21 bytes, the registry says 5" in r.stderr


def test_public_objects_without_credentials_and_private_ones_with_advice(
    s3: S3, tmp_path: Path
) -> None:
    name = _bucket_name(tmp_path)
    public = s3.bucket(name, {"open.txt": b"open data\n"}, ACL="public-read")
    s3.client.put_object(Bucket=name, Key="closed.txt", Body=b"closed\n")
    files = {"open.txt": b"open data\n", "closed.txt": b"closed\n"}
    env = s3.env(install(tmp_path, make_config(files, public)), credentials=False)
    r = run_module(env, "download", "--dest", str(tmp_path / "d"), "--file", "open.txt")
    assert r.returncode == 0, r.stderr  # no AWS credentials here: read anonymously
    assert (tmp_path / "d" / "open.txt").read_bytes() == b"open data\n"
    r = run_module(env, "download", "--dest", str(tmp_path / "d"), "--file", "closed.txt")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "AWS_ACCESS_KEY_ID" in r.stderr  # what to set


KILLED = """
import sys
import demo._datafetch as d
d.fetch(sys.argv[1])
"""


@pytest.mark.slow
def test_resume_after_kill_9(s3: S3, tmp_path: Path) -> None:
    """A download killed half-way is resumed from its part file: after the kill the object
    is replaced by one whose first bytes differ, so only a resumed download (which keeps
    the part file's bytes and reads the rest) verifies; a fresh one would not."""
    data = random_bytes(40 << 20, seed=7)  # three reads of 16 MiB
    name = _bucket_name(tmp_path)
    base = s3.bucket(name, {"huge.bin": data})
    env = s3.env(install(tmp_path, make_config({"huge.bin": data}, base)))
    cache = tmp_path / "xdg" / "demo-data"
    for _attempt in range(5):  # (a download that ended before the kill is tried again)
        child = subprocess.Popen([sys.executable, "-c", KILLED, "huge.bin"], env=env)
        parts: list[Path] = []
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            parts = [p for p in cache.rglob("*.part") if p.stat().st_size > 0]
            if parts:
                os.kill(child.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        child.wait(30)
        if parts:
            break
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    else:
        pytest.fail("every download ended before it could be killed")
    assert child.returncode == -signal.SIGKILL
    [part] = list(cache.rglob("*.part"))
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    other = bytes(b ^ 0xFF for b in data[:kept]) + data[kept:]  # another prefix, same rest
    s3.client.put_object(Bucket=name, Key="huge.bin", Body=other)
    r = subprocess.run([sys.executable, "-c", KILLED, "huge.bin"], env=env,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert list(cache.rglob("*.part")) == []
    [final] = [p for p in cache.rglob("huge.bin")]
    assert hashlib.sha256(final.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def _without(tmp_path: Path, *keep: str) -> dict[str, str]:
    """The installed runtime's env for ``python -S`` (no site-packages: no fsspec, no
    s3fs), plus only the packages in ``keep`` (linked into a directory of their own)."""
    env = install(tmp_path, make_config(FILES, "s3://bucket/v1/"))
    only = tmp_path / "only"
    only.mkdir()
    for package in keep:
        module = __import__(package)
        (only / package).symlink_to(Path(module.__file__).parent)
    env["PYTHONPATH"] += os.pathsep + str(only)
    return env


@pytest.mark.parametrize(
    ("keep", "said"),
    [
        ((), "s3:// URLs need fsspec and s3fs: pip install s3fs"),
        (("fsspec",), "s3:// URLs need s3fs: pip install s3fs"),
    ],
)
def test_without_s3fs_the_error_says_what_to_install(
    tmp_path: Path, keep: tuple[str, ...], said: str
) -> None:
    env = _without(tmp_path, *keep)
    cmd = [sys.executable, "-S", "-m", "demo._datafetch"]
    dest = ["--dest", str(tmp_path / "d"), "--file", "images/camera.png"]
    r = subprocess.run([*cmd, "download", *dest], env=env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"s3://bucket/v1/images/camera.png: {said}" in r.stderr
    # the remedies start with the one that fixes it; the network is not what failed
    remedies = r.stderr.split("To fix this, either:\n", 1)[1].splitlines()
    assert remedies[0] == "  - install what the URL needs: pip install s3fs"
    assert "network" not in r.stderr
    r = subprocess.run([*cmd, "where", "images/camera.png", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    missing = "fsspec and s3fs" if not keep else "s3fs"
    assert json.loads(r.stdout)[-1]["status"] == f"skipped: needs {missing} (pip install s3fs)"
    code = "import demo._datafetch as d; d.fetch('images/camera.png')"
    r = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert "DownloadError" in r.stderr and said in r.stderr


def test_unavailable_names_the_package() -> None:
    assert unavailable("s3://bucket/key") is None  # the test extra has fsspec and s3fs
    assert unavailable("gs://bucket/key") in (None, "needs gcsfs (pip install gcsfs)")
