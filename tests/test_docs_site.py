"""The documentation site (docs/): it builds with warnings as errors, and its generated
reference lists what the code has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sphinx-build -W --keep-going -n`` of docs/ (warnings and broken references are
    errors): the HTML directory."""
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx needs Python 3.11+)")
    pytest.importorskip("furo", reason="the docs extra")
    pytest.importorskip("myst_parser", reason="the docs extra")
    out = tmp_path_factory.mktemp("html")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"]
    r = subprocess.run([*cmd, str(DOCS), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_the_site_builds_with_warnings_as_errors(site: Path) -> None:
    for page in ("index", "howto/index", "reference/settings", "explanation/reliability"):
        assert (site / f"{page}.html").is_file(), page


def test_the_reference_lists_every_setting_command_and_variable(site: Path) -> None:
    from hatch_datafetch.cli import parser
    from hatch_datafetch.settings import SCHEMA

    settings = (DOCS / "reference" / "settings.md").read_text()
    assert all(f"| `{o.key}` |" in settings for o in SCHEMA)
    cli = (DOCS / "reference" / "cli.md").read_text()
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert all(f"### `{name}`" in cli for name in commands)
    env = (DOCS / "reference" / "environment.md").read_text()
    in_code = set()
    for path in (ROOT / "hatch_datafetch").rglob("*.py"):
        in_code |= set(re.findall(r"HATCH_DATAFETCH_[A-Z_]+[A-Z]", path.read_text()))
    assert in_code and all(f"| `{name}` |" in env for name in in_code)


def pages_with_snippets() -> list[str]:
    from support.docsnippets import blocks

    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    return sorted(str(p.relative_to(ROOT)) for p in pages if "_build" not in p.parts and blocks(p))


@pytest.fixture(scope="session")
def docs_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheels a reader's pip gets: this checkout's, the backend's, build's, pytest's,
    pooch's (the pooch guide's "before"), s3fs's (the object stores guide; botocore makes
    it ~20 MB, ~2 s to pack), setuptools' (the other backends guide) and meson-python's
    (the meson-python guide; ninja is the one on ``PATH``: its wheel's binary is a script,
    which a re-packed wheel leaves out); made once for all xdist workers (the first one
    builds, the others wait on a lock)."""
    import fcntl
    import os

    from support.installers import wheelhouse

    # under xdist, each worker's basetemp is in the run's; without it, basetemp's parent is
    # shared by every run (of every checkout), and its wheelhouse would be a stale one
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "docs-wheels"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            wheelhouse(
                shared / "wheels", "build", "pytest", "pooch", "s3fs", "setuptools", "meson-python"
            )
            (shared / "done").touch()
    return shared / "wheels"


def test_the_tutorial_and_the_guides_have_snippets_that_run() -> None:
    pages = pages_with_snippets()
    assert {"README.md", "docs/tutorial.md"} <= set(pages)
    assert len([p for p in pages if p.startswith("docs/howto/")]) >= 4


@pytest.mark.pages
@pytest.mark.parametrize("page", pages_with_snippets())
def test_the_page_runs_as_written(page: str, docs_wheels: Path, tmp_path: Path) -> None:
    """Every marked command and snippet of the page, in order, in one shell, in a fresh
    directory, as a reader types them: pip and ``python -m build`` get their packages from
    a loopback index (this checkout's wheel among them), so nothing comes from the internet;
    each output the page shows must appear. (The tutorial ends with the data served offline
    from the data wheel: its last command shows ``where`` finding it there.) The stand-ins
    that the page's ``serve`` markers name run meanwhile, their variables in the session's
    environment (the DOI guide's Zenodo record, through ``HATCH_DATAFETCH_DOI_RESOLVER``,
    say). The page runs
    in a session of its own: whatever it leaves running (the pooch guide's stand-in server,
    when the page fails before it stops it) is ended with it."""
    import os
    import shutil
    import signal

    from support.docsnippets import needs, page_script, serves, stand_ins
    from support.installers import Index, installer_env

    missing = [cmd for cmd in needs(ROOT / page) if shutil.which(cmd) is None]
    if missing:
        pytest.skip(f"{page} needs {', '.join(missing)} (not on PATH; .ci/run installs them)")
    script = page_script(ROOT / page)
    work = tmp_path / "reader"
    work.mkdir()
    with Index(docs_wheels, tmp_path / "index") as index, stand_ins(serves(ROOT / page)) as extra:
        env = {**installer_env(tmp_path / "home", index.url), **extra}
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
        with subprocess.Popen(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as shell:
            try:
                out, err = shell.communicate(timeout=600)
            finally:
                try:
                    os.killpg(shell.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert shell.returncode == 0, out[-6000:] + err[-3000:]


def _chromium() -> str | None:
    import shutil

    return next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )


@pytest.mark.parametrize(
    ("page", "heading"),
    [
        ("index", "hatch-datafetch"),
        ("tutorial", "Tutorial: a package whose data installs with"),
        ("reference/settings", "Settings"),
    ],
)
def test_the_pages_render_in_headless_chromium(
    site: Path, page: str, heading: str, tmp_path: Path
) -> None:
    """A real browser loads the page from a server on 127.0.0.1: every local resource it asks
    for (style sheets, scripts, images, fonts) is there, and the rendered page has its
    heading and the theme's navigation."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium (Debian: apt-get install chromium; .ci/run installs it)")
    requests: list[tuple[str, int]] = []

    class Logged(SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            requests.append((self.path, int(code)))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Logged, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{page}.html"
        r = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             # (else it still looks up Google's update and account hosts: no test touches
             # the internet)
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
             f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 0, r.stderr[-3000:]
    loaded = [(path, code) for path, code in requests if path != "/favicon.ico"]
    assert (f"/{page}.html", 200) in loaded
    assert [(p, c) for p, c in loaded if c != 200] == []
    assert any(p.split("?")[0].endswith(".css") for p, _ in loaded), loaded
    assert any(p.split("?")[0].endswith(".js") for p, _ in loaded), loaded
    dom = r.stdout
    assert heading in dom and 'class="sidebar-tree"' in dom


def test_the_backends_guide_shows_the_projects_the_suite_builds() -> None:
    """Each pyproject.toml of docs/howto/other-backends.md is the fixture project that
    tests/test_backends.py builds (with ``data-wheel = true`` and ``sdist = "bundle"``),
    installs and rebuilds offline, minus lines it leaves out: every table and value it
    shows is the built project's."""
    from hatch_datafetch._toml import tomllib

    loads = tomllib.loads

    guide = (DOCS / "howto" / "other-backends.md").read_text()
    fixtures = ROOT / "tests" / "fixtures" / "backends"
    by_backend = {
        loads((d / "pyproject.toml").read_text())["tool"]["datafetch"]["backend"]: d
        for d in fixtures.iterdir()
    }
    shown = [loads(b) for b in re.findall(r"```toml\n(.*?)```", guide, re.S)]
    assert sorted(t["tool"]["datafetch"]["backend"] for t in shown) == sorted(by_backend)

    def within(part: object, whole: object) -> bool:
        if isinstance(part, dict):
            return isinstance(whole, dict) and all(
                k in whole and within(v, whole[k]) for k, v in part.items()
            )
        return part == whole

    for table in shown:
        fixture = by_backend[table["tool"]["datafetch"]["backend"]] / "pyproject.toml"
        built = loads(fixture.read_text())
        built["tool"]["datafetch"].update({"data-wheel": True, "sdist": "bundle"})  # as built
        assert within(table, built), fixture


def test_a_needs_marker_names_commands_and_is_not_a_block(tmp_path: Path) -> None:
    from support.docsnippets import blocks, needs

    page = tmp_path / "p.md"
    page.write_text(
        "<!-- test: needs docker-registry moto_server -->\n\n"
        "<!-- test: run -->\n```console\n$ echo hi\nhi\n```\n\n"
        "<!-- test: needs oras -->\n```console\n$ not run\n```\n"
    )
    assert needs(page) == ["docker-registry", "moto_server", "oras"]
    assert blocks(page) == [("run", None, "$ echo hi\nhi\n", 4)]
