"""The README's promises (its two commands, the demo it describes), the command lines the
README and the docs show, and the reliability table. (The settings, commands and variables
of the reference are generated from the code: tests/test_docs_site.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hatch_datafetch.cli import parser

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "$ bash example_project/demo.sh" in README
    assert "$ bash tests/run.sh" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^bash tests/run.sh$", ci, re.M)
    # the docs pages as written and the other front-ends' installs: what tests/run.sh leaves out
    second = 'bash tests/run.sh -m "pages or installers"'
    assert re.search(f"^{re.escape(second)}$", ci, re.M)
    assert f"`{second}`" in README
    assert "`bash tests/run.sh -m pages`" in README


def _shown_pages() -> list[Path]:
    docs = [p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts]
    return [ROOT / "README.md", *docs]


def test_every_command_line_shown_uses_real_options() -> None:
    """Each ``$ hatch-datafetch NAME ...`` line of the README and the docs names a real
    subcommand, and each option it shows is one of that subcommand's."""
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    documented: dict[str, set[str]] = {}
    for page in _shown_pages():
        for line in page.read_text().splitlines():
            m = re.match(r"\$ hatch-datafetch ([a-z-]+)(.*)", line)
            if m:
                assert m[1] in commands, (page, line)
                flags = set(re.findall(r"(?<![\w-])(--?[a-z][-\w]*)", m[2]))
                documented.setdefault(m[1], set()).update(flags)
    assert len(documented) >= 5, documented
    for name, flags in documented.items():
        known = {s for a in commands[name]._actions for s in a.option_strings}
        assert flags <= known, (name, flags - known)


@pytest.mark.slow
def test_demo_runs_offline_and_shows_every_source(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HATCH_DATAFETCH_", "EXAMPLE_"))
    }
    env["DEMO_DIR"] = str(tmp_path / "demo")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run(
        ["bash", str(ROOT / "example_project" / "demo.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for source in (
        "download from file://",
        "user cache",
        "$EXAMPLE_PKG_DATA_DIR",
        "companion data package example_pkg_data",
        "package bundle",
    ):
        assert f"  from  {source}" in out, source
    assert "512x512 grayscale" in out and "3285 readings" in out
    assert f"export EXAMPLE_PKG_DATA_DIR={tmp_path / 'demo' / 'data'}" in out
    assert sorted(p.name for p in (tmp_path / "demo" / "dist").iterdir()) == [
        "example_pkg-1.0.0-py3-none-any.whl",
        "example_pkg-1.0.0.tar.gz",
    ]


def test_reliability_table_lists_every_probe_with_no_bad_file() -> None:
    from support.reliability import END, START, TABLE_PAGE, declared_probes

    page = TABLE_PAGE.read_text()
    table = page[page.index(START) + len(START) : page.index(END)].strip().splitlines()
    rows = [row.split(" | ") for row in table[2:]]
    probes = declared_probes()
    assert len(probes) >= 29
    assert [(r[1], r[2]) for r in rows] == list(probes.values())
    assert all(r[4].rstrip(" |") == "0" for r in rows), [r for r in rows if r[4] != "0 |"]
