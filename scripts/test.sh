#!/usr/bin/env bash
# Install AstrID with its test extras and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test]'
# Real GOTO frames used by the real-data tests: the wheel's data files only.
python -m pip install --quiet --no-deps 'zogyp==1.6.3'
ruff check src tests benchmarks
ruff format --check src tests benchmarks
mypy
python -m pytest -n 2 "$@"
