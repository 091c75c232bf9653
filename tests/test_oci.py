"""OCI registries as hash-addressed mirrors (SPEC §14): ``hatch-datafetch push`` into
Debian's docker-registry (distribution 2.8) and the locator fetching from ``oci://`` URLs;
the token flow and the storage redirect against the test CDN."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import hatch as hh
from support.cdnserver import CDN, redirect, truncate
from support.ociregistry import MISSING, DockerRegistry
from support.runtime import (
    install,
    locator,
    make_config,
    random_bytes,
    run_module,
    sha,
    write_files,
)

from hatch_datafetch._runtime import DataNotFoundError, DownloadError
from hatch_datafetch.push import ARTIFACT_TYPE, TITLE

needs_registry = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
FILES = {
    "images/camera.png": random_bytes(150_000, seed=7),
    "text/poem.txt": b"Data outgrows the wheel;\nthe registry remembers.\n",
    "copy.txt": b"Data outgrows the wheel;\nthe registry remembers.\n",  # the same blob
}


def push(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_datafetch", "push", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def registry_file(tmp_path: Path, files: dict[str, bytes]) -> Path:
    lines = [f"{n} {sha(d)}" for n, d in sorted(files.items())]
    path = tmp_path / "registry.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[DockerRegistry]:
    if MISSING is not None:
        pytest.skip(MISSING)
    with DockerRegistry(tmp_path / "registry") as registry:
        yield registry


def uploads(reg: DockerRegistry) -> list[tuple[str, str, int, str]]:
    return [r for r in reg.access_log() if r[0] in ("POST", "PUT", "PATCH")]


# ---------------------------------------------------------------------- docker-registry


@needs_registry
@pytest.mark.slow
def test_push_then_a_wheel_whose_only_mirror_is_the_registry_fetches_every_file(
    tmp_path: Path, reg: DockerRegistry
) -> None:
    mirror = reg.oci("org/data")
    proj = hh.make_project(tmp_path, None, {"mirrors": [mirror]})
    write_files(hh.DATA, tmp_path / "files")
    r = push(f"{mirror}:1.2.0", "--pyproject", str(proj / "pyproject.toml"), "--from",
             str(tmp_path / "files"), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["uploaded"], out["present"]) == (sorted(hh.DATA), [])
    assert out["bytes"] == sum(map(len, hh.DATA.values())) and out["manifest_uploaded"]
    hh.build(proj, "--wheel")
    py = hh.venv_with(tmp_path, proj / "dist" / hh.WHEEL)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "user-cache")}
    for name, data in hh.DATA.items():
        path, source, got = hh.fetch_in(py, name, env)
        assert (source, got) == ("user cache", data)
        assert path.startswith(str(tmp_path / "user-cache" / "fix-pkg-data"))
    blobs = [r for r in reg.access_log() if r[0] == "GET" and "/blobs/sha256:" in r[1]]
    assert sorted(r[1] for r in blobs) == sorted(
        f"/v2/org/data/blobs/{s}" for s in hh.SUMS.values()
    )
    assert all(r[2] == 200 and r[3].startswith("hatch-datafetch/1 (fixpkg") for r in blobs)

    before = len(uploads(reg))  # re-push: the registry has everything, nothing is sent
    r = push(f"{mirror}:1.2.0", "--pyproject", str(proj / "pyproject.toml"), "--json")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert (again["uploaded"], again["present"], again["bytes"]) == ([], sorted(hh.DATA), 0)
    assert (again["manifest"], again["manifest_uploaded"]) == (out["manifest"], False)
    assert len(uploads(reg)) == before


@needs_registry
def test_a_re_push_needs_no_local_copy_of_what_the_registry_has(
    tmp_path: Path, reg: DockerRegistry
) -> None:
    """HEAD first: a file that is nowhere here (no --from, no URL in the registry) but
    whose blob the registry has is pushed already; the manifest comes out the same (its
    size from the registry's answer). A file the registry lacks still fails, by name."""
    files = {"a.txt": b"first file\n", "b/c.bin": bytes(range(256)) * 40}
    write_files(files, tmp_path / "files")
    registry = registry_file(tmp_path, files)
    target = f"{reg.oci('org/data')}:v1"
    r = push(target, "--registry", str(registry), "--from", str(tmp_path / "files"), "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    before = len(uploads(reg))
    r = push(target, "--registry", str(registry), "--json")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert (again["uploaded"], again["present"], again["bytes"]) == ([], sorted(files), 0)
    assert (again["manifest"], again["manifest_uploaded"]) == (first["manifest"], False)
    assert len(uploads(reg)) == before
    (tmp_path / "more").mkdir()
    more = registry_file(tmp_path / "more", {**files, "new.txt": b"not pushed yet\n"})
    r = push(target, "--registry", str(more))
    assert r.returncode == 1 and "1 of 3 files could not be pushed" in r.stderr, r.stderr
    assert "new.txt: cannot find data file 'new.txt'" in r.stderr


@needs_registry
def test_the_manifest_is_an_oci_artifact_that_oras_pulls_byte_for_byte(
    tmp_path: Path, reg: DockerRegistry
) -> None:
    oras_client = pytest.importorskip("oras.client", reason="oras (the test extra) is absent")
    write_files(FILES, tmp_path / "files")
    registry = registry_file(tmp_path, FILES)
    r = push(f"{reg.oci('org/data')}:v1", "--registry", str(registry), "--from",
             str(tmp_path / "files"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"{reg.oci('org/data')}:v1: 3 files uploaded" in r.stderr
    assert f'mirrors = ["{reg.oci("org/data")}"]' in r.stderr
    assert [u[0] for u in uploads(reg)].count("PUT") == 2 + 1 + 1  # 2 blobs, config, manifest
    client = oras_client.OrasClient(hostname=reg.host, insecure=True)
    manifest: dict[str, Any] = client.get_manifest(f"{reg.host}/org/data:v1")
    assert manifest["artifactType"] == ARTIFACT_TYPE
    titles = [(layer["annotations"][TITLE], layer["digest"]) for layer in manifest["layers"]]
    assert titles == [(n, sha(FILES[n])) for n in sorted(FILES)]
    pulled = client.pull(target=f"{reg.host}/org/data:v1", outdir=str(tmp_path / "pulled"))
    assert len(pulled) == len(FILES)
    assert hh.tree(tmp_path / "pulled") == hh.tree(tmp_path / "files")


@needs_registry
def test_basic_auth_from_netrc_for_push_and_fetch(tmp_path: Path) -> None:
    """A registry with htpasswd basic auth: push and the locator both take the credentials
    from the netrc file that NETRC names; without them they say where to put them."""
    pytest.importorskip("bcrypt", reason="bcrypt (the test extra) writes the htpasswd file")
    password = "pa55-for-the-registry"
    write_files(FILES, tmp_path / "files")
    registry = registry_file(tmp_path, FILES)
    netrc = tmp_path / "netrc"
    with DockerRegistry(tmp_path / "registry", htpasswd=("ann", password)) as reg:
        netrc.write_text(f"machine 127.0.0.1 login ann password {password}\n")
        args = (f"{reg.oci()}:v1", "--registry", str(registry), "--from", str(tmp_path / "files"))
        denied = push(*args, env={"NETRC": str(tmp_path / "none")})
        assert denied.returncode == 1
        assert "asks for credentials (basic challenge)" in denied.stderr
        assert f"put them in {tmp_path / 'none'} as `machine 127.0.0.1 login" in denied.stderr
        r = push(*args, env={"NETRC": str(netrc)})
        assert r.returncode == 0, r.stderr

        config = make_config(FILES, reg.oci())  # the locator as a wheel ships it
        env = {**install(tmp_path, config), "NETRC": str(netrc)}
        r = run_module(env, "download", "--dest", str(tmp_path / "d"), "--json")
        assert r.returncode == 0, r.stderr
        paths = {n: Path(p) for n, p in json.loads(r.stdout)["files"].items()}
        assert {n: p.read_bytes() for n, p in paths.items()} == FILES
        gets = [r for r in reg.access_log() if r[0] == "GET" and "blobs" in r[1]]
        assert sorted(r[1] for r in gets if r[2] == 200) == sorted(
            f"/v2/org/data/blobs/{sha(d)}" for d in FILES.values()
        )
        assert [r[2] for r in gets].count(401) <= len(FILES)  # netrc: sent once asked for

        netrc.write_text(f"machine 127.0.0.1 login ann password not-{password}\n")
        loc = locator(config, tmp_path / "again", environ={"NETRC": str(netrc)})
        with pytest.raises(DownloadError) as e:
            loc.fetch("text/poem.txt")
    assert f"127.0.0.1 refused the credentials of machine 127.0.0.1 in {netrc}" in str(e.value)
    assert password not in str(e.value) + denied.stderr + r.stderr


@needs_registry
def test_large_file_is_pushed_in_chunks_and_fetched_in_ranges(
    tmp_path: Path, reg: DockerRegistry
) -> None:
    big = {"volumes/brain.nii": random_bytes(3_000_000, seed=3)}
    write_files(big, tmp_path / "files")
    r = push(f"{reg.oci()}:v1", "--registry", str(registry_file(tmp_path, big)), "--from",
             str(tmp_path / "files"), "--chunk-size", "1MB", "-q")  # fmt: skip
    assert (r.returncode, r.stderr) == (0, "")
    assert [u[0] for u in uploads(reg)].count("PATCH") == 3
    loc = locator(make_config(big, None, mirrors=[reg.oci()]), tmp_path)
    loc.downloader.segment_min = 1 << 20
    assert loc.fetch("volumes/brain.nii").read_bytes() == big["volumes/brain.nii"]
    gets = [g for g in reg.access_log() if g[0] == "GET" and "blobs" in g[1]]
    assert {g[2] for g in gets} == {206} and len(gets) == 1 + 2  # the probe, then 2 ranges


@needs_registry
def test_a_retried_upload_counts_its_bytes_once_in_the_progress(
    reg: DockerRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """A retry sends a blob again (here: a second attempt of each way of sending, one PUT
    and PATCH by PATCH); the progress shows what the blob holds, not twice that."""
    import io

    from hatch_datafetch._runtime.client import Client
    from hatch_datafetch._runtime.fs import Cancel
    from hatch_datafetch._runtime.oci import parse
    from hatch_datafetch._runtime.progress import Progress
    from hatch_datafetch._runtime.retry import RetryPolicy
    from hatch_datafetch.push import RegistryAPI, Sent

    data = random_bytes(300_000, seed=11)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    client = Client(timeout=30, user_agent="test", environ={}, cancel=Cancel())
    api = RegistryAPI(parse(f"{reg.oci()}:v1"), client, RetryPolicy(0))
    try:
        for chunk in (1 << 20, 100_000):  # one PUT; three PATCHes
            meter = Progress(len(data), 1, True)
            sent = Sent(meter)  # one per blob, across its attempts
            for _attempt in range(2):
                api.upload(io.BytesIO(data), digest, len(data), chunk, sent)
            meter.file_done()
            meter.close()
            assert meter.nbytes == len(data), chunk
            assert capsys.readouterr().err.rstrip().endswith("1/1 files, 300 kB of 300 kB")
    finally:
        client.close_all()


def test_push_usage_errors_and_missing_files(tmp_path: Path) -> None:
    registry = registry_file(tmp_path, FILES)
    for reference, why in (
        ("https://ghcr.io/org/data", "is not an oci:// reference"),
        ("oci://ghcr.io/Org/Data:v1", "is not a repository name"),
        (f"oci://ghcr.io/org/data@{sha(b'x')}", "name a tag, not a digest"),
    ):
        r = push(reference, "--registry", str(registry))
        assert r.returncode == 2 and why in r.stderr, r.stderr
    r = push("oci://127.0.0.1:9/org/data", "--registry", str(registry), "--from", "nowhere")
    assert r.returncode == 2 and "--from nowhere: not a directory" in r.stderr
    (tmp_path / "files").mkdir()  # no files and no URL: nothing is sent anywhere
    r = push("oci://127.0.0.1:9/org/data", "--registry", str(registry), "--from",
             str(tmp_path / "files"))  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "3 of 3 files could not be pushed" in r.stderr and "no manifest" in r.stderr
    assert "text/poem.txt: cannot find data file 'text/poem.txt'" in r.stderr


# ---------------------------------------------------------------------- the token flow (test CDN)


def serve_blobs(cdn: CDN, files: dict[str, bytes], repository: str = "org/data") -> None:
    for data in files.values():
        cdn.add(f"v2/{repository}/blobs/{sha(data)}", data)


def test_anonymous_token_flow_and_storage_redirect_without_credentials(
    cdn: CDN, tmp_path: Path
) -> None:
    """A registry that asks for a token (401 + WWW-Authenticate: Bearer realm, service,
    scope): the locator gets one from the realm once, sends it with every blob request, and
    follows the registry's redirect to its storage (another host) without it."""
    serve_blobs(cdn, FILES)
    cdn.bearer, cdn.token_realm = "registry-issued-token", True
    with CDN() as storage:
        camera = FILES["images/camera.png"]
        storage.add("bucket/camera", camera)
        cdn.fault(f"v2/org/data/blobs/{sha(camera)}", redirect(storage.url_for("bucket/camera")))
        mirror = f"oci://{cdn.address[0]}:{cdn.address[1]}/org/data"
        loc = locator(make_config(FILES, None, mirrors=[mirror]), tmp_path)
        paths = loc.fetch_all(jobs=4)
        assert {n: p.read_bytes() for n, p in paths.items()} == FILES
        assert storage.seen("Authorization") == [None]
    assert cdn.count("token") == 1  # one token for every file and worker
    assert cdn.seen("Authorization", "token") == [None]  # anonymous: no netrc here
    assert [r.headers.get("Authorization") for r in cdn.requests if r.status == 302] == [
        "Bearer registry-issued-token"
    ]
    blobs = [r for r in cdn.requests if r.path != "token"]
    assert {r.status for r in blobs} <= {401, 200, 302}
    assert all(r.headers.get("Authorization") == "Bearer registry-issued-token"
               for r in blobs if r.status != 401)  # fmt: skip


def test_token_realm_gets_netrc_credentials_and_resume_keeps_the_token(
    cdn: CDN, tmp_path: Path
) -> None:
    data = random_bytes(200_000, seed=5)
    serve_blobs(cdn, {"a.bin": data})
    # (a token no temporary path can hold: "t-1" was found in /tmp/pytest-of-root/pytest-1003)
    token_value = "realm-token-7Qx"
    cdn.bearer, cdn.token_realm = token_value, True
    cdn.realm_basic = ("robot", "robot-secret")
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login robot password robot-secret\n")
    cdn.fault(f"v2/org/data/blobs/{sha(data)}", truncate(50_000))
    mirror = f"oci://127.0.0.1:{cdn.address[1]}/org/data"
    loc = locator(make_config({"a.bin": data}, mirror), tmp_path,
                  environ={"NETRC": str(tmp_path / "netrc")})  # fmt: skip
    assert loc.fetch("a.bin").read_bytes() == data
    token = [r for r in cdn.requests if r.path == "token"]
    assert [r.headers["Authorization"] for r in token] == ["Basic cm9ib3Q6cm9ib3Qtc2VjcmV0"]
    assert "scope=repository%3Aorg%2Fdata%3Apull" in token[0].target
    served = [r for r in cdn.requests if r.path != "token" and r.status != 401]
    assert [(r.headers.get("Range"), r.headers["Authorization"]) for r in served] == [
        (None, f"Bearer {token_value}"),
        ("bytes=50000-", f"Bearer {token_value}"),
    ]
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login robot password not-the-secret\n")
    loc = locator(make_config({"a.bin": data}, mirror), tmp_path / "again",
                  environ={"NETRC": str(tmp_path / "netrc")})  # fmt: skip
    with pytest.raises(DownloadError) as e:
        loc.fetch("a.bin")
    assert (
        f"HTTP 401 Unauthorized from the token service {cdn.url}token (asked with the "
        f"credentials of machine 127.0.0.1 in {tmp_path / 'netrc'})"
    ) in str(e.value)
    assert "not-the-secret" not in str(e.value) and token_value not in str(e.value)


def test_files_without_a_sha256_skip_oci_mirrors_and_where_says_why(
    cdn: CDN, tmp_path: Path
) -> None:
    data = b"an md5 file\n"
    cdn.add("old.txt", data)
    config = make_config({"old.txt": data}, "oci://ghcr.io/org/data", mirrors=[cdn.url])
    config["files"]["old.txt"]["hash"] = "md5:" + hashlib.md5(data).hexdigest()
    loc = locator(config, tmp_path)
    assert loc.urls("old.txt") == [cdn.url_for("old.txt")]
    where = {c.location: c.status for c in loc.where("old.txt") if c.source == "download"}
    assert where == {
        f"oci://ghcr.io/org/data@md5:{hashlib.md5(data).hexdigest()}": "skipped: an OCI "
        "registry addresses blobs by sha256, and the registry gives this file's md5",
        cdn.url_for("old.txt"): "would download",
    }
    assert loc.fetch("old.txt").read_bytes() == data
    config["mirrors"] = []
    with pytest.raises(
        DataNotFoundError, match=r"no URL it can be downloaded from \(skipped: an OCI"
    ):
        locator(config, tmp_path / "other").fetch("old.txt")


def test_conda_sources_leave_oci_urls_out(tmp_path: Path) -> None:
    registry = registry_file(tmp_path, {"a.txt": b"a"})
    r = subprocess.run(
        [sys.executable, "-m", "hatch_datafetch", "conda-sources", "--registry", str(registry),
         "--base-url", "https://cdn.example.org/", "--mirror", "oci://ghcr.io/org/data"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert '  - url: "https://cdn.example.org/a.txt"' in r.stdout and "oci:" not in r.stdout
    assert "oci:// URLs of 1 file(s) are left out" in r.stderr
