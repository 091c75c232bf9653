"""The README's promises: its two commands, its tables and the demo it describes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hatch_datafetch.cli import parser
from hatch_datafetch.settings import KEYS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "$ bash example_project/demo.sh" in README
    assert "$ bash tests/run.sh" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^bash tests/run.sh$", ci, re.M)


def test_settings_table_lists_exactly_the_keys() -> None:
    table = re.findall(r"^\| `([a-z-]+)`(?:, `([a-z-]+)`)? \|", README, re.M)
    documented = {k for row in table for k in row if k}
    assert documented >= set(KEYS)
    assert {k for k in documented if k not in KEYS} <= {
        "HATCH_DATAFETCH_OFFLINE=1",
        "HATCH_DATAFETCH_CACHE=DIR",
    }


def test_every_cli_subcommand_is_documented() -> None:
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert name in README, name


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
