#!/usr/bin/env bash
# The README's first command: build example_project's artifacts fully offline, install them
# into fresh venvs and show the locator finding the data in each place it can live.
#
#   bash example_project/demo.sh
#
# Set-up (once): a .venv at the repository root with hatch-datafetch and the build tools;
# reused when it exists (tests/run.sh's CI makes the same one). Everything else goes to
# example_project/.demo/, recreated on every run. The data never comes from the network:
# example_project/cdn/ stands in for the CDN.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
proj="$repo/example_project"
demo="${DEMO_DIR:-$proj/.demo}"  # DEMO_DIR: elsewhere (the tests use a temp dir)
venv="$repo/.venv"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import hatch_datafetch, build, hatchling" 2>/dev/null; then
    step "set-up: $venv with hatch-datafetch, build, hatchling"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$repo" build hatchling
fi
py="$venv/bin/python"
rm -rf "$demo"
mkdir -p "$demo"

# Builds: offline, files from the stand-in CDN dir, a private build cache, fixed mtimes.
export SOURCE_DATE_EPOCH=1700000000
export HATCH_DATAFETCH_OFFLINE=1
export HATCH_DATAFETCH_CACHE="$demo/build-cache"
# Run time: a private user cache, so the demo never touches ~/.cache.
export XDG_CACHE_HOME="$demo/user-cache"
unset EXAMPLE_PKG_DATA_DIR EXAMPLE_PKG_DATA_URL

step "1. python -m build (sdist with bundled data -> wheel from that sdist), offline"
HATCH_DATAFETCH_SOURCE="$proj/cdn" "$py" -m build --no-isolation --outdir "$demo/dist" "$proj" 2>&1 |
    grep -E "hatch-datafetch|Successfully"
"$py" - "$demo/dist" <<'EOF'
import sys, tarfile, zipfile
from pathlib import Path
dist = Path(sys.argv[1])
for artifact in sorted(dist.iterdir()):
    if artifact.suffix == ".whl":
        names = zipfile.ZipFile(artifact).namelist()
    else:
        names = tarfile.open(artifact).getnames()
    print(f"{artifact.name} ({artifact.stat().st_size // 1024} KiB):")
    for name in sorted(names):
        if "_datafetch" in name or "/cdn/" in name:
            print(f"    {name}")
EOF

step "2. fresh venv with the wheel (no data inside): fetch 'downloads' from the CDN URL"
"$py" -m venv --without-pip "$demo/venv"
"$py" -m pip --python "$demo/venv/bin/python" install --quiet --no-index --no-deps "$demo"/dist/*.whl
# EXAMPLE_PKG_DATA_URL overrides the base URL (a corporate mirror); here a file:// URL.
EXAMPLE_PKG_DATA_URL="file://$proj/cdn/" "$demo/venv/bin/python" -m example_pkg

step "3. again, in a new process: every file now comes from the user cache, not re-hashed"
"$demo/venv/bin/python" -m example_pkg | grep -E "^[a-z]|^  from"

step "4. the stdlib download script shipped in the wheel, then the env var"
EXAMPLE_PKG_DATA_URL="file://$proj/cdn/" "$demo/venv/bin/python" -m example_pkg._datafetch \
    download --dest "$demo/data"
EXAMPLE_PKG_DATA_DIR="$demo/data" "$demo/venv/bin/python" -m example_pkg | grep -E "^[a-z]|^  from"

step "5. a distro/conda rebuild: the wheel from the sdist alone, data bundled, no source dir"
HATCH_DATAFETCH_WHEEL=bundle "$py" -m pip wheel --quiet --no-build-isolation --no-deps \
    -w "$demo/rebuilt" "$demo"/dist/*.tar.gz
"$py" -m venv --without-pip "$demo/venv-bundled"
"$py" -m pip --python "$demo/venv-bundled/bin/python" install --quiet --no-index --no-deps "$demo"/rebuilt/*.whl
XDG_CACHE_HOME="$demo/empty-cache" "$demo/venv-bundled/bin/python" -m example_pkg | grep -E "^[a-z]|^  from"

step "6. the companion data wheel: pip install 'example-pkg[data]' from a local index"
HATCH_DATAFETCH_DATA_WHEEL=1 HATCH_DATAFETCH_SOURCE="$proj/cdn" "$py" -m build --no-isolation \
    --outdir "$demo/dist-data" "$proj" 2>&1 | grep -E "data wheel"
"$py" -m venv --without-pip "$demo/venv-data"
"$py" -m pip --python "$demo/venv-data/bin/python" install --quiet --no-index \
    --find-links "$demo/dist-data" 'example-pkg[data]'
"$py" -m pip --python "$demo/venv-data/bin/python" list 2>/dev/null | grep -i example
XDG_CACHE_HOME="$demo/empty-cache" "$demo/venv-data/bin/python" -m example_pkg | grep -E "^[a-z]|^  from"

step "done: artifacts in $demo/dist; nothing came from the network"
