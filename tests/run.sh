#!/usr/bin/env bash
# The project's test command (README): set up .venv if needed, then lint, types and tests
# (pytest-xdist, three workers for two cores: many tests wait on loopback sockets and
# timeouts, and the rest is CPU-bound; on 2 cores 3 workers took 91-93 s, 4 took 95-102 s).
# Three groups of tests are left out by default, each run elsewhere by .ci/run:
#   pages       the docs pages run as written (about 110 CPU-seconds of venvs and builds)
#   installers  installs by pdm, poetry, Hatch environments and uv build (about 30)
#               -> bash tests/run.sh -m "pages or installers"   (.ci/run's second step)
#   debian      the Debian package build -> .ci/matrix's Debian row
#   bash tests/run.sh [pytest args...]   a -m replaces the default selection, and so does
#                                        naming tests (bash tests/run.sh tests/test_debian.py)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
# the newest pip and setuptools, as a fresh venv of Python 3.12+ gets (3.11 seeds setuptools
# 65): the suite tests the newest backends, .ci/matrix the declared minimums. Done again
# whenever pyproject.toml changes (the stamp holds its hash), not at every run (4 s)
stamp="$VENV/.hatch-datafetch-installed"
want=$("$VENV/bin/python" -c 'import hashlib, sys
print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version.split()[0])')
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -f "$stamp"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools
    "$VENV/bin/python" -m pip install --quiet -e '.[test,installers,docs]'
    echo "$want" > "$stamp"
fi
# the cmake-backend extra (scikit-build-core) apart, in a directory only the backend tests put
# on PYTHONPATH: pyproject.toml says why
if [ ! -d "$VENV/cmake-backend/scikit_build_core" ]; then
    "$VENV/bin/python" -m pip install --quiet --no-deps --target "$VENV/cmake-backend" $(
        "$VENV/bin/python" -c 'from hatch_datafetch._toml import tomllib
print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["cmake-backend"])')
fi
export PATH="$PWD/$VENV/bin:$PATH"
# bytecode of the tool (an editable install, which pip does not compile): under
# PYTHONDONTWRITEBYTECODE=1 every build hook and command of the suite would compile it again
python -m compileall -q hatch_datafetch
ruff check hatch_datafetch tests bench example_project example_setuptools docs/_ext
ruff format --check hatch_datafetch tests bench example_project example_setuptools docs/_ext
mypy
select=(-m "not pages and not installers and not debian")
for arg in "$@"; do
    case $arg in tests/* | *.py | *::*) select=() ;; esac  # tests named: run those
done
python -m pytest -q -p no:cacheprovider -n "$(( ($(nproc 2>/dev/null || echo 1) * 3 + 1) / 2 ))" \
    --dist worksteal \
    ${select[@]+"${select[@]}"} "$@"
