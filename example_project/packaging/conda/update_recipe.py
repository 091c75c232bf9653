"""Regenerate the generated blocks of recipe.yaml from example_project's registry.

    python example_project/packaging/conda/update_recipe.py [--sdist SDIST] [--check]

- the data sources, between "# BEGIN conda-sources" and "# END conda-sources": the output of
  ``hatch-datafetch conda-sources --pyproject example_project/pyproject.toml
  --format rattler-build`` (url, sha256, target_directory, file_name per registry entry);
- the file list of the data package's package_contents test;
- with ``--sdist FILE``: the sha256 of the sdist source (the file uploaded to PyPI).

``--check`` changes nothing and exits 1 when the recipe is out of date. Needs hatch-datafetch
importable (the repository's .venv).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPE = HERE / "recipe.yaml"
PYPROJECT = HERE.parent.parent / "pyproject.toml"
FOLDER = "datafetch-data"
SHARE = "share/example-pkg-data"


def conda_sources() -> list[str]:
    """The `source:` list items printed by hatch-datafetch conda-sources (their lines)."""
    cmd = [sys.executable, "-m", "hatch_datafetch", "conda-sources", "--pyproject"]
    cmd += [str(PYPROJECT), "--format", "rattler-build", "--folder", FOLDER]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "source:", out
    return [ln for ln in lines[1:] if ln.startswith("  ")]  # up to the build-script comment


def replace_block(text: str, begin: str, end: str, body: list[str]) -> str:
    """Replace the lines between the line containing `begin` and the one containing `end`."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if begin in ln)
    stop = next(i for i, ln in enumerate(lines) if end in ln and i > start)
    return "\n".join([*lines[: start + 1], *body, *lines[stop:]]) + "\n"


def render(text: str, sdist: Path | None) -> str:
    sources = conda_sources()
    text = replace_block(text, "# BEGIN conda-sources", "# END conda-sources", sources)
    names = []
    for ln in sources:
        if m := re.match(r'\s+target_directory: "(.*)"', ln):
            directory = m.group(1)
        elif m := re.match(r'\s+file_name: "(.*)"', ln):
            names.append(f"{directory}/{m.group(1)}"[len(FOLDER) + 1 :])
    indent = " " * 12
    files = [f"{indent}- {SHARE}/{name}" for name in sorted(names)]
    text = replace_block(text, "# BEGIN data files", "# END data files", files)
    if sdist is not None:
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        text = re.sub(r"sha256: [0-9a-f]{64}(  # sdist)", rf"sha256: {digest}\1", text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help="the released sdist, for its sha256")
    parser.add_argument("--check", action="store_true", help="only report whether up to date")
    args = parser.parse_args()
    old = RECIPE.read_text()
    new = render(old, args.sdist)
    if args.check:
        if new != old:
            print(f"{RECIPE} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{RECIPE} is up to date")
        return 0
    RECIPE.write_text(new)
    print(f"wrote {RECIPE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
