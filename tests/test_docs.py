"""The README's promises: its two commands, its tables and the demo it describes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hatch_datafetch.cli import parser
from hatch_datafetch.settings import SCHEMA

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "$ bash example_project/demo.sh" in README
    assert "$ bash tests/run.sh" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^bash tests/run.sh$", ci, re.M)


def test_settings_table_is_the_schema() -> None:
    """The README's settings table, row by row, is the one schema table of settings.py."""
    start = README.index("| key | default | meaning |")
    table = README[start:].split("\n\n", 1)[0].splitlines()[2:]
    assert table == [f"| `{o.key}` | {o.default_doc} | {o.doc} |" for o in SCHEMA]


def test_env_overrides_of_the_schema_are_documented() -> None:
    env_vars = [o.env for o in SCHEMA if o.env]
    assert env_vars == [
        "HATCH_DATAFETCH_WHEEL",
        "HATCH_DATAFETCH_SDIST",
        "HATCH_DATAFETCH_DATA_WHEEL",
    ]
    rows = [ln for ln in README.splitlines() if ln.startswith("| `HATCH_DATAFETCH_")]
    for var in env_vars:
        assert any(f"`{var}`" in row for row in rows), var


def test_every_cli_subcommand_is_documented_with_its_real_options() -> None:
    """Each subcommand has a ``$ hatch-datafetch NAME ...`` line whose options exist."""
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    documented = {}
    for line in README.splitlines():
        m = re.match(r"\$ hatch-datafetch ([a-z-]+)(.*)", line)
        if m:
            documented.setdefault(m[1], set()).update(re.findall(r"(?<![\w-])(-[-\w]+)", m[2]))
    assert set(commands) <= set(documented), set(commands) - set(documented)
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
