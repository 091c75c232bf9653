"""Private data (SPEC §14): the data token and netrc credentials, sent only where they
belong, never across hosts on a redirect, never in a message."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from support.cdnserver import CDN, redirect
from support.runtime import install, locator, make_config, run_module, sha

from hatch_datafetch._runtime import DataWarning, DownloadError
from hatch_datafetch.registry import check_url
from hatch_datafetch.settings import parse_settings
from hatch_datafetch.staging import runtime_config

TOKEN = "tok-3f9a1c0d7e-private"
FILES = {"a.txt": b"private a\n", "b.txt": b"private b\n"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def private(cdn: CDN) -> CDN:
    """A CDN that serves FILES only for ``Authorization: Bearer TOKEN``."""
    for name, data in FILES.items():
        cdn.add(name, data)
    cdn.bearer = TOKEN
    return cdn


def config(base: str, **extra: object) -> dict[str, object]:
    return make_config(FILES, base, token_env_var="DEMO_DATA_TOKEN", **extra)


def test_token_env_var_is_a_setting_baked_into_the_runtime_json(tmp_path: Path) -> None:
    settings = parse_settings(
        {"registry": "r.txt"}, root=tmp_path, project_name="my-lab", project_version="1"
    )
    assert settings.token_env_var == "MY_LAB_DATA_TOKEN"
    (tmp_path / "r.txt").write_text("")
    from hatch_datafetch.registry import load_registry

    json = runtime_config(load_registry(tmp_path / "r.txt"), settings)
    assert json["token_env_var"] == "MY_LAB_DATA_TOKEN"


def test_a_cdn_that_demands_a_token_serves_the_file_for_the_token_env_var(
    private: CDN, tmp_path: Path
) -> None:
    loc = locator(config(private.url), tmp_path, environ={"DEMO_DATA_TOKEN": TOKEN})
    assert {n: p.read_bytes() for n, p in loc.fetch_all().items()} == FILES
    assert private.seen("Authorization") == [f"Bearer {TOKEN}"] * 2


def test_the_token_goes_only_to_the_base_url_and_mirror_hosts(private: CDN, tmp_path: Path) -> None:
    """A file's own URL on another host, and a host that only a redirect names, never see it;
    a redirect on the same host keeps it."""
    private.add("moved/b.txt", FILES["b.txt"])
    private.fault("b.txt", redirect(private.url_for("moved/b.txt")))
    with CDN() as other, CDN() as storage:
        other.add("a.txt", FILES["a.txt"])
        cfg = config(private.url)
        cfg["files"]["a.txt"]["url"] = other.url_for("a.txt")  # type: ignore[index]
        loc = locator(cfg, tmp_path, environ={"DEMO_DATA_TOKEN": TOKEN})
        assert loc.fetch("a.txt").read_bytes() == FILES["a.txt"]
        assert loc.fetch("b.txt").read_bytes() == FILES["b.txt"]  # same host: token kept
        assert other.seen("Authorization") == [None]
        assert private.seen("Authorization") == [f"Bearer {TOKEN}"] * 2

        storage.add("blob", FILES["a.txt"])
        private.fault("a.txt", redirect(storage.url_for("blob")))
        loc = locator(config(private.url), tmp_path / "2", environ={"DEMO_DATA_TOKEN": TOKEN})
        assert loc.fetch("a.txt").read_bytes() == FILES["a.txt"]
    assert private.seen("Authorization", "a.txt") == [f"Bearer {TOKEN}"]
    assert storage.seen("Authorization") == [None]  # the second server logs no token


def test_a_mirror_host_gets_the_token_too(private: CDN, tmp_path: Path) -> None:
    with CDN() as down:
        down.bearer = "another"  # the base URL refuses: the mirror serves
        loc = locator(config(down.url, mirrors=[private.url]), tmp_path,
                      environ={"DEMO_DATA_TOKEN": TOKEN})  # fmt: skip
        assert loc.fetch("a.txt").read_bytes() == FILES["a.txt"]
    assert private.seen("Authorization") == [f"Bearer {TOKEN}"]


def test_the_token_never_appears_in_a_message(private: CDN, tmp_path: Path) -> None:
    """A refused token: the exception and the command line's stderr say which variable it
    came from, never its value; nor does a netrc password."""
    private.bearer = "the-right-one"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ann password netrc-pass-77\n")
    environ = {"DEMO_DATA_TOKEN": TOKEN, "NETRC": str(netrc)}
    loc = locator(config(private.url), tmp_path, environ=environ)
    with pytest.raises(DownloadError) as e:
        loc.fetch("a.txt")
    text = f"{e.value}\n{e.value.failures}\n{e.value!r}"
    assert "127.0.0.1 refused the token in $DEMO_DATA_TOKEN" in text
    assert TOKEN not in text and "netrc-pass-77" not in text

    env = install(tmp_path, config(private.url))
    r = run_module({**env, **environ}, "download", "--dest", str(tmp_path / "d"))
    assert r.returncode == 1 and "refused the token in $DEMO_DATA_TOKEN" in r.stderr
    assert TOKEN not in r.stdout + r.stderr and "netrc-pass-77" not in r.stdout + r.stderr
    where = run_module({**env, **environ}, "where", "a.txt")
    assert TOKEN not in where.stdout + where.stderr


def test_netrc_basic_credentials_for_the_urls_host(cdn: CDN, tmp_path: Path) -> None:
    cdn.add("a.txt", FILES["a.txt"])
    cdn.basic = ("ann", "s3cret")
    netrc = tmp_path / "netrc"
    netrc.write_text("default login anyone password everywhere\n")  # never sent
    cdn.add("public.txt", b"public")  # a public file: netrc is not even read
    public = {"public.txt": b"public"}
    loc = locator(make_config(public, cdn.url), tmp_path, environ={"NETRC": str(netrc)})
    cdn.basic = None
    assert loc.fetch("public.txt").read_bytes() == b"public"
    cdn.basic = ("ann", "s3cret")
    cdn.reset_counters()
    loc = locator(make_config(FILES, cdn.url), tmp_path, environ={"NETRC": str(netrc)})
    with pytest.raises(DownloadError) as e:
        loc.fetch("a.txt")
    assert (
        f"127.0.0.1 asks for credentials (basic challenge); put them in {netrc} as "
        "`machine 127.0.0.1 login USER password PASSWORD`"
    ) in str(e.value)
    assert cdn.seen("Authorization") == [None]
    netrc.write_text("machine 127.0.0.1\n  login ann\n  password s3cret\n")
    loc = locator(make_config(FILES, cdn.url), tmp_path, environ={"NETRC": str(netrc)})
    assert loc.fetch("a.txt").read_bytes() == FILES["a.txt"]
    assert cdn.seen("Authorization")[-1] == basic("ann", "s3cret")
    home = tmp_path / "home"  # without NETRC: ~/.netrc
    (home / ".netrc").write_text("machine 127.0.0.1 login ann password s3cret\n")
    loc = locator(make_config(FILES, cdn.url), tmp_path / "2", environ={"HOME": str(home)})
    assert loc.fetch("a.txt").read_bytes() == FILES["a.txt"]


def test_an_unreadable_netrc_is_ignored_with_a_warning_that_shows_no_secret(
    cdn: CDN, tmp_path: Path
) -> None:
    cdn.add("a.txt", FILES["a.txt"])
    cdn.basic = ("ann", "hunter2")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ann password hunter2 port\n")
    loc = locator(make_config(FILES, cdn.url), tmp_path, environ={"NETRC": str(netrc)})
    with pytest.warns(DataWarning) as warned, pytest.raises(DownloadError) as e:
        loc.fetch("a.txt")
    assert f"127.0.0.1 asks for credentials (basic challenge); put them in {netrc}" in str(e.value)
    (message,) = [str(w.message) for w in warned if w.category is DataWarning]
    assert message.startswith(f"ignoring {netrc}: it cannot be read as a netrc file (line ")
    assert "hunter2" not in message


def test_credentials_in_a_registry_url_are_refused_at_build_time() -> None:
    with pytest.raises(ValueError) as e:
        check_url("https://ann:hunter2@data.example.org/v1/")
    assert "carries credentials, which would be shipped in every wheel" in str(e.value)
    assert "~/.netrc" in str(e.value) and "hunter2" not in str(e.value)


def test_tool_download_sends_the_token_of_the_projects_setting(
    private: CDN, tmp_path: Path
) -> None:
    lines = [f"{n} {sha(d)}\n" for n, d in FILES.items()]
    (tmp_path / "registry.txt").write_text("".join(lines))
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "lab"\nversion = "1"\n[tool.datafetch]\n'
        f'registry = "registry.txt"\nbase-url = "{private.url}"\n'
    )
    cmd = [sys.executable, "-m", "hatch_datafetch", "download", "--pyproject",
           str(tmp_path / "pyproject.toml"), "--dest", str(tmp_path / "d"), "-q"]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAB_DATA_TOKEN": TOKEN}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d" / "b.txt").read_bytes() == FILES["b.txt"]


def test_a_refusal_of_every_url_advises_credentials_not_network_access(
    private: CDN, tmp_path: Path
) -> None:
    """The network works when every host says 401: the remedies end with the credentials
    that each URL's line asks for, not with allowing network access."""
    loc = locator(config(private.url), tmp_path, environ={})
    with pytest.raises(DownloadError) as e:
        loc.fetch("a.txt")
    message = str(e.value)
    assert "asks for credentials" in message
    assert "allow network access" not in message
    assert message.endswith("  - or give the credentials that the lines above ask for.")
