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
