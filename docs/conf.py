"""Sphinx configuration of the hatch-datafetch documentation (MyST Markdown, furo).

Build: ``python -m sphinx -W --keep-going -n -b html docs docs/_build/html`` (the README's
docs command). The reference pages under ``reference/`` that list settings, commands and
environment variables are generated from the code by ``_ext/datafetch_reference.py`` at
build time, so they cannot drift from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

from hatch_datafetch import __version__  # noqa: E402

project = "hatch-datafetch"
author = "hatch-datafetch developers"
copyright = "hatch-datafetch developers"  # noqa: A001
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "datafetch_reference",
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "README.md"]
html_theme = "furo"
html_title = f"hatch-datafetch {release}"
html_static_path: list[str] = []
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = True
smartquotes = False  # `--jobs` in tables stays two hyphens
suppress_warnings = ["misc.highlighting_failure"]  # pygments's meson lexer trips on "!= 0"
nitpick_ignore_regex = [
    (r"py:class", r"(os\.PathLike|Path|pathlib\.Path|Mapping|Sequence|Iterable|Any|IO).*"),
    (r"py:class", r"hatch_datafetch\._runtime\..*"),
    # names of the locator's internal modules, which the reference does not document
    (r"py:(class|func|mod)", r"(parse|config|unpacked|poochlike|chain\.Chain|Archives|FetchErrors)"),
    # pooch's API, named by as_pooch() (no intersphinx: the build is offline)
    (r"py:(class|meth|func)", r"pooch\..*"),
]
