#!/usr/bin/env bash
# The project's checks: lint, types, then the test suite .
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check hatch_datafetch tests bench
ruff format --check hatch_datafetch tests bench
mypy
python -m pytest -q -p no:cacheprovider "$@"
